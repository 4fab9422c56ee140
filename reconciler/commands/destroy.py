"""`mlsync destroy --scope NAME`: delete everything one ownership scope owns, and nothing else.

Input: the scope, `--allow-destroy`, `--auto-approve`, connection options. Output: the plan (a
prune against an empty manifest set, limited to the scope's members), the apply report and an
exit code. Does I/O through `commands.common` and `commands.apply` (same gate, confirmation,
lock and executor as `mlsync apply`).
"""

from __future__ import annotations

from typing import Any

import click

from reconciler.commands import apply as apply_cmd
from reconciler.commands.common import (
    compute_plan,
    connection_options,
    report_errors,
    scope_option,
)
from reconciler.errors import UsageError


@click.command("destroy")
@scope_option
@click.option(
    "--allow-destroy", is_flag=True, help="Required: the scope's resources are deleted for good."
)
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@connection_options
@report_errors
def destroy(**options: Any) -> None:
    """Delete every resource the scope owns (jobs lose their results and model state).

    Resources of other scopes and resources no scope owns are never touched. The scope must be
    named (--scope or MLSYNC_SCOPE): there is no default for a teardown.
    """
    if not options.get("scope"):
        raise UsageError(
            "destroy needs the scope to tear down: pass --scope NAME (or set MLSYNC_SCOPE); "
            "nothing was changed"
        )
    if not options["auto_approve"] and not apply_cmd._stdin_is_tty():
        raise UsageError(
            "destroy needs confirmation but there is no terminal: pass --auto-approve; "
            "nothing was changed"
        )
    # The apply command's own defaults for everything destroy does not ask about.
    settings: dict[str, Any] = {
        param.name: param.default for param in apply_cmd.apply.params if param.name
    }
    settings.update(options)
    settings.update(paths=(), env=None, variables=(), target=(), prune=True, plan_file=None)
    context = compute_plan(settings, destroy=True)
    try:
        apply_cmd._apply_loaded(context.plan, context.client, context.info, settings, fresh=True)
    finally:
        context.client.close()
