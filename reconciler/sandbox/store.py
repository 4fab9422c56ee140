"""The sandbox's state document and its persistence.

Input: an optional state file path. Output: a `Store` whose `transaction()` yields the whole state
as a JSON-compatible dict and writes it back. Does file I/O: with a state file, every transaction
takes an exclusive `fcntl.flock` on a side lock file (`<state>.lock`), loads the JSON, and writes
it back atomically (temp file + `os.replace`), so separate processes (a `serve` process, `plan`,
`apply`) share one consistent state. Without a file the state lives in memory.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

State = dict[str, Any]

STATE_FORMAT = 1


def empty_state() -> State:
    """A fresh cluster: no ML resources, no indices, empty request log."""
    return {
        "format": STATE_FORMAT,
        "jobs": {},
        "job_tasks": {},
        "datafeeds": {},
        "datafeed_tasks": {},
        "dfa": {},
        "dfa_tasks": {},
        "filters": {},
        "calendars": {},
        "events": {},
        "results": {},
        "snapshots": {},
        "forecasts": {},
        "trained_models": {},
        "indices": {},
        "settings": {},
        "faults": [],
        "requests": {"total": 0, "by_endpoint": {}, "log": []},
        "counter": 0,
    }


class Store:
    """Holds the state, in memory or in a JSON file shared between processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._memory: State = empty_state()
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        """Yield the state for reading and mutation; persist it when the block ends.

        The block may replace keys of the yielded dict; everything is written back even when the
        block raises, because the request log and settled transitions must survive an error
        answer (callers keep failed handler changes out of the dict themselves).
        """
        with self._lock:
            if self.path is None:
                yield self._memory
                return
            lock_path = self.path.with_name(self.path.name + ".lock")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "a+b") as lock_file:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
                try:
                    state = self._load()
                    try:
                        yield state
                    finally:
                        self._save(state)
                finally:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def snapshot(self) -> State:
        """A deep copy of the current state (for inspection in tests)."""
        with self.transaction() as state:
            return copy.deepcopy(state)

    def _load(self) -> State:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty_state()
        if not text.strip():
            return empty_state()
        loaded = json.loads(text)
        state = empty_state()
        state.update(loaded)
        return state

    def _save(self, state: State) -> None:
        assert self.path is not None
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
