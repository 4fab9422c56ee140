"""CI growth check: run the benchmarks' quick modes and fail on super-linear growth.

Input: the table `BENCHMARKS` below (one line per benchmark command; a script that does not
exist yet is skipped with a note). Output: per benchmark and series, the best time at each size
and the ratio between the largest and the smallest size; exit code 1 when the time at 4x the
resources is more than 5x the time (linear growth gives 4x, quadratic 16x). I/O: runs the
benchmarks as subprocesses (each prints one JSON line per measurement).

Only ratios are checked, never an absolute time, so a slow or busy CI machine cannot fail it.
Noise is handled by running each benchmark `REPEATS` times and keeping, per size, the best
time: a machine hiccup only ever makes a run slower.

    python .ci/growth_check.py [--repeats 3] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: name -> command (run from the repository root). The quick modes use three sizes, the last
#: 4x the first (250/500/1000 jobs, or as the line says). Adding a benchmark is one line.
BENCHMARKS: dict[str, list[str]] = {
    # 2000/4000/8000 jobs: at 250 the planning figures are 30-60 ms, where a scheduler tick is
    # a tenth of the time, and at 1000 the fleet still fits in the processor's caches (see
    # QUICK_SIZES there): either way the ratio says more about the machine than the code.
    "plan (in process)": ["benchmarks/plan_growth.py", "--quick"],
    "sandbox per request": ["benchmarks/sandbox_requests.py", "--quick"],
    "apply (in process)": [
        "benchmarks/apply_growth.py",
        *("--quick", "--modes", "inprocess", "--latencies", "0", "--no-compare"),
    ],
    "plan and apply (CLI against sandbox serve)": ["benchmarks/plan_cli.py", "--quick"],
}

#: Time at 4x the resources may be at most this multiple of the time (linear: 4).
LIMIT_AT_4X = 5.0
#: Keys of a JSON line that name a series (everything else but the size and times).
SERIES_KEYS = ("bench", "benchmark", "mode", "clock", "latency_ms", "phase", "kind")


def run(script: list[str], timeout: float) -> list[dict[str, Any]]:
    """The JSON lines one run of a benchmark printed (other lines are ignored)."""
    done = subprocess.run(
        [sys.executable, *script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(script)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    out = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def timings(record: dict[str, Any]) -> dict[str, float]:
    """Every time in a record: `s` and the `*_s` fields (e.g. `validate_s`, `apply_s`)."""
    return {
        key: float(value)
        for key, value in record.items()
        if (key == "s" or key.endswith("_s")) and isinstance(value, int | float)
    }


def check(name: str, runs: list[list[dict[str, Any]]]) -> list[str]:
    """Best time per (series, size, timing) over the runs; a failure line per bad ratio."""
    best: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for records in runs:
        for record in records:
            size = int(record.get("size", record.get("jobs", 0)))
            series = " ".join(f"{k}={record[k]}" for k in SERIES_KEYS if k in record)
            for timing, seconds in timings(record).items():
                cell = best[(series, timing)]
                cell[size] = min(seconds, cell.get(size, seconds))
    failures = []
    for (series, timing), by_size in sorted(best.items()):
        small, large = min(by_size), max(by_size)
        if large < 4 * small or by_size[small] <= 0:
            continue
        factor = large / small
        ratio = by_size[large] / by_size[small]
        limit = LIMIT_AT_4X * factor / 4  # sizes 4x apart: 5x; larger spans scale linearly
        points = ", ".join(f"{n}: {t:.3f}s" for n, t in sorted(by_size.items()))
        verdict = "ok" if ratio <= limit else "SUPER-LINEAR"
        print(f"  {series} {timing}: {points}; x{ratio:.2f} for x{factor:g} size [{verdict}]")
        if ratio > limit:
            failures.append(
                f"{name}: {series} {timing} grew x{ratio:.2f} for x{factor:g} the resources "
                f"(limit x{limit:.2f})"
            )
    return failures


def main() -> None:
    """Run every benchmark of the table; exit 1 on super-linear growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per benchmark (best kept)")
    parser.add_argument("--only", action="append", help="run only the benchmarks named so")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    args = parser.parse_args()
    failures: list[str] = []
    for name, script in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        if not (ROOT / script[0]).exists():
            print(f"== {name}: {script[0]} does not exist yet, skipped")
            continue
        print(f"== {name}: {' '.join(script)} (best of {args.repeats})", flush=True)
        runs = [run(script, args.timeout) for _ in range(max(1, args.repeats))]
        if not any(runs):
            failures.append(f"{name}: printed no JSON line")
            continue
        failures += check(name, runs)
    if failures:
        print("\nGrowth check failed:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("growth check passed: every time grows at most linearly (within x5 for x4 size)")


if __name__ == "__main__":
    main()
