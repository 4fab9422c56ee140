"""Saved plan files: `mlsync plan --out FILE` writes one, `mlsync apply --plan FILE` reads it.

Input: a `Plan` and what it was computed from / a path. Output: a JSON file / a `SavedPlan`.
Does file I/O only.

The file holds the plan value itself (changes, ordered steps with their exact calls), the
fingerprint of the live state it was computed from, and the inputs of the planner (desired
resources and unresolved references), so that apply can compute the plan again and refuse a
file whose steps it would not have planned itself (`reconciler.saved_plan`), and refuses when
the cluster changed since (ux-conventions.md §2.3). It never holds credentials: connection
settings are not part of a plan, and every configured secret is redacted from it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler.errors import UsageError
from reconciler.manifest import Reference
from reconciler.model import Plan, Resource
from reconciler.redact import Redactor
from reconciler.render import DOCUMENT_KIND, plan_document

#: The saved file is the `--format json` document; its `plan` member is what apply executes.
MAGIC = DOCUMENT_KIND


class PlanInputs(BaseModel):
    """What the planner was given, besides the live state and the plan's own options."""

    model_config = ConfigDict(frozen=True)

    desired: tuple[Resource, ...] = ()
    references: tuple[Reference, ...] = ()
    #: Planner options the plan itself does not record (its scope, prune and targets it
    #: does): without them apply would derive another plan and refuse the file.
    recover_failed: bool = False
    allow_prune_all: bool = False


def inputs_document(
    desired: Sequence[Resource] = (),
    references: Sequence[Reference] = (),
    *,
    recover_failed: bool = False,
    allow_prune_all: bool = False,
) -> dict[str, Any]:
    """The `inputs` member of the plan document (`--format json` and saved files alike)."""
    inputs = PlanInputs(
        desired=tuple(desired),
        references=tuple(references),
        recover_failed=recover_failed,
        allow_prune_all=allow_prune_all,
    )
    result: dict[str, Any] = inputs.model_dump(mode="json")
    return result


class SavedPlan(BaseModel):
    """A plan file's content: the plan and, for files that have them, its inputs."""

    model_config = ConfigDict(frozen=True)

    plan: Plan
    inputs: PlanInputs | None = None


def save_plan(
    plan: Plan,
    path: str | os.PathLike[str],
    *,
    desired: Sequence[Resource] = (),
    references: Sequence[Reference] = (),
    recover_failed: bool = False,
    allow_prune_all: bool = False,
    redact: Redactor | None = None,
) -> None:
    """Write `plan` and its inputs to `path` atomically (temp file + rename).

    `redact` removes every configured secret from every string of the file (a manifest value
    or a server message may hold one); the file is written only in redacted form.
    """
    target = Path(path)
    document = plan_document(
        plan,
        inputs_document(
            desired, references, recover_failed=recover_failed, allow_prune_all=allow_prune_all
        ),
    )
    if redact:
        document = redact.value(document)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, target)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read the plan of a file written by `save_plan` (to show it; apply uses `load_saved_plan`).

    Raises:
        UsageError: the file is missing, not JSON, or not an mlsync plan of a known version.
    """
    return load_saved_plan(path).plan


def load_saved_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a file written by `save_plan`: the plan and the inputs it was computed from.

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
        saved = SavedPlan.model_validate({"plan": document.get("plan"), **_inputs(document)})
        plan = saved.plan
    except ValidationError as exc:
        raise UsageError(f"{source}: damaged plan file ({exc.error_count()} problems)") from None
    if plan.format_version != "1":
        raise UsageError(
            f"{source}: plan format {plan.format_version} is not supported by this mlsync; "
            "re-run mlsync plan"
        )
    return saved


def _inputs(document: dict[str, object]) -> dict[str, object]:
    # `inputs: null` (or no member) is a document whose inputs are not known.
    return {"inputs": document["inputs"]} if document.get("inputs") is not None else {}
