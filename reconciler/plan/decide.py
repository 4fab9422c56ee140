"""Stage 2, decide: one action per resource from the canonical field diff and the policy.

Input: a `Context` after targeting. Output: `ctx.decisions`, one `Decision` per resource on
either side (create, update, restart-update, replace, delete, open, close, start, stop,
no-op), in plan order, plus warnings. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.diff import diff_bodies, dotted
from reconciler.model import Action, FieldChange, Kind, Ref, Resource
from reconciler.normalize import SET_LISTS, canonical, copy_body, without_unset_computed
from reconciler.plan.context import Context, Decision
from reconciler.plan.rules import (
    DELETES,
    LEFT_AS_IS,
    RUN_STATES,
    UPDATES,
    datafeed_job,
    prunable,
    run_state,
    state_action,
)
from reconciler.policy import JOB_NEXT_OPEN, FieldClass, classify

#: Job fields `_update` can set but never unset (es-ml-api.md §1.6): leaving one out of a
#: manifest keeps the live value, which the plan says in a warning.
UNSETTABLE_JOB_FIELDS = (
    "background_persist_interval",
    "renormalization_window_days",
    "results_retention_days",
    "system_annotations_retention_days",
)


@dataclass(frozen=True)
class KindDecide:
    """What deciding one kind involves beyond the common diff (each hook may be absent)."""

    #: Fields `_update` cannot unset: leaving one out keeps the live value (warned).
    unsettable: tuple[str, ...] = ()
    #: An adopted resource without mlsync's marker gets it by an update (jobs'
    #: `custom_settings`); DFA `_meta` cannot be updated and the other kinds have no place
    #: for one: their ownership is the registry entry alone.
    marks_in_place: bool = False
    #: Adjust the run state left to the live one (the manifest says nothing).
    keep_state: Callable[[Context, Resource, str | None], str | None] | None = None
    #: Is "stopped" on the cluster what "started" asked for (it ran and stopped itself)?
    stopped_is_done: Callable[[Decision], bool] | None = None
    #: Reasons and warnings for an update.
    on_update: Callable[[Context, Decision], None] | None = None
    #: Must it stay in its live run state whatever the manifest asks (e.g. its parent is
    #: left failed)?
    held: Callable[[Context, Resource], bool] | None = None


def _datafeed_keep_state(ctx: Context, desired: Resource, want: str | None) -> str | None:
    if want == "started" and not _job_runs(ctx, desired):
        # A datafeed runs only while its job is open: closing the job stops it
        # (es-ml-api.md §5.1), and restarting it would be a 409.
        return "stopped"
    return want


def _dfa_done(d: Decision) -> bool:
    # A DFA job runs to completion and stops itself (§5.3): that is "started" done.
    assert d.live is not None
    return bool(d.live.facts.get("completed"))


def _lookback_done(d: Decision) -> bool:
    # A look-back datafeed (with `end`) stops itself when it reaches `end`; once it has
    # run (it searched), it is not restarted on every apply (anchors.md §5 item 16).
    assert d.live is not None
    ran = int(d.live.facts.get("search_count") or 0) > 0
    return bool(d.desired and d.desired.facts.get("end")) and ran


def _job_left_failed(ctx: Context, feed: Resource) -> bool:
    # Its job stays failed: a datafeed cannot start on it (409 "cannot start datafeed [x]
    # because job [y] is failed"). That is so without --recover-failed, and also with it when
    # the job's manifest declares no `state:` (recovery reopens only a declared state). The job
    # is decided first (parents first), so its final action and run state are known here.
    job = ctx.decisions.get(Ref.of(Kind.JOB, datafeed_job(feed) or ""))
    # Without --recover-failed, `_failed` has already cleared the job's run state.
    return (
        job is not None
        and job.live_state == "failed"
        and job.action in LEFT_AS_IS
        and job.want_state is None
    )


def _job_update(ctx: Context, d: Decision) -> None:
    if any(f.path.split(".")[0] in JOB_NEXT_OPEN for f in d.fields):
        d.reasons.append(
            "background_persist_interval, renormalization_window_days and "
            "allow_lazy_open take effect when the job next opens"
        )
    _check_memory_decrease(ctx, d)


#: Per kind: the decide stage's rules (every kind has an entry, even an empty one).
DECIDE: dict[Kind, KindDecide] = {
    Kind.FILTER: KindDecide(),
    Kind.CALENDAR: KindDecide(),
    Kind.JOB: KindDecide(
        unsettable=UNSETTABLE_JOB_FIELDS, marks_in_place=True, on_update=_job_update
    ),
    Kind.DATAFEED: KindDecide(
        keep_state=_datafeed_keep_state, stopped_is_done=_lookback_done, held=_job_left_failed
    ),
    Kind.DFA: KindDecide(stopped_is_done=_dfa_done),
}


def decide_all(ctx: Context) -> None:
    """Decide every resource, parents first (a datafeed's decision reads its job's)."""
    desired, live, decisions = ctx.desired, ctx.live, ctx.decisions
    for ref in ctx.order:
        decisions[ref] = decide(ctx, ref, desired.get(ref), live.get(ref))


def decide(ctx: Context, ref: Ref, desired: Resource | None, live: Resource | None) -> Decision:
    """The decision for one resource, given its desired and live sides."""
    d = Decision(ref=ref, desired=desired, live=live)
    d.live_state = run_state(ref.kind, live.state) if live else None
    if desired is None:
        assert live is not None
        if ctx.options.prune and prunable(live, ctx.live, ctx.ownership):
            d.action = Action.DELETE
            d.reasons.append(
                f"not in the manifests (--prune) and a member of scope '{ctx.options.scope}'"
            )
        return d
    rules = DECIDE[ref.kind]
    d.want_state = desired.state
    held = rules.held is not None and rules.held(ctx, desired)
    if held:
        d.want_state = d.live_state
    d.desired_canon = canonical(ref.kind, desired.body, ctx.defaults)
    if live is None:
        d.action = Action.CREATE
        # Claimed before it is created (a member left by an interrupted apply stays one).
        d.adopt = not ctx.ownership.registered(ref)
        return d
    if d.want_state is None:
        d.want_state = d.live_state if d.live_state != "failed" else None
        if rules.keep_state is not None:
            d.want_state = rules.keep_state(ctx, desired, d.want_state)
    # Read-only (it may be the read's own value): nothing below changes it, so it keeps the
    # unset computed fields `d.live_canon` drops (the unsettable ones are among them).
    live_canon = ctx.live_canonical(live)
    d.live_canon = without_unset_computed(ref.kind, d.desired_canon, live_canon)
    if d.live_canon != d.desired_canon:
        # The field changes hold parts of it: the plan's own copy, not the read's value.
        d.live_canon = copy_body(d.live_canon)
        _diff_fields(d)
    _decide_adoption(ctx, d, live)
    d.state_ok = _state_satisfied(d)
    _decide_action(ctx, d)
    if held and d.running_now and d.action in (Action.RESTART_UPDATE, Action.REPLACE):
        _wait_for_failed_job(ctx, d)
    if d.action in UPDATES:
        # Said only when the job is updated: the update keeps the value the manifest left
        # out. Repeated on every plan of an unchanged job, it would be noise in every PR.
        for name in rules.unsettable:
            if name in live_canon and name not in d.desired_canon:
                ctx.warnings.append(
                    f"{ref}: {name} is {live_canon[name]!r} on the cluster and the manifest "
                    "leaves it out; the job update API cannot unset it, so it stays (set it "
                    "in the manifest to change it)"
                )
    if d.live_state == "failed":
        _failed(ctx, d)
    return d


def _diff_fields(d: Decision) -> None:
    """The field changes from the live canonical body to the desired one, classified."""
    atomic = SET_LISTS[d.ref.kind]
    for path, before, after in diff_bodies(d.live_canon, d.desired_canon, atomic):
        klass = classify(d.ref.kind, path, removed=after is None)
        d.fields.append(
            FieldChange(
                path=dotted(path),
                before=before,
                after=after,
                forces_replacement=klass is FieldClass.REPLACE,
                needs_restart=klass is FieldClass.RESTART,
            )
        )


def _wait_for_failed_job(ctx: Context, d: Decision) -> None:
    """A running resource whose parent stays failed, with changes that need a stop and a start.

    Elasticsearch refuses to start a datafeed on a failed job (409), so stopping it to apply the
    change would leave it stopped: the change waits, like the failed job's own changes.
    """
    ctx.warnings.append(
        f"{d.ref}: its job has failed and stays failed, so its {len(d.fields)} field change(s) "
        "wait (they need a stop and a start, and a datafeed cannot start on a failed job); "
        "recover the job with --recover-failed and a declared `state:`"
    )
    _leave_as_is(d)


def _leave_as_is(d: Decision) -> None:
    """Nothing is done to it; a newcomer is still adopted (joining the scope touches nothing)."""
    d.action = Action.ADOPT if d.adopt else Action.NOOP
    d.fields.clear()
    d.reasons[:] = [r for r in d.reasons if d.adopt and r.startswith("made outside mlsync")]


def failure_reason(live: Resource) -> str:
    """Why a failed job or DFA failed, as its stats say, in parentheses."""
    reason = live.facts.get("failure")
    if isinstance(reason, str) and reason.strip():
        return f"({reason.strip()})"
    return "(its stats give no reason)"


def _failed(ctx: Context, d: Decision) -> None:
    """A failed job or DFA: recovered only when asked (--recover-failed), else left alone."""
    assert d.live is not None
    why = failure_reason(d.live)
    verb = f"force-{_down(d.ref)}"
    if d.action in DELETES:
        d.reasons.append(f"it has failed {why}: it is {verb} first")
        return
    if ctx.options.recover_failed and d.action in LEFT_AS_IS:
        ctx.warnings.append(
            f"{d.ref} has failed {why}; its manifest sets no `state:`, so --recover-failed "
            "leaves it failed (declare the state it should run in)"
        )
        return
    if ctx.options.recover_failed:
        again = {"opened": "opened again", "started": "started again"}.get(d.want_state or "")
        then = f", then {again}" if again else ""
        d.reasons.append(f"it has failed {why}: it is {verb} first{then} (--recover-failed)")
        return
    pending = len(d.fields)
    waiting = f"; its {pending} field change(s) wait as well" if pending else ""
    ctx.warnings.append(
        f"{d.ref} has failed {why}; apply leaves it failed{waiting}. Find and fix the cause, "
        f"then recover it with --recover-failed (it is {verb} and "
        f"{_up(d.ref)} again)"
    )
    _leave_as_is(d)
    d.want_state, d.state_ok = None, True


def _decide_adoption(ctx: Context, d: Decision, live: Resource) -> None:
    """A declared resource this scope does not own yet joins it (other scopes' were refused)."""
    scope = ctx.options.scope
    if ctx.ownership.is_member(live):
        # Registered, or marked by mlsync before scopes: the default scope's already.
        return
    d.adopt = True
    d.mark = DECIDE[d.ref.kind].marks_in_place and not live.owned
    where = " (custom_settings.managed_by: mlsync is added)" if d.mark else ""
    d.reasons.append(f"made outside mlsync: adopted into scope '{scope}'{where}")


def _decide_action(ctx: Context, d: Decision) -> None:
    ref, live = d.ref, d.live
    assert live is not None
    if not d.fields:  # the common case: no field changes
        if not d.state_ok:
            d.action = state_action(ref.kind, d.want_state)
        elif d.adopt:
            d.action = Action.ADOPT
        return
    replace = [f.path for f in d.fields if f.forces_replacement]
    restart = [f.path for f in d.fields if f.needs_restart]
    if replace:
        d.action = Action.REPLACE
        d.reasons.append(f"{', '.join(replace)} cannot be updated in place")
        return
    if restart and d.running_now:
        d.action = Action.RESTART_UPDATE
        d.reasons.append(f"{', '.join(restart)} can only change while it is {_down(ref)}")
    else:
        d.action = Action.UPDATE
    on_update = DECIDE[ref.kind].on_update
    if on_update is not None:
        on_update(ctx, d)


def _job_runs(ctx: Context, feed: Resource) -> bool:
    """Will the datafeed's job be open once the plan is applied?"""
    job = ctx.decisions.get(Ref.of(Kind.JOB, datafeed_job(feed) or ""))
    if job is None or job.want_state == "opened":
        return True
    # A failed job that is force-closed (to be changed or replaced) with no declared state
    # stays closed after the plan.
    return job.want_state is None and not job.force_closed


def _up(ref: Ref) -> str:
    """The state a resource runs in: opened (jobs) or started."""
    states = RUN_STATES[ref.kind]
    return states.up if states else "started"


def _down(ref: Ref) -> str:
    """How a person says this resource is down: closed (jobs) or stopped."""
    states = RUN_STATES[ref.kind]
    return states.verb if states else "stopped"


def _check_memory_decrease(ctx: Context, d: Decision) -> None:
    if d.live is None:
        return
    model_bytes = d.live.facts.get("model_bytes")
    limit = d.desired_canon.get("analysis_limits", {}).get("model_memory_limit", "")
    if isinstance(model_bytes, int) and isinstance(limit, str) and limit.endswith("mb"):
        usage_mb = -(-model_bytes // (1024 * 1024))
        if int(limit[:-2]) < usage_mb:
            ctx.warnings.append(
                f"{d.ref}: model_memory_limit {limit} is below the job's current model size "
                f"({usage_mb}mb); Elasticsearch will reject the update"
            )


def _state_satisfied(d: Decision) -> bool:
    want, now = d.want_state, d.live_state
    if want is None or want == now:
        return True
    assert d.live is not None
    done = DECIDE[d.ref.kind].stopped_is_done
    if done is not None and want == "started" and now == "stopped":
        return done(d)
    return False
