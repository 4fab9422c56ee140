"""The client's exception tree, with the official `elasticsearch` client's names and attributes.

Input: the failed call's method and path, and what came back (the response meta and the ES
error envelope). Output: exception values. No I/O.

```
ClientError
├── TransportError              no usable HTTP answer
│   ├── ConnectionError         could not connect, or the connection dropped
│   │   └── SSLError            the TLS handshake or certificate check failed
│   ├── ConnectionTimeout       no answer within the request timeout
│   └── SerializationError      a body could not be encoded or decoded
├── ApiError                    ES answered with an error status (es-ml-api.md §0.1)
│   ├── BadRequestError         400 (also named RequestError)
│   ├── AuthenticationException 401 (also named AuthenticationError)
│   ├── AuthorizationException  403 (also named AuthorizationError)
│   ├── NotFoundError           404 (resource_not_found_exception)
│   ├── ConflictError           409 (status_exception: state conflicts, document exists)
│   ├── TooManyRequestsError    429
│   └── ServerError             5xx
├── UnsupportedProductError     the server is not Elasticsearch (no X-Elastic-Product header)
└── MLUnavailableError          preflight: ML cannot be used on this cluster (licence, upgrade mode)
```

`ApiError` carries what the official one does: `meta` (status, headers), `body` (= `info`),
`message` (= `error`, the ES error type), `status_code`; `str(e)` has the official form
`NotFoundError(404, 'resource_not_found_exception', 'No known job with id [x]')`. For mlsync's
own output, `summary` is `"<METHOD> <path> -> <status> <type>: <reason>"`. Both are built
from the method, the path (never the query string) and the server's answer after the client's
redactor has removed every configured secret; headers are never part of an error.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "AuthenticationException",
    "AuthorizationError",
    "AuthorizationException",
    "BadRequestError",
    "ClientError",
    "ConflictError",
    "ConnectionError",
    "ConnectionTimeout",
    "MLUnavailableError",
    "NotFoundError",
    "RequestError",
    "SSLError",
    "SerializationError",
    "ServerError",
    "TooManyRequestsError",
    "TransportError",
    "UnsupportedProductError",
    "describe_error",
]


class ClientError(Exception):
    """Base class of every error raised by mlsync's Elasticsearch client."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    @property
    def summary(self) -> str:
        """The one-line description mlsync prints (`<METHOD> <path> -> ...`)."""
        return str(self.message)

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class TransportError(ClientError):
    """No usable HTTP answer was received (after the allowed retries)."""

    def __init__(
        self,
        method: str,
        path: str,
        detail: str,
        *,
        attempts: int = 1,
        errors: tuple[Exception, ...] = (),
    ) -> None:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        where = f"{method} {path} -> " if method else ""
        super().__init__(f"{where}{detail}{tries}", method=method, path=path)
        self.detail = detail
        self.attempts = attempts
        #: The underlying exceptions, as the official client's `errors`.
        self.errors = errors


class ConnectionError(TransportError):  # mirrors the official client's name
    """Could not connect to any host, or the connection dropped before an answer."""


class SSLError(ConnectionError):
    """The TLS handshake failed (certificate not trusted, fingerprint mismatch, ...)."""


class ConnectionTimeout(TransportError):
    """The server did not answer within the request timeout."""


class SerializationError(TransportError):
    """A request body could not be encoded (or an answer decoded)."""

    def __init__(self, detail: str, *, method: str = "", path: str = "") -> None:
        super().__init__(method, path, detail)


class ApiError(ClientError):
    """Elasticsearch answered with an error status.

    Constructed like the official `ApiError(message, meta, body)`: `message` is the ES error
    type, `meta` the response meta (`status`, `headers`, and mlsync's `call`).
    """

    def __init__(
        self,
        message: str,
        meta: Any,
        body: Any = None,
        *,
        reason: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        call = getattr(meta, "call", None)
        method = method or str(getattr(call, "method", ""))
        path = path or str(getattr(call, "path", ""))
        super().__init__(message, method=method, path=path)
        self.meta = meta
        self.body = body
        self.reason = reason

    # -- the official client's attributes

    @property
    def status_code(self) -> int:
        """The HTTP status (`meta.status`)."""
        return int(self.meta.status)

    @property
    def error(self) -> str:
        """The ES error type (`resource_not_found_exception`, ...), as `message`."""
        return self.message

    @property
    def info(self) -> Any:
        """The decoded error answer (`body`)."""
        return self.body

    # -- mlsync's names

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.status_code

    @property
    def error_type(self) -> str:
        """The ES error type."""
        return self.message

    @property
    def summary(self) -> str:
        """`<METHOD> <path> -> <status> <type>: <reason>`."""
        return f"{self.method} {self.path} -> {self.status} {self.message}: {self.reason}"

    def __str__(self) -> str:
        # The official form: the status, the error type, then the root cause's reason and
        # resource, and the caused_by reason when there is one.
        cause: list[str] = []
        error = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(error, dict):
            roots = error.get("root_cause")
            root = roots[0] if isinstance(roots, list) and roots else error
            if isinstance(root, dict):
                if root.get("reason"):
                    cause.append(repr(root["reason"]))
                cause += [str(root[k]) for k in ("resource.id", "resource.type") if root.get(k)]
            caused_by = error.get("caused_by")
            if isinstance(caused_by, dict) and caused_by.get("reason"):
                cause.append(str(caused_by["reason"]))
        elif error is not None:
            cause.append(repr(error))
        elif self.reason:
            cause.append(repr(self.reason))
        parts = [str(self.status_code), repr(self.message), *cause]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __repr__(self) -> str:
        return str(self)


class BadRequestError(ApiError):
    """400: invalid request, unknown field, id already used (es-ml-api.md §0.2)."""


class AuthenticationException(ApiError):
    """401: missing or wrong credentials."""


class AuthorizationException(ApiError):
    """403: the credentials lack a privilege (or the licence forbids the feature)."""


class NotFoundError(ApiError):
    """404: the job, datafeed, analytics, filter, calendar or document does not exist."""


class ConflictError(ApiError):
    """409: the resource's state forbids the call (e.g. deleting an opened job)."""


class TooManyRequestsError(ApiError):
    """429: the cluster rejected the request for now (retried before this is raised)."""


class ServerError(ApiError):
    """5xx: the cluster failed (502/503/504 are retried before this is raised)."""


#: The official client's other names for the same classes.
RequestError = BadRequestError
AuthenticationError = AuthenticationException
AuthorizationError = AuthorizationException


class UnsupportedProductError(ClientError):
    """The server answered without `X-Elastic-Product: Elasticsearch` (es-ml-api.md §0.1)."""


class MLUnavailableError(ClientError):
    """Machine learning cannot be used on this cluster; `cluster` holds what was learned."""

    def __init__(self, message: str, cluster: Any = None) -> None:
        super().__init__(message)
        self.cluster = cluster


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationException,
    403: AuthorizationException,
    404: NotFoundError,
    409: ConflictError,
    429: TooManyRequestsError,
}


def api_error_class(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def describe_error(exc: BaseException) -> str:
    """How mlsync shows an error to its user: the client's `summary`, else `str(exc)`."""
    return exc.summary if isinstance(exc, ClientError) else str(exc)
