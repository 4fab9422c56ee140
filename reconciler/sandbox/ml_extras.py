"""The remaining ML endpoints: memory stats, snapshot upgrades, post data; and bulk/mappings.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch-shaped bodies and state changes.
No I/O. Shapes follow the specification's response types (ml.get_memory_stats:
`_nodes`/`cluster_name`/`nodes`; ml.upgrade_job_snapshot: `node`/`completed`;
ml.get_model_snapshot_upgrade_stats: `count`/`model_snapshot_upgrades`; ml.post_data: the
job's data counts; bulk: `took`/`errors`/`items`) and the server's messages
(TransportUpgradeJobModelSnapshotAction, TransportPostDataAction, RestBulkAction).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.sandbox import cluster_settings, documents, mapping, results_index
from reconciler.sandbox.context import NODE_ID, NODE_NAME, Ctx, Request, node_info
from reconciler.sandbox.exceptions import EsError, not_found
from reconciler.sandbox.jobs import get_job, job_state
from reconciler.sandbox.results import _snapshot  # the same lookup and 404 as get/update
from reconciler.sandbox.validation import parse_bytes

Json = dict[str, Any]
GB = 1024**3
MB = 1024**2


def memory_stats(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/memory[/{node_id}]/_stats — one ML node (the sandbox's)."""
    wanted = req.path_params.get("node_id")
    nodes: Json = {}
    if wanted in (None, "_all", "*", NODE_ID, NODE_NAME):
        info = node_info()
        # MlMemoryTracker: an assigned job needs its model memory limit plus the process
        # overhead (Job.PROCESS_MEMORY_OVERHEAD, 10mb); any native process adds the executable
        # code overhead (NATIVE_EXECUTABLE_CODE_OVERHEAD, 30mb); the ML share of the machine is
        # xpack.ml.max_machine_memory_percent.
        jobs_bytes = 0
        for job_id, task in ctx.state["job_tasks"].items():
            job = ctx.state["jobs"].get(job_id)
            if task.get("node") and job is not None:
                limit = (job.get("analysis_limits") or {}).get("model_memory_limit", "1024mb")
                jobs_bytes += parse_bytes(limit, "model_memory_limit") + 10 * MB
        percent = int(cluster_settings.effective(ctx, "xpack.ml.max_machine_memory_percent") or 30)
        nodes[NODE_ID] = {
            "attributes": info["attributes"],
            "jvm": {
                "heap_max_in_bytes": GB,
                "java_inference_in_bytes": 0,
                "java_inference_max_in_bytes": GB // 4,
            },
            "mem": {
                "adjusted_total_in_bytes": 16 * GB,
                "ml": {
                    "anomaly_detectors_in_bytes": jobs_bytes,
                    "data_frame_analytics_in_bytes": 0,
                    "max_in_bytes": 16 * GB * percent // 100,
                    "native_code_overhead_in_bytes": 30 * MB if jobs_bytes else 0,
                    "native_inference_in_bytes": 0,
                },
                "total_in_bytes": 16 * GB,
            },
            "name": NODE_NAME,
            "ephemeral_id": info["ephemeral_id"],
            "transport_address": info["transport_address"],
            "roles": ["data", "master", "ml"],
        }
    count = len(nodes)
    return {
        "_nodes": {"total": count, "successful": count, "failed": 0},
        "cluster_name": "mlsync-sandbox",
        "nodes": nodes,
    }


def upgrade_snapshot(ctx: Ctx, req: Request) -> Json:
    """POST .../model_snapshots/{snapshot_id}/_upgrade (TransportUpgradeJobModelSnapshotAction).

    The job's active snapshot needs a closed job; a snapshot already at the current version
    is refused; any other snapshot upgrades while the job runs. The sandbox upgrades at once,
    so the answer is `completed: true` (what `wait_for_completion=true` reports) and no
    upgrade task is left to show in the stats.
    """
    job_id, snapshot_id = req.path_params["job_id"], req.path_params["snapshot_id"]
    job = get_job(ctx, job_id)
    state = job_state(ctx, job_id)
    if snapshot_id == job.get("model_snapshot_id") and state != "closed":
        raise EsError(
            409,
            "status_exception",
            f"Cannot upgrade snapshot [{snapshot_id}] for job [{job_id}] as it is the current "
            f"primary job snapshot and the job's state is [{state}]",
        )
    snap = _snapshot(ctx, job_id, snapshot_id)
    current = ctx.ml_config_version
    if snap.get("min_version") == current:
        raise EsError(
            409,
            "status_exception",
            f"Cannot upgrade job [{job_id}] snapshot [{snapshot_id}] as it is already "
            f"compatible with current version {current}",
        )
    snap = {**snap, "min_version": current}
    results_index.write(ctx, job_id, results_index.snapshot_doc_id(job_id, snapshot_id), snap)
    return {"node": NODE_ID, "completed": True}


