"""Value parsing and validation shared by the emulator's resource handlers.

Input: raw JSON values from request bodies and query strings. Output: parsed values (durations in
milliseconds, byte sizes in bytes, booleans, epoch-ms dates) or `EsError`s with Elasticsearch's
message texts. No I/O.

The sandbox parses durations and byte sizes itself on purpose: it must not share code with the
reconciler's own normaliser (ARCHITECTURE.md, "The sandbox"), or a bug would cancel itself out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.sandbox.exceptions import EsError, illegal_argument, parse_error

# es-ml-api.md §0.3 (MlStrings.VALID_ID_CHAR_PATTERN)
ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
ID_LENGTH_LIMIT = 64

# TimeValue units, as TimeValue.parseTimeValue accepts them (lower-cased input).
_TIME_UNITS_MS: dict[str, float] = {
    "nanos": 1e-6,
    "micros": 1e-3,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
}
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_TIME_RE = re.compile(r"^(-?\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)$")

# ByteSizeValue units (case-insensitive).
_BYTE_UNITS: dict[str, int] = {
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "p": 1 << 50,
    "pb": 1 << 50,
}
_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|k|kb|m|mb|g|gb|t|tb|p|pb)$")


class Duration:
    """A parsed Elasticsearch time value that keeps its unit (TimeValue.getStringRep)."""

    def __init__(self, amount: int, unit: str) -> None:
        self.amount = amount
        self.unit = unit

    @property
    def ms(self) -> float:
        """The duration in milliseconds."""
        return self.amount * _TIME_UNITS_MS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(value: Any, field: str) -> Duration:
    """Parse a time value like `15m`; the unit is kept as given, lower-cased.

    Args:
        value: The raw JSON value.
        field: The setting name used in the error text.

    Returns:
        The parsed duration.

    Raises:
        EsError: 400 with TimeValue.parseTimeValue's message texts.
    """
    if isinstance(value, bool):
        # declareString refuses a boolean token (ObjectParser: VALUE_BOOLEAN is not a string).
        raise EsError(
            400,
            "illegal_argument_exception",
            f"failed to parse setting [{field}] with value [{value}] as a time value: "
            "unit is missing or unrecognized",
        )
    text = str(value).strip().lower()
    if text in ("-1", "0"):
        return Duration(int(text), "ms")
    match = _TIME_RE.match(text)
    if match is None:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"failed to parse setting [{field}] with value [{value}] as a time value: "
            "unit is missing or unrecognized",
        )
    number, unit = match.groups()
    # TimeValue.parse: Long.parseLong, else Double.parseDouble. A number a Java long cannot
    # hold parses as a double, so Elasticsearch calls it fractional too (a parse_exception).
    if "." in number or not _LONG_MIN <= int(number.split(".")[0]) <= _LONG_MAX:
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse [{value}], fractional time values are not supported",
        )
    if int(number) < -1:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"failed to parse setting [{field}] with value [{value}] as a time value: "
            "negative durations are not supported",
        )
    return Duration(int(number), unit)


def parse_bytes(value: Any, field: str) -> int:
    """Parse a byte size like `100mb` into bytes (ByteSizeValue.parseBytesSizeValue)."""
    text = str(value).strip().lower()
    if text in ("-1", "0"):
        return int(text)
    match = _BYTES_RE.match(text)
    if match is None:
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse setting [{field}] with value [{value}] as a size in bytes: "
            "unit is missing or unrecognized",
        )
    number, unit = match.groups()
    return int(float(number) * _BYTE_UNITS[unit])


def format_bytes(n: int) -> str:
    """ByteSizeValue.toString: the largest unit not above the value, one decimal at most.

    ByteSizeValue.toString divides by the largest unit (pb..kb) the value reaches and renders
    it with Strings.format1Decimals, which keeps the first decimal digit (truncated, not
    rounded) and drops a `.0`: 10240 MB -> `10gb`, 1536 MB -> `1.5gb`, 1000 bytes -> `1000b`.
    """
    value, suffix = float(n), "b"
    for unit in ("pb", "tb", "gb", "mb", "kb"):
        if n >= _BYTE_UNITS[unit]:
            value, suffix = n / _BYTE_UNITS[unit], unit
            break
    whole, _, fraction = repr(value).partition(".")
    if fraction[:1] in ("", "0"):
        return f"{whole}{suffix}"
    return f"{whole}.{fraction[0]}{suffix}"


def validate_id(value: Any, field: str, *, limit: bool = True) -> str:
    """Check an ML resource id (es-ml-api.md §0.3).

    Args:
        value: The id from the URL or body.
        field: `job_id`, `datafeed_id`, `id`, `filter_id`, `calendar_id`.
        limit: Whether the 64-character limit applies (verified for jobs and DFA; the sandbox
            applies it to every id kind, a decision on es-ml-api.md §10.14).

    Returns:
        The id.
    """
    text = str(value)
    if text == "_all" or not ID_RE.match(text):
        raise illegal_argument(
            f"Invalid {field}; '{text}' can contain lowercase alphanumeric (a-z and 0-9), "
            "hyphens or underscores; must start and end with alphanumeric"
        )
    if limit and len(text) > ID_LENGTH_LIMIT:
        if field == "job_id":
            raise illegal_argument(
                f"The job id cannot contain more than {ID_LENGTH_LIMIT} characters."
            )
        raise illegal_argument(
            f"Invalid {field}; '{text}' cannot contain more than {ID_LENGTH_LIMIT} characters."
        )
    return text


def parse_bool(value: Any, name: str) -> bool:
    """Booleans as Elasticsearch's REST layer parses them (`""` means true)."""
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in ("", "true"):
        return True
    if text == "false":
        return False
    raise illegal_argument(
        f"Failed to parse value [{value}] as only [true] or [false] are allowed."
    )


