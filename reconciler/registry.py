"""The ownership registry: which scope owns which resource, kept on the cluster.

Input: the answer of the registry search (read by `reconciler.cluster`), resources and scope
names. Output: a `Registry` value and the `Call`s that add or remove a member. Pure, no I/O.

A scope's member set is what prune may delete, like the parent object of kubectl's ApplySet.
It lives in the index `mlsync-registry`, beside the lock index, as one small document per
member: id `<Kind>:<id>` (for example `Filter:safe_ips`), source `{kind, id, scope}`. One
document per resource, not one per scope, because Elasticsearch's create-only write
(`PUT _create`, 409 when the document exists) is then the claim itself: of two scopes that
try to take one resource, exactly one wins, whatever the timing, so two scopes can never act
on the same resource. The scope's member set is the documents whose `scope` is its name.

Order of writes (see the planner): a member is added before the resource is created or adopted,
and removed after it was deleted, so a crash in between leaves at worst a member without a
resource (which the next plan removes), never a resource that a scope would prune unplanned.

Writes use `refresh=true`: searches are near-real-time in Elasticsearch, and the next plan's
single search must see every claim made before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.client import api
from reconciler.errors import MlsyncError
from reconciler.model import Call, Kind, Ref

REGISTRY_INDEX = "mlsync-registry"
#: The scope of a `--scope`-less run without `--env`, and the one the old global marker
#: (`managed_by: mlsync` without a registry entry) migrates into.
DEFAULT_SCOPE = "default"
#: Largest page Elasticsearch serves (`from + size` <= 10 000).
PAGE = 10_000

#: Scope names are document ids and appear in messages: a plain, short word.
_SCOPE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class RegistryError(MlsyncError):
    """The registry on the cluster holds something mlsync did not write."""


def check_scope(name: str) -> str:
    """Validate a scope name; raises `MlsyncError` saying what a name may be."""
    if not _SCOPE_NAME.match(name) or ".." in name:
        raise MlsyncError(
            f"scope name {name!r} is not valid: use 1-64 lowercase letters, digits, '_', '-' "
            "or '.', starting with a letter or digit (for example --scope prod)"
        )
    return name


def entry_id(ref: Ref) -> str:
    """The registry document id of a resource: `AnomalyDetectionJob:transactions`."""
    return f"{ref.kind.value}:{ref.id}"


@dataclass(frozen=True)
class Registry:
    """Who owns what: resource -> scope name (resources nobody registered are absent)."""

    owners: dict[Ref, str] = field(default_factory=dict)

    def members(self, scope: str) -> set[Ref]:
        """The resources `scope` owns."""
        return {ref for ref, owner in self.owners.items() if owner == scope}


def search_call() -> Call:
    """One search over the registry (a wildcard, so a missing index is an empty answer).

    A GET without a body (match_all is the default query), like every other read of a plan.
    """
    return Call(method="GET", path=f"/{REGISTRY_INDEX}*/_search", params={"size": str(PAGE)})


def parse_registry(answer: Any) -> Registry:
    """The `Registry` from the search answer; entries mlsync did not write are errors."""
    found = answer.get("hits") if isinstance(answer, dict) else None
    found = found if isinstance(found, dict) else {}
    hits: list[Any] = found["hits"] if isinstance(found.get("hits"), list) else []
    total = found.get("total")
    if isinstance(total, dict) and isinstance(total.get("value"), int) and total["value"] > PAGE:
        raise RegistryError(
            f"the ownership registry {REGISTRY_INDEX} holds more than {PAGE} members, more "
            "than mlsync reads in one request; remove members of scopes no longer used "
            "(mlsync destroy --scope NAME)"
        )
    owners: dict[Ref, str] = {}
    problems: list[str] = []
    for hit in hits:
        source = hit.get("_source") if isinstance(hit, dict) else None
        doc_id = hit.get("_id") if isinstance(hit, dict) else None
        try:
            if not isinstance(source, dict):
                raise ValueError("no source")
            ref = Ref(kind=Kind(str(source.get("kind"))), id=str(source.get("id")))
            scope = source.get("scope")
            if not isinstance(scope, str) or not scope or entry_id(ref) != doc_id:
                raise ValueError("bad scope or id")
        except ValueError:
            problems.append(str(doc_id))
            continue
        owners[ref] = scope
    if problems:
        raise RegistryError(
            f"the ownership registry {REGISTRY_INDEX} holds documents mlsync did not write: "
            f"{', '.join(sorted(problems)[:5])}; delete them from {REGISTRY_INDEX} (each must "
            "be {kind, id, scope} with the id <Kind>:<id>)"
        )
    return Registry(owners=owners)


def _refreshed(call: Call) -> Call:
    return call.model_copy(update={"params": {**call.params, "refresh": "true"}})


def add_member_call(ref: Ref, scope: str) -> Call:
    """Claim `ref` for `scope` (create-only: 409 when any scope already has it)."""
    body = {"kind": ref.kind.value, "id": ref.id, "scope": scope}
    return _refreshed(api.create_document(REGISTRY_INDEX, entry_id(ref), body))


def remove_member_call(ref: Ref) -> Call:
    """Remove `ref` from its scope's member set (after it was deleted)."""
    return _refreshed(api.delete_document(REGISTRY_INDEX, entry_id(ref)))
