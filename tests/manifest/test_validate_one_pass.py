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
