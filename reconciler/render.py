"""Render a `Plan` for people (text, markdown) and machines (JSON).

Input: a `Plan`. Output: strings. Pure, no I/O, deterministic (no timestamps, stable order),
so renderings are golden-testable.

Text follows Terraform's conventions (ux-conventions.md §2.1): `+` create, `~` update in place,
`-/+` replace, `-` delete, `>` open/start, `<` close/stop; `# forces replacement` next to the
fields that force it; loud data-loss warnings; a summary line. Markdown is for pull-request
comments: a hidden marker so CI updates one comment, a summary table with risk classes, one
collapsible section per resource, kept under GitHub's 65,536-character comment limit. JSON is
versioned (`format_version`) and shaped after `terraform show -json` (`resource_changes[]` with
`actions`, a replace being `["delete", "create"]`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from reconciler.model import Action, Change, Kind, Plan, Risk

FORMAT_VERSION = "1"
#: GitHub's limit for one issue/PR comment body.
GITHUB_COMMENT_LIMIT = 65_536

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


def _headline(change: Change) -> str:
    kind = change.ref.kind
    restart_verb = (
        "closing and reopening the job" if kind is Kind.JOB else "stopping and restarting it"
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


def _value(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def summary_counts(plan: Plan) -> dict[str, int]:
    """Counts of changes per action (no-ops excluded), in a stable order."""
    counts = Counter(c.action.value for c in plan.changes if c.action is not Action.NOOP)
    return {a.value: counts[a.value] for a in Action if a is not Action.NOOP and counts[a.value]}


def other_scopes_line(plan: Plan) -> str:
    """The resources of other scopes, each with its owner (never touched by this plan)."""
    listed = ", ".join(f"{ref} (scope {scope})" for ref, scope in sorted(plan.other_scopes.items()))
    return f"Owned by other scopes (never touched from scope {plan.scope}): {listed}"


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


def _state_line(change: Change) -> str | None:
    if change.state_before == change.state_after or change.state_after is None:
        return None
    before = change.state_before or "(new)"
    return f"state: {before} -> {change.state_after}"


def _field_lines(change: Change) -> list[str]:
    lines = []
    for f in change.fields:
        note = ""
        if f.forces_replacement:
            note = "  # forces replacement"
        elif f.needs_restart and change.action is Action.RESTART_UPDATE:
            note = (
                "  # requires job close/reopen"
                if change.ref.kind is Kind.JOB
                else ("  # requires stop/restart")
            )
        if f.before is None:
            lines.append(f"+ {f.path}: {_value(f.after)}{note}")
        elif f.after is None:
            lines.append(f"- {f.path}: {_value(f.before)}{note}")
        else:
            lines.append(f"~ {f.path}: {_value(f.before)} -> {_value(f.after)}{note}")
    return lines


def _visible(plan: Plan) -> list[Change]:
    return [c for c in plan.changes if c.action is not Action.NOOP]


def render_text(plan: Plan) -> str:
    """Terraform-style text for terminals and CI logs."""
    out: list[str] = []
    where = plan.cluster.name or "cluster"
    banner = f"mlsync plan for {where}"
    if plan.cluster.version:
        banner += f" (es {plan.cluster.version})"
    if plan.environment:
        banner += f", environment {plan.environment}"
    out.append(banner)
    out.append("")
    config = [c for c in _visible(plan) if not c.state_only]
    drift = [c for c in _visible(plan) if c.state_only]
    if not config and not drift:
        out.append("No changes. The cluster matches the manifests.")
    for change in config:
        source = f"  ({change.source})" if change.source else ""
        out.append(f"  {SYMBOL[change.action]} {change.ref} {_headline(change)}{source}")
        for line in _field_lines(change):
            out.append(f"      {line}")
        state = _state_line(change)
        if state:
            out.append(f"      {state}")
        for reason in change.reasons:
            out.append(f"      # {reason}")
        if change.destroys:
            out.append(f"      !! DATA LOSS: {change.destroys}")
        out.append("")
    if drift:
        out.append("Run state (drift from the desired state):")
        for change in drift:
            out.append(
                f"  {SYMBOL[change.action]} {change.ref} {_headline(change)} "
                f"({change.state_before} -> {change.state_after})"
            )
            for reason in change.reasons:
                out.append(f"      # {reason}")
        out.append("")
    destructive = plan.destructive_changes
    if destructive:
        out.append(
            f"!! {len(destructive)} change(s) delete or replace resources; "
            "apply needs --allow-destroy."
        )
    if plan.unmanaged:
        out.append(
            "Not managed by these manifests (left alone): "
            + ", ".join(str(r) for r in plan.unmanaged)
        )
    if plan.other_scopes:
        out.append(other_scopes_line(plan))
    for warning in plan.warnings:
        out.append(f"Warning: {warning}")
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


RISK_LABEL = {
    Risk.SAFE: "safe",
    Risk.RESTART: "restart",
    Risk.DESTRUCTIVE: "**destructive**",
    Risk.NONE: "none",
}


def _marker(plan: Plan) -> str:
    return f"<!-- mlsync:plan env={plan.environment or 'default'} -->"


def _md_section(c: Change) -> str:
    body = _field_lines(c)
    state = _state_line(c)
    if state:
        body.append(state)
    body += [f"# {r}" for r in c.reasons]
    if c.destroys:
        body.append(f"!! DATA LOSS: {c.destroys}")
    return (
        f"<details><summary>{SYMBOL[c.action]} <code>{c.ref}</code> {_headline(c)}"
        "</summary>\n\n"
        "```diff\n" + "\n".join(body or ["(no field changes)"]) + "\n```\n</details>"
    )


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Markdown for a pull-request comment, at most `limit` characters.

    The summary line, the destructive-change warning and the footer always fit; table rows and
    then per-resource sections are added while they fit, riskiest first, and what was left out
    is said (Atlantis and tfcmt hit the same 65,536-character limit, ux-conventions.md §2.6).
    """
    title = f"### mlsync plan — {plan.environment}" if plan.environment else "### mlsync plan"
    head: list[str] = [_marker(plan), title, "", f"**{summary_line(plan)}**", ""]
    changes = sorted(
        _visible(plan),
        key=lambda c: (list(Risk).index(c.risk) * -1, c.ref.sort_key),
    )
    if plan.destructive_changes:
        head.append(
            "> [!CAUTION]\n> This plan **deletes or replaces** "
            f"{len(plan.destructive_changes)} resource(s); applying needs `--allow-destroy`. "
            "Replacing or deleting a job destroys its model state and results."
        )
        head.append("")
    if not changes:
        head.append("No changes. The cluster matches the manifests.")
    tail: list[str] = []
    if plan.unmanaged:
        tail.append(
            "Not managed by these manifests: " + ", ".join(f"`{r}`" for r in plan.unmanaged)
        )
    if plan.other_scopes:
        tail.append(other_scopes_line(plan))
    tail += [f"> [!WARNING]\n> {w}" for w in plan.warnings]
    tail.append(
        f"<sub>mlsync {plan.mlsync_version} · {plan.request_count} HTTP requests to read the "
        f"cluster · live fingerprint `{plan.live_fingerprint[:12]}`</sub>"
    )
    text = "\n".join(head)
    footer = "\n\n" + "\n\n".join(tail)
    # Room for the "omitted" notes.
    budget = limit - len(text) - len(footer) - 400
    rows: list[str] = []
    if changes:
        rows = ["| Risk | Resource | Action | Fields |", "|---|---|---|---|"]
        budget -= sum(len(r) + 1 for r in rows)
        for i, c in enumerate(changes):
            row = f"| {RISK_LABEL[c.risk]} | `{c.ref}` | {c.action.value} | {len(c.fields) or ''} |"
            if budget - len(row) - 1 < 0:
                rows.append(f"\n_{len(changes) - i} more change(s) not listed; see the CI log._")
                break
            rows.append(row)
            budget -= len(row) + 1
    sections: list[str] = []
    for i, c in enumerate(changes):
        section = _md_section(c)
        if budget - len(section) - 2 < 0:
            sections.append(
                f"_{len(changes) - i} more resource section(s) omitted to stay under "
                "GitHub's comment size limit; see the full plan in the CI log._"
            )
            break
        sections.append(section)
        budget -= len(section) + 2
    if rows:
        text += "\n" + "\n".join(rows) + "\n"
    if sections:
        text += "\n" + "\n\n".join(sections)
    return text + footer + "\n"


