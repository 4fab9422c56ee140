"""Golden scenarios: manifests + a live cluster (seeded in the sandbox) -> expected plan renderings.

Each directory under scenarios/ holds:
  manifests/      the desired side
  live.json       the calls that put the cluster in its starting state (sent to the sandbox
                  through its REST API, so the server fills in defaults as Elasticsearch does)
  options.json    extra CLI flags for `mlsync plan` (optional)
  plan.txt, plan.md, plan.json   the expected renderings

The test renders the plan through the real CLI, compares it with the goldens, then executes the
plan's steps against the sandbox and asserts that a re-plan is empty (convergence).
Regenerate the goldens with `MLSYNC_UPDATE_GOLDENS=1 pytest tests/plan/test_scenarios.py`, then
review the diff: goldens are expectations, not snapshots to wave through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.client import MLClient
from reconciler.commands.plan import plan as plan_command
from reconciler.commands.show import show as show_command
from reconciler.model import Call
from reconciler.planfile import load_plan
from reconciler.sandbox import Sandbox, SandboxTransport

SCENARIOS = Path(__file__).parent / "scenarios"
UPDATE = os.environ.get("MLSYNC_UPDATE_GOLDENS") == "1"
FORMATS = {"text": "plan.txt", "markdown": "plan.md", "json": "plan.json"}
#: The live bodies in the JSON document (`change.before`) carry the sandbox's wall-clock creation
#: times; they are the only members that differ between two runs of a scenario.
WALL_CLOCK = re.compile(r'("create_time": )\d{13}')


def stable(rendered: str) -> str:
    """`rendered` with wall-clock times replaced by a placeholder."""
    return WALL_CLOCK.sub(r'\1"<time>"', rendered)


def seed(state: Path, calls: list[dict]) -> None:
    client = MLClient(
        hosts=["http://sandbox:9200"],
        transport=SandboxTransport(Sandbox(state_file=state, implicit_indices=True)),
    )
    for call in calls:
        client.perform(
            Call(
                method=call["method"],
                path=call["path"],
                params=call.get("params", {}),
                body=call.get("body"),
            )
        )
    client.close()


def run_plan(state: Path, *flags: str) -> str:
    result = CliRunner().invoke(
        plan_command, ["manifests", "--sandbox", "--sandbox-state", str(state), *flags]
    )
    assert result.exit_code in (0, 2), result.output
    return result.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
def test_scenario(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = SCENARIOS / name
    work = tmp_path / name
    shutil.copytree(source / "manifests", work / "manifests")
    monkeypatch.chdir(work)
    state = work / "sandbox.db"
    seed(state, json.loads((source / "live.json").read_text()))
    options = (
        json.loads((source / "options.json").read_text())
        if (source / "options.json").exists()
        else []
    )

    for fmt, filename in FORMATS.items():
        rendered = stable(run_plan(state, "--format", fmt, *options))
        golden = source / filename
        if UPDATE:
            golden.write_text(rendered)
        assert rendered == golden.read_text(), f"{name}/{filename} differs"

    # A saved plan is the `--format json` document, the planner's inputs (which apply re-derives
    # the steps from) included, and `mlsync show` renders it again exactly as plan did (the same
    # goldens).
    run_plan(state, "--out", str(work / "plan.saved"), *options)
    saved = (work / "plan.saved").read_text()
    assert stable(saved) == (source / "plan.json").read_text()
    inputs = json.loads(saved)["inputs"]
    assert set(inputs) == {"desired", "references", "recover_failed", "allow_prune_all"}
    assert inputs["recover_failed"] == ("--recover-failed" in options)
    assert inputs["allow_prune_all"] == ("--allow-prune-all" in options)
    for fmt, filename in FORMATS.items():
        shown = CliRunner().invoke(show_command, [str(work / "plan.saved"), "--format", fmt])
        assert shown.exit_code == 0, shown.output
        assert stable(shown.stdout) == (source / filename).read_text(), f"show {filename}"

    # Apply: execute exactly the saved plan's steps, then the re-plan must be empty.
    saved = load_plan(work / "plan.saved")
    client = MLClient(
        hosts=["http://sandbox:9200"],
        transport=SandboxTransport(Sandbox(state_file=state, implicit_indices=True)),
    )
    for step in saved.steps:
        client.perform(step.call)
    client.close()
    again = run_plan(state, "--format", "json", *options)
    assert json.loads(again)["has_changes"] is False, again
