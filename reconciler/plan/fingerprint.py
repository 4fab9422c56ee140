"""Fingerprints of live resources, and which resources a saved plan acts on changed since.

Input: live `Resource`s (or a `Plan` and a `LiveState`) and the server defaults. Output:
sha256 hex digests, or the addresses of stale resources. Pure, no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from reconciler.model import LiveState, Plan, Ref, Resource
from reconciler.normalize import ServerDefaults, canonical
from reconciler.plan.rules import run_state

ABSENT = "absent"


def _encoder() -> Callable[[Any], str]:
    """`json.dumps(value, sort_keys=True, default=str)` for JSON trees, built once.

    The read fingerprints every live resource, and `json.dumps` builds its encoder anew for
    each call (and checks for cycles, which a tree parsed from JSON cannot have). With the
    standard library's C encoder built once, the text is the same at two thirds of the cost;
    without it (another Python implementation), `json.dumps` itself.
    """
    if c_make_encoder is None:  # pragma: no cover - CPython has it
        return functools.partial(json.dumps, sort_keys=True, default=str)
    # The arguments `JSONEncoder(sort_keys=True, default=str).iterencode` passes, but no
    # markers (the cycle check).
    encode = c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", True, False, True)
    return lambda value: "".join(encode(value, 0))


_encode = _encoder()


def resource_fingerprint(
    res: Resource, defaults: ServerDefaults, canon: dict[str, Any] | None = None
) -> str:
    """sha256 of one live resource's canonical body, run state, ownership and owner.

    `canon`: the canonical body if the caller computed it already (`canonical(kind, body)`).
    """
    if canon is None:
        canon = canonical(res.ref.kind, res.body, defaults)
    record = [str(res.ref), canon, run_state(res.ref.kind, res.state), res.owned, res.owner]
    return hashlib.sha256(_encode(record).encode()).hexdigest()


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
