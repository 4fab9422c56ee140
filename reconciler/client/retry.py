"""The retry policy: which failures are retried, for which calls, and how long to wait.

Input: the call's class (`api.classify`), what went wrong (a transport failure kind or an HTTP
status), the attempt number, the time spent so far and any `Retry-After` header.
Output: a `Decision` (retry after a delay, confirm a create by reading first, or give up).
No I/O; the jitter source is injectable.

Rules (ux-conventions.md §1.5, es-ml-api.md §5):
- A failure to connect means nothing reached the server, so every call may be sent again.
- A lost answer (read timeout, dropped connection) or 502/503/504 may hide a call that took
  effect: reads, state transitions and deletes are repeated (a repeated `_close`/`_stop`
  is a 200; an already-done `_open`/`_start` or delete is recognised by the caller); a create
  is confirmed by reading before it is sent again; a bulk of creates and deletes only is
  sent again whole (what landed the first time comes back 409 / 404, and the answer's
  `meta.repeated` tells the caller to settle those items); any other write is not repeated.
- 429 means ES rejected the request before executing it, so any call may be repeated.
- Backoff is "equal jitter": `d = min(cap, base * 2**n)`, wait `d/2 + U(0, d/2)`, at least the
  server's `Retry-After`; attempts and total time are both bounded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.client.api import CallClass

#: How a request failed without an HTTP answer. "connect": it never reached the server;
#: "timeout": no answer in time (it may have been applied); "lost": the connection broke.
FailureKind = Literal["connect", "timeout", "lost"]


class Action(StrEnum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    CONFIRM = "confirm"  # read back a create before deciding to send it again
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Decision:
    """The policy's answer: an action and, unless giving up, the delay before it."""

    action: Action
    delay: float = 0.0
    why: str = ""


class RetryPolicy(BaseModel):
    """Bounded retries with exponential backoff and equal jitter."""

    model_config = ConfigDict(frozen=True)

    #: Retries after the first attempt (the official client's default is 3).
    max_retries: int = Field(default=3, ge=0)
    retry_on_status: tuple[int, ...] = (429, 502, 503, 504)
    retry_on_timeout: bool = True
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_cap: float = Field(default=10.0, ge=0)
    #: No retry is started once this many seconds have passed since the first attempt.
    max_total_time: float = Field(default=60.0, ge=0)

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (0-based): equal jitter."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2**retry))
        return float(ceiling / 2 + rng() * ceiling / 2)

    def decide(
        self,
        klass: CallClass,
        failure: FailureKind | int,
        retry: int,
        elapsed: float,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> Decision:
        """Decide what follows a failed attempt.

        Args:
            klass: how the call may be repeated (`api.classify`).
            failure: the transport failure kind, or the HTTP status received.
            retry: how many retries were already made (0 after the first attempt).
            elapsed: seconds since the first attempt started.
            retry_after: the server's `Retry-After`, in seconds, if it sent one.
            rng: source of uniform [0, 1) numbers for the jitter.
        """
        action = self._action(klass, failure)
        if action is Action.GIVE_UP:
            return Decision(Action.GIVE_UP, why="not retryable")
        if retry >= self.max_retries:
            return Decision(Action.GIVE_UP, why=f"gave up after {retry + 1} attempts")
        delay = max(self.backoff(retry, rng), retry_after or 0.0)
        if elapsed + delay > self.max_total_time:
            return Decision(Action.GIVE_UP, why=f"retry time limit {self.max_total_time}s reached")
        return Decision(action, delay)

    def _action(self, klass: CallClass, failure: FailureKind | int) -> Action:
        if failure == "connect":
            return Action.RETRY
        if isinstance(failure, int):
            if failure not in self.retry_on_status:
                return Action.GIVE_UP
            if failure == 429:
                return Action.RETRY
        elif failure == "timeout" and not self.retry_on_timeout:
            return Action.GIVE_UP
        if klass in (CallClass.READ, CallClass.TRANSITION, CallClass.DELETE, CallClass.BULK):
            return Action.RETRY
        if klass is CallClass.CREATE:
            return Action.CONFIRM
        return Action.GIVE_UP


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
