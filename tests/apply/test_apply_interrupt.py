"""Ctrl-C (or SIGTERM, or a set cancel event) in the middle of a restart-update.

What apply stopped for an update is restarted when safe before apply returns, and the result
names what it left stopped. The interrupt is raised in the main thread, exactly where Ctrl-C
lands (the scheduler's wait), by `_thread.interrupt_main` from a progress event.
"""

from __future__ import annotations

import _thread
import threading
from typing import Any

import pytest
from apply_helpers import (
    admin,
    feed_ref,
    job_ref,
    mutating_calls,
    request_log,
    reset_log,
    run_state,
    seed_job,
    set_faults,
)
from test_apply_executor import FAST, restart_update_plan, statuses

from reconciler.apply import EventKind, StepEvent, apply_plan
from reconciler.client import MLClient, api
from reconciler.commands.apply import _report
from reconciler.errors import ApplyError
from reconciler.sandbox import Sandbox


def interrupt_after(index: int, how: str, cancel: threading.Event) -> Any:
    def on_event(event: StepEvent) -> None:
        if event.kind is EventKind.FINISHED and event.step.index == index:
            if how == "ctrl-c":
                _thread.interrupt_main()
            else:
                cancel.set()

    return on_event


@pytest.mark.parametrize("how", ["ctrl-c", "cancel"])
@pytest.mark.parametrize("after", [0, 1, 2])
def test_an_interrupted_restart_update_restarts_what_it_stopped(
    sandbox: Sandbox, client: MLClient, how: str, after: int
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    cancel = threading.Event()
    plan = restart_update_plan({"description": "new"})
    reset_log(sandbox)
    result = apply_plan(
        plan,
        client,
        concurrency=1,
        cancel=cancel,
        on_event=interrupt_after(after, how, cancel),
        **FAST,
    )
    assert result.aborted == "interrupted"
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "started"
    assert result.left_stopped == ()
    # The update itself is not sent after the interrupt; only the restarts are.
    calls = mutating_calls(sandbox)
    assert ("POST /_ml/anomaly_detectors/j/_update" in calls) == (after >= 2)
    assert calls[-1] == "POST /_ml/datafeeds/f/_start"
    assert statuses(result)[3:] == ["done", "done"]
    assert "restarted after the interrupt" in result.outcomes[4].message


def test_an_interrupt_before_anything_was_stopped_restarts_nothing(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    cancel = threading.Event()
    cancel.set()
    reset_log(sandbox)
    result = apply_plan(restart_update_plan({"description": "x"}), client, cancel=cancel, **FAST)
    assert statuses(result) == ["skipped"] * 5
    assert mutating_calls(sandbox) == []
    assert [e["method"] for e in request_log(sandbox)] == []  # not even a stats read
    assert result.left_stopped == ()


def test_what_could_not_be_restarted_is_named_in_the_summary(
    sandbox: Sandbox, client: MLClient, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")

    def on_event(event: StepEvent) -> None:
        if event.kind is EventKind.FINISHED and event.step.index == 1:
            # The datafeed cannot be started again (every _start answers 500).
            set_faults(sandbox, [{"method": "POST", "path": "datafeeds/f/_start", "status": 500}])
            _thread.interrupt_main()

    result = apply_plan(
        restart_update_plan({"description": "x"}), client, concurrency=1, on_event=on_event, **FAST
    )
    assert run_state(client, job_ref("j")) == "opened"
    assert run_state(client, feed_ref("f")) == "stopped"
    assert [str(r) for r in result.left_stopped] == ["Datafeed/f"]
    with pytest.raises(ApplyError) as caught:
        _report(result)
    out = capsys.readouterr().out
    assert "Left stopped by this apply: Datafeed/f" in out
    assert "Datafeed/f" in str(caught.value) and "stopped" in str(caught.value)


def test_a_lost_lock_restarts_nothing_but_names_what_it_left_stopped(
    sandbox: Sandbox, client: MLClient
) -> None:
    from reconciler.errors import LockError

    seed_job(client, "j", state="opened", feed="f", feed_state="started")
    calls = 0

    def guard() -> None:
        nonlocal calls
        calls += 1
        if calls > 2:  # another apply owns the cluster now: touch nothing more
            raise LockError("lost the cluster lock 'default': taken over")

    result = apply_plan(
        restart_update_plan({"description": "x"}), client, concurrency=1, guard=guard, **FAST
    )
    assert statuses(result) == ["done", "done", "skipped", "skipped", "skipped"]
    assert sorted(str(r) for r in result.left_stopped) == ["AnomalyDetectionJob/j", "Datafeed/f"]


def test_a_failed_job_is_not_restarted_after_an_interrupt(
    sandbox: Sandbox, client: MLClient
) -> None:
    seed_job(client, "j", state="opened", feed="f", feed_state="started")

    def on_event(event: StepEvent) -> None:
        if event.kind is EventKind.FINISHED and event.step.index == 2:
            client.perform(api.open_job("j"))
            admin(sandbox, "PUT", "/_sandbox/transitions", {"fail": {"jobs": ["j"]}})
            _thread.interrupt_main()

    plan = restart_update_plan({"description": "x"})
    result = apply_plan(plan, client, concurrency=1, on_event=on_event, **FAST)
    assert result.aborted == "interrupted"
    assert statuses(result)[3:] == ["skipped", "skipped"]
    assert "is in state failed" in result.outcomes[3].message
    assert sorted(str(r) for r in result.left_stopped) == ["AnomalyDetectionJob/j", "Datafeed/f"]
