"""Responses and error mapping, shared by the sync and async clients.

Input: the status, headers and raw bytes of one HTTP answer, and the `Call` it answers.
Output: an `ApiResponse` (`.body`, `.raw`, `.meta.status`, case-insensitive `.meta.headers`,
like the official client's `ObjectApiResponse`/`ListApiResponse`/`HeadApiResponse`) or the
matching `ApiError` from `reconciler.client.errors`.
No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json

from reconciler.client.api import Call
from reconciler.client.errors import ApiError, api_error_class

Redact = Callable[[str], str]


class HttpHeaders(Mapping[str, str]):
    """Response headers: a read-only mapping with case-insensitive names, like the official one."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {
            k.lower(): (k, v) for k, v in (headers or {}).items()
        }

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {k: v for k, (_, v) in self._items.items()} == {
            str(k).lower(): v for k, v in other.items()
        }

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HttpHeaders({dict(self.items())!r})"


@dataclass(frozen=True)
class ApiResponseMeta:
    """What came with a body: the HTTP status and headers, and how the answer was obtained."""

    status: int
    #: Response headers; names are case-insensitive (`meta.headers["Content-Type"]`).
    headers: HttpHeaders
    call: Call
    #: HTTP requests sent for this call, retries and confirmation reads included.
    attempts: int = 1
    #: True when the outcome was established after the original answer was lost or refused:
    #: by reading back a create, or by ES reporting an already-done transition or delete.
    confirmed: bool = False
    #: True when the call was sent again after an attempt that may have taken effect (a lost
    #: answer, 502/503/504): a bulk item refused as existing may be that attempt's own write.
    repeated: bool = False
    #: Seconds the answering request took.
    duration: float = 0.0
    #: The address of the host that answered (scheme://host:port).
    node: str = ""
    http_version: str = "1.1"

    @property
    def mimetype(self) -> str | None:
        """The answer's media type without parameters (`application/json`)."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip() if value else None


class ApiResponse:
    """A successful answer, like the official client's: `.body`, `.meta`, `.raw`.

    Indexing, iteration, `len()`, `in` and `==` read the body, so code written for the
    official client's `ObjectApiResponse`/`ListApiResponse` keeps working.
    """

    def __init__(self, body: Any, meta: ApiResponseMeta) -> None:
        self.body = body
        self.meta = meta

    @property
    def raw(self) -> Any:
        """The decoded body (the official client's name)."""
        return self.body

    def __getitem__(self, key: Any) -> Any:
        return self.body[key]

    def __contains__(self, key: Any) -> bool:
        return key in self.body

    def __iter__(self) -> Iterator[Any]:
        return iter(self.body)

    def __len__(self) -> int:
        return len(self.body)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ApiResponse):
            return bool(self.body == other.body)
        return bool(self.body == other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return self.meta.status < 400

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.body!r})"

    def __str__(self) -> str:
        return str(self.body)


class ObjectApiResponse(ApiResponse):
    """An answer whose body is a JSON object (almost every ES API)."""

    body: dict[str, Any]

    def keys(self) -> Any:
        """The body's keys."""
        return self.body.keys()

    def values(self) -> Any:
        """The body's values."""
        return self.body.values()

    def items(self) -> Any:
        """The body's items."""
        return self.body.items()

    def get(self, key: str, default: Any = None) -> Any:
        """The body's value for `key`, or `default`."""
        return self.body.get(key, default)


class ListApiResponse(ApiResponse):
    """An answer whose body is a JSON array (e.g. datafeed preview, es-ml-api.md §7)."""

    body: list[Any]


class TextApiResponse(ApiResponse):
    """An answer that is not JSON (kept as text)."""

    body: str


class HeadApiResponse(ApiResponse):
    """The answer to a HEAD request: true for 200, false for 404 (`indices.exists`, `ping`)."""

    def __init__(self, meta: ApiResponseMeta) -> None:
        super().__init__(200 <= meta.status < 300, meta)

    def __bool__(self) -> bool:
        return bool(self.body)


