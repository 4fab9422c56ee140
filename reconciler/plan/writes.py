"""Phase 3 of the order: the create and update steps of one resource.

Input: the step list so far, the `Context` and one `Decision`. Output: the resource's
create, update, calendar membership and event steps, each after what it needs (the job's
filters, the job of a datafeed, the delete of a job's old datafeed or of a listed job).
Pure, no I/O.
"""

from __future__ import annotations

from reconciler import ownership
from reconciler.client import api
from reconciler.model import Action, Call, Kind, Ref
from reconciler.normalize import canonical_event, event_key
from reconciler.plan.bodies import (
    DATAFEED_RESETS,
    filter_update_body,
    job_update_body,
    settings_after,
    top_level_update,
)
from reconciler.plan.cascade import restore_record
from reconciler.plan.collector import StepList
from reconciler.plan.context import Context, Decision


def create_or_update(s: StepList, ctx: Context, d: Decision, gone: set[str]) -> None:
    """Add the create or update steps of `d` (`gone`: jobs this plan deletes or replaces)."""
    ref = d.ref
    assert d.desired is not None
    raw = d.desired.body
    after: list[int | None] = []
    if ref.kind is Kind.JOB:
        filters = ctx.index.desired_filters_of_job[ref]
        after = [s.get(Ref(kind=Kind.FILTER, id=f), "apply") for f in filters]
    if ref.kind is Kind.DATAFEED:
        job = ctx.job_of_feed(ref)
        # One datafeed per job (es-ml-api.md §2.5): a new one waits for the old one's delete.
        after = [s.get(job, "apply")]
        after += [s.get(other, "delete") for other in ctx.datafeeds_of(job.id) if other != ref]
    if ref.kind is Kind.CALENDAR:
        # Deleting a job removes it from every calendar (es-ml-api.md §1.7): a calendar that
        # lists a job being deleted or replaced is written after that delete.
        after = [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in raw.get("job_ids") or []]
    if d.action in (Action.CREATE, Action.REPLACE):
        call: Call
        if ref.kind is Kind.JOB:
            body = ownership.with_marker(Kind.JOB, raw, ctx.options.scope)
            record = restore_record(ctx, ref.id) if d.action is Action.REPLACE else []
            if record:  # kept on the cluster until the memberships are back (cascade)
                body["custom_settings"] = settings_after(d, record=record, scope=ctx.options.scope)
            call = api.put_job(ref.id, body)
        elif ref.kind is Kind.DATAFEED:
            call = api.put_datafeed(ref.id, raw)
        elif ref.kind is Kind.DFA:
            marked = ownership.with_marker(Kind.DFA, raw, ctx.options.scope)
            call = api.put_data_frame_analytics(ref.id, marked)
        elif ref.kind is Kind.FILTER:
            call = api.put_filter(ref.id, raw)
        else:
            body = {k: v for k, v in raw.items() if k != "events"}
            call = api.put_calendar(ref.id, body)
        s.add(ref, "create", call, phase="apply", after=after)
        if ref.kind is Kind.CALENDAR and raw.get("events"):
            s.add(
                ref,
                "add-events",
                api.post_calendar_events(ref.id, list(raw["events"])),
                phase="apply",
            )
        return
    if d.mark and d.action not in (Action.UPDATE, Action.RESTART_UPDATE):
        # Adopted with no field to change: the update sends the marker alone.
        body = job_update_body(d, ctx.options.scope)
        s.add(ref, "update", api.update_job(ref.id, body), phase="apply", after=after)
    if d.action not in (Action.UPDATE, Action.RESTART_UPDATE):
        return
    if ref.kind is Kind.JOB:
        body = job_update_body(d, ctx.options.scope)
        s.add(ref, "update", api.update_job(ref.id, body), phase="apply", after=after)
    elif ref.kind is Kind.DATAFEED:
        body = top_level_update(d, DATAFEED_RESETS)
        s.add(ref, "update", api.update_datafeed(ref.id, body), phase="apply", after=after)
    elif ref.kind is Kind.DFA:
        body = top_level_update(d)
        s.add(ref, "update", api.update_data_frame_analytics(ref.id, body), phase="apply")
    elif ref.kind is Kind.FILTER:
        s.add(ref, "update", api.update_filter(ref.id, filter_update_body(d)), phase="apply")
    else:
        calendar_update(s, d, gone)


def calendar_update(s: StepList, d: Decision, gone: set[str]) -> None:
    """Membership and event steps that turn the live calendar into the declared one."""
    ref = d.ref
    assert d.desired is not None and d.live is not None
    live_jobs = set(d.live_canon.get("job_ids", []))
    want_jobs = set(d.desired_canon.get("job_ids", []))
    # Jobs deleted or replaced in this plan leave every calendar on their own (§1.7).
    add = sorted(want_jobs - live_jobs)
    remove = sorted(live_jobs - want_jobs - gone)
    if add:
        after = [s.get(Ref(kind=Kind.JOB, id=j), "apply") for j in add]
        after += [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in add]
        s.add(ref, "add-jobs", api.put_calendar_job(ref.id, add), phase="apply", after=after)
    if remove:
        after = [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in remove]
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
