"""The Markdown plan for a pull-request comment, within GitHub's comment size limit.

Input: a `Plan`. Output: a string of at most `limit` characters. Pure, no I/O.

A hidden marker lets CI update one comment; the summary line and the destructive warning
always fit. Then the resources' sections, riskiest first (destructive, restart, safe), each a
collapsible ```diff block whose lines GitHub colours (`+` added, `-` removed, `!` changed);
the summary table is bounded so that it never crowds the sections out, and what is left out is
said (Atlantis and tfcmt hit the same 65,536-character limit).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import Change, Plan, Risk, Step
from reconciler.render.common import (
    SYMBOL,
    headline,
    no_changes,
    other_scopes_line,
    summary_line,
    visible,
)
from reconciler.render.lines import Line, body_lines, steps_by_ref

#: GitHub's limit for one issue/PR comment body.
GITHUB_COMMENT_LIMIT = 65_536
#: The summary table lists at most this many rows and takes at most this share of the budget.
TABLE_ROWS = 50
TABLE_SHARE = 0.2
#: Room kept for the "omitted" notes.
NOTES_ROOM = 400
#: A section is cut short rather than left out when at least this much room is left.
MIN_SECTION = 1_000

RISK_LABEL = {
    Risk.SAFE: "safe",
    Risk.RESTART: "restart",
    Risk.DESTRUCTIVE: "**destructive**",
    Risk.NONE: "none",
}
#: GitHub's diff highlighting colours `+`, `-` and `!` lines; `~` would stay plain.
_DIFF_MARK = {"~": "!", "!!": "!!"}


def diff_line(line: Line) -> str:
    """A line of a ```diff block: the mark in column 0 (so GitHub colours it)."""
    mark = _DIFF_MARK.get(line.mark, line.mark)
    pad = "  " * line.depth
    return f"{mark} {pad}{line.text}" if mark else f"  {pad}{line.text}"


def marker(plan: Plan) -> str:
    """The hidden comment marker CI uses to find and update its own comment."""
    return f"<!-- mlsync:plan env={plan.environment or 'default'} -->"


def section(change: Change, steps: Sequence[Step], room: int | None = None) -> str:
    """One resource's collapsible section; cut to `room` characters when given.

    `steps`: this resource's steps (`steps_by_ref`).
    """
    head = (
        f"<details><summary>{SYMBOL[change.action]} <code>{change.ref}</code> "
        f"{headline(change)}</summary>\n\n```diff\n"
    )
    end = "\n```\n</details>"
    body = [diff_line(line) for line in body_lines(change, steps)] or ["  (no field changes)"]
    if room is not None:
        left = room - len(head) - len(end) - 80
        for n, line in enumerate(body):
            left -= len(line) + 1
            if left < 0:
                body = [
                    *body[:n],
                    f"  ... {len(body) - n} more line(s); see the full plan in the CI log",
                ]
                break
    return head + "\n".join(body) + end


def _riskiest_first(plan: Plan) -> list[Change]:
    order = list(Risk)
    return sorted(visible(plan), key=lambda c: (-order.index(c.risk), c.ref.sort_key))


def _table(changes: list[Change], budget: int) -> list[str]:
    rows = ["| Risk | Resource | Action | Fields |", "|---|---|---|---|"]
    used = sum(len(r) + 1 for r in rows)
    for i, c in enumerate(changes):
        row = f"| {RISK_LABEL[c.risk]} | `{c.ref}` | {c.action.value} | {len(c.fields) or ''} |"
        if i >= TABLE_ROWS or used + len(row) + 1 > budget:
            rows.append(f"\n_{len(changes) - i} more change(s) not listed in this table._")
            break
        rows.append(row)
        used += len(row) + 1
    return rows


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Markdown for a pull-request comment, at most `limit` characters."""
    title = f"### mlsync plan — {plan.environment}" if plan.environment else "### mlsync plan"
    head: list[str] = [marker(plan), title, "", f"**{summary_line(plan)}**", ""]
    changes = _riskiest_first(plan)
    if plan.destructive_changes:
        head.append(
            "> [!CAUTION]\n> This plan **deletes or replaces** "
            f"{len(plan.destructive_changes)} resource(s); applying needs `--allow-destroy`. "
            "Replacing or deleting a job destroys its model state and results."
        )
        head.append("")
    if not changes:
        head.append(no_changes(plan))
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
    budget = limit - len(text) - len(footer) - NOTES_ROOM
    rows = _table(changes, int(budget * TABLE_SHARE)) if changes else []
    budget -= sum(len(r) + 1 for r in rows)
    sections: list[str] = []
    own = steps_by_ref(plan.steps)
    for i, c in enumerate(changes):
        part = section(c, own.get(c.ref, ()))
        if len(part) + 2 > budget and not sections and budget > MIN_SECTION:
            # The riskiest resource is always shown, if need be cut short.
            part = section(c, own.get(c.ref, ()), room=budget - 2)
        if budget - len(part) - 2 < 0:
            sections.append(
                f"_{len(changes) - i} more resource section(s) omitted to stay under "
                "GitHub's comment size limit; see the full plan in the CI log._"
            )
            break
        sections.append(part)
        budget -= len(part) + 2
    if rows:
        text += "\n" + "\n".join(rows) + "\n"
    if sections:
        text += "\n" + "\n\n".join(sections)
    return text + footer + "\n"
