"""The httpx glue and the constructor shared by the sync and async clients.

Input: constructor arguments (hosts, auth, TLS settings, retry policy) and httpx
exceptions/responses. Output: `ClientBase` (what `MLClient` and `AsyncMLClient` share: the
official constructor, `options()`, the namespaces), the `verify` value httpx takes, and the
pure `Outcome` values `base.ClientCore` understands. Does I/O only in `tls_verify` (it loads
the CA and client certificate files into an SSL context).
"""

from __future__ import annotations

import copy
import hashlib
import ssl
import warnings
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Generic, Self

import httpx

from reconciler.client.base import (
    ClientCore,
    Host,
    HttpRequest,
    RawResponse,
    TransportFailure,
    core_from_arguments,
)
from reconciler.client.connection import (
    ConnectionConfig,
    ConnectionConfigError,
    InsecureConnectionWarning,
)
from reconciler.client.namespace_base import R
from reconciler.client.namespaces import (
    IndicesNamespace,
    LicenseNamespace,
    MlNamespace,
    RootMethods,
)
from reconciler.client.options import MLSYNC_POLICY, RequestOptions, derive
from reconciler.client.retry import RetryPolicy

#: The official client's defaults (elasticsearch-py / elastic-transport): 10 s per request,
#: 3 retries on 429/502/503/504, timeouts not retried. mlsync's CLI passes `MLSYNC_POLICY`.
DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_RETRY_ON_STATUS = (429, 502, 503, 504)


def tls_verify(
    ca_certs: str | None,
    verify_certs: bool,
    urls: Sequence[str],
    *,
    client_cert: str | None = None,
    client_key: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    ssl_assert_fingerprint: str | None = None,
    ssl_show_warn: bool = True,
) -> ssl.SSLContext | bool:
    """The `verify=` argument for httpx: on by default, a CA file, or off with a warning.

    httpx 0.28 deprecated `verify=<path>`, so a CA file becomes an `SSLContext`
    (ux-conventions.md §1.4). `ssl_context` is used as given; `ssl_assert_fingerprint`
    pins the server certificate instead of checking its chain (as the official client does).
    """
    if ssl_context is not None:
        return ssl_context
    if ssl_assert_fingerprint:
        context = pinned_context(ssl_assert_fingerprint)
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
        return context
    if not verify_certs:
        if ca_certs:
            raise ConnectionConfigError("ca_certs and verify_certs=False contradict each other")
        if ssl_show_warn:
            warnings.warn(
                "TLS certificate verification is turned off for "
                f"{', '.join(urls)}: the connection can be intercepted; use a CA certificate "
                "instead",
                InsecureConnectionWarning,
                stacklevel=3,
            )
        return False
    if ca_certs or client_cert:
        try:
            context = ssl.create_default_context(cafile=ca_certs)
            if client_cert:
                context.load_cert_chain(client_cert, client_key)
            return context
        except (OSError, ssl.SSLError) as exc:
            what = "CA certificate" if ca_certs else "client certificate"
            raise ConnectionConfigError(
                f"cannot load the {what} {ca_certs or client_cert!r}: {exc}"
            ) from None
    return True


def pinned_context(fingerprint: str) -> ssl.SSLContext:
    """A TLS context that accepts exactly the certificate with this SHA-256 fingerprint.

    The check runs in the handshake (before any request byte, credentials included, is
    sent), for the blocking sockets of `httpx.Client` and the TLS objects of
    `httpx.AsyncClient` alike.
    """
    wanted = fingerprint.replace(":", "").strip().lower()
    if len(wanted) != 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise ConnectionConfigError(
            "ssl_assert_fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed)"
        )

    def check(der: bytes | None) -> None:
        got = hashlib.sha256(der or b"").hexdigest()
        if got != wanted:
            raise ssl.SSLError(f"Fingerprints did not match. Expected {wanted!r}, got {got!r}")

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            check(self.getpeercert(binary_form=True))

    class PinnedObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            check(self.getpeercert(binary_form=True))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.sslsocket_class = PinnedSocket
    context.sslobject_class = PinnedObject
    return context


