"""Python values to the bytes Elasticsearch reads: JSON bodies, NDJSON bodies, query values.

Input: bodies and parameter values as a caller of the official client passes them (dicts,
lists, `datetime`, `date`, `UUID`, `Decimal`, enums, booleans). Output: `bytes` for a body
and `str` for a query value. No I/O.

The conversions match elasticsearch-py's serializers: dates and times in ISO 8601
(`datetime.isoformat()`), UUIDs as their string, Decimals as JSON numbers, booleans in a query
string as `true`/`false`, lists in a query string comma-separated (Elasticsearch's
`Strings.splitStringByCommaToArray`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from reconciler.client.errors import SerializationError


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Unable to serialize {value!r} (type: {type(value).__name__})")


def dumps(body: Any) -> bytes:
    """A JSON body (compact, UTF-8); strings and bytes are sent as they are.

    Raises:
        SerializationError: a value JSON cannot represent (the message names it).
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    try:
        return json.dumps(body, default=_default, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"cannot serialize the request body: {exc}") from None


def dumps_ndjson(body: Any) -> bytes:
    """A newline-delimited JSON body: one line per item, each line ending with a newline."""
    if isinstance(body, (bytes, str)):
        data = body.encode("utf-8") if isinstance(body, str) else body
        return data if data.endswith(b"\n") else data + b"\n"
    if not isinstance(body, Sequence):
        body = [body]
    return b"".join(
        (item.encode("utf-8") if isinstance(item, str) else dumps(item)).rstrip(b"\n") + b"\n"
        for item in body
    )


def query_value(value: Any) -> str:
    """One query-string (or path) value as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return query_value(value.value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(query_value(v) for v in value)
    return str(value)


__all__ = ["dumps", "dumps_ndjson", "query_value"]
