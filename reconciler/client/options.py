"""Per-client request options: what `client.options(...)` changes, as in the official client.

Input: the keyword arguments of `options()` (`ignore_status`, `request_timeout`, `headers`,
`opaque_id`, `api_key`/`basic_auth`/`bearer_auth`, `max_retries`, `retry_on_status`,
`retry_on_timeout`, `retry_backoff_base`, `retry_backoff_cap`) and the options already in force.
Output: a new `RequestOptions` value; the client that `options()` returns shares the
connection pool and the product check with its parent and sends with these. No I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.client.connection import Redactor, auth_header
from reconciler.client.retry import RetryPolicy

#: What the mlsync CLI runs with, on top of the official client's defaults: 30 s per request,
#: and timeouts retried (reads, transitions and deletes are repeated; a create is confirmed by
#: reading it back before it is sent again, retry.py). Library users opt in with
#: `MLClient(..., **MLSYNC_POLICY)`.
MLSYNC_POLICY: dict[str, Any] = {"request_timeout": 30.0, "retry_on_timeout": True}


@dataclass(frozen=True)
class RequestOptions:
    """What every request of one client (or one `options()` view of it) is sent with."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: Error statuses returned as responses instead of raised (`ignore_status=404`).
    ignore_status: frozenset[int] = frozenset()
    #: Seconds; None keeps the connection pool's timeout.
    request_timeout: float | None = None
    #: Extra headers (names lower-cased), on top of the client's own.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Replaces the client's `Authorization` header when set.
    authorization: str | None = None
    #: Removes the secrets of that authorization from errors and logs.
    redact: Redactor | None = None

    def __repr__(self) -> str:
        # The authorization is a secret (architecture safety rule).
        return (
            f"RequestOptions(policy={self.policy!r}, ignore_status={sorted(self.ignore_status)}, "
            f"request_timeout={self.request_timeout!r}, headers={sorted(self.headers)!r}, "
            f"authorization={'***' if self.authorization else None!r})"
        )


def _statuses(value: int | Collection[int]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


#: `options()` keywords that change the retry policy, and the policy field each one sets.
_POLICY_FIELDS = {
    "max_retries": "max_retries",
    "retry_on_status": "retry_on_status",
    "retry_on_timeout": "retry_on_timeout",
    "retry_backoff_base": "backoff_base",
    "retry_backoff_cap": "backoff_cap",
}


def derive(
    current: RequestOptions,
    *,
    ignore_status: int | Collection[int] | None = None,
    request_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    opaque_id: str | None = None,
    api_key: str | tuple[str, str] | None = None,
    basic_auth: str | tuple[str, str] | None = None,
    bearer_auth: str | None = None,
    **policy: Any,
) -> RequestOptions:
    """The options after `client.options(**kwargs)`; arguments left None keep their value.

    Raises:
        TypeError: an unknown keyword.
        ConnectionConfigError: more than one way of authenticating.
    """
    unknown = set(policy) - set(_POLICY_FIELDS)
    if unknown:
        raise TypeError(f"options() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    changes: dict[str, Any] = {}
    if ignore_status is not None:
        changes["ignore_status"] = frozenset(_statuses(ignore_status))
    if request_timeout is not None:
        changes["request_timeout"] = float(request_timeout)
    if headers is not None or opaque_id is not None:
        merged = {**current.headers, **{k.lower(): v for k, v in (headers or {}).items()}}
        if opaque_id is not None:
            merged["x-opaque-id"] = opaque_id
        changes["headers"] = merged
    if api_key or basic_auth or bearer_auth:
        authorization, redactor = auth_header(api_key, _basic(basic_auth), bearer_auth)
        changes["authorization"] = authorization
        changes["redact"] = redactor
    given = {_POLICY_FIELDS[k]: v for k, v in policy.items() if v is not None}
    if "retry_on_status" in given:
        given["retry_on_status"] = _statuses(given["retry_on_status"])
    if given:
        changes["policy"] = RetryPolicy.model_validate({**current.policy.model_dump(), **given})
    return replace(current, **changes)


def _basic(value: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """`basic_auth` as the official client takes it: `(user, password)` or `"user:password"`."""
    if value is None or isinstance(value, tuple):
        return value
    user, _, password = value.partition(":")
    return (user, password)


__all__ = ["MLSYNC_POLICY", "RequestOptions", "derive"]
