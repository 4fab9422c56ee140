"""Where anomaly detection results live: the job's results index, its aliases, and `.ml-state`.

Input: a `Ctx` and a job (or its id). Output: the job's result documents read from, written to
and deleted from ordinary indices (documents.py), so that what the index, bulk and search APIs
see is what the results and snapshot APIs answer. No I/O.

As in Elasticsearch (AnomalyDetectorsIndex, AnomalyDetectorsIndexFields, Job
.getInitialResultsIndexName, JobResultsProvider.createJobResultIndex):
- results go to `.ml-anomalies-shared`, or `.ml-anomalies-custom-<name>` for a job with
  `results_index_name` (hidden indices); every job gets a read alias `.ml-anomalies-<job_id>`
  filtered on its `job_id` and a write alias `.ml-anomalies-.write-<job_id>`, both hidden;
- model state goes to `.ml-state-000001` through the `.ml-state-write` alias;
- document ids are Elasticsearch's: `<job_id>_bucket_<timestamp>_<span>` (Bucket.getId),
  `<job_id>_record_<timestamp>_<span>_<detector>_<hash>_<length>` (AnomalyRecord.getId),
  `<job_id>_influencer_<timestamp>_<span>_<field>_<hash>_<length>` (Influencer.getId),
  `<job_id>_category_definition_<id>` (CategoryDefinition.getId),
  `<job_id>_model_size_stats_<log_time>` (ModelSizeStats.documentId),
  `<job_id>_model_snapshot_<snapshot_id>` (ModelSnapshot.documentId),
  `<job_id>_model_state_<snapshot_id>#<n>` (ModelState.documentId),
  `<job_id>_data_counts` (DataCounts.documentId),
  `<job_id>_model_forecast_request_stats_<forecast_id>` (ForecastRequestStats.documentId).
Results carry `result_type` (Result.RESULT_TYPE); data counts and model snapshots do not, and
are recognised by id and by `snapshot_id` respectively.
Newer releases roll the results indices over (`-000001` suffixes); the sandbox keeps the first
name, which is what every API reaches through the aliases anyway.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.sandbox import documents, overlay
from reconciler.sandbox.context import Ctx

Json = dict[str, Any]

RESULTS_PREFIX = ".ml-anomalies-"
WRITE_PREFIX = RESULTS_PREFIX + ".write-"
SHARED = "shared"
STATE_INDEX = ".ml-state-000001"
STATE_WRITE_ALIAS = ".ml-state-write"

#: A compact form of the results index mappings (results_index_mappings.json): the fields the
#: APIs sort and filter on, and the template that maps every other string as a keyword (the
#: by/over/partition field values records and influencers carry as top-level fields).
RESULTS_MAPPINGS: Json = {
    "_meta": {"version": "8.11.0", "managed_index_mappings_version": 1},
    "dynamic_templates": [{"strings_as_keywords": {"match": "*", "mapping": {"type": "keyword"}}}],
    "properties": {
        "job_id": {"type": "keyword", "copy_to": ["all_field_values"]},
        "result_type": {"type": "keyword"},
        "timestamp": {"type": "date"},
        "bucket_span": {"type": "long"},
        "is_interim": {"type": "boolean"},
        "anomaly_score": {"type": "double"},
        "initial_anomaly_score": {"type": "double"},
        "event_count": {"type": "long"},
        "processing_time_ms": {"type": "long"},
        "record_score": {"type": "double"},
        "initial_record_score": {"type": "double"},
        "probability": {"type": "double"},
        "detector_index": {"type": "integer"},
        "influencer_field_name": {"type": "keyword"},
        "influencer_field_value": {"type": "keyword"},
        "influencer_score": {"type": "double"},
        "initial_influencer_score": {"type": "double"},
        "category_id": {"type": "long"},
        "snapshot_id": {"type": "keyword"},
        "snapshot_doc_count": {"type": "integer"},
        "retain": {"type": "boolean"},
        "min_version": {"type": "keyword"},
        "log_time": {"type": "date"},
        "model_bytes": {"type": "long"},
        "forecast_id": {"type": "keyword"},
        "forecast_status": {"type": "keyword"},
        "all_field_values": {"type": "text", "analyzer": "whitespace"},
    },
}
_HIDDEN = {"index": {"hidden": True, "auto_expand_replicas": "0-1"}}

#: API name → `result_type` of the documents it returns.
RESULT_TYPES = {
    "buckets": "bucket",
    "records": "record",
    "influencers": "influencer",
    "categories": "category_definition",
    "model_size_stats": "model_size_stats",
    "forecast_requests": "model_forecast_request_stats",
    "forecasts": "model_forecast",
}


def results_index_name(job: Json) -> str:
    """The concrete index a job's results start in (`results_index_name` is `custom-X`)."""
    return RESULTS_PREFIX + str(job.get("results_index_name") or SHARED)


