"""Stage 4, order: the decisions as steps in four phases, each naming what it waits for.

Input: a `Context` with final decisions. Output: the plan's `Step`s: stop (datafeeds, then
jobs and DFA), delete (children first), create/update (parents first: filters, calendars,
jobs, datafeeds, DFA; then calendar memberships of recreated jobs; then filter deletes),
start (open jobs, then start datafeeds and DFA). Each step names the steps it depends on, so
the executor runs independent resources concurrently and skips the dependents of a failure
(es-ml-api.md §5.4). Pure, no I/O.
"""

from __future__ import annotations

from reconciler import ownership
from reconciler.client import api
from reconciler.model import Action, Kind, Ref, Step
from reconciler.plan.bodies import settings_after
from reconciler.plan.collector import StepList, first
from reconciler.plan.context import Context, Decision
from reconciler.plan.writes import create_or_update


def build_steps(ctx: Context) -> tuple[Step, ...]:
    """Every step of the plan, in execution order."""
    s = StepList()
    dec = ctx.decisions
    by_kind: dict[Kind, list[tuple[Ref, Decision]]] = {kind: [] for kind in Kind}
    for ref, d in dec.items():
        by_kind[ref.kind].append((ref, d))

    def stopping(d: Decision) -> bool:
        """Must this resource be stopped/closed before its other steps?"""
        if not d.running_now:
            return False
        if d.action in (Action.DELETE, Action.REPLACE, Action.RESTART_UPDATE):
            return True
        if d.action in (Action.CLOSE, Action.STOP):
            return True
        if d.desired is not None and d.want_state is not None and not d.running_after:
            # Down is where it should end up, also when its configuration changes too.
            return True
        # A job closed for an update or a replace stops its datafeed first (§5.4).
        if d.ref.kind is Kind.DATAFEED:
            job = dec.get(ctx.job_of_feed(d.ref))
            if job and (
                job.action in (Action.REPLACE, Action.RESTART_UPDATE, Action.DELETE, Action.CLOSE)
            ):
                return True
        return False

    # Phase 0: claim what this plan creates or adopts, before any other step touches it, so
    # of two scopes racing for one resource only the one whose claim landed goes on.
    for ref, d in dec.items():
        if d.adopt:
            s.add(
                ref,
                "add-member",
                ctx.ownership.add_call(ref),
                phase="member",
                description=f"add {ref} to the members of scope {ctx.options.scope} (fails, "
                "and its other steps are skipped, when another scope has claimed it)",
            )

    stopped: set[Ref] = set()
    # Phase 1: stop datafeeds, then close jobs and stop DFA (children first).
    for kind in (Kind.DATAFEED, Kind.JOB, Kind.DFA):
        for ref, d in by_kind[kind]:
            if not stopping(d):
                continue
            stopped.add(ref)
            if kind is Kind.DATAFEED:
                s.add(ref, "stop", api.stop_datafeed(ref.id), phase="stop", wait_for="stopped")
            elif kind is Kind.JOB:
                s.add(
                    ref,
                    "close",
                    api.close_job(ref.id),
                    phase="stop",
                    wait_for="closed",
                    after=[s.get(feed, "stop") for feed in ctx.datafeeds_of(ref.id)],
                )
            else:
                s.add(
                    ref,
                    "stop",
                    api.stop_data_frame_analytics(ref.id),
                    phase="stop",
                    wait_for="stopped",
                )
    # A failed job or DFA must be force-closed / force-stopped before anything else (§5.1, §5.3).
    for ref, d in dec.items():
        if d.force_closed:
            if ref.kind is Kind.JOB:
                s.add(
                    ref, "close", api.close_job(ref.id, force=True), phase="stop", wait_for="closed"
                )
                # Closing a job stops its datafeed: a running one is started again in phase 4.
                stopped.update(f for f in ctx.datafeeds_of(ref.id) if dec[f].restart)
            elif ref.kind is Kind.DFA:
                s.add(
                    ref,
                    "stop",
                    api.stop_data_frame_analytics(ref.id, force=True),
                    phase="stop",
                    wait_for="stopped",
                )
            stopped.add(ref)

    def delete(kind: Kind) -> None:
        for ref, d in by_kind[kind]:
            if d.action not in (Action.DELETE, Action.REPLACE):
                continue
            after: list[int | None] = []
            if kind is Kind.JOB:
                after += [s.get(feed, "delete") for feed in ctx.datafeeds_of(ref.id)]
            if kind is Kind.FILTER:
                # A filter in use cannot be deleted (409, §4.1): after the jobs that used it
                # are deleted or updated.
                after += [
                    first(s.get(j, "apply"), s.get(j, "delete"))
                    for j in ctx.index.live_jobs_by_filter.get(ref.id, ())
                    if j in dec
                ]
            call = {
                Kind.DATAFEED: lambda i: api.delete_datafeed(i),
                Kind.JOB: lambda i: api.delete_job(i, delete_user_annotations=False),
                Kind.DFA: lambda i: api.delete_data_frame_analytics(i),
                Kind.CALENDAR: lambda i: api.delete_calendar(i),
                Kind.FILTER: lambda i: api.delete_filter(i),
            }[kind](ref.id)
            dest = d.dest_to_empty
            if dest:
                # The new job's first start needs it empty. Before the job's own delete: if
                # apply dies in between, the next plan still sees a replace (the old job
                # exists) and deletes the index again; the other way round it would see a
                # plain create and the start would be refused.
                s.add(
                    ref,
                    "delete-dest-index",
                    api.delete_index(dest),
                    phase="delete-dest",
                    destructive=True,
                    description=f"delete destination index {dest} of {ref.id} (its results)",
                )
            s.add(ref, "delete", call, phase="delete", after=after, destructive=True)
            if d.action is Action.DELETE and ctx.ownership.registered(ref):
                # Only once it is gone: a crash in between leaves a member without resource.
                s.add(ref, "remove-member", ctx.ownership.remove_call(ref), phase="forget")

    # Phase 2: deletes, children first; the delete half of a replace is destructive too.
    for kind in (Kind.DATAFEED, Kind.JOB, Kind.DFA, Kind.CALENDAR):
        delete(kind)

    # Phase 3: creates and updates, parents first.
    gone = {j.id for j, jd in by_kind[Kind.JOB] if jd.action in (Action.DELETE, Action.REPLACE)}
    for kind in (Kind.FILTER, Kind.CALENDAR, Kind.JOB, Kind.DATAFEED, Kind.DFA):
        for _, d in by_kind[kind]:
            if d.desired is not None:
                create_or_update(s, ctx, d, gone)
    # Jobs recreated by a replace lose their calendar memberships (ES removes a deleted job from
    # every calendar, §1.7): put them back in every calendar that listed them, declared or not.
    readds: dict[str, list[int]] = {}
    for cref, job_ids in sorted(ctx.restores.items(), key=lambda i: i[0].sort_key):
        index = s.add(
            cref,
            "add-jobs",
            api.put_calendar_job(cref.id, job_ids),
            phase="readd",
            after=[s.get(Ref(kind=Kind.JOB, id=j), "apply") for j in job_ids],
            description=f"re-add replaced jobs {', '.join(job_ids)} to calendar {cref.id}",
        )
        for job_id in job_ids:
            readds.setdefault(job_id, []).append(index)
    _clear_restore_records(s, ctx, readds)

    # Filters go last among the deletes: jobs must stop using them first.
    delete(Kind.FILTER)

    # Members whose resource is gone (an apply interrupted after the claim, or a delete made
    # by hand) leave the member set.
    for ref in ctx.stale_members:
        s.add(ref, "remove-member", ctx.ownership.remove_call(ref), phase="forget")

    # Phase 4: open jobs, then start datafeeds and DFA.
    for kind in (Kind.JOB, Kind.DATAFEED, Kind.DFA):
        for ref, d in by_kind[kind]:
            if d.action is Action.DELETE or not d.running_after:
                continue
            if not (
                ref in stopped or d.action in (Action.CREATE, Action.REPLACE) or not d.state_ok
            ):
                continue
            restore = (
                d.action in (Action.RESTART_UPDATE, Action.UPDATE, Action.NOOP) and d.running_now
            )
            if kind is Kind.JOB:
                s.add(
                    ref,
                    "open",
                    api.open_job(ref.id),
                    phase="start",
                    wait_for="opened",
                    restore=restore,
                )
            elif kind is Kind.DATAFEED:
                facts = d.desired.facts if d.desired else {}
                job = ctx.job_of_feed(ref)
                lookback = bool(facts.get("end"))
                s.add(
                    ref,
                    "start",
                    api.start_datafeed(ref.id, start=facts.get("start"), end=facts.get("end")),
                    phase="start",
                    wait_for=None if lookback else "started",
                    after=[first(s.get(job, "start"), s.get(job, "apply"))],
                    restore=restore,
                )
            else:
                s.add(
                    ref,
                    "start",
                    api.start_data_frame_analytics(ref.id),
                    phase="start",
                    wait_for="started",
                    restore=restore,
                )
    return tuple(s.steps)


def _clear_restore_records(s: StepList, ctx: Context, readds: dict[str, list[int]]) -> None:
    """Once every membership of a recreated job is back, its restore record goes.

    The record was written with the new job (a replace in this plan) or left by an earlier
    apply; a failed re-add skips this step, so the next plan still finds the record.
    """
    for ref, d in ctx.decisions.items():
        if ref.kind is not Kind.JOB or d.action is Action.DELETE or d.live is None:
            continue
        recorded = bool(ownership.pending_calendars(d.live.body))
        if not recorded and not (d.action is Action.REPLACE and ref.id in readds):
            continue
        s.add(
            ref,
            "clear-restore-record",
            api.update_job(
                ref.id, {"custom_settings": settings_after(d, record=[], scope=ctx.options.scope)}
            ),
            phase="record",
            after=readds.get(ref.id, []),
            description=f"remove the calendar restore record from job {ref.id}",
        )
