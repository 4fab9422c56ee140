"""Phase 3 of the order: the create and update steps of one resource.

Input: the step list so far, the `Context` and one `Decision`. Output: the resource's
create, update, calendar membership and event steps, each after what it needs (the job's
filters, the job of a datafeed, the delete of a job's old datafeed or of a listed job).
Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler import ownership
from reconciler.client import api
from reconciler.model import Call, Kind, Ref
from reconciler.normalize import canonical_event, event_key
from reconciler.plan.bodies import (
    DATAFEED_RESETS,
    filter_update_body,
    job_update_body,
    top_level_update,
)
from reconciler.plan.collector import StepList
from reconciler.plan.context import Context, Decision
from reconciler.plan.inputs import Body
from reconciler.plan.rules import CREATES, UPDATES

Deps = list[int | None]
Updater = Callable[[StepList, Context, Decision, Deps, set[str]], None]


@dataclass(frozen=True)
class KindWrites:
    """How one kind is written: what a write waits for, its create steps and its update."""

    #: The steps a create or update of this resource waits for.
    after: Callable[[StepList, Context, Decision], Deps]
    #: The create steps (op, call); the first waits for `after`.
    create: Callable[[Context, Decision], list[tuple[str, Call]]]
    #: Add the update steps (`gone`: jobs this plan deletes or replaces).
    update: Updater


def _no_deps(s: StepList, ctx: Context, d: Decision) -> Deps:
    return []


def _job_deps(s: StepList, ctx: Context, d: Decision) -> Deps:
    # Opening a job fails without the filters its rules use (§1.3.1): they are written first.
    filters = ctx.index.desired_filters_of_job[d.ref]
    return [s.get(Ref.of(Kind.FILTER, f), "apply") for f in filters]


def _datafeed_deps(s: StepList, ctx: Context, d: Decision) -> Deps:
    job = ctx.job_of_feed(d.ref)
    # One datafeed per job (es-ml-api.md §2.5): a new one waits for the old one's delete.
    after = [s.get(job, "apply")]
    after += [s.get(other, "delete") for other in ctx.datafeeds_of(job.id) if other != d.ref]
    return after


def _calendar_deps(s: StepList, ctx: Context, d: Decision) -> Deps:
    # Deleting a job removes it from every calendar (es-ml-api.md §1.7): a calendar that
    # lists a job being deleted or replaced is written after that delete.
    assert d.desired is not None
    jobs = d.desired.body.get("job_ids") or []
    return [s.get(Ref.of(Kind.JOB, j), "delete") for j in jobs]


def _raw(d: Decision) -> Body:
    assert d.desired is not None
    return d.desired.body


def _create_calendar(ctx: Context, d: Decision) -> list[tuple[str, Call]]:
    raw = _raw(d)
    body = {k: v for k, v in raw.items() if k != "events"}
    out = [("create", api.put_calendar(d.ref.id, body))]
    if raw.get("events"):
        out.append(("add-events", api.post_calendar_events(d.ref.id, list(raw["events"]))))
    return out


def _create_job(ctx: Context, d: Decision) -> list[tuple[str, Call]]:
    # The calendars a replaced job must rejoin are recorded in the registry before its delete
    # (order.STEPS: the job's delete_first), not on the job: it does not exist in between.
    body = ownership.with_marker(Kind.JOB, _raw(d), ctx.options.scope)
    return [("create", api.put_job(d.ref.id, body))]


def _one_update(call: Callable[[Context, Decision], Call]) -> Updater:
    """An update that is one `_update` call, after the resource's dependencies."""

    def update(s: StepList, ctx: Context, d: Decision, after: Deps, gone: set[str]) -> None:
        s.add(d.ref, "update", call(ctx, d), phase="apply", after=after)

    return update