def read_alias(job_id: str) -> str:
    """AnomalyDetectorsIndex.jobResultsAliasedName."""
    return RESULTS_PREFIX + job_id


def write_alias(job_id: str) -> str:
    """AnomalyDetectorsIndex.resultsWriteAlias."""
    return WRITE_PREFIX + job_id


def create_for_job(ctx: Ctx, job_id: str, job: Json) -> None:
    """Create the results index if needed and the job's two aliases (on job PUT)."""
    index = results_index_name(job)
    documents.ensure_index(ctx, index, copy.deepcopy(RESULTS_MAPPINGS), copy.deepcopy(_HIDDEN))
    documents.put_alias(
        ctx,
        index,
        read_alias(job_id),
        {"filter": {"term": {"job_id": {"value": job_id, "boost": 1.0}}}, "is_hidden": True},
    )
    documents.put_alias(
        ctx, index, write_alias(job_id), {"is_hidden": True, "is_write_index": True}
    )


def _indices(ctx: Ctx, job_id: str) -> list[str]:
    """The concrete indices behind the job's read alias (none once the aliases are gone)."""
    return sorted(documents.alias_indices(ctx, read_alias(job_id)) or {})


def job_documents(ctx: Ctx, job_id: str) -> list[Json]:
    """Every document of the job in its results indices (`_index`, `_id`, `_source`, ...)."""
    return [d for index in _indices(ctx, job_id) for d in documents.job_docs(ctx, index, job_id)]


def prefetch(ctx: Ctx, job_ids: list[str]) -> None:
    """Read ahead what `job_documents` reads for each of many jobs (stats of every job).

    Their read aliases, their documents' index entries and the documents themselves then take
    a few queries in all rather than a few per job; what is read is unchanged.
    """
    overlay.prefetch(ctx.state["aliases"], [read_alias(job_id) for job_id in job_ids])
    keys = [f"{index}/{job_id}" for job_id in job_ids for index in _indices(ctx, job_id)]
    docs = ctx.state["docs"]
    overlay.prefetch_index(docs, "job", keys)
    overlay.prefetch(docs, [doc for key in keys for doc in docs.lookup("job", key)])


def count(ctx: Ctx, job_id: str, kind: str) -> int:
    """How many results of one kind (`buckets`, ...) the job has (no copies made)."""
    wanted = RESULT_TYPES[kind]
    return sum(1 for d in job_documents(ctx, job_id) if d["_source"].get("result_type") == wanted)


def results(ctx: Ctx, job_id: str, kind: str, docs: list[Json] | None = None) -> list[Json]:
    """The sources of one kind of result (`buckets`, `records`, ...), copies, in write order.

    `docs`: the job's documents when the caller already read them (`job_documents`).
    """
    wanted = RESULT_TYPES[kind]
    return [
        copy.deepcopy(d["_source"])
        for d in (job_documents(ctx, job_id) if docs is None else docs)
        if d["_source"].get("result_type") == wanted
    ]


def write(ctx: Ctx, job_id: str, doc_id: str, source: Json) -> None:
    """Index one result document through the job's write alias (creating it if missing)."""
    if documents.alias_indices(ctx, write_alias(job_id)) is None:
        create_for_job(ctx, job_id, ctx.state["jobs"][job_id])
    documents.put_doc(ctx, write_alias(job_id), doc_id, source)


