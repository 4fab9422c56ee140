"""Anomaly detection results, model snapshots and the sandbox-only results seeding.

Input: a `Ctx` and a routed `Request`. Output: `{"count", "<results>"}` bodies with every
documented filter, sort default, `from`/`size` and `page` body (es-ml-api.md §8), snapshot
update/delete/revert, and `seed()` for `POST /_sandbox/anomaly_detectors/{job_id}/results`
(the sandbox cannot compute results). No I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import results_index
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import EsError, conflict, illegal_argument, not_found
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.jobs import expand_jobs, get_job, job_state
from reconciler.sandbox.transitions import default_model_size_stats
from reconciler.sandbox.validation import (
    check_exclusive,
    check_fields,
    parse_bool,
    parse_date_param,
    parse_duration,
    parse_float,
    parse_int,
)

Json = dict[str, Any]


def _param(req: Request, name: str) -> Any:
    """Results APIs take every parameter from the query string or the body."""
    return req.value(name)


def _paging(req: Request) -> tuple[int, int]:
    body = req.obj()
    page = body.get("page") or {}
    start = parse_int(req.params.get("from", page.get("from", 0)), "from")
    size = parse_int(req.params.get("size", page.get("size", 100)), "size")
    if start < 0:
        raise illegal_argument("Parameter [from] cannot be < 0")
    if size < 0:
        raise illegal_argument("Parameter [size] cannot be < 0")
    if start + size > 10_000:
        raise illegal_argument(
            "The sum of parameters [from] and [size] cannot be higher than 10000."
        )
    return start, size


def _time_filter(req: Request, items: list[Json]) -> list[Json]:
    start = _param(req, "start")
    end = _param(req, "end")
    if start is not None:
        start_ms = parse_date_param(start, "start")
        items = [i for i in items if i["timestamp"] >= start_ms]
    if end is not None:
        end_ms = parse_date_param(end, "end")
        items = [i for i in items if i["timestamp"] < end_ms]
    if _flag(req, "exclude_interim", False):
        items = [i for i in items if not i.get("is_interim")]
    return items


def _flag(req: Request, name: str, default: bool) -> bool:
    value = _param(req, name)
    return default if value is None else parse_bool(value, name)


def _sorted(items: list[Json], field: str, desc: bool) -> list[Json]:
    # Ties broken by timestamp so paging is stable.
    return sorted(
        items,
        key=lambda i: (i.get(field) is None, i.get(field, 0), i.get("timestamp", 0)),
        reverse=desc,
    )


def _results(ctx: Ctx, job_id: str, kind: str) -> list[Json]:
    """The job's results of one kind, read from its results index (results_index.py)."""
    return results_index.results(ctx, job_id, kind)


