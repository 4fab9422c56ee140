"""Per-resource rules every stage shares: run-state folding and whether a resource is prunable.

Input: one `Resource` (and the live `State` for a datafeed's job). Output: a folded state or a
yes/no. Pure, no I/O.
"""

from __future__ import annotations

from reconciler.model import Kind, Ref, Resource, State
from reconciler.scopes import Ownership

RUNNING = frozenset({"opened", "started"})


def run_state(kind: Kind, state: str | None) -> str | None:
    """Fold transitional states into the state they are heading for (or `failed`).

    Jobs: opening -> opened, closing -> closed (§5.1); datafeeds: starting -> started,
    stopping -> stopped (§5.2); DFA: starting/reindexing/analyzing -> started (§5.3).
    """
    if state is None:
        return None
    if kind is Kind.JOB:
        return {"opening": "opened", "closing": "closed"}.get(state, state)
    if kind is Kind.DATAFEED:
        return {"starting": "started", "stopping": "stopped"}.get(state, state)
    if kind is Kind.DFA:
        folded = {"starting": "started", "reindexing": "started", "analyzing": "started"}
        return folded.get(state, {"stopping": "stopped"}.get(state, state))
    return None


def datafeed_job(res: Resource | None) -> str | None:
    """The job id a datafeed body names, or None."""
    if res is None:
        return None
    job = res.body.get("job_id")
    return job if isinstance(job, str) else None


def prunable(live: Resource, live_state: State, own: Ownership) -> bool:
    """May --prune delete this live resource? A member of the scope, not Elastic's.

    A datafeed that no registry entry names follows its job.
    """
    if live.elastic_managed:
        return False
    if own.is_member(live):
        return True
    if live.ref.kind is Kind.DATAFEED and own.owner(live.ref) is None:
        job = live_state.get(Ref(kind=Kind.JOB, id=datafeed_job(live) or ""))
        return job is not None and own.is_member(job) and not job.elastic_managed
    return False