def delete_where(ctx: Ctx, job_id: str, keep: Any) -> int:
    """Delete the job's documents for which `keep(source, id)` is false (a delete-by-query)."""
    doomed = [d for d in job_documents(ctx, job_id) if not keep(d["_source"], d["_id"])]
    return documents.delete_docs(ctx, doomed)


# --- ids ----------------------------------------------------------------------------------------


def java_hash(text: str | None) -> int:
    """java.lang.String.hashCode (ids embed it), as a signed 32-bit int."""
    if text is None:
        return 0
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _objects_hash(*values: str | None) -> int:
    """java.util.Objects.hash of strings."""
    h = 1
    for value in values:
        h = (31 * h + java_hash(value)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def bucket_id(job_id: str, timestamp: int, span: int) -> str:
    """Bucket.getId."""
    return f"{job_id}_bucket_{timestamp}_{span}"


def record_id(job_id: str, record: Json) -> str:
    """AnomalyRecord.getId: by, over and partition values hashed, with their total length."""
    values = [record.get(f"{k}_field_value") for k in ("by", "over", "partition")]
    length = sum(len(str(v)) for v in values if v is not None)
    return (
        f"{job_id}_record_{record['timestamp']}_{record['bucket_span']}_"
        f"{record['detector_index']}_{_objects_hash(*values)}_{length}"
    )


def influencer_id(job_id: str, infl: Json) -> str:
    """Influencer.getId."""
    value = str(infl["influencer_field_value"])
    return (
        f"{job_id}_influencer_{infl['timestamp']}_{infl['bucket_span']}_"
        f"{infl['influencer_field_name']}_{java_hash(value)}_{len(value)}"
    )


def category_id(job_id: str, cid: int) -> str:
    """CategoryDefinition.getId."""
    return f"{job_id}_category_definition_{cid}"


def snapshot_doc_id(job_id: str, snapshot_id: str) -> str:
    """ModelSnapshot.documentId."""
    return f"{job_id}_model_snapshot_{snapshot_id}"


def data_counts_id(job_id: str) -> str:
    """DataCounts.documentId."""
    return f"{job_id}_data_counts"


# --- single documents -----------------------------------------------------------------------


def data_counts(ctx: Ctx, job_id: str, docs: list[Json] | None = None) -> Json | None:
    """The job's persisted data counts, or None."""
    doc_id = data_counts_id(job_id)
    for doc in job_documents(ctx, job_id) if docs is None else docs:
        if doc["_id"] == doc_id:
            found: Json = copy.deepcopy(doc["_source"])
            return found
    return None


def put_data_counts(ctx: Ctx, job_id: str, counts: Json) -> None:
    """Persist the data counts document (JobDataCountsPersister)."""
    write(ctx, job_id, data_counts_id(job_id), {"job_id": job_id, **counts})


def model_size_stats(ctx: Ctx, job_id: str, docs: list[Json] | None = None) -> Json | None:
    """The newest `model_size_stats` result (by `log_time`), or None."""
    stats = results(ctx, job_id, "model_size_stats", docs)
    return max(stats, key=lambda s: int(s.get("log_time", 0))) if stats else None


def put_model_size_stats(ctx: Ctx, job_id: str, stats: Json) -> None:
    """Persist a `model_size_stats` result (JobResultsPersister.persistModelSizeStats)."""
    source = {**stats, "job_id": job_id, "result_type": "model_size_stats"}
    write(ctx, job_id, f"{job_id}_model_size_stats_{source.get('log_time', 0)}", source)


def snapshots(ctx: Ctx, job_id: str) -> list[Json]:
    """The job's model snapshots (documents with a `snapshot_id` and no `result_type`)."""
    return [
        copy.deepcopy(d["_source"])
        for d in job_documents(ctx, job_id)
        if "snapshot_id" in d["_source"] and "result_type" not in d["_source"]
    ]


def put_snapshot(ctx: Ctx, job_id: str, snap: Json) -> None:
    """Persist a model snapshot and its state documents (JobResultsPersister, ModelState)."""
    write(ctx, job_id, snapshot_doc_id(job_id, str(snap["snapshot_id"])), snap)
    for n in range(1, int(snap.get("snapshot_doc_count", 1)) + 1):
        documents.put_doc(
            ctx,
            _state_target(ctx),
            f"{job_id}_model_state_{snap['snapshot_id']}#{n}",
            {"job_id": job_id, "sandbox_model_state": "the sandbox runs no model"},
        )


def delete_snapshot(ctx: Ctx, job_id: str, snapshot_id: str) -> None:
    """Delete a snapshot document and its state documents (JobDataDeleter.deleteModelSnapshots)."""
    delete_where(ctx, job_id, lambda source, doc_id: doc_id != snapshot_doc_id(job_id, snapshot_id))
    prefix = f"{job_id}_model_state_{snapshot_id}#"
    _delete_state(ctx, job_id, lambda doc_id: doc_id.startswith(prefix))


def _state_target(ctx: Ctx) -> str:
    """The `.ml-state-write` alias, created with `.ml-state-000001` on first use."""
    if documents.alias_indices(ctx, STATE_WRITE_ALIAS) is None:
        documents.ensure_index(ctx, STATE_INDEX, {"dynamic": False}, copy.deepcopy(_HIDDEN))
        documents.put_alias(
            ctx, STATE_INDEX, STATE_WRITE_ALIAS, {"is_hidden": True, "is_write_index": True}
        )
    return STATE_WRITE_ALIAS


def _delete_state(ctx: Ctx, job_id: str, doomed: Any) -> None:
    indices = {STATE_INDEX, *(documents.alias_indices(ctx, STATE_WRITE_ALIAS) or {})}
    for index in sorted(i for i in indices if i in ctx.state["indices"]):
        docs = [d for d in documents.job_docs(ctx, index, job_id) if doomed(d["_id"])]
        documents.delete_docs(ctx, docs)


# --- whole-job operations -------------------------------------------------------------------


def reset(ctx: Ctx, job_id: str) -> None:
    """Job reset: every result, snapshot, count and state document goes; the aliases stay."""
    delete_where(ctx, job_id, lambda source, doc_id: False)
    _delete_state(ctx, job_id, lambda doc_id: True)


def delete_job(ctx: Ctx, job_id: str) -> None:
    """Job delete (JobDataDeleter.deleteJobDocuments): documents, then aliases.

    A custom results index that no other job uses is deleted whole; a shared one keeps the
    other jobs' documents.
    """
    indices = _indices(ctx, job_id)
    reset(ctx, job_id)
    for index in indices:
        documents.remove_alias(ctx, index, read_alias(job_id))
        documents.remove_alias(ctx, index, write_alias(job_id))
        if index == RESULTS_PREFIX + SHARED or index not in ctx.state["indices"]:
            continue  # (listing the shared index's aliases would read every job's)
        others = [a for a in documents.index_aliases(ctx, index) if a.startswith(RESULTS_PREFIX)]
        if not others:
            documents.drop_index(ctx, index)


def forecast_stats(ctx: Ctx, job_id: str, docs: list[Json] | None = None) -> Json:
    """`forecasts_stats` of job stats from the request stats documents (ForecastStats).

    With none: `{"total": 0, "forecasted_jobs": 0}`; otherwise also min/max/avg/total of
    `memory_bytes`, `records` and `processing_time_ms` (StatsAccumulator) and the count per
    `status`.
    """
    requests = results(ctx, job_id, "forecast_requests", docs)
    if not requests:
        return {"total": 0, "forecasted_jobs": 0}

    def summary(field: str) -> Json:
        values = [float(r.get(field, 0)) for r in requests]
        return {
            "total": sum(values),
            "min": min(values),
            "avg": sum(values) / len(values),
            "max": max(values),
        }

    status: dict[str, int] = {}
    for r in requests:
        key = str(r.get("forecast_status", "finished"))
        status[key] = status.get(key, 0) + 1
    return {
        "total": len(requests),
        "forecasted_jobs": 1,
        "memory_bytes": summary("forecast_memory_bytes"),
        "records": summary("processed_record_count"),
        "processing_time_ms": summary("processing_time_ms"),
        "status": status,
    }
