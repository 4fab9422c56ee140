"""The executor on hand-built plans against the in-process sandbox (real client, real waits)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from apply_helpers import (
    JOB_BODY,
    admin,
    feed_ref,
    job_ref,
    mutating_calls,
    new_client,
    new_sandbox,
    plan_of,
    request_log,
    reset_log,
    run_state,
    seed_job,
    set_faults,
    step,
)

from reconciler.apply import EventKind, StepEvent, apply_plan
from reconciler.client import MLClient, api
from reconciler.errors import LockError, PlanError
from reconciler.model import Kind, Ref
from reconciler.sandbox import Sandbox

FAST: dict[str, Any] = {"poll_interval": 0.01, "wait_timeout": 5.0}


def filter_ref(i: str) -> Ref:
    return Ref(kind=Kind.FILTER, id=i)


def create_filter(index: int, name: str, **kw: Any) -> Any:
    return step(index, filter_ref(name), "create", api.put_filter(name, {"items": ["a"]}), **kw)


def statuses(result: Any) -> list[str]:
    return [o.status.value for o in result.outcomes]


def test_concurrency_one_runs_steps_strictly_in_plan_order(
    sandbox: Sandbox, client: MLClient
) -> None:
    names = ["f3", "f1", "f4", "f2", "f0"]
    plan = plan_of(*(create_filter(i, n) for i, n in enumerate(names)))
    reset_log(sandbox)
    result = apply_plan(plan, client, concurrency=1, **FAST)
    assert result.ok
    assert mutating_calls(sandbox) == [f"PUT /_ml/filters/{n}" for n in names]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_in_flight_steps_never_exceed_the_bound(concurrency: int) -> None:
    sandbox = new_sandbox(latency=0.02)
    client = new_client(sandbox)
    plan = plan_of(*(create_filter(i, f"f{i}") for i in range(12)))
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def on_event(event: StepEvent) -> None:
        nonlocal in_flight, peak
        with lock:
            if event.kind is EventKind.STARTED:
                in_flight += 1
                peak = max(peak, in_flight)
            elif event.kind is EventKind.FINISHED:
                in_flight -= 1

    result = apply_plan(plan, client, concurrency=concurrency, on_event=on_event, **FAST)
    assert result.ok
    # 12 steps of 20 ms each: with a bound of 3 they do overlap, but never more than 3.
    assert peak == concurrency


def test_dependents_of_a_failure_are_skipped_and_independent_work_continues(
    sandbox: Sandbox, client: MLClient
) -> None:
    bad_job = {"analysis_config": {"bucket_span": "15m", "detectors": []}, "data_description": {}}
    plan = plan_of(
        step(0, job_ref("a"), "create", api.put_job("a", bad_job)),
        step(
            1,
            feed_ref("fa"),
            "create",
            api.put_datafeed("fa", {"job_id": "a", "indices": ["x"]}),
            depends_on=[0],
        ),
        step(2, job_ref("a"), "open", api.open_job("a"), wait_for="opened", depends_on=[0]),
        step(
            3,
            feed_ref("fa"),
            "start",
            api.start_datafeed("fa"),
            wait_for="started",
            depends_on=[1, 2],
        ),
        create_filter(4, "independent"),
    )
    result = apply_plan(plan, client, concurrency=2, **FAST)
    assert statuses(result) == ["failed", "skipped", "skipped", "skipped", "done"]
    assert "No detectors configured" in result.outcomes[0].message
    assert result.outcomes[1].message == (
        "depends on step 1 (create AnomalyDetectionJob/a), which failed"
    )
    assert result.outcomes[3].message.startswith("depends on step 2 (create Datafeed/fa)")
    assert not result.ok
    # Only the failed create and the independent filter reached the cluster.
    assert mutating_calls(sandbox) == [
        "PUT /_ml/anomaly_detectors/a",
        "PUT /_ml/filters/independent",
    ]


def restart_update_plan(update_body: dict[str, Any]) -> Any:
    """stop datafeed, close job, update job, open job (restore), start datafeed (restore)."""
    return plan_of(
        step(0, feed_ref("f"), "stop", api.stop_datafeed("f"), wait_for="stopped"),
        step(1, job_ref("j"), "close", api.close_job("j"), wait_for="closed", depends_on=[0]),
        step(2, job_ref("j"), "update", api.update_job("j", update_body), depends_on=[1]),
        step(
            3,
            job_ref("j"),
            "open",
            api.open_job("j"),
            wait_for="opened",
            depends_on=[2],
            restore=True,
        ),
        step(
            4,
            feed_ref("f"),
            "start",
            api.start_datafeed("f"),
            wait_for="started",
            depends_on=[0, 3],
            restore=True,
        ),
    )


def test_restore_steps_restart_what_apply_stopped_when_the_update_fails(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    plan = restart_update_plan({"analysis_limits": {"model_memory_limit": "not-a-size"}})
    reset_log(sandbox)
    result = apply_plan(plan, client, **FAST)
    assert statuses(result) == ["done", "done", "failed", "done", "done"]
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "started"
    assert mutating_calls(sandbox) == [
        "POST /_ml/datafeeds/f/_stop",
        "POST /_ml/anomaly_detectors/j/_close",
        "POST /_ml/anomaly_detectors/j/_update",
        "POST /_ml/anomaly_detectors/j/_open",
        "POST /_ml/datafeeds/f/_start",
    ]


def test_restore_of_a_resource_that_was_never_stopped_sends_nothing(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    # The close fails (injected 500), so the update is skipped and the job stays open.
    set_faults(sandbox, [{"method": "POST", "path": "/_close$", "status": 500}])
    result = apply_plan(restart_update_plan({"description": "x"}), client, **FAST)
    assert statuses(result) == ["done", "failed", "skipped", "done", "done"]
    assert result.outcomes[3].message == "already opened"
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "started"


def test_restore_is_skipped_when_its_resource_no_longer_exists(
    sandbox: Sandbox, client: MLClient
) -> None:
    plan = plan_of(
        step(0, filter_ref("Bad"), "create", api.put_filter("Bad", {})),
        step(
            1,
            job_ref("ghost"),
            "open",
            api.open_job("ghost"),
            wait_for="opened",
            depends_on=[0],
            restore=True,
        ),
        step(
            2,
            feed_ref("gf"),
            "start",
            api.start_datafeed("gf"),
            wait_for="started",
            depends_on=[1],
            restore=True,
        ),
    )
    result = apply_plan(plan, client, **FAST)
    assert statuses(result) == ["failed", "skipped", "skipped"]
    assert result.outcomes[1].message == "not restored: AnomalyDetectionJob/ghost no longer exists"
    assert result.outcomes[2].message == (
        "restore step 1 (open AnomalyDetectionJob/ghost), which was skipped"
    )


def test_restore_is_skipped_for_a_failed_job(sandbox: Sandbox, client: MLClient) -> None:
    seed_job(client, "j", state="opened")
    admin(sandbox, "PUT", "/_sandbox/transitions", {"fail": {"jobs": ["j"]}})
    plan = plan_of(
        step(0, filter_ref("Bad"), "create", api.put_filter("Bad", {})),
        step(
            1,
            job_ref("j"),
            "open",
            api.open_job("j"),
            wait_for="opened",
            depends_on=[0],
            restore=True,
        ),
    )
    reset_log(sandbox)
    result = apply_plan(plan, client, **FAST)
    assert statuses(result) == ["failed", "skipped"]
    assert result.outcomes[1].message == "not restored: AnomalyDetectionJob/j is in state failed"
    assert mutating_calls(sandbox) == ["PUT /_ml/filters/Bad"]


def test_already_done_answers_are_success(sandbox: Sandbox, client: MLClient) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    plan = plan_of(
        step(0, job_ref("j"), "open", api.open_job("j"), wait_for="opened"),
        step(1, feed_ref("f"), "start", api.start_datafeed("f"), wait_for="started"),
        step(2, filter_ref("gone"), "delete", api.delete_filter("gone"), destructive=True),
    )
    result = apply_plan(plan, client, **FAST)
    assert statuses(result) == ["done", "done", "done"]
    assert [o.message for o in result.outcomes] == [
        "already opened",
        "already started",
        "already deleted",
    ]


def test_a_create_whose_answer_was_lost_is_confirmed_not_repeated(
    sandbox: Sandbox, client: MLClient
) -> None:
    set_faults(
        sandbox,
        [{"method": "PUT", "path": "^/_ml/anomaly_detectors/j$", "timeout": True, "times": 1}],
    )
    plan = plan_of(step(0, job_ref("j"), "create", api.put_job("j", JOB_BODY)))
    result = apply_plan(plan, client, **FAST)
    assert result.ok
    assert result.outcomes[0].message == "confirmed by reading after a lost answer"
    assert mutating_calls(sandbox) == ["PUT /_ml/anomaly_detectors/j"]


def seed_dfa(sandbox: Sandbox, client: MLClient, dfa_id: str) -> None:
    admin(sandbox, "PUT", "/src", {})
    body = {
        "source": {"index": ["src"]},
        "dest": {"index": "dst"},
        "analysis": {"outlier_detection": {}},
    }
    client.perform(api.put_data_frame_analytics(dfa_id, body))


def stats_polls(sandbox: Sandbox, path: str) -> int:
    return sum(1 for e in request_log(sandbox) if e["path"] == path)


def test_no_stats_poll_follows_an_answer_that_says_opened_or_started(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", feed="f")
    reset_log(sandbox)
    plan = plan_of(
        step(0, job_ref("j"), "open", api.open_job("j"), wait_for="opened"),
        step(
            1, feed_ref("f"), "start", api.start_datafeed("f"), wait_for="started", depends_on=[0]
        ),
    )
    result = apply_plan(plan, client, **FAST)
    assert result.ok
    # ES answers {"opened": true, "node": ...} once the job is opened: a poll would add nothing.
    assert [f"{e['method']} {e['path']}" for e in request_log(sandbox)] == [
        "POST /_ml/anomaly_detectors/j/_open",
        "POST /_ml/datafeeds/f/_start",
    ]
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "started"


def test_waits_poll_stats_until_the_transition_completes() -> None:
    # `_close` is always confirmed by polling; the sandbox keeps the job `closing` for 0.2 s.
    sandbox = new_sandbox(transition_delay=0.2)
    client = new_client(sandbox)
    seed_job(client, "j", state="opened")
    admin(sandbox, "PUT", "/_sandbox/transitions", {"delay": 0.2})  # the open completes at once
    reset_log(sandbox)
    plan = plan_of(step(0, job_ref("j"), "close", api.close_job("j"), wait_for="closed"))
    result = apply_plan(plan, client, poll_interval=0.02, wait_timeout=5.0)
    assert result.ok
    assert result.outcomes[0].elapsed >= 0.2
    assert run_state(client, job_ref("j")) == "closed"
    assert stats_polls(sandbox, "/_ml/anomaly_detectors/j/_stats") >= 3  # polled, not slept once


def test_an_answer_that_does_not_say_started_is_polled() -> None:
    # A DFA `_start` answers {"acknowledged": true}: not proof of the state, so it is polled
    # while the sandbox keeps it `starting`.
    sandbox = new_sandbox(transition_delay=0.2, dfa_duration=None)
    client = new_client(sandbox)
    seed_dfa(sandbox, client, "d")
    reset_log(sandbox)
    ref = Ref(kind=Kind.DFA, id="d")
    plan = plan_of(step(0, ref, "start", api.start_data_frame_analytics("d"), wait_for="started"))
    result = apply_plan(plan, client, poll_interval=0.02, wait_timeout=5.0)
    assert result.ok, result.outcomes[0].message
    assert result.outcomes[0].elapsed >= 0.2
    assert stats_polls(sandbox, "/_ml/data_frame/analytics/d/_stats") >= 3


def test_a_lost_open_answer_is_polled_even_though_the_retry_says_already_opened() -> None:
    # The first `_open` takes effect but its answer is lost; the retry's 409 "already opened"
    # stands in for it and proves nothing about the state, so the executor polls.
    sandbox = new_sandbox()
    client = new_client(sandbox)
    seed_job(client, "j")
    set_faults(
        sandbox, [{"method": "POST", "path": "/_open$", "timeout": True, "hold": 0.01, "times": 1}]
    )
    reset_log(sandbox)
    plan = plan_of(step(0, job_ref("j"), "open", api.open_job("j"), wait_for="opened"))
    result = apply_plan(plan, client, **FAST)
    assert result.ok, result.outcomes[0].message
    assert stats_polls(sandbox, "/_ml/anomaly_detectors/j/_stats") == 1


def test_a_wait_timeout_fails_the_step_and_skips_its_dependents(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", state="opened", feed="f")
    admin(sandbox, "PUT", "/_sandbox/transitions", {"delay": 0.05, "stuck": ["j"]})
    plan = plan_of(
        step(0, job_ref("j"), "close", api.close_job("j"), wait_for="closed"),
        step(1, job_ref("j"), "update", api.update_job("j", {"description": "x"}), depends_on=[0]),
    )
    result = apply_plan(plan, client, poll_interval=0.02, wait_timeout=0.2)
    assert statuses(result) == ["failed", "skipped"]
    assert result.outcomes[0].message == (
        "timed out after 0.2s waiting for AnomalyDetectionJob/j to be closed (last state: closing)"
    )


def test_a_failed_state_while_waiting_fails_the_step(sandbox: Sandbox, client: MLClient) -> None:
    seed_job(client, "j", state="opened")
    admin(sandbox, "PUT", "/_sandbox/transitions", {"delay": 0.05, "stuck": ["j"]})

    def crash_when_waiting(event: StepEvent) -> None:
        if event.kind is EventKind.WAITING:
            admin(sandbox, "PUT", "/_sandbox/transitions", {"fail": {"jobs": ["j"]}})

    plan = plan_of(step(0, job_ref("j"), "close", api.close_job("j"), wait_for="closed"))
    result = apply_plan(plan, client, on_event=crash_when_waiting, **FAST)
    assert statuses(result) == ["failed"]
    assert result.outcomes[0].message.startswith("AnomalyDetectionJob/j is in state failed")


def test_a_dfa_that_already_finished_counts_as_started() -> None:
    sandbox = new_sandbox(dfa_duration=0.0)
    client = new_client(sandbox)
    seed_dfa(sandbox, client, "d")
    ref = Ref(kind=Kind.DFA, id="d")
    plan = plan_of(step(0, ref, "start", api.start_data_frame_analytics("d"), wait_for="started"))
    result = apply_plan(plan, client, **FAST)
    assert result.ok, result.outcomes[0].message
    assert run_state(client, ref) == "stopped"


def test_a_guard_failure_stops_every_further_step(sandbox: Sandbox, client: MLClient) -> None:
    calls = 0

    def guard() -> None:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise LockError("lost the cluster lock 'default': taken over")

    plan = plan_of(*(create_filter(i, f"f{i}") for i in range(5)))
    result = apply_plan(plan, client, concurrency=1, guard=guard, **FAST)
    assert statuses(result) == ["done", "done", "skipped", "skipped", "skipped"]
    assert result.aborted == "aborted: lost the cluster lock 'default': taken over"
    assert result.outcomes[2].message.startswith(
        "not started: apply aborted: lost the cluster lock"
    )
    assert mutating_calls(sandbox) == ["PUT /_ml/filters/f0", "PUT /_ml/filters/f1"]


def test_a_cancelled_apply_starts_nothing(sandbox: Sandbox, client: MLClient) -> None:
    cancel = threading.Event()
    cancel.set()
    result = apply_plan(plan_of(create_filter(0, "f")), client, cancel=cancel, **FAST)
    assert statuses(result) == ["skipped"]
    assert result.aborted == "interrupted"
    assert mutating_calls(sandbox) == []


def test_malformed_plans_are_rejected_before_any_request(
    sandbox: Sandbox, client: MLClient
) -> None:
    plan = plan_of(create_filter(0, "a", depends_on=[1]), create_filter(1, "b"))
    with pytest.raises(PlanError, match="depends on step 1, which does not come before it"):
        apply_plan(plan, client)
    with pytest.raises(ValueError, match="concurrency"):
        apply_plan(plan_of(create_filter(0, "a")), client, concurrency=0)
    assert mutating_calls(sandbox) == []


def test_events_report_every_step_start_and_finish_in_order(client: MLClient) -> None:
    seed_job(client, "j")
    seed_job(client, "k", state="opened")
    plan = plan_of(
        create_filter(0, "f"),
        step(1, job_ref("j"), "open", api.open_job("j"), wait_for="opened"),
        step(2, job_ref("k"), "close", api.close_job("k"), wait_for="closed"),
    )
    events: list[tuple[str, int, int]] = []
    apply_plan(
        plan,
        client,
        concurrency=1,
        on_event=lambda e: events.append((e.kind.value, e.step.index, e.finished)),
        **FAST,
    )
    assert events == [
        ("started", 0, 0),
        ("finished", 0, 1),
        ("started", 1, 1),
        ("finished", 1, 2),  # `opened: true` answered: nothing to wait for
        ("started", 2, 2),
        ("waiting", 2, 2),
        ("finished", 2, 3),
    ]
