"""Fail when schemas/ holds anything but generated JSON Schema files (the layering rule).

Input: the schemas/ directory. Output: exit status and a message. Reads files only.
"""

from __future__ import annotations

import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent / "schemas"
bad = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".json"]
if bad:
    print("schemas/ must hold generated JSON Schema files only; found:", *bad, sep="\n  ")
    sys.exit(1)
print(f"schemas/: {sum(1 for _ in root.rglob('*.json'))} generated JSON files")
