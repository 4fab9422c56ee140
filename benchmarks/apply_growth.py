"""Benchmark: how apply time grows with the fleet, and how close it is to the ideal schedule.

Input: sizes, latencies and modes from the command line. Output: a table (or, with `--quick`,
one JSON line per measurement) of apply times for N opened jobs with started datafeeds on an
empty sandbox (2N resources, 6N steps: two registry claims, two creates, open, start; the 2N
claims go out as `_bulk` requests of up to 1,000, so 4N requests plus one per bulk, plus two
for the registry's search window), each
with its ratio to the previous size; then the comparison of `--concurrency 1`, the default
concurrency and the ideal pipelined bound.

    python benchmarks/apply_growth.py                     # 1k, 2k, 4k, 8k jobs; 0 and 20 ms
    python benchmarks/apply_growth.py --quick             # 250, 500, 1000 jobs, JSON lines
    python benchmarks/apply_growth.py --modes inprocess --latencies 0 --sizes 1000,2000
    python benchmarks/apply_growth.py --compare-only --compare-jobs 100

The fixtures of every size (the fleets; for `cli` the manifest trees) are built first; then
each of `--repeats` rounds (default 5; 2 with --quick) applies every size once, each time on a
new empty sandbox made (and planned against) outside the timing, and each size keeps its best
round. The rounds interleave the sizes because a shared machine's speed drifts over minutes:
timed size by size, a doubling that ran on a slow stretch showed x2.4 and the next x1.6 for
linear code. The rows are printed when all rounds are done.

Modes: `inprocess` runs `apply_plan` over the httpx transport to an in-memory sandbox (the
plan is computed before the clock starts); `cli` runs `mlsync apply --auto-approve` as a
subprocess against `mlsync sandbox serve` on a free loopback port (everything included:
interpreter start, manifest loading, preflight, lock, read, plan, apply). Latency is the
sandbox's: every answer is delayed, outside the sandbox's lock, like a remote cluster.

The ideal pipelined bound of the comparison is the larger of requests x latency / concurrency
(the network time, perfectly overlapped) and the critical path (the longest chain of dependent
steps, each one round trip: create job -> create datafeed -> start datafeed, or create job ->
open job -> start datafeed). Sandbox CPU time per request is not in the bound.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench_common import (
    clocked,
    emit,
    fleet,
    interleaved,
    ratios,
    run_cli,
    served_sandbox,
    sizes,
    write_tree,
)

from reconciler.apply import DEFAULT_CONCURRENCY, apply_plan
from reconciler.apply.bulk import BULK_LIMIT
from reconciler.client import MLClient, api
from reconciler.cluster import read_cluster
from reconciler.model import Plan, Resource
from reconciler.plan import make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

#: Rounds of the growth with `--quick` (CI's growth check runs it three times and keeps the
#: best of those too): two, so that each run interleaves the sizes, at twice the cost of one.
QUICK_REPEATS = 2


def critical_path(plan: Plan) -> int:
    """Steps on the longest dependency chain (explicit dependencies and same-resource order)."""
    depth: dict[int, int] = {}
    last_on_ref: dict[str, int] = {}
    for step in plan.steps:
        deps = set(step.depends_on)
        if str(step.ref) in last_on_ref:
            deps.add(last_on_ref[str(step.ref)])
        depth[step.index] = 1 + max((depth[d] for d in deps), default=0)
        last_on_ref[str(step.ref)] = step.index
    return max(depth.values(), default=0)


def inprocess(
    wanted: list[Resource], latency: float, concurrency: int, url: str = "", replan: bool = True
) -> dict[str, Any]:
    """One apply of the fleet `wanted` on an empty sandbox, by `apply_plan` in this process.

    Without `url` over the httpx transport to an in-memory sandbox (a new one per call); with
    `url`, over a real socket to a served sandbox (which is reset first). Only the apply is
    timed, not the plan before it. `replan`: check that a new plan is empty afterwards (slow
    while planning is not linear; otherwise the request count is checked).
    """
    jobs = len(wanted) // 2  # a job and its datafeed each
    if url:
        client = MLClient(hosts=[url])
        client.perform(api.Call(method="POST", path="/_sandbox/_reset"))
    else:
        transport = SandboxTransport(Sandbox(implicit_indices=True))
        client = MLClient(hosts=["http://sandbox:9200"], transport=transport)
    info = client.preflight()
    plan = make_plan(wanted, read_cluster(client, info))
    client.perform(api.Call(method="PUT", path="/_sandbox/transitions", body={"latency": latency}))
    before = client.request_count
    # CPU time of the whole process (every worker thread and the in-process sandbox): with no
    # latency the apply is CPU-bound, and unlike wall time this does not grow when other
    # processes load the machine, so the CI growth check reads it.
    elapsed, cpu, result = clocked(
        lambda: apply_plan(plan, client, concurrency=concurrency, poll_interval=0.05)
    )
    requests = client.request_count - before
    client.perform(api.Call(method="PUT", path="/_sandbox/transitions", body={"latency": 0}))
    # every step is one round trip (no poll after an answer that says the state was reached):
    # per job the two creates, the open and the start; the claims (two per job) share bulks;
    # before them the registry's search window (no registry yet: the settings update's 404,
    # then the index made with it)
    bulks = -(-2 * jobs // BULK_LIMIT)
    converged = len(plan.steps) == 6 * jobs and requests == 4 * jobs + bulks + 2
    if replan:
        converged = not make_plan(wanted, read_cluster(client, info)).steps
    if not result.ok or not converged:
        raise SystemExit(f"{jobs} jobs, concurrency {concurrency}: apply failed or diverged")
    client.close()
    return {
        "s": elapsed,
        "cpu_s": cpu,
        "requests": requests,
        "steps": len(plan.steps),
        "critical_path": critical_path(plan),
    }


def growth(args: argparse.Namespace) -> None:
    """Apply time per size, per mode and latency, with the ratio per size step."""
    repeats = args.repeats or (QUICK_REPEATS if args.quick else 5)
    jobs = sizes(args.sizes, args.quick)
    for mode in args.modes.split(","):
        series = cli_series if mode == "cli" else inprocess_series
        for latency in (float(x) for x in args.latencies.split(",")):
            rows = series(jobs, latency, repeats, args.quick)
            report(f"apply_{mode}", latency, rows, args.quick)


# The two series build the fixtures of every size first, then each of `repeats` rounds applies
# every size once (`interleaved`: the shared machine's speed drifts, and interleaved it drifts
# under every size alike), each time on an empty sandbox, and each size keeps its best round.


def cli_series(jobs: list[int], latency: float, repeats: int, quick: bool) -> list[dict[str, Any]]:
    """`mlsync apply` of each size's manifest tree (all written first) to a reset sandbox."""
    with served_sandbox() as server, tempfile.TemporaryDirectory() as tmp:
        trees = {n: write_tree(Path(tmp) / f"n{n}", n) for n in jobs}

        def once(n: int) -> dict[str, float]:
            server.reset(latency)
            seconds = run_cli(server.url, "apply", str(trees[n]), "--auto-approve")
            return {"s": seconds, "requests": server.requests()}

        best = interleaved(repeats, jobs, once)
    return [{"jobs": n, **b} for n, b in zip(jobs, best, strict=True)]


