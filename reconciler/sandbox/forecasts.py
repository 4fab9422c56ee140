"""Forecasts: `POST _forecast` and `DELETE _forecast`, as documents in the job's results index.

Input: a `Ctx` and a routed `Request`. Output: `{"acknowledged", "forecast_id"}` /
`{"acknowledged"}` bodies; a `model_forecast_request_stats` document (ForecastRequestStats)
and `model_forecast` documents (Forecast) per detector and bucket. No I/O.

Parameter rules from ForecastJobAction.Request and TransportForecastJobAction: `duration`
defaults to 1d, must be positive, at most 3650d and at least the bucket span; `expires_in`
defaults to 14d and must not be negative (0 keeps the forecast forever); `max_model_memory`
defaults to 20mb and must be below 500mb. The job must be open. The sandbox runs no model: the
forecast finishes at once with zero-valued predictions (at most `_MAX_BUCKETS` buckets per
detector), which is enough for the client and for `forecasts_stats`, not for its numbers.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import results_index
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import conflict, illegal_argument, not_found
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.jobs import get_job, job_state
from reconciler.sandbox.validation import parse_bytes, parse_duration

Json = dict[str, Any]
_DAY_MS = 86_400_000
_MAX_BUCKETS = 100


def _duration_ms(req: Request, name: str, default: str) -> tuple[float, str]:
    raw = req.value(name)
    text = default if raw is None else str(raw)
    return parse_duration(text, name).ms, text


def forecast(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/anomaly_detectors/{job_id}/_forecast."""
    job_id = req.path_params["job_id"]
    job = get_job(ctx, job_id)
    duration_ms, duration = _duration_ms(req, "duration", "1d")
    if duration_ms <= 0:
        raise illegal_argument(f"[duration] must be positive: [{duration}]")
    if duration_ms > 3650 * _DAY_MS:
        raise illegal_argument(f"[duration] must be 3650d or less: [{duration}]")
    expires_ms, expires = _duration_ms(req, "expires_in", "14d")
    if expires_ms < 0:
        raise illegal_argument(f"[expires_in] must be non-negative: [{expires}]")
    if req.value("max_model_memory") is not None:
        memory = parse_bytes(req.value("max_model_memory"), "max_model_memory")
        if memory >= 500 * 1024 * 1024:
            raise illegal_argument("[max_model_memory] must be less than 500mb")
    state = job_state(ctx, job_id)
    if state != "opened":
        raise conflict(f"Cannot forecast for job [{job_id}] as it should be opened but is {state}")
    span = parse_duration(job["analysis_config"]["bucket_span"], "bucket_span")
    if duration_ms < span.ms:
        raise illegal_argument(
            f"[duration] must be greater or equal to the bucket span: [{duration}/"
            f"{job['analysis_config']['bucket_span']}]"
        )
    forecast_id = f"sandbox-forecast-{ctx.next_counter()}"
    span_ms = int(span.ms)
    buckets = results_index.results(ctx, job_id, "buckets")
    start = max(
        (b["timestamp"] + span_ms for b in buckets), default=ctx.now_ms // span_ms * span_ms
    )
    count = 0
    for det_index, det in enumerate(job["analysis_config"]["detectors"]):
        for n in range(min(int(duration_ms // span_ms), _MAX_BUCKETS)):
            ts = start + n * span_ms
            results_index.write(
                ctx,
                job_id,
                f"{job_id}_model_forecast_{forecast_id}_{ts}_{span_ms // 1000}_{det_index}_0_0",
                {
                    "job_id": job_id,
                    "forecast_id": forecast_id,
                    "result_type": "model_forecast",
                    "bucket_span": span_ms // 1000,
                    "detector_index": det_index,
                    "timestamp": ts,
                    "model_feature": f"'{det['function']}'",
                    "forecast_lower": 0.0,
                    "forecast_upper": 0.0,
                    "forecast_prediction": 0.0,
                },
            )
            count += 1
    results_index.write(
        ctx,
        job_id,
        f"{job_id}_model_forecast_request_stats_{forecast_id}",
        {
            "job_id": job_id,
            "result_type": "model_forecast_request_stats",
            "forecast_id": forecast_id,
            "timestamp": start,
            "forecast_start_timestamp": start,
            "forecast_end_timestamp": start + int(duration_ms),
            "forecast_create_timestamp": ctx.now_ms,
            "forecast_expiry_timestamp": ctx.now_ms + int(expires_ms) if expires_ms else 0,
            "forecast_messages": [],
            "forecast_progress": 1.0,
            "forecast_status": "finished",
            "processed_record_count": count,
            "forecast_memory_bytes": 0,
            "processing_time_ms": 0,
        },
    )
    return {"acknowledged": True, "forecast_id": forecast_id}


def delete_forecast(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/anomaly_detectors/{job_id}/_forecast[/{forecast_id}] (request stats + docs)."""
    job_id = req.path_params["job_id"]
    get_job(ctx, job_id)
    expression = req.path_params.get("forecast_id", "_all")
    ids = [f["forecast_id"] for f in results_index.results(ctx, job_id, "forecast_requests")]
    allow = req.flag("allow_no_forecasts", True)
    if not ids and expression in ("_all", "*", "") and not allow:
        raise not_found(f"No forecast(s) [{expression}] exists for job [{job_id}]")
    wanted = set(
        expand_ids(
            expression,
            ids,
            lambda f: not_found(f"No forecast(s) [{f}] exists for job [{job_id}]"),
            allow_no_match=allow,
        )
    )
    forecast_types = {"model_forecast", "model_forecast_request_stats"}
    results_index.delete_where(
        ctx,
        job_id,
        lambda source, _id: (
            source.get("result_type") not in forecast_types
            or source.get("forecast_id") not in wanted
        ),
    )
    return {"acknowledged": True}


def delete_expired(ctx: Ctx, job_id: str) -> int:
    """Forecasts whose expiry time has passed (ExpiredForecastsRemover); returns how many."""
    expired = {
        f["forecast_id"]
        for f in results_index.results(ctx, job_id, "forecast_requests")
        if 0 < int(f.get("forecast_expiry_timestamp", 0)) < ctx.now_ms
    }
    if not expired:
        return 0
    results_index.delete_where(
        ctx, job_id, lambda source, _id: source.get("forecast_id") not in expired
    )
    return len(expired)
