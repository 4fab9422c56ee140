"""Pause Python's cyclic garbage collector while a bulk stage builds many long-lived objects.

Input: none. Output: `paused_gc()`, a context manager (usable as a decorator) that turns the
cyclic collector off for its block and back on after it, if it was on; `as_program()` and
`keep_until_exit()`, which take what the `mlsync` program keeps until it exits out of the
collector's scans. No I/O.

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

Pausing is not enough for the program. The objects a paused block made are all young when the
collector comes back on, so the next collections scan every one of them, and each later full
collection scans the whole heap again: the loaded manifests, the live state and the plan, which
the command keeps until it exits. Measured through the CLI at 8,000 jobs (benchmarks/plan_cli.py),
that was about an eighth of a no-op plan, and an apply's thousands of requests pay it again on
every full collection. `gc.freeze()` moves every object alive into a permanent generation the
collector never scans (reference counting still frees them). It is only right in a process that
ends with its command: a library user's or a test runner's process would keep any garbage cycle
alive at that moment forever, so `keep_until_exit()` does nothing unless the program's entry
point called `as_program()`.

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


_program = False


def as_program() -> None:
    """Mark this process as the `mlsync` program (it exits when its command ends).

    The imported modules, classes and tables are kept until then: they leave the collector's
    scans now.
    """
    global _program
    _program = True
    gc.freeze()


def keep_until_exit() -> None:
    """In the program, take every object alive now out of the collector's scans (`gc.freeze`).

    Called once the command holds what it keeps until it exits (its manifests, the live state
    and the plan); does nothing in any other process.
    """
    if _program:
        gc.freeze()