def inprocess_series(
    jobs: list[int], latency: float, repeats: int, quick: bool
) -> list[dict[str, Any]]:
    """`apply_plan` of each size's fleet (all built first) on a new in-memory sandbox."""
    fleets = {n: fleet(n) for n in jobs}
    best = interleaved(
        repeats,
        jobs,
        lambda n: inprocess(fleets[n], latency, DEFAULT_CONCURRENCY, replan=not quick),
    )
    if quick:
        # CI checks the growth of CPU time (see `inprocess`), never wall time.
        return [
            {"jobs": n, "clock": "cpu", "s": b["cpu_s"], "requests": b["requests"]}
            for n, b in zip(jobs, best, strict=True)
        ]
    return [
        {"jobs": n, "s": b["s"], "requests": b["requests"], "cpu_s": b["cpu_s"]}
        for n, b in zip(jobs, best, strict=True)
    ]


def report(bench: str, latency: float, rows: list[dict[str, Any]], quick: bool) -> None:
    """JSON lines (quick) or a table with the growth ratio per size step."""
    if quick:
        for row in rows:
            emit({"bench": bench, "latency_ms": latency * 1000, "size": row["jobs"], **row})
        return
    print(f"\n{bench}, {latency * 1000:.0f} ms latency, concurrency {DEFAULT_CONCURRENCY}")
    print(f"{'jobs':>6} {'resources':>9} {'requests':>8} {'seconds':>8} {'growth':>7}   cpu")
    timed = all("cpu_s" in row for row in rows)
    cpu_ratios = ratios(rows, "cpu_s") if timed else [""] * len(rows)
    for row, ratio, cpu_ratio in zip(rows, ratios(rows), cpu_ratios, strict=True):
        cpu = f"{row['cpu_s']:>8.2f} s {cpu_ratio:>7}" if "cpu_s" in row else ""
        print(
            f"{row['jobs']:>6} {2 * row['jobs']:>9} {row['requests']:>8} {row['s']:>8.2f} "
            f"{ratio:>7}  {cpu}"
        )


