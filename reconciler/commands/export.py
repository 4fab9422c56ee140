"""`mlsync export`: write manifests for what is on the cluster, to bring it under management.

Input: target patterns, `--out DIR`, connection options. Output: YAML manifests on stdout, or
one file per job (with its datafeed), DFA, filter and calendar under DIR; a summary on stderr.
Does I/O: reads the cluster (the plan's bulk read plus the datafeeds as Elasticsearch exports
them, a constant number of requests) and writes files. The conversion is `reconciler.export`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.client import api
from reconciler.commands.common import (
    connection_options,
    echo_err,
    open_client,
    read_live,
    report_errors,
    resolve_scope,
    scope_option,
)
from reconciler.errors import UsageError
from reconciler.export import SCHEMA_HEADER, Export, ExportedFile, export_state
from reconciler.targets import parse_targets

#: Where the manifest schema lives relative to the working directory (the repository root).
SCHEMA_FILE = Path("schemas") / "mlsync.schema.json"


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(
        document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )


def file_text(exported: ExportedFile, schema_path: str) -> str:
    """A manifest file's text: the schema header line, then its documents."""
    body = "---\n".join(_dump(doc) for doc in exported.documents)
    return SCHEMA_HEADER.format(path=schema_path) + "\n" + body


def _schema_path(target: Path) -> str:
    """The schema file as seen from the directory of `target` (editors resolve it from there)."""
    return Path(os.path.relpath(SCHEMA_FILE.resolve(), target.parent.resolve())).as_posix()


def write_files(result: Export, out: Path) -> list[Path]:
    """Write every exported file under `out`; refuses before writing if any already exists."""
    targets = [(out / exported.path, exported) for exported in result.files]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing:
        listed = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise UsageError(
            f"export would overwrite {listed}; export into an empty directory (or remove those "
            "files) so that no manifest is replaced unseen; nothing was written"
        )
    written = []
    try:
        for path, exported in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(file_text(exported, _schema_path(path)), encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise UsageError(f"cannot write the export under {out}: {exc}") from None
    return written


@click.command("export")
@click.argument("targets", nargs=-1, metavar="[TARGET]...")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per resource under this directory (default: YAML on stdout).",
)
@scope_option
@connection_options
@report_errors
def export(**options: Any) -> None:
    """Write manifests for the ML resources on the cluster (TARGET: KIND/ID, as for --target).

    Each job's file holds its datafeed; values equal to Elasticsearch's defaults and fields
    it generates are left out, and `state:` is the current run state. Resources owned by
    another scope are left out. Review the files, then `mlsync plan` shows only the adoption
    of each resource.
    """
    scope = resolve_scope(options)
    targets = parse_targets(options["targets"])  # bad patterns are refused before connecting
    client = open_client(options)
    try:
        _, live, _ = read_live(client)
        exported = client.perform(api.get_datafeeds("_all", exclude_generated=True)).body
    finally:
        client.close()
    generated = frozenset(
        str(feed.get("datafeed_id"))
        for feed in (exported or {}).get("datafeeds", [])
        if isinstance(feed, dict) and "query_delay" not in feed
    )
    foreign = {ref: owner for ref, owner in live.owners.items() if owner != scope}
    result = export_state(live, patterns=targets, generated_query_delay=generated, foreign=foreign)
    for line in result.skipped:
        echo_err(f"Skipped {line}.")
    if not result.files:
        what = " matching " + ", ".join(options["targets"]) if options["targets"] else ""
        raise UsageError(f"nothing to export: no ML resources{what} on the cluster")
    out: Path | None = options.get("out")
    if out is None:
        click.echo(
            "---\n".join(file_text(f, SCHEMA_FILE.as_posix()) for f in result.files), nl=False
        )
    else:
        written = write_files(result, out)
        echo_err(f"Exported {len(written)} files under {out}.")
    echo_err("Review them, then run mlsync plan: it should show only adoptions.")