def upgrade_stats(ctx: Ctx, req: Request) -> Json:
    """GET .../model_snapshots/{snapshot_id}/_upgrade/_stats — upgrades in progress (none)."""
    job_id, snapshot_id = req.path_params["job_id"], req.path_params["snapshot_id"]
    get_job(ctx, job_id)
    if snapshot_id not in ("_all", "*") and "*" not in snapshot_id:
        _snapshot(ctx, job_id, snapshot_id)
    if not req.flag("allow_no_match", True):
        raise not_found(
            f"No known model snapshot upgrade for job [{job_id}] snapshot [{snapshot_id}]"
        )
    return {"count": 0, "model_snapshot_upgrades": []}


def post_data(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_data — NDJSON (or a JSON array) of records."""
    job_id = req.path_params["job_id"]
    job = get_job(ctx, job_id)
    if job_state(ctx, job_id) != "opened":
        raise EsError(
            409,
            "status_exception",
            f"Cannot process data because job [{job_id}] does not have a corresponding "
            "autodetect process",
        )
    records = _records(req.raw)
    time_field = (job.get("data_description") or {}).get("time_field", "time")
    stamps = [r[time_field] for r in records if isinstance(r.get(time_field), (int, float))]
    fields = sum(len(r) for r in records)
    missing = sum(1 for r in records if time_field not in r)
    before: Json = results_index.data_counts(ctx, job_id) or {}

    def add(key: str, amount: int) -> int:
        return int(before.get(key, 0)) + amount

    counts: Json = {
        "processed_record_count": add("processed_record_count", len(records) - missing),
        "processed_field_count": add("processed_field_count", fields),
        "input_bytes": add("input_bytes", len(req.raw.encode("utf-8"))),
        "input_field_count": add("input_field_count", fields),
        "invalid_date_count": add("invalid_date_count", missing),
        "missing_field_count": int(before.get("missing_field_count", 0)),
        "out_of_order_timestamp_count": int(before.get("out_of_order_timestamp_count", 0)),
        "empty_bucket_count": int(before.get("empty_bucket_count", 0)),
        "sparse_bucket_count": int(before.get("sparse_bucket_count", 0)),
        "bucket_count": int(before.get("bucket_count", 0)),
        "input_record_count": add("input_record_count", len(records)),
        "last_data_time": ctx.now_ms,
        "log_time": ctx.now_ms,
    }
    if stamps:
        counts["earliest_record_timestamp"] = min(
            [
                *stamps,
                *(
                    [before["earliest_record_timestamp"]]
                    if "earliest_record_timestamp" in before
                    else []
                ),
            ]
        )
        counts["latest_record_timestamp"] = max(
            [
                *stamps,
                *(
                    [before["latest_record_timestamp"]]
                    if "latest_record_timestamp" in before
                    else []
                ),
            ]
        )
    merged = {**before, **counts, "job_id": job_id}
    results_index.put_data_counts(ctx, job_id, merged)
    return {"job_id": job_id, **{k: v for k, v in merged.items() if k != "job_id"}}


def _records(raw: str) -> list[Json]:
    text = raw.strip()
    if not text:
        raise EsError(400, "parse_exception", "request body is required")
    try:
        if text.startswith("["):
            items = json.loads(text)
        else:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise EsError(
            400, "x_content_parse_exception", f"Unexpected character: {exc.msg}"
        ) from None
    return [i for i in items if isinstance(i, dict)]


# --------------------------------------------------------------------------- index APIs


def bulk(ctx: Ctx, req: Request) -> Json:
    """POST /[{index}/]_bulk — index, create, update and delete actions (RestBulkAction)."""
    lines = [line for line in req.raw.splitlines() if line.strip()]
    if not lines:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: no requests added;"
        )
    items: list[Json] = []
    errors = False
    i = 0
    while i < len(lines):
        action_line = json.loads(lines[i])
        ((action, meta),) = action_line.items()
        if action not in ("index", "create", "delete", "update"):
            # BulkRequestParser
            raise EsError(
                400,
                "illegal_argument_exception",
                f"Malformed action/metadata line [{i + 1}], expected one of [create, delete, "
                f"index, update] but found [{action}]",
            )
        index = str(meta.get("_index") or req.path_params.get("index") or "")
        doc_id = meta.get("_id")
        i += 1
        if not index:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            )
        path_params = {"index": index, **({"id": doc_id} if doc_id else {})}
        try:
            if action == "delete":
                sub = Request("DELETE", f"/{index}/_doc/{doc_id}", {}, "", {}, path_params)
                reply = documents.delete_doc(ctx, sub)
            elif action == "update":
                spec = json.loads(lines[i])
                i += 1
                reply = _update(ctx, index, str(doc_id), spec)
            else:
                source = json.loads(lines[i])
                i += 1
                op_type = "create" if action == "create" else "index"
                reply = documents.put_doc(ctx, index, doc_id, source, op_type=op_type)
            status, body = _reply(reply)
            items.append({action: {**body, "status": status}})
        except EsError as err:
            errors = True
            # BulkItemResponse#toXContent renders an item's failure with
            # ElasticsearchException.generateThrowableXContent: type, reason, metadata and
            # caused_by, without the `root_cause` list only the REST error envelope adds.
            error = {k: v for k, v in err.body()["error"].items() if k != "root_cause"}
            items.append(
                {action: {"_index": index, "_id": doc_id, "status": err.status, "error": error}}
            )
    return {"took": 0, "errors": errors, "items": items}


def _update(ctx: Ctx, index: str, doc_id: str, spec: Json) -> Any:
    """A bulk `update`: `doc` merged into the stored source, `upsert` / `doc_as_upsert`.

    UpdateHelper: a missing document without an upsert is `document_missing_exception`; a
    merge that changes nothing answers `noop`.
    """
    name = documents.write_index(ctx, index)
    current = ctx.state["docs"].get(documents.doc_key(name, doc_id))
    partial = spec.get("doc") or {}
    if current is None:
        upsert = partial if spec.get("doc_as_upsert") else spec.get("upsert")
        if upsert is None:
            raise EsError(
                404,
                "document_missing_exception",
                f"[{doc_id}]: document missing",
                extra={"index": name, "shard": "0"},
            )
        return documents.put_doc(ctx, index, doc_id, upsert)
    merged = _merge(current["_source"], partial)
    if merged == current["_source"]:
        return {
            "_index": name,
            "_id": doc_id,
            "_version": current["_version"],
            "result": "noop",
            "_shards": {"total": 0, "successful": 0, "failed": 0},
            "_seq_no": current["_seq_no"],
            "_primary_term": current["_primary_term"],
        }
    reply = documents.put_doc(ctx, index, doc_id, merged)
    return reply


def _merge(source: Json, partial: Json) -> Json:
    """XContentHelper.update: objects merge recursively, other values replace."""
    out = dict(source)
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _reply(reply: Any) -> tuple[int, Json]:
    status = getattr(reply, "status", 200)
    body = getattr(reply, "body", reply)
    return int(status), dict(body)


def get_mapping(ctx: Ctx, req: Request) -> Json:
    """GET /[{index}/]_mapping (aliases resolve to their indices)."""
    expression = req.path_params.get("index", "_all")
    names = documents.resolve_indices(ctx, expression)
    return {name: {"mappings": ctx.state["indices"][name]["mappings"]} for name in names}


def put_mapping(ctx: Ctx, req: Request) -> Json:
    """PUT /{index}/_mapping — adds fields; an existing field's type cannot change."""
    body = req.obj()
    names = documents.resolve_indices(ctx, req.path_params["index"])
    merged = {name: mapping.merge(ctx.state["indices"][name]["mappings"], body) for name in names}
    for name, value in merged.items():  # all or nothing, as one cluster-state update
        ctx.state["indices"][name]["mappings"] = value
    return {"acknowledged": True}


AD = "/_ml/anomaly_detectors"
SNAP = AD + "/{job_id}/model_snapshots/{snapshot_id}"
_INDEX_OPTIONS = ("allow_no_indices", "expand_wildcards", "ignore_unavailable")
#: (methods, path templates, handler, accepted query parameters), registered by routes.py.
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    (
        "GET",
        ("/_ml/memory/_stats", "/_ml/memory/{node_id}/_stats"),
        memory_stats,
        ("master_timeout", "timeout"),
    ),
    ("POST", (SNAP + "/_upgrade",), upgrade_snapshot, ("timeout", "wait_for_completion")),
    ("GET", (SNAP + "/_upgrade/_stats",), upgrade_stats, ("allow_no_match",)),
    ("POST", (AD + "/{job_id}/_data",), post_data, ("reset_end", "reset_start")),
    (
        "PUT,POST",
        ("/_bulk", "/{index}/_bulk"),
        bulk,
        (
            "refresh",
            "routing",
            "timeout",
            "wait_for_active_shards",
            "pipeline",
            "require_alias",
            "require_data_stream",
            "_source",
            "_source_includes",
            "_source_excludes",
            "include_source_on_error",
            "list_executed_pipelines",
        ),
    ),
    (
        "GET",
        ("/_mapping", "/{index}/_mapping"),
        get_mapping,
        (*_INDEX_OPTIONS, "local", "master_timeout"),
    ),
    (
        "PUT,POST",
        ("/{index}/_mapping",),
        put_mapping,
        (*_INDEX_OPTIONS, "master_timeout", "timeout", "write_index_only"),
    ),
]
