"""The request catalogue the planner uses: one pure function per endpoint, returning a `Call`.

Input: ids, query parameters and bodies. Output: `Call` values (method, path, query, body) plus
pure facts about them (`describe`, `classify`, create confirmation). No I/O: the planner puts
these values into plans, and the sync/async clients send them.

The functions only adapt the planner's calling convention (positional ids, one body mapping)
to the generated endpoint table (`reconciler.client.endpoints`), which decides paths, methods
and encodings for the client's namespaces as well: path segments are URL-quoted (keeping `,`
and `*` readable, since multi-id expressions use them, es-ml-api.md §0.4) and booleans are
sent as `"true"`/`"false"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import unquote, urlencode

from reconciler.client.endpoint import build_call
from reconciler.client.endpoints import ENDPOINTS
from reconciler.model import Call as Call

Method = Literal["GET", "PUT", "POST", "DELETE", "HEAD"]


# `Call` (re-exported here) is defined in the leaf module reconciler.model so plans can carry it.


def describe(call: Call) -> str:
    """Render a call as a reviewer reads it: `POST /_ml/anomaly_detectors/x/_close?force=true`."""
    if call.params:
        return f"{call.method} {call.path}?{urlencode(sorted(call.params.items()))}"
    return f"{call.method} {call.path}"


def describe_with_body(call: Call) -> str:
    """`describe(call)` followed by the JSON body on one line, when there is one."""
    if call.body is None:
        return describe(call)
    return f"{describe(call)} {json.dumps(call.body, sort_keys=True, separators=(',', ':'))}"


# --------------------------------------------------------------------------- builders


def _build(endpoint: str, **arguments: Any) -> Call:
    """The `Call` of `endpoint` (its name in the generated table) for these arguments."""
    return build_call(ENDPOINTS[endpoint], arguments)


def _dict(body: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(body) if body else {}


# The planner, the reader and the executor build their calls with these functions (positional
# arguments, bodies as one mapping); the paths, methods and parameter encodings all come from
# the endpoint table that the client's namespaces use too.

DFA = "/_ml/data_frame/analytics"


# --------------------------------------------------------------------------- cluster


def info() -> Call:
    """`GET /`: cluster name, uuid, version and build flavour."""
    return _build("info")


def license() -> Call:
    """`GET /_license`: licence type and status."""
    return _build("license.get")


def ml_info() -> Call:
    """`GET /_ml/info`: ML defaults, limits and upgrade mode (es-ml-api.md §7)."""
    return _build("ml.info")


def search(
    index: str | Sequence[str] | None = None, body: Mapping[str, Any] | None = None, **params: Any
) -> Call:
    """`POST /{index}/_search`: DFA results are read from the destination index."""
    return _build("search", index=index or None, body=_dict(body), **params)


def field_caps(
    index: str | Sequence[str],
    fields: Sequence[str],
    runtime_mappings: Mapping[str, Any] | None = None,
) -> Call:
    """`GET|POST /{index}/_field_caps`: which of `fields` are mapped, with what capabilities.

    Missing indices are skipped (`ignore_unavailable`) so one answer covers a whole index set;
    `runtime_mappings` (a datafeed's) are sent in the body, as the datafeed's search would.
    """
    return _build(
        "field_caps",
        index=index,
        fields=list(fields),
        ignore_unavailable=True,
        allow_no_indices=True,
        runtime_mappings=dict(runtime_mappings) if runtime_mappings else None,
    )


def resolve_index(name: str | Sequence[str]) -> Call:
    """`GET /_resolve/index/{name}`: the indices, aliases and data streams an expression names."""
    return _build(
        "indices.resolve_index", name=name, ignore_unavailable=True, allow_no_indices=True
    )


def count(index: str | Sequence[str]) -> Call:
    """`GET /{index}/_count`: how many documents an index holds (404 when it does not exist)."""
    return _build("count", index=index)


def delete_index(index: str) -> Call:
    """`DELETE /{index}`: a replaced DFA's destination index (its first start needs it empty)."""
    return _build("indices.delete", index=index)


# --------------------------------------------------------------------------- documents (apply lock)


def create_document(index: str, id: str, body: Mapping[str, Any]) -> Call:
    """`PUT /{index}/_create/{id}`: create only; 409 if the document exists."""
    return _build("create", index=index, id=id, document=dict(body))


def get_document(index: str, id: str) -> Call:
    """`GET /{index}/_doc/{id}` (real-time, no refresh needed)."""
    return _build("get", index=index, id=id)


def index_document(
    index: str,
    id: str,
    body: Mapping[str, Any],
    if_seq_no: int | None = None,
    if_primary_term: int | None = None,
) -> Call:
    """`PUT /{index}/_doc/{id}`, optionally conditional on `if_seq_no`/`if_primary_term`."""
    return _build(
        "index",
        index=index,
        id=id,
        document=dict(body),
        if_seq_no=if_seq_no,
        if_primary_term=if_primary_term,
    )


def delete_document(
    index: str, id: str, if_seq_no: int | None = None, if_primary_term: int | None = None
) -> Call:
    """`DELETE /{index}/_doc/{id}`, optionally conditional."""
    return _build(
        "delete", index=index, id=id, if_seq_no=if_seq_no, if_primary_term=if_primary_term
    )


def bulk(index: str, operations: Sequence[Mapping[str, Any]], **params: Any) -> Call:
    """`POST /{index}/_bulk`: action lines, each `index`/`create` followed by its source.

    The body is the NDJSON line list; send it with `perform(call, ndjson=True)`. Items are
    independent: the answer is a 200 with `errors: true` when some failed, one item per
    operation in request order (Elasticsearch's TransportBulkAction / BulkItemResponse).
    """
    call = _build("bulk", index=index, operations=[dict(op) for op in operations], **params)
    # The table allows PUT and POST; POST is the method Elasticsearch documents first.
    return call.model_copy(update={"method": "POST"})


#: The actions of a bulk request, and those that carry a source line after them.
BULK_ACTIONS = ("index", "create", "update", "delete")
_WITH_SOURCE = ("index", "create", "update")


def bulk_actions(body: Any) -> list[str] | None:
    """The action of each operation of a bulk body (a list of lines), or None if malformed."""
    if not isinstance(body, list):
        return None
    actions: list[str] = []
    lines = iter(body)
    for line in lines:
        if not (isinstance(line, Mapping) and len(line) == 1):
            return None
        (action,) = line
        if action not in BULK_ACTIONS:
            return None
        actions.append(str(action))
        if action in _WITH_SOURCE and next(lines, None) is None:
            return None
    return actions


# --------------------------------------------------------------------------- anomaly detection jobs


def put_job(job_id: str, body: Mapping[str, Any], **params: Any) -> Call:
    """`PUT /_ml/anomaly_detectors/{job_id}` (es-ml-api.md §1.1)."""
    return _build("ml.put_job", job_id=job_id, body=dict(body), **params)


def get_jobs(
    job_id: str | Sequence[str] | None = None,
    allow_no_match: bool | None = None,
    exclude_generated: bool | None = None,
) -> Call:
    """`GET /_ml/anomaly_detectors[/{job_id}]`; jobs are not paged (max 10 000, §1)."""
    return _build(
        "ml.get_jobs",
        job_id=job_id or None,
        allow_no_match=allow_no_match,
        exclude_generated=exclude_generated,
    )


def get_job_stats(
    job_id: str | Sequence[str] | None = None, allow_no_match: bool | None = None
) -> Call:
    """`GET /_ml/anomaly_detectors[/{job_id}]/_stats` (run state lives here, §6.1)."""
    return _build("ml.get_job_stats", job_id=job_id or None, allow_no_match=allow_no_match)


def update_job(job_id: str, body: Mapping[str, Any]) -> Call:
    """`POST /_ml/anomaly_detectors/{job_id}/_update` (JobUpdate fields, §1.6)."""
    return _build("ml.update_job", job_id=job_id, body=dict(body))


def delete_job(
    job_id: str,
    force: bool | None = None,
    wait_for_completion: bool | None = None,
    delete_user_annotations: bool | None = None,
) -> Call:
    """`DELETE /_ml/anomaly_detectors/{job_id}`; also deletes the job's datafeed (§1.7)."""
    return _build(
        "ml.delete_job",
        job_id=job_id,
        force=force,
        wait_for_completion=wait_for_completion,
        delete_user_annotations=delete_user_annotations,
    )


def open_job(job_id: str, timeout: str | None = None) -> Call:
    """`POST .../{job_id}/_open`; 409 if already opened (not idempotent, §5.1)."""
    return _build("ml.open_job", job_id=job_id, timeout=timeout)


def close_job(
    job_id: str | Sequence[str],
    force: bool | None = None,
    allow_no_match: bool | None = None,
    timeout: str | None = None,
) -> Call:
    """`POST .../{job_id}/_close`; closing a closed job is a 200 (§5.1)."""
    return _build(
        "ml.close_job", job_id=job_id, force=force, allow_no_match=allow_no_match, timeout=timeout
    )


def reset_job(
    job_id: str,
    wait_for_completion: bool | None = None,
    delete_user_annotations: bool | None = None,
) -> Call:
    """`POST .../{job_id}/_reset`; the job must be closed (§5.1)."""
    return _build(
        "ml.reset_job",
        job_id=job_id,
        wait_for_completion=wait_for_completion,
        delete_user_annotations=delete_user_annotations,
    )


def validate_job(body: Mapping[str, Any]) -> Call:
    """`POST /_ml/anomaly_detectors/_validate` (§7)."""
    return _build("ml.validate", body=dict(body))


def validate_detector(body: Mapping[str, Any]) -> Call:
    """`POST /_ml/anomaly_detectors/_validate/detector` (§7)."""
    return _build("ml.validate_detector", detector=dict(body))


def estimate_model_memory(body: Mapping[str, Any]) -> Call:
    """`POST /_ml/anomaly_detectors/_estimate_model_memory` (§7)."""
    return _build("ml.estimate_model_memory", body=dict(body))


# --------------------------------------------------------------------------- datafeeds


def put_datafeed(datafeed_id: str, body: Mapping[str, Any], **params: Any) -> Call:
    """`PUT /_ml/datafeeds/{datafeed_id}` (§2)."""
    return _build("ml.put_datafeed", datafeed_id=datafeed_id, body=dict(body), **params)


def get_datafeeds(
    datafeed_id: str | Sequence[str] | None = None,
    allow_no_match: bool | None = None,
    exclude_generated: bool | None = None,
) -> Call:
    """`GET /_ml/datafeeds[/{datafeed_id}]`; not paged (§2)."""
    return _build(
        "ml.get_datafeeds",
        datafeed_id=datafeed_id or None,
        allow_no_match=allow_no_match,
        exclude_generated=exclude_generated,
    )


def get_datafeed_stats(
    datafeed_id: str | Sequence[str] | None = None, allow_no_match: bool | None = None
) -> Call:
    """`GET /_ml/datafeeds[/{datafeed_id}]/_stats` (§6.2)."""
    return _build(
        "ml.get_datafeed_stats", datafeed_id=datafeed_id or None, allow_no_match=allow_no_match
    )


def update_datafeed(datafeed_id: str, body: Mapping[str, Any], **params: Any) -> Call:
    """`POST /_ml/datafeeds/{datafeed_id}/_update`; the datafeed must be stopped (§2.4)."""
    return _build("ml.update_datafeed", datafeed_id=datafeed_id, body=dict(body), **params)


def delete_datafeed(datafeed_id: str, force: bool | None = None) -> Call:
    """`DELETE /_ml/datafeeds/{datafeed_id}` (§2.5)."""
    return _build("ml.delete_datafeed", datafeed_id=datafeed_id, force=force)


def start_datafeed(
    datafeed_id: str,
    start: str | int | None = None,
    end: str | int | None = None,
    timeout: str | None = None,
) -> Call:
    """`POST /_ml/datafeeds/{datafeed_id}/_start`; 409 if already started (§5.2)."""
    return _build(
        "ml.start_datafeed", datafeed_id=datafeed_id, start=start, end=end, timeout=timeout
    )


def stop_datafeed(
    datafeed_id: str | Sequence[str],
    force: bool | None = None,
    allow_no_match: bool | None = None,
    timeout: str | None = None,
    close_job: bool | None = None,
) -> Call:
    """`POST /_ml/datafeeds/{datafeed_id}/_stop`; stopping a stopped datafeed is a 200."""
    return _build(
        "ml.stop_datafeed",
        datafeed_id=datafeed_id,
        force=force,
        allow_no_match=allow_no_match,
        timeout=timeout,
        close_job=close_job,
    )


def preview_datafeed(
    datafeed_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    start: str | int | None = None,
    end: str | int | None = None,
) -> Call:
    """`POST /_ml/datafeeds[/{id}]/_preview`; the answer is a top-level JSON array (§7)."""
    return _build(
        "ml.preview_datafeed", datafeed_id=datafeed_id or None, body=body, start=start, end=end
    )


# --------------------------------------------------------------------------- snapshots and results


def get_model_snapshots(job_id: str, snapshot_id: str | None = None, **params: Any) -> Call:
    """`GET .../{job_id}/model_snapshots[/{snapshot_id}]` (§8); paged with from/size."""
    return _build(
        "ml.get_model_snapshots", job_id=job_id, snapshot_id=snapshot_id or None, **params
    )


def update_model_snapshot(job_id: str, snapshot_id: str, body: Mapping[str, Any]) -> Call:
    """`POST .../model_snapshots/{snapshot_id}/_update` (§8)."""
    return _build(
        "ml.update_model_snapshot", job_id=job_id, snapshot_id=snapshot_id, body=dict(body)
    )


def delete_model_snapshot(job_id: str, snapshot_id: str) -> Call:
    """`DELETE .../model_snapshots/{snapshot_id}` (§8)."""
    return _build("ml.delete_model_snapshot", job_id=job_id, snapshot_id=snapshot_id)


def revert_model_snapshot(
    job_id: str, snapshot_id: str, delete_intervening_results: bool | None = None
) -> Call:
    """`POST .../model_snapshots/{snapshot_id}/_revert`; the job must be closed (§8)."""
    return _build(
        "ml.revert_model_snapshot",
        job_id=job_id,
        snapshot_id=snapshot_id,
        delete_intervening_results=delete_intervening_results,
    )


def get_buckets(job_id: str, timestamp: str | None = None, **params: Any) -> Call:
    """`GET .../{job_id}/results/buckets[/{timestamp}]` (§8); paged with from/size."""
    return _build("ml.get_buckets", job_id=job_id, timestamp=timestamp, **params)


def get_records(job_id: str, **params: Any) -> Call:
    """`GET .../{job_id}/results/records` (§8); default order record_score descending."""
    return _build("ml.get_records", job_id=job_id, **params)


def get_influencers(job_id: str, **params: Any) -> Call:
    """`GET .../{job_id}/results/influencers` (§8)."""
    return _build("ml.get_influencers", job_id=job_id, **params)


def get_categories(job_id: str, category_id: str | int | None = None, **params: Any) -> Call:
    """`GET .../{job_id}/results/categories[/{category_id}]` (§8)."""
    return _build("ml.get_categories", job_id=job_id, category_id=category_id, **params)


def get_overall_buckets(job_id: str | Sequence[str], **params: Any) -> Call:
    """`GET .../{job_id}/results/overall_buckets` (§8); job_id may be a list or group."""
    return _build("ml.get_overall_buckets", job_id=job_id, **params)


# --------------------------------------------------------------------------- data frame analytics


def put_data_frame_analytics(id: str, body: Mapping[str, Any]) -> Call:
    """`PUT /_ml/data_frame/analytics/{id}` (§3.1)."""
    return _build("ml.put_data_frame_analytics", id=id, body=dict(body))


def get_data_frame_analytics(
    id: str | Sequence[str] | None = None,
    allow_no_match: bool | None = None,
    from_: int | None = None,
    size: int | None = None,
    exclude_generated: bool | None = None,
) -> Call:
    """`GET /_ml/data_frame/analytics[/{id}]`; paged (from 0, size 100; §3)."""
    return _build(
        "ml.get_data_frame_analytics",
        id=id or None,
        allow_no_match=allow_no_match,
        from_=from_,
        size=size,
        exclude_generated=exclude_generated,
    )


def get_data_frame_analytics_stats(
    id: str | Sequence[str] | None = None,
    allow_no_match: bool | None = None,
    from_: int | None = None,
    size: int | None = None,
    verbose: bool | None = None,
) -> Call:
    """`GET /_ml/data_frame/analytics[/{id}]/_stats`; paged like GET (§6.3)."""
    return _build(
        "ml.get_data_frame_analytics_stats",
        id=id or None,
        allow_no_match=allow_no_match,
        from_=from_,
        size=size,
        verbose=verbose,
    )


def update_data_frame_analytics(id: str, body: Mapping[str, Any]) -> Call:
    """`POST /_ml/data_frame/analytics/{id}/_update` (four fields only, §3.3)."""
    return _build("ml.update_data_frame_analytics", id=id, body=dict(body))


def start_data_frame_analytics(id: str, timeout: str | None = None) -> Call:
    """`POST /_ml/data_frame/analytics/{id}/_start` (§3.4)."""
    return _build("ml.start_data_frame_analytics", id=id, timeout=timeout)


def stop_data_frame_analytics(
    id: str | Sequence[str],
    force: bool | None = None,
    allow_no_match: bool | None = None,
    timeout: str | None = None,
) -> Call:
    """`POST /_ml/data_frame/analytics/{id}/_stop`; stopping a stopped job is fine (§3.4)."""
    return _build(
        "ml.stop_data_frame_analytics",
        id=id,
        force=force,
        allow_no_match=allow_no_match,
        timeout=timeout,
    )


def delete_data_frame_analytics(
    id: str, force: bool | None = None, timeout: str | None = None
) -> Call:
    """`DELETE /_ml/data_frame/analytics/{id}`; the destination index is kept (§3.4)."""
    return _build("ml.delete_data_frame_analytics", id=id, force=force, timeout=timeout)


def explain_data_frame_analytics(
    id: str | None = None, body: Mapping[str, Any] | None = None
) -> Call:
    """`POST /_ml/data_frame/analytics[/{id}]/_explain` (§7)."""
    return _build("ml.explain_data_frame_analytics", id=id or None, body=body)


def preview_data_frame_analytics(
    id: str | None = None, body: Mapping[str, Any] | None = None
) -> Call:
    """`POST /_ml/data_frame/analytics[/{id}]/_preview` (§7)."""
    return _build("ml.preview_data_frame_analytics", id=id or None, body=body)


# --------------------------------------------------------------------------- filters


def put_filter(filter_id: str, body: Mapping[str, Any]) -> Call:
    """`PUT /_ml/filters/{filter_id}`; 400 if it exists (§4.1)."""
    return _build("ml.put_filter", filter_id=filter_id, body=dict(body))


def get_filters(
    filter_id: str | Sequence[str] | None = None,
    from_: int | None = None,
    size: int | None = None,
) -> Call:
    """`GET /_ml/filters[/{filter_id}]`; paged (from 0, size 100; §4.1)."""
    return _build("ml.get_filters", filter_id=filter_id or None, from_=from_, size=size)


def update_filter(filter_id: str, body: Mapping[str, Any]) -> Call:
    """`POST /_ml/filters/{filter_id}/_update` (`description`, `add_items`, `remove_items`)."""
    return _build("ml.update_filter", filter_id=filter_id, body=dict(body))


def delete_filter(filter_id: str) -> Call:
    """`DELETE /_ml/filters/{filter_id}`; 409 while a job uses it (§4.1)."""
    return _build("ml.delete_filter", filter_id=filter_id)


# --------------------------------------------------------------------------- calendars


def put_calendar(calendar_id: str, body: Mapping[str, Any] | None = None) -> Call:
    """`PUT /_ml/calendars/{calendar_id}`; there is no calendar update API (§4.2)."""
    return _build("ml.put_calendar", calendar_id=calendar_id, body=_dict(body))


def get_calendars(
    calendar_id: str | Sequence[str] | None = None,
    from_: int | None = None,
    size: int | None = None,
) -> Call:
    """`GET /_ml/calendars[/{calendar_id}]`; paging only without an id (default size 10 000)."""
    return _build("ml.get_calendars", calendar_id=calendar_id or None, from_=from_, size=size)


def delete_calendar(calendar_id: str) -> Call:
    """`DELETE /_ml/calendars/{calendar_id}`; also deletes its events (§4.2)."""
    return _build("ml.delete_calendar", calendar_id=calendar_id)


def put_calendar_job(calendar_id: str, job_ids: str | Sequence[str]) -> Call:
    """`PUT /_ml/calendars/{calendar_id}/jobs/{job_ids}`: appends job ids or groups."""
    return _build("ml.put_calendar_job", calendar_id=calendar_id, job_id=job_ids)


def delete_calendar_job(calendar_id: str, job_ids: str | Sequence[str]) -> Call:
    """`DELETE /_ml/calendars/{calendar_id}/jobs/{job_ids}`; 400 for an absent id (§4.2)."""
    return _build("ml.delete_calendar_job", calendar_id=calendar_id, job_id=job_ids)


def post_calendar_events(calendar_id: str, events: Sequence[Mapping[str, Any]]) -> Call:
    """`POST /_ml/calendars/{calendar_id}/events`; each event gets a generated id (§4.2)."""
    return _build(
        "ml.post_calendar_events", calendar_id=calendar_id, events=[dict(e) for e in events]
    )


def get_calendar_events(
    calendar_id: str = "_all",
    from_: int | None = None,
    size: int | None = None,
    start: str | int | None = None,
    end: str | int | None = None,
    job_id: str | None = None,
) -> Call:
    """`GET /_ml/calendars/{calendar_id}/events`; paged (from 0, size 100), by start_time."""
    return _build(
        "ml.get_calendar_events",
        calendar_id=calendar_id,
        from_=from_,
        size=size,
        start=start,
        end=end,
        job_id=job_id,
    )


def delete_calendar_event(calendar_id: str, event_id: str) -> Call:
    """`DELETE /_ml/calendars/{calendar_id}/events/{event_id}` (§4.2)."""
    return _build("ml.delete_calendar_event", calendar_id=calendar_id, event_id=event_id)


# --------------------------------------------------------------------------- facts about calls


class CallClass(StrEnum):
    """How safe a call is to send again when its answer was lost or refused."""

    READ = "read"  # no effect: always safe to repeat
    TRANSITION = "transition"  # _open/_close/_start/_stop: repeating reaches the same state
    DELETE = "delete"  # a 404 after a retry means it is gone, i.e. done
    CREATE = "create"  # confirmed by reading before it is ever sent again
    #: A bulk of create and delete actions only: sent again whole, every item that landed
    #: before is refused (409) or not found (404); the caller settles each item.
    BULK = "bulk"
    WRITE = "write"  # anything else: never repeated once it may have reached the server


_TRANSITION = re.compile(r"/_(open|close|start|stop)$")
_READ_POST = re.compile(
    r"(/_search|/_count|/_field_caps|/_stats|/_preview|/_explain|/_validate(/detector)?|/_estimate_model_memory"
    r"|/results/[a-z_]+(/[^/]+)?|/model_snapshots(/[^/]+)?)$"
)
_CREATE_ML = re.compile(
    r"^/_ml/(anomaly_detectors|datafeeds|data_frame/analytics|filters|calendars)/([^/_][^/]*)$"
)
_CREATE_DOC = re.compile(r"^/([^/_][^/]*)/_create/([^/]+)$")
_BULK = re.compile(r"^(/[^/_][^/]*)?/_bulk$")


def classify(call: Call) -> CallClass:
    """Tell how a call may be repeated (used by the retry policy, es-ml-api.md §5)."""
    if call.method in ("GET", "HEAD"):
        return CallClass.READ
    if call.method == "DELETE":
        return CallClass.DELETE
    if call.method == "POST" and _TRANSITION.search(call.path):
        return CallClass.TRANSITION
    if call.method == "POST" and _READ_POST.search(call.path):
        return CallClass.READ
    if call.method == "PUT" and (_CREATE_ML.match(call.path) or _CREATE_DOC.match(call.path)):
        return CallClass.CREATE
    if call.method in ("PUT", "POST") and _BULK.match(call.path):
        actions = bulk_actions(call.body)
        if actions and set(actions) <= {"create", "delete"}:
            return CallClass.BULK
    return CallClass.WRITE


#: The collection key of each ML GET answer (`{"count": N, "<key>": [...]}`, es-ml-api.md §0.4).
_COLLECTION_KEY = {
    "anomaly_detectors": "jobs",
    "datafeeds": "datafeeds",
    "data_frame/analytics": "data_frame_analytics",
    "filters": "filters",
    "calendars": "calendars",
}

#: The id field of each resource in those answers (es-ml-api.md §0.3, §1.1, §2.1, §3.1, §4).
_ID_FIELD = {
    "anomaly_detectors": "job_id",
    "datafeeds": "datafeed_id",
    "data_frame/analytics": "id",
    "filters": "filter_id",
    "calendars": "calendar_id",
}

#: Fields ES echoes verbatim on GET; if the caller sent one and the stored object has another
#: value, the object was not created by this call (es-ml-api.md §1.1, §2.1, §3.1, §4).
_ECHOED = ("description", "job_id", "indices", "custom_settings", "_meta", "source", "dest")


def confirmation_read(call: Call) -> Call | None:
    """The GET that tells whether a create (`classify(call) is CREATE`) already took effect."""
    ml = _CREATE_ML.match(call.path)
    if call.method == "PUT" and ml:
        return Call(method="GET", path=call.path)
    doc = _CREATE_DOC.match(call.path)
    if call.method == "PUT" and doc:
        return Call(method="GET", path=f"/{doc.group(1)}/_doc/{doc.group(2)}")
    return None


def confirmed_object(call: Call, read_body: Any) -> tuple[bool, Any]:
    """Interpret the answer of `confirmation_read(call)`.

    Returns:
        `(True, body)` when the created object is there and matches what `call` sent, with
        `body` shaped like the create's own answer; `(False, None)` when it is absent.

    Raises:
        ValueError: the object exists but differs from what `call` sent (someone else
            created it); the caller reports that as a conflict.
    """
    ml = _CREATE_ML.match(call.path)
    if ml:
        items = (
            read_body.get(_COLLECTION_KEY[ml.group(1)], []) if isinstance(read_body, dict) else []
        )
        # A GET by id also expands expressions: `GET /_ml/anomaly_detectors/team` lists the jobs
        # of group `team` (es-ml-api.md §0.4). Only an item whose own id is the created id
        # stands for the create; anything else means it was not created (the PUT is then sent
        # again, and Elasticsearch answers it).
        id_field, wanted = _ID_FIELD[ml.group(1)], unquote(ml.group(2))
        matching = (
            [i for i in items if isinstance(i, dict) and i.get(id_field) == wanted]
            if isinstance(items, list)
            else []
        )
        if len(matching) != 1:
            return False, None
        stored = matching[0]
        sent = call.body if isinstance(call.body, dict) else {}
        for key in _ECHOED:
            if key in sent and key in stored and not _same(sent[key], stored[key]):
                raise ValueError(f"exists with a different {key!r} than was sent")
        if "items" in sent and sorted(set(sent["items"])) != stored.get("items"):
            raise ValueError("exists with different items than were sent")
        # PUT answers with the stored config, the same object GET lists (es-ml-api.md §1.8).
        return True, stored
    if not isinstance(read_body, dict) or not read_body.get("found"):
        return False, None
    if read_body.get("_source") != call.body:
        raise ValueError("the document exists with a different content (another writer)")
    answer = {
        k: read_body[k]
        for k in ("_index", "_id", "_version", "_seq_no", "_primary_term")
        if k in read_body
    }
    answer["result"] = "created"
    return True, answer


def _same(sent: Any, stored: Any) -> bool:
    # ES turns a single index string into a list (es-ml-api.md §2.1, §3.1).
    if isinstance(sent, str) and isinstance(stored, list):
        return [sent] == stored
    if isinstance(sent, dict) and isinstance(stored, dict):
        return all(k in stored and _same(v, stored[k]) for k, v in sent.items())
    return bool(sent == stored)


#: ES messages for a transition that had already happened (es-ml-api.md §5.1-§5.3).
_ALREADY = re.compile(r"already (been )?(opened|started)")
_CALENDAR_JOBS = re.compile(r"^/_ml/calendars/([^/]+)/jobs/([^/]+)$")
#: The answer for removing an id a calendar does not hold (es-ml-api.md §4.2, calendar_crud.yml).
_NOT_IN_CALENDAR = re.compile(r"^Cannot remove \[(.+)\] as it is not present in calendar \[(.+)\]$")


def already_done(call: Call, status: int, reason: str) -> Any:
    """The answer a repeated call stands for, when ES says it was already done; else None.

    Only meaningful for a retry that follows a lost answer (the client checks that): the first
    attempt may have taken effect before its answer was lost, so `_open`/`_start` then reports
    409 "already opened/started", a DELETE 404, and removing jobs from a calendar 400 `Cannot
    remove [x] as it is not present in calendar [c]` for an id of this very call (es-ml-api.md
    §4.2; the removal is all or nothing, so the first id named is one the first attempt took
    out). The calendar itself is not in that last answer: it stands as `{"calendar_id": c}`.
    """
    klass = classify(call)
    if klass is CallClass.DELETE and status == 404:
        return {"acknowledged": True}
    path = _CALENDAR_JOBS.match(call.path) if call.method == "DELETE" else None
    gone = _NOT_IN_CALENDAR.match(reason) if path and status == 400 else None
    if path and gone:
        calendar_id = unquote(path.group(1))
        job_ids = {unquote(j).strip() for j in path.group(2).split(",")}
        if gone.group(1) in job_ids and gone.group(2) == calendar_id:
            return {"calendar_id": calendar_id}
    if klass is CallClass.TRANSITION and status == 409 and _ALREADY.search(reason):
        if call.path.endswith("/_open"):
            return {"opened": True}
        if call.path.startswith(DFA):
            return {"acknowledged": True}
        return {"started": True}
    return None
