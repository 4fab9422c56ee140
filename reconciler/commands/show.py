"""`mlsync show PLANFILE`: render a saved plan again, in any format, without a cluster.

Input: a plan file written by `mlsync plan --out`. Output: the plan rendered as text, Markdown
or JSON on stdout; exit 0, or 1 when the file is not a readable plan. Reads the file only.
"""

from __future__ import annotations

from typing import Any

import click

from reconciler.commands.common import echo_plan, report_errors
from reconciler.planfile import load_plan
from reconciler.render import FORMATS, render


@click.command("show")
@click.argument("plan_file", metavar="PLANFILE", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@report_errors
def show(**options: Any) -> None:
    """Render the saved plan PLANFILE (from `mlsync plan --out`) again."""
    plan = load_plan(options["plan_file"])
    if options["fmt"] == "text":
        echo_plan(render(plan, "text"))
    else:
        click.echo(render(plan, options["fmt"]), nl=False)
