"""reconciler.manifest.template: sandboxed rendering of string values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from manifest_helpers import run_validate

from reconciler.manifest.template import TemplateRenderer


def render(
    data: Any,
    variables: dict[str, Any] | None = None,
    allowed: tuple[str, ...] = (),
    **environ: str,
) -> Any:
    renderer = TemplateRenderer(variables or {}, "dev", environ, allowed_env=allowed)
    rendered, problems = renderer.render(data)
    assert problems == []
    return rendered


def problems_of(
    data: Any,
    variables: dict[str, Any] | None = None,
    allowed: tuple[str, ...] = (),
    **environ: str,
) -> list[str]:
    renderer = TemplateRenderer(variables or {}, "dev", environ, allowed_env=allowed)
    _, problems = renderer.render(data)
    return [f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems]


def test_plain_strings_are_untouched() -> None:
    data = {"a": "no templates here", "b": [1, True, None, {"c": "x"}]}
    assert render(data) == data


def test_variables_environment_name_and_mixed_text() -> None:
    data = {"id": "{{ prefix }}payments", "note": "env={{ env }}"}
    assert render(data, {"prefix": "dev-"}) == {"id": "dev-payments", "note": "env=dev"}


def test_single_expression_keeps_its_type() -> None:
    variables = {"scroll": 500, "on": False, "indices": ["a-*", "b-*"], "mml": "1gb"}
    data = {
        "scroll_size": "{{ scroll }}",
        "enabled": "{{ on }}",
        "indices": "{{ indices }}",
        "limit": "{{ mml }}",
        "sum": "{{ scroll * 2 }}",
        "text": "{{ scroll }} docs",
    }
    assert render(data, variables) == {
        "scroll_size": 500,
        "enabled": False,
        "indices": ["a-*", "b-*"],
        "limit": "1gb",
        "sum": 1000,
        "text": "500 docs",
    }


def test_values_cannot_inject_yaml_structure() -> None:
    rendered = render({"description": "{{ text }}"}, {"text": "a: b\nc: [d]"})
    assert rendered == {"description": "a: b\nc: [d]"}


def test_default_filter_for_optional_variables() -> None:
    assert render({"id": "{{ prefix | default('') }}jobs"}) == {"id": "jobs"}


def test_undefined_variable_is_an_error_with_its_path() -> None:
    assert problems_of({"spec": {"items": ["{{ nope }}"]}}) == [
        "spec.items.0: undefined template variable 'nope'; define it in the environment file "
        "(--env) or pass --var nope=VALUE"
    ]


def test_env_var_reads_declared_variables() -> None:
    data = {"index": "{{ env_var('INDEX_PREFIX') }}-*"}
    assert render(data, allowed=("INDEX_PREFIX",), INDEX_PREFIX="logs") == {"index": "logs-*"}
    fallback = {"index": "{{ env_var('UNSET', 'fallback') }}"}
    assert render(fallback, allowed=("UNSET",)) == {"index": "fallback"}


def test_env_var_missing_without_default() -> None:
    (message,) = problems_of({"index": "{{ env_var('UNSET') }}"}, allowed=("UNSET",))
    assert "environment variable 'UNSET' is not set" in message


@pytest.mark.parametrize(
    "name",
    [
        # Secret names a deny list misses (issue 14), and ordinary ones: none is readable
        # unless declared.
        "DB_PWD",
        "GH_PAT",
        "DATABASE_URL",
        "PRIVATE_KEY_PEM",
        "ELASTIC_API_KEY_ENCODED",
        "ES_PASSWORD",
        "GITHUB_TOKEN",
        "TEAM",
        "INDEX_PREFIX",
        "UNSET",
    ],
)
def test_env_var_refuses_undeclared_names(name: str) -> None:
    (message,) = problems_of({"x": f"{{{{ env_var('{name}') }}}}"}, **{name: "s3cr3t"})
    assert message == (
        f"x: env_var('{name}') refused: templates read only the environment variables you "
        f"declare; pass --allow-env {name} or list it under allow_env in the environment file. "
        "Never declare a secret: what a template reads ends up in plans and request bodies"
    )
    # A default does not bypass the rule either.
    (message,) = problems_of({"x": f"{{{{ env_var('{name}', 'd') }}}}"}, **{name: "s3cr3t"})
    assert "refused" in message and "s3cr3t" not in message


@pytest.mark.parametrize(
    "name", ["MLSYNC_URL", "mlsync_profile", "ELASTICSEARCH_HOSTS", "ELASTICSEARCH_URL"]
)
def test_env_var_refuses_connection_settings(name: str) -> None:
    url = "https://elastic:hunter2@es.example:9200"
    # Refused even when declared: a URL may carry credentials.
    (message,) = problems_of({"x": f"{{{{ env_var('{name}') }}}}"}, allowed=(name,), **{name: url})
    assert message == (
        f"x: env_var('{name}') refused: MLSYNC_*, ELASTICSEARCH_* variables are mlsync's "
        "connection settings and may carry credentials; pass non-secret values with --var or "
        "the environment file"
    )
    assert "hunter2" not in message


@pytest.mark.parametrize("name", ["KEYBOARD_LAYOUT", "MONKEY", "TEAM", "INDEX_PREFIX", "PATH_KEYS"])
def test_env_var_reads_any_declared_name(name: str) -> None:
    assert render({"x": f"{{{{ env_var('{name}') }}}}"}, allowed=(name,), **{name: "v"}) == {
        "x": "v"
    }


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ [].append(1) }}",
    ],
)
def test_sandbox_blocks_escapes(expression: str) -> None:
    (message,) = problems_of({"x": expression})
    assert "sandbox" in message or "undefined" in message or "unsafe" in message


def test_syntax_error() -> None:
    (message,) = problems_of({"x": "{% if %}"})
    assert message.startswith("x: template syntax error:")


def test_runtime_error_is_reported_not_raised() -> None:
    (message,) = problems_of({"x": "{{ 1 / 0 }}"})
    assert message == "x: template error: ZeroDivisionError: division by zero"


def test_compiled_expressions_and_templates_are_reused() -> None:
    renderer = TemplateRenderer({"p": "a"}, None, {})
    for _ in range(3):
        renderer.render({"x": "{{ p }}-{{ p }}", "y": "{{ p }}", "z": "{% if p %}yes{% endif %}"})
    assert set(renderer._expressions) == {" p "}
    assert set(renderer._templates) == {"{% if p %}yes{% endif %}"}


@pytest.mark.parametrize(
    "text",
    [
        "{{ p }}-{{ n }}",
        "pre {{ p | upper }} {{ n + 1 }} post",
        "{{ none_value }}/{{ flag }}",
        "{{- p }} x {{ n -}}",
        "{{ '{' }}{{ p }}",
        "a}}b{{ p }}",
    ],
)
def test_fast_interpolation_matches_jinja(text: str) -> None:
    variables = {"p": "dev", "n": 41, "none_value": None, "flag": True}
    renderer = TemplateRenderer(variables, None, {})
    rendered, problems = renderer.render({"text": text + " "})
    assert problems == []
    expected = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text + " ")
    assert rendered["text"] == expected.render(variables)


ENV_JOB = "kind: Filter\nid: f\nspec:\n  description: \"{{ env_var('%s') }}\"\n  items: [a]\n"


@pytest.mark.parametrize(
    "name", ["DB_PWD", "GH_PAT", "DATABASE_URL", "PRIVATE_KEY_PEM", "ELASTIC_API_KEY_ENCODED"]
)
def test_cli_refuses_undeclared_environment_variables(name: str, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(ENV_JOB % name)
    run = run_validate([str(tmp_path)], env={name: "s3cr3t-value"})
    assert run.exit_code == 1
    assert f"f.yaml:4:16: env_var('{name}') refused" in run.output
    assert "s3cr3t-value" not in run.output


def test_cli_reads_variables_declared_by_flag_or_environment_file(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(ENV_JOB % "TEAM")
    assert run_validate([str(tmp_path)], env={"TEAM": "fraud"}).exit_code == 1
    flag = run_validate([str(tmp_path), "--allow-env", "TEAM"], env={"TEAM": "fraud"})
    assert flag.exit_code == 0, flag.output
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text("allow_env: [TEAM]\n")
    declared = run_validate([str(tmp_path), "--env", "prod"], env={"TEAM": "fraud"})
    assert declared.exit_code == 0, declared.output
    (tmp_path / "environments" / "prod.yaml").write_text("allow_env: TEAM\n")
    bad = run_validate([str(tmp_path), "--env", "prod"], env={"TEAM": "fraud"})
    assert bad.exit_code == 1
    assert "prod.yaml:1:1: allow_env must be a list of environment variable names" in bad.output
    var = run_validate([str(tmp_path), "--var", "allow_env=TEAM"], env={"TEAM": "fraud"})
    assert var.exit_code == 1 and "cannot be set with --var" in var.output


def test_cli_refuses_connection_variables_even_when_declared(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(ENV_JOB % "MLSYNC_PASSWORD")
    run = run_validate(
        [str(tmp_path), "--allow-env", "MLSYNC_PASSWORD"], env={"MLSYNC_PASSWORD": "hunter2x"}
    )
    assert run.exit_code == 1
    assert "connection settings" in run.output and "hunter2x" not in run.output
