"""`mlsync validate` reports every problem in one run, and warns about unused `--var`s."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.commands.common import template_variables

BAD = """\
kind: AnomalyDetectionJob
id: a
spec:
  analysis_config: {bucket_span: 15m, detectors: [{function: mean}]}
  data_description: {time_field: "@timestamp"}
  bucket_spam: 1
---
kind: Filter
id: "{{ prefix }}f"
spec: {items: [a]}
"""


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "ml.yaml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "manifests"


def test_schema_and_semantic_errors_of_one_document_in_one_run(manifests: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(manifests), "--var", "prefix=x-"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith(f"{manifests}/ml.yaml:6:3: unknown field 'bucket_spam'") for line in lines
    )
    # The detector's own rule is reported now, not after the typo is fixed.
    assert any(
        line.startswith(f"{manifests}/ml.yaml:4:")
        and "one of field_name, by_field_name or over_field_name must be set" in line
        for line in lines
    ), result.stdout
    assert "2 problems found" in result.stdout


def test_unused_var_is_a_warning(manifests: Path) -> None:
    (manifests / "ml.yaml").write_text(BAD.split("---\n")[1])
    result = CliRunner().invoke(
        main, ["validate", str(manifests), "--var", "prefix=x-", "--var", "prefx=y"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "warning: --var prefx is not used by any manifest (a typo? the templates use: prefix)"
        in result.stdout
    )
    assert "--var prefix " not in result.stdout


def test_unused_var_warning_on_plan(manifests: Path) -> None:
    (manifests / "ml.yaml").write_text(BAD.split("---\n")[1])
    result = CliRunner().invoke(
        main, ["plan", str(manifests), "--sandbox", "--var", "prefix=x-", "--var", "extra=1"]
    )
    assert result.exit_code == 0, result.output
    assert "Warning: --var extra is not used by any manifest" in result.stderr


def test_template_variables_of_a_file() -> None:
    text = (
        'id: "{{ prefix | default(\'\') }}job"\nx: "{% if big %}2gb{% endif %}"\ny: "{{ env }}"\n'
    )
    assert template_variables(text) == {"prefix", "big", "env"}


def _validate(path: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(main, ["validate", str(path), *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return [line for line in result.stdout.splitlines() if line.startswith(str(path))]


def _validate_with_a_bad_environment(manifests: Path, manifest: str) -> list[str]:
    """`validate --env prod` where environments/prod.yaml is not valid YAML."""
    (manifests / "environments").mkdir()
    (manifests / "environments" / "prod.yaml").write_text("prefix: [unclosed\n")
    (manifests / "ml.yaml").write_text(manifest)
    return _validate(manifests, "--env", "prod")


def test_a_bad_environment_file_does_not_stop_the_manifest_checks(manifests: Path) -> None:
    lines = _validate_with_a_bad_environment(
        manifests,
        'kind: AnomalyDetectionJob\nid: "{{ prefix }}payments"\nspec:\n'
        "  analysis_config: {bucket_span: 15m, detectors: [{function: mean}]}\n"
        "  data_description: {time_field: time}\n"
        "---\nkind: Filter\nid: Bad_Filter\nspec: {items: [a]}\n",
    )
    where = [line.split(": ", 1)[0] for line in lines]
    # One list sorted by file:line, the environment file's problem among them.
    assert where == [
        f"{manifests}/environments/prod.yaml:2:1",
        f"{manifests}/ml.yaml:4:51",
        f"{manifests}/ml.yaml:8:5",
    ], lines
    assert "YAML syntax error" in lines[0]
    text = "\n".join(lines)
    # The document whose id uses the unreadable variable is still checked...
    assert "one of field_name, by_field_name or over_field_name must be set" in text
    assert "Invalid filter_id; 'Bad_Filter'" in text
    # ...without an "undefined variable" error that is only a consequence of the file.
    assert "undefined template variable" not in text


def test_a_missing_environment_is_reported_with_the_manifest_problems(manifests: Path) -> None:
    (manifests / "ml.yaml").write_text("kind: Filter\nid: Bad_Filter\nspec: {items: [a]}\n")
    result = CliRunner().invoke(main, ["validate", str(manifests), "--env", "prdo"])
    assert result.exit_code == 1
    assert "environment 'prdo' not found" in result.stdout
    assert "Invalid filter_id; 'Bad_Filter'" in result.stdout


DATAFEED_WITH_TYPE_ERRORS = """\
kind: Datafeed
id: feed
state: started
spec:
  job_id: payments
  indices: 5
  scroll_size: lots
  max_empty_searches: -1
  query: {bogus: {}}
---
kind: AnomalyDetectionJob
id: payments
state: closed
spec:
  analysis_config: {bucket_span: true, detectors: [{function: mean, field_name: x}]}
  data_description: {time_field: time}
"""


def test_a_type_error_does_not_delay_the_semantic_and_cross_checks(manifests: Path) -> None:
    (manifests / "ml.yaml").write_text(DATAFEED_WITH_TYPE_ERRORS)
    lines = _validate(manifests)
    ml = f"{manifests}/ml.yaml"
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{ml}:3:8",  # cross-check: started datafeed on a closed job
        f"{ml}:6:12",  # indices: wrong type
        f"{ml}:7:16",  # scroll_size: wrong type
        f"{ml}:8:23",  # max_empty_searches: semantic, same document
        f"{ml}:9:11",  # query: not parsable, same document
        f"{ml}:15:34",  # bucket_span: wrong type
    ], lines
    text = "\n".join(lines)
    # No guess from a left-out value: indices is wrong, not empty; the job's bucket_span is
    # unknown, so nothing is checked against a default.
    assert "indices cannot be empty" not in text
    assert "Invalid max_empty_searches value '-1'" in text
    assert "is declared `state: started` but its job payments is declared `state: closed`" in text


def test_a_wrong_typed_id_gets_the_body_checks_and_no_stand_in(manifests: Path) -> None:
    (manifests / "ml.yaml").write_text(
        "kind: Filter\nid: 5\nspec: {items: [a, a], description: 7}\n"
        "---\nkind: Filter\nid: 6\nspec: {items: [b]}\n"
    )
    lines = _validate(manifests)
    text = "\n".join(lines)
    assert "mlsync-unrendered-id" not in text
    assert "duplicate" not in text
    assert sum("expected a string" in line for line in lines) == 3, lines


def test_a_bad_list_item_is_one_problem_and_the_rest_is_still_checked(manifests: Path) -> None:
    lines = _validate_with_a_bad_environment(
        manifests,
        "kind: Datafeed\nid: feed\nspec:\n  job_id: payments\n"
        '  indices: ["{{ index }}", other]\n  max_empty_searches: -1\n'
        "---\nkind: Datafeed\nid: feed2\nspec:\n  job_id: payments2\n"
        "  indices: [5, other]\n  scroll_size: -4\n",
    )
    ml = f"{manifests}/ml.yaml"
    assert [line.removeprefix(ml) for line in lines if line.startswith(ml)] == [
        ":6:23: Invalid max_empty_searches value '-1' in datafeed configuration",
        # The item's own problem only: not also "expected a string, got a list" for the
        # list (the other member of `str | list[str]`), nor "indices cannot be empty".
        ":12:13: spec.indices[0]: expected a string, got the number 5",
        ":13:16: Invalid scroll_size value '-4' in datafeed configuration",
    ], lines