def plan_document(plan: Plan) -> dict[str, Any]:
    """The machine-readable plan (the `--format json` document)."""
    changes = []
    for c in plan.changes:
        # Terraform's action vocabulary, so its tooling (and jq recipes) transfer: a replace is
        # ["delete", "create"]; restarts and run-state changes are updates of the resource.
        actions = {
            Action.REPLACE: ["delete", "create"],
            Action.CREATE: ["create"],
            Action.DELETE: ["delete"],
            Action.NOOP: ["no-op"],
        }.get(c.action, ["update"])
        changes.append(
            {
                "address": str(c.ref),
                "kind": c.ref.kind.value,
                "id": c.ref.id,
                "action": c.action.value,
                "actions": actions,
                "risk": c.risk.value,
                "state": {"before": c.state_before, "after": c.state_after},
                "state_only": c.state_only,
                "fields": [f.model_dump() for f in c.fields],
                "replace_paths": [f.path for f in c.fields if f.forces_replacement],
                "reasons": list(c.reasons),
                "destroys": c.destroys,
                "source": {"file": c.source.file, "line": c.source.line} if c.source else None,
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "mlsync_version": plan.mlsync_version,
        "environment": plan.environment,
        "scope": plan.scope,
        "cluster": plan.cluster.model_dump(),
        "manifest_digest": plan.manifest_digest,
        "live_fingerprint": plan.live_fingerprint,
        "request_count": plan.request_count,
        "has_changes": plan.has_changes,
        "summary": summary_counts(plan),
        "resource_changes": changes,
        "steps": [
            {
                "index": s.index,
                "address": str(s.ref),
                "op": s.op,
                "method": s.call.method,
                "path": s.call.path,
                "params": s.call.params,
                "body": s.call.body,
                "wait_for": s.wait_for,
                "depends_on": list(s.depends_on),
                "destructive": s.destructive,
            }
            for s in plan.steps
        ],
        "unmanaged": [str(r) for r in plan.unmanaged],
        "other_scopes": dict(sorted(plan.other_scopes.items())),
        "warnings": list(plan.warnings),
        "prune": plan.prune,
        "targets": list(plan.targets),
    }


def render_json(plan: Plan) -> str:
    """The versioned JSON document, stable key order."""
    return json.dumps(plan_document(plan), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def render(plan: Plan, fmt: str) -> str:
    """Dispatch on `text`, `markdown` or `json`."""
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    return render_text(plan)
