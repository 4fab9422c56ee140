"""Stage 2, decide: one action per resource from the canonical field diff and the policy.

Input: a `Context` after targeting. Output: `ctx.decisions`, one `Decision` per resource on
either side (create, update, restart-update, replace, delete, open, close, start, stop,
no-op), in plan order, plus warnings. Pure, no I/O.
"""

from __future__ import annotations

from reconciler.diff import diff_bodies, dotted
from reconciler.model import Action, FieldChange, Kind, Ref, Resource
from reconciler.normalize import SET_LISTS, canonical, drop_unset_computed
from reconciler.plan.context import Context, Decision
from reconciler.plan.rules import datafeed_job, prunable, run_state
from reconciler.policy import JOB_NEXT_OPEN, FieldClass, classify

#: Job fields `_update` can set but never unset (es-ml-api.md §1.6): leaving one out of a
#: manifest keeps the live value, which the plan says in a warning.
UNSETTABLE_JOB_FIELDS = (
    "background_persist_interval",
    "renormalization_window_days",
    "results_retention_days",
    "system_annotations_retention_days",
)


def decide_all(ctx: Context) -> None:
    """Decide every resource, parents first (a datafeed's decision reads its job's)."""
    for ref in sorted(ctx.desired.keys() | ctx.live.keys(), key=lambda r: r.sort_key):
        ctx.decisions[ref] = decide(ctx, ref, ctx.desired.get(ref), ctx.live.get(ref))


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
    d.want_state = desired.state
    if ref.kind is Kind.DATAFEED and _job_left_failed(ctx, desired):
        # Its job stays failed (no --recover-failed): a datafeed cannot start on it (409).
        d.want_state = d.live_state
    d.desired_canon = canonical(ref.kind, desired.body, ctx.defaults)
    if live is None:
        d.action = Action.CREATE
        # Claimed before it is created (a member left by an interrupted apply stays one).
        d.adopt = not ctx.ownership.registered(ref)
        return d
    if d.want_state is None:
        d.want_state = d.live_state if d.live_state != "failed" else None
        if ref.kind is Kind.DATAFEED and d.want_state == "started" and not _job_runs(ctx, desired):
            # A datafeed runs only while its job is open: closing the job stops it
            # (es-ml-api.md §5.1), and restarting it would be a 409.
            d.want_state = "stopped"
    live_canon = canonical(ref.kind, live.body, ctx.defaults)
    d.live_canon = drop_unset_computed(ref.kind, d.desired_canon, live_canon)
    atomic = SET_LISTS[ref.kind]
    for path, before, after in diff_bodies(d.live_canon, d.desired_canon, atomic):
        klass = classify(ref.kind, path, removed=after is None)
        d.fields.append(
            FieldChange(
                path=dotted(path),
                before=before,
                after=after,
                forces_replacement=klass is FieldClass.REPLACE,
                needs_restart=klass is FieldClass.RESTART,
            )
        )
    _decide_adoption(ctx, d, live)
    d.state_ok = _state_satisfied(d)
    _decide_action(ctx, d)
    if d.action in (Action.UPDATE, Action.RESTART_UPDATE):
        # Said only when the job is updated: the update keeps the value the manifest left
        # out. Repeated on every plan of an unchanged job, it would be noise in every PR.
        _warn_unsettable(ctx, d, live_canon)
    if d.live_state == "failed":
        _failed(ctx, d)
    return d


