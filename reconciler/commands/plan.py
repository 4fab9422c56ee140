"""`mlsync plan`: show, field by field, what must change on the cluster to match the manifests.

Input: manifests, connection options, flags. Output: the rendered plan on stdout, optionally a
saved plan file, and an exit code (0 no changes or success, 2 changes with
--detailed-exitcode, 1 error). Does I/O through `commands.common` only; planning itself is pure.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from reconciler.commands import redacting
from reconciler.commands.common import (
    compute_plan,
    connection_options,
    echo_err,
    echo_plan,
    manifest_options,
    report_errors,
    scope_option,
    selection_options,
)
from reconciler.planfile import inputs_document, save_plan
from reconciler.render import render, render_markdown, summary_counts


def write_github_outputs(plan: Any) -> None:
    """In GitHub Actions, publish counts to $GITHUB_OUTPUT and the plan to the job summary."""
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        counts = summary_counts(plan)
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"has_changes={'true' if plan.has_changes else 'false'}\n")
            for action in ("create", "update", "restart-update", "replace", "delete"):
                handle.write(f"{action.replace('-', '_')}={counts.get(action, 0)}\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(redacting.redactor()(render_markdown(plan, limit=1_000_000)))


@click.command("plan")
@manifest_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Save the plan for `mlsync apply --plan`."
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on errors.",
)
@selection_options("Plan")
@scope_option
@connection_options
@report_errors
def plan(**options: Any) -> None:
    """Show what must change on the cluster to match the manifests (PATH defaults to manifests/)."""
    context = compute_plan(options)
    try:
        result = context.plan
        desired, references = context.manifests.resources, context.manifests.references
        recorded = {
            "recover_failed": bool(options.get("recover_failed")),
            "allow_prune_all": bool(options.get("allow_prune_all")),
        }
        if options["fmt"] == "text":
            echo_plan(render(result, "text"))
        else:
            inputs = inputs_document(desired, references, **recorded)
            click.echo(render(result, options["fmt"], inputs), nl=False)
        if options.get("out"):
            save_plan(
                result,
                options["out"],
                desired=desired,
                references=references,
                **recorded,
                redact=redacting.redactor(),
            )
            out = options["out"]
            echo_err(f"Saved the plan to {out}; apply it with: mlsync apply --plan {out}")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            try:
                write_github_outputs(result)
            except OSError as exc:
                echo_err(f"Warning: could not write the GitHub Actions outputs: {exc}")
    finally:
        context.client.close()
    if options.get("detailed_exitcode") and result.has_changes:
        sys.exit(2)
