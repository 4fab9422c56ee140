"""Benchmark: plan 1,000 jobs + 1,000 datafeeds + 200 DFA jobs against the sandbox.

Input: none (generates manifests in a temp dir and seeds an in-memory sandbox). Output: the
number of HTTP requests the plan made and its wall time, split into load / read / plan.

    python benchmarks/plan_2200.py [--jobs 1000] [--dfa 200] [--latency 0.02]

`--latency` adds that many seconds to every sandbox answer, to show that a constant number of
requests keeps the plan fast on a remote cluster (one request per resource would cost
2,200 x latency).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--dfa", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()

    sandbox = Sandbox(implicit_indices=True)
    client = MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))
    docs = []
    for i in range(args.jobs):
        job_id = f"job-{i:04d}"
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/anomaly_detectors/{job_id}",
                body={**JOB, "custom_settings": {"managed_by": "mlsync"}},
            )
        )
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/datafeeds/feed-{i:04d}",
                body={"job_id": job_id, "indices": ["tx-*"]},
            )
        )
        docs.append(
            {
                "kind": "AnomalyDetectionJob",
                "id": job_id,
                "spec": JOB,
                "datafeed": {"id": f"feed-{i:04d}", "spec": {"indices": ["tx-*"]}},
            }
        )
    for i in range(args.dfa):
        spec = {
            "source": {"index": ["src"]},
            "dest": {"index": f"dest-{i:03d}"},
            "analysis": {"outlier_detection": {}},
        }
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/data_frame/analytics/dfa-{i:03d}",
                body={**spec, "_meta": {"managed_by": "mlsync"}},
            )
        )
        docs.append({"kind": "DataFrameAnalytics", "id": f"dfa-{i:03d}", "spec": spec})
    if args.latency:
        # Every answer now takes that long, like a remote cluster.
        client.perform(
            Call(method="PUT", path="/_sandbox/transitions", body={"latency": args.latency})
        )

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "all.yaml").write_text("---\n".join(yaml.safe_dump(d) for d in docs))
        t0 = time.perf_counter()
        manifests = load_manifests([tmp])
        t1 = time.perf_counter()
        before = client.request_count
        live = read_cluster(client, client.preflight())
        requests = client.request_count - before
        t2 = time.perf_counter()
        plan = make_plan(
            manifests.resources, live, references=manifests.references, options=PlanOptions()
        )
        t3 = time.perf_counter()
    print(f"resources: {len(live.resources)} live, {len(manifests.resources)} in manifests")
    print(f"HTTP requests to read the cluster: {requests}")
    print(f"load+validate manifests: {t1 - t0:.2f}s  read cluster: {t2 - t1:.2f}s", end="")
    print(f"  plan: {t3 - t2:.2f}s")
    changes = sum(1 for c in plan.changes if c.action.value != "no-op")
    print(f"total plan wall time: {t3 - t0:.2f}s; changes: {changes}")


if __name__ == "__main__":
    main()
