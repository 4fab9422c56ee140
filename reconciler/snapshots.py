"""Whole before/after bodies for each change of a plan (Terraform's `change.before/after`).

Input: a `Plan`, the desired resources and the live state it was computed from. Output: the
same plan with `Change.before` / `Change.after` filled in. Pure, no I/O.

`before` is the live body as Elasticsearch returned it; `after` is the manifest's body as the
user wrote it plus what mlsync adds: the ownership marker, where the plan writes it (every job
create and update re-sends it; a data frame analytics job gets it only when created, since its
`_meta` cannot be updated). Apply never reads either: it executes the plan's steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler import ownership
from reconciler.model import Action, Change, Kind, Plan, Ref, Resource


def _after(
    change: Change, desired: Resource | None, live: Resource | None
) -> dict[str, Any] | None:
    if desired is None or change.action is Action.DELETE:
        return None
    marked = change.ref.kind is Kind.JOB or (
        change.ref.kind is Kind.DFA
        and (change.action in (Action.CREATE, Action.REPLACE) or (live is not None and live.owned))
    )
    return ownership.with_marker(change.ref.kind, desired.body) if marked else dict(desired.body)


def with_bodies(plan: Plan, desired: Iterable[Resource], live: Mapping[Ref, Resource]) -> Plan:
    """Return `plan` with every change's whole before and after bodies."""
    wanted = {r.ref: r for r in desired}
    changes = tuple(
        c.model_copy(
            update={
                "before": dict(live[c.ref].body) if c.ref in live else None,
                "after": _after(c, wanted.get(c.ref), live.get(c.ref)),
            }
        )
        for c in plan.changes
    )
    return plan.model_copy(update={"changes": changes})
