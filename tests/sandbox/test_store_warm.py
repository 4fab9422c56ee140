"""Collections read whole stay warm between transactions, and never hide a write.

A transaction that read a collection whole (every row, or a whole index) and did not write it
leaves it warm: the next one reads its rows and those indexes without a query. A write by this
store, a write by another connection (another process sharing the state file) and a failed
transaction each end that; what a transaction sees is always what is committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.sandbox.store import BULK_AFTER, Store

FEEDS = 200


def seeded(path: Path | None) -> Store:
    store = Store(path)
    with store.transaction() as state:
        for n in range(FEEDS):
            state["datafeeds"][f"f{n:03d}"] = {"job_id": f"j{n:03d}", "indices": ["x"]}
    return store


Read = tuple[list[str], dict[str, list[str]], dict[str, str], list[str]]


def read_all(store: Store) -> Read:
    """Every id (write order), each job's datafeeds (index lookups), each datafeed's job (rows
    read for a read-only request), and the queries sent."""
    sent: list[str] = []
    store._conn.set_trace_callback(sent.append)
    try:
        with store.transaction() as state:
            feeds = state["datafeeds"]
            ids = list(feeds)
            by_job = {f"j{n:03d}": feeds.lookup("job_id", f"j{n:03d}") for n in range(FEEDS)}
            by_job["j-new"] = feeds.lookup("job_id", "j-new")
            jobs = {key: feeds.view_get(key)["job_id"] for key in ids}
    finally:
        store._conn.set_trace_callback(None)
    return ids, by_job, jobs, [q for q in sent if "objects" in q or "idx" in q]


def test_every_lookup_is_right_when_an_index_is_read_whole_midway() -> None:
    # The lookup that makes a transaction read an index whole (the 64th) answered from the
    # partial table it had before, which lacked its key: "no datafeed" for a job that has one.
    store = seeded(None)
    with store.transaction() as state:
        feeds = state["datafeeds"]
        for n in range(BULK_AFTER * 2):
            assert feeds.lookup("job_id", f"j{n:03d}") == [f"f{n:03d}"], n


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_collection_read_whole_is_read_again_without_a_query(
    tmp_path: Path, on_disk: bool
) -> None:
    store = seeded(tmp_path / "state.db" if on_disk else None)
    first = read_all(store)
    assert first[3], "the first read queries the database"
    assert first[2]["f005"] == "j005" and len(first[2]) == FEEDS
    again = read_all(store)
    assert again[:3] == first[:3]
    assert again[3] == [], again[3]


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_write_of_this_store_is_seen_by_the_next_read(tmp_path: Path, on_disk: bool) -> None:
    store = seeded(tmp_path / "state.db" if on_disk else None)
    read_all(store)
    with store.transaction() as state:
        state["datafeeds"]["f001"] = {"job_id": "j-new", "indices": ["x"]}
        del state["datafeeds"]["f002"]
        state["datafeeds"]["f999"] = {"job_id": "j003", "indices": ["x"]}
    ids, by_job, jobs, sent = read_all(store)
    assert sent, "the written collection is read from the database again"
    assert jobs["f001"] == "j-new" and jobs["f999"] == "j003" and "f002" not in jobs
    assert "f002" not in ids and ids[-1] == "f999"
    assert by_job["j-new"] == ["f001"] and by_job["j001"] == [] and by_job["j002"] == []
    assert by_job["j003"] == ["f003", "f999"]


def test_a_write_by_another_process_is_seen_by_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    mine = seeded(path)
    read_all(mine)
    other = Store(path)  # another connection to the same file, as another process has
    with other.transaction() as state:
        state["datafeeds"]["f010"] = {"job_id": "j-new", "indices": ["y"]}
    _, by_job, jobs, sent = read_all(mine)
    assert sent, "another connection committed: nothing is warm"
    assert by_job["j-new"] == ["f010"] and by_job["j010"] == [] and jobs["f010"] == "j-new"
    with mine.transaction() as state:
        assert state["datafeeds"].view_get("f010")["indices"] == ["y"]


def test_a_failed_transaction_leaves_nothing_it_read_or_changed(tmp_path: Path) -> None:
    store = seeded(tmp_path / "state.db")
    before = read_all(store)[:3]
    with pytest.raises(RuntimeError), store.transaction() as state:
        state["datafeeds"]["f004"] = {"job_id": "j-new", "indices": ["x"]}
        list(state["datafeeds"])
        raise RuntimeError("the request failed")
    assert read_all(store)[:3] == before
