"""The SQLite store: one row per object, only changed rows written, rollback on failure."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from sandbox_helpers import MINIMAL_JOB

from reconciler.sandbox import Sandbox, StateFileError
from reconciler.sandbox.store import Store

JSON = {"content-type": "application/json"}


def put_job(sb: Sandbox, job_id: str, **extra: object) -> None:
    body = {**MINIMAL_JOB, **extra}
    answer = sb.handle("PUT", f"/_ml/anomaly_detectors/{job_id}", JSON, json.dumps(body).encode())
    assert answer.status == 200, answer.body


def record_writes(state: Path) -> None:
    """Install triggers that log every row written to `objects` (a side table of this test)."""
    with contextlib.closing(sqlite3.connect(state)) as db:
        db.executescript(
            """
            CREATE TABLE writes (op TEXT, coll TEXT, id TEXT);
            CREATE TRIGGER w_ins AFTER INSERT ON objects
                BEGIN INSERT INTO writes VALUES ('insert', new.coll, new.id); END;
            CREATE TRIGGER w_upd AFTER UPDATE ON objects
                BEGIN INSERT INTO writes VALUES ('update', new.coll, new.id); END;
            CREATE TRIGGER w_del AFTER DELETE ON objects
                BEGIN INSERT INTO writes VALUES ('delete', old.coll, old.id); END;
            """
        )


def take_writes(state: Path) -> list[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(state)) as db, db:
        rows = db.execute("SELECT op, coll, id FROM writes").fetchall()
        db.execute("DELETE FROM writes")
    return sorted(rows)


def test_requests_write_only_the_rows_they_change(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sb = Sandbox(state, implicit_indices=True)
    for n in range(5):
        put_job(sb, f"j{n}", groups=["g"], datafeed_config={"indices": ["logs"]})
    record_writes(state)
    assert sb.handle("GET", "/_ml/anomaly_detectors", {}, b"").json()["count"] == 5
    assert sb.handle("GET", "/_ml/datafeeds/_stats", {}, b"").json()["count"] == 5
    assert sb.handle("GET", "/_ml/anomaly_detectors/g", {}, b"").json()["count"] == 5
    assert take_writes(state) == []  # reads write nothing (the request log has its own table)
    put_job(sb, "new", datafeed_config={"indices": ["logs"]})
    # the job, its datafeed and the job's two results aliases (the shared index exists already)
    assert take_writes(state) == [
        ("insert", "aliases", ".ml-anomalies-.write-new"),
        ("insert", "aliases", ".ml-anomalies-new"),
        ("insert", "datafeeds", "new"),
        ("insert", "jobs", "new"),
    ]
    assert sb.handle("POST", "/_ml/anomaly_detectors/j1/_open", {}, b"").status == 200
    assert take_writes(state) == [("insert", "job_tasks", "j1")]
    # the next request settles the opening task: only that row changes
    assert sb.handle("GET", "/_ml/anomaly_detectors/j1", {}, b"").status == 200
    assert take_writes(state) == [("update", "job_tasks", "j1")]


def test_failed_request_changes_nothing(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path / "state.db", implicit_indices=True)
    put_job(sb, "taken")
    before = sb.store.snapshot()
    # the embedded datafeed is invalid after the job was built: nothing of the request stays
    body = {**MINIMAL_JOB, "datafeed_config": {"indices": ["logs"], "frequency": "-1s"}}
    answer = sb.handle("PUT", "/_ml/anomaly_detectors/half", JSON, json.dumps(body).encode())
    assert answer.status == 400
    after = sb.store.snapshot()
    assert after["jobs"] == before["jobs"] and after["datafeeds"] == before["datafeeds"]
    assert after["requests"]["total"] == before["requests"]["total"] + 1  # but it is logged


def test_transaction_that_raises_is_rolled_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    with store.transaction() as state:
        state["jobs"]["kept"] = {"job_id": "kept"}
    with pytest.raises(RuntimeError), store.transaction() as state:
        state["jobs"]["lost"] = {"job_id": "lost"}
        state["jobs"]["kept"]["description"] = "changed"
        state["settings"]["latency"] = 5.0
        raise RuntimeError("boom")
    # another connection (think: another process) sees the state before the failed block
    snapshot = Store(tmp_path / "state.db").snapshot()
    assert snapshot["jobs"] == {"kept": {"job_id": "kept"}}
    assert snapshot["settings"] == {}


@pytest.mark.parametrize("content", [b"{broken", b'{"format": 1, "jobs": {}}', b"\x00" * 4096])
def test_a_file_that_is_not_a_state_database_is_refused(tmp_path: Path, content: bytes) -> None:
    state = tmp_path / "state.db"
    state.write_bytes(content)
    with pytest.raises(StateFileError):
        Sandbox(state)
    assert state.read_bytes() == content  # left as it was


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StateFileError, match="not a sandbox state"):
        Sandbox(other)


def test_in_memory_and_file_stores_behave_alike(tmp_path: Path) -> None:
    answers = []
    options = {"implicit_indices": True, "clock": lambda: 1_700_000_000.0}
    for sb in (Sandbox(**options), Sandbox(tmp_path / "s.db", **options)):  # type: ignore[arg-type]
        put_job(sb, "a", groups=["g1"])
        put_job(sb, "b", groups=["g1", "g2"], datafeed_config={"indices": ["logs"]})
        sb.handle("POST", "/_ml/anomaly_detectors/b/_update", JSON, b'{"groups": ["g2"]}')
        sb.handle("DELETE", "/_ml/anomaly_detectors/a", {}, b"")
        answers.append(
            [
                sb.handle("GET", path, {}, b"").json()
                for path in ("/_ml/anomaly_detectors/g2", "/_ml/datafeeds", "/_sandbox/state")
            ]
        )
        assert sb.handle("GET", "/_ml/anomaly_detectors/g1", {}, b"").status == 404
    assert answers[0] == answers[1]


def test_reset_wipes_every_row(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sb = Sandbox(state, implicit_indices=True)
    put_job(sb, "a", groups=["g"], datafeed_config={"indices": ["logs"]})
    sb.reset()
    with contextlib.closing(sqlite3.connect(state)) as db:
        assert db.execute("SELECT count(*) FROM objects WHERE coll != ''").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM idx").fetchone() == (0,)
    assert sb.handle("GET", "/_ml/anomaly_detectors/g", {}, b"").status == 404
    assert sb.request_log()["total"] == 1


def test_a_state_file_of_the_previous_format_is_refused_with_its_reason(tmp_path: Path) -> None:
    # format 2 kept documents inside their index's row and ML results beside the job; format 3
    # keeps one row per document (results are documents in the results indices)
    path = tmp_path / "old.db"
    Sandbox(path).store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with pytest.raises(StateFileError) as caught:
        Sandbox(path)
    assert str(caught.value) == (
        "sandbox state format 2 (written by an older mlsync), this version reads 3"
    )
