"""Exact request order of real plans (planner + executor) for a restart-update and a replace.

es-ml-api.md §5.4: an `analysis_limits` update needs the job closed (stop datafeed -> close job
-> update -> reopen -> restart); a replace stops, closes, deletes the datafeed and the job,
recreates both, then opens and starts them. The whole request log is compared, polls included
(with no transition delay every wait is exactly one stats read).
"""

from __future__ import annotations

from typing import Any

import pytest
from apply_helpers import (
    JOB_BODY,
    feed_ref,
    job_ref,
    live_refs,
    plan_for,
    request_log,
    reset_log,
    run_state,
    seed_job,
)

from reconciler import ownership
from reconciler.apply import apply_plan
from reconciler.client import MLClient
from reconciler.model import Kind, Resource
from reconciler.sandbox import Sandbox

FEED = {"job_id": "j", "indices": ["logs-*"]}


def desired(job_body: dict[str, Any]) -> list[Resource]:
    return [
        Resource(ref=job_ref("j"), state="opened", body=job_body),
        Resource(ref=feed_ref("f"), state="started", body=FEED),
    ]


def seed_running_job(client: MLClient) -> None:
    body = ownership.with_marker(
        Kind.JOB, {**JOB_BODY, "analysis_limits": {"model_memory_limit": "100mb"}}
    )
    seed_job(client, "j", state="opened", feed="f", feed_state="started", body=body)


def log_lines(sandbox: Sandbox) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in request_log(sandbox)]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_analysis_limits_update_on_an_open_job_with_a_started_datafeed(
    sandbox: Sandbox, client: MLClient, concurrency: int
) -> None:
    seed_running_job(client)
    plan = plan_for(
        client, desired({**JOB_BODY, "analysis_limits": {"model_memory_limit": "200mb"}})
    )
    reset_log(sandbox)
    result = apply_plan(plan, client, concurrency=concurrency, poll_interval=0.01)
    assert result.ok
    assert log_lines(sandbox) == [
        "POST /_ml/datafeeds/f/_stop",
        "GET /_ml/datafeeds/f/_stats",
        "POST /_ml/anomaly_detectors/j/_close",
        "GET /_ml/anomaly_detectors/j/_stats",
        "POST /_ml/anomaly_detectors/j/_update",
        "POST /_ml/anomaly_detectors/j/_open",  # answers opened: true, so no poll
        "POST /_ml/datafeeds/f/_start",  # answers started: true, so no poll
    ]
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "started"
    assert (
        plan_for(
            client, desired({**JOB_BODY, "analysis_limits": {"model_memory_limit": "200mb"}})
        ).steps
        == ()
    )


@pytest.mark.parametrize("concurrency", [1, 4])
def test_replace_of_a_running_job_and_its_datafeed(
    sandbox: Sandbox, client: MLClient, concurrency: int
) -> None:
    seed_running_job(client)
    changed = {
        **JOB_BODY,
        "analysis_config": {"bucket_span": "30m", "detectors": [{"function": "count"}]},
        "analysis_limits": {"model_memory_limit": "100mb"},
    }
    plan = plan_for(client, desired(changed))
    assert [s.destructive for s in plan.steps].count(True) == 2
    reset_log(sandbox)
    result = apply_plan(plan, client, concurrency=concurrency, poll_interval=0.01)
    assert result.ok
    assert log_lines(sandbox) == [
        "POST /_ml/datafeeds/f/_stop",
        "GET /_ml/datafeeds/f/_stats",
        "POST /_ml/anomaly_detectors/j/_close",
        "GET /_ml/anomaly_detectors/j/_stats",
        "DELETE /_ml/datafeeds/f",
        "DELETE /_ml/anomaly_detectors/j",
        "PUT /_ml/anomaly_detectors/j",
        "PUT /_ml/datafeeds/f",
        "POST /_ml/anomaly_detectors/j/_open",  # answers opened: true, so no poll
        "POST /_ml/datafeeds/f/_start",  # answers started: true, so no poll
    ]
    assert live_refs(client) == {job_ref("j"), feed_ref("f")}
    assert plan_for(client, desired(changed)).steps == ()
