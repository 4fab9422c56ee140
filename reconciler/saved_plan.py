"""Checking a saved plan: apply executes only calls it could have planned itself.

Input: a plan read from a file, the desired resources and references recorded beside it, and
the live state read just now. Output: the plan computed again from those inputs (the one
apply executes), or a `PlanError` saying why the file is refused. Pure, no I/O.

A plan file is data anyone with write access to a CI artifact can edit. Nothing in it is
trusted as an instruction: the steps (method, path, parameters, body, destructiveness, order)
and the changes (what --allow-destroy is checked against) are derived again with the planner
from the file's resources and the live cluster, and the file is refused unless it holds
exactly those. A plan whose cluster changed since it was made is refused as stale.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler import registry
from reconciler.errors import MlsyncError, PlanError, StalePlanError
from reconciler.model import LiveState, Plan, Ref, Resource, Step
from reconciler.plan import PlanOptions, ReferenceLike, make_plan, stale_resources
from reconciler.snapshots import with_bodies

__all__ = ["rederive"]


def rederive(
    plan: Plan,
    desired: Sequence[Resource],
    references: Sequence[ReferenceLike],
    live: LiveState,
    *,
    source: str,
    recover_failed: bool = False,
    allow_prune_all: bool = False,
) -> Plan:
    """The plan computed again from the file's inputs; refused unless the file holds exactly it.

    The options are the plan's own (scope, prune, targets) and the ones recorded beside the
    inputs (`recover_failed`, `allow_prune_all`), so the claim and removal steps of the
    scope's registry are derived again like every other step.

    Raises:
        StalePlanError: the plan was made against another cluster, or its resources changed.
        PlanError: the file's steps or changes differ from the ones derived again.
    """
    if plan.cluster.uuid and live.cluster.uuid and plan.cluster.uuid != live.cluster.uuid:
        raise StalePlanError(
            f"the plan was made against cluster {plan.cluster.name or '?'} ({plan.cluster.uuid}),"
            f" but this is {live.cluster.name} ({live.cluster.uuid})"
        )
    changed = stale_resources(plan, live)
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        what = ", ".join(changed[:5]) + more
        raise StalePlanError(
            f"plan is stale: {what} changed since the plan was made; run mlsync plan again"
        )
    try:
        targets = tuple(Ref.parse(t) for t in plan.targets)
    except ValueError as exc:
        raise _refused(source, f"its targets are not valid ({exc})") from None
    try:
        registry.check_scope(plan.scope)  # it names registry documents and the lock
    except MlsyncError as exc:
        raise _refused(source, f"its scope is not valid ({exc})") from None
    again = make_plan(
        desired,
        live,
        references=references,
        options=PlanOptions(
            prune=plan.prune,
            targets=targets,
            environment=plan.environment,
            manifest_digest=plan.manifest_digest,
            recover_failed=recover_failed,
            scope=plan.scope,
            allow_prune_all=allow_prune_all,
        ),
    )
    again = with_bodies(again, desired, live.resources)
    problem = _first_difference(plan.steps, again.steps)
    if problem is None and plan.changes != again.changes:
        problem = "its list of changes differs from the one the steps come from"
    if problem is None and plan.resource_fingerprints != again.resource_fingerprints:
        problem = "the resources it says it acts on differ from the ones its steps touch"
    if problem is not None:
        raise _refused(source, problem)
    return again


def _first_difference(saved: Sequence[Step], derived: Sequence[Step]) -> str | None:
    for position, (mine, theirs) in enumerate(zip(saved, derived, strict=False), start=1):
        if mine != theirs:
            fields = [
                name
                for name in Step.model_fields
                if getattr(mine, name) != getattr(theirs, name)
                and not (name == "call" and mine.call.method == theirs.call.method)
            ]
            if mine.call != theirs.call and mine.call.method == theirs.call.method:
                fields += [
                    f"call {name}"
                    for name in ("path", "params", "body")
                    if getattr(mine.call, name) != getattr(theirs.call, name)
                ]
            return (
                f"step {position} is {_describe(mine)}, but the plan computed again from the "
                f"file's resources and the cluster has {_describe(theirs)} there (differing: "
                f"{', '.join(fields)})"
            )
    if len(saved) > len(derived):
        extra = _describe(saved[len(derived)])
        return f"it has {len(saved) - len(derived)} step(s) more than planned, from {extra}"
    if len(saved) < len(derived):
        missing = _describe(derived[len(saved)])
        return f"it lacks {len(derived) - len(saved)} step(s), from {missing}"
    return None


def _describe(step: Step) -> str:
    destructive = ", destructive" if step.destructive else ""
    return f"'{step.op} {step.ref}: {step.call}'{destructive}"


def _refused(source: str, problem: str) -> PlanError:
    return PlanError(
        f"{source}: refusing the saved plan: {problem}. It does not match what mlsync plans "
        "from the resources the file records and the cluster's current state, so it was "
        "edited or damaged; nothing was changed. Make a new one with mlsync plan --out"
    )
