"""Multi-id expressions of the GET / stats / close / stop APIs (es-ml-api.md §0.4).

Input: an expression (`a,b`, `foo-*`, `_all`, `*`, empty), the existing ids and, for jobs, the
group memberships. Output: the matching ids sorted ascending, or a 404 `EsError`. No I/O.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping

from reconciler.sandbox.exceptions import EsError


def expand_ids(
    expression: str | None,
    ids: Iterable[str],
    missing: Callable[[str], EsError],
    *,
    allow_no_match: bool = True,
    groups: Mapping[str, Iterable[str]] | None = None,
) -> list[str]:
    """Resolve an id expression.

    An explicit id that matches nothing is always 404; a wildcard or `_all` that matches nothing
    is 404 only with `allow_no_match=false` (jobs_get_stats.yml, data_frame_analytics_crud.yml).

    Args:
        expression: The expression from the URL (None = all).
        ids: Existing ids.
        missing: Builds the 404 for an unmatched token.
        allow_no_match: The `allow_no_match` parameter.
        groups: Group name → member ids (anomaly detection jobs only).

    Returns:
        Matching ids, sorted, without duplicates.
    """
    all_ids = sorted(set(ids))
    group_map = {k: sorted(v) for k, v in (groups or {}).items()}
    if expression is None or expression.strip() in ("", "_all", "*"):
        if not all_ids and not allow_no_match:
            raise missing(expression or "_all")
        return all_ids
    found: set[str] = set()
    for token in (t.strip() for t in expression.split(",")):
        if not token:
            continue
        if token in ("_all", "*"):
            found.update(all_ids)
            if not all_ids and not allow_no_match:
                raise missing(token)
            continue
        if "*" in token:
            matched = [i for i in all_ids if fnmatch.fnmatchcase(i, token)]
            matched += [
                m for g, ms in group_map.items() if fnmatch.fnmatchcase(g, token) for m in ms
            ]
            if not matched and not allow_no_match:
                raise missing(token)
            found.update(matched)
            continue
        if token in all_ids:
            found.add(token)
        elif token in group_map:
            found.update(group_map[token])
        else:
            raise missing(token)
    return sorted(found)
