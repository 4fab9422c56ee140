"""The ownership registry: which scope owns which resource, kept on the cluster.

Input: the answer of the registry search (read by `reconciler.cluster`), resources and scope
names. Output: a `Registry` value and the `Call`s that add, rewrite or remove a member. Pure,
no I/O.

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

A job's document also carries, while a replace is under way, the calendars the job must
rejoin (`restore_calendars`). Elasticsearch removes a deleted job from every calendar (§1.7),
so a replace deletes memberships that no manifest may declare (a calendar made by hand). The
list is written before the old job's delete and removed once the new job is back in every
calendar: whatever dies in between (a kill, a 500), the next plan reads it from the cluster and
puts the job back. It lives here, not on the job, because the job does not exist between its
delete and its re-create.

Writes use `refresh=true`: searches are near-real-time in Elasticsearch, and the next plan's
single search must see every claim made before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.client import api
from reconciler.errors import MlsyncError
from reconciler.model import Call, Kind, Ref

REGISTRY_INDEX = "mlsync-registry"
#: A job's pending calendar memberships in its member document (see above).
RESTORE_FIELD = "restore_calendars"
#: The scope of a `--scope`-less run without `--env`, and the one the old global marker
#: (`managed_by: mlsync` without a registry entry) migrates into.
DEFAULT_SCOPE = "default"
#: Largest page Elasticsearch serves from an index with the default settings
#: (`index.max_result_window`, 10 000).
PAGE = 10_000
#: Members one plan reads in one search: the registry index is made with this
#: `index.max_result_window` (`settings_calls`), so a fleet of any size costs one request.
#: Elasticsearch sizes the search's collector by the smaller of this and the documents the
#: index holds, so a large window on a small index costs nothing.
WINDOW = 1_000_000
#: How Elasticsearch refuses a search beyond the window (DefaultSearchContext.preProcess).
_WINDOW_REFUSED = "Result window is too large"

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
    #: Jobs with a pending restore record: job -> the calendars it must rejoin.
    restores: dict[Ref, list[str]] = field(default_factory=dict)

    def members(self, scope: str) -> set[Ref]:
        """The resources `scope` owns."""
        return {ref for ref, owner in self.owners.items() if owner == scope}


def search_call(size: int = WINDOW) -> Call:
    """One search over the registry (a wildcard, so a missing index is an empty answer).

    A GET without a body (match_all is the default query), like every other read of a plan.
    `track_total_hits=true`: Elasticsearch counts only up to 10 000 hits by default, and the
    exact total is what proves that the answer holds every member.
    """
    params = {"size": str(size), "track_total_hits": "true"}
    return Call(method="GET", path=f"/{REGISTRY_INDEX}*/_search", params=params)


def is_window_refusal(status: int, reason: str) -> bool:
    """Is this the answer to a search beyond the index's `max_result_window`?

    A registry index made before mlsync set the window (or by hand) keeps the default 10 000.
    """
    return status == 400 and _WINDOW_REFUSED in reason


def settings_calls() -> tuple[Call, Call]:
    """The registry's window: the settings update, and the index creation when it is missing.

    Apply sends the first before it writes a member; a 404 (no registry yet) sends the second.
    """
    settings = {"index": {"max_result_window": WINDOW}}
    return (
        Call(method="PUT", path=f"/{REGISTRY_INDEX}/_settings", body=settings),
        Call(method="PUT", path=f"/{REGISTRY_INDEX}", body={"settings": settings}),
    )


def writes_registry(calls: Iterable[Call]) -> bool:
    """Does any of these calls write a registry document?"""
    return any(call.path.startswith(f"/{REGISTRY_INDEX}/") for call in calls)


def parse_registry(answer: Any, size: int = WINDOW) -> Registry:
    """The `Registry` from the search answer; entries mlsync did not write are errors.

    `size`: the hits the search asked for. An answer with fewer hits than its total is
    refused: a member left unread would look like a resource nobody owns.
    """
    found = answer.get("hits") if isinstance(answer, dict) else None
    found = found if isinstance(found, dict) else {}
    hits: list[Any] = found["hits"] if isinstance(found.get("hits"), list) else []
    total = found.get("total")
    value = total.get("value") if isinstance(total, dict) else total
    if isinstance(value, int) and not isinstance(value, bool) and value > len(hits):
        if value > size and size < WINDOW:
            raise RegistryError(
                f"the ownership registry {REGISTRY_INDEX} holds {value} members, but one search "
                f"of it returns at most {size} (it was made without mlsync's settings); raise "
                f"its window: PUT /{REGISTRY_INDEX}/_settings "
                f'{{"index": {{"max_result_window": {WINDOW}}}}}'
            )
        raise RegistryError(
            f"the ownership registry {REGISTRY_INDEX} holds {value} members, but its search "
            f"answered {len(hits)}; mlsync reads at most {WINDOW} in one request: remove "
            "members of scopes no longer used (mlsync destroy --scope NAME)"
        )
    owners: dict[Ref, str] = {}
    restores: dict[Ref, list[str]] = {}
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
            record = _restore_record(ref, source.get(RESTORE_FIELD))
        except ValueError:
            problems.append(str(doc_id))
            continue
        owners[ref] = scope
        if record:
            restores[ref] = record
    if problems:
        raise RegistryError(
            f"the ownership registry {REGISTRY_INDEX} holds documents mlsync did not write: "
            f"{', '.join(sorted(problems)[:5])}; delete them from {REGISTRY_INDEX} (each must "
            "be {kind, id, scope} with the id <Kind>:<id>; a job's may add restore_calendars, "
            "a list of calendar ids)"
        )
    return Registry(owners=owners, restores=restores)


def _restore_record(ref: Ref, value: Any) -> list[str]:
    """A document's restore record: absent, or a job's list of calendar ids."""
    if value is None:
        return []
    if ref.kind is not Kind.JOB or not isinstance(value, list):
        raise ValueError("bad restore record")
    if not all(isinstance(c, str) and c for c in value):
        raise ValueError("bad restore record")
    return sorted(set(value))


def _refreshed(call: Call) -> Call:
    return call.model_copy(update={"params": {**call.params, "refresh": "true"}})


def add_member_call(ref: Ref, scope: str) -> Call:
    """Claim `ref` for `scope` (create-only: 409 when any scope already has it)."""
    body = {"kind": ref.kind.value, "id": ref.id, "scope": scope}
    return _refreshed(api.create_document(REGISTRY_INDEX, entry_id(ref), body))


def remove_member_call(ref: Ref) -> Call:
    """Remove `ref` from its scope's member set (after it was deleted)."""
    return _refreshed(api.delete_document(REGISTRY_INDEX, entry_id(ref)))


def member_call(ref: Ref, scope: str, restore_calendars: list[str] | None = None) -> Call:
    """Write `ref`'s member document whole: with a restore record, or (None, empty) without.

    A plain index, not a claim: it is written only for a job this scope owns and replaces.
    """
    body: dict[str, Any] = {"kind": ref.kind.value, "id": ref.id, "scope": scope}
    if restore_calendars:
        body[RESTORE_FIELD] = sorted(restore_calendars)
    return _refreshed(api.index_document(REGISTRY_INDEX, entry_id(ref), body))
