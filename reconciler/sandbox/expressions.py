"""Multi-id expressions of the GET / stats / close / stop APIs (es-ml-api.md §0.4).

Input: an expression (`a,b`, `foo-*`, `_all`, `*`, empty), the existing ids (a collection that
answers `in` without a scan) and, for jobs, the index of group memberships. Output: the matching
ids sorted ascending, or a 404 `EsError`. No I/O. Explicit ids and group names cost one lookup
each; only wildcards and `_all` list every id.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection
from typing import Any

from reconciler.sandbox.exceptions import EsError


def expand_ids(
    expression: str | None,
    ids: Collection[str],
    missing: Callable[[str], EsError],
    *,
    allow_no_match: bool = True,
    groups: str | None = None,
) -> list[str]:
    """Resolve an id expression.

    An explicit id that matches nothing is always 404; a wildcard or `_all` that matches nothing
    is 404 only with `allow_no_match=false` (jobs_get_stats.yml, data_frame_analytics_crud.yml).

    Args:
        expression: The expression from the URL (None = all).
        ids: Existing ids (a store collection or any collection of ids).
        missing: Builds the 404 for an unmatched token.
        allow_no_match: The `allow_no_match` parameter.
        groups: Name of the index of `ids` listing members by group (anomaly detection jobs).

    Returns:
        Matching ids, sorted, without duplicates.
    """
    if expression is None or expression.strip() in ("", "_all", "*"):
        every = sorted(set(ids))
        if not every and not allow_no_match:
            raise missing(expression or "_all")
        return every
    index: Any = ids
    found: set[str] = set()
    for token in (t.strip() for t in expression.split(",")):
        if not token:
            continue
        if token in ("_all", "*"):
            found.update(ids)
            if not ids and not allow_no_match:
                raise missing(token)
            continue
        if "*" in token:
            matched = [i for i in ids if fnmatch.fnmatchcase(i, token)]
            if groups is not None:
                matched += [
                    m
                    for g in index.index_keys(groups)
                    if fnmatch.fnmatchcase(g, token)
                    for m in index.lookup(groups, g)
                ]
            if not matched and not allow_no_match:
                raise missing(token)
            found.update(matched)
            continue
        if token in ids:
            found.add(token)
            continue
        members = index.lookup(groups, token) if groups is not None else []
        if not members:
            raise missing(token)
        found.update(members)
    return sorted(found)
