"""Checks shared by every kind: identifier rules and body/envelope id consistency.

Input: ids and paths inside a document. Output: `Problem`s worded as Elasticsearch words
them (es-ml-api.md §0.3). No I/O.
"""

from __future__ import annotations

import math
import re
from typing import Any

from reconciler.manifest.locate import Problem
from reconciler.manifest.source import Path
from reconciler.units import parse_duration_ms

__all__ = [
    "ID_LENGTH_LIMIT",
    "check_body_id",
    "check_id",
    "check_reserved_metadata",
    "duration_ms",
    "is_valid_id",
    "non_finite_paths",
]

# MlStrings.java @3f60fb6c: lowercase alphanumerics, '-', '_', '.'; starts and ends alnum.
_VALID_ID = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?")
#: MlStrings.ID_LENGTH_LIMIT (verified for jobs and DFA; applied to every kind, §10 item 14).
ID_LENGTH_LIMIT = 64


def is_valid_id(value: str) -> bool:
    """True when `value` satisfies the ML id regex (MlStrings.isValidId)."""
    return bool(_VALID_ID.fullmatch(value))


def check_id(value: str, field: str, path: Path) -> list[Problem]:
    """Check an id against the ML id rules, with ES's message for `field`.

    Args:
        value: The id.
        field: The ES name of the id (`job_id`, `datafeed_id`, `id`, `filter_id`,
            `calendar_id`), used in the message as ES does.
        path: Where the id is in the document.

    Returns:
        Zero or one problem.
    """
    if not is_valid_id(value):
        return [
            Problem(
                path,
                f"Invalid {field}; '{value}' can contain lowercase alphanumeric (a-z and 0-9), "
                "hyphens or underscores; must start and end with alphanumeric",
            )
        ]
    if len(value) > ID_LENGTH_LIMIT:
        if field == "job_id":
            message = f"The job id cannot contain more than {ID_LENGTH_LIMIT} characters."
        else:
            message = (
                f"Invalid {field}; '{value}' cannot contain more than {ID_LENGTH_LIMIT} characters."
            )
        return [Problem(path, message)]
    return []


def check_body_id(body_id: str | None, envelope_id: str, field: str, path: Path) -> list[Problem]:
    """A body id (e.g. `spec.job_id`) must equal the manifest id, as the URL id in ES.

    ES: `Inconsistent job_id; 'a' specified in the body differs from 'b' specified as a URL
    argument` (es-ml-api.md §0.3); the manifest `id` plays the URL's part.
    """
    if body_id is None or body_id == envelope_id:
        return []
    return [
        Problem(
            path,
            f"Inconsistent {field}; '{body_id}' specified in the body differs from "
            f"'{envelope_id}' specified as the manifest id; remove {field} from spec or make "
            "them equal",
        )
    ]


def duration_ms(value: str | int | None) -> int | None:
    """Milliseconds of an already-validated time value (None when absent or unparsable)."""
    if value is None:
        return None
    try:
        return parse_duration_ms(str(value))
    except ValueError:
        return None


def non_finite_paths(data: Any, path: Path = ()) -> list[Path]:
    """Paths of every NaN or infinite number in `data` (YAML `.nan`, `.inf`, `1.0e+999`).

    Elasticsearch's JSON has no such values, so they fail at apply wherever they are (a field
    or a free-form query); the caller reports one problem per path.
    """
    if isinstance(data, float) and not math.isfinite(data):
        return [path]
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in non_finite_paths(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in non_finite_paths(v, (*path, i))]
    return []


# ARCHITECTURE.md safety rules / reconciler.ownership: `managed` marks Elastic-managed jobs,
# `managed_by` is the ownership marker mlsync itself adds to jobs and DFA.
_RESERVED_KEYS = {
    "managed": "it marks Elastic-managed jobs, which mlsync never modifies",
    "managed_by": "it is mlsync's ownership marker, added by mlsync itself",
    "mlsync_scope": "it records the owning scope, added by mlsync itself (use --scope)",
    "mlsync_restore_calendars": "mlsync keeps calendar memberships it must restore there",
}


def check_reserved_metadata(
    meta: dict[str, Any] | None, path: Path, keys: tuple[str, ...]
) -> list[Problem]:
    """Reserved keys in a job's `custom_settings` or a DFA's `_meta`.

    Args:
        meta: The metadata object as declared (None when absent).
        path: Where it is in the document.
        keys: The reserved keys for this kind.

    Returns:
        One problem per reserved key present, located at the key.
    """
    if not meta:
        return []
    field = str(path[-1])
    return [
        Problem(
            (*path, key),
            f"{field}.{key} is reserved: {_RESERVED_KEYS[key]}; remove it from the manifest",
            at_key=True,
        )
        for key in keys
        if key in meta
    ]
