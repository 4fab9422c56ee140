"""Stage 4, order: the decisions as steps in four phases, each naming what it waits for.

Input: a `Context` with final decisions. Output: the plan's `Step`s: stop (datafeeds, then
jobs and DFA), delete (children first), create/update (parents first: filters, calendars,
jobs, datafeeds, DFA; then calendar memberships of recreated jobs; then filter deletes),
start (open jobs, then start datafeeds and DFA). Each step names the steps it depends on, so
the executor runs independent resources concurrently and skips the dependents of a failure
(es-ml-api.md §5.4). Per-kind calls and dependencies are one table, `STEPS`. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler import ownership
from reconciler.client import api
from reconciler.model import Action, Call, Kind, Ref, Step
from reconciler.plan.bodies import settings_after
from reconciler.plan.cascade import restore_record
from reconciler.plan.collector import StepList, first
from reconciler.plan.context import Context, Decision
from reconciler.plan.rules import CREATES, DELETES, RUN_STATES
from reconciler.plan.writes import create_or_update

Deps = list[int | None]


def _no_deps(s: StepList, ctx: Context, ref: Ref) -> Deps:
    return []


@dataclass(frozen=True)
class KindSteps:
    """The run-state and delete steps of one kind (run-state fields None: it does not run)."""

    delete: Callable[[str], Call]
    #: What a delete waits for.
    delete_after: Callable[[StepList, Context, Ref], Deps] = _no_deps
    #: Add the steps that must run before its delete or replace (None: none).
    delete_first: Callable[[StepList, Context, Decision], None] | None = None
    #: Bring it down (datafeed stop, job close, DFA stop); `stop_op` names the step.
    stop: Callable[[str], Call] | None = None
    stop_op: str = "stop"
    #: What a stop waits for.
    stop_after: Callable[[StepList, Context, Ref], Deps] = _no_deps
    #: Must it stop because of what happens to another resource (its job)?
    stops_for: Callable[[Context, Decision], bool] | None = None
    #: Force it down from `failed` (§5.1, §5.3); None: it cannot fail.
    force_stop: Callable[[str], Call] | None = None
    #: Bring it up (job open, datafeed or DFA start) and the state to wait for.
    start: Callable[[Decision], Call] | None = None
    start_op: str = "start"
    start_wait: Callable[[Decision], str | None] | None = None
    start_after: Callable[[StepList, Context, Ref], Deps] = _no_deps


def _job_feeds_stop(s: StepList, ctx: Context, ref: Ref) -> Deps:
    return [s.get(feed, "stop") for feed in ctx.datafeeds_of(ref.id)]


def _job_feeds_delete(s: StepList, ctx: Context, ref: Ref) -> Deps:
    # Elasticsearch refuses to delete a job that still has a datafeed (§1.7).
    return [s.get(feed, "delete") for feed in ctx.datafeeds_of(ref.id)]


def _filter_users(s: StepList, ctx: Context, ref: Ref) -> Deps:
    # A filter in use cannot be deleted (409, §4.1): after the jobs that used it are deleted
    # or updated.
    return [
        first(s.get(j, "apply"), s.get(j, "delete"))
        for j in ctx.index.live_jobs_by_filter.get(ref.id, ())
        if j in ctx.decisions
    ]


def _feed_job_started(s: StepList, ctx: Context, ref: Ref) -> Deps:
    job = ctx.job_of_feed(ref)
    return [first(s.get(job, "start"), s.get(job, "apply"))]


#: A job's actions that close it while it is changed or for good.
_JOB_STOPS_FEED = frozenset({Action.REPLACE, Action.RESTART_UPDATE, Action.DELETE, Action.CLOSE})


def _feed_stops_for_job(ctx: Context, d: Decision) -> bool:
    # A job closed for an update or a replace stops its datafeed first (§5.4).
    job = ctx.decisions.get(ctx.job_of_feed(d.ref))
    return job is not None and job.action in _JOB_STOPS_FEED


def _record_restores(s: StepList, ctx: Context, d: Decision) -> None:
    """Before a replaced job's delete, record in the registry the calendars it must rejoin.

    Elasticsearch removes a deleted job from every calendar (§1.7). Written before the delete,
    the record outlives it: if apply dies or a step fails anywhere up to the re-adds, the next
    plan reads it from the cluster and puts the job back (`cascade.memberships_to_restore`).
    """
    calendars = restore_record(ctx, d.ref.id) if d.action is Action.REPLACE else []
    if calendars:
        s.add(
            d.ref,
            "record-restore",
            ctx.ownership.record_call(d.ref, calendars),
            phase="record-restore",
            description=f"record in the ownership registry that job {d.ref.id} must rejoin "
            f"calendar{'s' if len(calendars) > 1 else ''} {', '.join(calendars)}",
        )


def _delete_dest_index(s: StepList, ctx: Context, d: Decision) -> None:
    """A DFA replace that ran empties its destination index (`Decision.dest_to_empty`).

    The new job's first start needs it empty. Before the job's own delete: if apply dies in
    between, the next plan still sees a replace (the old job exists) and deletes the index
    again; the other way round it would see a plain create and the start would be refused.
    """
    dest = d.dest_to_empty
    if dest:
        s.add(
            d.ref,
            "delete-dest-index",
            api.delete_index(dest),
            phase="delete-dest",
            destructive=True,
            description=f"delete destination index {dest} of {d.ref.id} (its results)",
        )


def _start_feed(d: Decision) -> Call:
    facts = d.desired.facts if d.desired else {}
    return api.start_datafeed(d.ref.id, start=facts.get("start"), end=facts.get("end"))


def _feed_wait(d: Decision) -> str | None:
    # A look-back datafeed stops itself at `end`: waiting for "started" could miss it.
    facts = d.desired.facts if d.desired else {}
    return None if facts.get("end") else "started"


#: Per kind: its delete and run-state steps.
STEPS: dict[Kind, KindSteps] = {
    Kind.FILTER: KindSteps(delete=api.delete_filter, delete_after=_filter_users),
    Kind.CALENDAR: KindSteps(delete=api.delete_calendar),
    Kind.JOB: KindSteps(
        delete=lambda i: api.delete_job(i, delete_user_annotations=False),
        delete_after=_job_feeds_delete,
        delete_first=_record_restores,
        stop=api.close_job,
        stop_op="close",
        stop_after=_job_feeds_stop,
        force_stop=lambda i: api.close_job(i, force=True),
        start=lambda d: api.open_job(d.ref.id),
        start_op="open",
        start_wait=lambda d: "opened",
    ),
    Kind.DATAFEED: KindSteps(
        delete=api.delete_datafeed,
        stop=api.stop_datafeed,
        stops_for=_feed_stops_for_job,
        start=_start_feed,
        start_wait=_feed_wait,
        start_after=_feed_job_started,
    ),
    Kind.DFA: KindSteps(
        delete=api.delete_data_frame_analytics,
        delete_first=_delete_dest_index,
        stop=api.stop_data_frame_analytics,
        force_stop=lambda i: api.stop_data_frame_analytics(i, force=True),
        start=lambda d: api.start_data_frame_analytics(d.ref.id),
        start_wait=lambda d: "started",
    ),
}

#: The order of kinds within each phase: children stop and are deleted first, parents are
#: written and started first; filters are deleted last (jobs must stop using them first).
STOP_ORDER = (Kind.DATAFEED, Kind.JOB, Kind.DFA)
DELETE_ORDER = (Kind.DATAFEED, Kind.JOB, Kind.DFA, Kind.CALENDAR)
WRITE_ORDER = (Kind.FILTER, Kind.CALENDAR, Kind.JOB, Kind.DATAFEED, Kind.DFA)
LATE_DELETE_ORDER = (Kind.FILTER,)
START_ORDER = (Kind.JOB, Kind.DATAFEED, Kind.DFA)


#: A running resource stops before these actions' steps (close and stop: that is the step).
_STOPPED_FIRST = frozenset(
    {Action.DELETE, Action.REPLACE, Action.RESTART_UPDATE, Action.CLOSE, Action.STOP}
)
#: A start after these puts back the run state the resource had (`Step.restore`).
_RESTORED = frozenset({Action.RESTART_UPDATE, Action.UPDATE, Action.NOOP})


def _stopping(ctx: Context, d: Decision) -> bool:
    """Must this resource be stopped/closed before its other steps?"""
    if not d.running_now:
        return False
    if d.action in _STOPPED_FIRST:
        return True
    if d.desired is not None and d.want_state is not None and not d.running_after:
        # Down is where it should end up, also when its configuration changes too.
        return True
    stops_for = STEPS[d.ref.kind].stops_for
    return stops_for is not None and stops_for(ctx, d)


def _down_state(kind: Kind) -> str:
    states = RUN_STATES[kind]
    assert states is not None
    return states.down


def build_steps(ctx: Context) -> tuple[Step, ...]:
    """Every step of the plan, in execution order."""
    s = StepList()
    by_kind: dict[Kind, list[Decision]] = {kind: [] for kind in Kind}
    for ref, d in ctx.decisions.items():
        by_kind[ref.kind].append(d)

    # Phase 0: claim what this plan creates or adopts, before any other step touches it, so
    # of two scopes racing for one resource only the one whose claim landed goes on.
    for ref, d in ctx.decisions.items():
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
    for kind in STOP_ORDER:
        rules = STEPS[kind]
        assert rules.stop is not None
        for d in by_kind[kind]:
            if not _stopping(ctx, d):
                continue
            stopped.add(d.ref)
            after = rules.stop_after(s, ctx, d.ref)
            call = rules.stop(d.ref.id)
            s.add(d.ref, rules.stop_op, call, phase="stop", wait_for=_down_state(kind), after=after)
    # A failed job or DFA must be force-closed / force-stopped before anything else (§5.1, §5.3).
    for ref, d in ctx.decisions.items():
        if d.force_closed:
            rules = STEPS[ref.kind]
            if rules.force_stop is not None:
                call = rules.force_stop(ref.id)
                s.add(ref, rules.stop_op, call, phase="stop", wait_for=_down_state(ref.kind))
            stopped.add(ref)
    # What a force-stop stops along with it (a failed job's running datafeed, marked by the
    # cascade) is started again in phase 4.
    stopped.update(ref for ref, d in ctx.decisions.items() if d.restart)

    def delete(kinds: tuple[Kind, ...]) -> None:
        for kind in kinds:
            rules = STEPS[kind]
            for d in by_kind[kind]:
                if d.action not in DELETES:
                    continue
                if rules.delete_first is not None:
                    rules.delete_first(s, ctx, d)
                after = rules.delete_after(s, ctx, d.ref)
                call = rules.delete(d.ref.id)
                s.add(d.ref, "delete", call, phase="delete", after=after, destructive=True)
                if d.action is Action.DELETE and ctx.ownership.registered(d.ref):
                    # Only once it is gone: a crash in between leaves a member without resource.
                    remove = ctx.ownership.remove_call(d.ref)
                    s.add(d.ref, "remove-member", remove, phase="forget")

    # Phase 2: deletes, children first; the delete half of a replace is destructive too.
    delete(DELETE_ORDER)

    # Phase 3: creates and updates, parents first.
    gone = {d.ref.id for d in by_kind[Kind.JOB] if d.action in DELETES}
    for kind in WRITE_ORDER:
        for d in by_kind[kind]:
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
            after=[s.get(Ref.of(Kind.JOB, j), "apply") for j in job_ids],
            description=f"re-add replaced jobs {', '.join(job_ids)} to calendar {cref.id}",
        )
        for job_id in job_ids:
            readds.setdefault(job_id, []).append(index)
    _clear_restore_records(s, ctx, by_kind[Kind.JOB], readds)

    # Filters go last among the deletes: jobs must stop using them first.
    delete(LATE_DELETE_ORDER)

    # Members whose resource is gone (an apply interrupted after the claim, or a delete made
    # by hand) leave the member set.
    for ref in ctx.stale_members:
        s.add(ref, "remove-member", ctx.ownership.remove_call(ref), phase="forget")

    # Phase 4: open jobs, then start datafeeds and DFA.
    for kind in START_ORDER:
        rules = STEPS[kind]
        assert rules.start is not None and rules.start_wait is not None
        for d in by_kind[kind]:
            if d.action is Action.DELETE or not d.running_after:
                continue
            if not (d.ref in stopped or d.action in CREATES or not d.state_ok):
                continue
            restore = d.action in _RESTORED and d.running_now
            s.add(
                d.ref,
                rules.start_op,
                rules.start(d),
                phase="start",
                wait_for=rules.start_wait(d),
                after=rules.start_after(s, ctx, d.ref),
                restore=restore,
            )
    return tuple(s.steps)


def _clear_restore_records(
    s: StepList, ctx: Context, jobs: list[Decision], readds: dict[str, list[int]]
) -> None:
    """Once every membership of a recreated job is back, its restore record goes.

    The record was written before the job's delete (a replace in this plan) or left by an
    earlier apply; a failed re-add skips this step, so the next plan still finds the record.
    It is the job's registry document, or, left by mlsync versions before the registry kept
    it, a key of the job's own `custom_settings` (only on a job that exists).
    """
    for d in jobs:
        ref = d.ref
        if d.action is Action.DELETE:
            continue
        after = readds.get(ref.id, [])
        written = d.action is Action.REPLACE and bool(restore_record(ctx, ref.id))
        if written or ctx.ownership.recorded_calendars(ref):
            s.add(
                ref,
                "clear-restore",
                ctx.ownership.record_call(ref, []),
                phase="record",
                after=after,
                description=f"remove job {ref.id}'s calendar restore record from the "
                "ownership registry",
            )
        if d.live is None or not ownership.pending_calendars(d.live.body):
            continue
        s.add(
            ref,
            "clear-restore-record",
            api.update_job(
                ref.id, {"custom_settings": settings_after(d, record=[], scope=ctx.options.scope)}
            ),
            phase="record",
            after=after,
            description=f"remove the calendar restore record from job {ref.id}",
        )
