"""The sandbox's state, one SQLite row per object, with indexes kept in the same database.

Input: an optional state file path. Output: a `Store` whose `transaction()` yields a `State`: a
mapping of collections (`jobs`, `datafeeds`, `job_tasks`, ...: id → JSON object, each a lazy
`Collection`) and single values (`settings`, `faults`, `counter`), plus the request log. Does
file I/O: SQLite from the standard library, in WAL mode, with `busy_timeout` so that separate
processes (a `serve` process, `plan`, `apply`) share one state; without a file the same schema
lives in an in-memory database.

A transaction is one SQLite `BEGIN IMMEDIATE … COMMIT`: an exception inside it rolls everything
back. Only the rows a request reads are loaded, and only the rows whose JSON changed are written
(with their index rows), so the cost of a request does not depend on how many objects exist.
Secondary indexes (`INDEXES`: datafeeds by job, jobs by group, tasks with a pending transition,
...) are derived from the stored values whenever a row is written; `Collection.lookup` answers
from them, corrected for rows assigned earlier in the same transaction. An indexed field must
therefore be changed by assigning the object (`coll[id] = value`), which every handler does.

Read-only requests (`Collection.view_get`) get values parsed once and kept by the `Store`
between transactions, keyed by collection and id with the JSON they were parsed from: a parse is
reused only while the row read in the current transaction has the same JSON, so what another
process wrote is always seen. These shared values must never be changed (overlay.py).

A collection read whole by one transaction (every row, or a whole index) and not written by it
stays warm for the next ones (`Warm`): they find its rows' JSON and those indexes without a
query, until a transaction writes the collection or another connection commits anything
(SQLite's `PRAGMA data_version` tells: it changes exactly when another connection committed).
A GET of every job then costs what it renders, not a re-read of every row it reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.sandbox.encoding import dumps_text

Json = dict[str, Any]

#: `PRAGMA user_version` of a state database written by this module (1 was the JSON file; 2 kept
#: each index's documents inside its row and ML results on the job).
STATE_FORMAT = 3

#: Collections: id → JSON object, one row each.
COLLECTIONS = (
    "jobs",
    "job_tasks",
    "datafeeds",
    "datafeed_tasks",
    "datafeed_searches",
    "dfa",
    "dfa_tasks",
    "dfa_runs",
    "filters",
    "calendars",
    "events",
    "trained_models",
    "indices",
    "aliases",
    "docs",
)
#: Single values and their defaults (one row each in the `""` collection).
VALUES: dict[str, Any] = {"format": STATE_FORMAT, "settings": {}, "faults": [], "counter": 0}

IndexKeys = Callable[[Any], list[str]]

#: Point reads of one collection in one transaction before the store considers reading all of
#: its rows in one query instead (`Collection._text`), and how much larger than the reads done
#: so far the collection may be for that. A request that reads every job (GET `_all`, stats)
#: also looks up each one's task, results and forecasts, mostly absent: one query answers all.
BULK_AFTER = 64
BULK_RATIO = 4

#: Ids per query of `Collection.prefetch` (SQLite allows 32 766 parameters since 3.32).
PREFETCH_CHUNK = 500

#: Parsed rows kept between transactions for read-only requests (`Collection.view_get`); the
#: table is emptied when it reaches this many (a bound on memory, not a tuning knob).
PARSED_LIMIT = 100_000

#: (collection, id) → (the row's JSON, that JSON parsed once): shared, never to be changed.
ParsedRows = dict[tuple[str, str], tuple[str, Any]]


@dataclass(frozen=True)
class Warm:
    """A collection as the last transaction that read it whole left it (shared, read-only).

    `texts`: every stored row's JSON by id; `ids`: the ids in write order, if that transaction
    listed them; `indexes`: the index tables it read whole (key → ids).
    """

    texts: Mapping[str, str]
    ids: tuple[str, ...] | None
    indexes: Mapping[str, dict[str, list[str]]]


def _task_pending(task: Any) -> list[str]:
    """Tasks a later request may have to move on (transitions.py): all but the resting states."""
    state = task.get("state")
    resting = state in ("opened", "failed") or (
        state == "started" and task.get("end_ms") is None and "started_at" not in task
    )
    return [] if resting else ["pending"]


def _filters_used(job: Any) -> list[str]:
    """Filter ids referenced by a job's custom rules (a filter in use cannot be deleted)."""
    return [
        str(ref["filter_id"])
        for det in job.get("analysis_config", {}).get("detectors", [])
        for rule in det.get("custom_rules", [])
        for ref in rule.get("scope", {}).values()
    ]


