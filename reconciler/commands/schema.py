"""`mlsync schema`: print the manifests' JSON Schema, generated from the installed mlsync.

Input: `--kind` (optional) and `--out` (optional). Output: the draft-07 JSON Schema on stdout
or in a file; exit 0. Does file I/O only with `--out`.

The schema ships with the package (it is generated from the manifest models mlsync validates
with), so a repository that copied the example manifests writes its own copy and points
yaml-language-server at it:

    mlsync schema --out .mlsync/manifest.schema.json
    # yaml-language-server: $schema=../.mlsync/manifest.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands.common import report_errors
from reconciler.errors import UsageError
from reconciler.manifest.jsonschema import kind_schema, manifest_schema
from reconciler.model import Kind


@click.command("schema")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in Kind]),
    help="Only the schema of this kind (default: any manifest document).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of stdout.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@report_errors
def schema(**options: Any) -> None:
    """Print the JSON Schema of mlsync manifests (for editors and CI)."""
    document = kind_schema(options["kind"]) if options["kind"] else manifest_schema()
    text = json.dumps(document, indent=2) + "\n"
    out: Path | None = options["out"]
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the schema ({exc.strerror or exc})") from None
    click.echo(f"Wrote the manifest schema to {out}", err=True)
