"""The text plan for terminals and CI logs, after Terraform.

Input: a `Plan`. Output: a string. Pure, no I/O.

`+` create, `~` update in place, `-/+` replace, `-` delete, `>` open/start, `<` close/stop;
`# forces replacement` next to the fields that force it; loud data-loss warnings; a summary
line. Creates list every attribute; set-like lists show the items added and removed.
"""

from __future__ import annotations

from reconciler.model import Plan
from reconciler.render.common import (
    SYMBOL,
    headline,
    no_changes,
    other_scopes_line,
    summary_line,
    visible,
)
from reconciler.render.lines import Line, body_lines, steps_by_ref


def text_line(line: Line, indent: str = "      ") -> str:
    """`      + path: value`, items of a list two spaces deeper."""
    prefix = indent + "  " * line.depth
    return f"{prefix}{line.mark} {line.text}" if line.mark else f"{prefix}{line.text}"


def render_text(plan: Plan) -> str:
    """Terraform-style text for terminals and CI logs."""
    out: list[str] = []
    banner = f"mlsync plan for {plan.cluster.name or 'cluster'}"
    if plan.cluster.version:
        banner += f" (es {plan.cluster.version})"
    if plan.environment:
        banner += f", environment {plan.environment}"
    out += [banner, ""]
    config = [c for c in visible(plan) if not c.state_only]
    drift = [c for c in visible(plan) if c.state_only]
    if not config and not drift:
        out.append(no_changes(plan))
    own = steps_by_ref(plan.steps)
    for change in config:
        source = f"  ({change.source})" if change.source else ""
        out.append(f"  {SYMBOL[change.action]} {change.ref} {headline(change)}{source}")
        out += [text_line(line) for line in body_lines(change, own.get(change.ref, ()))]
        out.append("")
    if drift:
        out.append("Run state (drift from the desired state):")
        for change in drift:
            out.append(
                f"  {SYMBOL[change.action]} {change.ref} {headline(change)} "
                f"({change.state_before} -> {change.state_after})"
            )
            lines = body_lines(change, own.get(change.ref, ()))
            out += [text_line(line) for line in lines if line.mark]
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
    out += [f"Warning: {warning}" for warning in plan.warnings]
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"
