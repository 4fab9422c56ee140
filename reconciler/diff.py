"""Field-level differences between two canonical bodies.

Input: two canonical bodies (live, desired). Output: a tuple of `(path, before, after)` with
dotted paths (`analysis_config.detectors[0].custom_rules`), sorted. Pure, no I/O.

deepdiff does the work and nothing outside this module sees it, so its output format never
leaks into the planner, the renderers or the tests. `threshold_to_diff_deeper=0` keeps deepdiff
from reporting a whole object as replaced when few keys overlap (ux-conventions.md §3);
order-insensitive lists were already sorted by `reconciler.normalize`, so list order here is
meaningful (detectors are positional).
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

Difference = tuple[tuple[str | int, ...], Any, Any]


def _value(level: Any, attr: str) -> Any:
    value = getattr(level, attr)
    return None if type(value).__name__ == "NotPresent" else value


def _lookup(body: Any, path: tuple[str | int, ...]) -> Any:
    for segment in path:
        if isinstance(body, dict) and segment in body:
            body = body[segment]
        else:
            return None
    return body


def diff_bodies(
    live: dict[str, Any],
    desired: dict[str, Any],
    atomic: tuple[tuple[str, ...], ...] = (),
) -> tuple[Difference, ...]:
    """Return the differences between `live` and `desired` as (path, before, after) tuples.

    `before` is the live value and `after` the desired one; a side where the field is absent
    is `None`. Paths are tuples of keys and list indices. Changes inside an `atomic` path (a
    set-like list such as filter items) are reported once, as the whole value before and
    after: "items[0]: a -> b" would misdescribe a set.
    """
    if live == desired:  # the common case, and far cheaper than DeepDiff
        return ()
    # 1 and 1.0 are the same number: ES returns doubles for fields a manifest may write as
    # integers (hyperparameters, thresholds).
    tree = DeepDiff(
        live,
        desired,
        view="tree",
        threshold_to_diff_deeper=0,
        verbose_level=2,
        ignore_numeric_type_changes=True,
    )
    found: dict[tuple[str | int, ...], Difference] = {}
    for report in tree.values():
        for level in report:
            path = tuple(level.path(output_format="list"))
            whole = next((a for a in atomic if path[: len(a)] == a), None)
            if whole is not None:
                found[whole] = (whole, _lookup(live, whole), _lookup(desired, whole))
                continue
            found[path] = (path, _value(level, "t1"), _value(level, "t2"))
    return tuple(found[p] for p in sorted(found, key=lambda p: [str(s) for s in p]))


def dotted(path: tuple[str | int, ...]) -> str:
    """Render a path tuple as `a.b[0].c`."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else str(segment)
    return out
