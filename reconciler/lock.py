"""The cluster lock: one apply at a time per cluster (and scope), held in an Elasticsearch document.

Input: a client, the lock scope, the operation name, a TTL and a wait timeout.
Output: a held `ClusterLock` (with a heartbeat thread), or `LockError` naming the holder.
I/O: document requests on the `mlsync-locks` index through the client; a background thread.

Protocol (ux-conventions.md §4.2, modelled on Terraform's state locking):
- Acquire: `PUT mlsync-locks/_create/<scope>` (op_type=create) with `{lock_id (uuid4),
  holder, operation, mlsync_version, created_at, expires_at, ci_run_url}`. 409 means someone
  holds it: read it; if `expires_at` has passed, take it over with a conditional write
  (`if_seq_no`/`if_primary_term` from the read), so that of several contenders exactly one
  wins (the others get 409); otherwise retry until the lock timeout, then raise `LockError`.
- Elasticsearch has no per-document TTL (`_ttl` was removed), so expiry is enforced by the
  clients through `expires_at`; clocks are assumed roughly in sync (the TTL should dwarf skew).
- Heartbeat: every ttl/3 a conditional write extends `expires_at`. A 409/404 means the lock
  was taken over or force-unlocked: the lock is lost, and `check()` raises before the next
  mutating step. `GET` by id is real-time, so no refresh is needed.
- Release: conditional `DELETE`, in a `finally` (the context manager) on every exit path,
  retried with backoff on transient failures (a 500 must not hold the lock for the TTL).
- `force_unlock(client, lock_id)` deletes the lock only when `lock_id` matches the document's.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from reconciler import __version__
from reconciler.answers import unexpected
from reconciler.apply.waits import Client, send
from reconciler.client import api
from reconciler.client.errors import ClientError, ConflictError, NotFoundError, describe_error
from reconciler.errors import LockError

LOCK_INDEX = "mlsync-locks"
DEFAULT_SCOPE = "default"
DEFAULT_TTL = 300.0
_MAX_RACES = 50

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def default_holder() -> str:
    """`user@host (pid N)`: who holds a lock, for the contention message."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in some containers
        user = os.environ.get("USER", "unknown")
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def ci_run_url() -> str:
    """The CI run's URL when running in GitHub Actions (or GitLab CI), else ""."""
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return os.environ.get("CI_JOB_URL", "")


@dataclass(frozen=True)
class LockInfo:
    """The lock document's content."""

    lock_id: str
    holder: str
    operation: str
    mlsync_version: str
    created_at: str
    expires_at: str
    ci_run_url: str = ""

    @classmethod
    def from_source(cls, source: Any) -> LockInfo:
        """Read a lock document's `_source` (tolerating missing fields)."""
        src = source if isinstance(source, dict) else {}
        return cls(
            lock_id=str(src.get("lock_id", "")),
            holder=str(src.get("holder", "unknown")),
            operation=str(src.get("operation", "")),
            mlsync_version=str(src.get("mlsync_version", "")),
            created_at=str(src.get("created_at", "")),
            expires_at=str(src.get("expires_at", "")),
            ci_run_url=str(src.get("ci_run_url", "")),
        )

    def to_source(self) -> dict[str, str]:
        """The document body."""
        return {
            "lock_id": self.lock_id,
            "holder": self.holder,
            "operation": self.operation,
            "mlsync_version": self.mlsync_version,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "ci_run_url": self.ci_run_url,
        }

    def expired(self, now: datetime) -> bool:
        """True when `expires_at` has passed (an unreadable expiry counts as expired)."""
        expires = _parse(self.expires_at)
        return expires is None or expires <= now

    def describe(self) -> str:
        """`alice@host (pid 1) for apply since ... (expires ..., lock ID ...)`."""
        extra = f", CI run {self.ci_run_url}" if self.ci_run_url else ""
        version = f", mlsync {self.mlsync_version}" if self.mlsync_version else ""
        return (
            f"{self.holder} for {self.operation or 'an operation'} since {self.created_at} "
            f"(expires {self.expires_at}{version}, lock ID {self.lock_id}{extra})"
        )


@dataclass(frozen=True)
class LockDocument:
    """A lock as read from the cluster, with its optimistic-concurrency coordinates."""

    info: LockInfo
    seq_no: int
    primary_term: int


def read_lock(client: Client, scope: str = DEFAULT_SCOPE) -> LockDocument | None:
    """The current lock document of `scope`, or None when nobody holds it."""
    try:
        answer = send(client, api.get_document(LOCK_INDEX, scope))
    except NotFoundError:  # missing document, or the lock index does not exist yet
        return None
    body = answer.body
    path = f"/{LOCK_INDEX}/_doc/{scope}"
    if not isinstance(body, dict):
        raise unexpected(path, "expected a JSON object")
    if body.get("found") is False:
        return None
    seq_no, term = body.get("_seq_no"), body.get("_primary_term")
    if not (isinstance(seq_no, int) and isinstance(term, int)):
        # Without them no conditional write is possible: never guess (two holders).
        raise unexpected(path, "_seq_no and _primary_term must be numbers")
    return LockDocument(LockInfo.from_source(body.get("_source")), seq_no, term)


