"""Prove the import-layer contracts bite: inject forbidden imports into a copy, expect failure.

Input: the repository's reconciler/ package and pyproject.toml. Output: exit status and a line
per injected violation. Copies files into a temporary directory and runs `lint-imports` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VIOLATIONS = {
    "reconciler/plan/decide.py": "import httpx  # injected: the pure core must not do I/O\n",
    "reconciler/sandbox/routes.py": "import reconciler.normalize  # injected: sandbox must not\n",
    "reconciler/cluster.py": "import httpx  # injected: only the client package talks HTTP\n",
}


def lint(tree: Path) -> int:
    """Run lint-imports on a copied tree; its exit status."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        ["lint-imports", "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode


def main() -> int:
    """Check the control copy passes and every injected violation is caught."""
    # Control: the unmodified copy must pass, so a failure below means the contract broke.
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        shutil.copytree(ROOT / "reconciler", tree / "reconciler")
        shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
        if lint(tree) != 0:
            print("control copy fails lint-imports; cannot test the contracts")
            return 1
    failures = 0
    for target, line in VIOLATIONS.items():
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp)
            shutil.copytree(ROOT / "reconciler", tree / "reconciler")
            shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
            path = tree / target
            path.write_text(line + path.read_text())
            code = lint(tree)
            verdict = "broken as expected" if code != 0 else "NOT DETECTED"
            print(f"{target}: {line.strip()} -> contract {verdict}")
            failures += code == 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
