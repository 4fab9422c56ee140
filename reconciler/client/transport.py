"""The httpx glue shared by the sync and async clients.

Input: constructor arguments (TLS settings) and httpx exceptions/responses.
Output: the `verify` value httpx takes, and the pure `Outcome` values `base.ClientCore`
understands. Does I/O only in `tls_verify` (it loads the CA file into an SSL context).
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Sequence

import httpx

from reconciler.client.base import RawResponse, TransportFailure
from reconciler.client.connection import ConnectionConfigError, InsecureConnectionWarning


def tls_verify(
    ca_certs: str | None, verify_certs: bool, urls: Sequence[str]
) -> ssl.SSLContext | bool:
    """The `verify=` argument for httpx: on by default, a CA file, or off with a warning.

    httpx 0.28 deprecated `verify=<path>`, so a CA file becomes an `SSLContext`
    (ux-conventions.md §1.4).
    """
    if not verify_certs:
        if ca_certs:
            raise ConnectionConfigError("ca_certs and verify_certs=False contradict each other")
        warnings.warn(
            "TLS certificate verification is turned off for "
            f"{', '.join(urls)}: the connection can be intercepted; use a CA certificate instead",
            InsecureConnectionWarning,
            stacklevel=3,
        )
        return False
    if ca_certs:
        try:
            return ssl.create_default_context(cafile=ca_certs)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionConfigError(
                f"cannot load the CA certificate {ca_certs!r}: {exc}"
            ) from None
    return True


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
    if _certificate_failure(exc):
        return TransportFailure("tls", detail)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("lost", detail)


def _certificate_failure(exc: BaseException) -> bool:
    """True when the TLS handshake failed on the certificate (httpx wraps ssl's error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)
