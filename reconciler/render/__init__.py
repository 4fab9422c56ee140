"""Render a `Plan` for people (text, Markdown) and machines (JSON).

Input: a `Plan`. Output: strings. Pure, no I/O, deterministic (no timestamps, stable order),
so renderings are golden-testable.

- `lines`: what is shown under each resource (attributes of creates, per-item list diffs,
  values in the manifests' form), shared by text and Markdown;
- `text`: Terraform-style text for terminals and CI logs;
- `markdown`: pull-request comments within GitHub's size limit;
- `document`: the versioned JSON document (also the saved-plan file format).
"""

from __future__ import annotations

from reconciler.model import Plan
from reconciler.render.common import summary_counts, summary_line
from reconciler.render.document import DOCUMENT_KIND, FORMAT_VERSION, plan_document, render_json
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.render.text import render_text

FORMATS = ("text", "markdown", "json")

__all__ = [
    "DOCUMENT_KIND",
    "FORMATS",
    "FORMAT_VERSION",
    "GITHUB_COMMENT_LIMIT",
    "plan_document",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
    "summary_counts",
    "summary_line",
]


def render(plan: Plan, fmt: str) -> str:
    """Dispatch on `text`, `markdown` or `json`."""
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    return render_text(plan)
