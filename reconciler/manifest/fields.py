"""Field types shared by the manifest models: time values, byte sizes, detector functions.

Input: raw values from parsed YAML (inside pydantic validation). Output: the same values,
validated (never converted: the body keeps what the user wrote), or a pydantic error worded
like Elasticsearch. No I/O.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from reconciler.units import model_memory_limit_mb, parse_byte_size, parse_duration_ms
from reconciler.vocabulary import FUNCTION_SHORTCUTS

__all__ = [
    "DETECTOR_FUNCTIONS",
    "FUNCTION_SHORTCUTS",
    "ByteSize",
    "DetectorFunctionName",
    "Duration",
    "ExcludeFrequent",
    "Int",
    "JobMemoryLimit",
    "Long",
    "Spec",
    "es_error",
    "suggest",
]


class Spec(BaseModel):
    """Base of every manifest model: unknown fields are errors.

    ES parsers are strict too: `x_content_parse_exception ... unknown field [foo]`
    (es-ml-api.md §0.2).
    """

    # `allow_inf_nan=False`: ES's JSON parser has no NaN/Infinity; a quoted "1e999" in a
    # number field would otherwise become inf and fail only at apply.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: Java `int` / `long` limits: Elasticsearch parses these fields into Integer/Long and rejects
#: larger numbers at PUT (es-ml-api.md §1.1, §2.1, §3.1 give each field's Java type).
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1


def _not_boolean(value: Any) -> Any:
    # YAML `true` is not a number: ES's parser refuses it in a numeric field ("Current token
    # (VALUE_TRUE) not numeric"); pydantic would take it as 1.
    if isinstance(value, bool):
        raise es_error(f"expected an integer, got the boolean {str(value).lower()}")
    return value


#: A field Elasticsearch reads as a Java `int` (e.g. scroll_size, max_num_threads).
Int = Annotated[int, Field(ge=-(2**31), le=INT_MAX), BeforeValidator(_not_boolean)]
#: A field Elasticsearch reads as a Java `long` (e.g. *_retention_days).
Long = Annotated[int, Field(ge=-(2**63), le=LONG_MAX), BeforeValidator(_not_boolean)]


def es_error(message: str) -> PydanticCustomError:
    """A pydantic error whose message is shown verbatim (no "Value error, " prefix)."""
    return PydanticCustomError("mlsync", "{reason}", {"reason": message})


def suggest(word: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest candidate to `word` (for "did you mean ...?"), if any is close enough."""
    ordered = sorted(candidates)
    matches = difflib.get_close_matches(word, ordered, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    # A truncated name ("Anomaly" for "AnomalyDetectionJob") is far by edit distance.
    lowered = word.lower()
    prefixed = [
        c for c in ordered if lowered and len(lowered) >= 3 and c.lower().startswith(lowered)
    ]
    return prefixed[0] if len(prefixed) == 1 else None


def _duration(value: Any, info: ValidationInfo) -> Any:
    # ES reads time values as text: a bare YAML number such as 900 is parsed as "900" and
    # rejected for its missing unit (only 0 and -1 need none).
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise es_error(f"expected a time value such as '15m', got {type(value).__name__}")
    try:
        parse_duration_ms(str(value), setting=info.field_name)
    except ValueError as exc:
        raise es_error(str(exc)) from None
    return value


def _too_large(size: int, value: Any) -> None:
    # ByteSizeValue stores bytes in a Java long and refuses anything larger (its wording).
    if size > LONG_MAX:
        raise es_error(
            f"Values greater than {LONG_MAX} bytes are not supported: {value}; "
            "use a realistic size such as '2gb'"
        )


def _byte_size(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise es_error(f"expected a byte size such as '100mb', got {type(value).__name__}")
    try:
        size = parse_byte_size(value, setting=info.field_name)
    except ValueError as exc:
        raise es_error(str(exc)) from None
    _too_large(size, value)
    return value


def _job_memory(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise es_error(
            f"expected a byte size such as '100mb' or a number of MB, got {type(value).__name__}"
        )
    try:
        mb = model_memory_limit_mb(value)
    except ValueError as exc:
        raise es_error(str(exc)) from None
    # A number means MB (§1.5); either form is held in bytes as a Java long by ES.
    _too_large(mb * 1024 * 1024 if isinstance(value, int) else parse_byte_size(value), value)
    return value


# Editors validate the template source, not the rendered value: accept `{{ ... }}` strings.
_TEMPLATED = r"|\{\{.*\}\}"

#: An Elasticsearch time value such as "15m" (es-ml-api.md §1.2).
Duration = Annotated[
    str | int,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*(-1|0|-?[0-9]+\s*([nN][aA][nN][oO][sS]|[mM][iI][cC][rR][oO][sS]|"
            r"[mM][sS]|[sSmMhHdD]))\s*$" + _TEMPLATED,
            "description": "Time value: a whole number and a unit (d, h, m, s, ms, micros, "
            "nanos), e.g. 15m",
        }
    ),
]

#: An Elasticsearch byte size such as "100mb" (ByteSizeValue).
ByteSize = Annotated[
    str | int,
    BeforeValidator(_byte_size),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "pattern": r"^\s*-?[0-9]*\.?[0-9]+\s*([kKmMgGtTpP]?[bB]?)\s*$" + _TEMPLATED,
            "description": "Byte size, e.g. 100mb",
        }
    ),
]

#: AD job `model_memory_limit`: a number of MB or a byte size, at least 1 MB (§1.5).
JobMemoryLimit = Annotated[
    str | int,
    BeforeValidator(_job_memory),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "pattern": r"^\s*[0-9]*\.?[0-9]+\s*([kKmMgGtTpP]?[bB]?)\s*$" + _TEMPLATED,
            "description": "Byte size (e.g. 100mb) or a number of megabytes",
        }
    ),
]

