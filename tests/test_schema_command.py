"""`mlsync schema`: the shipped JSON Schema, the same as the committed schemas/ files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def test_schema_prints_the_manifest_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == (SCHEMAS / "mlsync.schema.json").read_text()
    assert json.loads(result.stdout)["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_schema_of_one_kind_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / ".mlsync" / "filter.schema.json"
    result = CliRunner().invoke(main, ["schema", "--kind", "Filter", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (SCHEMAS / "filter.schema.json").read_text()
    assert f"Wrote the manifest schema to {out}" in result.stderr


def test_schema_to_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(main, ["schema", "--out", str(tmp_path / "file" / "x.json")])
    assert result.exit_code == 1
    assert "cannot write the schema" in result.stderr and "Traceback" not in result.output
