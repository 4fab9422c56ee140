"""What every rendering shares: symbols, headlines, the summary line and counters.

Input: a `Plan` / `Change`. Output: strings and counts. Pure, no I/O.
"""

from __future__ import annotations

from collections import Counter

from reconciler.model import Action, Change, Kind, Plan

SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.RESTART_UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.OPEN: ">",
    Action.START: ">",
    Action.CLOSE: "<",
    Action.STOP: "<",
    Action.ADOPT: "=",
    Action.NOOP: " ",
}


def headline(change: Change) -> str:
    """`will be created`, `must be replaced (deleted and recreated)`, ..."""
    restart_verb = (
        "closing and reopening the job"
        if change.ref.kind is Kind.JOB
        else "stopping and restarting it"
    )
    return {
        Action.CREATE: "will be created",
        Action.UPDATE: "will be updated in place",
        Action.RESTART_UPDATE: f"will be updated in place, {restart_verb}",
        Action.REPLACE: "must be replaced (deleted and recreated)",
        Action.DELETE: "will be deleted",
        Action.OPEN: "will be opened",
        Action.CLOSE: "will be closed",
        Action.START: "will be started",
        Action.STOP: "will be stopped",
        Action.ADOPT: "will be adopted (it matches its manifest; it joins the scope)",
        Action.NOOP: "is up to date",
    }[change.action]


def visible(plan: Plan) -> list[Change]:
    """The changes a reader sees (no-ops hidden)."""
    return [c for c in plan.changes if c.action is not Action.NOOP]


def no_changes(plan: Plan) -> str:
    """The line for a plan without changes; with warnings it does not claim all is well."""
    if plan.warnings:
        return "No changes to apply; read the warnings below."
    return "No changes. The cluster matches the manifests."


def summary_counts(plan: Plan) -> dict[str, int]:
    """Resources per action, every action listed (zeros included), in a stable order."""
    counts = Counter(c.action.value for c in plan.changes)
    return {a.value: counts[a.value] for a in Action}


def summary_line(plan: Plan) -> str:
    """The summary line, e.g. `Plan: 1 to create, 2 to update, 0 to replace, 0 to delete.`."""
    counts = Counter(c.action for c in plan.changes)
    updates = counts[Action.UPDATE] + counts[Action.RESTART_UPDATE]
    restarts = (
        f" ({counts[Action.RESTART_UPDATE]} with restart)" if counts[Action.RESTART_UPDATE] else ""
    )
    state = sum(counts[a] for a in (Action.OPEN, Action.CLOSE, Action.START, Action.STOP))
    line = (
        f"Plan: {counts[Action.CREATE]} to create, {updates} to update{restarts}, "
        f"{counts[Action.REPLACE]} to replace, {counts[Action.DELETE]} to delete"
    )
    if state:
        line += f"; {state} run-state change{'s' if state != 1 else ''}"
    if counts[Action.ADOPT]:
        line += f"; {counts[Action.ADOPT]} to adopt"
    return line + "."


def other_scopes_line(plan: Plan) -> str:
    """The resources of other scopes, each with its owner (never touched by this plan)."""
    listed = ", ".join(f"{ref} (scope {scope})" for ref, scope in sorted(plan.other_scopes.items()))
    return f"Owned by other scopes (never touched from scope {plan.scope}): {listed}"
