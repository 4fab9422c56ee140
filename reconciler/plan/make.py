"""The planner's entry point: run the stages in order and assemble the `Plan` value.

Input: desired `Resource`s, their unresolved references, a `LiveState` and `PlanOptions`.
Output: a `Plan`. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler import __version__
from reconciler.errors import PlanError
from reconciler.model import Action, LiveState, Plan, Resource
from reconciler.plan.cascade import cascade
from reconciler.plan.changes import changes, other_scopes, unmanaged
from reconciler.plan.checks import check, check_decisions
from reconciler.plan.context import Context
from reconciler.plan.decide import decide_all
from reconciler.plan.fingerprint import ABSENT
from reconciler.plan.inputs import PlanOptions, ReferenceLike
from reconciler.plan.order import build_steps
from reconciler.plan.targets import apply_targets
from reconciler.scopes import prune_refusal


def _refuse_pruning_everything(ctx: Context, desired_count: int) -> None:
    """A prune from an empty manifest set, or of every member, needs --allow-prune-all."""
    if not ctx.options.prune or ctx.options.allow_prune_all:
        return
    deleted = [ref for ref, d in ctx.decisions.items() if d.action is Action.DELETE]
    members = [r for r, res in ctx.live_state.resources.items() if ctx.ownership.is_member(res)]
    refusal = prune_refusal(ctx.options.scope, desired_count, deleted, members)
    if refusal:
        raise PlanError(refusal)


def make_plan(
    desired: Sequence[Resource],
    live: LiveState,
    *,
    references: Sequence[ReferenceLike] = (),
    options: PlanOptions | None = None,
) -> Plan:
    """Compare desired resources with the live state and return an ordered plan.

    Raises:
        PlanError: a reference to nothing, an Elastic-managed resource in the manifests, or
            contradictory run states.
    """
    options = options or PlanOptions()
    ctx = Context(desired, references, live, options)
    check(ctx)
    apply_targets(ctx)
    decide_all(ctx)
    cascade(ctx)
    check_decisions(ctx)
    _refuse_pruning_everything(ctx, len(desired))
    if not options.targets:
        ctx.stale_members = ctx.ownership.stale_members(ctx.live.keys(), ctx.desired.keys())
        ctx.warnings += [
            f"{ref} is a member of scope '{options.scope}' but no longer exists on the "
            "cluster: it is removed from the scope's member set"
            for ref in ctx.stale_members
        ]
    steps = build_steps(ctx)
    touched = {step.ref for step in steps}
    return Plan(
        resource_fingerprints={
            str(ref): live.fingerprints.get(ref, ABSENT)
            for ref in sorted(touched, key=lambda r: r.sort_key)
        },
        mlsync_version=__version__,
        environment=options.environment,
        scope=options.scope,
        cluster=live.cluster,
        manifest_digest=options.manifest_digest,
        live_fingerprint=live.fingerprint,
        changes=changes(ctx, steps),
        steps=steps,
        unmanaged=unmanaged(ctx),
        other_scopes=other_scopes(ctx),
        warnings=tuple(ctx.warnings),
        prune=options.prune,
        targets=tuple(str(t) for t in options.targets),
        request_count=live.request_count,
    )
