"""Waiting for run-state transitions: poll one resource's stats until it reports a state.

Input: a client, a resource `Ref`, the target state, a timeout and a poll interval.
Output: the state reached, or `WaitFailed` (timeout, `failed` state, resource gone).
I/O: GET requests to the stats API of that one resource, through the client.

Run state is not part of a resource's config: it is only reported by the stats APIs
(es-ml-api.md §5.1, §6.1-§6.3). Transitions are asynchronous (`opening`, `closing`,
`starting`, `stopping`), so after a transition call the executor polls until the target state
is reported instead of sleeping for a fixed time - unless the call's own answer already says
the state was reached (`answer_reached`), in which case a poll would only cost a round trip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from reconciler.client import api
from reconciler.client.errors import ApiError, NotFoundError, TransportError, describe_error
from reconciler.model import Call, Kind, Ref


class Response(Protocol):
    """What the executor reads from a client answer (`ApiResponse` of reconciler.client)."""

    @property
    def body(self) -> Any:
        """The decoded JSON body."""


class Client(Protocol):
    """The single I/O seam apply needs: send one call, get the decoded answer or an error."""

    def perform(self, call: Any, *, ndjson: bool = False) -> Any:
        """Send `call` (its body as NDJSON lines with `ndjson`); raise `ClientError`s."""


def send(client: Client, call: Call | api.Call, *, ndjson: bool = False) -> Any:
    """Send a plan `Call` through the client (converting it to the client's request type)."""
    request = call if isinstance(call, api.Call) else api.Call.model_validate(call.model_dump())
    # Only a bulk passes `ndjson`: a client that sends nothing else needs no such argument.
    return client.perform(request, ndjson=True) if ndjson else client.perform(request)


#: Stats endpoint and collection key per kind (es-ml-api.md §6.1-§6.3).
_STATS: dict[Kind, tuple[str, str]] = {
    Kind.JOB: ("/_ml/anomaly_detectors/{}/_stats", "jobs"),
    Kind.DATAFEED: ("/_ml/datafeeds/{}/_stats", "datafeeds"),
    Kind.DFA: ("/_ml/data_frame/analytics/{}/_stats", "data_frame_analytics"),
}

#: States on the way to another state (es-ml-api.md §5.1-§5.3).
TRANSITIONAL = frozenset({"opening", "closing", "starting", "stopping"})

#: DFA task states that mean "running" (reindexing/analyzing are legacy task states, §3.4).
_DFA_RUNNING = frozenset({"started", "reindexing", "analyzing"})


#: Answers that say the transition has completed, per (kind, target state): the key that is
#: `true` in the answer. Elasticsearch's `_open` and datafeed `_start` do not answer until the
#: persistent task reached that state (TransportOpenJobAction and TransportStartDatafeedAction
#: wait on the task's state, up to the call's `timeout`, default 20 s / 30 min), so
#: `{"opened": true, "node": "<id>"}` means opened (es-ml-api.md §5.1, §5.2). An empty `node`
#: means assigned lazily, still `opening`/`starting`: that answer is polled. `_close`/`_stop`
#: and DFA `_start` (`{"acknowledged": true}`) are always polled.
_ANSWER_SAYS_REACHED: dict[tuple[Kind, str], str] = {
    (Kind.JOB, "opened"): "opened",
    (Kind.DATAFEED, "started"): "started",
}


class WaitFailed(Exception):
    """The resource did not reach the target state (timeout, failed state, gone, interrupted)."""


def has_run_state(kind: Kind) -> bool:
    """True for kinds whose run state the stats API reports (jobs, datafeeds, DFA)."""
    return kind in _STATS


def answer_reached(ref: Ref, target: str, body: Any) -> bool:
    """Whether a transition call's answer already says `ref` is in `target` (no poll needed).

    Only a real answer counts: an "already opened" 409 stands for an answer that was lost, and
    the resource may still be on its way (`opening`), so that one is polled.
    """
    key = _ANSWER_SAYS_REACHED.get((ref.kind, target))
    if key is None or not isinstance(body, dict):
        return False
    node = body.get("node")
    return body.get(key) is True and isinstance(node, str) and node != ""


def read_stats(client: Client, ref: Ref) -> dict[str, Any]:
    """The stats entry of one resource; raises `NotFoundError` when it does not exist."""
    template, key = _STATS[ref.kind]
    # An explicit id that does not exist is a 404 even with allow_no_match (es-ml-api.md §0.4).
    answer = send(client, api.Call(method="GET", path=template.format(ref.id)))
    body = answer.body if isinstance(answer.body, dict) else {}
    for entry in body.get(key, []):
        if isinstance(entry, dict):
            return entry
    raise WaitFailed(f"{ref}: the stats API returned no entry")


def _dfa_finished(entry: dict[str, Any]) -> bool:
    """A DFA that ran to completion stops itself with every phase at 100% (es-ml-api.md §5.3)."""
    progress = entry.get("progress") or []
    return bool(progress) and all(p.get("progress_percent") == 100 for p in progress)


def reached(ref: Ref, target: str, entry: dict[str, Any], *, lazy: bool = False) -> bool:
    """Whether a stats entry shows `target`; raises `WaitFailed` for a `failed` resource.

    Args:
        ref: the resource polled.
        target: the state waited for (opened, closed, started, stopped).
        entry: its stats entry.
        lazy: the `_open`/`_start` answer had `"node": ""`: the task waits for ML capacity
            (allow_lazy_open / allow_lazy_start) and legitimately stays `opening`/`starting`
            (es-ml-api.md §5.1), which therefore counts as reached.
    """
    state = str(entry.get("state", ""))
    if state == target:
        return True
    if state == "failed":
        why = entry.get("assignment_explanation") or entry.get("reason") or "no reason given"
        raise WaitFailed(f"{ref} is in state failed ({why})")
    # A short analysis may finish (and stop itself) before the first poll (§5.3).
    finished = state in _DFA_RUNNING or (state == "stopped" and _dfa_finished(entry))
    if ref.kind is Kind.DFA and target == "started" and finished:
        return True
    return lazy and state in ("opening", "starting") and target in ("opened", "started")


def wait_for_state(
    client: Client,
    ref: Ref,
    target: str,
    *,
    timeout: float,
    poll_interval: float,
    lazy: bool = False,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll `ref`'s stats every `poll_interval` seconds until it reports `target`.

    Returns:
        The state reported when the wait ended.

    Raises:
        WaitFailed: timeout, `failed` state, the resource disappeared, or `cancel` was set.
        ApiError: a non-transient error from the stats API (e.g. 403).
    """
    deadline = clock() + timeout
    last = "unknown"
    transient = ""
    while True:
        try:
            entry = read_stats(client, ref)
        except NotFoundError as exc:
            raise WaitFailed(f"{ref} disappeared while waiting for {target}") from exc
        except TransportError as exc:
            transient = describe_error(
                exc
            )  # the client already retried; keep polling until the deadline
        except ApiError as exc:
            if exc.status < 500 and exc.status != 429:
                raise
            transient = describe_error(exc)
        else:
            last = str(entry.get("state", "unknown"))
            if reached(ref, target, entry, lazy=lazy):
                return last
        remaining = deadline - clock()
        if remaining <= 0:
            extra = f"; last poll error: {transient}" if transient else ""
            raise WaitFailed(
                f"timed out after {timeout:g}s waiting for {ref} to be {target} "
                f"(last state: {last}){extra}"
            )
        pause = min(poll_interval, remaining)
        if cancel is not None:
            if cancel.wait(pause):
                raise WaitFailed(f"interrupted while waiting for {ref} to be {target}")
        else:
            time.sleep(pause)