def compare(args: argparse.Namespace) -> None:
    """Sequential vs default concurrency vs the ideal pipelined bound."""
    if args.compare_mode == "served":
        with served_sandbox() as server:
            _compare(args, server.url)
    else:
        _compare(args, "")


def _compare(args: argparse.Namespace, url: str) -> None:
    jobs, latency = args.compare_jobs, args.compare_latency
    wanted = fleet(jobs)
    seq = inprocess(wanted, latency, 1, url)
    default = min(
        (inprocess(wanted, latency, DEFAULT_CONCURRENCY, url) for _ in range(args.repeats or 1)),
        key=lambda r: r["s"],
    )
    requests, chain = default["requests"], default["critical_path"]
    ideal = max(requests * latency / DEFAULT_CONCURRENCY, chain * latency)
    # The same bound with the round trip the sequential run measured (latency + the sandbox's
    # and the client's time per request): what pipelining alone can reach on this machine.
    trip = seq["s"] / max(1, seq["requests"])
    effective = max(requests * trip / DEFAULT_CONCURRENCY, chain * trip)
    record = {
        "bench": "apply_compare",
        "mode": args.compare_mode,
        "jobs": jobs,
        "latency_ms": latency * 1000,
        "steps": default["steps"],
        "requests": requests,
        "sequential_s": seq["s"],
        "default_s": default["s"],
        "concurrency": DEFAULT_CONCURRENCY,
        "ideal_s": ideal,
        "measured_round_trip_ms": trip * 1000,
        "ideal_measured_trip_s": effective,
        "critical_path_steps": chain,
        "speedup": seq["s"] / default["s"],
        "of_ideal": default["s"] / ideal if ideal else 0.0,
        "of_ideal_measured_trip": default["s"] / effective if effective else 0.0,
    }
    if args.quick:
        emit(record)
        return
    where = "over a socket to mlsync sandbox serve" if url else "in process"
    print(
        f"\napply of {jobs} opened jobs + {jobs} started datafeeds at {latency * 1000:.0f} ms "
        f"latency, {where} ({default['steps']} steps, {requests} requests)"
    )
    print(f"  --concurrency 1:         {seq['s']:7.2f} s  ({trip * 1000:.1f} ms per request)")
    print(
        f"  default ({DEFAULT_CONCURRENCY}):            {default['s']:7.2f} s  "
        f"({record['speedup']:.1f}x faster than --concurrency 1)"
    )
    print(
        f"  ideal pipelined bound:   {ideal:7.2f} s  = max({requests} x {latency * 1000:.0f} ms"
        f" / {DEFAULT_CONCURRENCY}, critical path {chain} x {latency * 1000:.0f} ms); "
        f"default is {record['of_ideal']:.2f}x of it"
    )
    print(
        f"  same, measured trip:     {effective:7.2f} s  = max({requests} x {trip * 1000:.1f} ms"
        f" / {DEFAULT_CONCURRENCY}, {chain} x {trip * 1000:.1f} ms); default is "
        f"{record['of_ideal_measured_trip']:.2f}x of it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, JSON lines")
    parser.add_argument("--sizes", help="comma-separated job counts")
    parser.add_argument("--modes", default="inprocess,cli")
    parser.add_argument("--latencies", default="0,0.02", help="seconds per answer, comma list")
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"growth: rounds, best kept (default 5; {QUICK_REPEATS} with --quick); "
        "comparison: runs at the default concurrency (default 1)",
    )
    parser.add_argument("--compare-jobs", type=int, default=100)
    parser.add_argument("--compare-latency", type=float, default=0.02)
    parser.add_argument("--compare-mode", choices=("inprocess", "served"), default="inprocess")
    parser.add_argument("--compare-only", action="store_true")
    parser.add_argument("--no-compare", action="store_true")
    args = parser.parse_args()
    if not args.compare_only:
        growth(args)
    if not args.no_compare:
        compare(args)


if __name__ == "__main__":
    main()
