"""Time-based state machines, evaluated lazily at the start of every request.

Input: the state and the current time. Output: the state with every due transition applied
(opening→opened, closing→closed with a model snapshot, datafeed starting→started, lookback end
→ stopped + job auto-close, DFA starting→started→(analysis done)→stopped). No I/O.

Each task stores the state it is in and `since` (epoch seconds); a transition completes once
`transition_delay` seconds passed. Only tasks listed in the store's `pending` index (those not in
a resting state: opened, failed, a datafeed started without `end`) are looked at, so settling
costs the number of tasks in transition, not the number of tasks. Chains are evaluated in
virtual time (the next step starts when the previous one completed), so a request that comes much
later sees the final state. Ids listed as stuck never complete. Without background threads this
works across processes sharing a file.
References: es-ml-api.md §5.1-§5.3.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.context import NODE_ID, Ctx

Json = dict[str, Any]

DFA_COMMON_PHASES = ("reindexing", "loading_data")


def dfa_phases(config: Json) -> list[str]:
    """Progress phases per analysis type (es-ml-api.md §6.3, decision on §10.6)."""
    analysis = next(iter(config["analysis"]))
    if analysis == "outlier_detection":
        middle = ["computing_outliers"]
    else:
        middle = [
            "feature_selection",
            "coarse_parameter_search",
            "fine_tuning_parameters",
            "final_training",
        ]
    phases = [*DFA_COMMON_PHASES, *middle, "writing_results"]
    if analysis != "outlier_detection":
        phases.append("inference")
    return phases


def settle(ctx: Ctx) -> None:
    """Apply every transition that is due at `ctx.now`."""
    delay = float(ctx.setting("transition_delay"))
    closing = _settle_datafeeds(ctx, delay)
    _settle_jobs(ctx, delay, closing)
    _settle_dfa(ctx, delay)


def _pending(tasks: Any) -> list[str]:
    """Ids of the tasks in transition (store index `pending`)."""
    ids: list[str] = tasks.lookup("pending", "pending")
    return ids


def _due(ctx: Ctx, task: Json, resource_id: str, delay: float) -> float | None:
    """When the current transition of a task completed, or None if not yet / stuck."""
    if ctx.stuck(resource_id):
        return None
    done = float(task["since"]) + delay
    return done if done <= ctx.now else None


def _settle_jobs(ctx: Ctx, delay: float, closing: list[str]) -> None:
    tasks: Json = ctx.state["job_tasks"]
    for job_id in dict.fromkeys([*_pending(tasks), *closing]):
        task = tasks.get(job_id)
        if task is None:
            continue
        if task["state"] == "opening" and not task.get("node"):
            # a lazily opened job waits until its task can be assigned (cluster settings)
            from reconciler.sandbox.cluster_settings import assignment_refusal

            if assignment_refusal(ctx, job_id) is not None:
                continue
            task.pop("assignment_explanation", None)
            task.update(node=NODE_ID, since=ctx.now)
        if task["state"] == "opening":
            done = _due(ctx, task, job_id, delay)
            if done is not None:
                task.update(state="opened", since=done)
        if task["state"] == "closing":
            done = _due(ctx, task, job_id, delay)
            if done is not None:
                finish_close(ctx, job_id, done)


def finish_close(ctx: Ctx, job_id: str, when: float) -> None:
    """Job process stopped: persist a model snapshot (if it was opened) and set finished_time."""
    task = ctx.state["job_tasks"].pop(job_id, None)
    job = ctx.state["jobs"].get(job_id)
    if job is None:
        return
    job["finished_time"] = int(when * 1000)
    if task is not None and task.get("was_opened"):
        write_snapshot(ctx, job_id, int(when * 1000), "State persisted due to job close at ")


def write_snapshot(ctx: Ctx, job_id: str, when_ms: int, description_prefix: str) -> Json:
    """Persist a model snapshot as the autodetect process does on close (es-ml-api.md §8)."""
    import datetime as dt

    from reconciler.sandbox import results_index

    taken = {s["snapshot_id"] for s in results_index.snapshots(ctx, job_id)}
    snapshot_id = str(when_ms // 1000)
    while snapshot_id in taken:
        snapshot_id = str(int(snapshot_id) + 1)
    stats = {
        k: v
        for k, v in (results_index.model_size_stats(ctx, job_id) or {}).items()
        if k != "log_time"
    }
    stamp = dt.datetime.fromtimestamp(when_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S%z")
    snap = {
        "job_id": job_id,
        "min_version": "7.0.0" if not ctx.version_at_least(8, 0) else "8.0.0",
        "timestamp": when_ms,
        "description": description_prefix + stamp[:-5] + "+0000",
        "snapshot_id": snapshot_id,
        "snapshot_doc_count": 1,
        "model_size_stats": {**default_model_size_stats(job_id, when_ms), **stats},
        "latest_record_time_stamp": stats.get("latest_record_time_stamp", when_ms),
        "latest_result_time_stamp": stats.get("latest_result_time_stamp", when_ms),
        "retain": False,
    }
    results_index.put_snapshot(ctx, job_id, snap)
    ctx.state["jobs"][job_id]["model_snapshot_id"] = snapshot_id
    ctx.state["jobs"][job_id]["model_snapshot_min_version"] = snap["min_version"]
    return snap


def default_model_size_stats(job_id: str, log_time: int) -> Json:
    """A zeroed `model_size_stats` (es-ml-api.md §6.1)."""
    return {
        "job_id": job_id,
        "result_type": "model_size_stats",
        "model_bytes": 0,
        "total_by_field_count": 0,
        "total_over_field_count": 0,
        "total_partition_field_count": 0,
        "bucket_allocation_failures_count": 0,
        "memory_status": "ok",
        "categorized_doc_count": 0,
        "total_category_count": 0,
        "frequent_category_count": 0,
        "rare_category_count": 0,
        "dead_category_count": 0,
        "failed_category_count": 0,
        "categorization_status": "ok",
        "log_time": log_time,
    }


def _settle_datafeeds(ctx: Ctx, delay: float) -> list[str]:
    """Settle datafeeds; returns the jobs that a finished lookback started closing."""
    tasks: Json = ctx.state["datafeed_tasks"]
    lookback = float(ctx.setting("datafeed_lookback"))
    closing: list[str] = []
    for df_id in _pending(tasks):
        task = tasks[df_id]
        if task["state"] == "starting":
            done = _due(ctx, task, df_id, delay)
            if done is not None:
                task.update(state="started", since=done)
        if task["state"] == "started" and task.get("end_ms") is not None and not ctx.stuck(df_id):
            # A lookback-only datafeed stops itself when it reaches `end` (es-ml-api.md §5.2).
            finished = float(task["since"]) + lookback
            if finished <= ctx.now:
                task.update(state="stopping", since=finished, auto_close=True)
                # The look-back searched its indices: its timing stats say so (§6.2).
                searches: Json = ctx.state.setdefault("datafeed_searches", {})
                searches[df_id] = int(searches.get(df_id, 0)) + 1
        if task["state"] == "stopping":
            done = _due(ctx, task, df_id, delay)
            if done is not None:
                del tasks[df_id]
                df = ctx.state["datafeeds"].get(df_id)
                job_task = ctx.state["job_tasks"].get(df["job_id"]) if df else None
                # Decision on es-ml-api.md §10.11: a finished lookback closes its job.
                if (
                    task.get("auto_close")
                    and job_task
                    and job_task["state"] in ("opened", "opening")
                ):
                    job_task.update(state="closing", since=done)
                    closing.append(df["job_id"])
    return closing


def _settle_dfa(ctx: Ctx, delay: float) -> None:
    tasks: Json = ctx.state["dfa_tasks"]
    duration = ctx.setting("dfa_duration")
    for dfa_id in _pending(tasks):
        task = tasks[dfa_id]
        if task["state"] == "starting":
            done = _due(ctx, task, dfa_id, delay)
            if done is not None:
                task.update(state="started", since=done, started_at=done)
        if task["state"] == "started" and duration is not None and not ctx.stuck(dfa_id):
            finished = float(task["started_at"]) + float(duration)
            if finished <= ctx.now:
                del tasks[dfa_id]
                complete_dfa(ctx, dfa_id, finished)
                continue
        if task["state"] == "stopping":
            done = _due(ctx, task, dfa_id, delay)
            if done is not None:
                del tasks[dfa_id]


def complete_dfa(ctx: Ctx, dfa_id: str, when: float) -> None:
    """Analysis finished: progress 100 everywhere and results written to the destination."""
    from reconciler.sandbox.documents import ensure_index, write_dfa_results

    config = ctx.state["dfa"].get(dfa_id)
    if config is None:
        return
    runs: Json = ctx.state.setdefault("dfa_runs", {})
    runs[dfa_id] = {
        "completed_at": int(when * 1000),
        "progress": dict.fromkeys(dfa_phases(config), 100),
    }
    ensure_index(ctx, config["dest"]["index"])
    write_dfa_results(ctx, config)


def dfa_progress(ctx: Ctx, dfa_id: str) -> list[Json]:
    """The `progress` array of DFA stats for the current time."""
    config = ctx.state["dfa"][dfa_id]
    phases = dfa_phases(config)
    task = ctx.state["dfa_tasks"].get(dfa_id)
    run = ctx.state.setdefault("dfa_runs", {}).get(dfa_id)
    values = dict.fromkeys(phases, 0)
    if run is not None:
        values.update(run["progress"])
    if task is not None and task["state"] in ("started", "stopping") and "started_at" in task:
        duration = ctx.setting("dfa_duration")
        if duration is None or float(duration) <= 0:
            # Runs until stopped: reindexing and loading are done, the analysis never ends.
            fraction = 2 / len(phases)
        else:
            fraction = min((ctx.now - float(task["started_at"])) / float(duration), 1.0)
        total = fraction * len(phases)
        values = {}
        for i, phase in enumerate(phases):
            values[phase] = int(max(0.0, min(1.0, total - i)) * 100)
    return [{"phase": p, "progress_percent": values[p]} for p in phases]
