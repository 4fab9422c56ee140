"""Fingerprints of live resources, and which resources a saved plan acts on changed since.

Input: live `Resource`s (or a `Plan` and a `LiveState`) and the server defaults. Output:
sha256 hex digests, or the addresses of stale resources. Pure, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from reconciler.model import LiveState, Plan, Ref, Resource
from reconciler.normalize import ServerDefaults, canonical
from reconciler.plan.rules import run_state

ABSENT = "absent"


def _encode(value: Any) -> bytes:
    """Canonical JSON of a record: keys sorted, compact, UTF-8 (values JSON cannot hold: str).

    The read fingerprints every live resource, so this is orjson (several times the standard
    library's speed on these small trees). What orjson refuses (an integer beyond 64 bits,
    which a cluster may echo back from a user's `custom_settings`) takes the standard
    library's encoder: the text differs in format, which only matters within one record.
    """
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, sort_keys=True, default=str).encode()


def resource_fingerprint(
    res: Resource, defaults: ServerDefaults, canon: dict[str, Any] | None = None
) -> str:
    """sha256 of one live resource's canonical body, run state, ownership and owner.

    `canon`: the canonical body if the caller computed it already (`canonical(kind, body)`).
    """
    if canon is None:
        canon = canonical(res.ref.kind, res.body, defaults)
    record = [str(res.ref), canon, run_state(res.ref.kind, res.state), res.owned, res.owner]
    return hashlib.sha256(_encode(record)).hexdigest()


def fingerprint(resources: Iterable[Resource], defaults: ServerDefaults) -> str:
    """sha256 over every live resource's fingerprint."""
    return combined_fingerprint({res.ref: resource_fingerprint(res, defaults) for res in resources})


def combined_fingerprint(prints: Mapping[Ref, str]) -> str:
    """`fingerprint` from the resources' fingerprints already computed (no canonical form again)."""
    digest = hashlib.sha256()
    for ref in sorted(prints, key=lambda r: r.sort_key):
        digest.update(prints[ref].encode())
        digest.update(b"\n")
    return digest.hexdigest()


def stale_resources(plan: Plan, live: LiveState) -> list[str]:
    """The resources the plan acts on whose live state changed since it was made."""
    current = {str(ref): value for ref, value in live.fingerprints.items()}
    return sorted(
        address
        for address, value in plan.resource_fingerprints.items()
        if current.get(address, ABSENT) != value
    )
