"""Fingerprints of live resources, and which resources a saved plan acts on changed since.

Input: live `Resource`s (or a `Plan` and a `LiveState`) and the server defaults. Output:
sha256 hex digests, or the addresses of stale resources. Pure, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from reconciler.model import LiveState, Plan, Resource
from reconciler.normalize import ServerDefaults, canonical
from reconciler.plan.rules import run_state

ABSENT = "absent"


def resource_fingerprint(res: Resource, defaults: ServerDefaults) -> str:
    """sha256 of one live resource's canonical body, run state and ownership."""
    record = [
        str(res.ref),
        canonical(res.ref.kind, res.body, defaults),
        run_state(res.ref.kind, res.state),
        res.owned,
        res.owner,
    ]
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(resources: Iterable[Resource], defaults: ServerDefaults) -> str:
    """sha256 over every live resource's fingerprint."""
    digest = hashlib.sha256()
    for res in sorted(resources, key=lambda r: r.ref.sort_key):
        digest.update(resource_fingerprint(res, defaults).encode())
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
