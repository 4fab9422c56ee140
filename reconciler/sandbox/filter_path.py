"""Response filtering by the `filter_path` query parameter (common to every REST endpoint).

Input: a JSON value and the parameter (`a.b,c.*,**.id,-x.y`). Output: the filtered value like
Elasticsearch's FilterPath: inclusions keep matching paths (arrays are traversed transparently),
`*` matches one key, `**` any depth, a leading `-` excludes. No I/O.
"""

from __future__ import annotations

import fnmatch
from typing import Any

_MISSING = object()


def apply_filter_path(value: Any, spec: str) -> Any:
    """Filter `value`; an empty result renders as `{}` like Elasticsearch."""
    patterns = [p.strip() for p in spec.split(",") if p.strip()]
    includes = [p.split(".") for p in patterns if not p.startswith("-")]
    excludes = [p[1:].split(".") for p in patterns if p.startswith("-")]
    out = value
    if includes:
        out = _include(value, includes)
        if out is _MISSING:
            return {}
    if excludes:
        out = _exclude(out, excludes)
    return out


def _match(segment: str, key: str) -> bool:
    return segment == "**" or fnmatch.fnmatchcase(key, segment)


def _include(value: Any, paths: list[list[str]]) -> Any:
    if any(not p for p in paths):
        return value
    if isinstance(value, list):
        items = [_include(v, paths) for v in value]
        kept = [i for i in items if i is not _MISSING]
        return kept if kept else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out: dict[str, Any] = {}
    for key, item in value.items():
        rest: list[list[str]] = []
        for path in paths:
            if path[0] == "**":
                rest.append(path)  # `**` may swallow this key too
                if len(path) > 1 and _match(path[1], key):
                    rest.append(path[2:])
            elif _match(path[0], key):
                rest.append(path[1:])
        if rest:
            kept = _include(item, rest)
            if kept is not _MISSING:
                out[key] = kept
    return out if out else _MISSING


def _exclude(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_exclude(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        matching = [p for p in paths if _match(p[0], key)]
        if any(len(p) == 1 for p in matching):
            continue
        deeper = [p[1:] for p in matching] + [p for p in paths if p[0] == "**"]
        out[key] = _exclude(item, deeper) if deeper else item
    return out
