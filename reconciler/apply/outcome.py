"""What an apply produced: one outcome per step, progress events, and the overall result.

Input: nothing (value types filled in by `reconciler.apply.executor`). Output: immutable
values that the CLI renders (progress lines, the final done / failed / skipped table). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.model import Ref, Step

#: Step verbs that take a resource down, and those that bring it up again.
STOPPING_OPS = frozenset({"stop", "close"})
STARTING_OPS = frozenset({"start", "open"})


class StepStatus(StrEnum):
    """How one step ended."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class EventKind(StrEnum):
    """What a progress event reports."""

    STARTED = "started"  # the step's call is about to be sent
    WAITING = "waiting"  # the call succeeded; polling stats for the target run state
    FINISHED = "finished"  # the step has an outcome (done, failed or skipped)


@dataclass(frozen=True)
class StepOutcome:
    """The end of one step: its status, why (error text or skip reason) and how long it took."""

    step: Step
    status: StepStatus
    #: For FAILED: the error text. For SKIPPED: the reason. For DONE: an optional note such as
    #: "already opened" when Elasticsearch reported the state was already reached.
    message: str = ""
    #: Seconds from the step's start to its end (0 for skipped steps).
    elapsed: float = 0.0

    @property
    def label(self) -> str:
        """`close AnomalyDetectionJob/x`: the step's verb and resource."""
        return f"{self.step.op} {self.step.ref}"


@dataclass(frozen=True)
class StepEvent:
    """One progress event, delivered to `apply_plan(on_event=...)` from the executor thread.

    `finished` counts the steps that have an outcome so far (this one included for FINISHED),
    `total` the steps in the plan: the CLI prints `[finished/total]`.
    """

    kind: EventKind
    step: Step
    finished: int
    total: int
    outcome: StepOutcome | None = None
    #: For WAITING: the run state being polled for.
    detail: str = ""


EventHandler = Callable[[StepEvent], None]


@dataclass(frozen=True)
class ApplyResult:
    """Every step's outcome, in plan order, and the wall-clock time of the whole apply."""

    outcomes: tuple[StepOutcome, ...]
    elapsed: float
    #: Set when the apply stopped scheduling early (lock lost, interrupted); the reason.
    aborted: str = ""
    #: What the user should know that is no step's outcome (the registry's window not set).
    warnings: tuple[str, ...] = ()

    def _with(self, status: StepStatus) -> tuple[StepOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is status)

    @property
    def done(self) -> tuple[StepOutcome, ...]:
        """Steps that succeeded (including those Elasticsearch reported as already done)."""
        return self._with(StepStatus.DONE)

    @property
    def failed(self) -> tuple[StepOutcome, ...]:
        """Steps whose call or wait failed."""
        return self._with(StepStatus.FAILED)

    @property
    def skipped(self) -> tuple[StepOutcome, ...]:
        """Steps not attempted (a dependency failed, unsafe restore, abort)."""
        return self._with(StepStatus.SKIPPED)

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return all(o.status is StepStatus.DONE for o in self.outcomes) and not self.aborted

    @property
    def left_stopped(self) -> tuple[Ref, ...]:
        """Resources this apply stopped or closed, meaning to run them again, that it did not.

        The summary names them: re-running apply starts them (a stop/close whose step was
        attempted counts, since its call may have landed).
        """
        down: dict[Ref, None] = {}
        for outcome in self.outcomes:
            ref, op = outcome.step.ref, outcome.step.op
            if op in STOPPING_OPS and outcome.status is not StepStatus.SKIPPED:
                down[ref] = None
            elif op in STARTING_OPS and outcome.status is StepStatus.DONE:
                down.pop(ref, None)
        starts = {o.step.ref for o in self.outcomes if o.step.op in STARTING_OPS}
        return tuple(ref for ref in down if ref in starts)


#: Version of the `mlsync apply --format json` result document.
RESULT_FORMAT_VERSION = "1"


def result_document(result: ApplyResult | None) -> dict[str, Any]:
    """The machine-readable result of an apply (None: there was nothing to apply).

    Steps are numbered from 1, as in the plan's JSON document and the progress lines.
    """
    outcomes = result.outcomes if result else ()
    return {
        "kind": "mlsync-apply-result",
        "format_version": RESULT_FORMAT_VERSION,
        "ok": result.ok if result else True,
        "aborted": (result.aborted or None) if result else None,
        "elapsed_seconds": round(result.elapsed, 3) if result else 0.0,
        "left_stopped": [str(ref) for ref in result.left_stopped] if result else [],
        "summary": {
            status.value: sum(o.status is status for o in outcomes) for status in StepStatus
        },
        "steps": [
            {
                "step": o.step.index + 1,
                "address": str(o.step.ref),
                "op": o.step.op,
                "status": o.status.value,
                "message": o.message,
                "elapsed_seconds": round(o.elapsed, 3),
            }
            for o in outcomes
        ],
    }
