"""JSON Schema (draft-07) of the manifest models, for editors and CI.

Input: the pydantic manifest models. Output: JSON Schema documents; `main()` writes them
to `schemas/` (file I/O only there).

Regenerate the committed files after changing a model:

    python -m reconciler.manifest.jsonschema            # writes schemas/*.schema.json
    python -m reconciler.manifest.jsonschema --check    # exit 1 when they are stale

yaml-language-server (VS Code YAML, Neovim, ...) supports draft-07 but not 2020-12, which
pydantic emits by default (ux-conventions.md §3): the generator below declares draft-07 and
puts definitions under `definitions` with `#/definitions/...` references. Manifests opt in
with a first-line comment `# yaml-language-server: $schema=../schemas/mlsync.schema.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from reconciler.manifest.envelope import MANIFEST_ADAPTER, MODEL_BY_KIND

__all__ = ["SCHEMA_DIR", "kind_schema", "main", "manifest_schema", "render_schemas"]

SCHEMA_DIR = Path("schemas")
_DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_REF_TEMPLATE = "#/definitions/{model}"
_FILE_BY_KIND = {
    "AnomalyDetectionJob": "anomaly-detection-job",
    "Datafeed": "datafeed",
    "DataFrameAnalytics": "data-frame-analytics",
    "Filter": "filter",
    "Calendar": "calendar",
}


class Draft07Schema(GenerateJsonSchema):
    """pydantic's generator, declaring draft-07."""

    schema_dialect = _DRAFT_07


def _finish(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    definitions = schema.pop("$defs", {})
    result: dict[str, Any] = {"$schema": _DRAFT_07, "title": title, "description": description}
    result.update(schema)
    result["title"] = title
    if definitions:
        result["definitions"] = dict(sorted(definitions.items()))
    return result


def manifest_schema() -> dict[str, Any]:
    """The schema of any manifest document (a union discriminated by `kind`)."""
    schema = MANIFEST_ADAPTER.json_schema(
        ref_template=_REF_TEMPLATE, schema_generator=Draft07Schema
    )
    return _finish(
        schema,
        "mlsync manifest",
        "One Elasticsearch ML resource: kind, id, optional state, and spec (the create body "
        "exactly as Elasticsearch documents it).",
    )


def kind_schema(kind: str) -> dict[str, Any]:
    """The schema of a manifest document of one kind (`AnomalyDetectionJob`, ...)."""
    schema = TypeAdapter(MODEL_BY_KIND[kind]).json_schema(
        ref_template=_REF_TEMPLATE, schema_generator=Draft07Schema
    )
    return _finish(schema, f"mlsync {kind} manifest", f"A manifest document of kind {kind}.")


def render_schemas() -> dict[str, str]:
    """Every schema file as text, keyed by file name (what `main` writes)."""
    files = {"mlsync.schema.json": manifest_schema()}
    for kind in MODEL_BY_KIND:
        files[f"{_FILE_BY_KIND[kind]}.schema.json"] = kind_schema(kind)
    return {
        name: json.dumps(data, indent=2, sort_keys=False) + "\n" for name, data in files.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with `--check`, compare) the schema files; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.manifest.jsonschema")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="output directory")
    parser.add_argument("--check", action="store_true", help="exit 1 if files are stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_schemas().items():
        path = args.out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("stale JSON schema files (run python -m reconciler.manifest.jsonschema):")
        for path_text in stale:
            print(f"  {path_text}")
        return 1
    for path_text in stale:
        print(f"wrote {path_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
