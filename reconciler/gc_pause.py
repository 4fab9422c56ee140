"""Pause Python's cyclic garbage collector while a bulk stage builds many long-lived objects.

Input: none. Output: `paused_gc()`, a context manager (usable as a decorator) that turns the
cyclic collector off for its block and back on after it, if it was on. No I/O.

Why: loading manifests, reading the cluster and planning each build tens of thousands of small
dicts, lists and pydantic values that all stay alive until the stage ends, and none of them
forms a reference cycle (they are JSON-like trees), so reference counting frees whatever is
dropped. The cyclic collector cannot know that: every 700 allocations it scans the young
objects, and once the survivors outgrow a quarter of the old generation it scans the whole
heap. Measured on the planner (benchmarks/plan_growth.py), those full scans are what made the
time grow x2.4 per doubling of the fleet instead of x2.0: at 4,000 jobs one scan took longer
than the rest of the no-op plan. With the collector paused the stages grow linearly, and the
collector runs normally again once the block ends (a cycle made inside the block, if any, is
collected then).

Nesting is safe (an inner block leaves the collector as the outer block found it); with
threads, the worst case is a block that runs with the collector on, which is only slower.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic collector off; restore its previous setting after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
