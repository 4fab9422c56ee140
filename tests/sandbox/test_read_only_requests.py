"""Read-only requests (GET, HEAD): shared values, nothing written, parsed rows reused while
their JSON is unchanged, and the reads of an all-jobs request batched (overlay.py, store.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sandbox_helpers import MINIMAL_JOB

from reconciler.sandbox import Sandbox, overlay, routes
from reconciler.sandbox.overlay import Overlay, SharedValueChanged
from reconciler.sandbox.store import Store

JSON = {"content-type": "application/json"}
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b.*\b(objects|idx)\b", re.I | re.S)


def call(sb: Sandbox, method: str, path: str, body: object = None) -> tuple[int, object]:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = sb.handle(method, path, JSON, raw)
    return answer.status, answer.json()


def traced(sb: Sandbox, method: str, path: str) -> tuple[list[str], object]:
    sent: list[str] = []
    sb.store._conn.set_trace_callback(sent.append)
    try:
        status, body = call(sb, method, path)
    finally:
        sb.store._conn.set_trace_callback(None)
    assert status == 200, body
    return sent, body


def fleet(path: Path | None, jobs: int) -> Sandbox:
    sb = Sandbox(path, implicit_indices=True)
    for n in range(jobs):
        job = {**MINIMAL_JOB, "datafeed_config": {"indices": ["logs"]}}
        assert call(sb, "PUT", f"/_ml/anomaly_detectors/j{n:03d}", job)[0] == 200
    return sb


@pytest.fixture
def store() -> Store:
    store = Store()
    with store.transaction() as state:
        state["jobs"]["a"] = {"job_id": "a", "groups": ["g"], "limits": {"mb": 10}}
    return store


def test_a_shared_reads_overlay_hands_out_the_stores_value_and_tracks_only_assignments(
    store: Store,
) -> None:
    with store.transaction() as state:
        work = Overlay(state, shared_reads=True)
        job = work["jobs"]["a"]
        assert job is work["jobs"]["a"] is work["jobs"].read("a")  # one parse, no copies
        assert work["jobs"].get("missing") is None and "missing" not in work["jobs"]
        work["jobs"]["b"] = {"job_id": "b"}
        work.commit()
        assert not state["jobs"]._exposed - {"b"}  # only the assignment is written at flush
    assert sorted(store.snapshot()["jobs"]) == ["a", "b"]


def test_a_value_settled_before_the_handler_is_handed_out_as_a_copy(store: Store) -> None:
    with store.transaction() as state:
        settled = state["jobs"]["a"]  # handed out mutable (settle does this): written at flush
        work = Overlay(state, shared_reads=True)
        job = work["jobs"]["a"]
        assert job == settled and job is not settled
        job["limits"]["mb"] = 99  # a bug in a read-only handler cannot reach the stored value
    assert store.snapshot()["jobs"]["a"]["limits"]["mb"] == 10


def test_the_check_finds_a_read_only_handler_that_changes_what_it_read(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overlay, "CHECK_SHARED_READS", True)
    with store.transaction() as state:
        work = Overlay(state, shared_reads=True)
        work["jobs"]["a"]["groups"].append("oops")
        with pytest.raises(SharedValueChanged, match=r"\[a\] was changed in place"):
            work.commit()


def test_a_get_handler_changing_a_value_in_place_fails_the_sandbox_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def buggy(ctx: object, req: object) -> dict[str, object]:
        ctx.state["jobs"]["j000"]["description"] = "changed by a GET"  # type: ignore[attr-defined]
        return {}

    sb = fleet(None, 1)
    extra = routes.Route(("GET",), "/_ml/buggy", buggy, frozenset())
    monkeypatch.setattr(routes, "ROUTES", [*routes.ROUTES, extra])
    with pytest.raises(SharedValueChanged):  # the sandbox tests run with the check on
        sb.handle("GET", "/_ml/buggy", {}, b"")
    monkeypatch.setattr(overlay, "CHECK_SHARED_READS", False)
    assert sb.handle("GET", "/_ml/buggy", {}, b"").status == 200
    # without the check the change reaches only read-only views: nothing is stored
    assert "description" not in sb.store.snapshot()["jobs"]["j000"]


@pytest.mark.parametrize("on_disk", [False, True])
def test_the_bulk_reads_of_a_plan_write_no_row(tmp_path: Path, on_disk: bool) -> None:
    sb = fleet(tmp_path / "state.db" if on_disk else None, 3)
    for path in (
        "/_ml/anomaly_detectors/_all",
        "/_ml/anomaly_detectors/_all/_stats",
        "/_ml/datafeeds/_all/_stats",
        "/_ml/datafeeds",
        "/_ml/data_frame/analytics/_all/_stats",
        "/_ml/filters",
    ):
        sent, _ = traced(sb, "GET", path)
        assert not [q for q in sent if _WRITE.match(q)], (path, sent)


def test_a_row_is_parsed_once_while_unchanged_and_read_again_once_changed() -> None:
    sb = fleet(None, 2)
    first = sb.store._parsed
    call(sb, "GET", "/_ml/anomaly_detectors/j000")
    cached = first[("jobs", "j000")][1]
    call(sb, "GET", "/_ml/anomaly_detectors/j000")
    assert first[("jobs", "j000")][1] is cached  # the second transaction reused the parse
    update = {"description": "new"}
    assert call(sb, "POST", "/_ml/anomaly_detectors/j000/_update", update)[0] == 200
    assert "description" not in cached  # the write worked on its own copy
    _, body = call(sb, "GET", "/_ml/anomaly_detectors/j000")
    assert body["jobs"][0]["description"] == "new"  # type: ignore[index]


def test_a_row_changed_by_another_process_is_read_again(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    reader = fleet(state, 2)
    writer = Sandbox(state, implicit_indices=True)  # as a second `plan`/`apply` process would
    assert call(reader, "GET", "/_ml/anomaly_detectors/_all")[0] == 200
    assert call(writer, "POST", "/_ml/anomaly_detectors/j001/_update", {"groups": ["g"]})[0] == 200
    assert call(writer, "DELETE", "/_ml/datafeeds/j000")[0] == 200
    _, body = call(reader, "GET", "/_ml/anomaly_detectors/_all")
    jobs = {job["job_id"]: job for job in body["jobs"]}  # type: ignore[index]
    assert jobs["j001"]["groups"] == ["g"]
    assert "datafeed_config" not in jobs["j000"] and "datafeed_config" in jobs["j001"]


@pytest.mark.parametrize("on_disk", [False, True])
def test_stats_of_every_job_read_results_aliases_and_documents_in_a_few_queries(
    tmp_path: Path, on_disk: bool
) -> None:
    jobs = 200
    sb = fleet(tmp_path / "state.db" if on_disk else None, jobs)
    for n in (3, 150):
        seeded = {"buckets": [{"timestamp": 1_700_000_000_000, "processing_time_ms": 4}]}
        assert call(sb, "POST", f"/_sandbox/anomaly_detectors/j{n:03d}/results", seeded)[0] == 200
    for path in ("/_ml/anomaly_detectors/_all/_stats", "/_ml/datafeeds/_all/_stats"):
        sent, body = traced(sb, "GET", path)
        # before: one lookup of each job's documents and one read of its alias, per job
        point = [
            q for q in sent if re.search(r"WHERE coll = '\w+' AND (id|name = '\w+' AND key) =", q)
        ]
        assert len(point) < 20, point
        assert len(sent) < 40
        entries = body["jobs" if "anomaly" in path else "datafeeds"]  # type: ignore[index]
        counts = {
            e.get("job_id", e.get("datafeed_id")): e["timing_stats"]["bucket_count"]
            for e in entries
        }
        assert counts["j003"] == counts["j150"] == 1 and counts["j004"] == 0
        assert len(counts) == jobs


def test_get_every_job_reads_the_jobs_with_their_ids_and_the_datafeeds_ahead() -> None:
    sb = fleet(None, 150)
    sent, body = traced(sb, "GET", "/_ml/anomaly_detectors/_all")
    assert len(sent) < 20, sent
    assert all(job["datafeed_config"]["job_id"] == job["job_id"] for job in body["jobs"])  # type: ignore[index]
