"""What every generated namespace method shares: its argument types and its one body line.

Input: the `locals()` of a generated method (`reconciler.client.namespaces`).
Output: the owning client's answer for the `Call` the endpoint table builds from them. No I/O
here: the client's `_dispatch` does it, and returns an `ApiResponse` (sync) or an awaitable
of one (async), so one set of generated methods serves both clients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from reconciler.client.endpoint import build_call
from reconciler.client.endpoints import ENDPOINTS
from reconciler.model import Call

R = TypeVar("R")

#: A JSON object.
Body = Mapping[str, Any]
#: One id or expression, or several (sent comma-separated).
Ids = str | Sequence[str]
#: A time value: ISO 8601 text, epoch milliseconds, or a Python date/datetime.
DateTime = str | int | float | datetime | date
#: A time unit value (`30s`, `5m`) or -1/0.
Duration = str | int

Dispatch = Callable[..., R]


class Namespace(Generic[R]):
    """Base of the generated classes: builds calls from the table and hands them on."""

    def __init__(self, dispatch: Dispatch[R]) -> None:
        self._dispatcher = dispatch

    def _dispatch(
        self,
        call: Call,
        *,
        ndjson: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> R:
        return self._dispatcher(call, ndjson=ndjson, headers=headers)

    def _call(self, name: str, arguments: Mapping[str, Any]) -> R:
        endpoint = ENDPOINTS[name]
        call = build_call(endpoint, arguments)
        return self._dispatch(call, ndjson=endpoint.body_format == "ndjson")

    def perform_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        endpoint_id: str | None = None,
        path_parts: Mapping[str, Any] | None = None,
    ) -> R:
        """Send any request, as the official `perform_request` does (`path` as given).

        `endpoint_id` and `path_parts` are accepted for compatibility and only describe the
        call (the official client uses them for tracing).
        """
        from reconciler.client.serializer import query_value

        query = {k: query_value(v) for k, v in (params or {}).items() if v is not None}
        call = Call(method=method.upper(), path=path, params=query, body=body)
        ndjson = any(
            k.lower() == "content-type" and "ndjson" in v for k, v in (headers or {}).items()
        )
        return self._dispatch(call, ndjson=ndjson, headers=headers)


__all__ = ["Body", "DateTime", "Duration", "Ids", "Namespace", "R"]
