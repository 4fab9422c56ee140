"""The people's half of the plan: one `Change` per managed resource, and the unmanaged ones.

Input: a `Context` with final decisions. Output: `Change` values in plan order (what, why, the
risk and what a delete destroys) and the refs left alone because no manifest declares them.
Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter

from reconciler import ownership
from reconciler.model import Action, Change, FieldChange, Kind, Ref, Risk, Step
from reconciler.plan.context import Context, Decision
from reconciler.plan.order import STEPS
from reconciler.plan.rules import DELETES, RUN_STATES, STATE_ONLY

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


def states_after(steps: Sequence[Step]) -> dict[Ref, str]:
    """The run state the steps leave each resource in.

    Only resources of kinds that run (`RUN_STATES`) with run-state steps (named in
    `order.STEPS`; a force-stop is a stop) or a create (a new one starts down); the others
    stay as they are.
    """
    out: dict[Ref, str] = {}
    for step in steps:
        states = RUN_STATES[step.ref.kind]
        if states is None:
            continue
        kind_steps = STEPS[step.ref.kind]
        if step.op == kind_steps.start_op:
            out[step.ref] = states.up
        elif step.op in (kind_steps.stop_op, "create"):
            out[step.ref] = states.down
    return out


def changes(ctx: Context, steps: Sequence[Step]) -> tuple[Change, ...]:
    """A `Change` per resource the manifests manage, in plan order.

    The run state shown after the change is the one the steps produce (one decision: no
    `stopped -> started` without a start step, e.g. for a DFA or look-back datafeed that
    already ran to completion).
    """
    after = states_after(steps)
    out = []
    for ref, d in ctx.decisions.items():  # in plan order (`Context.decisions`)
        if d.desired is None and d.action is Action.NOOP:
            continue  # unmanaged: listed separately
        out.append(_change(d, after.get(ref, d.live_state)))
    return tuple(out)


def _change(d: Decision, state_after: str | None) -> Change:
    action = d.action
    destroys = None
    destroyed = DESTROYS[d.ref.kind]
    if action in DELETES and destroyed is not None:
        destroys = destroyed(d)
    fields = d.fields
    if d.mark:
        marker = FieldChange(
            path=f"custom_settings.{ownership.MARKER_KEY}",
            before=None,
            after=ownership.MARKER_VALUE,
        )
        fields = [*fields, marker]
    if action is Action.DELETE:
        state_after = None
    return Change(
        ref=d.ref,
        action=action,
        risk=RISK[action],
        fields=tuple(sorted(fields, key=attrgetter("path"))),
        state_before=d.live_state,
        state_after=state_after if RUN_STATES[d.ref.kind] else None,
        reasons=tuple(d.reasons),
        destroys=destroys,
        state_only=action in STATE_ONLY,
        source=d.desired.source if d.desired else None,
    )


def unmanaged(ctx: Context) -> tuple[Ref, ...]:
    """Live resources no manifest declares, no other scope owns, and the plan leaves alone."""
    return tuple(
        r  # in plan order (`Context.decisions`)
        for r, d in ctx.decisions.items()
        if d.desired is None and d.action is Action.NOOP and not ctx.ownership.foreign(r)
    )


def other_scopes(ctx: Context) -> dict[str, str]:
    """Live resources in the plan that another scope owns: address -> that scope."""
    return {
        str(ref): owner
        for ref in ctx.decisions  # in plan order (`Context.decisions`)
        if (owner := ctx.ownership.foreign(ref)) is not None
    }


def _dfa_destroys(d: Decision) -> str:
    if d.dest_to_empty:
        # A replace that deletes the destination index first (order.STEPS: DFA delete_first).
        return (
            f"data frame analytics {d.ref.id}: its configuration, state and progress are "
            f"deleted, and so is its destination index {d.dest_to_empty} with every document "
            "in it (a new job must start on an empty one); the new job writes its results again"
        )
    return (
        f"data frame analytics {d.ref.id}: its configuration, state and progress are deleted "
        "(the destination index is kept)"
    )


#: Per kind: what deleting one loses for good (for the loud warning in plans), or None.
#: Datafeeds, filters and calendars are configuration only: deleting one loses no ML data
#: (a replaced calendar gets its events back from the manifest).
DESTROYS: dict[Kind, Callable[[Decision], str] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: lambda d: (
        f"job {d.ref.id}: its model state, model snapshots and all results are deleted; "
        "a recreated job relearns from scratch"
    ),
    Kind.DATAFEED: None,
    Kind.DFA: _dfa_destroys,
}
