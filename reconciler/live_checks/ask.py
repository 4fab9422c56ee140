"""Send the live checks' read-only questions to the cluster, concurrently (the checks' I/O).

Input: a client (`perform(call)`, the one HTTP seam) and the questions keyed by what they
answer. Output: one `Answer` per key: the status and decoded body, or why there is none.
Does network I/O through the client only, from a small thread pool (the same client apply
uses from its threads), so a round of questions costs about one round trip.

Every call here is a GET or a POST to a read-only endpoint (`_field_caps`, `_validate`,
`_estimate_model_memory`, `_preview`, `_explain`); the function refuses anything else, so the
checks can never write.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from reconciler.client import api
from reconciler.client.errors import ApiError, ClientError
from reconciler.live_checks.findings import Answer
from reconciler.model import Call

#: Questions in flight at once (a plan's checks are a few per changed resource).
WORKERS = 8


class ClientLike(Protocol):
    """What the checks need from `MLClient`."""

    def perform(self, call: Call) -> Any: ...  # noqa: D102


def ask(client: ClientLike, questions: Mapping[str, Call]) -> dict[str, Answer]:
    """Send every question (concurrently) and collect the answers by key.

    Raises:
        ValueError: a question is not read-only (a bug in the caller, never sent).
    """
    for key, call in questions.items():
        if api.classify(call) is not api.CallClass.READ:
            raise ValueError(f"live check {key} is not a read-only call: {call}")
    if not questions:
        return {}

    def one(call: Call) -> Answer:
        try:
            response = client.perform(call)
        except ApiError as exc:
            return Answer(exc.status, exc.body, exc.error_type, exc.reason or exc.summary)
        except ClientError as exc:
            return Answer(0, None, type(exc).__name__, exc.summary)
        return Answer(int(getattr(response.meta, "status", 200)), response.body)

    keys = list(questions)
    if len(keys) == 1:
        return {keys[0]: one(questions[keys[0]])}
    with ThreadPoolExecutor(
        max_workers=min(WORKERS, len(keys)), thread_name_prefix="mlsync-check"
    ) as pool:
        answers = list(pool.map(one, (questions[k] for k in keys)))
    return dict(zip(keys, answers, strict=True))
