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


HUGE = 9 * 1024 * 1024  # a string that makes a file just under the 10 MiB file limit
LIMIT = "a manifest value may have; shorten it"


def _huge(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    assert path.stat().st_size < loader.MAX_FILE_BYTES
    return path


@pytest.mark.parametrize(
    ("text", "at"),
    [
        (f"kind: Filter\nid: f\nspec:\n  description: {'d' * HUGE}\n  items: [a]\n", "4:16"),
        (f"kind: Filter\nid: {'i' * HUGE}\nspec:\n  items: [a]\n", "2:5"),
        (f'kind: Filter\nid: f\nspec:\n  items: ["{"q" * HUGE}"]\n', "4:11"),
        # YAML's explicit key form (`? key`), as an implicit key is at most 1024 characters.
        (f"kind: Filter\nid: f\nspec:\n  ? {'k' * HUGE}\n  : 1\n  items: [a]\n", "4:5"),
    ],
    ids=["description", "id", "quoted-item", "key"],
)
def test_a_huge_string_in_a_small_file_gets_a_limit_message(
    tmp_path: Path, text: str, at: str
) -> None:
    path = _huge(tmp_path, text)
    run = run_validate([str(path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{path}:{at}: value is {HUGE} characters long, more than the 1000000 {LIMIT} "
        "(Elasticsearch settings, descriptions and queries are far smaller)"
    ]
    # The message does not echo the value, and nothing else (a MemoryError, the id rule
    # quoting 9 MiB) is printed.
    assert len(run.output) < 2_000
    assert "Traceback" not in run.output and "MemoryError" not in run.output


def test_a_huge_string_stops_plan_before_any_request(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import main

    path = _huge(tmp_path, f"kind: Filter\nid: f\nspec:\n  description: {'d' * HUGE}\n")
    state = tmp_path / "sandbox.db"
    result = CliRunner().invoke(
        main, ["plan", str(path), "--sandbox", "--sandbox-state", str(state)]
    )
    assert result.exit_code == 1
    assert f"{path}:4:16: value is {HUGE} characters long" in result.output
    assert len(result.output) < 2_000
    assert not state.exists()


def test_aliases_of_a_long_string_are_bounded_per_file(tmp_path: Path) -> None:
    # 4,000 aliases of a 5,000-character anchor: 20 million characters from a 30 KB file.
    aliases = ", ".join(["*d"] * 4000)
    text = f"kind: Filter\nid: f\nspec:\n  description: &d {'y' * 5000}\n  items: [{aliases}]\n"
    small = "---\nkind: Filter\nid: g\nspec:\n  items: [a]\n"
    path = _huge(tmp_path, text + small)
    run = run_validate([str(path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{path}:1:1: document expands to more than 10485760 characters (with the documents "
        "before it) through YAML aliases (an 'alias bomb'); use fewer anchors/aliases"
    ]


def test_a_message_quoting_a_long_value_is_shortened_in_the_middle(tmp_path: Path) -> None:
    path = _huge(tmp_path, FILTER.format(id="X" * 900_000))
    run = run_validate([str(path)])
    assert run.exit_code == 1
    [problem] = run.problems
    assert problem.startswith(f"{path}:2:5: Invalid filter_id; 'XXX")
    assert "...(" in problem and " characters left out)..." in problem
    # The end, which says what to do, is kept.
    assert problem.endswith("must start and end with alphanumeric")
    assert len(problem) < loader.MAX_MESSAGE_CHARS + 200


def test_templates_are_bounded_in_total_not_only_per_value(tmp_path: Path) -> None:
    # 40 values of 900,000 characters: each under the per-value limit, 36 million together.
    values = "\n".join(f"    k{n}: \"{{{{ 'x' * 900000 }}}}\"" for n in range(40))
    path = tmp_path / "t.yaml"
    path.write_text(f"kind: Filter\nid: f\nspec:\n  items: [a]\n  description: d\n  m:\n{values}\n")
    run = run_validate([str(path)])
    assert run.exit_code == 1
    limit = [p for p in run.problems if "in all" in p]
    assert limit and limit[0].startswith(f"{path}:"), run.problems
    assert (
        "template limit reached: templates produced more than 33554432 characters in all"
        in (limit[0])
    )
    assert len(limit) == 1  # once, not once per later value
    assert len(run.output) < 20_000
