"""The bad-manifest corpus: each file in bad/ holds one distinct mistake.

Every case runs through the real `mlsync validate` command and must print exactly one
`file:line:col: message` line (the expected one, recorded in bad_expected.yaml), exit with 1
and never show a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from manifest_helpers import BAD, HERE, run_validate

from reconciler.cli import main

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (HERE / "bad_expected.yaml").read_text(encoding="utf-8")
)


def test_corpus_is_large_and_fully_described() -> None:
    files = {path.stem for path in BAD.glob("*.yaml")}
    assert len(files) >= 100
    assert files == set(EXPECTED), "every bad manifest needs exactly one expectation"


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_manifest_is_reported_at_its_line(case: str) -> None:
    expected = EXPECTED[case]
    path: Path = BAD / f"{case}.yaml"
    # A secret-looking variable is set so that refusing it is what the case tests.
    run = run_validate([str(path), *expected.get("args", [])], env={"ES_PASSWORD": "hunter2"})
    assert run.exit_code == 1
    assert "Traceback" not in run.output
    assert "hunter2" not in run.output
    message = expected["message"].replace("{file}", str(path))
    assert run.problems == [f"{path}:{expected['at']}: {message}"]


#: Dangling references are errors only for `validate --self-contained`; plan checks them
#: against the cluster (it must read it), so those cases are validate-only.
PLAN_CASES = sorted(c for c, e in EXPECTED.items() if "--self-contained" not in e.get("args", []))


@pytest.mark.parametrize("case", PLAN_CASES)
def test_bad_manifest_stops_plan_before_any_request(case: str, tmp_path: Path) -> None:
    """Through `mlsync plan`: the same one diagnostic, and the cluster is never contacted."""
    expected = EXPECTED[case]
    path: Path = BAD / f"{case}.yaml"
    state = tmp_path / "sandbox.db"
    argv = [
        "plan",
        str(path),
        *expected.get("args", []),
        "--sandbox",
        "--sandbox-state",
        str(state),
    ]
    result = CliRunner().invoke(main, argv, env={"ES_PASSWORD": "hunter2"})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    message = expected["message"].replace("{file}", str(path))
    assert f"{path}:{expected['at']}: {message}" in result.output.splitlines()
    assert "nothing was sent to the cluster" in result.output
    # The embedded cluster was not even opened: no request can have been sent.
    assert not state.exists()
