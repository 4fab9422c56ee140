"""`mlsync validate [PATH...]`: offline checks of manifests, every problem in one run.

Input: paths, `--env`, `--var`, `--format` and the process environment. Output: one
`file:line:col: message` line per problem (or GitHub annotations) and a summary; exit code 0
when valid, 1 otherwise. I/O: reads the manifests (through `load_manifests`) and prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from reconciler.commands.common import unused_variable_warnings
from reconciler.errors import Diagnostic, ManifestError, MlsyncError
from reconciler.manifest import ManifestSet, Reference, load_manifests

__all__ = ["github_annotation", "parse_vars", "validate"]

#: GitHub shows at most 10 error annotations per step; the rest are dropped silently
#: (ux-conventions.md §2.6, actions/toolkit#734).
MAX_ANNOTATIONS = 10

_TARGETS = {"job": "job", "job_or_group": "job or group", "filter": "filter"}


def parse_vars(values: Sequence[str]) -> dict[str, str]:
    """Parse `--var key=value` options (the last one wins for a repeated key).

    Raises:
        click.BadParameter: A value without `=` or with an empty key.
    """
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--var")
        result[key.strip()] = value
    return result


def _escape_data(text: str) -> str:
    # actions/toolkit core/src/command.ts escapeData.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    # actions/toolkit core/src/command.ts escapeProperty.
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(diagnostic: Diagnostic) -> str:
    """A `::error file=..,line=..,col=..::message` workflow command for one diagnostic."""
    level = "warning" if diagnostic.severity == "warning" else "error"
    return (
        f"::{level} file={_escape_property(diagnostic.file)},line={diagnostic.line},"
        f"col={diagnostic.column}::{_escape_data(diagnostic.message)}"
    )


def _reference_diagnostic(reference: Reference, severity: str) -> Diagnostic:
    source = reference.source
    target = _TARGETS[reference.target_kind]
    if severity == "error":
        message = (
            f"dangling reference: {reference.from_ref} refers to {target} "
            f"'{reference.target_id}', which no manifest declares; declare it, or drop "
            "--self-contained if it exists in the cluster"
        )
    else:
        message = (
            f"{reference.from_ref} refers to {target} '{reference.target_id}', which no "
            "manifest declares; plan will check that it exists in the cluster"
        )
    return Diagnostic(
        file=source.file,
        line=source.line,
        column=source.column,
        message=message,
        severity=severity,
    )


def _print(diagnostics: Sequence[Diagnostic], output_format: str) -> None:
    annotations = 0
    for diagnostic in diagnostics:
        if output_format == "github" and annotations < MAX_ANNOTATIONS:
            click.echo(github_annotation(diagnostic))
            annotations += 1
        elif diagnostic.severity == "warning":
            click.echo(
                f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: warning: "
                f"{diagnostic.message}"
            )
        else:
            click.echo(str(diagnostic))
    hidden = len(diagnostics) - annotations
    if output_format == "github" and hidden > 0:
        click.echo(
            f"{hidden} more problem{'s' if hidden != 1 else ''} listed above without "
            f"annotations (GitHub shows at most {MAX_ANNOTATIONS})"
        )


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--env", "env", metavar="NAME", help="Use variables from environments/NAME.yaml.")
@click.option(
    "--var",
    "var_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a template variable (overrides the environment file); repeatable.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github prints workflow annotations (::error file=..,line=..::message).",
)
@click.option(
    "--self-contained",
    is_flag=True,
    help="Treat references to jobs, groups or filters that no manifest declares as errors "
    "(by default plan checks them against the cluster).",
)
def validate(
    paths: tuple[str, ...],
    env: str | None,
    var_items: tuple[str, ...],
    output_format: str,
    self_contained: bool,
) -> None:
    """Check manifests offline: YAML, templates, fields, Elasticsearch's own rules, references.

    PATH defaults to manifests/. Prints every problem as file:line:col: message and exits
    with 1 when there is any, 0 otherwise.
    """
    try:
        variables = parse_vars(var_items)
        for warning in unused_variable_warnings(list(paths) or ["manifests/"], variables):
            github = output_format == "github"
            click.echo(f"::warning::{_escape_data(warning)}" if github else f"warning: {warning}")
        manifests = load_manifests(
            list(paths) or ["manifests/"], env=env, variables=variables, environ=os.environ
        )
    except ManifestError as exc:
        _print(exc.diagnostics, output_format)
        click.echo(f"{exc}; nothing was sent to Elasticsearch")
        raise SystemExit(1) from None
    except click.BadParameter as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        raise SystemExit(1) from None
    except (MlsyncError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    except Exception as exc:  # a bug in mlsync: still no traceback for the user
        click.echo(
            f"Error: internal error while validating ({type(exc).__name__}: {exc}); "
            "please report it with the manifest that triggers it",
            err=True,
        )
        raise SystemExit(1) from None
    _finish(manifests, output_format, self_contained)


def _finish(manifests: ManifestSet, output_format: str, self_contained: bool) -> None:
    severity = "error" if self_contained else "warning"
    notes = [_reference_diagnostic(r, severity) for r in manifests.references]
    _print(notes, output_format)
    count = len(manifests.resources)
    if self_contained and notes:
        click.echo(
            f"{len(notes)} dangling reference{'s' if len(notes) != 1 else ''} found in the "
            "manifests"
        )
        raise SystemExit(1)
    where = f" (environment {manifests.environment})" if manifests.environment else ""
    click.echo(f"{count} resource{'s' if count != 1 else ''} valid{where}")
