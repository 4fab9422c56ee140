"""Requests per resource of an apply, counted in the sandbox request log (`/_sandbox/requests`).

An apply of opened jobs with started datafeeds needs two requests per resource (create, then
`_open`/`_start`, whose answers already say the state was reached) plus a constant overhead:
preflight (3), the cluster lock (create + delete), one read of the live state (9) and one
`_bulk` request holding every resource's registry claim (up to 1,000 claims; before the claims
were coalesced, each was a request of its own: three requests per resource).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from apply_helpers import new_client, new_sandbox, plan_for, request_log, reset_log
from click.testing import CliRunner

from reconciler import registry
from reconciler.apply import apply_plan
from reconciler.cli import main
from reconciler.model import Kind, Ref, Resource
from reconciler.sandbox import Sandbox

JOBS = 7
JOB_SPEC = "{analysis_config: {bucket_span: 15m, detectors: [{function: count}]}, "
JOB_SPEC += 'data_description: {time_field: "@timestamp"}}'
#: The constant part of a fresh `--auto-approve` apply: preflight, lock, one live read.
OVERHEAD = [
    "GET /",
    "GET /_license",
    "GET /_ml/info",
    "PUT /mlsync-locks/_create/default",
    "GET /_ml/anomaly_detectors/_all/_stats",
    "GET /_ml/anomaly_detectors/_all",
    "GET /_ml/datafeeds/_all/_stats",
    "GET /_ml/data_frame/analytics/_all/_stats",
    "GET /_ml/data_frame/analytics/_all",
    "GET /_ml/filters",
    "GET /_ml/calendars/_all/events",
    "GET /_ml/calendars",
    "GET /mlsync-registry*/_search",
    # The registry's search window, before the first member is written: the settings update
    # finds no registry (404), so it is made with the window (once per cluster).
    "PUT /mlsync-registry/_settings",
    "PUT /mlsync-registry",
    "POST /mlsync-registry/_bulk",
    "DELETE /mlsync-locks/_doc/default",
]


def desired(jobs: int) -> list[Resource]:
    out = []
    for i in range(jobs):
        out.append(
            Resource(
                ref=Ref(kind=Kind.JOB, id=f"job-{i}"),
                state="opened",
                body={
                    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
                    "data_description": {"time_field": "@timestamp"},
                },
            )
        )
        out.append(
            Resource(
                ref=Ref(kind=Kind.DATAFEED, id=f"feed-{i}"),
                state="started",
                body={"job_id": f"job-{i}", "indices": ["logs-*"]},
            )
        )
    return out


def per_resource(lines: list[str]) -> dict[str, Counter[str]]:
    """`{"job-0": Counter({"PUT": 1, "POST _open": 1}), ...}` for the ML resource requests."""
    out: dict[str, Counter[str]] = {}
    for line in lines:
        method, path = line.split(" ", 1)
        parts = path.strip("/").split("/")
        if parts[:2] in (["_ml", "anomaly_detectors"], ["_ml", "datafeeds"]) and len(parts) > 2:
            if parts[2] == "_all":
                continue
            what = method + (f" {parts[3]}" if len(parts) > 3 else "")
            out.setdefault(parts[2], Counter())[what] += 1
    return out


LIVE_CHECK = re.compile(
    r"/(_validate|_estimate_model_memory|_preview|_field_caps)$|^GET /_resolve/index/"
)


def lines_of(sandbox: Sandbox) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in request_log(sandbox)]


def claims(lines: list[str]) -> list[str]:
    """Registry claims sent one request each (none: they share one `_bulk`)."""
    return [line for line in lines if line.startswith("PUT /mlsync-registry/_create/")]


def bulks(lines: list[str]) -> list[str]:
    return [line for line in lines if line == "POST /mlsync-registry/_bulk"]


def expected_per_resource(jobs: int) -> dict[str, Counter[str]]:
    out = {f"job-{i}": Counter({"PUT": 1, "POST _open": 1}) for i in range(jobs)}
    out.update({f"feed-{i}": Counter({"PUT": 1, "POST _start": 1}) for i in range(jobs)})
    return out


def test_executor_sends_two_requests_per_opened_job_and_started_datafeed() -> None:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    plan = plan_for(client, desired(JOBS))
    reset_log(sandbox)
    result = apply_plan(plan, client, poll_interval=0.01)
    assert result.ok
    lines = lines_of(sandbox)
    assert per_resource(lines) == expected_per_resource(JOBS)
    # The 2 x JOBS claims are one bulk request, sent before anything is created.
    assert claims(lines) == []
    # First the registry's search window (no registry yet: 404, then it is made with it).
    assert lines[:3] == [
        "PUT /mlsync-registry/_settings",
        "PUT /mlsync-registry",
        "POST /mlsync-registry/_bulk",
    ]
    assert len(bulks(lines)) == 1
    assert len(lines) == 4 * JOBS + 3  # nothing else: no stats poll at all
    owners = registry.parse_registry(client.perform(registry.search_call()).body).owners
    assert owners == {r.ref: "default" for r in desired(JOBS)}


def test_cli_apply_sends_two_requests_per_resource_plus_a_constant(tmp_path: Path) -> None:
    manifests = tmp_path / "m"
    manifests.mkdir()
    docs = [
        f"kind: AnomalyDetectionJob\nid: job-{i}\nstate: opened\nspec: {JOB_SPEC}\n"
        f"datafeed: {{id: feed-{i}, state: started, spec: {{indices: [logs-*]}}}}\n"
        for i in range(JOBS)
    ]
    (manifests / "all.yaml").write_text("---\n".join(docs))
    state = tmp_path / "state.json"
    sandbox = Sandbox(state_file=state, implicit_indices=True)
    args = ["apply", str(manifests), "--auto-approve", "--sandbox", "--sandbox-state", str(state)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = lines_of(sandbox)
    # The plan's live checks: per new job `_validate`, `_estimate_model_memory` and a preview
    # of its datafeed; one index resolution and one field-capabilities call for the one index
    # pattern all the datafeeds share.
    checks = [line for line in lines if LIVE_CHECK.search(line.split("?")[0])]
    assert len(checks) == 3 * JOBS + 2
    lines = [line for line in lines if line not in checks]
    assert per_resource(lines) == expected_per_resource(JOBS)
    # The lock is taken before the one read, so there is no second (stale-check) read; the
    # claims are the one bulk request of the overhead.
    assert claims(lines) == []
    shared = [line for line in lines if not per_resource([line])]
    assert shared == OVERHEAD
    assert len(lines) == 4 * JOBS + len(OVERHEAD)
