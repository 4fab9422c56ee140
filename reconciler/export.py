"""Export: the live state -> the manifest documents a person would have written for it.

Input: a `LiveState` (from `reconciler.cluster`), the ids of the datafeeds whose `query_delay`
Elasticsearch itself calls generated, and what to export (target patterns, the scope).
Output: `ExportedFile`s, each a relative path and its documents as plain data. Pure, no I/O.

Why the round trip holds: the canonical form of `reconciler.normalize` is the planner's notion
of "equal". A field is left out of an exported spec only when leaving it out gives the very same
canonical body (`_minimise`), so every server default, every spelling the server added and every
generated field disappears, while everything a user chose stays. `mlsync plan` of an export then
shows no field change. Three kinds of values are generated rather than defaulted, and so
invisible to the canonical form; each is dropped only when it equals what the server would
generate again: detector descriptions (DefaultDetectorDescription, es-ml-api.md §1.3), the
`model_prune_window` default (§1.2), and a datafeed `query_delay` derived from the job id
(§2.2), which Elasticsearch names itself in its `exclude_generated` output (§2.3).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler import ownership
from reconciler.model import Kind, LiveState, Ref, Resource
from reconciler.normalize import (
    DATAFEED_GENERATED,
    DFA_GENERATED,
    JOB_GENERATED,
    ServerDefaults,
    canonical,
    canonical_duration,
    canonical_event_time,
    default_categorization_analyzer,
)
from reconciler.targets import Target
from reconciler.units import parse_duration_ms

Body = dict[str, Any]

#: The header line that points editors at the manifest schema (yaml-language-server).
SCHEMA_HEADER = "# yaml-language-server: $schema={path}"

#: Where each kind's files go under the export directory.
DIRECTORY: dict[Kind, str] = {
    Kind.JOB: "anomaly_detection",
    Kind.DFA: "data_frame_analytics",
    Kind.FILTER: "filters",
    Kind.CALENDAR: "calendars",
}

#: Objects the user writes verbatim (queries, scripts, free metadata): never pruned inside.
OPAQUE = frozenset(
    {
        "query",
        "aggregations",
        "aggs",
        "runtime_mappings",
        "script_fields",
        "custom_settings",
        "_meta",
        "categorization_analyzer",
    }
)

#: Run states folded into the state they are heading for; anything else (failed) is left out.
STATE_FOLD: dict[Kind, dict[str, str]] = {
    Kind.JOB: {"opened": "opened", "opening": "opened", "closed": "closed", "closing": "closed"},
    Kind.DATAFEED: {
        "started": "started",
        "starting": "started",
        "stopped": "stopped",
        "stopping": "stopped",
    },
    Kind.DFA: {
        "started": "started",
        "starting": "started",
        "reindexing": "started",
        "analyzing": "started",
        "stopped": "stopped",
        "stopping": "stopped",
    },
}

#: Fields the create API requires, so kept even when empty (`data_description: {}`).
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.JOB: ("analysis_config", "data_description"),
    Kind.DATAFEED: ("job_id", "indices"),
    Kind.DFA: ("source", "dest", "analysis"),
    Kind.FILTER: (),
    Kind.CALENDAR: (),
}

_WORD = re.compile(r"^\w+$")
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class ExportedFile:
    """One manifest file: its path relative to the export directory and its documents."""

    path: str
    documents: tuple[Body, ...]


@dataclass(frozen=True)
class Export:
    """What an export produced, and what it left out and why (one line per resource)."""

    files: tuple[ExportedFile, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- selection


def matches(ref: Ref, targets: Sequence[Target]) -> bool:
    """Is `ref` selected? Everything when no target is given (same syntax as `--target`)."""
    return not targets or any(target.matches(ref) for target in targets)


# ----------------------------------------------------------------------------- minimising


def _without(body: Body, path: tuple[str | int, ...]) -> Body:
    out = copy.deepcopy(body)
    node: Any = out
    for segment in path[:-1]:
        node = node[segment]
    del node[path[-1]]
    return out


def _get(body: Any, path: tuple[str | int, ...]) -> Any:
    for segment in path:
        body = body[segment]
    return body


def _minimise(kind: Kind, body: Body, defaults: ServerDefaults) -> Body:
    """Drop every field whose absence gives the same canonical body (defaults, spellings)."""
    target = canonical(kind, body, defaults)
    current = copy.deepcopy(body)
    kept = set(REQUIRED[kind])

    def try_drop(path: tuple[str | int, ...]) -> bool:
        nonlocal current
        trial = _without(current, path)
        if canonical(kind, trial, defaults) != target:
            return False
        current = trial
        return True

    def visit(path: tuple[str | int, ...]) -> None:
        node = _get(current, path)
        if isinstance(node, dict):
            for key in list(node):
                sub = (*path, key)
                required = not path and key in kept
                if (not required and try_drop(sub)) or key in OPAQUE:
                    continue
                visit(sub)
                if not required and _get(current, sub) in ({}, []):
                    try_drop(sub)  # emptied by its children's removal
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict):
                    visit((*path, index))

    visit(())
    return current


# ----------------------------------------------------------------------------- generated values


def default_detector_description(detector: Body) -> str:
    """DefaultDetectorDescription (es-ml-api.md §1.3): `fn(field) by X over Y partitionfield=Z`."""

    def quote(name: str) -> str:
        return name if _WORD.match(name) else '"' + name.replace('"', '\\"') + '"'

    text = str(detector.get("function"))
    if detector.get("field_name"):
        text += f"({quote(str(detector['field_name']))})"
    for key, label in (
        ("by_field_name", " by "),
        ("over_field_name", " over "),
        ("partition_field_name", " partitionfield="),
    ):
        if detector.get(key):
            text += f"{label}{quote(str(detector[key]))}"
    if detector.get("use_null"):
        text += " usenull=true"
    if detector.get("exclude_frequent"):
        text += f" excludefrequent={detector['exclude_frequent']}"
    return text


def _default_prune_window(config: Body) -> str | None:
    """max(30d, 20 x bucket_span), in canonical spelling (es-ml-api.md §1.2)."""
    try:
        span = parse_duration_ms(str(config.get("bucket_span", "5m")))
    except ValueError:
        return None
    return str(canonical_duration(f"{max(30 * 86_400_000, 20 * span)}ms"))


def _job_spec(res: Resource, defaults: ServerDefaults) -> Body:
    body = {k: v for k, v in res.body.items() if k not in JOB_GENERATED}
    body = ownership.without_marker(Kind.JOB, body)
    settings = body.get("custom_settings")
    if isinstance(settings, dict):
        # Kibana's wizard name; Elasticsearch's own export drops it too (§1.1).
        body["custom_settings"] = {k: v for k, v in settings.items() if k != "created_by"}
    config = copy.deepcopy(body.get("analysis_config"))
    if isinstance(config, dict):
        for detector in config.get("detectors") or []:
            if not isinstance(detector, dict):
                continue
            detector.pop("detector_index", None)
            if detector.get("detector_description") == default_detector_description(detector):
                del detector["detector_description"]
        window = config.get("model_prune_window")
        if window is not None and canonical_duration(window) == _default_prune_window(config):
            del config["model_prune_window"]
        _fold_analyzer(config)
        body["analysis_config"] = config
    return _minimise(Kind.JOB, body, defaults)


def _fold_analyzer(config: Body) -> None:
    """The default analyzer ES stores for categorization filters, back into the filters (§1.2)."""
    analyzer = config.get("categorization_analyzer")
    if not isinstance(analyzer, dict) or not config.get("categorization_field_name"):
        return
    chars = analyzer.get("char_filter")
    if not isinstance(chars, list) or not chars:
        return
    patterns = [c.get("pattern") for c in chars[1:] if isinstance(c, dict)]
    if len(patterns) != len(chars) - 1 or not all(isinstance(p, str) for p in patterns):
        return
    if analyzer == default_categorization_analyzer([str(p) for p in patterns]):
        del config["categorization_analyzer"]
        if patterns:
            config["categorization_filters"] = patterns


def _datafeed_spec(res: Resource, defaults: ServerDefaults, generated_delay: bool) -> Body:
    body = {k: v for k, v in res.body.items() if k not in DATAFEED_GENERATED}
    if generated_delay:
        body.pop("query_delay", None)
    spec = _minimise(Kind.DATAFEED, body, defaults)
    spec.pop("job_id", None)  # implied by the job it is declared in
    return spec


def _dfa_spec(res: Resource, defaults: ServerDefaults) -> Body:
    body = {k: v for k, v in res.body.items() if k not in DFA_GENERATED}
    return _minimise(Kind.DFA, ownership.without_marker(Kind.DFA, body), defaults)


def _event_time(value: Any) -> Any:
    """Epoch ms as ISO 8601 in UTC when whole seconds (exact both ways), else as it is."""
    ms = canonical_event_time(value)
    if isinstance(ms, int) and not isinstance(ms, bool) and ms % 1000 == 0:
        moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ms


def _calendar_spec(res: Resource, defaults: ServerDefaults) -> Body:
    body = {k: v for k, v in res.body.items() if k not in ("calendar_id", "events")}
    spec = _minimise(Kind.CALENDAR, body, defaults)
    events = []
    for event in res.body.get("events") or []:
        if not isinstance(event, dict):
            continue
        out = {k: v for k, v in event.items() if k not in ("event_id", "calendar_id")}
        for key in ("start_time", "end_time"):
            if key in out:
                out[key] = _event_time(out[key])
        for flag in ("skip_result", "skip_model_update"):
            if out.get(flag) is True:  # the default (§4.2)
                del out[flag]
        events.append(out)
    if events:
        spec["events"] = sorted(events, key=lambda e: (str(e.get("start_time")), str(e)))
    return spec


def _escape_templates(value: Any) -> Any:
    """Manifests are Jinja templates: a literal `{{` from the cluster must stay literal."""
    if isinstance(value, str):
        if any(marker in value for marker in _TEMPLATE_MARKERS) and "endraw" not in value:
            return "{% raw %}" + value + "{% endraw %}"
        return value
    if isinstance(value, dict):
        return {k: _escape_templates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_templates(v) for v in value]
    return value


def _with_state(doc: Body, res: Resource) -> Body:
    """`state:` from the live run state, placed before `spec:` as people write it."""
    state = STATE_FOLD.get(res.ref.kind, {}).get(res.state or "")
    if not state:
        return doc
    head = {k: v for k, v in doc.items() if k in ("kind", "id")}
    return {**head, "state": state, **{k: v for k, v in doc.items() if k not in head}}


def _document(kind: Kind, ident: str, spec: Body) -> Body:
    return {"kind": kind.value, "id": ident, "spec": spec}


def _filter_spec(res: Resource, defaults: ServerDefaults) -> Body:
    return _minimise(Kind.FILTER, {k: v for k, v in res.body.items() if k != "filter_id"}, defaults)


def _resource_document(
    res: Resource, feed: Resource | None, defaults: ServerDefaults, generated_delay: bool
) -> Body:
    """The manifest document of one resource (a job with its datafeed inline)."""
    ref = res.ref
    if ref.kind is not Kind.JOB:
        spec = {Kind.DFA: _dfa_spec, Kind.FILTER: _filter_spec, Kind.CALENDAR: _calendar_spec}[
            ref.kind
        ](res, defaults)
        return _with_state(_document(ref.kind, ref.id, spec), res)
    doc = _with_state(_document(ref.kind, ref.id, _job_spec(res, defaults)), res)
    if feed is not None:
        # The `datafeed:` envelope defaults its id to `datafeed-<job id>`, as the loader does.
        inline: Body = {} if feed.ref.id == f"datafeed-{ref.id}" else {"id": feed.ref.id}
        inline = _with_state(inline, feed)
        inline["spec"] = _datafeed_spec(feed, defaults, generated_delay)
        doc["datafeed"] = inline
    return doc


# ----------------------------------------------------------------------------- entry point


def export_state(
    live: LiveState,
    *,
    patterns: Sequence[Target] = (),
    generated_query_delay: frozenset[str] = frozenset(),
    foreign: dict[Ref, str] | None = None,
) -> Export:
    """Manifest documents for the live resources that match `patterns`, one file per resource.

    A job's file holds its datafeed (`datafeed:`); selecting either brings both. Resources that
    mlsync may never manage from this scope are left out and listed in `Export.skipped`:
    Elastic-managed jobs and their datafeeds, and resources owned by another scope (`foreign`,
    resource -> owning scope).
    """
    defaults = ServerDefaults(
        job_model_memory_limit_mb=live.job_model_memory_limit_mb,
        dfa_model_memory_limit_bytes=live.dfa_model_memory_limit_bytes,
    )
    resources = live.resources
    owners = foreign or {}
    feeds: dict[str, Resource] = {
        str(res.body.get("job_id")): res
        for res in resources.values()
        if res.ref.kind is Kind.DATAFEED
    }
    selected: set[Ref] = {ref for ref in resources if matches(ref, patterns)}
    selected |= {Ref(kind=Kind.JOB, id=j) for j, f in feeds.items() if f.ref in selected}
    files: list[ExportedFile] = []
    skipped: list[str] = []
    for ref in sorted(selected, key=lambda r: r.sort_key):
        res = resources.get(ref)
        if res is None or ref.kind is Kind.DATAFEED:
            continue
        if res.elastic_managed:
            skipped.append(f"{ref}: managed by Elastic (custom_settings.managed: true)")
            continue
        if ref in owners:
            skipped.append(f"{ref}: owned by scope '{owners[ref]}'")
            continue
        own_feed = feeds.get(ref.id) if ref.kind is Kind.JOB else None
        generated = own_feed is not None and own_feed.ref.id in generated_query_delay
        doc = _resource_document(res, own_feed, defaults, generated)
        files.append(
            ExportedFile(
                path=f"{DIRECTORY[ref.kind]}/{ref.id}.yaml", documents=(_escape_templates(doc),)
            )
        )
    return Export(files=tuple(files), skipped=tuple(skipped))
