"""Ownership markers: the marks mlsync leaves on the resources it owns, where ES has a place.

Input: resource bodies. Output: booleans and marked bodies. Pure, no I/O.

Elasticsearch has free-form metadata on two kinds only, so that is where the marker lives:
- anomaly detection jobs: `custom_settings.managed_by: mlsync` (es-ml-api.md §1.1: an arbitrary
  object, replaced whole by `_update`, so every update re-sends the marker);
- data frame analytics: `_meta.managed_by: mlsync` (§3.1: echoed verbatim; immutable after create);
- a datafeed follows its job.
Beside `managed_by`, the owning scope is recorded as `mlsync_scope`. Filters and calendars have no
metadata field. Which scope owns a resource is decided by the registry (`reconciler.registry`),
for every kind; a marker without a registry entry is the mark of mlsync versions before scopes,
owned by the default scope.

Elastic-managed jobs (`custom_settings.managed: true`, e.g. created by Kibana modules or
Security) are never modified, whatever the manifests say (ARCHITECTURE.md, safety rules).
"""

from __future__ import annotations

from typing import Any

from reconciler.model import Kind

MARKER_KEY = "managed_by"
MARKER_VALUE = "mlsync"
SCOPE_KEY = "mlsync_scope"
#: A replaced job's calendar memberships still to restore, kept in the new job's own
#: `custom_settings` until they are restored: the next plan re-derives them from the cluster
#: if the re-add failed or the process died (ES removes a deleted job from every calendar).
RESTORE_KEY = "mlsync_restore_calendars"
#: Keys of mlsync's own bookkeeping in a metadata object (never part of a manifest's body).
OWN_KEYS = frozenset({MARKER_KEY, SCOPE_KEY, RESTORE_KEY})

#: Where each kind keeps its free-form metadata object.
METADATA_FIELD: dict[Kind, str] = {Kind.JOB: "custom_settings", Kind.DFA: "_meta"}


def is_marked(kind: Kind, body: dict[str, Any]) -> bool:
    """True when the body carries mlsync's ownership marker."""
    field = METADATA_FIELD.get(kind)
    if field is None:
        return False
    meta = body.get(field)
    return isinstance(meta, dict) and meta.get(MARKER_KEY) == MARKER_VALUE


def is_elastic_managed(kind: Kind, body: dict[str, Any]) -> bool:
    """True for Elastic-managed jobs (`custom_settings.managed: true`)."""
    if kind is not Kind.JOB:
        return False
    settings = body.get("custom_settings")
    return isinstance(settings, dict) and settings.get("managed") is True


def with_marker(kind: Kind, body: dict[str, Any], scope: str | None = None) -> dict[str, Any]:
    """Return a copy of `body` with the ownership marker (and scope) added; other kinds as is."""
    field = METADATA_FIELD.get(kind)
    if field is None:
        return dict(body)
    meta = dict(body.get(field) or {})
    meta[MARKER_KEY] = MARKER_VALUE
    if scope is not None:
        meta[SCOPE_KEY] = scope
    return {**body, field: meta}


def without_marker(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `body` without mlsync's own keys and without an emptied metadata object.

    Its own keys are the ownership marker and a pending restore record (`OWN_KEYS`).
    """
    field = METADATA_FIELD.get(kind)
    if field is None or not isinstance(body.get(field), dict):
        return dict(body)
    meta = {k: v for k, v in body[field].items() if k not in OWN_KEYS}
    out = {k: v for k, v in body.items() if k != field}
    if meta:
        out[field] = meta
    return out


def pending_calendars(body: dict[str, Any]) -> list[str]:
    """The calendars a job's restore record says it must rejoin (empty when none)."""
    settings = body.get("custom_settings")
    record = settings.get(RESTORE_KEY) if isinstance(settings, dict) else None
    if not isinstance(record, list):
        return []
    return sorted({c for c in record if isinstance(c, str)})
