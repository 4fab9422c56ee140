"""The client's exception tree: what can go wrong talking to Elasticsearch.

Input: the failed call's method and path, and what came back (status, ES error envelope).
Output: exception values. No I/O.

```
ClientError
├── TransportError              no HTTP answer at all
│   ├── ConnectionError         could not connect, or the connection dropped
│   └── ConnectionTimeout       no answer within the request timeout
├── ApiError                    ES answered with an error status (es-ml-api.md §0.1)
│   ├── BadRequestError         400 (validation, resource_already_exists_exception, ...)
│   ├── AuthenticationError     401
│   ├── AuthorizationError      403
│   ├── NotFoundError           404 (resource_not_found_exception)
│   ├── ConflictError           409 (status_exception: state conflicts, document exists)
│   ├── TooManyRequestsError    429
│   └── ServerError             5xx
├── UnsupportedProductError     the server is not Elasticsearch (no X-Elastic-Product header)
└── MLUnavailableError          preflight: ML cannot be used on this cluster (licence, upgrade mode)
```

Every message has the form `"<METHOD> <path> -> <status> <type>: <reason>"`. It is built from
the method, the path (never the query string) and the server's reason after the client's
redactor has removed every configured secret; headers are never part of an error.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "AuthorizationError",
    "BadRequestError",
    "ClientError",
    "ConflictError",
    "ConnectionError",
    "ConnectionTimeout",
    "MLUnavailableError",
    "NotFoundError",
    "ServerError",
    "TooManyRequestsError",
    "TransportError",
    "UnsupportedProductError",
]


class ClientError(Exception):
    """Base class of every error raised by mlsync's Elasticsearch client."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class TransportError(ClientError):
    """No HTTP answer was received (after the allowed retries)."""

    def __init__(self, method: str, path: str, detail: str, *, attempts: int = 1) -> None:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{method} {path} -> {detail}{tries}", method=method, path=path)
        self.detail = detail
        self.attempts = attempts


class ConnectionError(TransportError):  # mirrors the official client's name
    """Could not connect to any host, or the connection dropped before an answer."""


class ConnectionTimeout(TransportError):
    """The server did not answer within the request timeout."""


class ApiError(ClientError):
    """Elasticsearch answered with an error status; carries its `type` and `reason`."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        error_type: str,
        reason: str,
        body: Any = None,
    ) -> None:
        super().__init__(
            f"{method} {path} -> {status} {error_type}: {reason}", method=method, path=path
        )
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.body = body

    @property
    def status_code(self) -> int:
        """The HTTP status (alias of `status`, the name the official client uses)."""
        return self.status


class BadRequestError(ApiError):
    """400: invalid request, unknown field, id already used (es-ml-api.md §0.2)."""


class AuthenticationError(ApiError):
    """401: missing or wrong credentials."""


class AuthorizationError(ApiError):
    """403: the credentials lack a privilege (or the licence forbids the feature)."""


class NotFoundError(ApiError):
    """404: the job, datafeed, analytics, filter, calendar or document does not exist."""


class ConflictError(ApiError):
    """409: the resource's state forbids the call (e.g. deleting an opened job)."""


class TooManyRequestsError(ApiError):
    """429: the cluster rejected the request for now (retried before this is raised)."""


class ServerError(ApiError):
    """5xx: the cluster failed (502/503/504 are retried before this is raised)."""


class UnsupportedProductError(ClientError):
    """The server answered without `X-Elastic-Product: Elasticsearch` (es-ml-api.md §0.1)."""


class MLUnavailableError(ClientError):
    """Machine learning cannot be used on this cluster; `cluster` holds what was learned."""

    def __init__(self, message: str, cluster: Any = None) -> None:
        super().__init__(message)
        self.cluster = cluster


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    409: ConflictError,
    429: TooManyRequestsError,
}


def api_error_class(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)
