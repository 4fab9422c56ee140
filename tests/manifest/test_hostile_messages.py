"""Loader messages for hostile input (through `mlsync validate`): file names, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from manifest_helpers import run_validate

from reconciler.manifest import loader

FILTER = "kind: Filter\nid: {id}\nspec:\n  items: [a]\n"


def test_manifest_suffixes_are_matched_in_any_case(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.YAML", "c.Yml", "d.yMl"):
        (tmp_path / name).write_text(FILTER.format(id=name.split(".")[0]))
    (tmp_path / "e.YAML").write_text("kind: Filter\nid: e\nspec:\n  itemz: [a]\n")
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{tmp_path / 'e.YAML'}:4:3: unknown field 'itemz' in spec; did you mean 'items'?"
    ]


def test_a_huge_file_gets_a_size_message_not_memory_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text(FILTER.format(id="big") + "# " + "x" * 2000 + "\n")
    run = run_validate([str(path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{path}:1:1: file is {path.stat().st_size} bytes, more than the 1000 bytes a manifest "
        "file may have; split it into several files"
    ]
    assert "MemoryError" not in run.output