def _contention_error(scope: str, doc: LockDocument) -> LockError:
    return LockError(
        f"the cluster lock '{scope}' is held by {doc.info.describe()}. Wait for that "
        "operation to finish; if it is no longer running, remove the lock with: "
        f"mlsync force-unlock {doc.info.lock_id}"
        + (f" --scope {scope}" if scope != DEFAULT_SCOPE else "")
    )


@dataclass
class ClusterLock:
    """A lock held on the cluster; use `acquire_lock` to get one, as a context manager."""

    client: Client
    scope: str
    ttl: float
    info: LockInfo
    seq_no: int
    primary_term: int
    clock: Clock = utc_now
    #: Why the lock was lost ("" while held).
    lost: str = ""
    #: Set when release failed (the lock then expires after its TTL).
    release_error: str = ""
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    released: bool = False
    #: Pauses between release attempts (bounded: at most their sum is spent releasing).
    release_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)

    # ------------------------------------------------------------------ heartbeat

    def start_heartbeat(self, interval: float | None = None) -> None:
        """Extend `expires_at` every `interval` seconds (default ttl/3) in a daemon thread."""
        period = interval if interval is not None else self.ttl / 3
        thread = threading.Thread(
            target=self._beat_forever, args=(period,), name="mlsync-lock-heartbeat", daemon=True
        )
        self._thread = thread
        thread.start()

    def _beat_forever(self, period: float) -> None:
        while not self._stop.wait(period):
            if not self.heartbeat():
                return

    def heartbeat(self) -> bool:
        """Extend the lock once; False (and `lost` set) when it was taken away."""
        with self._guard:
            if self.lost or self.released:
                return False
            now = self.clock()
            renewed = LockInfo(
                **{**self.info.to_source(), "expires_at": _iso(now + timedelta(seconds=self.ttl))}
            )
            try:
                answer = send(
                    self.client,
                    api.index_document(
                        LOCK_INDEX,
                        self.scope,
                        renewed.to_source(),
                        if_seq_no=self.seq_no,
                        if_primary_term=self.primary_term,
                    ),
                )
            except (ConflictError, NotFoundError):
                return self._recheck_ownership()
            except ClientError:
                # Transient: try again next period, unless our expiry already passed.
                if self.info.expired(self.clock()):
                    self.lost = "the lock expired before the heartbeat could renew it"
                    return False
                return True
            self._adopt(renewed, answer.body)
            return True

    def _adopt(self, info: LockInfo, body: Any) -> None:
        self.info = info
        if isinstance(body, dict):
            self.seq_no = int(body.get("_seq_no", self.seq_no))
            self.primary_term = int(body.get("_primary_term", self.primary_term))

    def _recheck_ownership(self) -> bool:
        """After a 409/404: is the document still ours (an earlier write landed unseen)?"""
        try:
            doc = read_lock(self.client, self.scope)
        except ClientError:
            doc = None
        if doc is not None and doc.info.lock_id == self.info.lock_id:
            self.info, self.seq_no, self.primary_term = doc.info, doc.seq_no, doc.primary_term
            return True
        if doc is None:
            self.lost = "the lock document was removed (force-unlock?)"
        else:
            self.lost = f"the lock was taken over by {doc.info.describe()}"
        return False

    # ------------------------------------------------------------------ use and release

    def check(self) -> None:
        """Raise `LockError` when the lock was lost or has expired (call before mutating)."""
        if not self.lost and self.info.expired(self.clock()):
            self.lost = "the lock expired (the heartbeat could not renew it)"
        if self.lost:
            raise LockError(f"lost the cluster lock '{self.scope}': {self.lost}")

    def release(self) -> None:
        """Stop the heartbeat and delete the lock document if it is still ours (never raises)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._guard:
            if self.released:
                return
            self.released = True
            if self.lost:
                return
            self._delete_with_retries()

    def _delete_with_retries(self) -> None:
        """The conditional DELETE of our lock document, retried on any transient failure.

        A conditional delete is safe to repeat: if an earlier attempt landed unseen, the
        repeat is a 404 (gone: done) or a 409 (re-read: still ours or not). Giving up on the
        first 500 would leave the lock in place for its whole TTL and block the next apply.
        """
        last: ClientError | None = None
        for delay in (0.0, *self.release_retry_delays):
            if delay:
                time.sleep(delay)
            try:
                send(
                    self.client,
                    api.delete_document(
                        LOCK_INDEX,
                        self.scope,
                        if_seq_no=self.seq_no,
                        if_primary_term=self.primary_term,
                    ),
                )
                return
            except NotFoundError:
                return
            except ConflictError:
                if not self._recheck_ownership():
                    return
            except ClientError as exc:
                last = exc
        self.release_error = (
            f"could not release the cluster lock '{self.scope}' "
            f"({describe_error(last) if last else 'unknown error'}); it expires "
            f"at {self.info.expires_at}, or run: mlsync force-unlock {self.info.lock_id}"
        )

    def __enter__(self) -> ClusterLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire_lock(
    client: Client,
    *,
    scope: str = DEFAULT_SCOPE,
    operation: str = "apply",
    ttl: float = DEFAULT_TTL,
    timeout: float = 0.0,
    retry_interval: float = 1.0,
    heartbeat: bool = True,
    holder: str | None = None,
    clock: Clock = utc_now,
) -> ClusterLock:
    """Take the cluster lock, waiting up to `timeout` seconds for a holder to release it.

    Args:
        client: the Elasticsearch client.
        scope: the lock document id (one lock per scope).
        operation: recorded in the lock ("apply").
        ttl: seconds the lock stays valid without a heartbeat.
        timeout: seconds to keep retrying while another holder has it (0: fail at once).
        retry_interval: seconds between attempts while waiting.
        heartbeat: start the heartbeat thread (tests drive `heartbeat()` by hand).
        holder: override the `user@host (pid N)` text.
        clock: the UTC clock (injectable for tests).

    Raises:
        LockError: another holder has a valid lock and did not release it in time.
    """
    if ttl <= 0:
        raise ValueError(f"the lock TTL must be positive, got {ttl}")
    lock_id = str(uuid.uuid4())
    who = holder or default_holder()
    deadline = time.monotonic() + timeout
    races = 0
    while True:
        now = clock()
        info = LockInfo(
            lock_id=lock_id,
            holder=who,
            operation=operation,
            mlsync_version=__version__,
            created_at=_iso(now),
            expires_at=_iso(now + timedelta(seconds=ttl)),
            ci_run_url=ci_run_url(),
        )
        held = _try_acquire(client, scope, info, now)
        if isinstance(held, tuple):
            lock = ClusterLock(client, scope, ttl, info, held[0], held[1], clock)
            if heartbeat:
                lock.start_heartbeat()
            return lock
        if held is None:
            # Released or taken over between two of our requests: try again at once, but do
            # not spin forever against a cluster that keeps changing hands.
            races += 1
            if races > _MAX_RACES:
                raise LockError(f"could not acquire the cluster lock '{scope}': it keeps changing")
            continue
        if time.monotonic() >= deadline:
            raise _contention_error(scope, held)
        time.sleep(max(0.0, min(retry_interval, deadline - time.monotonic())))


def _try_acquire(
    client: Client, scope: str, info: LockInfo, now: datetime
) -> tuple[int, int] | LockDocument | None:
    """One acquisition attempt.

    Returns:
        `(seq_no, primary_term)` when won, the holder's document when held, or None to retry
        at once (the holder released it, or a takeover race was lost).
    """
    try:
        answer = send(client, api.create_document(LOCK_INDEX, scope, info.to_source()))
        return _coordinates(client, scope, answer.body, info)
    except ConflictError:
        pass
    doc = read_lock(client, scope)
    if doc is None:
        return None  # released between our create and our read
    if not doc.info.expired(now):
        return doc
    try:
        answer = send(
            client,
            api.index_document(
                LOCK_INDEX,
                scope,
                info.to_source(),
                if_seq_no=doc.seq_no,
                if_primary_term=doc.primary_term,
            ),
        )
    except (ConflictError, NotFoundError):
        return None  # another contender took it over first; re-read and decide again
    return _coordinates(client, scope, answer.body, info)


def _coordinates(client: Client, scope: str, body: Any, info: LockInfo) -> tuple[int, int] | None:
    """The `_seq_no`/`_primary_term` of our write (read back if the answer lacks them)."""
    if isinstance(body, dict) and "_seq_no" in body and "_primary_term" in body:
        return int(body["_seq_no"]), int(body["_primary_term"])
    doc = read_lock(client, scope)
    if doc is None or doc.info.lock_id != info.lock_id:
        return None
    return doc.seq_no, doc.primary_term


def force_unlock(client: Client, lock_id: str, *, scope: str = DEFAULT_SCOPE) -> LockInfo:
    """Remove the lock of `scope` if (and only if) its `lock_id` matches; returns what it held.

    Raises:
        LockError: no lock is held, or it has another lock ID (nothing is deleted).
    """
    doc = read_lock(client, scope)
    if doc is None:
        raise LockError(f"the cluster lock '{scope}' is not held; nothing to unlock")
    if doc.info.lock_id != lock_id:
        raise LockError(
            f"lock ID {lock_id} does not match the cluster lock '{scope}', which is held by "
            f"{doc.info.describe()}; nothing was unlocked"
        )
    try:
        send(
            client,
            api.delete_document(
                LOCK_INDEX, scope, if_seq_no=doc.seq_no, if_primary_term=doc.primary_term
            ),
        )
    except ConflictError as exc:
        raise LockError(
            f"the cluster lock '{scope}' changed while unlocking; run the command again "
            f"({describe_error(exc)})"
        ) from exc
    except NotFoundError:
        pass  # released meanwhile: the goal is reached
    return doc.info