#: Per kind: how the create/update phase writes it.
WRITES: dict[Kind, KindWrites] = {
    Kind.FILTER: KindWrites(
        after=_no_deps,
        create=lambda ctx, d: [("create", api.put_filter(d.ref.id, _raw(d)))],
        update=_one_update(lambda ctx, d: api.update_filter(d.ref.id, filter_update_body(d))),
    ),
    Kind.CALENDAR: KindWrites(
        after=_calendar_deps,
        create=_create_calendar,
        update=lambda s, ctx, d, after, gone: calendar_update(s, d, after, gone),
    ),
    Kind.JOB: KindWrites(
        after=_job_deps,
        create=_create_job,
        update=_one_update(
            lambda ctx, d: api.update_job(d.ref.id, job_update_body(d, ctx.options.scope))
        ),
    ),
    Kind.DATAFEED: KindWrites(
        after=_datafeed_deps,
        create=lambda ctx, d: [("create", api.put_datafeed(d.ref.id, _raw(d)))],
        update=_one_update(
            lambda ctx, d: api.update_datafeed(d.ref.id, top_level_update(d, DATAFEED_RESETS))
        ),
    ),
    Kind.DFA: KindWrites(
        after=_no_deps,
        create=lambda ctx, d: [
            (
                "create",
                api.put_data_frame_analytics(
                    d.ref.id, ownership.with_marker(Kind.DFA, _raw(d), ctx.options.scope)
                ),
            )
        ],
        update=_one_update(
            lambda ctx, d: api.update_data_frame_analytics(d.ref.id, top_level_update(d))
        ),
    ),
}


def create_or_update(s: StepList, ctx: Context, d: Decision, gone: set[str]) -> None:
    """Add the create or update steps of `d` (`gone`: jobs this plan deletes or replaces)."""
    assert d.desired is not None
    writes = WRITES[d.ref.kind]
    if d.action in CREATES:
        after = writes.after(s, ctx, d)
        for n, (op, call) in enumerate(writes.create(ctx, d)):
            s.add(d.ref, op, call, phase="apply", after=after if n == 0 else ())
    elif d.action in UPDATES or d.mark:
        # `mark`: adopted with no field to change, the update sends the marker alone.
        writes.update(s, ctx, d, writes.after(s, ctx, d), gone)


def calendar_update(s: StepList, d: Decision, after: list[int | None], gone: set[str]) -> None:
    """Membership and event steps that turn the live calendar into the declared one.

    `after` is unused: the membership steps wait for exactly the jobs they add or remove.
    """
    ref = d.ref
    assert d.desired is not None and d.live is not None
    live_jobs = set(d.live_canon.get("job_ids", []))
    want_jobs = set(d.desired_canon.get("job_ids", []))
    # Jobs deleted or replaced in this plan leave every calendar on their own (§1.7).
    add = sorted(want_jobs - live_jobs)
    remove = sorted(live_jobs - want_jobs - gone)
    if add:
        after = [s.get(Ref.of(Kind.JOB, j), "apply") for j in add]
        after += [s.get(Ref.of(Kind.JOB, j), "delete") for j in add]
        s.add(ref, "add-jobs", api.put_calendar_job(ref.id, add), phase="apply", after=after)
    if remove:
        after = [s.get(Ref.of(Kind.JOB, j), "delete") for j in remove]
        s.add(
            ref, "remove-jobs", api.delete_calendar_job(ref.id, remove), phase="apply", after=after
        )
    live_ids: dict[str, str] = d.live.facts.get("event_ids", {})
    live_events = {event_key(e): e for e in d.live_canon.get("events", [])}
    raw_events = [e for e in d.desired.body.get("events") or [] if isinstance(e, dict)]
    want_events = {event_key(canonical_event(e)): e for e in raw_events}
    for key in sorted(live_events.keys() - want_events.keys()):
        event_id = live_ids.get(key) if isinstance(live_ids, dict) else None
        if event_id:
            s.add(
                ref,
                "delete-event",
                api.delete_calendar_event(ref.id, event_id),
                phase="apply",
                description=f"delete event {live_events[key].get('description')!r} of {ref.id}",
            )
    new = [want_events[k] for k in sorted(want_events.keys() - live_events.keys())]
    if new:
        s.add(ref, "add-events", api.post_calendar_events(ref.id, new), phase="apply")
