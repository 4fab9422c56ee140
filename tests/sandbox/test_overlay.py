"""The copy-on-write overlay over the store: private copies, in-place edits committed, and
values handed out as new parses of the stored JSON (store.Collection.fresh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.sandbox.overlay import Overlay, read
from reconciler.sandbox.store import Store


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    path = None if request.param == "memory" else tmp_path / "state.db"
    store = Store(path)
    with store.transaction() as state:
        state["jobs"]["a"] = {"job_id": "a", "groups": ["g"], "limits": {"mb": 10}}
        state["datafeed_searches"]["f"] = 3
    return store


def test_a_value_read_and_changed_in_place_is_committed(store: Store) -> None:
    with store.transaction() as state:
        work = Overlay(state)
        job = work["jobs"]["a"]
        job["limits"]["mb"] = 20
        # the handler's copy is private until commit: the state still has the old value
        assert state["jobs"].peek("a")["limits"]["mb"] == 10
        work.commit()
    assert store.snapshot()["jobs"]["a"]["limits"]["mb"] == 20


def test_a_value_only_read_is_not_written_back(store: Store) -> None:
    with store.transaction() as state:
        work = Overlay(state)
        assert work["jobs"]["a"]["groups"] == ["g"]
        assert work["datafeed_searches"]["f"] == 3
        work.commit()
        assert "a" not in state["jobs"]._exposed  # nothing to write at flush


def test_copies_are_private_and_see_this_transactions_assignments(store: Store) -> None:
    with store.transaction() as state:
        state["jobs"]["a"] = {"job_id": "a", "groups": ["h"]}  # assigned, not yet flushed
        work = Overlay(state)
        first, second = work["jobs"].read("a"), read(work["jobs"], "a")
        assert first == second == {"job_id": "a", "groups": ["h"]}
        first["groups"].append("x")
        assert second["groups"] == ["h"]
        assert state["jobs"].peek("a")["groups"] == ["h"]
        assert state["jobs"].fresh("a") is not state["jobs"].peek("a")
        with pytest.raises(KeyError):
            state["jobs"].fresh("missing")


def test_an_overlay_put_inside_a_read_value_is_committed_as_plain_data(store: Store) -> None:
    with store.transaction() as state:
        state["settings"]["latency"] = 1.5
    with store.transaction() as state:
        work = Overlay(state)
        work["jobs"]["a"]["copied_settings"] = work["settings"]  # an Overlay of `settings`
        work.commit()
    assert store.snapshot()["jobs"]["a"]["copied_settings"] == {"latency": 1.5}


def test_a_failed_request_leaves_nothing_behind(store: Store) -> None:
    with store.transaction() as state:
        work = Overlay(state)
        work["jobs"]["a"]["groups"].append("lost")
        work["jobs"]["b"] = {"job_id": "b"}
        # no commit: the handler raised
    assert store.snapshot()["jobs"] == {"a": {"job_id": "a", "groups": ["g"], "limits": {"mb": 10}}}
