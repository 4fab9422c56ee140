"""A scriptable fake Elasticsearch behind httpx.MockTransport, for the client tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler import AsyncMLClient, MLClient

ES = {"X-Elastic-Product": "Elasticsearch"}
ROOT = {
    "name": "node-0",
    "cluster_name": "test-cluster",
    "cluster_uuid": "uuid-1",
    "version": {"number": "8.15.3", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def es_error(status: int, etype: str, reason: str, **headers: str) -> httpx.Response:
    body = {
        "error": {
            "root_cause": [{"type": etype, "reason": reason}],
            "type": etype,
            "reason": reason,
        },
        "status": status,
    }
    return httpx.Response(status, json=body, headers={**ES, **headers})


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers=ES)


@dataclass
class FakeES:
    """Answers scripted per (method, path); each queue is consumed in order, the last sticks."""

    root: dict[str, Any] = field(default_factory=lambda: dict(ROOT))
    script: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> FakeES:
        self.script[(method, path)] = list(replies)
        return self

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.url.path == path)
        ]

    def body_of(self, request: httpx.Request) -> Any:
        return json.loads(request.content) if request.content else None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.script.get((request.method, request.url.path))
        if queue is None:
            if request.method == "GET" and request.url.path == "/":
                return ok(self.root)
            return es_error(404, "no_handler", f"no route {request.method} {request.url.path}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply


#: Fast backoff, and mlsync's own policy of retrying timeouts (the constructor defaults to the
#: official client's: timeouts not retried).
FAST = {"retry_backoff_base": 0.001, "retry_backoff_cap": 0.002, "retry_on_timeout": True}


def async_client(fake: FakeES, **kwargs: Any) -> AsyncMLClient:
    return AsyncMLClient(transport=httpx.MockTransport(fake), **{**FAST, **kwargs})


def sync_client(fake: FakeES, **kwargs: Any) -> MLClient:
    return MLClient(transport=httpx.MockTransport(fake), **{**FAST, **kwargs})