def get_buckets(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/results/buckets[/{timestamp}]."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    buckets = _results(ctx, job_id, "buckets")
    timestamp = req.path_params.get("timestamp", _param(req, "timestamp"))
    if timestamp is not None:
        check_exclusive(req.params, req.obj(), "timestamp", ("anomaly_score", "start", "end"))
        ts = parse_date_param(timestamp, "timestamp")
        buckets = [b for b in buckets if b["timestamp"] == ts]
    buckets = _time_filter(req, buckets)
    min_score = parse_float(_param(req, "anomaly_score") or 0.0, "anomaly_score")
    buckets = [b for b in buckets if b["anomaly_score"] >= min_score]
    buckets = _sorted(buckets, str(_param(req, "sort") or "timestamp"), _flag(req, "desc", False))
    start, size = _paging(req)
    page = buckets[start : start + size]
    if _flag(req, "expand", False):
        records = _results(ctx, job_id, "records")
        for bucket in page:
            bucket["records"] = [r for r in records if r["timestamp"] == bucket["timestamp"]]
    return {"count": len(buckets), "buckets": page}


def _scored(ctx: Ctx, req: Request, kind: str, score: str) -> Json:
    """Records and influencers: time window, minimum score, sort (score, descending), page.

    Both default to their score field sorted descending in code (GetRecordsAction, and the
    influencers action alike; es-ml-api.md §0, §8), unlike buckets.
    """
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    items = _time_filter(req, _results(ctx, job_id, kind))
    min_score = parse_float(_param(req, score) or 0.0, score)
    items = [i for i in items if i[score] >= min_score]
    items = _sorted(items, str(_param(req, "sort") or score), _flag(req, "desc", True))
    start, size = _paging(req)
    return {"count": len(items), kind: items[start : start + size]}


def get_records(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/results/records (record_score desc by default)."""
    return _scored(ctx, req, "records", "record_score")


def get_influencers(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/results/influencers."""
    return _scored(ctx, req, "influencers", "influencer_score")


def get_categories(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/results/categories[/{category_id}]."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    items = _results(ctx, job_id, "categories")
    category_id = req.path_params.get("category_id", _param(req, "category_id"))
    if category_id is not None:
        check_exclusive(req.params, req.obj(), "category_id", ())
        cid = parse_int(category_id, "category_id")
        items = [c for c in items if c["category_id"] == cid]
        if not items:
            raise not_found(f"No category with id [{cid}] found for job [{job_id}]")
    pfv = _param(req, "partition_field_value")
    if pfv is not None:
        items = [c for c in items if c.get("partition_field_value") == pfv]
    items.sort(key=lambda c: c["category_id"])
    start, size = _paging(req)
    return {"count": len(items), "categories": items[start : start + size]}


def get_overall_buckets(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/results/overall_buckets."""
    ids = expand_jobs(ctx, req.path_params["job_id"], _flag(req, "allow_no_match", True))
    top_n = parse_int(_param(req, "top_n") or 1, "top_n")
    if top_n < 1:
        raise illegal_argument("[topN] parameter must be positive, found [0]")
    spans = {
        i: parse_duration(ctx.state["jobs"][i]["analysis_config"]["bucket_span"], "bucket_span").ms
        for i in ids
    }
    max_span = max(spans.values(), default=300_000.0)
    span_ms = max_span
    if _param(req, "bucket_span") is not None:
        span_ms = parse_duration(_param(req, "bucket_span"), "bucket_span").ms
        if span_ms < max_span:
            raise illegal_argument(
                "Param [bucket_span] must be greater or equal to the max bucket_span "
                f"[{int(max_span // 1000)}s]"
            )
    min_score = parse_float(_param(req, "overall_score") or 0.0, "overall_score")
    by_time: dict[int, dict[str, float]] = {}
    interim: dict[int, bool] = {}
    for job_id in ids:
        for bucket in _time_filter(req, _results(ctx, job_id, "buckets")):
            slot = int(bucket["timestamp"] // span_ms * span_ms)
            scores = by_time.setdefault(slot, {})
            scores[job_id] = max(scores.get(job_id, 0.0), float(bucket["anomaly_score"]))
            interim[slot] = interim.get(slot, False) or bool(bucket.get("is_interim"))
    out = []
    for slot in sorted(by_time):
        scores = by_time[slot]
        top = sorted(scores.values(), reverse=True)[:top_n]
        overall = sum(top) / top_n
        if overall < min_score:
            continue
        out.append(
            {
                "timestamp": slot,
                "bucket_span": int(span_ms // 1000),
                "overall_score": overall,
                "jobs": [{"job_id": j, "max_anomaly_score": s} for j, s in sorted(scores.items())],
                "is_interim": interim[slot],
                "result_type": "overall_bucket",
            }
        )
    return {"count": len(out), "overall_buckets": out}


# --- model snapshots ----------------------------------------------------------------------------


def missing_snapshot(job_id: str, snapshot_id: str) -> EsError:
    """404 for an unknown snapshot (es-ml-api.md §8)."""
    return not_found(f"No model snapshot with id [{snapshot_id}] exists for job [{job_id}]")


def _snapshot(ctx: Ctx, job_id: str, snapshot_id: str) -> Json:
    for snap in results_index.snapshots(ctx, job_id):
        if snap["snapshot_id"] == snapshot_id:
            return snap
    raise missing_snapshot(job_id, snapshot_id)


def get_snapshots(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/anomaly_detectors/{job_id}/model_snapshots[/{snapshot_id}]."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    snaps = results_index.snapshots(ctx, job_id)
    expression = req.path_params.get("snapshot_id")
    if expression is not None:
        ids = expand_ids(
            expression, [s["snapshot_id"] for s in snaps], lambda s: missing_snapshot(job_id, s)
        )
        snaps = [s for s in snaps if s["snapshot_id"] in ids]
    snaps = _time_filter(req, snaps)
    # get_model_snapshots.yml: timestamp descending unless desc=false (es-ml-api.md §8)
    snaps = _sorted(snaps, str(_param(req, "sort") or "timestamp"), _flag(req, "desc", True))
    start, size = _paging(req)
    return {"count": len(snaps), "model_snapshots": snaps[start : start + size]}


def update_snapshot(ctx: Ctx, req: Request) -> Json:
    """POST .../model_snapshots/{snapshot_id}/_update."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    snapshot_id = req.path_params["snapshot_id"]
    body = req.obj()
    check_fields(body, ("description", "retain"), "update_model_snapshot", req.raw)
    snap = _snapshot(ctx, job_id, snapshot_id)
    if "description" in body:
        snap["description"] = body["description"]
    if "retain" in body:
        snap["retain"] = parse_bool(body["retain"], "retain")
    results_index.write(ctx, job_id, results_index.snapshot_doc_id(job_id, snapshot_id), snap)
    return {"acknowledged": True, "model": snap}


def delete_snapshot(ctx: Ctx, req: Request) -> Json:
    """DELETE .../model_snapshots/{snapshot_id}: the active snapshot cannot be deleted."""
    job_id = req.path_params["job_id"]
    job = get_job(ctx, job_id)
    snapshot_id = req.path_params["snapshot_id"]
    _snapshot(ctx, job_id, snapshot_id)
    if job.get("model_snapshot_id") == snapshot_id:
        raise illegal_argument(
            f"Model snapshot '{snapshot_id}' is the active snapshot for job '{job_id}', so "
            "cannot be deleted"
        )
    results_index.delete_snapshot(ctx, job_id, snapshot_id)
    return {"acknowledged": True}


def revert_snapshot(ctx: Ctx, req: Request) -> Json:
    """POST .../model_snapshots/{snapshot_id}/_revert: needs a closed job."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    snapshot_id = req.path_params["snapshot_id"]
    if job_state(ctx, job_id) != "closed":
        raise conflict("Can only revert to a model snapshot when the job is closed.")
    if snapshot_id == "empty":
        snap: Json = {
            "job_id": job_id,
            "min_version": "7.0.0",
            "timestamp": 0,
            "description": "empty",
            "snapshot_id": "empty",
            "snapshot_doc_count": 0,
            "model_size_stats": default_model_size_stats(job_id, ctx.now_ms),
            "retain": False,
        }
    else:
        snap = _snapshot(ctx, job_id, snapshot_id)
    if _flag(req, "delete_intervening_results", False):
        # JobDataDeleter.deleteResultsFromTime: every timed result after the snapshot's last
        # result goes (buckets, records, influencers, model plots, forecasts among them).
        cutoff = int(snap.get("latest_result_time_stamp", 0))
        timed = {"bucket", "bucket_influencer", "record", "influencer", "model_plot"}
        results_index.delete_where(
            ctx,
            job_id,
            lambda source, _id: (
                source.get("result_type") not in timed or int(source.get("timestamp", 0)) <= cutoff
            ),
        )
    # The revert's internal JobUpdate carries the snapshot's id and its min_version together
    # (JobUpdate model_snapshot_id + model_snapshot_min_version, es-ml-api.md §1.1/§1.6), as
    # AutodetectResultProcessor.updateModelSnapshotOnJob does for a new snapshot.
    ctx.state["jobs"][job_id]["model_snapshot_id"] = snapshot_id
    ctx.state["jobs"][job_id]["model_snapshot_min_version"] = snap["min_version"]
    return {"model": snap}


# --- seeding (sandbox-only) ---------------------------------------------------------------------


def seed(ctx: Ctx, job_id: str, body: Json) -> Json:
    """Write result documents for a job, filling the fields the autodetect process would write.

    Body keys (all optional): `buckets`, `records`, `influencers`, `categories`,
    `model_snapshots`, `model_size_stats`, `data_counts`. Each becomes a document in the job's
    results index (ids and shapes as results_index.py describes), exactly what indexing it
    through `.ml-anomalies-.write-<job_id>` would store. Snapshots become the job's active
    snapshot (the newest one) unless `"set_active": false`.
    """
    job = get_job(ctx, job_id)
    span_s = int(parse_duration(job["analysis_config"]["bucket_span"], "bucket_span").ms // 1000)
    for bucket in body.get("buckets", []):
        ts = parse_date_param(bucket["timestamp"], "timestamp")
        score = float(bucket.get("anomaly_score", 0.0))
        item = {
            "job_id": job_id,
            "timestamp": ts,
            "anomaly_score": score,
            "bucket_span": span_s,
            "initial_anomaly_score": float(bucket.get("initial_anomaly_score", score)),
            "event_count": int(bucket.get("event_count", 0)),
            "is_interim": bool(bucket.get("is_interim", False)),
            "bucket_influencers": bucket.get("bucket_influencers", []),
            "processing_time_ms": int(bucket.get("processing_time_ms", 1)),
            "result_type": "bucket",
        }
        results_index.write(ctx, job_id, results_index.bucket_id(job_id, ts, span_s), item)
    for record in body.get("records", []):
        ts = parse_date_param(record["timestamp"], "timestamp")
        score = float(record.get("record_score", 0.0))
        index = int(record.get("detector_index", 0))
        dets = job["analysis_config"]["detectors"]
        det = dets[index] if index < len(dets) else dets[0]
        item = {
            "job_id": job_id,
            "result_type": "record",
            "probability": float(record.get("probability", 0.001)),
            "record_score": score,
            "initial_record_score": float(record.get("initial_record_score", score)),
            "bucket_span": span_s,
            "detector_index": index,
            "is_interim": bool(record.get("is_interim", False)),
            "timestamp": ts,
            "function": det["function"],
            "function_description": det["function"],
        }
        for key in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
            if det.get(key):
                item[key] = det[key]
        extra = {k: v for k, v in record.items() if k not in item and k not in ("timestamp",)}
        item.update(extra)
        results_index.write(ctx, job_id, results_index.record_id(job_id, item), item)
    for influencer in body.get("influencers", []):
        ts = parse_date_param(influencer["timestamp"], "timestamp")
        score = float(influencer.get("influencer_score", 0.0))
        item = {
            "job_id": job_id,
            "result_type": "influencer",
            "influencer_field_name": influencer["influencer_field_name"],
            "influencer_field_value": influencer["influencer_field_value"],
            "influencer_score": score,
            "initial_influencer_score": float(influencer.get("initial_influencer_score", score)),
            "probability": float(influencer.get("probability", 0.001)),
            "bucket_span": span_s,
            "is_interim": bool(influencer.get("is_interim", False)),
            "timestamp": ts,
        }
        results_index.write(ctx, job_id, results_index.influencer_id(job_id, item), item)
    known = len(_results(ctx, job_id, "categories"))
    for n, category in enumerate(body.get("categories", []), start=1):
        cid = int(category.get("category_id", known + n))
        item = {
            "job_id": job_id,
            "category_id": cid,
            "terms": category.get("terms", ""),
            "regex": category.get("regex", ".*"),
            "max_matching_length": int(category.get("max_matching_length", 0)),
            "examples": category.get("examples", []),
            "grok_pattern": category.get("grok_pattern", ".*?"),
            "num_matches": int(category.get("num_matches", 1)),
            "preferred_to_categories": category.get("preferred_to_categories", []),
            "mlcategory": str(cid),
            "result_type": "category_definition",
        }
        if "partition_field_value" in category:
            item["partition_field_name"] = category.get("partition_field_name")
            item["partition_field_value"] = category["partition_field_value"]
        results_index.write(ctx, job_id, results_index.category_id(job_id, cid), item)
    latest_stats = results_index.model_size_stats(ctx, job_id) or {}
    if body.get("model_size_stats"):
        latest_stats = {
            **default_model_size_stats(job_id, ctx.now_ms),
            **latest_stats,
            **body["model_size_stats"],
        }
        latest_stats.setdefault("log_time", ctx.now_ms)
        results_index.put_model_size_stats(ctx, job_id, latest_stats)
    if body.get("data_counts"):
        counts = {**(results_index.data_counts(ctx, job_id) or {}), **body["data_counts"]}
        results_index.put_data_counts(ctx, job_id, counts)
    seeded: list[Json] = []
    for snapshot in body.get("model_snapshots", []):
        ts = parse_date_param(snapshot.get("timestamp", ctx.now_ms), "timestamp")
        snap_id = str(snapshot.get("snapshot_id", ts // 1000))
        mss = {
            **default_model_size_stats(job_id, ts),
            **{k: v for k, v in latest_stats.items() if k != "log_time"},
            **snapshot.get("model_size_stats", {}),
        }
        snap = {
            "job_id": job_id,
            "min_version": snapshot.get("min_version", "8.0.0"),
            "timestamp": ts,
            "description": snapshot.get("description", f"State persisted at {ts}"),
            "snapshot_id": snap_id,
            "snapshot_doc_count": int(snapshot.get("snapshot_doc_count", 1)),
            "model_size_stats": mss,
            "latest_record_time_stamp": parse_date_param(
                snapshot.get("latest_record_time_stamp", ts), "t"
            ),
            "latest_result_time_stamp": parse_date_param(
                snapshot.get("latest_result_time_stamp", ts), "t"
            ),
            "retain": bool(snapshot.get("retain", False)),
        }
        results_index.put_snapshot(ctx, job_id, snap)
        seeded.append(snap)
    if seeded and body.get("set_active", True):
        newest = max(results_index.snapshots(ctx, job_id), key=lambda s: s["timestamp"])
        ctx.state["jobs"][job_id]["model_snapshot_id"] = newest["snapshot_id"]
        ctx.state["jobs"][job_id]["model_snapshot_min_version"] = newest["min_version"]
    counts_out = {
        kind: len(body.get(kind, []))
        for kind in ("buckets", "records", "influencers", "categories", "model_snapshots")
    }
    return {"acknowledged": True, "seeded": counts_out}
