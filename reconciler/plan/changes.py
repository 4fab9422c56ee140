"""The people's half of the plan: one `Change` per managed resource, and the unmanaged ones.

Input: a `Context` with final decisions. Output: `Change` values in plan order (what, why, the
risk and what a delete destroys) and the refs left alone because no manifest declares them.
Pure, no I/O.
"""

from __future__ import annotations

from reconciler import ownership
from reconciler.model import Action, Change, FieldChange, Kind, Ref, Risk
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


def changes(ctx: Context) -> tuple[Change, ...]:
    """A `Change` per resource the manifests manage, in plan order."""
    out = []
    for ref in sorted(ctx.decisions, key=lambda r: r.sort_key):
        d = ctx.decisions[ref]
        if d.desired is None and d.action is Action.NOOP:
            continue  # unmanaged: listed separately
        out.append(_change(d))
    return tuple(out)


def _change(d: Decision) -> Change:
    action = d.action
    destroys = None
    if action in (Action.REPLACE, Action.DELETE):
        destroys = _destroyed(d.ref)
    fields = list(d.fields)
    if d.mark:
        fields.append(
            FieldChange(
                path=f"custom_settings.{ownership.MARKER_KEY}",
                before=None,
                after=ownership.MARKER_VALUE,
            )
        )
    state_after = d.want_state
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


def _destroyed(ref: Ref) -> str | None:
    """What deleting `ref` loses for good, for the loud warning in plans."""
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
