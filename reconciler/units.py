"""Elasticsearch unit parsing: time values, byte sizes and AD-job memory limits.

Input: the strings (or numbers) users and the server write for durations and sizes.
Output: integers (milliseconds, bytes, megabytes) or a `ValueError` worded like Elasticsearch.
Pure: no I/O. Shared by the manifest validator and the planner's normaliser, so that both
sides agree on what `"15m"`, `"900s"` or `"100mb"` mean.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["model_memory_limit_mb", "parse_byte_size", "parse_duration_ms"]

# ES TimeValue.parseTimeValue: the value is lower-cased and trimmed, then the suffix picks
# the unit; only these suffixes exist (es-ml-api.md §1.2 "bucket_span ... unit preserved").
# Longest suffixes first so that "ms" is not read as "m" + "s".
_TIME_UNITS_NS: tuple[tuple[str, int], ...] = (
    ("nanos", 1),
    ("micros", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
)

# ES ByteSizeValue.parseBytesSizeValue accepts both the one-letter and the two-letter forms.
_BYTE_UNITS: tuple[tuple[str, int], ...] = (
    ("kb", 1024),
    ("mb", 1024**2),
    ("gb", 1024**3),
    ("tb", 1024**4),
    ("pb", 1024**5),
    ("k", 1024),
    ("m", 1024**2),
    ("g", 1024**3),
    ("t", 1024**4),
    ("p", 1024**5),
    ("b", 1),
)

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")

_MB = 1024 * 1024


def _subject(value: object, setting: str | None) -> str:
    if setting:
        return f"failed to parse setting [{setting}] with value [{value}]"
    return f"failed to parse [{value}]"


_LONG_MAX = 2**63 - 1


def parse_duration_ms(value: str, *, setting: str | None = None) -> int:
    """Parse an Elasticsearch time value (`TimeValue`) into whole milliseconds.

    Units are `nanos, micros, ms, s, m, h, d`, case-insensitive, with a whole number in
    front (`"15m"`, `"3600S"`); `"0"` and `"-1"` need no unit, as in ES. Sub-millisecond
    values are rounded down. es-ml-api.md §1.2: `bucket_span` keeps the unit as given and
    fractional values such as `"1.5h"` are rejected by the parser.

    Args:
        value: The time value as written.
        setting: The field name, used in the error message (ES names the setting).

    Returns:
        The duration in milliseconds (negative only for `"-1"` or negative inputs).

    Raises:
        ValueError: Missing or unknown unit, fractional number, or not a string.
    """
    if not isinstance(value, str):
        raise ValueError(
            f"{_subject(value, setting)} as a time value: expected a string like '15m'"
        )
    normalized = value.strip().lower()
    if normalized in ("0", "-1"):
        return int(normalized)
    for suffix, nanos in _TIME_UNITS_NS:
        if normalized.endswith(suffix):
            number = normalized[: -len(suffix)].strip()
            if _INTEGER.fullmatch(number):
                millis = int(number) * nanos // 1_000_000
                if abs(int(number)) > _LONG_MAX or abs(millis) > _LONG_MAX:
                    # TimeValue holds the number in a Java long, and the ML configs convert
                    # it to milliseconds (a long too): either overflowing is refused.
                    raise ValueError(
                        f"{_subject(value, setting)} as a time value: it does not fit in a "
                        f"64-bit number of milliseconds (at most {_LONG_MAX}ms); use a "
                        "realistic duration"
                    )
                return millis
            if _DECIMAL.fullmatch(number):
                raise ValueError(
                    f"{_subject(value, setting)} as a time value: fractional time values are "
                    f"not supported; use a smaller unit (for example '90m' instead of '1.5h')"
                )
            break
    raise ValueError(
        f"{_subject(value, setting)} as a time value: unit is missing or unrecognized "
        f"(use one of d, h, m, s, ms, micros, nanos, for example '15m')"
    )


def parse_byte_size(value: str | int, *, setting: str | None = None) -> int:
    """Parse an Elasticsearch byte size (`ByteSizeValue`) into bytes.

    Units `b, kb, mb, gb, tb, pb` and the short forms `k, m, g, t, p`, case-insensitive
    (1 kb = 1024 b). A plain integer means bytes; `"0"` and `"-1"` need no unit. Fractional
    numbers (`"1.5gb"`) are accepted and rounded down, as ES does (with a deprecation warning).

    Args:
        value: The size as written, or an integer number of bytes.
        setting: The field name, used in the error message.

    Returns:
        The size in bytes.

    Raises:
        ValueError: Missing or unknown unit, a value below -1, or a wrong type.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{_subject(value, setting)} as a size in bytes: expected e.g. '100mb'")
    if isinstance(value, int):
        if value < -1:
            raise ValueError(f"Values less than -1 bytes are not supported: {value}b")
        return value
    normalized = value.strip().lower()
    if normalized in ("0", "-1"):
        return int(normalized)
    for suffix, multiplier in _BYTE_UNITS:
        if normalized.endswith(suffix):
            number = normalized[: -len(suffix)].strip()
            if not _DECIMAL.fullmatch(number):
                break
            try:
                amount = Decimal(number)
            except InvalidOperation:  # pragma: no cover - the regex already vetted it
                break
            result = int(amount * multiplier)
            if result < -1:
                raise ValueError(f"Values less than -1 bytes are not supported: {value}")
            return result
    raise ValueError(
        f"{_subject(value, setting)} as a size in bytes: unit is missing or unrecognized "
        f"(use one of b, kb, mb, gb, tb, pb, for example '100mb')"
    )


def model_memory_limit_mb(value: str | int) -> int:
    """Convert an AD job `analysis_limits.model_memory_limit` into whole megabytes.

    es-ml-api.md §1.5 (AnalysisLimits): a number means megabytes; a string is a byte size
    rounded DOWN to whole MB (`"1500kb"` -> 1, `"8g"` -> 8192); the server stores and
    returns `"<N>mb"`. Values under 1 MB are rejected by ES with this wording.

    Args:
        value: The limit as written in the job body.

    Returns:
        The limit in MB.

    Raises:
        ValueError: Unparsable value, or a limit under 1 MB.
    """
    if isinstance(value, bool):
        raise ValueError(f"failed to parse [{value}] as a size in bytes: expected e.g. '100mb'")
    mb = value if isinstance(value, int) else parse_byte_size(value) // _MB
    if mb < 1:
        raise ValueError(f"model_memory_limit must be at least 1 MiB. Value = {mb}")
    return mb