def parse_int(value: Any, name: str) -> int:
    """An integer query parameter; ES answers 400 on garbage."""
    if isinstance(value, bool):
        raise illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise illegal_argument(
            f"Failed to parse int parameter [{name}] with value [{value}]"
        ) from None


def body_long(value: Any, field: str, parser: str, raw: str, *, java_type: str = "long") -> int:
    """A `long` field of a request body, as ObjectParser.declareLong reads it.

    ValueType.LONG takes a number or a numeric string (AbstractXContentParser.longValue
    truncates a fraction: `"1.9"` → 1). A boolean, object or array is refused by the parser
    itself (`[l:c] [parser] f doesn't support values of type: VALUE_BOOLEAN`); a string that is
    not a number, or a number outside a Java long, fails the field (`failed to parse field
    [f]`) with the cause Jackson or Long.parseLong gives.
    """
    where = f"[{key_location(raw, field)}] [{parser}]"
    low, high = (_LONG_MIN, _LONG_MAX) if java_type == "long" else (-(1 << 31), (1 << 31) - 1)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise parse_error(f"{where} {field} doesn't support values of type: {token_name(value)}")
    number: int | None
    if isinstance(value, str):
        try:
            number = int(float(value)) if "." in value else int(value.strip())
        except ValueError:
            number = None
        cause = {"type": "number_format_exception", "reason": f'For input string: "{value}"'}
    else:
        number = int(value)
        cause = {
            "type": "input_coercion_exception",
            "reason": f"Numeric value ({value}) out of range of {java_type} ({low} - {high})",
        }
    if number is None or not low <= number <= high:
        raise EsError(
            400,
            "x_content_parse_exception",
            f"{where} failed to parse field [{field}]",
            caused_by=cause,
        )
    return number


