"""User-facing strings explain in their own words: no citations of mlsync's internal references.

Users do not have es-ml-api.md, ux-conventions.md or anchors.md, nor its `§` sections. Every
string literal in reconciler/ (docstrings and comments may cite them: they are for developers)
is scanned, f-string parts included.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
FORBIDDEN = ("es-ml-api", "§", "ux-conventions", "anchors.md", "/work/shared", "reference/")


def docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def citations(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = docstring_nodes(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and any(word in node.value for word in FORBIDDEN)
            ):
                out.append(f"{path.relative_to(root.parent)}:{node.lineno}: {node.value!r}")
    return out


def test_no_user_facing_string_cites_internal_references() -> None:
    assert citations() == []


def test_the_scan_finds_a_citation_and_spares_docstrings(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        '"""Module doc (es-ml-api.md)."""\n'
        "# a comment (§1.2)\n"
        "def f(n):\n"
        '    """Doc (§5.1)."""\n'
        '    return f"bad {n} (es-ml-api.md §5.1)"\n'
    )
    assert citations(tmp_path / "pkg") == ["pkg/m.py:5: ' (es-ml-api.md §5.1)'"]
