"""The example workflows users copy (.github/examples): parsed, and checked for what they promise.

actionlint cannot be installed offline here (its Python wrapper downloads a binary at build
time), so this test checks the points that matter to users directly on the parsed YAML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / ".github" / "examples"
PLAN = EXAMPLES / "mlsync-plan-on-pr.yml"
APPLY = EXAMPLES / "mlsync-apply-on-merge.yml"
#: pip's direct-reference form, at a release tag: `mlsync @ git+https://github.com/OWNER/mlsync@v1`.
GIT_AT_TAG = re.compile(r"^mlsync @ git\+https://github\.com/[A-Za-z0-9_.-]+/mlsync@v\d[\w.-]*$")


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    return document.get("on") or document[True]


def steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    [job] = document["jobs"].values()
    return list(job["steps"])


def runs(document: dict[Any, Any]) -> list[str]:
    return [s["run"] for s in steps(document) if "run" in s]


@pytest.mark.parametrize("path", [PLAN, APPLY], ids=lambda p: p.name)
def test_workflow_is_well_formed(path: Path) -> None:
    document = load(path)
    assert document["name"] and triggers(document)
    for job in document["jobs"].values():
        assert job["runs-on"] and job["steps"]
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        # Every ${{ }} expression is closed.
    assert path.read_text().count("${{") == path.read_text().count("}}")


@pytest.mark.parametrize("path", [PLAN, APPLY], ids=lambda p: p.name)
def test_mlsync_is_installed_from_the_repository_at_a_tag(path: Path) -> None:
    document = load(path)
    assert GIT_AT_TAG.match(document["env"]["MLSYNC_PACKAGE"]), document["env"]
    installs = [r for r in runs(document) if "pip install" in r]
    assert installs == ['pip install "$MLSYNC_PACKAGE"']
    assert not re.search(r"pip install +mlsync\b", path.read_text())


def test_plan_uses_the_environment_secrets_like_apply() -> None:
    [plan_job] = load(PLAN)["jobs"].values()
    [apply_job] = load(APPLY)["jobs"].values()
    assert plan_job["environment"] == apply_job["environment"] == "${{ matrix.environment }}"
    assert plan_job["strategy"]["matrix"] == apply_job["strategy"]["matrix"]
    assert plan_job["env"]["MLSYNC_URL"] == apply_job["env"]["MLSYNC_URL"]
    assert plan_job["env"]["MLSYNC_API_KEY"] == apply_job["env"]["MLSYNC_API_KEY"]


def test_the_plan_is_printed_to_the_log_and_rendered_from_the_saved_plan() -> None:
    [plan_step] = [s for s in steps(load(PLAN)) if s.get("id") == "plan"]
    lines = [line.strip() for line in plan_step["run"].splitlines()]
    [command] = [line for line in lines if line.startswith("mlsync plan ")]
    # stdout is not redirected: the text plan lands in the CI log.
    assert ">" not in command and "--out plan.json" in command and "--detailed-exitcode" in command
    assert "mlsync show plan.json --format markdown > plan.md" in lines
    assert 'if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then exit "$code"; fi' in lines


def test_a_failed_plan_replaces_the_comment_with_a_failure_note() -> None:
    workflow = steps(load(PLAN))
    names = [s.get("name") for s in workflow]
    failed = workflow[names.index("Say in the comment that the plan failed")]
    upsert = workflow[names.index("Upsert the plan comment")]
    assert failed["if"] == "failure()"
    assert "<!-- mlsync:plan env=$ENVIRONMENT -->" in failed["run"]
    assert "The plan failed" in failed["run"] and "> plan.md" in failed["run"]
    # The upsert runs after the failure note, whatever happened before.
    assert names.index("Upsert the plan comment") > names.index(
        "Say in the comment that the plan failed"
    )
    assert upsert["if"] == "always()"
    assert upsert["env"]["MARKER"] == "<!-- mlsync:plan env=${{ matrix.environment }} -->"
    assert "updateComment" in upsert["with"]["script"]


def test_apply_executes_the_saved_plan_one_environment_at_a_time() -> None:
    [job] = load(APPLY)["jobs"].values()
    assert job["concurrency"]["cancel-in-progress"] is False
    assert job["strategy"]["max-parallel"] == 1
    commands = runs(load(APPLY))
    assert any(c.startswith("mlsync plan manifests") and "--out plan.json" in c for c in commands)
    assert "mlsync apply --plan plan.json --auto-approve" in commands
    assert not any("--allow-destroy" in c for c in commands)
