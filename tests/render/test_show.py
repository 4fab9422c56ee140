"""`mlsync show PLANFILE`: renders saved plans again; bad files are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main
from reconciler.model import Action, Change, Kind, Plan, Ref, Risk


def test_show_renders_an_older_plan_file_holding_only_the_plan_value(tmp_path: Path) -> None:
    plan = Plan(
        changes=(
            Change(ref=Ref(kind=Kind.FILTER, id="f"), action=Action.DELETE, risk=Risk.DESTRUCTIVE),
        )
    )
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"kind": "mlsync-plan", "plan": plan.model_dump(mode="json")}))
    result = CliRunner().invoke(main, ["show", str(old)])
    assert result.exit_code == 0, result.output
    assert "  - Filter/f will be deleted" in result.stdout
    as_json = CliRunner().invoke(main, ["show", str(old), "--format", "json"])
    assert json.loads(as_json.stdout)["summary"]["delete"] == 1


def test_show_of_a_missing_or_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["show", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert "no such plan file; create one with `mlsync plan --out`" in missing.stderr
    foreign = tmp_path / "other.json"
    foreign.write_text('{"format_version": "1"}')
    result = CliRunner().invoke(main, ["show", str(foreign)])
    assert result.exit_code == 1 and "not an mlsync plan file" in result.stderr
    assert "Traceback" not in missing.output + result.output
