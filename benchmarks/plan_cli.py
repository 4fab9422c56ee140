"""Benchmark: a no-op `mlsync plan` through the CLI against `mlsync sandbox serve`, per size.

Input: sizes from the command line. Output: per size (N jobs, each with a datafeed), the time
of `mlsync validate` of the tree, of `mlsync plan` of it against an empty served sandbox (every
resource a create, live checks included), of `mlsync apply --auto-approve` of it, and of the
no-op `mlsync plan` that follows, with the ratios plan / validate and
apply / plan and the growth per size step; `--quick` prints one JSON line per size.

    python benchmarks/plan_cli.py                 # 1k, 2k, 4k, 8k jobs
    python benchmarks/plan_cli.py --quick         # 250, 500, 1000 jobs, JSON lines
    python benchmarks/plan_cli.py --sizes 1100 --latency 0.02

Every command is a fresh `python -m reconciler.cli` subprocess (interpreter start and imports
included), against one `mlsync sandbox serve` on a free loopback port that is reset between
sizes and stopped at the end.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench_common import best_of, emit, ratios, run_cli, served_sandbox, sizes, write_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, JSON lines")
    parser.add_argument("--sizes", help="comma-separated job counts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with served_sandbox() as server, tempfile.TemporaryDirectory() as tmp:
        for n in sizes(args.sizes, args.quick):
            tree = str(write_tree(Path(tmp) / f"n{n}", n))
            validate = best_of(args.repeats, lambda tree=tree: run_cli("", "validate", tree))
            server.reset(args.latency)
            empty = best_of(args.repeats, lambda tree=tree: run_cli(server.url, "plan", tree))
            apply = run_cli(server.url, "apply", tree, "--auto-approve")
            server.admin("POST", "/_sandbox/requests/_reset")
            plan = best_of(args.repeats, lambda tree=tree: run_cli(server.url, "plan", tree))
            requests = server.requests() // max(1, args.repeats)
            # The same no-op plan without live checks: a no-op plan asks them nothing.
            server.admin("POST", "/_sandbox/requests/_reset")
            run_cli(server.url, "plan", tree, "--no-live-checks")
            row = {"jobs": n, "s": plan, "validate_s": validate, "apply_s": apply}
            row["empty_plan_s"] = empty
            row["plan_requests"] = requests
            row["live_check_requests"] = requests - server.requests()
            rows.append(row)
            if args.quick:
                emit({"bench": "plan_cli", "latency_ms": args.latency * 1000, "size": n, **row})
    if args.quick:
        return
    print(f"CLI against mlsync sandbox serve, {args.latency * 1000:.0f} ms latency")
    print(
        f"{'jobs':>6} {'validate':>9} {'no-op plan':>10} {'plan/val':>8} {'requests':>8} "
        f"{'checks':>6} {'growth':>7} {'empty plan':>10} {'apply':>8} {'apply/plan':>10}"
    )
    for row, ratio in zip(rows, ratios(rows), strict=True):
        print(
            f"{row['jobs']:>6} {row['validate_s']:>8.2f}s {row['s']:>9.2f}s "
            f"{row['s'] / row['validate_s']:>7.2f}x {row['plan_requests']:>8} "
            f"{row['live_check_requests']:>6} {ratio:>7} {row['empty_plan_s']:>9.2f}s "
            f"{row['apply_s']:>7.2f}s {row['apply_s'] / row['s']:>9.1f}x"
        )


if __name__ == "__main__":
    main()
