"""The `mlsync` program keeps its plan's objects out of the cyclic collector's scans; a library
user's process (and this test runner) keeps its collector as it was."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.gc_pause import keep_until_exit

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"


def test_outside_the_program_nothing_is_frozen() -> None:
    before = gc.get_freeze_count()
    kept = [[i] for i in range(1000)]
    keep_until_exit()
    assert gc.get_freeze_count() == before
    assert kept


def test_the_program_freezes_its_imports_and_then_what_it_keeps() -> None:
    script = (
        "import gc\n"
        "from reconciler import gc_pause\n"
        "assert gc.get_freeze_count() == 0\n"
        "gc_pause.as_program()\n"
        "imported = gc.get_freeze_count()\n"
        "assert imported > 0, imported\n"
        "kept = [[i] for i in range(5000)]  # lists are always tracked\n"
        "gc_pause.keep_until_exit()\n"
        "assert gc.get_freeze_count() >= imported + 5000, gc.get_freeze_count()\n"
        "assert gc.isenabled()\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_both_entry_points_run_as_the_program() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mlsync"] == "reconciler.cli:run"
    script = (
        "import runpy, sys, gc\n"
        "sys.argv = ['mlsync', '--version']\n"
        "try:\n"
        "    runpy.run_module('reconciler.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "from reconciler import gc_pause\n"
        "print(gc_pause._program, gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True True"


def test_a_command_plans_with_the_collector_paused_then_keeps_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = sys.modules["reconciler.commands.common"]
    seen: list[str] = []
    with_bodies = common.with_bodies

    def spy_bodies(*args: Any) -> Any:
        seen.append(f"bodies collector={'on' if gc.isenabled() else 'off'}")
        return with_bodies(*args)

    monkeypatch.setattr(common, "with_bodies", spy_bodies)
    monkeypatch.setattr(common, "keep_until_exit", lambda: seen.append("kept"))
    state = tmp_path / "state.db"
    result = CliRunner().invoke(
        main, ["plan", str(MANIFESTS), "--sandbox", "--sandbox-state", str(state)]
    )
    assert result.exit_code in (0, 2), result.output
    # Between the stages too (with_bodies ran with the collector on before), and the plan is
    # kept only once it is made.
    assert seen == ["bodies collector=off", "kept"]
    assert gc.isenabled()
