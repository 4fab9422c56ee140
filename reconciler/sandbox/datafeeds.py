"""Datafeed endpoints: CRUD, start/stop, stats, preview.

Input: a `Ctx` and a routed `Request`. Output: response bodies, state mutations or `EsError`s.
No I/O. References: es-ml-api.md §2, §5.2, §6.2, §7.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import cluster_settings, datafeed_config, results_index
from reconciler.sandbox.context import NODE_ID, Ctx, Request, node_info, require_no_body_id
from reconciler.sandbox.exceptions import (
    EsError,
    already_exists,
    bad_request,
    conflict,
    illegal_argument,
    not_found,
    validation_failed,
)
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.jobs import get_job, job_state, missing_job
from reconciler.sandbox.overlay import prefetch, read
from reconciler.sandbox.validation import (
    check_fields,
    parse_date_math,
    parse_date_param,
    parse_duration,
    validate_id,
)

Json = dict[str, Any]


def missing_datafeed(datafeed_id: str) -> EsError:
    """404 for an unknown datafeed (ExceptionsHelper.missingDatafeedException)."""
    return not_found(f"No datafeed with id [{datafeed_id}] exists")


def get_datafeed(ctx: Ctx, datafeed_id: str) -> Json:
    """The stored datafeed or 404."""
    df = ctx.state["datafeeds"].get(datafeed_id)
    if df is None:
        raise missing_datafeed(datafeed_id)
    return dict(df)


def datafeed_state(ctx: Ctx, datafeed_id: str) -> str:
    """`stopped` when there is no task (es-ml-api.md §5.2)."""
    task = ctx.state["datafeed_tasks"].get(datafeed_id)
    return "stopped" if task is None else str(task["state"])


def put_datafeed(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/datafeeds/{datafeed_id} (es-ml-api.md §2.5)."""
    datafeed_id = validate_id(req.path_params["datafeed_id"], "datafeed_id")
    body = req.obj()
    datafeed_config.reject_headers(body, req.raw)
    check_fields(body, datafeed_config.DATAFEED_FIELDS, "datafeed_config", req.raw)
    require_no_body_id(body, "datafeed_id", datafeed_id)
    # The REST layer parses and validates the config before the transport action looks at
    # existing datafeeds and jobs.
    datafeed_config.build_datafeed(body, req.raw, datafeed_id, None, req.params)
    if datafeed_id in ctx.state["datafeeds"]:
        raise already_exists(f"A datafeed with id [{datafeed_id}] already exists")
    job_id = body.get("job_id")
    if job_id is None:
        raise illegal_argument("[job_id] must not be null.")
    job = ctx.state["jobs"].get(str(job_id))
    if job is None:
        raise missing_job(str(job_id))
    for other_id in ctx.state["datafeeds"].lookup("job_id", str(job_id)):
        raise conflict(f"A datafeed [{other_id}] already exists for job [{job_id}]")
    df = datafeed_config.build_datafeed(body, req.raw, datafeed_id, job, req.params)
    ctx.state["datafeeds"][datafeed_id] = df
    return df


