"""Fault suite: a failure injected into every step of a 50-resource apply, of every kind.

For each step and each fault kind (500, 429, answer lost after the request was applied,
connection dropped before it was), the sandbox fails that step's exact request - once (the
client's retries may absorb it) or persistently (the step must fail cleanly). Every trial then
checks (fault_scenario.run_trial): only the faulty step failed, only its dependents were
skipped, a clean re-run converges (re-plan empty), and nothing outside the plan's deletes was
ever deleted. Trials run in worker processes (spawned, each with its own sandbox) so the ~360
trials fit in about a minute on two cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from apply_helpers import new_client
from fault_scenario import FAULT_KINDS, build_base, plan_of, run_chunk

HERE = str(Path(__file__).parent)


def _add_path() -> None:
    if HERE not in sys.path:
        sys.path.insert(0, HERE)


def test_every_step_survives_every_fault_kind() -> None:
    base = build_base()
    plan = plan_of(new_client(base))
    assert len({s.ref for s in plan.steps}) >= 45 and len(plan.steps) >= 80
    assert {s.op for s in plan.steps} >= {
        "stop",
        "close",
        "update",
        "delete",
        "create",
        "open",
        "start",
    }
    trials = [
        # Alternate transient (retries may absorb it) and persistent faults across kinds/steps.
        (step.index, kind, 1 if (step.index + k) % 2 == 0 else 1000)
        for step in plan.steps
        for k, kind in enumerate(FAULT_KINDS)
    ]
    workers = max(1, min(2, os.cpu_count() or 1))
    chunks = [trials[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_add_path) as pool:
        futures = [pool.submit(run_chunk, plan.model_dump_json(), chunk) for chunk in chunks]
        results = [r for f in futures for r in f.result()]
    assert len(results) == len(trials) == 4 * len(plan.steps)
    # Both outcomes occur: transient faults are absorbed by retries, persistent ones fail.
    assert any(r.first_ok for r in results) and any(not r.first_ok for r in results)
    # A 429 is always retried; once is absorbed for every step.
    assert all(r.first_ok for r in results if r.kind == "429" and r.times == 1)
