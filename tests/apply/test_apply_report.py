"""The apply result table shows server messages verbatim (no Rich markup interpretation)."""

from __future__ import annotations

from rich.console import Console

from reconciler.apply import ApplyResult, StepOutcome, StepStatus
from reconciler.commands.apply import summary_table
from reconciler.model import Call, Kind, Ref, Step


def test_brackets_in_server_messages_survive() -> None:
    step = Step(
        index=0,
        ref=Ref(kind=Kind.DFA, id="churn"),
        op="create",
        call=Call(method="PUT", path="/_ml/data_frame/analytics/churn"),
    )
    message = (
        "PUT /_ml/data_frame/analytics/churn -> 400 action_request_validation_exception: "
        "Validation Failed: 1: no such index [customer_data];"
    )
    result = ApplyResult(
        outcomes=(StepOutcome(step=step, status=StepStatus.FAILED, message=message),), elapsed=0.1
    )
    console = Console(record=True, width=400)
    console.print(summary_table(result, plain=True))
    assert "no such index [customer_data];" in console.export_text()
