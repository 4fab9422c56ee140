"""Benchmark: the sandbox's cost per request as the number of stored jobs doubles.

For each size (1k, 2k, 4k, 8k jobs, each with a datafeed; `--quick`: 250, 500, 1000) and each
store (in memory, and a SQLite state file as `sandbox serve --state` and `--sandbox` use), the
sandbox is filled through its own API (one PUT job with an embedded datafeed per pair, grown
from the previous size), then these requests are timed in process, median of `--repeats`:

- GET one job (`GET /_ml/anomaly_detectors/{id}`),
- GET all jobs (linear in the answer by nature: reported per job),
- PUT a new job with a datafeed (deleted again, untimed),
- open a job (force-closed again, untimed).

A store whose cost per request does not depend on its size shows ratios near 1.0 per doubling.

    python benchmarks/sandbox_requests.py [--sizes 1000,2000] [--repeats 31] [--quick]
        [--clock wall|cpu]

`--quick` prints one JSON line per size and store (`{"bench", "mode", "jobs", "get_job_s",
...}`) for the CI growth check (.ci/growth_check.py), which compares ratios only. It times with
the process's CPU clock unless `--clock wall` is given: per-request times are fractions of a
millisecond, and on a shared CI machine wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.sandbox import Sandbox

FULL_SIZES = (1000, 2000, 4000, 8000)
QUICK_SIZES = (250, 500, 1000)
HEADERS = {"content-type": "application/json"}
JOB: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
    "datafeed_config": {"indices": ["logs-*"]},
}
#: name → what is timed; GET all jobs is divided by the number of jobs.
OPERATIONS = ("get_job", "get_all_per_job", "put_job", "open_job")


def call(sb: Sandbox, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    """One request; fails loudly on an unexpected status."""
    raw = b"" if body is None else json.dumps(body).encode()
    answer = sb.handle(method, path, HEADERS, raw)
    if answer.status != expect:
        raise SystemExit(f"{method} {path}: {answer.status} {answer.body[:300]!r}")
    return answer.json()


def grow(sb: Sandbox, start: int, stop: int) -> None:
    """Store jobs `start`..`stop-1`, each with its datafeed, in one group of ten."""
    for i in range(start, stop):
        call(sb, "PUT", f"/_ml/anomaly_detectors/job-{i:05}", {**JOB, "groups": [f"g{i % 10}"]})


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def median_seconds(repeats: int, run: Callable[[int], None], clock: Callable[[], float]) -> float:
    """Median time of `run(i)` for i in 0..repeats-1."""
    times = []
    for i in range(repeats):
        start = clock()
        run(i)
        times.append(clock() - start)
    return statistics.median(times)


def measure(sb: Sandbox, jobs: int, repeats: int, clock: Callable[[], float]) -> dict[str, float]:
    """Seconds per request of each operation at the current size."""
    step = max(1, jobs // repeats)

    def get_job(i: int) -> None:
        call(sb, "GET", f"/_ml/anomaly_detectors/job-{(i * step) % jobs:05}")

    def get_all(_: int) -> None:
        assert call(sb, "GET", "/_ml/anomaly_detectors")["count"] == jobs

    def put_job(i: int) -> None:
        call(sb, "PUT", f"/_ml/anomaly_detectors/new-{i:05}", JOB)

    def open_job(i: int) -> None:
        call(sb, "POST", f"/_ml/anomaly_detectors/job-{(i * step) % jobs:05}/_open")

    out = {
        "get_job": median_seconds(repeats, get_job, clock),
        "get_all_per_job": median_seconds(max(3, repeats // 10), get_all, clock) / jobs,
        "put_job": median_seconds(repeats, put_job, clock),
        "open_job": median_seconds(repeats, open_job, clock),
    }
    for i in range(repeats):  # back to `jobs` closed jobs (untimed)
        call(sb, "DELETE", f"/_ml/anomaly_detectors/new-{i:05}")
        call(sb, "POST", f"/_ml/anomaly_detectors/job-{(i * step) % jobs:05}/_close?force=true")
    return out


def main() -> None:
    """Run every size on both stores; print a table with ratios, or JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated job counts")
    parser.add_argument("--repeats", type=int, default=31, help="requests timed per operation")
    parser.add_argument("--quick", action="store_true", help="CI mode: small sizes, JSON lines")
    parser.add_argument("--clock", choices=sorted(CLOCKS), help="wall (default) or cpu time")
    args = parser.parse_args()
    clock_name = args.clock or ("cpu" if args.quick else "wall")
    clock = CLOCKS[clock_name]
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else list(QUICK_SIZES if args.quick else FULL_SIZES)
    )
    results: dict[str, list[tuple[int, dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {"memory": Sandbox(), "file": Sandbox(Path(tmp) / "state.db")}
        for mode, sb in stores.items():
            stored = 0
            for jobs in sizes:
                grow(sb, stored, jobs)
                stored = jobs
                timings = measure(sb, jobs, args.repeats, clock)
                results.setdefault(mode, []).append((jobs, timings))
                if args.quick:
                    record: dict[str, Any] = {"bench": "sandbox_requests", "mode": mode}
                    record.update(clock=clock_name, jobs=jobs)
                    record.update({f"{op}_s": round(t, 7) for op, t in timings.items()})
                    print(json.dumps(record), flush=True)
                else:
                    cells = ", ".join(f"{op} {t * 1000:.3f} ms" for op, t in timings.items())
                    print(f"{mode:6} {jobs:5} jobs: {cells}", flush=True)
            sb.store.close()
    if args.quick:
        return
    print(f"\nms per request ({clock_name} time; GET all: per job); x = ratio to the previous size")
    for mode, rows in results.items():
        print(f"\n{mode}:")
        print(f"{'jobs':>6}  " + "  ".join(f"{op:>22}" for op in OPERATIONS))
        previous: dict[str, float] | None = None
        for jobs, timings in rows:
            cells = []
            for op in OPERATIONS:
                ratio = f" x{timings[op] / previous[op]:.2f}" if previous else ""
                cells.append(f"{timings[op] * 1000:.3f}{ratio}".rjust(22))
            print(f"{jobs:>6}  " + "  ".join(cells))
            previous = timings


if __name__ == "__main__":
    main()