# DetectorFunction.java (elastic/elasticsearch @e8b3041e): full names and their shortcuts;
# the server normalises shortcuts to the full name on output (es-ml-api.md §1.3).
DETECTOR_FUNCTIONS: tuple[str, ...] = (
    "count", "low_count", "high_count",
    "non_zero_count", "low_non_zero_count", "high_non_zero_count",
    "distinct_count", "low_distinct_count", "high_distinct_count",
    "rare", "freq_rare",
    "info_content", "low_info_content", "high_info_content",
    "metric",
    "mean", "low_mean", "high_mean", "avg", "low_avg", "high_avg",
    "median", "low_median", "high_median",
    "min", "max",
    "sum", "low_sum", "high_sum", "non_null_sum", "low_non_null_sum", "high_non_null_sum",
    "varp", "low_varp", "high_varp",
    "time_of_day", "time_of_week",
    "lat_long",
)  # fmt: skip


def _function(value: str) -> str:
    if value in DETECTOR_FUNCTIONS or value in FUNCTION_SHORTCUTS:
        return value
    close = suggest(value, (*DETECTOR_FUNCTIONS, *FUNCTION_SHORTCUTS))
    if close:
        hint = f"; did you mean '{close}'?"
    else:
        hint = f"; valid functions: {', '.join(DETECTOR_FUNCTIONS)}"
    raise es_error(f"Unknown function '{value}'{hint}")


DetectorFunctionName = Annotated[
    str,
    AfterValidator(_function),
    WithJsonSchema({"type": "string", "enum": [*DETECTOR_FUNCTIONS, *FUNCTION_SHORTCUTS]}),
]

_EXCLUDE_FREQUENT = ("all", "none", "by", "over")


def _exclude_frequent(value: str) -> str:
    # Detector.ExcludeFrequent.forString upper-cases: the value is case-insensitive (§1.3).
    if value.lower() in _EXCLUDE_FREQUENT:
        return value
    raise es_error(
        f"No enum constant ExcludeFrequent '{value}'; use one of: {', '.join(_EXCLUDE_FREQUENT)}"
    )


ExcludeFrequent = Annotated[
    str,
    AfterValidator(_exclude_frequent),
    WithJsonSchema(
        {"type": "string", "enum": [*_EXCLUDE_FREQUENT, *(v.upper() for v in _EXCLUDE_FREQUENT)]}
    ),
]