def get_datafeeds(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/datafeeds[/{datafeed_id}]."""
    ids = expand_ids(
        req.path_params.get("datafeed_id"),
        ctx.state["datafeeds"],
        missing_datafeed,
        allow_no_match=req.flag("allow_no_match", True),
    )
    exclude = req.flag("exclude_generated", False)
    items = [read(ctx.state["datafeeds"], i) for i in ids]
    if exclude:
        items = [datafeed_config.exclude_generated(i) for i in items]
    return {"count": len(ids), "datafeeds": items}


def datafeed_stats(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/datafeeds[/{datafeed_id}]/_stats (es-ml-api.md §6.2)."""
    ids = expand_ids(
        req.path_params.get("datafeed_id"),
        ctx.state["datafeeds"],
        missing_datafeed,
        allow_no_match=req.flag("allow_no_match", True),
    )
    out = []
    prefetch(ctx.state["datafeed_tasks"], ids)
    prefetch(ctx.state["datafeed_searches"], ids)
    prefetch(ctx.state["datafeeds"], ids)
    results_index.prefetch(ctx, [ctx.state["datafeeds"][df_id]["job_id"] for df_id in ids])
    for df_id in ids:
        df = ctx.state["datafeeds"][df_id]
        task = ctx.state["datafeed_tasks"].get(df_id)
        buckets = results_index.count(ctx, df["job_id"], "buckets")
        searches = int(ctx.state.get("datafeed_searches", {}).get(df_id, 0))
        entry: Json = {"datafeed_id": df_id, "state": datafeed_state(ctx, df_id)}
        if task is not None and cluster_settings.upgrade_mode_enabled(ctx):
            entry["assignment_explanation"] = cluster_settings.AWAITING_UPGRADE
        elif task is not None:
            entry["node"] = node_info()
            entry["assignment_explanation"] = ""
        timing: Json = {
            "job_id": df["job_id"],
            "search_count": buckets + searches,
            "bucket_count": buckets,
            "total_search_time_ms": 0.0,
            "exponential_average_search_time_per_hour_ms": 0.0,
        }
        if buckets:
            timing["average_search_time_per_bucket_ms"] = 0.0
        entry["timing_stats"] = timing
        if task is not None and task["state"] == "started":
            end = task.get("end_ms")
            entry["running_state"] = {
                "real_time_configured": end is None,
                "real_time_running": end is None,
                "search_interval": {
                    "start_ms": task["start_ms"],
                    "end_ms": end if end is not None else ctx.now_ms,
                },
            }
        out.append(entry)
    return {"count": len(ids), "datafeeds": out}


def update_datafeed(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/datafeeds/{datafeed_id}/_update (es-ml-api.md §2.4)."""
    datafeed_id = req.path_params["datafeed_id"]
    current = get_datafeed(ctx, datafeed_id)
    body = req.obj()
    datafeed_config.reject_headers(body, req.raw)
    check_fields(body, (*datafeed_config.UPDATE_FIELDS, "datafeed_id"), "datafeed_update", req.raw)
    require_no_body_id(body, "datafeed_id", datafeed_id)
    body = {k: v for k, v in body.items() if k != "datafeed_id"}
    if "job_id" in body and body["job_id"] != current["job_id"]:
        raise illegal_argument("Datafeed's job_id cannot be changed.")
    state = datafeed_state(ctx, datafeed_id)
    if state != "stopped":
        raise conflict(f"Cannot update datafeed [{datafeed_id}] while its status is {state}")
    job = ctx.state["jobs"].get(current["job_id"])
    if "query_delay" not in body:
        # Keep the stored value (a derived default stays what it was).
        body["query_delay"] = current["query_delay"]
    if "max_empty_searches" in body and body["max_empty_searches"] == -1:
        current.pop("max_empty_searches", None)
        body.pop("max_empty_searches")
    df = datafeed_config.build_datafeed(body, req.raw, datafeed_id, job, req.params, update=current)
    ctx.state["datafeeds"][datafeed_id] = df
    return df


def delete_datafeed(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/datafeeds/{datafeed_id}."""
    datafeed_id = req.path_params["datafeed_id"]
    get_datafeed(ctx, datafeed_id)
    state = datafeed_state(ctx, datafeed_id)
    if state != "stopped" and not req.flag("force", False):
        raise conflict(f"Cannot delete datafeed [{datafeed_id}] while its status is {state}")
    ctx.state["datafeed_tasks"].pop(datafeed_id, None)
    del ctx.state["datafeeds"][datafeed_id]
    return {"acknowledged": True}


def start_datafeed(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/datafeeds/{datafeed_id}/_start (es-ml-api.md §5.2).

    RestStartDatafeedAction reads `start`, `end` and `timeout` from the body when there is one
    (StartDatafeedAction.DatafeedParams.PARSER, which ignores unknown fields), otherwise from
    the query string; a body `datafeed_id` is replaced by the URL's.
    """
    datafeed_id = req.path_params["datafeed_id"]
    source: dict[str, Any] = req.obj() if req.has_body() else dict(req.params)
    start_ms = 0
    if source.get("start") is not None:
        start_ms = parse_date_math(source["start"], "start", ctx.now_ms)
        if start_ms < 0:
            raise illegal_argument(f"[start] must not be negative [{start_ms}].")
    end_ms = None
    if source.get("end") is not None:
        end_ms = parse_date_math(source["end"], "end", ctx.now_ms)
    if source.get("timeout") is not None:
        parse_duration(source["timeout"], "timeout")
    if end_ms is not None and end_ms <= start_ms:
        # StartDatafeedAction.Request.validate
        raise validation_failed(f"start [{start_ms}] must be earlier than end [{end_ms}]")
    df = get_datafeed(ctx, datafeed_id)
    state = job_state(ctx, df["job_id"])
    if state not in ("opened", "opening"):
        raise conflict(
            f"cannot start datafeed [{datafeed_id}] because job [{df['job_id']}] is {state}"
        )
    if datafeed_state(ctx, datafeed_id) != "stopped":
        raise conflict(f"cannot start datafeed [{datafeed_id}] because it has already been started")
    _check_indices(ctx, df)
    _check_job_fields(ctx, df)
    ctx.state["datafeed_tasks"][datafeed_id] = {
        "state": "starting",
        "since": ctx.now,
        "start_ms": start_ms,
        "end_ms": end_ms,
    }
    return {"started": True, "node": NODE_ID}


def _check_indices(ctx: Ctx, df: Json) -> None:
    """The datafeed's search must find its indices (TransportStartDatafeedAction).

    Before the task starts, the transport action checks the datafeed's fields against
    `_field_caps` of its indices; a concrete index that does not exist fails that request
    with IndexNotFoundException, answered as `datafeed [x] cannot retrieve data because index
    [y] does not exist` (404). A pattern that matches nothing is allowed (allow_no_indices),
    and `ignore_unavailable` skips missing concrete indices.
    """
    from reconciler.sandbox.documents import index_exists

    if ctx.config.implicit_indices or df["indices_options"]["ignore_unavailable"]:
        return
    for index in df["indices"]:
        if "*" not in index and ":" not in index and not index_exists(ctx, index):
            raise not_found(
                f"datafeed [{df['datafeed_id']}] cannot retrieve data because index [{index}] "
                "does not exist"
            )


def _check_job_fields(ctx: Ctx, df: Json) -> None:
    """DatafeedNodeSelector / DatafeedJobValidator at start: the job's fields must be mapped.

    The data extractor is built from `_field_caps` of the datafeed's indices
    (ExtractedFields.build / TimeBasedExtractedFields): the job's time field and each analysis
    field must be mapped in some index, a script field, or a runtime field; otherwise the
    start fails with `[datafeed] cannot retrieve field [f] because it has no mappings` (the
    IllegalArgumentException becomes a 400 badRequestException prefixed with the id). Only
    checked when some index is mapped at all (a pattern over no indices finds no data later).
    """
    from reconciler.sandbox import documents, job_config

    if ctx.config.implicit_indices or "aggregations" in df:
        return
    mapped = documents.flat_fields(ctx, df["indices"])
    if not mapped:
        return
    job = ctx.state["jobs"].get(df["job_id"])
    if job is None:
        return
    known = set(mapped) | set(df.get("script_fields") or {}) | set(df.get("runtime_mappings") or {})
    wanted = [job["data_description"]["time_field"]]
    wanted += sorted(job_config.analysis_fields(job["analysis_config"]) - {"mlcategory"})
    for field in wanted:
        if field not in known:
            raise bad_request(
                f"[{df['datafeed_id']}] cannot retrieve field [{field}] because it has no mappings"
            )


def stop_datafeed(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/datafeeds/{datafeed_id}/_stop."""
    ids = expand_ids(
        req.path_params["datafeed_id"],
        ctx.state["datafeeds"],
        missing_datafeed,
        allow_no_match=req.flag("allow_no_match", True),
    )
    force = req.flag("force", False)
    close_job = req.flag("close_job", False)
    if req.value("timeout") is not None:
        parse_duration(req.value("timeout"), "timeout")
    for df_id in ids:
        task = ctx.state["datafeed_tasks"].get(df_id)
        if task is not None:
            if force:
                del ctx.state["datafeed_tasks"][df_id]
            elif task["state"] != "stopping":
                task.update(state="stopping", since=ctx.now)
        if close_job:
            job_id = ctx.state["datafeeds"][df_id]["job_id"]
            job_task = ctx.state["job_tasks"].get(job_id)
            if job_task is not None and job_task["state"] in ("opened", "opening"):
                job_task.update(state="closing", since=ctx.now)
    return {"stopped": True}


def preview_datafeed(ctx: Ctx, req: Request) -> Any:
    """GET|POST /_ml/datafeeds[/{datafeed_id}]/_preview: a top-level array of documents."""
    from reconciler.sandbox.documents import search_docs

    body = req.obj()
    check_fields(
        body, ("datafeed_config", "job_config", "start", "end"), "preview_datafeed_action", req.raw
    )
    start, end = _preview_window(ctx, req, body)
    datafeed_id = req.path_params.get("datafeed_id")
    has_config = body.get("datafeed_config") is not None or body.get("job_config") is not None
    # PreviewDatafeedAction.Request.Builder.build
    if datafeed_id is not None and has_config:
        raise illegal_argument(
            "[datafeed_id] cannot be supplied when either [job_config] or [datafeed_config] is "
            "present"
        )
    if (
        datafeed_id is None
        and body.get("job_config") is not None
        and not body.get("datafeed_config")
    ):
        raise illegal_argument(
            "[datafeed_config] must be present when a [job_config.datafeed_config] is not present"
        )
    if datafeed_id is not None:
        df = get_datafeed(ctx, datafeed_id)
        job = get_job(ctx, df["job_id"])
    else:
        if body.get("datafeed_config") is None:
            raise illegal_argument("[datafeed_config] must not be null.")
        if body["datafeed_config"].get("job_id") is None and body.get("job_config") is None:
            raise illegal_argument(
                "[datafeed_config.job_id] must be set or a [job_config] must be provided"
            )
        df_body = dict(body["datafeed_config"])
        job: Json | None = ctx.state["jobs"].get(str(df_body.get("job_id")))  # type: ignore[no-redef]
        if body.get("job_config") is not None:
            from reconciler.sandbox import job_config

            job = job_config.build_job(body["job_config"], req.raw, "preview", max_mb=None)
            df_body.setdefault("job_id", "preview")
        if job is None:
            raise missing_job(str(df_body.get("job_id")))
        df = datafeed_config.build_datafeed(df_body, req.raw, "preview", job, req.params)
    time_field = job["data_description"]["time_field"]
    fields = set()
    for det in job["analysis_config"]["detectors"]:
        for key in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
            if det.get(key):
                fields.add(det[key])
    fields.update(job["analysis_config"].get("influencers", []))
    out = []
    for doc in search_docs(ctx, df["indices"], df["query"]):
        source = doc["_source"]
        stamp = source.get(time_field)
        if stamp is None:
            continue
        stamp_ms = parse_date_param(stamp, time_field)
        if (start is not None and stamp_ms < start) or (end is not None and stamp_ms >= end):
            continue
        row: Json = {time_field: stamp_ms}
        for field in sorted(fields):
            if field in source:
                row[field] = source[field]
        out.append(row)
    out.sort(key=lambda r: r[time_field])
    return out


def _preview_window(ctx: Ctx, req: Request, body: Json) -> tuple[int | None, int | None]:
    """`start`/`end` of a preview: body fields, else query parameters (RestPreviewDatafeedAction).

    Both go through StartDatafeedAction.DatafeedParams.parseDateOrThrow (date math allowed), and
    PreviewDatafeedAction.Request.validate refuses an end that is not after the start.
    """
    bounds: list[int | None] = []
    for name in ("start", "end"):
        value = body.get(name, req.params.get(name))
        bounds.append(None if value is None else parse_date_math(value, name, ctx.now_ms))
    start, end = bounds
    if start is not None and end is not None and end <= start:
        raise validation_failed(f"start [{start}] must be earlier than end [{end}]")
    return start, end
