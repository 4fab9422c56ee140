"""A request that reads most of a collection gets it in one query; a point request does not."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from sandbox_helpers import MINIMAL_JOB

from reconciler.sandbox import Sandbox
from reconciler.sandbox.store import BULK_AFTER, Store

JSON = {"content-type": "application/json"}


def sandbox_with_jobs(path: Path | None, jobs: int) -> Sandbox:
    sb = Sandbox(path, implicit_indices=True)
    for n in range(jobs):
        body = json.dumps(MINIMAL_JOB).encode()
        assert sb.handle("PUT", f"/_ml/anomaly_detectors/j{n:03d}", JSON, body).status == 200
    return sb


def queries_of(sb: Sandbox, method: str, path: str) -> tuple[list[str], dict[str, object]]:
    sent: list[str] = []
    sb.store._conn.set_trace_callback(sent.append)
    try:
        answer = sb.handle(method, path, {}, b"")
    finally:
        sb.store._conn.set_trace_callback(None)
    assert answer.status == 200, answer.body
    return sent, answer.json()


@pytest.mark.parametrize("on_disk", [False, True])
def test_stats_of_every_job_read_each_collection_in_one_query(
    tmp_path: Path, on_disk: bool
) -> None:
    jobs = 300
    sb = sandbox_with_jobs(tmp_path / "state.db" if on_disk else None, jobs)
    assert sb.handle("POST", "/_ml/anomaly_detectors/j007/_open", {}, b"").status == 200
    sent, body = queries_of(sb, "GET", "/_ml/anomaly_detectors/_all/_stats")
    # Per job: the job, its task, its results' aliases, ..., mostly absent: a query each. Now a
    # collection is read whole once its point reads reach a quarter of its rows.
    point = Counter(
        match.group(1)
        for query in sent
        if (match := re.match(r"SELECT value FROM objects WHERE coll = '(\w+)' AND id", query))
    )
    assert point["jobs"] <= jobs // 2 and point["job_tasks"] <= jobs // 2
    assert all(n < jobs for n in point.values()), point
    assert any("SELECT id, value" in query for query in sent)
    assert body["count"] == jobs
    states = {entry["job_id"]: entry["state"] for entry in body["jobs"]}
    assert states["j007"] == "opened" and states["j008"] == "closed"
    assert sum(1 for s in states.values() if s == "opened") == 1


def test_a_point_request_does_not_read_the_collection() -> None:
    sb = sandbox_with_jobs(None, BULK_AFTER * 2)
    sent, body = queries_of(sb, "GET", "/_ml/anomaly_detectors/j003")
    assert body["count"] == 1
    assert not [q for q in sent if "SELECT id, value" in q or "count(*)" in q]
    assert len(sent) < 20


def test_absent_and_assigned_rows_stay_right_after_a_bulk_read() -> None:
    store = Store()
    with store.transaction() as state:
        for n in range(BULK_AFTER * 2):
            state["job_tasks"][f"t{n}"] = {"state": "opened"}
    with store.transaction() as state:
        tasks = state["job_tasks"]
        tasks["t1"] = {"state": "closing"}  # assigned before the bulk read
        found = [tasks.get(f"t{n}") for n in range(BULK_AFTER * 2)]
        assert tasks._complete  # read in one query once the point reads added up
        assert found[1] == {"state": "closing"}
        assert found[2] == {"state": "opened"}
        assert tasks.get("nope") is None and "nope" not in tasks
        tasks["new"] = {"state": "opening"}
        assert tasks.fresh("new") == {"state": "opening"}
    with store.transaction() as state:
        assert state["job_tasks"].peek("t1") == {"state": "closing"}
        assert state["job_tasks"].peek("new") == {"state": "opening"}
        assert len(state["job_tasks"]) == BULK_AFTER * 2 + 1
