"""Store indexes (jobs by group, datafeed by job, pending tasks, ...) and the route trie."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from sandbox_helpers import MINIMAL_JOB

from reconciler.sandbox import Sandbox, routes

JSON = {"content-type": "application/json"}


def call(sb: Sandbox, method: str, path: str, body: object = None) -> tuple[int, object]:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = sb.handle(method, path, JSON, raw)
    return answer.status, answer.json()


def pending_rows(state: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(state)) as db:
        return db.execute("SELECT coll, id FROM idx WHERE name = 'pending' ORDER BY id").fetchall()


def test_indexes_are_shared_by_separate_connections(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    first = Sandbox(state, implicit_indices=True)
    second = Sandbox(state, implicit_indices=True)  # its own connection, like another process
    job = {**MINIMAL_JOB, "groups": ["web"], "datafeed_config": {"indices": ["logs"]}}
    assert call(first, "PUT", "/_ml/anomaly_detectors/a", job)[0] == 200
    status, body = call(second, "GET", "/_ml/anomaly_detectors/web")
    assert status == 200 and [j["job_id"] for j in body["jobs"]] == ["a"]  # type: ignore[index]
    assert body["jobs"][0]["datafeed_config"]["datafeed_id"] == "a"  # type: ignore[index]
    # the one-datafeed-per-job rule sees the other connection's datafeed
    status, body = call(second, "PUT", "/_ml/datafeeds/other", {"job_id": "a", "indices": ["x"]})
    assert status == 409, body
    assert "A datafeed [a] already exists for job [a]" in json.dumps(body)
    # a group change made through one connection moves the job in the other's lookups
    assert call(second, "POST", "/_ml/anomaly_detectors/a/_update", {"groups": ["api"]})[0] == 200
    assert call(first, "GET", "/_ml/anomaly_detectors/web")[0] == 404
    assert call(first, "GET", "/_ml/anomaly_detectors/api")[0] == 200
    # a group name is taken for job ids, across connections too
    assert call(first, "PUT", "/_ml/anomaly_detectors/api", MINIMAL_JOB)[0] == 400


def test_lookups_see_the_changes_of_the_same_request() -> None:
    sb = Sandbox(implicit_indices=True)
    job = {**MINIMAL_JOB, "datafeed_config": {"indices": ["logs"]}}
    status, body = call(sb, "PUT", "/_ml/anomaly_detectors/a", job)
    assert status == 200
    assert body["datafeed_config"]["datafeed_id"] == "a"  # type: ignore[index]
    # deleting the job deletes its datafeed (found through the index) in the same request
    assert call(sb, "DELETE", "/_ml/anomaly_detectors/a")[0] == 200
    assert call(sb, "GET", "/_ml/datafeeds")[1] == {"count": 0, "datafeeds": []}
    assert call(sb, "PUT", "/_ml/datafeeds/again", {"job_id": "a", "indices": ["x"]})[0] == 404


def test_job_delete_leaves_calendars_and_calendar_delete_takes_its_events() -> None:
    sb = Sandbox(implicit_indices=True)
    call(sb, "PUT", "/_ml/anomaly_detectors/a", MINIMAL_JOB)
    call(sb, "PUT", "/_ml/anomaly_detectors/b", MINIMAL_JOB)
    call(sb, "PUT", "/_ml/calendars/c1", {"job_ids": ["a", "b"]})
    call(sb, "PUT", "/_ml/calendars/c2", {"job_ids": ["a"]})
    event = {"description": "x", "start_time": 1000, "end_time": 2000}
    for calendar in ("c1", "c2"):
        call(sb, "POST", f"/_ml/calendars/{calendar}/events", {"events": [event]})
    call(sb, "DELETE", "/_ml/anomaly_detectors/a")
    _, body = call(sb, "GET", "/_ml/calendars")
    assert {c["calendar_id"]: c["job_ids"] for c in body["calendars"]} == {  # type: ignore[index]
        "c1": ["b"],
        "c2": [],
    }
    _, body = call(sb, "GET", "/_ml/calendars/_all/events?job_id=b")
    assert [e["calendar_id"] for e in body["events"]] == ["c1"]  # type: ignore[index]
    call(sb, "DELETE", "/_ml/calendars/c1")
    _, body = call(sb, "GET", "/_ml/calendars/_all/events")
    assert [e["calendar_id"] for e in body["events"]] == ["c2"]  # type: ignore[index]


def test_only_tasks_in_transition_are_listed_as_pending(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    clock = [1_700_000_000.0]
    sb = Sandbox(state, implicit_indices=True, transition_delay=10, clock=lambda: clock[0])
    for job_id in ("a", "b"):
        job = {**MINIMAL_JOB, "datafeed_config": {"indices": ["logs"]}}
        call(sb, "PUT", f"/_ml/anomaly_detectors/{job_id}", job)
        call(sb, "POST", f"/_ml/anomaly_detectors/{job_id}/_open")
    assert pending_rows(state) == [("job_tasks", "a"), ("job_tasks", "b")]
    clock[0] += 11
    call(sb, "POST", "/_ml/datafeeds/a/_start")
    assert pending_rows(state) == [("datafeed_tasks", "a")]  # the jobs are opened
    clock[0] += 11
    _, body = call(sb, "GET", "/_ml/datafeeds/a/_stats")
    assert body["datafeeds"][0]["state"] == "started"  # type: ignore[index]
    assert pending_rows(state) == []  # started without an end: resting
    call(sb, "POST", "/_ml/anomaly_detectors/b/_close")
    assert pending_rows(state) == [("job_tasks", "b")]
    clock[0] += 11
    _, body = call(sb, "GET", "/_ml/anomaly_detectors/b/_stats")
    assert body["jobs"][0]["state"] == "closed"  # type: ignore[index]
    assert pending_rows(state) == []


def test_routes_literal_segments_win_and_the_table_can_grow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    route, params, _ = routes.match("GET", ["_ml", "anomaly_detectors", "_stats"])
    assert route is not None and route.template == "/_ml/anomaly_detectors/_stats"
    assert params == {}
    route, params, _ = routes.match("GET", ["_ml", "anomaly_detectors", "j1", "_stats"])
    assert route is not None and params == {"job_id": "j1"}
    assert routes.match("PATCH", ["_ml", "anomaly_detectors", "j1"])[2] == ["DELETE", "GET", "PUT"]
    assert routes.match("GET", ["_ml", "nothing", "here"]) == (None, {}, [])
    # `{index}` never takes a name starting with `_`
    assert routes.match("GET", ["_nope", "_doc", "1"]) == (None, {}, [])
    # another module registers an endpoint by adding entries to the plain table
    extra = routes.Route(("GET",), "/_ml/extra/{thing_id}", lambda ctx, req: {}, frozenset())
    monkeypatch.setattr(routes, "ROUTES", [*routes.ROUTES, extra])
    assert routes.match("GET", ["_ml", "extra", "x"]) == (extra, {"thing_id": "x"}, [])
