"""Stage 3, cascade: what a job's replace or delete does to the resources around it.

Input: a `Context` with every resource decided. Output: the same decisions, amended: a job
replaced or deleted takes its datafeed with it (Elasticsearch deletes a job's datafeed,
es-ml-api.md §1.7) and leaves its calendars; reasons say so. Pure, no I/O.
"""

from __future__ import annotations

from reconciler.model import Action, Kind, Ref
from reconciler.plan.context import Context


def cascade(ctx: Context) -> None:
    """A replaced or deleted job takes its datafeed along (ES deletes it with the job)."""
    for ref, d in ctx.decisions.items():
        if ref.kind is not Kind.JOB or d.action not in (Action.REPLACE, Action.DELETE):
            continue
        verb = "replaced" if d.action is Action.REPLACE else "deleted"
        for feed in ctx.datafeeds_of(ref.id):
            fd = ctx.decisions[feed]
            if fd.action in (Action.DELETE, Action.REPLACE):
                continue
            if fd.desired is None:
                fd.action = Action.DELETE
                fd.reasons.append(f"its job {ref.id} is deleted")
            elif fd.live is not None:
                fd.action = Action.REPLACE
                fd.reasons.append(
                    f"its job {ref.id} is {verb}"
                    " and Elasticsearch deletes a job's datafeed with the job"
                )

    for cref, jobs in memberships_to_restore(ctx).items():
        for job_id in jobs:
            ctx.decisions[Ref(kind=Kind.JOB, id=job_id)].reasons.append(
                f"deleting it removes it from calendar {cref.id}; it is added back after "
                "the job is recreated"
            )
    for ref, d in ctx.decisions.items():
        if ref.kind is Kind.JOB and d.action is Action.RESTART_UPDATE:
            for feed in ctx.datafeeds_of(ref.id):
                if ctx.decisions[feed].running_now:
                    d.reasons.append(f"its datafeed {feed.id} is stopped first and restarted after")


def memberships_to_restore(ctx: Context) -> dict[Ref, list[str]]:
    """Calendars (from the whole live state) that will lose a replaced job, and those jobs.

    Calendars created, replaced or deleted by this plan are skipped (their own steps set
    their jobs), and so are jobs a declared calendar no longer lists. In the live state's
    calendar order.
    """
    replaced = {
        r.id for r, d in ctx.decisions.items() if r.kind is Kind.JOB and d.action is Action.REPLACE
    }
    index = ctx.index
    calendars = {c for job in replaced for c in index.live_calendars_by_job.get(job, ())}
    out: dict[Ref, list[str]] = {}
    for cref in sorted(calendars, key=index.live_calendar_order.__getitem__):
        decision = ctx.decisions.get(cref)
        if decision and decision.action in (Action.CREATE, Action.REPLACE, Action.DELETE):
            continue
        listed = set(ctx.live_state.resources[cref].body.get("job_ids") or [])
        if decision and decision.desired is not None:
            listed &= set(decision.desired_canon.get("job_ids", []))
        jobs = sorted(replaced & listed)
        if jobs:
            out[cref] = jobs
    return out
