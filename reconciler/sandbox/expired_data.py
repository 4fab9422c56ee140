"""Expired-data deletion: what `DELETE _ml/_delete_expired_data` removes from the indices.

Input: a `Ctx` and job ids. Output: documents deleted from the jobs' results and state indices.
No I/O. The removers of TransportDeleteExpiredDataAction, per job:
- ExpiredResultsRemover (`results_retention_days`): results whose `timestamp` is older than the
  newest bucket minus the retention;
- ExpiredModelSnapshotsRemover (`model_snapshot_retention_days`, `daily_model_snapshot_
  retention_after_days`): snapshots older than the newest snapshot minus the retention go; between
  the daily cut-off and that, only the first snapshot of each day stays; the active snapshot and
  `retain: true` ones always stay;
- ExpiredForecastsRemover: forecasts whose `forecast_expiry_timestamp` has passed.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import forecasts, results_index
from reconciler.sandbox.context import Ctx

Json = dict[str, Any]
_DAY_MS = 86_400_000
_TIMED = {"bucket", "bucket_influencer", "record", "influencer", "model_plot", "categorizer_stats"}


def _results(ctx: Ctx, job_id: str, job: Json) -> None:
    days = job.get("results_retention_days")
    if days is None:
        return
    buckets = results_index.results(ctx, job_id, "buckets")
    if not buckets:
        return
    cutoff = max(int(b["timestamp"]) for b in buckets) - int(days) * _DAY_MS
    results_index.delete_where(
        ctx,
        job_id,
        lambda source, _id: (
            source.get("result_type") not in _TIMED or int(source.get("timestamp", 0)) >= cutoff
        ),
    )


def _snapshots(ctx: Ctx, job_id: str, job: Json) -> None:
    snaps = sorted(results_index.snapshots(ctx, job_id), key=lambda s: int(s["timestamp"]))
    if not snaps:
        return
    newest = int(snaps[-1]["timestamp"])
    retention = job.get("model_snapshot_retention_days", 10)
    daily_after = job.get("daily_model_snapshot_retention_after_days") or retention
    cutoff = newest - int(retention) * _DAY_MS
    daily_cutoff = newest - int(daily_after) * _DAY_MS
    days_seen: set[int] = set()
    for snap in snaps:
        ts = int(snap["timestamp"])
        keep = snap.get("retain") or snap["snapshot_id"] == job.get("model_snapshot_id")
        if keep:
            days_seen.add(ts // _DAY_MS)
            continue
        if ts < cutoff:
            results_index.delete_snapshot(ctx, job_id, str(snap["snapshot_id"]))
        elif ts < daily_cutoff:
            if ts // _DAY_MS in days_seen:
                results_index.delete_snapshot(ctx, job_id, str(snap["snapshot_id"]))
            days_seen.add(ts // _DAY_MS)


def remove(ctx: Ctx, job_ids: list[str]) -> None:
    """Run every remover for the given jobs."""
    for job_id in job_ids:
        job = ctx.state["jobs"][job_id]
        _results(ctx, job_id, job)
        _snapshots(ctx, job_id, job)
        forecasts.delete_expired(ctx, job_id)
