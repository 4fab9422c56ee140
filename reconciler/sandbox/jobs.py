"""Anomaly detection job endpoints: CRUD, open/close/reset, stats, validation helpers.

Input: a `Ctx` (state, clock, config) and a routed `Request`. Output: response bodies as JSON
values, state mutations, or `EsError`s. No I/O. References: es-ml-api.md §1, §5.1, §6.1, §7.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from reconciler.sandbox import cluster_settings, datafeed_config, job_config, results_index
from reconciler.sandbox.context import (
    NODE_ID,
    Ctx,
    Request,
    elapsed_string,
    node_info,
    require_no_body_id,
)
from reconciler.sandbox.exceptions import (
    EsError,
    already_exists,
    bad_request,
    conflict,
    illegal_argument,
    not_found,
)
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.overlay import prefetch, prefetch_index, read
from reconciler.sandbox.transitions import default_model_size_stats, finish_close
from reconciler.sandbox.validation import check_fields, non_negative, parse_duration, validate_id

Json = dict[str, Any]


def missing_job(job_id: str) -> EsError:
    """404 for an unknown job (ExceptionsHelper.missingJobException)."""
    return not_found(f"No known job with id '{job_id}'")


def get_job(ctx: Ctx, job_id: str) -> Json:
    """The stored job or 404."""
    job = ctx.state["jobs"].get(job_id)
    if job is None:
        raise missing_job(job_id)
    return dict(job)


def job_state(ctx: Ctx, job_id: str) -> str:
    """Current state: `closed` when there is no persistent task (es-ml-api.md §5.1)."""
    task = ctx.state["job_tasks"].get(job_id)
    return "closed" if task is None else str(task["state"])


def group_members(ctx: Ctx, group: str) -> list[str]:
    """Ids of the jobs in a group (store index `groups`), sorted."""
    members: list[str] = ctx.state["jobs"].lookup("groups", group)
    return members


def expand_jobs(ctx: Ctx, expression: str | None, allow_no_match: bool) -> list[str]:
    """Resolve a job expression (ids, groups, wildcards, `_all`)."""
    return expand_ids(
        expression,
        ctx.state["jobs"],
        missing_job,
        allow_no_match=allow_no_match,
        groups="groups",
    )


def datafeed_id_of(ctx: Ctx, job_id: str) -> str | None:
    """The id of a job's datafeed (at most one, es-ml-api.md §2.5; store index `job_id`)."""
    ids: list[str] = ctx.state["datafeeds"].lookup("job_id", job_id)
    return ids[0] if ids else None


def datafeed_of(ctx: Ctx, job_id: str) -> Json | None:
    """The datafeed of a job, or None."""
    df_id = datafeed_id_of(ctx, job_id)
    return None if df_id is None else dict(read(ctx.state["datafeeds"], df_id))


def render_job(ctx: Ctx, job_id: str, *, exclude_generated: bool = False) -> Json:
    """A job as GET returns it, in Elasticsearch's key order (es-ml-api.md §1.8)."""
    job = read(ctx.state["jobs"], job_id)
    out: Json = {"job_id": job_id}
    if not exclude_generated:
        out["job_type"] = "anomaly_detector"
        out["job_version"] = job["job_version"]
    for key in ("groups", "description"):
        if key in job:
            out[key] = job[key]
    if not exclude_generated:
        for key in (
            "create_time",
            "finished_time",
            "model_snapshot_id",
            "model_snapshot_min_version",
        ):
            if key in job:
                out[key] = job[key]
    if "custom_settings" in job:
        settings = dict(job["custom_settings"])
        if exclude_generated:
            settings.pop("created_by", None)
        out["custom_settings"] = settings
    df = datafeed_of(ctx, job_id)
    # Decision on es-ml-api.md §10.2: exclude_generated drops the embedded datafeed_config.
    if df is not None and not exclude_generated:
        out["datafeed_config"] = df
    for key in (
        "analysis_config", "analysis_limits", "data_description", "model_plot_config",
        "renormalization_window_days", "background_persist_interval",
        "model_snapshot_retention_days", "daily_model_snapshot_retention_after_days",
        "results_retention_days", "system_annotations_retention_days", "results_index_name",
        "allow_lazy_open",
    ):  # fmt: skip
        if key in job:
            out[key] = job[key]
    if not exclude_generated and job.get("blocked"):
        out["blocked"] = job["blocked"]
    if not exclude_generated and job.get("deleting"):
        out["deleting"] = True
    return out


