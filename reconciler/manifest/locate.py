"""pydantic validation errors -> located, user-worded problems.

Input: a `ValidationError` and the document data it came from. Output: `Problem`s whose
`path` points into the document (so `Document.locate` gives file:line:col) and whose message
says what is wrong and what to do. No I/O.

pydantic's `loc` also holds union member labels and discriminator tags; only the elements
that exist in the data are kept, which maps each error onto a real YAML node.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.manifest.envelope import MODEL_BY_KIND
from reconciler.manifest.fields import INT_MAX, LONG_MAX, suggest
from reconciler.manifest.source import Path

__all__ = ["NOT_FINITE", "Problem", "problems_from_validation"]

KINDS = tuple(MODEL_BY_KIND)

# Fields the server generates: pasting GET output without `exclude_generated=true` brings
# them along, and ES >= 8.14 rejects them as unknown fields (es-ml-api.md §1.1, §3.1).
_GENERATED = {
    "job_type", "job_version", "create_time", "finished_time", "model_snapshot_id",
    "model_snapshot_min_version", "deleting", "blocked", "authorization", "headers",
    "version", "event_id",
}  # fmt: skip

_TYPE_EXPECTATIONS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "literal_error": "",
}


@dataclass(frozen=True)
class Problem:
    """A problem at `path` in a document; `at_key` points at the mapping key itself."""

    path: Path
    message: str
    at_key: bool = False


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string '{value}'" if len(value) <= 40 else "a long string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[Path, list[str | int]]:
    """Split `loc` into the part that exists in `data` and the rest (labels, missing keys)."""
    path: list[str | int] = []
    rest: list[str | int] = []
    current = data
    for element in loc:
        if _has(current, element):
            path.append(element)
            current = current[element]
        else:
            rest.append(element)
    return tuple(path), rest


def _has(container: Any, element: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(element, str) and element in container
    if isinstance(container, list):
        return isinstance(element, int) and 0 <= element < len(container)
    return False


def _unwrap(annotation: Any) -> list[Any]:
    """The candidate types inside Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(data: Any, path: Path) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `path` (None if not a model)."""
    if not isinstance(data, dict):
        return None
    model: Any = MODEL_BY_KIND.get(str(data.get("kind")))
    current: Any = model
    for element in path:
        candidates = _unwrap(current)
        nxt: Any = None
        for candidate in candidates:
            origin = typing.get_origin(candidate)
            is_model = isinstance(candidate, type) and issubclass(candidate, BaseModel)
            if is_model and isinstance(element, str):
                field = _field_by_alias(candidate, element)
                if field is not None:
                    nxt = field
                    break
            if origin is dict and isinstance(element, str):
                nxt = typing.get_args(candidate)[1]
                break
            if origin is list and isinstance(element, int):
                nxt = typing.get_args(candidate)[0]
                break
        if nxt is None:
            return None
        current = nxt
    for candidate in _unwrap(current):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_by_alias(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == name:
            return info.annotation
    return None


def _allowed(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _where(path: Path) -> str:
    for element in reversed(path):
        if isinstance(element, str):
            return element
    return "the manifest"


def _field_label(path: Path) -> str:
    names = [str(e) if isinstance(e, str) else f"[{e}]" for e in path]
    if not names:
        return "the document"
    label = names[0]
    for name in names[1:]:
        label += name if name.startswith("[") else f".{name}"
    return label


def _unknown_field(data: Any, path: Path) -> str:
    field = str(path[-1])
    parent = path[:-1]
    where = _where(parent)
    if field == "state" and not parent and isinstance(data, dict):
        kind = data.get("kind")
        if kind in ("Filter", "Calendar"):
            return f"a {kind} has no run state; remove 'state'"
    if field in _GENERATED:
        return (
            f"unknown field '{field}' in {where}: it is generated by Elasticsearch and cannot "
            "be set; remove it (GET with exclude_generated=true gives a body you can paste)"
        )
    allowed = _allowed(_model_at(data, parent))
    close = suggest(field, allowed) if allowed else None
    if close:
        return f"unknown field '{field}' in {where}; did you mean '{close}'?"
    if allowed:
        return f"unknown field '{field}' in {where}; allowed fields: {', '.join(allowed)}"
    return f"unknown field '{field}' in {where}; remove it"


#: Message for NaN / infinity (YAML `.nan`, `.inf`, or a number too large for a double).
NOT_FINITE = (
    "not a finite number (NaN or infinity); Elasticsearch's JSON has no such values, "
    "write a finite number"
)


def _java_type(ctx: dict[str, Any]) -> tuple[str, int] | None:
    """("int"|"long", maximum) when a bound in `ctx` is a Java int/long limit (`Int`, `Long`)."""
    for key in ("le", "ge"):
        value = ctx.get(key)
        if value in (INT_MAX, -INT_MAX - 1):
            return "int", INT_MAX
        if value in (LONG_MAX, -LONG_MAX - 1):
            return "long", LONG_MAX
    return None


# Run states per kind (es-ml-api.md §5.1-§5.3): jobs open/close, datafeeds and DFA start/stop.
_JOB_STATES = ("opened", "closed")
_RUN_STATES = ("started", "stopped")


def _state_hint(given: str, values: list[str]) -> str | None:
    """Explain a run state of the other family (`opened` on a datafeed, `started` on a job)."""
    word = given.strip().lower()
    if tuple(values) == _RUN_STATES and word in (*_JOB_STATES, "open", "close"):
        return (
            "; datafeeds and data frame analytics use started|stopped "
            "(opened|closed is for anomaly detection jobs)"
        )
    if tuple(values) == _JOB_STATES and word in (*_RUN_STATES, "start", "stop"):
        return "; anomaly detection jobs use opened|closed (started|stopped is for datafeeds)"
    return None


def problems_from_validation(data: Any, error: ValidationError) -> list[Problem]:
    """Translate a pydantic `ValidationError` into located problems.

    Args:
        data: The document that was validated (after template rendering).
        error: The error pydantic raised.

    Returns:
        One problem per distinct location (type errors of union members are merged).
    """
    problems: list[Problem] = []
    expectations: dict[Path, list[str]] = {}
    inputs: dict[Path, Any] = {}
    order: list[Path] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        path, rest = _data_path(data, loc)
        ctx = item.get("ctx") or {}
        if kind == "extra_forbidden":
            problems.append(Problem(path, _unknown_field(data, path), at_key=True))
        elif kind == "missing":
            field = next((str(e) for e in reversed(rest) if isinstance(e, str)), "?")
            where = _where(path)
            hint = " (the Elasticsearch create body)" if field == "spec" and not path else ""
            problems.append(Problem(path, f"missing required field '{field}'{hint} in {where}"))
        elif kind == "union_tag_invalid":
            tag = str(ctx.get("tag"))
            close = suggest(tag, KINDS)
            hint = f"did you mean '{close}'? " if close else ""
            at = (*path, "kind") if "kind" in data else path
            if isinstance(data, dict) and data.get("kind") in (None, ""):
                message = f"kind is missing or null; set it to one of: {', '.join(KINDS)}"
            else:
                message = f"unknown kind '{tag}'; {hint}kind must be one of: {', '.join(KINDS)}"
            problems.append(Problem(at, message))
        elif kind == "union_tag_not_found":
            problems.append(
                Problem(path, f"missing required field 'kind'; use one of: {', '.join(KINDS)}")
            )
        elif kind == "mlsync":
            problems.append(Problem(path, str(ctx.get("reason", item["msg"]))))
        elif kind in _TYPE_EXPECTATIONS:
            if kind == "literal_error":
                values = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
                given = item.get("input")
                close = suggest(str(given), values) if isinstance(given, str) else None
                hint = f"; did you mean '{close}'?" if close else ""
                if path[-1:] == ("state",) and isinstance(given, str):
                    hint = _state_hint(given, values) or hint
                problems.append(
                    Problem(
                        path,
                        f"invalid value {_describe(given).removeprefix('the string ')} for "
                        f"{_field_label(path)}: expected one of "
                        f"{', '.join(repr(v) for v in values)}{hint}",
                    )
                )
                continue
            if path not in expectations:
                expectations[path] = []
                order.append(path)
                inputs[path] = item.get("input")
            expected = _TYPE_EXPECTATIONS[kind]
            if expected not in expectations[path]:
                expectations[path].append(expected)
        elif kind == "finite_number":
            problems.append(Problem(path, NOT_FINITE))
        elif kind in ("less_than_equal", "greater_than_equal") and (java_type := _java_type(ctx)):
            java, high = java_type
            problems.append(
                Problem(
                    path,
                    f"{_field_label(path)}: {item.get('input')} is out of range: Elasticsearch "
                    f"reads it as a Java {java}, from {-high - 1} to {high}; use a smaller value",
                )
            )
        else:
            message = str(item["msg"]).replace("Input should be", "must be")
            problems.append(Problem(path, f"{_field_label(path)}: {message}"))
    for path in order:
        # A union member error for a value that another member accepted type-wise is noise;
        # if a more specific problem exists at or below this path, skip the type complaint.
        # (`indices: [5]` against `str | list[str]`: the item's problem, not "not a string").
        if any(p.path[: len(path)] == path for p in problems) or any(
            len(other) > len(path) and other[: len(path)] == path for other in order
        ):
            continue
        wanted = " or ".join(expectations[path])
        problems.append(
            Problem(
                path,
                f"{_field_label(path)}: expected {wanted}, got {_describe(inputs[path])}",
            )
        )
    return problems
