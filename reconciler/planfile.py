"""Saved plan files: `mlsync plan --out FILE` writes one, `mlsync apply --plan FILE` reads it.

Input: a `Plan` / a path. Output: a JSON file / a `Plan`. Does file I/O only.

The file holds the plan value itself (changes, ordered steps with their exact calls) and the
fingerprint of the live state it was computed from, so apply executes exactly what was reviewed
and refuses when the cluster changed since (ux-conventions.md §2.3). It never holds
credentials: connection settings are not part of a plan.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from reconciler.errors import UsageError
from reconciler.model import Plan
from reconciler.render import DOCUMENT_KIND, render_json

#: The saved file is the `--format json` document; its `plan` member is what apply executes.
MAGIC = DOCUMENT_KIND


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write `plan` to `path` atomically (temp file + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_json(plan))
    os.replace(tmp, target)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan written by `save_plan`.

    Raises:
        UsageError: the file is missing, not JSON, or not an mlsync plan of a known version.
    """
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{source}: no such plan file; create one with `mlsync plan --out`"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{source}: not a readable plan file ({exc})") from None
    if not isinstance(document, dict) or document.get("kind") != MAGIC:
        raise UsageError(f"{source}: not an mlsync plan file (written by `mlsync plan --out`)")
    try:
        plan = Plan.model_validate(document.get("plan"))
    except ValidationError as exc:
        raise UsageError(f"{source}: damaged plan file ({exc.error_count()} problems)") from None
    if plan.format_version != "1":
        raise UsageError(
            f"{source}: plan format {plan.format_version} is not supported by this mlsync; "
            "re-run mlsync plan"
        )
    return plan