def _doc_job(doc: Any) -> list[str]:
    """`<index>/<job_id>` for a document with a string `job_id` (ML results, state, stats)."""
    job_id = (doc.get("_source") or {}).get("job_id")
    return [f"{doc['_index']}/{job_id}"] if isinstance(job_id, str) else []


def _alias_visible(alias: Any) -> list[str]:
    hidden = any(p.get("is_hidden") for p in alias["indices"].values())
    return [] if hidden or str(alias.get("name", ".")).startswith(".") else ["yes"]


#: collection → index name → the keys an object is listed under.
INDEXES: dict[str, dict[str, IndexKeys]] = {
    "jobs": {
        "groups": lambda job: [str(g) for g in job.get("groups", [])],
        "filters": _filters_used,
    },
    "datafeeds": {"job_id": lambda df: [str(df["job_id"])]},
    "events": {"calendar_id": lambda event: [str(event["calendar_id"])]},
    "calendars": {"job_ids": lambda cal: [str(j) for j in cal.get("job_ids", [])]},
    "job_tasks": {"pending": _task_pending},
    "datafeed_tasks": {"pending": _task_pending},
    "dfa_tasks": {"pending": _task_pending},
    # documents (id `<index>/<doc id>`) by index, and by index and job for the ML results APIs
    "docs": {"index": lambda doc: [str(doc["_index"])], "job": _doc_job},
    "aliases": {
        "index": lambda alias: [str(i) for i in alias["indices"]],
        # aliases `*` expands to (neither hidden nor dot-prefixed): wildcards read only these
        "visible": _alias_visible,
    },
}

