"""The people's half of the plan: one `Change` per managed resource, and the unmanaged ones.

Input: a `Context` with final decisions. Output: `Change` values in plan order (what, why, the
risk and what a delete destroys) and the refs left alone because no manifest declares them.
Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler import ownership
from reconciler.model import Action, Change, FieldChange, Kind, Ref, Risk, Step
from reconciler.plan.context import Context, Decision

RISK: dict[Action, Risk] = {
    Action.NOOP: Risk.NONE,
    Action.CREATE: Risk.SAFE,
    Action.UPDATE: Risk.SAFE,
    Action.OPEN: Risk.SAFE,
    Action.START: Risk.SAFE,
    Action.RESTART_UPDATE: Risk.RESTART,
    Action.CLOSE: Risk.RESTART,
    Action.STOP: Risk.RESTART,
    Action.REPLACE: Risk.DESTRUCTIVE,
    Action.DELETE: Risk.DESTRUCTIVE,
    Action.ADOPT: Risk.SAFE,
}


#: The run state a step leaves its resource in, and the state a new resource starts in.
_STEP_STATE = {"open": "opened", "close": "closed", "start": "started", "stop": "stopped"}
_INITIAL_STATE = {Kind.JOB: "closed", Kind.DATAFEED: "stopped", Kind.DFA: "stopped"}


def states_after(steps: Sequence[Step]) -> dict[Ref, str]:
    """The run state the steps leave each resource in.

    Only resources with run-state steps or a create; the others stay as they are.
    """
    out: dict[Ref, str] = {}
    for step in steps:
        if step.op in _STEP_STATE:
            out[step.ref] = _STEP_STATE[step.op]
        elif step.op == "create" and step.ref.kind in _INITIAL_STATE:
            out[step.ref] = _INITIAL_STATE[step.ref.kind]
    return out


def changes(ctx: Context, steps: Sequence[Step]) -> tuple[Change, ...]:
    """A `Change` per resource the manifests manage, in plan order.

    The run state shown after the change is the one the steps produce (one decision: no
    `stopped -> started` without a start step, e.g. for a DFA or look-back datafeed that
    already ran to completion).
    """
    after = states_after(steps)
    out = []
    for ref in sorted(ctx.decisions, key=lambda r: r.sort_key):
        d = ctx.decisions[ref]
        if d.desired is None and d.action is Action.NOOP:
            continue  # unmanaged: listed separately
        out.append(_change(d, after.get(ref, d.live_state)))
    return tuple(out)


def _change(d: Decision, state_after: str | None) -> Change:
    action = d.action
    destroys = None
    if action in (Action.REPLACE, Action.DELETE):
        destroys = _destroyed(d)
    fields = list(d.fields)
    if d.mark:
        fields.append(
            FieldChange(
                path=f"custom_settings.{ownership.MARKER_KEY}",
                before=None,
                after=ownership.MARKER_VALUE,
            )
        )
    if action is Action.DELETE:
        state_after = None
    return Change(
        ref=d.ref,
        action=action,
        risk=RISK[action],
        fields=tuple(sorted(fields, key=lambda f: f.path)),
        state_before=d.live_state,
        state_after=state_after if d.ref.kind in (Kind.JOB, Kind.DATAFEED, Kind.DFA) else None,
        reasons=tuple(d.reasons),
        destroys=destroys,
        state_only=action in (Action.OPEN, Action.CLOSE, Action.START, Action.STOP),
        source=d.desired.source if d.desired else None,
    )


def unmanaged(ctx: Context) -> tuple[Ref, ...]:
    """Live resources no manifest declares, no other scope owns, and the plan leaves alone."""
    return tuple(
        sorted(
            (
                r
                for r, d in ctx.decisions.items()
                if d.desired is None and d.action is Action.NOOP and not ctx.ownership.foreign(r)
            ),
            key=lambda r: r.sort_key,
        )
    )


def other_scopes(ctx: Context) -> dict[str, str]:
    """Live resources in the plan that another scope owns: address -> that scope."""
    return {
        str(ref): owner
        for ref in sorted(ctx.decisions, key=lambda r: r.sort_key)
        if (owner := ctx.ownership.foreign(ref)) is not None
    }


def _destroyed(d: Decision) -> str | None:
    """What deleting `d.ref` loses for good, for the loud warning in plans."""
    ref = d.ref
    if d.dest_to_empty:
        return (
            f"data frame analytics {ref.id}: its configuration, state and progress are "
            f"deleted, and so is its destination index {d.dest_to_empty} with every document "
            "in it (a new job must start on an empty one); the new job writes its results again"
        )
    if ref.kind is Kind.JOB:
        return (
            f"job {ref.id}: its model state, model snapshots and all results are deleted; "
            "a recreated job relearns from scratch"
        )
    if ref.kind is Kind.DFA:
        return (
            f"data frame analytics {ref.id}: its configuration, state and progress are deleted "
            "(the destination index is kept)"
        )
    # Datafeeds, filters and calendars are configuration only: deleting one loses no ML data
    # (a replaced calendar gets its events back from the manifest).
    return None
