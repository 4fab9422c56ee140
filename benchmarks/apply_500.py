"""Benchmark: apply time for 500 jobs with datafeeds, sequential versus the default concurrency.

For each concurrency level, a fresh in-process sandbox answers every request after an injected
latency (20 ms by default, the round trip to a nearby cluster), the plan is computed (not timed),
then `apply_plan` runs it: create 500 jobs and 500 datafeeds, open the jobs, start the
datafeeds (2,000 steps, each wait one stats poll). The re-plan must be empty afterwards.

    python benchmarks/apply_500.py [--jobs 500] [--latency 0.02] [--concurrency 1,4]

The sandbox serialises request handling (one state, one lock) but sleeps the latency outside
that lock, like a real cluster serving several connections, so the speed-up measures how much
of the network wait the executor overlaps.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from reconciler.apply import apply_plan
from reconciler.client import MLClient
from reconciler.cluster import read_cluster
from reconciler.model import Kind, Ref, Resource
from reconciler.plan import make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

DEFAULT_CONCURRENCY = 4  # apply_plan's default and `mlsync apply --concurrency`'s


def desired(jobs: int) -> list[Resource]:
    out = []
    for i in range(jobs):
        out.append(
            Resource(
                ref=Ref(kind=Kind.JOB, id=f"job-{i:04}"),
                state="opened",
                body={
                    "analysis_config": {
                        "bucket_span": "15m",
                        "detectors": [{"function": "mean", "field_name": "amount"}],
                    },
                    "data_description": {"time_field": "@timestamp"},
                    "analysis_limits": {"model_memory_limit": "32mb"},
                },
            )
        )
        out.append(
            Resource(
                ref=Ref(kind=Kind.DATAFEED, id=f"feed-{i:04}"),
                state="started",
                body={"job_id": f"job-{i:04}", "indices": [f"logs-{i}-*"]},
            )
        )
    return out


def run(jobs: int, latency: float, concurrency: int) -> dict[str, Any]:
    sandbox = Sandbox(implicit_indices=True)
    client = MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))
    info = client.preflight()
    wanted = desired(jobs)
    plan = make_plan(wanted, read_cluster(client, info))
    # Inject the latency only for the apply itself.
    sandbox.handle(
        "PUT",
        "/_sandbox/transitions",
        {"content-type": "application/json"},
        json.dumps({"latency": latency}).encode(),
    )
    before = client.request_count
    started = time.perf_counter()
    result = apply_plan(plan, client, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    requests = client.request_count - before
    sandbox.handle(
        "PUT",
        "/_sandbox/transitions",
        {"content-type": "application/json"},
        json.dumps({"latency": 0}).encode(),
    )
    replan = make_plan(wanted, read_cluster(client, info))
    client.close()
    if not result.ok or replan.steps:
        raise SystemExit(f"concurrency {concurrency}: apply failed or did not converge")
    return {
        "concurrency": concurrency,
        "steps": len(plan.steps),
        "requests": requests,
        "s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--concurrency", default=f"1,{DEFAULT_CONCURRENCY}")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    print(
        f"apply of {args.jobs} jobs + {args.jobs} datafeeds "
        f"(create, open, start) at {args.latency * 1000:.0f} ms latency per request"
    )
    rows = [run(args.jobs, args.latency, c) for c in levels]
    base = rows[0]["s"]
    header = ("concurrency", "steps", "requests", "seconds", "steps/s", "speed-up")
    print("{:>11} {:>6} {:>8} {:>8} {:>8} {:>8}".format(*header))
    for row in rows:
        print(
            f"{row['concurrency']:>11} {row['steps']:>6} {row['requests']:>8} {row['s']:>8.1f} "
            f"{row['steps'] / row['s']:>8.1f} {base / row['s']:>7.1f}x"
        )


if __name__ == "__main__":
    main()
