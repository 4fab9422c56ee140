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
from manifest_helpers import BAD, HERE, run_validate

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (HERE / "bad_expected.yaml").read_text(encoding="utf-8")
)


def test_corpus_is_large_and_fully_described() -> None:
    files = {path.stem for path in BAD.glob("*.yaml")}
    assert len(files) >= 40
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
