"""Apply: execute exactly the plan it is given, safely and concurrently.

Input: a `Plan` and a client. Output: an `ApplyResult`. I/O: the plan's calls and stats polls,
through the client (see `executor.py` for the policy on ordering, failures and restores).

Modules: `gate` (the --allow-destroy check, pure), `executor` (scheduling and steps),
`waits` (polling run state), `outcome` (result and progress values), `bulk` (registry writes
as one `_bulk` request and its answer checked, pure), `batch` (sending it and settling each
step from its item), `registry_window` (the registry's search window, set before its first
write).
"""

from __future__ import annotations

from reconciler.apply.executor import DEFAULT_CONCURRENCY, apply_plan
from reconciler.apply.gate import check_destructive, destructive_lines
from reconciler.apply.outcome import (
    ApplyResult,
    EventHandler,
    EventKind,
    StepEvent,
    StepOutcome,
    StepStatus,
    result_document,
)
from reconciler.apply.waits import WaitFailed, wait_for_state

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ApplyResult",
    "EventHandler",
    "EventKind",
    "StepEvent",
    "StepOutcome",
    "StepStatus",
    "WaitFailed",
    "apply_plan",
    "check_destructive",
    "destructive_lines",
    "result_document",
    "wait_for_state",
]