def _check_new_id(ctx: Ctx, job_id: str) -> None:
    if job_id in ctx.state["jobs"] or group_members(ctx, job_id):
        raise already_exists(
            f"The job cannot be created with the Id '{job_id}'. The Id is already used."
        )


def _check_group_names(ctx: Ctx, job_id: str, groups: list[str]) -> None:
    for group in groups:
        if group == job_id or group in ctx.state["jobs"]:
            raise already_exists(
                f"job and group names must be unique but job [{group}] and group [{group}] "
                "have the same name"
            )


def _max_mb(ctx: Ctx) -> int | None:
    return job_config.max_memory_mb(cluster_settings.max_model_memory_limit(ctx))


def put_job(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/anomaly_detectors/{job_id}."""
    job_id = validate_id(req.path_params["job_id"], "job_id")
    body = req.obj()
    strict = ctx.version_at_least(8, 14)
    job_config.reject_generated(body, req.raw, "job_details", strict)
    check_fields(body, job_config.JOB_FIELDS, "job_details", req.raw)
    require_no_body_id(body, "job_id", job_id)
    job = job_config.build_job(body, req.raw, job_id, max_mb=_max_mb(ctx))
    _check_new_id(ctx, job_id)
    _check_group_names(ctx, job_id, job.get("groups", []))
    datafeed = None
    if body.get("datafeed_config") is not None:
        df_body = dict(body["datafeed_config"])
        # Job.Builder.build: an inline datafeed without an id takes the job's id.
        df_id = validate_id(df_body.pop("datafeed_id", None) or job_id, "datafeed_id")
        if df_body.get("job_id", job_id) != job_id:
            # Messages.DATAFEED_AGGREGATIONS... sic: the source has a stray `}` (es-ml-api.md §5.5)
            raise illegal_argument(
                f"datafeed job_id [{df_body['job_id']}] does not equal job id [{job_id}}}"
            )
        df_body["job_id"] = job_id
        if df_id in ctx.state["datafeeds"]:
            raise already_exists(f"A datafeed with id [{df_id}] already exists")
        datafeed = datafeed_config.build_datafeed(df_body, req.raw, df_id, job, req.params)
    stored: Json = {"job_version": ctx.ml_config_version, "create_time": ctx.now_ms, **job}
    ctx.state["jobs"][job_id] = stored
    results_index.create_for_job(ctx, job_id, stored)
    if datafeed is not None:
        ctx.state["datafeeds"][datafeed["datafeed_id"]] = datafeed
    return render_job(ctx, job_id)


def get_jobs(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/anomaly_detectors[/{job_id}]."""
    ids = expand_jobs(ctx, req.path_params.get("job_id"), req.flag("allow_no_match", True))
    exclude = req.flag("exclude_generated", False)
    datafeeds = ctx.state["datafeeds"]
    prefetch_index(datafeeds, "job_id", ids)
    prefetch(datafeeds, [d for i in ids for d in datafeeds.lookup("job_id", i)])
    return {"count": len(ids), "jobs": [render_job(ctx, i, exclude_generated=exclude) for i in ids]}


def job_stats_entry(ctx: Ctx, job_id: str) -> Json:
    """One element of job `_stats` (es-ml-api.md §6.1)."""
    data_counts = {
        "job_id": job_id,
        "processed_record_count": 0, "processed_field_count": 0, "input_bytes": 0,
        "input_field_count": 0, "invalid_date_count": 0, "missing_field_count": 0,
        "out_of_order_timestamp_count": 0, "empty_bucket_count": 0, "sparse_bucket_count": 0,
        "bucket_count": 0, "input_record_count": 0,
    }  # fmt: skip
    docs = results_index.job_documents(ctx, job_id)  # read once for the four parts below
    data_counts.update(results_index.data_counts(ctx, job_id, docs) or {})
    mss = default_model_size_stats(job_id, int(ctx.state["jobs"][job_id]["create_time"]))
    mss.update(results_index.model_size_stats(ctx, job_id, docs) or {})
    buckets = results_index.results(ctx, job_id, "buckets", docs)
    timing: Json = {
        "job_id": job_id,
        "bucket_count": len(buckets),
        "total_bucket_processing_time_ms": 0.0,
    }
    if buckets:
        times = [float(b.get("processing_time_ms", 0)) for b in buckets]
        timing.update(
            total_bucket_processing_time_ms=float(sum(times)),
            minimum_bucket_processing_time_ms=min(times),
            maximum_bucket_processing_time_ms=max(times),
            average_bucket_processing_time_ms=sum(times) / len(times),
            exponential_average_bucket_processing_time_ms=sum(times) / len(times),
        )
    entry: Json = {
        "job_id": job_id,
        "data_counts": data_counts,
        "model_size_stats": mss,
        "forecasts_stats": results_index.forecast_stats(ctx, job_id, docs),
        "state": job_state(ctx, job_id),
    }
    task = ctx.state["job_tasks"].get(job_id)
    if task is not None:
        if cluster_settings.upgrade_mode_enabled(ctx):
            task = {
                **task,
                "node": None,
                "assignment_explanation": cluster_settings.AWAITING_UPGRADE,
            }
        if task.get("node"):
            entry["node"] = node_info()
        entry["assignment_explanation"] = (
            ""
            if task.get("node")
            else task.get("assignment_explanation", "persistent task awaiting assignment")
        )
        entry["open_time"] = elapsed_string(ctx.now_ms - int(task["opened_at"]))
    entry["timing_stats"] = timing
    if ctx.state["jobs"][job_id].get("deleting"):
        entry["deleting"] = True
    return entry


def job_stats(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/anomaly_detectors[/{job_id}]/_stats."""
    ids = expand_jobs(ctx, req.path_params.get("job_id"), req.flag("allow_no_match", True))
    prefetch(ctx.state["job_tasks"], ids)
    results_index.prefetch(ctx, ids)
    return {"count": len(ids), "jobs": [job_stats_entry(ctx, i) for i in ids]}


def update_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_update (es-ml-api.md §1.6)."""
    job_id = req.path_params["job_id"]
    body = req.obj()
    allowed = (
        "groups", "description", "detectors", "model_plot_config", "analysis_limits",
        "background_persist_interval", "renormalization_window_days", "results_retention_days",
        "system_annotations_retention_days", "model_snapshot_retention_days",
        "daily_model_snapshot_retention_after_days", "categorization_filters",
        "per_partition_categorization", "custom_settings", "allow_lazy_open", "model_prune_window",
        "job_id",
    )  # fmt: skip
    check_fields(body, allowed, "job_update", req.raw)
    if job_id == "_all" or "*" in job_id:
        # UpdateJobAction.Request: `_all` is refused with a 400 status_exception; es-ml-api.md
        # §1.6 says a wildcard is refused with a 400 too (its text is not cited: we reuse this).
        raise bad_request("Cannot update more than 1 job at a time")
    job = copy.deepcopy(get_job(ctx, job_id))
    require_no_body_id(body, "job_id", job_id)
    ac = job["analysis_config"]
    if "groups" in body:
        groups = job_config.validate_groups(body["groups"] or [])
        _check_group_names(ctx, job_id, groups)
        job.pop("groups", None)
        if groups:
            job["groups"] = groups
    if "description" in body:
        job["description"] = str(body["description"])
    if "detectors" in body:
        job_config.detector_update(job, body["detectors"], req.raw)
    if "model_plot_config" in body:
        job["model_plot_config"] = job_config.parse_model_plot(
            body["model_plot_config"], req.raw, "job_update"
        )
    if "analysis_limits" in body:
        if job_state(ctx, job_id) != "closed":
            # JobManager: ExceptionsHelper.badRequestException → 400 status_exception
            raise bad_request("Cannot update analysis_limits while the job is open")
        limits = job_config.parse_analysis_limits(
            body["analysis_limits"], req.raw, _max_mb(ctx), "job_update"
        )
        model_bytes = int((results_index.model_size_stats(ctx, job_id) or {}).get("model_bytes", 0))
        new_mb = int(limits["model_memory_limit"][:-2])
        current_mb = math.ceil(model_bytes / job_config.MB)
        if model_bytes and new_mb < current_mb:
            raise illegal_argument(
                "Invalid update value for analysis_limits: model_memory_limit cannot be decreased "
                f"below current usage; current usage [{current_mb}mb], update had [{new_mb}mb]"
            )
        job["analysis_limits"] = limits
    if "background_persist_interval" in body:
        job["background_persist_interval"] = job_config.background_persist(
            body["background_persist_interval"]
        )
    for key in (
        "renormalization_window_days", "results_retention_days",
        "system_annotations_retention_days",
        "model_snapshot_retention_days", "daily_model_snapshot_retention_after_days",
    ):  # fmt: skip
        if key in body:
            if body[key] is None:
                job.pop(key, None)
            else:
                job[key] = non_negative(body[key], key)
    job_config.check_retention(
        int(job["model_snapshot_retention_days"]),
        int(job["daily_model_snapshot_retention_after_days"]),
    )
    if "categorization_filters" in body:
        if not ac.get("categorization_field_name"):
            raise illegal_argument(
                "categorization_filters require setting categorization_field_name"
            )
        # Decision on es-ml-api.md §10.8: the analyzer stored at PUT (7.14+) makes filters illegal.
        raise illegal_argument(
            "categorization_filters cannot be used with categorization_analyzer - instead specify "
            "them as pattern_replace char_filters in the analyzer"
        )
    if "per_partition_categorization" in body:
        ppc_in = body["per_partition_categorization"] or {}
        current = ac.get("per_partition_categorization", {"enabled": False})
        if "enabled" in ppc_in and bool(ppc_in["enabled"]) != current["enabled"]:
            raise illegal_argument(
                "analysis_config.per_partition_categorization.enabled cannot be updated"
            )
        if ppc_in.get("stop_on_warn") and not current["enabled"]:
            raise illegal_argument(
                "stop_on_warn cannot be true in per_partition_categorization when enabled is false"
            )
        if current["enabled"]:
            current["stop_on_warn"] = bool(ppc_in.get("stop_on_warn", False))
    if "custom_settings" in body:
        job.pop("custom_settings", None)
        if body["custom_settings"] is not None:
            job["custom_settings"] = body["custom_settings"]
    if "allow_lazy_open" in body:
        job["allow_lazy_open"] = bool(body["allow_lazy_open"])
    if "model_prune_window" in body:
        span = parse_duration(ac["bucket_span"], "bucket_span")
        window = parse_duration(body["model_prune_window"], "model_prune_window")
        job_config.check_prune_window(window, span)
        ac["model_prune_window"] = str(window)
    ctx.state["jobs"][job_id] = job
    return render_job(ctx, job_id)


def delete_job(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/anomaly_detectors/{job_id} (es-ml-api.md §1.7)."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    force = req.flag("force", False)
    state = job_state(ctx, job_id)
    if state != "closed" and not force:
        raise conflict(f"Cannot delete job [{job_id}] because the job is {state}")
    df = datafeed_of(ctx, job_id)
    if df is not None:
        task = ctx.state["datafeed_tasks"].get(df["datafeed_id"])
        if task is not None and not force:
            raise conflict(
                f"Cannot delete datafeed [{df['datafeed_id']}] while its status is {task['state']}"
            )
        ctx.state["datafeed_tasks"].pop(df["datafeed_id"], None)
        del ctx.state["datafeeds"][df["datafeed_id"]]
    remove_job(ctx, job_id)
    if not req.flag("wait_for_completion", True):
        return {"task": ctx.task_id()}
    return {"acknowledged": True}


def remove_job(ctx: Ctx, job_id: str) -> None:
    """Delete a job, its task, results, snapshots, and its id from calendars."""
    ctx.state["job_tasks"].pop(job_id, None)
    del ctx.state["jobs"][job_id]
    results_index.delete_job(ctx, job_id)
    calendars = ctx.state["calendars"]
    for calendar_id in calendars.lookup("job_ids", job_id):
        calendar = calendars[calendar_id]
        calendars[calendar_id] = {
            **calendar,
            "job_ids": [j for j in calendar["job_ids"] if j != job_id],
        }


def open_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_open (es-ml-api.md §5.1)."""
    job_id = req.path_params["job_id"]
    job = get_job(ctx, job_id)
    # RestOpenJobAction parses a body as OpenJobAction.JobParams (job_id, timeout); the URL id
    # replaces a body job_id. OpenJobAction.JobParams.DEFAULT_TIMEOUT is 30 minutes.
    timeout = parse_duration(req.value("timeout") or "30m", "timeout")
    if job.get("deleting"):
        raise conflict(f"Cannot open job [{job_id}] because it is being deleted")
    if job_state(ctx, job_id) != "closed":
        raise conflict(f"Cannot open job [{job_id}] because it has already been opened")
    for det in job["analysis_config"]["detectors"]:
        for rule in det.get("custom_rules", []):
            for ref in rule.get("scope", {}).values():
                if ref["filter_id"] not in ctx.state["filters"]:
                    raise not_found(f"No filter with id [{ref['filter_id']}] exists")
    refusal = cluster_settings.assignment_refusal(ctx, job_id)
    if refusal is not None and not job.get("allow_lazy_open"):
        raise _no_node(refusal)
    ctx.state["job_tasks"][job_id] = {
        "state": "opening",
        "since": ctx.now,
        "opened_at": ctx.now_ms,
        "node": None if refusal else NODE_ID,
        "was_opened": True,
        **({"assignment_explanation": refusal} if refusal else {}),
    }
    ctx.state["jobs"][job_id].pop("finished_time", None)
    if refusal is not None:
        # a lazily opened job waiting for a node answers an empty node (OpenJobAction.Response)
        return {"opened": True, "node": ""}
    if ctx.stuck(job_id):
        # waitForJobStarted never sees the job opened: it answers 408 after `timeout`, and the
        # persistent task stays (the job keeps opening).
        raise EsError(
            408,
            "status_exception",
            f"Opening job [{job_id}] timed out after [{timeout}]",
            commit=True,
        )
    return {"opened": True, "node": NODE_ID}


def _no_node(explanation: str) -> EsError:
    """TransportOpenJobAction.checkAssignmentState: why a job that may not wait has no node.

    Disabled task allocation is makeAssignmentsNotAllowedException; anything else is
    makeNoSuitableNodesException, whose explanation is only in the IllegalStateException cause.
    Both are 429 status_exceptions.
    """
    if "[no persistent task assignments are allowed due to cluster settings]" in explanation:
        return EsError(
            429,
            "status_exception",
            "Cannot open jobs because persistent task assignment is disabled by the "
            "[cluster.persistent_tasks.allocation.enable] setting",
        )
    return EsError(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
        caused_by={
            "type": "illegal_state_exception",
            "reason": "Could not open job because no suitable nodes were found, allocation "
            f"explanation [{explanation}]",
        },
    )


def close_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_close (es-ml-api.md §5.1)."""
    ids = expand_jobs(ctx, req.path_params["job_id"], req.flag("allow_no_match", True))
    force = req.flag("force", False)
    if req.value("timeout") is not None:
        parse_duration(req.value("timeout"), "timeout")
    failed = [i for i in ids if job_state(ctx, i) == "failed"]
    if failed and not force:
        if len(ids) == 1:
            raise conflict(f"cannot close job [{failed[0]}] because it failed, use force close")
        raise conflict("one or more jobs have state failed, use force close")
    for job_id in ids:
        task = ctx.state["job_tasks"].get(job_id)
        if task is None:
            continue
        # Closing a job stops its started datafeed first (PR #74257, 7.14).
        df = datafeed_of(ctx, job_id)
        if df is not None:
            ctx.state["datafeed_tasks"].pop(df["datafeed_id"], None)
        if force or task["state"] == "failed":
            finish_close(ctx, job_id, ctx.now)
        elif task["state"] != "closing":
            task.update(state="closing", since=ctx.now)
    return {"closed": True}


def reset_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_reset."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    if job_state(ctx, job_id) != "closed":
        raise conflict("Can only reset a job when it is closed.")
    results_index.reset(ctx, job_id)
    for key in ("model_snapshot_id", "model_snapshot_min_version", "finished_time"):
        ctx.state["jobs"][job_id].pop(key, None)
    if not req.flag("wait_for_completion", True):
        return {"task": ctx.task_id()}
    return {"acknowledged": True}


def validate_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/_validate (same checks as PUT, job_id optional)."""
    body = req.obj()
    job_config.reject_generated(body, req.raw, "job_details", ctx.version_at_least(8, 14))
    check_fields(body, job_config.JOB_FIELDS, "job_details", req.raw)
    job_id = body.get("job_id")
    if job_id is not None:
        validate_id(job_id, "job_id")
    job_config.build_job(body, req.raw, str(job_id or "validate"), max_mb=_max_mb(ctx))
    return {"acknowledged": True}


def validate_detector(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/_validate/detector."""
    job_config.parse_detector(req.obj(), req.raw, summary=False)
    return {"acknowledged": True}


_KB = 1024
# Per-detector base cost (TransportEstimateModelMemoryAction, 8.x), in KB, assuming partition split.
_DETECTOR_BASE_KB = {
    **dict.fromkeys(["count", "low_count", "high_count", "non_zero_count", "low_non_zero_count",
                     "high_non_zero_count", "distinct_count", "low_distinct_count",
                     "high_distinct_count"], 32),
    **dict.fromkeys(["rare", "freq_rare"], 2),
    **dict.fromkeys(["info_content", "low_info_content", "high_info_content", "mean", "low_mean",
                     "high_mean", "min", "max", "sum", "low_sum", "high_sum", "non_null_sum",
                     "low_non_null_sum", "high_non_null_sum", "varp", "low_varp", "high_varp"], 48),
    "metric": 120,
    **dict.fromkeys(["median", "low_median", "high_median", "lat_long"], 64),
    **dict.fromkeys(["time_of_day", "time_of_week"], 10),
}  # fmt: skip
_WORKSPACE_FUNCTIONS = {
    "distinct_count", "low_distinct_count", "high_distinct_count", "info_content",
    "low_info_content", "high_info_content",
}  # fmt: skip


def _cardinality(field_kind: str, field: str, supplied: Json, overall: bool) -> int:
    if field in supplied:
        return int(supplied[field])
    if field == "mlcategory":
        return 500 if overall else 50
    which = "Overall" if overall else "Bucket max"
    raise illegal_argument(
        f"[{which}] cardinality estimate required for [{field_kind}] [{field}] but not supplied"
    )


def _reduced(cardinality: int, partitions: int, span_s: float) -> float:
    # Fewer by/over values appear per partition per bucket when both cardinalities are high.
    if cardinality == 0:
        return 0.0
    power = min(1.0, (math.log10(span_s) + 1.0) / 8.0)
    return float(cardinality / math.pow(min(cardinality, partitions), power))


def estimate_model_memory(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/_estimate_model_memory (es-ml-api.md §7).

    Follows the estimation model of TransportEstimateModelMemoryAction (8.x): 10MB base, a
    per-function cost scaled by reduced by/over cardinalities and the partition cardinality, 10KB
    per bucket value of pure influencers, 5MB per categorization partition; rounded up to MB.
    """
    body = req.obj()
    check_fields(
        body,
        ("analysis_config", "overall_cardinality", "max_bucket_cardinality"),
        "estimate_model_memory",
        req.raw,
    )
    if body.get("analysis_config") is None:
        raise illegal_argument("[analysis_config] must not be null")
    ac = job_config.parse_analysis_config(body["analysis_config"], req.raw)
    overall: Json = body.get("overall_cardinality") or {}
    max_bucket: Json = body.get("max_bucket_cardinality") or {}
    span_s = parse_duration(ac["bucket_span"], "bucket_span").ms / 1000
    total = 10 * job_config.MB
    analysis_fields: set[str] = set()
    for det in ac["detectors"]:
        cost = _DETECTOR_BASE_KB[det["function"]] * _KB
        partitions = 1
        if det.get("partition_field_name"):
            analysis_fields.add(det["partition_field_name"])
            partitions = max(
                1, _cardinality("partition_field_name", det["partition_field_name"], overall, True)
            )
        if det.get("by_field_name"):
            analysis_fields.add(det["by_field_name"])
            by = _cardinality("by_field_name", det["by_field_name"], overall, True)
            cost *= math.ceil(_reduced(by, partitions, span_s) * 2.0 / 3.0)
        if det.get("over_field_name"):
            analysis_fields.add(det["over_field_name"])
            over = _cardinality("over_field_name", det["over_field_name"], overall, True)
            cost += 768 * math.ceil(_reduced(over, partitions, span_s))
        if det.get("partition_field_name"):
            cost *= partitions
        if det["function"] in _WORKSPACE_FUNCTIONS:
            cost += 5 * job_config.MB
        total += cost
    for influencer in set(ac["influencers"]) - analysis_fields:
        total += 10 * _KB * _cardinality("influencers", influencer, max_bucket, False)
    if ac.get("categorization_field_name"):
        parts = 1
        if ac.get("per_partition_categorization", {}).get("enabled"):
            for det in ac["detectors"]:
                if det.get("partition_field_name"):
                    parts = max(
                        1,
                        _cardinality(
                            "partition_field_name", det["partition_field_name"], overall, True
                        ),
                    )
                    break
        total += 5 * parts * job_config.MB
    return {"model_memory_estimate": f"{math.ceil(total / job_config.MB)}mb"}


def flush_job(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_flush: only legal on an opened job."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    if job_state(ctx, job_id) != "opened":
        raise conflict(f"Cannot flush because job [{job_id}] is not open")
    # FlushJobAction.Request takes calc_interim/start/end/advance_time/skip_time from the query
    # string or the body; InterimResultsParams.Builder.checkValidFlushArgumentsCombination
    # refuses a window without calc_interim, and an end without a start
    # (Messages.REST_INVALID_FLUSH_PARAMS_UNEXPECTED / _MISSING, IllegalArgumentException).
    start, end = req.value("start"), req.value("end")
    if not req.flag("calc_interim", False):
        for name, value in (("start", start), ("end", end)):
            if value not in (None, ""):
                raise illegal_argument(f"Invalid flush parameters: unexpected '{name}'.")
    elif start in (None, "") and end not in (None, ""):
        raise illegal_argument("Invalid flush parameters: 'start' has not been specified.")
    return {"flushed": True, "last_finalized_bucket_end": 0}