def _warn_unsettable(ctx: Context, d: Decision, live_canon: dict[str, object]) -> None:
    if d.ref.kind is not Kind.JOB:
        return
    for name in UNSETTABLE_JOB_FIELDS:
        if name in live_canon and name not in d.desired_canon:
            ctx.warnings.append(
                f"{d.ref}: {name} is {live_canon[name]!r} on the cluster and the manifest "
                "leaves it out; the job update API cannot unset it, so it stays (set it "
                "in the manifest to change it)"
            )


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
    verb = "force-closed" if d.ref.kind is Kind.JOB else "force-stopped"
    if d.action in (Action.DELETE, Action.REPLACE):
        d.reasons.append(f"it has failed {why}: it is {verb} first")
        return
    if ctx.options.recover_failed and d.action in (Action.NOOP, Action.ADOPT):
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
        f"{'opened' if d.ref.kind is Kind.JOB else 'started'} again)"
    )
    # Still adopted when it is a newcomer: joining the scope does not touch the failed job.
    d.action = Action.ADOPT if d.adopt else Action.NOOP
    d.want_state, d.state_ok = None, True
    d.fields.clear()
    d.reasons[:] = [r for r in d.reasons if d.adopt and r.startswith("made outside mlsync")]


def _job_left_failed(ctx: Context, feed: Resource) -> bool:
    job = ctx.decisions.get(Ref(kind=Kind.JOB, id=datafeed_job(feed) or ""))
    return (
        job is not None
        and job.live_state == "failed"
        and job.action in (Action.NOOP, Action.ADOPT)
        and not ctx.options.recover_failed
    )


def _decide_adoption(ctx: Context, d: Decision, live: Resource) -> None:
    """A declared resource this scope does not own yet joins it (other scopes' were refused)."""
    scope = ctx.options.scope
    if ctx.ownership.is_member(live):
        # Registered, or marked by mlsync before scopes: the default scope's already.
        return
    d.adopt = True
    d.mark = d.ref.kind is Kind.JOB and not live.owned
    where = " (custom_settings.managed_by: mlsync is added)" if d.mark else ""
    d.reasons.append(f"made outside mlsync: adopted into scope '{scope}'{where}")


def _decide_action(ctx: Context, d: Decision) -> None:
    ref, live = d.ref, d.live
    assert live is not None
    replace = [f.path for f in d.fields if f.forces_replacement]
    restart = [f.path for f in d.fields if f.needs_restart]
    if replace:
        d.action = Action.REPLACE
        d.reasons.append(f"{', '.join(replace)} cannot be updated in place")
        return
    if d.fields:
        if restart and d.running_now:
            d.action = Action.RESTART_UPDATE
            verb = "closed" if ref.kind is Kind.JOB else "stopped"
            d.reasons.append(f"{', '.join(restart)} can only change while it is {verb}")
        else:
            d.action = Action.UPDATE
        if ref.kind is Kind.JOB and any(f.path.split(".")[0] in JOB_NEXT_OPEN for f in d.fields):
            d.reasons.append(
                "background_persist_interval, renormalization_window_days and "
                "allow_lazy_open take effect when the job next opens"
            )
        _check_memory_decrease(ctx, d)
        return
    if not d.state_ok:
        d.action = _state_action(ref.kind, d.want_state)
    elif d.adopt:
        d.action = Action.ADOPT


def _job_runs(ctx: Context, feed: Resource) -> bool:
    """Will the datafeed's job be open once the plan is applied?"""
    job = ctx.decisions.get(Ref(kind=Kind.JOB, id=datafeed_job(feed) or ""))
    return job is None or job.want_state in (None, "opened")


def _check_memory_decrease(ctx: Context, d: Decision) -> None:
    if d.ref.kind is not Kind.JOB or d.live is None:
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
    live = d.live
    assert live is not None
    if d.ref.kind is Kind.DFA and want == "started" and now == "stopped":
        # A DFA job runs to completion and stops itself (§5.3): that is "started" done.
        return bool(live.facts.get("completed"))
    if d.ref.kind is Kind.DATAFEED and want == "started" and now == "stopped":
        # A look-back datafeed (with `end`) stops itself when it reaches `end`; once it has
        # run (it searched), it is not restarted on every apply (anchors.md §5 item 16).
        ran = int(live.facts.get("search_count") or 0) > 0
        return bool(d.desired and d.desired.facts.get("end")) and ran
    return False


def _state_action(kind: Kind, want: str | None) -> Action:
    if kind is Kind.JOB:
        return Action.OPEN if want == "opened" else Action.CLOSE
    return Action.START if want == "started" else Action.STOP
