"""The `mlsync` command line: a thin layer of flags -> library calls -> rendering -> exit code.

Input: argv, environment, terminal. Output: text on stdout/stderr and an exit code.
Does I/O only through the library calls it makes.

Exit codes: 0 success / no changes; 1 error; 2 changes present (`plan --detailed-exitcode`).
Every user-facing error is a `MlsyncError` or a client error and is printed without a
traceback (`--debug` shows it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from reconciler import __version__
from reconciler.commands import apply as apply_cmd
from reconciler.commands import destroy as destroy_cmd
from reconciler.commands import export as export_cmd
from reconciler.commands import plan as plan_cmd
from reconciler.commands import sandbox as sandbox_cmd
from reconciler.commands import schema as schema_cmd
from reconciler.commands import show as show_cmd
from reconciler.commands import validate as validate_cmd
from reconciler.gc_pause import as_program


class _Cli(click.Group):
    """The command group; bad flags exit 1, not click's default 2.

    Exit code 2 means "changes present" for `plan --detailed-exitcode` (Terraform's convention),
    so a CI step must never read a mistyped flag as "there are changes".
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the CLI; usage errors print click's message and exit 1."""
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="mlsync")
def main() -> None:
    """Manage Elasticsearch machine-learning configuration as code.

    Keep anomaly detection jobs, datafeeds, data frame analytics, filters and calendars as
    YAML manifests in git; `mlsync plan` shows what must change, `mlsync apply` does it.
    """


main.add_command(validate_cmd.validate)
main.add_command(plan_cmd.plan)
main.add_command(show_cmd.show)
main.add_command(apply_cmd.apply)
main.add_command(apply_cmd.force_unlock)
main.add_command(export_cmd.export)
main.add_command(destroy_cmd.destroy)
main.add_command(sandbox_cmd.sandbox)
main.add_command(schema_cmd.schema)


def run() -> None:
    """The `mlsync` program: the command group, in a process that ends with its command."""
    as_program()
    main()


if __name__ == "__main__":  # `python -m reconciler.cli`
    run()
