"""The cluster lock against the sandbox: acquire, contention, takeover race, heartbeat, release."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apply_helpers import (
    admin,
    mutating_calls,
    new_client,
    plan_of,
    request_log,
    reset_log,
    set_faults,
    step,
)

from reconciler.apply import EventKind, StepEvent, apply_plan
from reconciler.client import MLClient, api
from reconciler.errors import LockError
from reconciler.lock import (
    LOCK_INDEX,
    ClusterLock,
    acquire_lock,
    force_unlock,
    read_lock,
)
from reconciler.model import Kind, Ref
from reconciler.sandbox import Sandbox


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_acquire_writes_a_lock_document_naming_its_holder(client: MLClient) -> None:
    lock = acquire_lock(client, ttl=120, heartbeat=False, holder="alice@ci (pid 7)")
    doc = read_lock(client)
    assert doc is not None
    assert doc.info == lock.info
    assert doc.info.holder == "alice@ci (pid 7)"
    assert doc.info.operation == "apply"
    assert doc.info.mlsync_version
    uuid.UUID(doc.info.lock_id)  # a real uuid4
    lifetime = parse(doc.info.expires_at) - parse(doc.info.created_at)
    assert lifetime == timedelta(seconds=120)
    lock.release()
    assert read_lock(client) is None


def test_ci_run_url_is_recorded_from_github_variables(
    client: MLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ml")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    with acquire_lock(client, heartbeat=False) as lock:
        assert lock.info.ci_run_url == "https://github.com/acme/ml/actions/runs/42"


def test_a_held_lock_refuses_a_second_apply_and_says_who_holds_it(client: MLClient) -> None:
    first = acquire_lock(client, heartbeat=False, holder="alice@ci (pid 7)")
    with pytest.raises(LockError) as caught:
        acquire_lock(client, heartbeat=False, holder="bob@laptop (pid 9)")
    message = str(caught.value)
    assert "held by alice@ci (pid 7) for apply since " + first.info.created_at in message
    assert f"lock ID {first.info.lock_id}" in message
    assert f"mlsync force-unlock {first.info.lock_id}" in message
    # The refused contender changed nothing.
    assert read_lock(client).info == first.info  # type: ignore[union-attr]


def test_a_waiting_contender_gets_the_lock_once_it_is_released(client: MLClient) -> None:
    first = acquire_lock(client, heartbeat=False)
    timer = threading.Timer(0.15, first.release)
    timer.start()
    started = time.monotonic()
    second = acquire_lock(client, heartbeat=False, timeout=5, retry_interval=0.02)
    assert time.monotonic() - started >= 0.15
    assert read_lock(client).info.lock_id == second.info.lock_id  # type: ignore[union-attr]
    second.release()
    timer.join()


def test_exactly_one_contender_takes_over_an_expired_lock(sandbox: Sandbox) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    stale = acquire_lock(new_client(sandbox), ttl=60, heartbeat=False, clock=lambda: past)
    # Answers take 50 ms, so every contender reads the expired lock before any takeover lands:
    # only the conditional write (if_seq_no/if_primary_term) keeps them from all winning.
    admin(sandbox, "PUT", "/_sandbox/transitions", {"latency": 0.05})
    contenders = 8
    barrier = threading.Barrier(contenders)
    winners: list[ClusterLock] = []
    refusals: list[str] = []
    guard = threading.Lock()

    def contend(n: int) -> None:
        client = new_client(sandbox)
        barrier.wait()
        try:
            lock = acquire_lock(client, ttl=60, heartbeat=False, holder=f"c{n}")
        except LockError as exc:
            with guard:
                refusals.append(str(exc))
        else:
            with guard:
                winners.append(lock)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert len(refusals) == contenders - 1
    winner = winners[0]
    assert all(f"held by {winner.info.holder} " in r for r in refusals)
    current = read_lock(new_client(sandbox))
    assert current is not None and current.info.lock_id == winner.info.lock_id
    # The expired holder finds out before its next step.
    with pytest.raises(LockError, match="taken over by c"):
        stale.heartbeat() or stale.check()


def test_heartbeat_extends_the_expiry(client: MLClient) -> None:
    now = datetime.now(UTC)
    clock = [now]
    lock = acquire_lock(client, ttl=60, heartbeat=False, clock=lambda: clock[0])
    clock[0] = now + timedelta(seconds=40)
    assert lock.heartbeat()
    doc = read_lock(client)
    assert doc is not None
    assert parse(doc.info.expires_at) == parse(lock.info.created_at) + timedelta(seconds=100)
    assert doc.seq_no == lock.seq_no
    lock.check()  # still held
    lock.release()
    assert read_lock(client) is None


def test_the_heartbeat_thread_renews_every_third_of_the_ttl(client: MLClient) -> None:
    with acquire_lock(client, ttl=0.3) as lock:
        first_expiry = lock.info.expires_at
        deadline = time.monotonic() + 3
        while lock.info.expires_at == first_expiry and time.monotonic() < deadline:
            time.sleep(0.02)
        assert parse(lock.info.expires_at) > parse(first_expiry)
        time.sleep(0.4)  # longer than the TTL: only the heartbeat keeps it valid
        lock.check()
        assert read_lock(client).info.expires_at == lock.info.expires_at  # type: ignore[union-attr]
    assert read_lock(client) is None


def test_a_lock_whose_heartbeat_stopped_expires_locally(client: MLClient) -> None:
    now = datetime.now(UTC)
    clock = [now]
    lock = acquire_lock(client, ttl=30, heartbeat=False, clock=lambda: clock[0])
    clock[0] = now + timedelta(seconds=31)
    with pytest.raises(LockError, match="expired"):
        lock.check()


def test_a_force_unlocked_lock_is_lost_and_its_release_deletes_nothing(
    client: MLClient,
) -> None:
    mine = acquire_lock(client, heartbeat=False)
    force_unlock(client, mine.info.lock_id)
    theirs = acquire_lock(client, heartbeat=False, holder="bob")
    assert not mine.heartbeat()
    with pytest.raises(LockError, match="taken over by bob"):
        mine.check()
    mine.release()
    assert read_lock(client).info.lock_id == theirs.info.lock_id  # type: ignore[union-attr]


def test_a_heartbeat_whose_answer_was_lost_keeps_the_lock(
    sandbox: Sandbox, client: MLClient
) -> None:
    lock = acquire_lock(client, heartbeat=False)
    set_faults(sandbox, [{"method": "PUT", "path": "_doc/default", "timeout": True, "times": 1}])
    # The write landed but its answer was lost: our seq_no is now out of date.
    assert lock.heartbeat()
    assert lock.heartbeat()  # 409 -> re-read -> still ours -> adopted
    lock.check()
    lock.release()
    assert read_lock(client) is None


def test_the_lock_is_released_when_the_body_raises(client: MLClient) -> None:
    with pytest.raises(RuntimeError), acquire_lock(client):
        raise RuntimeError("boom")
    assert read_lock(client) is None


def test_force_unlock_needs_the_exact_lock_id(sandbox: Sandbox, client: MLClient) -> None:
    lock = acquire_lock(client, heartbeat=False, holder="alice")
    with pytest.raises(LockError, match=r"does not match .* held by alice"):
        force_unlock(client, "not-the-id")
    assert read_lock(client) is not None
    removed = force_unlock(client, lock.info.lock_id)
    assert removed.holder == "alice"
    assert read_lock(client) is None
    with pytest.raises(LockError, match="not held"):
        force_unlock(client, lock.info.lock_id)
    deletes = [e for e in request_log(sandbox) if e["method"] == "DELETE"]
    assert [e["path"] for e in deletes] == [f"/{LOCK_INDEX}/_doc/default"]


def test_scopes_are_independent_locks(client: MLClient) -> None:
    a = acquire_lock(client, scope="team-a", heartbeat=False)
    b = acquire_lock(client, scope="team-b", heartbeat=False)
    with pytest.raises(LockError, match=r"force-unlock .* --scope team-a"):
        acquire_lock(client, scope="team-a", heartbeat=False)
    a.release()
    b.release()


def test_an_apply_whose_lock_is_taken_over_stops_before_its_next_step(
    sandbox: Sandbox, client: MLClient
) -> None:
    plan = plan_of(
        *(
            step(i, Ref(kind=Kind.FILTER, id=f"f{i}"), "create", api.put_filter(f"f{i}", {}))
            for i in range(6)
        )
    )
    lock = acquire_lock(client, ttl=60)
    reset_log(sandbox)

    def take_over(event: StepEvent) -> None:
        if event.kind is EventKind.FINISHED and event.finished == 2:
            force_unlock(client, lock.info.lock_id)
            acquire_lock(client, heartbeat=False, holder="bob")
            lock.heartbeat()  # the heartbeat's next tick, made synchronous for the test

    with lock:
        result = apply_plan(plan, client, concurrency=1, guard=lock.check, on_event=take_over)
    assert [o.status.value for o in result.outcomes] == ["done"] * 2 + ["skipped"] * 4
    assert "lost the cluster lock 'default': the lock was taken over by bob" in result.aborted
    assert mutating_calls(sandbox) == ["PUT /_ml/filters/f0", "PUT /_ml/filters/f1"]
    assert read_lock(client).info.holder == "bob"  # type: ignore[union-attr]


@pytest.mark.parametrize("failures", [1, 3])
def test_a_failed_release_is_retried_so_the_next_apply_is_not_blocked(
    sandbox: Sandbox, client: MLClient, failures: int
) -> None:
    lock = acquire_lock(client, heartbeat=False)
    lock.release_retry_delays = (0.001,) * 4
    set_faults(
        sandbox,
        [
            {
                "method": "DELETE",
                "path": "mlsync-locks/_doc/default",
                "status": 500,
                "times": failures,
            }
        ],
    )
    lock.release()
    assert lock.release_error == ""
    assert read_lock(client) is None
    # The next apply takes the lock at once instead of waiting for the TTL.
    acquire_lock(client, heartbeat=False, timeout=0).release()


def test_a_release_that_keeps_failing_gives_up_after_bounded_attempts_and_says_what_to_do(
    sandbox: Sandbox, client: MLClient
) -> None:
    lock = acquire_lock(client, heartbeat=False)
    lock.release_retry_delays = (0.001,) * 4
    set_faults(sandbox, [{"method": "DELETE", "path": "mlsync-locks", "status": 500}])
    lock.release()  # the client's own retries and ours are both spent: bounded, no raise
    assert "could not release the cluster lock 'default'" in lock.release_error
    assert f"mlsync force-unlock {lock.info.lock_id}" in lock.release_error
    deletes = [e for e in request_log(sandbox) if e["method"] == "DELETE"]
    assert len(deletes) == 1 + len(lock.release_retry_delays)  # a 500 is ours to retry


def test_a_release_whose_answer_was_lost_is_recognised_as_done(
    sandbox: Sandbox, client: MLClient
) -> None:
    lock = acquire_lock(client, heartbeat=False)
    lock.release_retry_delays = (0.001,) * 4
    # The delete lands, its answer is lost, and the repeats are 404s: released.
    set_faults(sandbox, [{"method": "DELETE", "path": "mlsync-locks", "timeout": True, "times": 1}])
    lock.release()
    assert lock.release_error == ""
    assert read_lock(client) is None


def test_a_lock_answer_without_its_coordinates_is_a_clear_error_not_a_crash(
    client: MLClient,
) -> None:
    from reconciler.errors import UnexpectedAnswerError

    lock = acquire_lock(client, heartbeat=False)

    class Mangled:
        request_count = 0

        def perform(self, call: api.Call) -> Any:
            answer = client.perform(call)
            if call.method == "GET":
                answer.body["_seq_no"] = None
            return answer

    with pytest.raises(UnexpectedAnswerError, match=r"unexpected answer from Elasticsearch to GET"):
        read_lock(Mangled())
    lock.release()