def outcome_of_response(response: httpx.Response) -> RawResponse:
    """The pure form of an HTTP answer (header names lower-cased)."""
    return RawResponse(
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
    )


def outcome_of_exception(exc: httpx.TransportError) -> TransportFailure:
    """Classify an httpx failure by whether the request may have reached the server.

    A connect error or connect/pool timeout means nothing was sent; a read or write timeout
    means the server may have acted without us hearing back; anything else (a dropped
    connection, a protocol error) is an answer lost.
    """
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and _is_tls(exc):
        return TransportFailure("connect", detail, tls=True)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("lost", detail)


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "SSL" in text or "CERTIFICATE" in text.upper() or "Fingerprints did not match" in text


class ClientBase(RootMethods[R], Generic[R]):
    """The official client's constructor and `options()`, shared by the sync and async clients.

    The subclasses add sending (`_dispatch`) and their own httpx client (`_open_http`).
    """

    _core: ClientCore
    _options: RequestOptions

    def __init__(
        self,
        hosts: Host | Sequence[Host] | None = None,
        *,
        cloud_id: str | None = None,
        api_key: str | tuple[str, str] | None = None,
        basic_auth: str | tuple[str, str] | None = None,
        bearer_auth: str | None = None,
        opaque_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        ssl_assert_fingerprint: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ssl_show_warn: bool = True,
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
        max_retries: int = 3,
        retry_on_status: int | Collection[int] = DEFAULT_RETRY_ON_STATUS,
        retry_on_timeout: bool = False,
        retry_backoff_base: float = 0.5,
        retry_backoff_cap: float = 10.0,
        retry_max_time: float = 60.0,
        connections_per_node: int = 10,
        transport: Any = None,
    ) -> None:
        """Connect like `elasticsearch.Elasticsearch(...)` (same names and defaults).

        Args:
            hosts: URLs (`"https://es:9200"`) or dicts (`{"host": "es", "port": 9200,
                "scheme": "https"}`), one or several; default `http://localhost:9200`.
            cloud_id: an Elastic Cloud ID instead of hosts.
            api_key: `"id:key"`, `(id, key)` or the encoded key.
            basic_auth: `(user, password)` or `"user:password"`.
            bearer_auth: a bearer token.
            opaque_id: sent as `X-Opaque-Id` on every request.
            headers: extra headers for every request.
            verify_certs: check the server certificate (on by default; off warns).
            ca_certs: a CA bundle file to check the certificate with.
            client_cert: a client certificate file (with `client_key`) for mutual TLS.
            client_key: the client certificate's key file.
            ssl_assert_fingerprint: accept only the certificate with this SHA-256 fingerprint.
            ssl_context: a ready `ssl.SSLContext` (overrides the other TLS options).
            ssl_show_warn: warn when verification is off.
            request_timeout: seconds per request (None: no limit).
            max_retries: retries after the first attempt.
            retry_on_status: error statuses that are retried.
            retry_on_timeout: retry after a timeout (reads, transitions and deletes are
                repeated; a create is first confirmed by reading it back).
            retry_backoff_base: the first backoff, in seconds (doubling, with jitter).
            retry_backoff_cap: the longest backoff.
            retry_max_time: no retry starts after this many seconds (mlsync).
            connections_per_node: connection pool size per host.
            transport: an httpx transport (tests, the embedded sandbox).
        """
        statuses = (retry_on_status,) if isinstance(retry_on_status, int) else retry_on_status
        policy = RetryPolicy(
            max_retries=max_retries,
            retry_on_status=tuple(statuses),
            retry_on_timeout=retry_on_timeout,
            backoff_base=retry_backoff_base,
            backoff_cap=retry_backoff_cap,
            max_total_time=retry_max_time,
        )
        self._core = core_from_arguments(
            hosts,
            cloud_id=cloud_id,
            api_key=api_key,
            basic_auth=basic_auth,
            bearer_auth=bearer_auth,
            headers=headers,
            policy=policy,
            opaque_id=opaque_id,
        )
        self._options = RequestOptions(policy=policy)
        verify = tls_verify(
            ca_certs,
            verify_certs,
            self._core.urls,
            client_cert=client_cert,
            client_key=client_key,
            ssl_context=ssl_context,
            ssl_assert_fingerprint=ssl_assert_fingerprint,
            ssl_show_warn=ssl_show_warn,
        )
        self._http = self._open_http(
            transport,
            verify,
            httpx.Timeout(request_timeout),
            httpx.Limits(max_connections=connections_per_node * len(self._core.urls)),
        )
        self._bind()

    def _open_http(
        self,
        transport: Any,
        verify: ssl.SSLContext | bool,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
    ) -> Any:  # pragma: no cover - both clients override it
        raise NotImplementedError

    def _bind(self) -> None:
        self.ml: MlNamespace[R] = MlNamespace(self._dispatch)
        self.indices: IndicesNamespace[R] = IndicesNamespace(self._dispatch)
        self.license: LicenseNamespace[R] = LicenseNamespace(self._dispatch)

    @classmethod
    def from_config(cls, cfg: ConnectionConfig, *, transport: Any = None, **kwargs: Any) -> Self:
        """A client for resolved connection settings (`ConnectionConfig.resolve`).

        It runs with mlsync's own retry policy (`MLSYNC_POLICY`) unless `kwargs` say otherwise.
        """
        return cls(**{**MLSYNC_POLICY, **config_arguments(cfg), **kwargs}, transport=transport)

    def options(
        self,
        *,
        ignore_status: int | Collection[int] | None = None,
        request_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        opaque_id: str | None = None,
        api_key: str | tuple[str, str] | None = None,
        basic_auth: str | tuple[str, str] | None = None,
        bearer_auth: str | None = None,
        max_retries: int | None = None,
        retry_on_status: int | Collection[int] | None = None,
        retry_on_timeout: bool | None = None,
        retry_backoff_base: float | None = None,
        retry_backoff_cap: float | None = None,
    ) -> Self:
        """A view of this client that sends with other options, as in the official client.

        The view shares the connection pool, the product check and the request count;
        `client.options(ignore_status=404).ml.get_jobs(job_id="x")` returns the 404 answer
        instead of raising `NotFoundError`.
        """
        view = copy.copy(self)
        view._options = derive(
            self._options,
            ignore_status=ignore_status,
            request_timeout=request_timeout,
            headers=headers,
            opaque_id=opaque_id,
            api_key=api_key,
            basic_auth=basic_auth,
            bearer_auth=bearer_auth,
            max_retries=max_retries,
            retry_on_status=retry_on_status,
            retry_on_timeout=retry_on_timeout,
            retry_backoff_base=retry_backoff_base,
            retry_backoff_cap=retry_backoff_cap,
        )
        view._bind()
        return view

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries and confirmation reads included)."""
        return self._core.request_count

    @property
    def hosts(self) -> tuple[str, ...]:
        """The Elasticsearch URLs this client talks to."""
        return self._core.urls

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hosts={list(self._core.urls)!r})"


def config_arguments(cfg: ConnectionConfig) -> dict[str, Any]:
    """Constructor arguments for a resolved `ConnectionConfig`."""
    basic = None
    if cfg.username is not None and cfg.password is not None:
        basic = (cfg.username, cfg.password.get_secret_value())
    return {
        "hosts": list(cfg.urls),
        "api_key": cfg.api_key.get_secret_value() if cfg.api_key else None,
        "basic_auth": basic,
        "bearer_auth": cfg.bearer_token.get_secret_value() if cfg.bearer_token else None,
        "ca_certs": cfg.ca_cert,
        "verify_certs": not cfg.insecure,
        "request_timeout": cfg.timeout,
    }


def extensions(request: HttpRequest) -> dict[str, Any]:
    """The per-request httpx extensions: the timeout of `options(request_timeout=...)`."""
    if request.timeout is None:
        return {}
    seconds = request.timeout
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}
