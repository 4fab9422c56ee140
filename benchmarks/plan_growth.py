"""Benchmark: how planning time grows with the fleet (1k, 2k, 4k, 8k jobs), in process.

Input: none (generates manifests in a temp dir and seeds an in-memory sandbox through its REST
API). Output: for each size N (N jobs + N datafeeds + N/5 DFA), the best time of `--repeat`
runs to load and validate the manifests, the no-op plan (pure planning, and total: load + read
cluster + plan), the plan against an empty cluster (pure planning), and the ratio per doubling.

    python benchmarks/plan_growth.py [--sizes 1000,2000,4000,8000] [--repeat 3]
    python benchmarks/plan_growth.py --quick      # small sizes, one JSON line per size (for CI)

With --quick (or --json) every size prints one JSON object on its own line:
`{"benchmark": "plan_growth", "jobs": N, "resources": R, "load_s": ..., "noop_plan_s": ...,
"noop_total_s": ..., "empty_plan_s": ..., "ratio": {...}}`, where `ratio` holds each time
divided by the time at the previous size (absent for the first size), so a CI step can fail on
super-linear growth without ever comparing absolute times.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from reconciler.client import MLClient
from reconciler.cluster import read_cluster
from reconciler.manifest import load_manifests
from reconciler.model import Call
from reconciler.plan import PlanOptions, make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

JOB = {
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [{"function": "mean", "field_name": "amount"}],
    },
    "data_description": {"time_field": "@timestamp"},
}
FULL_SIZES = (1000, 2000, 4000, 8000)
QUICK_SIZES = (1000, 2000, 4000)
TIMES = ("load_s", "noop_plan_s", "noop_total_s", "empty_plan_s")
CPU_TIMES = ("load_cpu_s", "noop_plan_cpu_s", "noop_total_cpu_s", "empty_plan_cpu_s")


def fleet(jobs: int) -> tuple[list[dict[str, Any]], list[Call]]:
    """The manifest documents and the calls that put the same fleet on a cluster."""
    docs: list[dict[str, Any]] = []
    calls: list[Call] = []
    for i in range(jobs):
        job_id, feed_id = f"job-{i:05d}", f"feed-{i:05d}"
        body = {**JOB, "custom_settings": {"managed_by": "mlsync"}}
        calls.append(Call(method="PUT", path=f"/_ml/anomaly_detectors/{job_id}", body=body))
        feed = {"job_id": job_id, "indices": ["tx-*"]}
        calls.append(Call(method="PUT", path=f"/_ml/datafeeds/{feed_id}", body=feed))
        docs.append(
            {
                "kind": "AnomalyDetectionJob",
                "id": job_id,
                "spec": JOB,
                "datafeed": {"id": feed_id, "spec": {"indices": ["tx-*"]}},
            }
        )
    for i in range(jobs // 5):
        dfa_id = f"dfa-{i:05d}"
        spec = {
            "source": {"index": ["src"]},
            "dest": {"index": f"dest-{i:05d}"},
            "analysis": {"outlier_detection": {}},
        }
        body = {**spec, "_meta": {"managed_by": "mlsync"}}
        calls.append(Call(method="PUT", path=f"/_ml/data_frame/analytics/{dfa_id}", body=body))
        docs.append({"kind": "DataFrameAnalytics", "id": dfa_id, "spec": spec})
    return docs, calls


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, float, Any]:
    """The best wall and CPU times of `repeat` runs of `fn`, and its last result.

    CPU time (this process only) is what to compare on a shared machine: other processes
    stretch the wall time but not it. The best run, not the median: noise only ever adds time.

    Each run starts from a collected heap (`gc.collect()`, outside the timing). The stages pause
    the cyclic collector and pay, when they end, one young-generation pass over what they built;
    without this, whether a full collection of the whole heap (the earlier runs' results, the
    seeded sandbox, this benchmark's own data) falls due inside a run or just after it depends
    on the allocation counters left by what ran before, so one size got a 0.4 s scan that is not
    its own and the next did not, and the growth ratios swung from x1.5 to x3.7 per doubling.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        result = None  # the previous run's result is garbage before the collection, not after
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


class TimedTransport(SandboxTransport):
    """The in-process transport, counting the CPU time spent answering inside the sandbox.

    That is the server's share of a read: against a real cluster Elasticsearch spends it, on
    its own machine, so "mlsync's own" figures leave it out.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.server_cpu = 0.0

    def handle_request(self, request: Any) -> Any:
        started = time.process_time()
        try:
            return super().handle_request(request)
        finally:
            self.server_cpu += time.process_time() - started


def client_for(sandbox: Sandbox) -> tuple[MLClient, TimedTransport]:
    transport = TimedTransport(sandbox)
    return MLClient(hosts=["http://sandbox:9200"], transport=transport), transport


def measure(jobs: int, repeat: int) -> dict[str, Any]:
    """Time one fleet size; the figures in seconds."""
    docs, calls = fleet(jobs)
    seeded, timer = client_for(Sandbox(implicit_indices=True))
    for call in calls:
        seeded.perform(call)
    empty, _ = client_for(Sandbox(implicit_indices=True))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "all.yaml").write_text("---\n".join(yaml.safe_dump(d) for d in docs))
        load_s, load_c, manifests = best_time(lambda: load_manifests([tmp]), repeat)
        server: list[float] = []

        def read() -> Any:
            # The preflight's three requests included: a plan makes them too (12 in all).
            timer.server_cpu = 0.0
            live = read_cluster(seeded, seeded.preflight())
            server.append(timer.server_cpu)
            return live

        read_s, read_c, live = best_time(read, repeat)

        def plan(state: Any) -> Any:
            return make_plan(
                manifests.resources, state, references=manifests.references, options=PlanOptions()
            )

        noop_s, noop_c, noop = best_time(lambda: plan(live), repeat)
        empty_live = read_cluster(empty, empty.preflight())
        empty_s, empty_c, created = best_time(lambda: plan(empty_live), repeat)
    # The benchmark is only meaningful if the plans are what they claim to be.
    assert all(c.action.value == "no-op" for c in noop.changes), "the no-op plan has changes"
    assert all(c.action.value == "create" for c in created.changes), "expected only creates"
    return {
        "benchmark": "plan_growth",
        "jobs": jobs,
        "resources": len(manifests.resources),
        "load_s": round(load_s, 4),
        "read_s": round(read_s, 4),
        "noop_plan_s": round(noop_s, 4),
        "noop_total_s": round(load_s + read_s + noop_s, 4),
        "empty_plan_s": round(empty_s, 4),
        "load_cpu_s": round(load_c, 4),
        "read_cpu_s": round(read_c, 4),
        "noop_plan_cpu_s": round(noop_c, 4),
        "noop_total_cpu_s": round(load_c + read_c + noop_c, 4),
        # The least server share among the runs: a run's total minus it is mlsync's own time.
        "read_server_cpu": round(min(server), 4),
        "noop_own_cpu": round(load_c + read_c - min(server) + noop_c, 4),
        "empty_plan_cpu_s": round(empty_c, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=None, help="comma-separated job counts")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (best kept)")
    parser.add_argument("--quick", action="store_true", help="small sizes, JSON lines (CI)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per size")
    args = parser.parse_args()
    sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else (QUICK_SIZES if args.quick else FULL_SIZES)
    )
    repeat = args.repeat or 3
    as_json = args.quick or args.json
    previous: dict[str, Any] | None = None
    if not as_json:
        header = " ".join(f"{t[:-2]:>16}" for t in TIMES)
        print(f"{'jobs':>6} {'resources':>9} {'clock':>5} {header}")
    for jobs in sizes:
        row = measure(jobs, repeat)
        if previous is not None:
            factor = jobs / previous["jobs"]
            row["size_factor"] = factor
            row["ratio"] = {
                t: round(row[t] / previous[t], 3) if previous[t] else None
                for t in TIMES + CPU_TIMES
            }
        row["plan_vs_load"] = round(row["noop_plan_s"] / row["load_s"], 3)
        row["plan_vs_load_cpu"] = round(row["noop_plan_cpu_s"] / row["load_cpu_s"], 3)
        # The done-when ratio: the whole no-op plan over load + validate, with and without
        # the server's share of the read.
        row["total_vs_load_cpu"] = round(row["noop_total_cpu_s"] / row["load_cpu_s"], 3)
        row["own_vs_load_cpu"] = round(row["noop_own_cpu"] / row["load_cpu_s"], 3)
        if as_json:
            print(json.dumps(row, sort_keys=True), flush=True)
        else:
            ratios = row.get("ratio", {})
            for clock, names in (("wall", TIMES), ("cpu", CPU_TIMES)):
                cells = " ".join(
                    f"{row[t]:>8.3f}s" + (f" x{ratios[t]:<5.2f}" if t in ratios else " " * 7)
                    for t in names
                )
                print(f"{jobs:>6} {row['resources']:>9} {clock:>5} {cells}", flush=True)
            print(
                f"{'':>22} cpu: read {row['read_cpu_s']:.3f}s (the sandbox's share "
                f"{row['read_server_cpu']:.3f}s); no-op plan / load: {row['total_vs_load_cpu']}x, "
                f"without the sandbox's share {row['own_vs_load_cpu']}x",
                flush=True,
            )
        previous = row
    if not as_json:
        print("xN: the time divided by the time at the previous size (2.0 = linear per doubling)")
        print("noop_total = load + read cluster + plan; *_plan = pure planning; cpu = this")
        print("the sandbox's share: CPU time answering inside the in-process emulator, which")
        print("Elasticsearch spends on its own machine against a real cluster")
        print("process's CPU time (robust on a shared machine), wall = elapsed time")


if __name__ == "__main__":
    main()