_SCHEMA = """
CREATE TABLE objects (
    seq INTEGER PRIMARY KEY,
    coll TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (coll, id)
);
CREATE INDEX objects_order ON objects (coll, seq);
CREATE TABLE idx (
    coll TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (coll, name, key, id)
) WITHOUT ROWID;
CREATE INDEX idx_by_id ON idx (coll, id);
CREATE TABLE request_log (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE request_counts (endpoint TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""

_MISSING: Any = object()
_UNSET: Any = object()


class StateFileError(Exception):
    """The state file is not a sandbox state database (damaged, or another kind of file)."""


_dumps = dumps_text


def empty_state() -> Json:
    """A fresh cluster as plain data: no ML resources, no indices, empty request log."""
    state: Json = {name: {} for name in COLLECTIONS}
    state.update(json.loads(_dumps(VALUES)))
    state["requests"] = {"total": 0, "by_endpoint": {}, "log": []}
    return state


class Collection(MutableMapping[str, Any]):
    """One collection of a transaction: rows are loaded on first access and cached.

    `__getitem__` hands out the cached object itself (callers outside an overlay may mutate it
    in place; `State.flush` compares its JSON with what was loaded). `peek` reads without that
    bookkeeping, for the overlay, which copies before anyone can mutate. `view_get` serves
    read-only requests from `parsed`, the store's rows parsed by earlier transactions, valid
    while the row's JSON is the same.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        name: str,
        parsed: ParsedRows | None = None,
        warm: Warm | None = None,
    ) -> None:
        self._conn = conn
        self.name = name
        self._parsed: ParsedRows = {} if parsed is None else parsed
        self._views: dict[str, Any] = {}  # id → value from `_parsed` (shared, read-only)
        self._indexes = INDEXES.get(name, {})
        self._cache: dict[str, Any] = {}  # id → value, or _MISSING (absent / deleted)
        self._loaded: dict[str, str | None] = {}  # id → JSON as stored (None: no row)
        self._exposed: set[str] = set()  # ids handed out mutable or assigned
        self._assigned: set[str] = set()  # ids assigned or deleted in this transaction
        self._cleared = False
        self._complete = False  # every stored row is in `_loaded` (absent ids have no row)
        self._point_reads = 0
        self._next_bulk_check = BULK_AFTER
        # index → lookups so far, the stored entries read (key → ids), and the indexes read
        # whole; the idx table changes only at flush, which ends the transaction
        self._index_lookups: dict[str, int] = {}
        self._index_known: dict[str, dict[str, list[str]]] = {}
        self._index_complete: set[str] = set()
        # The rows' JSON as an earlier transaction read them all (`Warm`): `_loaded` holds
        # only what this one read or wrote, over it, so starting warm copies nothing.
        self._base: Mapping[str, str] = {}
        self._ids: tuple[str, ...] | None = None  # every stored id in write order, once listed
        self.wrote = False  # flush wrote a row (the warm copy, if any, is out of date)
        if warm is not None:
            self._base, self._ids, self._complete = warm.texts, warm.ids, True
            self._index_known = dict(warm.indexes)
            self._index_complete = set(warm.indexes)

    # --- rows ------------------------------------------------------------------------------

    def _text(self, key: str) -> str | None:
        """The row's JSON as stored (None: no row), read once per transaction."""
        if key in self._loaded:
            return self._loaded[key]
        text: str | None = None
        self._point_reads += 1
        if self._point_reads >= self._next_bulk_check:
            self._next_bulk_check *= 2
            self._load_all_if_small()
        if self._complete:  # every stored row is in `_loaded` or `_base`: absent means no row
            return self._loaded.setdefault(key, self._base.get(key))
        if not self._cleared:
            row = self._conn.execute(
                "SELECT value FROM objects WHERE coll = ? AND id = ?", (self.name, key)
            ).fetchone()
            text = None if row is None else row[0]
        self._loaded[key] = text
        return text

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the rows of `keys` not read yet in a few queries (a request about to read them).

        Absent keys are remembered as absent; nothing is parsed.
        """
        if self._cleared or self._complete:
            return
        wanted = [key for key in dict.fromkeys(keys) if key not in self._loaded]
        if len(wanted) >= BULK_AFTER and self._load_all_if_small(len(wanted)):
            return  # (a collection not much larger than what is wanted: one query for all)
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, text in self._conn.execute(
                f"SELECT id, value FROM objects WHERE coll = ? AND id IN ({marks})",
                (self.name, *chunk),
            ):
                self._loaded[key] = text
            for key in chunk:
                self._loaded.setdefault(key, None)

    def _load_all_if_small(self, reads: int | None = None) -> bool:
        """Read every row in one query if there are at most `BULK_RATIO` x `reads` of them.

        `reads`: the point reads so far (default) or the rows about to be read (`prefetch`).
        The request then costs at most a constant factor more than what it reads anyway, and
        each further read, hit or miss, needs no query. (The count is a scan of the collection's
        index entries inside SQLite, done once per doubling of the point reads.) Returns
        whether every row is now loaded.
        """
        if self._cleared or self._complete:
            return self._complete
        stored = self._conn.execute(
            "SELECT count(*) FROM objects WHERE coll = ?", (self.name,)
        ).fetchone()[0]
        if stored > BULK_RATIO * (self._point_reads if reads is None else reads):
            return False
        for key, text in self._conn.execute(
            "SELECT id, value FROM objects WHERE coll = ?", (self.name,)
        ):
            self._loaded.setdefault(key, text)
        self._complete = True
        return True

    def _fetch(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        text = self._text(key)
        value = _MISSING if text is None else json.loads(text)
        self._cache[key] = value
        return value

    def fresh(self, key: str) -> Any:
        """A private copy of the value (KeyError when absent), not tracked for write-back.

        While the object is as loaded, the copy is a new parse of the stored JSON: the cheapest
        deep copy there is, and what the overlay hands to handlers.
        """
        if key in self._exposed:  # assigned or handed out mutable: the cache is the truth
            value = self._fetch(key)
            if value is _MISSING:
                raise KeyError(key)
            return json.loads(_dumps(value))
        text = self._text(key)
        if text is None:
            raise KeyError(key)
        return json.loads(text)

    def view_get(self, key: str, default: Any = None) -> Any:
        """The value for a read-only request (`default` when absent): shared unless exposed.

        A value not handed out mutable is never written at flush, so sharing it is safe even
        if a caller changed it; one already exposed (assigned, or settled before the handler)
        is written from the cache, so the caller gets a copy of it.
        """
        value = self._views.get(key, _UNSET)  # (exposing a value drops it from `_views`)
        if value is not _UNSET:
            return default if value is _MISSING else value
        if key in self._exposed:
            value = self._cache[key]
            return default if value is _MISSING else json.loads(_dumps(value))
        value = self._cache.get(key, _UNSET)
        if value is not _UNSET:
            return default if value is _MISSING else value
        text = self._text(key)
        if text is None:
            self._views[key] = _MISSING
            return default
        # The row parsed by an earlier transaction, if its JSON is still the same (any process
        # may have written it since: the text read in this transaction is the truth).
        slot = (self.name, key)
        known = self._parsed.get(slot)
        if known is not None and known[0] == text:
            value = known[1]
        else:
            value = json.loads(text)
            if len(self._parsed) >= PARSED_LIMIT:
                self._parsed.clear()
            self._parsed[slot] = (text, value)
        self._views[key] = value
        return value

    def peek(self, key: str) -> Any:
        """The value for reading only (KeyError when absent)."""
        value = self._fetch(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __getitem__(self, key: str) -> Any:
        value = self.peek(key)
        self._exposed.add(key)
        self._views.pop(key, None)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._text(key)  # what is stored, for flush to compare with (no need to parse it)
        self._cache[key] = value
        self._exposed.add(key)
        self._assigned.add(key)
        self._views.pop(key, None)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._cache[key] = _MISSING
        self._exposed.add(key)
        self._assigned.add(key)
        self._views.pop(key, None)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        value = self._cache.get(key, _UNSET)
        if value is not _UNSET:
            return value is not _MISSING
        return self._text(key) is not None  # no parse needed

    def _stored_ids(self) -> list[str]:
        """Every stored id, in write order; their rows' JSON is kept too (not parsed).

        A request that lists a collection (`_all`, a wildcard) mostly reads what it listed:
        reading the rows with their ids spares a query per row later (`_text`).
        """
        if self._cleared:
            return []
        if self._ids is not None:
            return list(self._ids)
        if self._complete:
            rows = self._conn.execute(
                "SELECT id FROM objects WHERE coll = ? ORDER BY seq", (self.name,)
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT id, value FROM objects WHERE coll = ? ORDER BY seq", (self.name,)
            ).fetchall()
            loaded = self._loaded
            for key, text in rows:
                loaded.setdefault(key, text)
            self._complete = True
        self._ids = tuple(row[0] for row in rows)
        return list(self._ids)

    def __iter__(self) -> Iterator[str]:
        stored = self._stored_ids()
        known = set(stored)
        for key in stored:
            if self._cache.get(key) is not _MISSING:
                yield key
        for key, value in list(self._cache.items()):
            if key not in known and value is not _MISSING:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def peek_items(self) -> Iterator[tuple[str, Any]]:
        """Every (id, value) for reading only, loading what is not cached in one query."""
        if not self._cleared:
            rows = self._conn.execute(
                "SELECT id, value FROM objects WHERE coll = ? ORDER BY seq", (self.name,)
            ).fetchall()
            for key, text in rows:
                if key not in self._cache:
                    self._loaded[key] = text
                    self._cache[key] = json.loads(text)
        for key, value in list(self._cache.items()):
            if value is not _MISSING:
                yield key, value

    def clear(self) -> None:
        """Drop every object (the rows go at flush)."""
        for key in self._stored_ids():
            self._loaded.setdefault(key, "")  # deleted below even if never loaded
        self._cleared = True
        self._views.clear()
        for key in list(self._cache):
            self._cache[key] = _MISSING
        for key in self._loaded:
            self._cache[key] = _MISSING
            self._exposed.add(key)
            self._assigned.add(key)

    # --- indexes ---------------------------------------------------------------------------

    def index_function(self, index: str) -> IndexKeys:
        """The function giving the keys an object is listed under in `index`."""
        return self._indexes[index]

    def _stored_lookup(self, index: str, key: str) -> set[str]:
        """Ids listed under `key` in the stored `index` (as of the transaction's start).

        Each key is queried once per transaction, or not at all once `prefetch_index` read it.
        Like rows (`_load_all_if_small`): once a transaction's lookups in one index add up to a
        quarter of that index's entries, the whole index is read in one query and the further
        lookups need none (a GET of every job looks up each one's datafeed and documents).
        """
        if self._cleared:
            return set()
        ids = self._index_known.get(index, {}).get(key)
        if ids is not None:
            return set(ids)
        if index not in self._index_complete:
            done = self._index_lookups[index] = self._index_lookups.get(index, 0) + 1
            if done >= BULK_AFTER and done & (done - 1) == 0:  # at 64, 128, 256, ... lookups
                self._load_index_if_small(index, done)
        if index in self._index_complete:
            # (the table read whole, which replaced the partial one: look it up there)
            return set(self._index_known[index].get(key, ()))
        rows = self._conn.execute(
            "SELECT id FROM idx WHERE coll = ? AND name = ? AND key = ?",
            (self.name, index, key),
        ).fetchall()
        found = [row[0] for row in rows]
        self._index_known.setdefault(index, {})[key] = found
        return set(found)

    def _load_index_if_small(self, index: str, lookups: int) -> None:
        stored = self._conn.execute(
            "SELECT count(*) FROM idx WHERE coll = ? AND name = ?", (self.name, index)
        ).fetchone()[0]
        if stored > BULK_RATIO * lookups:
            return
        table: dict[str, list[str]] = {}
        for key, oid in self._conn.execute(
            "SELECT key, id FROM idx WHERE coll = ? AND name = ?", (self.name, index)
        ):
            table.setdefault(key, []).append(oid)
        self._index_known[index] = table
        self._index_complete.add(index)

    def prefetch_index(self, index: str, keys: Iterable[str]) -> None:
        """Read the stored entries of `index` under `keys` in a few queries (lookups to come)."""
        if self._cleared or index in self._index_complete:
            return
        known = self._index_known.setdefault(index, {})  # (incomplete: never a warm table)
        wanted = [key for key in dict.fromkeys(keys) if key not in known]
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            for key in chunk:
                known[key] = []
            marks = ",".join("?" * len(chunk))
            for key, oid in self._conn.execute(
                f"SELECT key, id FROM idx WHERE coll = ? AND name = ? AND key IN ({marks})",
                (self.name, index, *chunk),
            ):
                known[key].append(oid)

    def lookup(self, index: str, key: str) -> list[str]:
        """Ids listed under `key` in `index`, sorted, including this transaction's changes."""
        found = self._stored_lookup(index, key)
        if not self._assigned:
            return sorted(found)
        keys_of = self._indexes[index]
        for oid in self._assigned:
            value = self._cache[oid]
            if value is not _MISSING and key in keys_of(value):
                found.add(oid)
            else:
                found.discard(oid)
        return sorted(found)

    def index_keys(self, index: str) -> list[str]:
        """Every key of `index` that lists at least one object, sorted."""
        keys_of = self._indexes[index]
        keys: set[str] = set()
        if not self._cleared:
            rows = self._conn.execute(
                "SELECT DISTINCT key FROM idx WHERE coll = ? AND name = ?", (self.name, index)
            ).fetchall()
            keys = {row[0] for row in rows}
        touched = set(keys)
        for oid in self._assigned:
            value = self._cache[oid]
            if value is not _MISSING:
                touched.update(keys_of(value))
        if not self._assigned:
            return sorted(keys)
        return sorted(k for k in touched if self.lookup(index, k))

    # --- write-back ------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the rows whose JSON changed, and their index rows (`wrote`: any)."""
        conn = self._conn
        if self._cleared:
            conn.execute("DELETE FROM objects WHERE coll = ?", (self.name,))
            conn.execute("DELETE FROM idx WHERE coll = ?", (self.name,))
            self._loaded = {k: None for k in self._loaded}
            self._cleared = False
            self.wrote = True
        for key in self._exposed:
            value = self._cache[key]
            before = self._loaded.get(key)
            if value is _MISSING:
                if before is not None:
                    conn.execute("DELETE FROM objects WHERE coll = ? AND id = ?", (self.name, key))
                    self._write_index(key, None)
                    self.wrote = True
                self._loaded[key] = None
                continue
            text = _dumps(value)
            if text == before:
                continue
            conn.execute(
                "INSERT INTO objects (coll, id, value) VALUES (?, ?, ?) "
                "ON CONFLICT (coll, id) DO UPDATE SET value = excluded.value",
                (self.name, key, text),
            )
            self._write_index(key, value)
            self._loaded[key] = text
            self.wrote = True
        self._exposed.clear()
        self._assigned.clear()
        if self.wrote:  # what was read of the idx rows and the row order is out of date
            self._index_known.clear()
            self._index_complete.clear()
            self._ids = None

    def warm(self) -> Warm | None:
        """This collection for the next transactions, if it was read whole and not written.

        Called once the transaction committed (after `flush`).
        """
        if self.wrote or not self._complete:
            return None
        texts: Mapping[str, str] = self._base
        if not self._base:  # read whole from the database by this transaction
            texts = {key: text for key, text in self._loaded.items() if text is not None}
        tables = {name: self._index_known[name] for name in self._index_complete}
        return Warm(texts=texts, ids=self._ids, indexes=tables)

    def _write_index(self, key: str, value: Any) -> None:
        if not self._indexes:
            return
        self._conn.execute("DELETE FROM idx WHERE coll = ? AND id = ?", (self.name, key))
        if value is None:
            return
        rows = [
            (self.name, index, k, key)
            for index, keys_of in self._indexes.items()
            for k in set(keys_of(value))
        ]
        self._conn.executemany("INSERT INTO idx (coll, name, key, id) VALUES (?, ?, ?, ?)", rows)


class State(MutableMapping[str, Any]):
    """The state inside one transaction: collections, single values and the request log."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        parsed: ParsedRows | None = None,
        warm: dict[str, Warm] | None = None,
    ) -> None:
        self._conn = conn
        self._parsed: ParsedRows = {} if parsed is None else parsed
        self._warm: dict[str, Warm] = {} if warm is None else warm
        self._collections: dict[str, Collection] = {}
        self._values: dict[str, Any] = {}
        self._loaded: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> Any:
        if key in COLLECTIONS:
            if key not in self._collections:
                warm = self._warm.get(key)
                self._collections[key] = Collection(self._conn, key, self._parsed, warm)
            return self._collections[key]
        if key == "requests":
            return self.requests()
        if key not in VALUES:
            raise KeyError(key)
        if key not in self._values:
            row = self._conn.execute(
                "SELECT value FROM objects WHERE coll = '' AND id = ?", (key,)
            ).fetchone()
            self._loaded[key] = None if row is None else row[0]
            self._values[key] = json.loads(row[0] if row else _dumps(VALUES[key]))
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in COLLECTIONS:
            collection = self[key]
            if value is collection:
                return
            items = list(value.items())
            collection.clear()
            for oid, obj in items:
                collection[oid] = obj
        elif key == "requests":
            self._replace_requests(value)
        elif key in VALUES:
            self[key]
            self._values[key] = value
        else:
            raise KeyError(f"the sandbox state has no part [{key}]")

    def __delitem__(self, key: str) -> None:
        raise TypeError("parts of the sandbox state cannot be deleted; assign an empty value")

    def __iter__(self) -> Iterator[str]:
        yield from COLLECTIONS
        yield from VALUES
        yield "requests"

    def __len__(self) -> int:
        return len(COLLECTIONS) + len(VALUES) + 1

    def clear(self) -> None:
        """Wipe everything, request log included."""
        for name in COLLECTIONS:
            self[name].clear()
        for name in VALUES:
            self[name] = json.loads(_dumps(VALUES[name]))
        self._replace_requests({})

    def plain(self) -> Json:
        """The whole state as plain JSON data (debugging, snapshots)."""
        out: Json = {name: dict(self[name].peek_items()) for name in COLLECTIONS}
        out.update({name: self[name] for name in VALUES})
        out["requests"] = self.requests()
        copied: Json = json.loads(_dumps(out))
        return copied

    # --- request log -----------------------------------------------------------------------

    def log_request(self, endpoint: str, entry: Json, limit: int) -> None:
        """Count one request and append it to the log, which keeps the last `limit` entries."""
        conn = self._conn
        conn.execute(
            "INSERT INTO request_counts (endpoint, n) VALUES (?, 1) "
            "ON CONFLICT (endpoint) DO UPDATE SET n = n + 1",
            (endpoint,),
        )
        seq = conn.execute("INSERT INTO request_log (entry) VALUES (?)", (_dumps(entry),)).lastrowid
        if seq is not None and seq > limit:
            conn.execute("DELETE FROM request_log WHERE seq <= ?", (seq - limit,))

    def requests(self) -> Json:
        """`{"total", "by_endpoint", "log"}` since the last reset."""
        counts = dict(self._conn.execute("SELECT endpoint, n FROM request_counts").fetchall())
        log = [
            json.loads(row[0])
            for row in self._conn.execute("SELECT entry FROM request_log ORDER BY seq")
        ]
        return {"total": sum(counts.values()), "by_endpoint": counts, "log": log}

    def _replace_requests(self, value: Mapping[str, Any]) -> None:
        self._conn.execute("DELETE FROM request_counts")
        self._conn.execute("DELETE FROM request_log")
        self._conn.executemany(
            "INSERT INTO request_counts (endpoint, n) VALUES (?, ?)",
            list((value.get("by_endpoint") or {}).items()),
        )
        self._conn.executemany(
            "INSERT INTO request_log (entry) VALUES (?)",
            [(_dumps(e),) for e in value.get("log") or []],
        )

    # --- write-back ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Once committed: keep warm what was read whole and not written, drop what was written."""
        for name, collection in self._collections.items():
            warm = collection.warm()
            if warm is None:
                self._warm.pop(name, None)
            else:
                self._warm[name] = warm

    def flush(self) -> None:
        """Write every changed row (collections and single values)."""
        for collection in self._collections.values():
            collection.flush()
        for key, value in self._values.items():
            text = _dumps(value)
            if text != self._loaded.get(key):
                self._conn.execute(
                    "INSERT INTO objects (coll, id, value) VALUES ('', ?, ?) "
                    "ON CONFLICT (coll, id) DO UPDATE SET value = excluded.value",
                    (key, text),
                )
                self._loaded[key] = text


class Store:
    """Holds the state: in a SQLite file shared between processes, or in memory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.RLock()
        self._state: State | None = None
        self._parsed: ParsedRows = {}  # shared by this store's transactions (Collection)
        # Collections read whole and unchanged since (`Warm`), valid while no other connection
        # has committed: `PRAGMA data_version` is the same as when they were kept.
        self._warm: dict[str, Warm] = {}
        self._data_version: int | None = None
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE below); one connection
            # serves every thread of this process under `_lock`.
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            # Other processes hold the write lock for one request at a time: wait, not fail.
            conn.execute("PRAGMA busy_timeout = 30000")
            if self.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise StateFileError("a SQLite database that is not a sandbox state")
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {STATE_FORMAT}")
                elif version != STATE_FORMAT:
                    raise StateFileError(
                        f"sandbox state format {version} (written by "
                        f"{'an older' if version < STATE_FORMAT else 'a newer'} mlsync), this "
                        f"version reads {STATE_FORMAT}"
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise StateFileError(str(exc)) from None
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        """Yield the state; commit when the block ends, roll back if it raises.

        Nested calls in the same thread share the outer transaction.
        """
        with self._lock:
            if self._state is not None:
                yield self._state
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                # Read inside the transaction: no other connection can commit until it ends.
                version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise StateFileError(str(exc)) from None
            if version != self._data_version:  # another process wrote: nothing is warm
                self._warm.clear()
                self._data_version = version
            state = State(self._conn, self._parsed, self._warm)
            self._state = state
            try:
                yield state
                state.flush()
                self._conn.execute("COMMIT")
            except BaseException:
                self._warm.clear()  # (what the failed transaction read may be half-updated)
                self._conn.execute("ROLLBACK")
                raise
            else:
                state.warm_up()
            finally:
                self._state = None

    def snapshot(self) -> Json:
        """A plain copy of the whole current state (for inspection in tests)."""
        with self.transaction() as state:
            return state.plain()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
