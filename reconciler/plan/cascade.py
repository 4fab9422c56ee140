"""Stage 3, cascade: what a job's replace or delete does to the resources around it.

Input: a `Context` with every resource decided. Output: the same decisions, amended: a job
replaced or deleted takes its datafeed with it (Elasticsearch deletes a job's datafeed,
es-ml-api.md §1.7) and leaves its calendars, which it rejoins (from the live calendars, or
from the restore record the registry keeps from before its delete until then); a failed
job's force-close stops its datafeed, which is started again; reasons say so. Per-kind
effects are two tables, `CASCADES` and `FORCE_STOP_CASCADES`. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler import ownership
from reconciler.model import Action, FieldChange, Kind, Ref
from reconciler.plan.context import Context, Decision
from reconciler.plan.rules import DELETES


def cascade(ctx: Context) -> None:
    """Amend the decisions for what each resource's decision does to the others.

    In passes, each over every decision: what a decision does to the resources around it
    (`CASCADES`), the calendar memberships to restore, then what force-stopping a failed
    resource does (`FORCE_STOP_CASCADES`), which reads the actions the first pass set.
    """
    for ref, d in ctx.decisions.items():
        hook = CASCADES[ref.kind]
        if hook is not None:
            hook(ctx, d)
    ctx.restores = memberships_to_restore(ctx)
    ctx.restore_records = _records(ctx.restores)
    for cref, jobs in ctx.restores.items():
        _explain_restore(ctx, cref, jobs)
    for ref, d in ctx.decisions.items():
        hook = FORCE_STOP_CASCADES[ref.kind]
        if hook is not None and d.force_closed:
            hook(ctx, d)


def _job_cascade(ctx: Context, d: Decision) -> None:
    """A replaced or deleted job takes its datafeed along (ES deletes it with the job)."""
    if d.action is Action.RESTART_UPDATE:
        for feed in ctx.datafeeds_of(d.ref.id):
            if ctx.decisions[feed].running_now:
                d.reasons.append(f"its datafeed {feed.id} is stopped first and restarted after")
        return
    if d.action not in DELETES:
        return
    verb = "replaced" if d.action is Action.REPLACE else "deleted"
    for feed in ctx.datafeeds_of(d.ref.id):
        fd = ctx.decisions[feed]
        if fd.action in DELETES:
            continue
        if fd.desired is None:
            fd.action = Action.DELETE
            fd.reasons.append(f"its job {d.ref.id} is deleted")
        elif fd.live is not None:
            fd.action = Action.REPLACE
            fd.reasons.append(
                f"its job {d.ref.id} is {verb} and Elasticsearch deletes a job's datafeed with "
                "the job"
            )


#: Per kind: what its decision does to other resources, or None. (A replaced job also
#: leaves its calendars: `memberships_to_restore`.)
CASCADES: dict[Kind, Callable[[Context, Decision], None] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: _job_cascade,
    Kind.DATAFEED: None,
    Kind.DFA: None,
}


def _restart_feeds_of_failed_job(ctx: Context, d: Decision) -> None:
    """Force-closing a failed job stops its datafeed: a running one is started again after."""
    job = d.ref
    for feed in ctx.datafeeds_of(job.id):
        fd = ctx.decisions[feed]
        if not fd.running_now:
            continue
        fd.restart = True
        if fd.action is Action.NOOP and fd.running_after:
            fd.action = Action.START
            fd.reasons.append(
                f"its job {job.id} has failed: force-closing the job stops this datafeed, so "
                "it is started again once the job is open"
            )


#: Per kind: what force-stopping a failed resource of that kind (`Decision.force_closed`)
#: does to other resources, or None (it stops nothing else).
FORCE_STOP_CASCADES: dict[Kind, Callable[[Context, Decision], None] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: _restart_feeds_of_failed_job,
    Kind.DATAFEED: None,
    Kind.DFA: None,
}


def _explain_restore(ctx: Context, cref: Ref, job_ids: list[str]) -> None:
    """Say why jobs go back into a calendar, on each job (replace) or on the calendar."""
    readd: list[str] = []
    for job_id in job_ids:
        jd = ctx.decisions[Ref.of(Kind.JOB, job_id)]
        if jd.action is Action.REPLACE:
            jd.reasons.append(
                f"deleting it removes it from calendar {cref.id}; it is added back after the "
                "job is recreated (recorded in the ownership registry until then)"
            )
        else:
            readd.append(job_id)
            if jd.action is Action.CREATE:
                jd.reasons.append(
                    f"an earlier apply deleted it to recreate it and stopped before the "
                    f"create: it is created and put back in calendar {cref.id} (as recorded "
                    "in the ownership registry)"
                )
    cd = ctx.decisions.get(cref)
    if not readd or cd is None or cd.live is None:
        return
    # Left by an apply that recreated the job but failed or died before the re-add.
    before = sorted(cd.live.body.get("job_ids") or [])
    after = sorted({*before, *(cd.fields[0].after if cd.fields else ()), *readd})
    cd.fields = [FieldChange(path="job_ids", before=before, after=after)]
    cd.action = Action.UPDATE
    for job_id in readd:
        cd.reasons.append(
            f"an earlier apply replaced job {job_id} but did not put it back in this calendar "
            "(as recorded on the cluster); it is added back now"
        )


def memberships_to_restore(ctx: Context) -> dict[Ref, list[str]]:
    """Calendars a job must be put back in, and those jobs, re-derived from the cluster.

    Two sources, both durable on the cluster: the live calendars that list a job this plan
    replaces (ES removes a deleted job from every calendar, §1.7), and the restore record kept
    in the job's registry document from before its delete until every membership is back (an
    earlier apply failed or died between the delete and the re-add; `recorded_calendars`).
    Calendars created, replaced or deleted by this plan are skipped (their own steps set their
    jobs); a declared calendar keeps only the jobs it still lists, and re-adds a recorded job
    through its own update. In the live state's calendar order.
    """
    index = ctx.index
    replaced: dict[Ref, set[str]] = {}
    pending: dict[Ref, set[str]] = {}
    for jref, jd in ctx.decisions.items():
        if jref.kind is not Kind.JOB or jd.action is Action.DELETE:
            continue
        if jd.action is Action.REPLACE:
            for cref in index.live_calendars_by_job.get(jref.id, ()):
                replaced.setdefault(cref, set()).add(jref.id)
        for calendar_id in recorded_calendars(ctx, jd):
            cref = Ref.of(Kind.CALENDAR, calendar_id)
            # A live calendar that does not list it (the job's few calendars, not the
            # calendar's many jobs; a job still to create is in none).
            listed = index.live_calendars_by_job.get(jref.id, ())
            if cref in index.live_calendar_order and cref not in listed:
                pending.setdefault(cref, set()).add(jref.id)
    out: dict[Ref, list[str]] = {}
    for cref in sorted(replaced.keys() | pending.keys(), key=index.live_calendar_order.__getitem__):
        decision = ctx.decisions.get(cref)
        if decision and decision.action in (Action.CREATE, Action.REPLACE, Action.DELETE):
            continue
        jobs = set(replaced.get(cref, ()))
        if decision and decision.desired is not None:
            jobs &= set(decision.desired_canon.get("job_ids", []))
        else:
            jobs |= pending.get(cref, set())
        if jobs:
            out[cref] = sorted(jobs)
    return out


def recorded_calendars(ctx: Context, jd: Decision) -> list[str]:
    """The calendars the cluster records that a job must rejoin.

    The registry's record, written before a replace deletes the job (so it outlives the
    delete), and the record that earlier mlsync versions kept in the new job's own
    `custom_settings`.
    """
    legacy = ownership.pending_calendars(jd.live.body) if jd.live is not None else []
    recorded = ctx.ownership.recorded_calendars(jd.ref)
    if not legacy and not recorded:  # the common case: no record
        return []
    return sorted({*recorded, *legacy})


def _records(restores: dict[Ref, list[str]]) -> dict[str, list[str]]:
    """Per job: the calendars it is put back in (the inverse of `restores`)."""
    out: dict[str, list[str]] = {}
    for cref, jobs in restores.items():
        for job_id in jobs:
            out.setdefault(job_id, []).append(cref.id)
    return {job_id: sorted(calendars) for job_id, calendars in out.items()}


def restore_record(ctx: Context, job_id: str) -> list[str]:
    """The calendars a replaced job records in the registry until it is back in them."""
    return ctx.restore_records.get(job_id, [])
