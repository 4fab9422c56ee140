"""A copy-on-write view of the state for one request: changes become visible only on commit.

Input: the state document. Output: an `Overlay` mapping that handlers read and mutate as if it
were the state, and `commit()` that writes the changes back. No I/O.

Elasticsearch applies a request whole or not at all; the sandbox gets the same atomicity by
letting handlers work on an overlay and committing only when they return without an error.
Copying the whole state for every request made each request cost O(number of resources); the
overlay copies only what a handler touches: a collection (`jobs`, `datafeeds`, ...) is wrapped
in a nested overlay, and a single resource is deep-copied the first time it is read. On commit
only values that differ from the base are written back, and index lookups (`lookup`) answer from
the base's indexes corrected for what this overlay assigned.

A request that cannot change anything (GET and HEAD: Elasticsearch's read APIs are read-only)
gets an overlay with `shared_reads`: values are handed out as the store parsed them, without a
private copy and without the comparison at commit; only assignments are tracked and committed.
Only values assigned (or handed out mutable, see `store.Collection.view_get`) are written at
flush, and requests that may write get their own parses: a handler that changed a shared value
in place would change what read-only requests of this process see (the store keeps parsed rows
between transactions), never the stored state nor what a write reads. Setting
`CHECK_SHARED_READS` (the sandbox tests do) verifies at commit that no shared value was changed
in place.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

_DELETED = object()

#: Verify at commit that no value handed out by a `shared_reads` overlay was changed in place
#: (costs a copy of every value read; the sandbox tests turn it on).
CHECK_SHARED_READS = False


class SharedValueChanged(AssertionError):
    """A handler of a read-only request changed a value it only read (an emulator bug)."""


class Overlay(MutableMapping[str, Any]):
    """A mutable view over `base`; `depth` 0 is the state, 1 a collection inside it.

    `shared_reads`: values read are the base's own, for reading only (see the module docstring).
    """

    def __init__(
        self, base: MutableMapping[str, Any], depth: int = 0, *, shared_reads: bool = False
    ) -> None:
        self._base = base
        self._depth = depth
        self._shared = shared_reads
        self._changes: dict[str, Any] = {}
        self._written: set[str] = set()  # keys assigned or deleted (not just read)
        # CHECK_SHARED_READS: key → (value handed out, a copy of it then)
        self._handed: dict[str, tuple[Any, Any]] = {}
        # shared reads of a collection: the base's `view_get` (store.Collection) or `get`
        self._view: Any = None
        if shared_reads and depth == 1:
            self._view = getattr(base, "view_get", None) or base.get

    def __getitem__(self, key: str) -> Any:
        if key in self._changes:
            value = self._changes[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        if self._view is not None:
            value = self._view(key, _DELETED)
            if value is _DELETED:
                raise KeyError(key)
            if CHECK_SHARED_READS:
                self._remember(key, value)
            return value
        if self._depth == 0:
            value = _peek(self._base, key)
            if not isinstance(value, MutableMapping):
                return value
            value = Overlay(value, 1, shared_reads=self._shared)
        else:
            value = _private(self._base, key)
            if not isinstance(value, dict | list):
                return value
        self._changes[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """`self[key]`, or `default` when absent (without an exception for shared reads)."""
        if self._view is None or key in self._changes:
            return super().get(key, default)
        value = self._view(key, _DELETED)
        if value is _DELETED:
            return default
        if CHECK_SHARED_READS:
            self._remember(key, value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._changes[key] = value
        self._written.add(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._changes[key] = _DELETED
        self._written.add(key)

    def __contains__(self, key: object) -> bool:
        if key in self._changes:
            return self._changes[key] is not _DELETED
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        for key in self._base:
            if self._changes.get(key) is not _DELETED:
                yield key
        for key, value in self._changes.items():
            if key not in self._base and value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __or__(self, other: Any) -> dict[str, Any]:
        return {**self.plain(), **other}

    def plain(self) -> dict[str, Any]:
        """A plain-dict copy (for JSON output)."""
        return {key: _plain(self[key]) for key in self}

    def read(self, key: str) -> Any:
        """A private copy of one value, for reading (rendering): not tracked for commit."""
        if key in self._changes:
            value = self._changes[key]
            if value is _DELETED:
                raise KeyError(key)
            return _copy(_plain(value))
        if self._view is not None:
            return self[key]
        return _private(self._base, key)

    def _remember(self, key: str, value: Any) -> None:
        """Keep a copy of a shared value to check at commit that it was not changed."""
        if isinstance(value, dict | list) and key not in self._handed:
            self._handed[key] = (value, _copy(value))

    def prefetch(self, keys: Iterable[str]) -> None:
        """Tell the base (a store collection) that these values are about to be read."""
        base_prefetch = getattr(self._base, "prefetch", None)
        if base_prefetch is not None:
            base_prefetch([key for key in keys if key not in self._changes])

    def prefetch_index(self, index: str, keys: Iterable[str]) -> None:
        """Tell the base that lookups of these keys in `index` are about to come."""
        ahead = getattr(self._base, "prefetch_index", None)
        if ahead is not None:
            ahead(index, keys)

    def lookup(self, index: str, key: str) -> list[str]:
        """Ids listed under `key` in the base's `index`, with this overlay's assignments."""
        stored: list[str] = self._base.lookup(index, key)  # type: ignore[attr-defined]
        if not self._written:
            return stored
        found = set(stored)
        keys_of = self._base.index_function(index)  # type: ignore[attr-defined]
        for oid in self._written:
            value = self._changes[oid]
            if value is not _DELETED and key in keys_of(value):
                found.add(oid)
            else:
                found.discard(oid)
        return sorted(found)

    def index_keys(self, index: str) -> list[str]:
        """Every key of the base's `index` that lists an object, with this overlay's changes."""
        keys = set(self._base.index_keys(index))  # type: ignore[attr-defined]
        if not self._written:
            return sorted(keys)
        keys_of = self._base.index_function(index)  # type: ignore[attr-defined]
        for oid in self._written:
            value = self._changes[oid]
            if value is not _DELETED:
                keys.update(keys_of(value))
        return sorted(k for k in keys if self.lookup(index, k))

    def commit(self) -> None:
        """Write every change into the base document (values equal to the base are skipped)."""
        for key, (value, before) in self._handed.items():
            if key not in self._written and value != before:
                raise SharedValueChanged(f"[{key}] was changed in place by a read-only request")
        for key, value in self._changes.items():
            if value is _DELETED:
                self._base.pop(key, None)
            elif isinstance(value, Overlay):
                if value._base is self._base.get(key):
                    value.commit()
                else:
                    self._base[key] = value.plain()
            elif key in self._written or key not in self._base or _peek(self._base, key) != value:
                # Assigned, or read (a private copy) and changed in place. The comparison comes
                # first: most values a request reads (every one, in a GET) are unchanged, and an
                # overlay nested in a value compares equal to what it reads.
                self._base[key] = _plain(value) if _holds_overlay(value) else value


def read(mapping: Any, key: str) -> Any:
    """A private copy of `mapping[key]` for reading; through an overlay it is not tracked."""
    reader = getattr(mapping, "read", None)
    return _copy(mapping[key]) if reader is None else reader(key)


def prefetch(mapping: Any, keys: Iterable[str]) -> None:
    """Read ahead the values of `keys` (one query for many rows) when `mapping` can."""
    ahead = getattr(mapping, "prefetch", None)
    if ahead is not None:
        ahead(keys)


def prefetch_index(mapping: Any, index: str, keys: Iterable[str]) -> None:
    """Read ahead the entries of `keys` in `mapping`'s `index` when it can."""
    ahead = getattr(mapping, "prefetch_index", None)
    if ahead is not None:
        ahead(index, keys)


def _peek(mapping: Any, key: str) -> Any:
    """Read without marking the value as handed out for mutation (store.Collection.peek)."""
    peek = getattr(mapping, "peek", None)
    return mapping[key] if peek is None else peek(key)


def _private(mapping: Any, key: str) -> Any:
    """A private copy of `mapping[key]`.

    From the store, a new parse of the row's JSON (C speed, `store.Collection.fresh`); from a
    plain mapping, a copy of the value.
    """
    fresh = getattr(mapping, "fresh", None)
    return _copy(mapping[key]) if fresh is None else fresh(key)


def _copy(value: Any) -> Any:
    """Copy a JSON document (dicts, lists, scalars); several times faster than deepcopy."""
    # Exact types first, scalar leaves taken as they are (no call per leaf).
    if type(value) is dict:
        return {k: v if type(v) in _SCALARS else _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [v if type(v) in _SCALARS else _copy(v) for v in value]
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _holds_overlay(value: Any) -> bool:
    if isinstance(value, Overlay):
        return True
    if isinstance(value, dict):
        return any(_holds_overlay(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_overlay(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    if isinstance(value, Overlay):
        return value.plain()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
