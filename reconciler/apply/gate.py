"""The `--allow-destroy` gate: refuse a plan that deletes or replaces anything unless allowed.

Input: a `Plan` and whether the user passed `--allow-destroy`. Output: nothing, or a
`DestructiveChangeError` listing every destructive change. Pure, no I/O: the CLI calls it
before any request of the plan is sent (ARCHITECTURE.md, safety rules).
"""

from __future__ import annotations

from reconciler.errors import DestructiveChangeError
from reconciler.model import Plan, Ref


def destructive_lines(plan: Plan) -> list[str]:
    """One line per resource the plan deletes or replaces, with what is lost."""
    lines: list[str] = []
    seen: set[Ref] = set()
    for change in plan.destructive_changes:
        seen.add(change.ref)
        lost = f" ({change.destroys})" if change.destroys else ""
        lines.append(f"{change.action.value} {change.ref}{lost}")
    # Steps flagged destructive drive the gate even if no change explains them.
    for step in plan.steps:
        if step.destructive and step.ref not in seen:
            seen.add(step.ref)
            lines.append(f"{step.op} {step.ref}")
    return lines


def check_destructive(plan: Plan, *, allow_destroy: bool) -> None:
    """Raise `DestructiveChangeError` when the plan destroys anything and it is not allowed."""
    if allow_destroy:
        return
    lines = destructive_lines(plan)
    if not lines:
        return
    listing = "\n".join(f"  - {line}" for line in lines)
    count = len(lines)
    raise DestructiveChangeError(
        f"the plan deletes or replaces {count} resource{'s' if count != 1 else ''}; "
        f"nothing was changed. Re-run with --allow-destroy to allow it:\n{listing}"
    )
