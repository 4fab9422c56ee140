"""Fingerprints of live resources, and which resources a saved plan acts on changed since.

Input: live `Resource`s (or a `Plan` and a `LiveState`) and the server defaults. Output:
sha256 hex digests, or the addresses of stale resources. Pure, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model import LiveState, Plan, Ref, Resource
from reconciler.normalize import ServerDefaults, canonical
from reconciler.plan.rules import run_state

ABSENT = "absent"


def resource_fingerprint(
    res: Resource, defaults: ServerDefaults, canon: dict[str, Any] | None = None
) -> str:
    """sha256 of one live resource's canonical body, run state, ownership and owner.

    `canon`: the canonical body if the caller computed it already (`canonical(kind, body)`).
    """
    if canon is None:
        canon = canonical(res.ref.kind, res.body, defaults)
    record = [str(res.ref), canon, run_state(res.ref.kind, res.state), res.owned, res.owner]
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


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