def parse_float(value: Any, name: str) -> float:
    """A double parameter."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise illegal_argument(f"Failed to parse double [{name}] with value [{value}]") from None


def parse_date_param(value: Any, name: str) -> int:
    """Epoch-ms or ISO-8601 date param (results `start`/`end`: illegal_argument on garbage)."""
    parsed = _parse_date(value)
    if parsed is None:
        raise illegal_argument(_bad_date_message(name, value))
    return parsed


def parse_date_math(value: Any, name: str, now_ms: int) -> int:
    """A datafeed `start`/`end` (StartDatafeedAction.DatafeedParams.parseDateOrThrow).

    Elasticsearch parses these with the default date field formatter's DateMathParser
    (`strict_date_optional_time||epoch_millis`), so `now`, `now-1d`, `now/d` and
    `2024-01-01||+1h` are dates; a failure is an ElasticsearchParseException (400
    `parse_exception`) with Messages.REST_INVALID_DATETIME_PARAMS.
    """
    text = str(value).strip()
    anchor, sep, math_part = text.partition("||")
    if text.startswith("now"):
        base: int | None = now_ms
        math_part = text[3:]
    else:
        base = _parse_date(anchor)
        if not sep:
            math_part = ""
    result = None if base is None else _apply_date_math(base, math_part)
    if result is None:
        raise EsError(400, "parse_exception", _bad_date_message(name, value))
    return result


def _bad_date_message(name: str, value: Any) -> str:
    return (
        f"Query param [{name}] with value [{value}] cannot be parsed as a date or "
        "converted to a number (epoch)."
    )


def _parse_date(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


# JavaDateMathParser units; `M` is months, `m` minutes.
_MATH_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "H": 3_600_000, "d": 86_400_000}
_MATH_RE = re.compile(r"([+-])(\d*)([yMwdhHms])|/([yMwdhHms])")


def _apply_date_math(base: int, expression: str) -> int | None:
    """`+1d`, `-2h`, `/d` (UTC) applied in order, as JavaDateMathParser does."""
    moment = dt.datetime.fromtimestamp(base / 1000, tz=dt.UTC)
    pos = 0
    while pos < len(expression):
        match = _MATH_RE.match(expression, pos)
        if match is None:
            return None
        pos = match.end()
        sign, amount_text, unit, round_unit = match.groups()
        if round_unit is not None:
            moment = _round_down(moment, round_unit)
            continue
        amount = int(amount_text or "1") * (1 if sign == "+" else -1)
        if unit in ("y", "M"):
            months = moment.month - 1 + amount * (12 if unit == "y" else 1)
            year, month = moment.year + months // 12, months % 12 + 1
            last = calendar.monthrange(year, month)[1]
            moment = moment.replace(year=year, month=month, day=min(moment.day, last))
        elif unit == "w":
            moment += dt.timedelta(weeks=amount)
        else:
            moment += dt.timedelta(milliseconds=amount * _MATH_UNITS_MS[unit])
    return int(moment.timestamp() * 1000)


def _round_down(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "y":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        start = moment - dt.timedelta(days=moment.weekday())
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in ("h", "H"):
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def key_location(raw: str, key: str) -> str:
    """`line:col` of a key in the raw body, as ObjectParser errors report it."""
    needle = json.dumps(key)
    pos = raw.find(needle)
    if pos < 0:
        return "1:1"
    line = raw.count("\n", 0, pos) + 1
    col = pos - (raw.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


def check_fields(body: Mapping[str, Any], allowed: Iterable[str], parser: str, raw: str) -> None:
    """Reject unknown keys like an ObjectParser (`[1:2] [job_details] unknown field [x]`)."""
    allowed_set = set(allowed)
    for key in body:
        if key not in allowed_set:
            raise parse_error(f"[{key_location(raw, key)}] [{parser}] unknown field [{key}]")


def require_object(value: Any, parser: str, field: str, raw: str) -> dict[str, Any]:
    """A field that must be a JSON object."""
    if not isinstance(value, dict):
        raise parse_error(
            f"[{key_location(raw, field)}] [{parser}] {field} doesn't support values of type: "
            f"{token_name(value)}"
        )
    return value


def token_name(value: Any) -> str:
    """The XContentParser token a JSON value starts with (`VALUE_STRING`, `START_ARRAY`...)."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    return "VALUE_NULL"


def non_negative(value: Any, field: str, parser: str = "job_details", raw: str = "") -> int:
    """A long body field that must be ≥ 0 (Messages.JOB_CONFIG_FIELD_VALUE_TOO_LOW)."""
    number = body_long(value, field, parser, raw)
    if number < 0:
        raise illegal_argument(f"{field} cannot be less than 0. Value = {number}")
    return number


def check_exclusive(
    params: Mapping[str, Any],
    body: Mapping[str, Any],
    single: str,
    others: tuple[str, ...],
    *,
    paged: bool = True,
) -> None:
    """Mutually exclusive results parameters (GetBucketsAction / GetCategoriesAction.Request).

    A single result (`timestamp` of a bucket, `category_id` of a category) cannot be combined
    with paging or the listed filters. The REST handlers set the query-string parameters after
    the single id, so the later setter refuses: `Param [start] is incompatible with
    [timestamp].`, `Param [from, size] is incompatible with [category_id].`; a body parsed
    first and then given the URL's id refuses in the id's setter: `Param [timestamp] is
    incompatible with [from,size,start,end,anomaly_score]` (buckets; categories use `[from,
    size].`). Every one is an IllegalArgumentException (400).

    Args:
        params: Query-string parameters.
        body: The request body (`{}` when absent).
        single: `timestamp` or `category_id`.
        others: The filters refused with it, in the handler's setter order.
        paged: Whether `from`/`size` (query, or the body's `page`) are refused too.
    """
    in_body = [k for k in others if k in body] + (["page"] if paged and "page" in body else [])
    if in_body:
        if single == "timestamp":
            raise illegal_argument(
                "Param [timestamp] is incompatible with [from,size,start,end,anomaly_score]"
            )
        raise illegal_argument(f"Param [{single}] is incompatible with [from, size].")
    for name in others:
        if name in params:
            raise illegal_argument(f"Param [{name}] is incompatible with [{single}].")
    if paged and ("from" in params or "size" in params):
        raise illegal_argument(f"Param [from, size] is incompatible with [{single}].")
