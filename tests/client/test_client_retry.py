"""The pure retry policy: what is retried, backoff bounds with jitter, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.client.api import CallClass
from reconciler.client.retry import Action, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_cap=10.0, max_total_time=60.0)


@given(retry=st.integers(0, 20), u=st.floats(0, 1, exclude_max=True))
def test_backoff_is_equal_jitter_within_bounds(retry: int, u: float) -> None:
    ceiling = min(10.0, 0.5 * 2**retry)
    delay = POLICY.backoff(retry, lambda: u)
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_grows_then_caps() -> None:
    assert [POLICY.backoff(n, lambda: 0.0) for n in range(7)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        5.0,
        5.0,
    ]
    assert POLICY.backoff(2, lambda: 0.999999) == pytest.approx(2.0, abs=1e-5)


@pytest.mark.parametrize(
    ("klass", "failure", "action"),
    [
        (CallClass.CREATE, "connect", Action.RETRY),  # never reached the server
        (CallClass.WRITE, "connect", Action.RETRY),
        (CallClass.READ, "timeout", Action.RETRY),
        (CallClass.TRANSITION, "lost", Action.RETRY),
        (CallClass.DELETE, 503, Action.RETRY),
        (CallClass.CREATE, "timeout", Action.CONFIRM),
        (CallClass.CREATE, 502, Action.CONFIRM),
        (CallClass.BULK, "timeout", Action.RETRY),
        (CallClass.BULK, "lost", Action.RETRY),
        (CallClass.BULK, 503, Action.RETRY),
        (CallClass.BULK, 500, Action.GIVE_UP),
        (CallClass.WRITE, "timeout", Action.GIVE_UP),
        (CallClass.WRITE, 504, Action.GIVE_UP),
        (CallClass.WRITE, 429, Action.RETRY),  # rejected before execution
        (CallClass.CREATE, 429, Action.RETRY),
        (CallClass.READ, 500, Action.GIVE_UP),
        (CallClass.READ, 404, Action.GIVE_UP),
        (CallClass.READ, 409, Action.GIVE_UP),
    ],
)
def test_decision_table(klass: CallClass, failure: str | int, action: Action) -> None:
    assert POLICY.decide(klass, failure, 0, 0.0, rng=lambda: 0.5).action is action  # type: ignore[arg-type]


def test_attempts_and_total_time_are_bounded() -> None:
    assert POLICY.decide(CallClass.READ, 503, 2, 0.0).action is Action.RETRY
    assert POLICY.decide(CallClass.READ, 503, 3, 0.0).action is Action.GIVE_UP
    late = POLICY.decide(CallClass.READ, 503, 0, 59.9, rng=lambda: 0.0)
    assert late.action is Action.GIVE_UP and "time limit" in late.why
    no_timeouts = RetryPolicy(retry_on_timeout=False)
    assert no_timeouts.decide(CallClass.READ, "timeout", 0, 0).action is Action.GIVE_UP
    assert (
        RetryPolicy(max_retries=0).decide(CallClass.READ, "connect", 0, 0).action is Action.GIVE_UP
    )


def test_retry_after_is_honoured_and_bounded_by_total_time() -> None:
    d = POLICY.decide(CallClass.READ, 429, 0, 0.0, retry_after=7.0, rng=lambda: 0.0)
    assert d.action is Action.RETRY and d.delay == 7.0
    assert POLICY.decide(CallClass.READ, 429, 0, 0.0, retry_after=120.0).action is Action.GIVE_UP


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 30
