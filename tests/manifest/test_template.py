"""reconciler.manifest.template: sandboxed rendering of string values."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from reconciler.manifest.template import TemplateRenderer


def render(data: Any, variables: dict[str, Any] | None = None, **environ: str) -> Any:
    renderer = TemplateRenderer(variables or {}, "dev", environ)
    rendered, problems = renderer.render(data)
    assert problems == []
    return rendered


def problems_of(data: Any, variables: dict[str, Any] | None = None, **environ: str) -> list[str]:
    renderer = TemplateRenderer(variables or {}, "dev", environ)
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


def test_env_var_reads_non_secret_variables() -> None:
    assert render({"index": "{{ env_var('INDEX_PREFIX') }}-*"}, INDEX_PREFIX="logs") == {
        "index": "logs-*"
    }
    assert render({"index": "{{ env_var('UNSET', 'fallback') }}"}) == {"index": "fallback"}


def test_env_var_missing_without_default() -> None:
    (message,) = problems_of({"index": "{{ env_var('UNSET') }}"})
    assert "environment variable 'UNSET' is not set" in message


@pytest.mark.parametrize(
    "name",
    [
        "ES_PASSWORD",
        "my_secret",
        "GITHUB_TOKEN",
        "ELASTIC_API_KEY",
        "AWS_CREDENTIALS",
        "DB_PASSWD",
        "SMTP_PASS",
        "BASIC_AUTH",
        "AUTHORIZATION",
        "SSH_KEY",
        "key",
        "AWS_ACCESS_KEY",
    ],
)
def test_env_var_refuses_secret_names(name: str) -> None:
    (message,) = problems_of({"x": f"{{{{ env_var('{name}') }}}}"}, **{name: "s3cr3t"})
    assert "refused: the name looks like a secret" in message
    assert "pass non-secret values with --var or the environment file" in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize(
    "name", ["MLSYNC_URL", "mlsync_profile", "ELASTICSEARCH_HOSTS", "ELASTICSEARCH_URL"]
)
def test_env_var_refuses_connection_settings(name: str) -> None:
    url = "https://elastic:hunter2@es.example:9200"
    (message,) = problems_of({"x": f"{{{{ env_var('{name}') }}}}"}, **{name: url})
    assert message == (
        f"x: env_var('{name}') refused: MLSYNC_*, ELASTICSEARCH_* variables are mlsync's "
        "connection settings and may carry credentials; pass non-secret values with --var or "
        "the environment file"
    )
    assert "hunter2" not in message


@pytest.mark.parametrize("name", ["KEYBOARD_LAYOUT", "MONKEY", "TEAM", "INDEX_PREFIX", "PATH_KEYS"])
def test_env_var_allows_names_that_merely_contain_key(name: str) -> None:
    assert render({"x": f"{{{{ env_var('{name}') }}}}"}, **{name: "v"}) == {"x": "v"}


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
