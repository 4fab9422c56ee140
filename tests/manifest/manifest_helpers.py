"""Shared helpers of the manifest tests: paths, running `mlsync validate`, a base job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from reconciler.commands.validate import validate

HERE = Path(__file__).parent
REPO = HERE.parent.parent
EXAMPLES = REPO / "manifests"
BAD = HERE / "bad"


@dataclass
class Run:
    exit_code: int
    output: str

    @property
    def problems(self) -> list[str]:
        """The `file:line:col: message` lines (everything but the summary)."""
        return [line for line in self.output.splitlines() if line and line[0] not in "0123456789"]


def run_validate(args: Sequence[str], env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(validate, list(args), env=env, catch_exceptions=False)
    return Run(result.exit_code, result.output)


JOB = """
kind: AnomalyDetectionJob
id: payments
state: opened
spec:
  analysis_config:
    bucket_span: 15m
    detectors:
      - function: mean
        field_name: amount
        by_field_name: user
  data_description:
    time_field: "@timestamp"
"""