def decode_body(content: bytes, content_type: str) -> Any:
    """Decode a response body: JSON (including ES's vendor media type), else text, else None."""
    if not content:
        return None
    text: str | None = None
    if "json" not in content_type:
        text = content.decode("utf-8", errors="replace")
        if text.lstrip()[:1] not in ("{", "["):
            return text
    try:
        # pydantic-core's parser: the same values as the standard library's (integers of any
        # size included) at about two thirds of its cost on the reader's large answers.
        return from_json(content, allow_inf_nan=False)
    except ValueError:
        pass  # the standard parser decides (it reads what this one refuses, like lone surrogates)
    if text is None:
        text = content.decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return text


def _not_json(constant: str) -> Any:
    # `NaN`, `Infinity` and `-Infinity` are not JSON, and Elasticsearch never writes them
    # (Jackson quotes non-finite numbers): an answer holding one is not Elasticsearch's, and
    # a float that is not a number would compare unequal to itself in every plan.
    raise ValueError(f"{constant} is not a JSON value")


def make_response(body: Any, meta: ApiResponseMeta) -> ApiResponse:
    """Wrap a decoded body in the response class that fits its shape."""
    if meta.call.method == "HEAD":
        return HeadApiResponse(meta)
    if isinstance(body, dict):
        return ObjectApiResponse(body, meta)
    if isinstance(body, list):
        return ListApiResponse(body, meta)
    if body is None:
        return ObjectApiResponse({}, meta)
    return TextApiResponse(body, meta)


def error_details(status: int, body: Any) -> tuple[str, str]:
    """The ES error `type` and `reason` from its envelope (es-ml-api.md §0.1).

    `{"error": {"type": ..., "reason": ...}, "status": N}`; older or proxied answers may carry
    a string `error` or no JSON at all, in which case the status text stands in.
    """
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            etype = str(error.get("type") or "unknown")
            reason = str(error.get("reason") or "")
            caused = error.get("caused_by")
            if isinstance(caused, dict) and caused.get("reason"):
                # Parse errors nest the useful part one level down (es-ml-api.md §0.1).
                reason = f"{reason} (caused by {caused.get('type')}: {caused.get('reason')})"
            return etype, reason
        if isinstance(error, str):
            return "error", error
        if body.get("found") is False:  # document GET/DELETE of a missing id
            return "not_found", "document not found"
        if "result" in body:
            return str(body["result"]), ""
    if isinstance(body, str) and body.strip():
        return "http_error", body.strip()[:500]
    return "http_error", _STATUS_TEXT.get(status, "error")


_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def make_error(
    call: Call, status: int, body: Any, redact: Redact, meta: ApiResponseMeta | None = None
) -> ApiError:
    """The `ApiError` for an error answer, with every configured secret redacted.

    The body is redacted first, as a whole, and only then cut to a reason: a cut made before
    redaction could leave part of an echoed `Authorization` header behind.
    """
    body = _redacted(body, redact)
    etype, reason = error_details(status, body)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        etype = body["error"]  # the official client's `message` for a string error
    if meta is None:
        meta = ApiResponseMeta(status=status, headers=HttpHeaders(), call=call)
    return api_error_class(status)(
        redact(etype), meta, body, reason=redact(reason), method=call.method, path=call.path
    )


def _redacted(data: Any, redact: Redact) -> Any:
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact(str(k)): _redacted(v, redact) for k, v in data.items()}
    if isinstance(data, list):
        return [_redacted(v, redact) for v in data]
    return data


@dataclass
class Page:
    """Paging state for APIs with `from`/`size` (es-ml-api.md §3, §4, §8)."""

    size: int
    start: int = 0
    #: ES keeps from + size within this window (PageParams; es-ml-api.md §8).
    window: int = 10_000
    seen: int = field(default=0)

    def next_size(self) -> int:
        """How many items to ask for next (0: the window is exhausted)."""
        return max(0, min(self.size, self.window - self.start))

    def advance(self, got: int, count: int | None) -> bool:
        """Record a page of `got` items; True while more pages may follow."""
        asked = self.next_size()
        self.start += got
        self.seen += got
        if got == 0 or got < asked:
            return False
        if count is not None and self.start >= count:
            return False
        return self.next_size() > 0
