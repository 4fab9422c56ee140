"""The client logic shared by `MLClient` and `AsyncMLClient`, written once and free of I/O.

Input: a `Call`, and (sent in by a driver) the outcome of each HTTP request it asks for.
Output: a generator that yields `HttpRequest`s to send and `Sleep`s to wait, and returns the
`ApiResponse` (or raises a `ClientError`). No I/O: the sync and async clients drive this
generator with their own httpx client and sleep, in the sans-IO style of httpx's auth flows.

What happens here, for every call:
- The first call is preceded by `GET /` sent as plain `application/json`; it reveals the
  version, and later requests carry `compatible-with=<major>` media types for majors >= 8
  (or `elastic-api-version` on serverless), ux-conventions.md §1.6.
- The first 2xx answer must carry `X-Elastic-Product: Elasticsearch` (es-ml-api.md §0.1).
- Failures are retried per `RetryPolicy`; a create whose answer was lost is confirmed by
  reading it back; an already-done transition or delete after a retry counts as done.
- Errors become the `ClientError` tree; logs say method, path and status, never headers.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from reconciler import __version__
from reconciler.client import api
from reconciler.client.api import Call
from reconciler.client.connection import (
    DEFAULT_URL,
    ConnectionConfigError,
    Redactor,
    auth_header,
    decode_cloud_id,
    normalize_url,
    refuse_control_characters,
)
from reconciler.client.errors import (
    AuthorizationError,
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
)
from reconciler.client.response import (
    ApiResponse,
    ApiResponseMeta,
    decode_body,
    error_details,
    make_error,
    make_response,
)
from reconciler.client.retry import Action, FailureKind, RetryPolicy, parse_retry_after

logger = logging.getLogger("reconciler.client")

#: The REST API version serverless projects are addressed with (ux-conventions.md §1.6).
SERVERLESS_API_VERSION = "2023-10-31"
JSON = "application/json"
#: Statuses after which the request may still have been applied (a proxy or a node gave up on
#: it, not Elasticsearch's own refusal; retry.py).
_MAYBE_APPLIED_STATUSES = (502, 503, 504)


#: Header names whose values are credentials; reprs show them as `***` (architecture safety
#: rule: secrets never appear in output or logs).
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "es-secondary-authorization"}
)


def masked_headers(
    headers: Mapping[str, str], redact: Callable[[str], str] | None = None
) -> dict[str, str]:
    """`headers` fit for a repr: credential headers as `***`, other values redacted."""
    return {
        k: "***" if k.lower() in SENSITIVE_HEADERS else (redact(v) if redact else v)
        for k, v in headers.items()
    }


@dataclass(frozen=True)
class HttpRequest:
    """One request for a driver to send."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    node: str
    #: The client's redactor, so that the repr hides configured secrets in other headers too.
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        # The dataclass repr would print the Authorization header (finding B4).
        size = None if self.content is None else len(self.content)
        url = self.redact(self.url) if self.redact else self.url
        return (
            f"HttpRequest(method={self.method!r}, url={url!r}, "
            f"headers={masked_headers(self.headers, self.redact)!r}, content_bytes={size!r}, "
            f"node={self.node!r})"
        )


@dataclass(frozen=True)
class Sleep:
    """Ask the driver to wait before the next request."""

    seconds: float


@dataclass(frozen=True)
class RawResponse:
    """What a driver sends back for a request that got an HTTP answer."""

    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class TransportFailure:
    """What a driver sends back for a request that got no HTTP answer."""

    kind: FailureKind
    detail: str


Outcome = RawResponse | TransportFailure
Step = HttpRequest | Sleep
Flow = Generator[Step, Outcome | None, ApiResponse]


@dataclass
class ClusterVersion:
    """What the first `GET /` revealed."""

    number: str = ""
    major: int | None = None
    serverless: bool = False


@dataclass
class ClientCore:
    """Hosts, headers, policy and per-connection state; builds requests and runs the flow."""

    urls: tuple[str, ...]
    authorization: str | None = None
    redact: Redactor = field(default_factory=Redactor)
    headers: Mapping[str, str] = field(default_factory=dict)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = f"mlsync/{__version__}"
    rng: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    #: HTTP requests actually handed to the transport (retries and checks included).
    request_count: int = 0
    version: ClusterVersion | None = None
    product_checked: bool = False
    _host: int = 0

    def __repr__(self) -> str:
        # The dataclass repr would print `authorization` and any secret in `headers` (B4).
        authorization = None if self.authorization is None else "***"
        return (
            f"ClientCore(urls={self.urls!r}, authorization={authorization!r}, "
            f"headers={masked_headers(self.headers, self.redact)!r}, policy={self.policy!r}, "
            f"user_agent={self.user_agent!r}, request_count={self.request_count!r}, "
            f"version={self.version!r}, product_checked={self.product_checked!r})"
        )

    # ----------------------------------------------------------------- requests

    def media_headers(self, plain: bool) -> dict[str, str]:
        """`Accept`/`Content-Type` for the detected cluster (ux-conventions.md §1.6)."""
        version = self.version
        if plain or version is None or version.major is None:
            return {"accept": JSON, "content-type": JSON}
        if version.serverless:
            return {
                "accept": JSON,
                "content-type": JSON,
                "elastic-api-version": SERVERLESS_API_VERSION,
            }
        if version.major >= 8:
            media = f"application/vnd.elasticsearch+json; compatible-with={version.major}"
            return {"accept": media, "content-type": media}
        return {"accept": JSON, "content-type": JSON}

    def build(self, call: Call, *, plain: bool = False) -> HttpRequest:
        """The HTTP request for `call` against the current host."""
        node = self.urls[self._host % len(self.urls)]
        url = node + call.path
        if call.params:
            url += "?" + urlencode(call.params)
        headers = {"user-agent": self.user_agent, **self.media_headers(plain)}
        headers.update({k.lower(): v for k, v in self.headers.items()})
        if self.authorization:
            headers["authorization"] = self.authorization
        content = None
        if call.body is not None:
            content = json.dumps(call.body, separators=(",", ":")).encode("utf-8")
        else:
            headers.pop("content-type", None)
        return HttpRequest(call.method, url, headers, content, node, redact=self.redact)

    # ----------------------------------------------------------------- the flow

    def perform_flow(self, call: Call) -> Flow:
        """Send `call` (after the one-time `GET /` check), with retries and confirmation."""
        if self.version is None:
            root = api.info()
            try:
                answer = yield from self._attempts(root, plain=True)
            except (NotFoundError, AuthorizationError):
                # A key holding only ML privileges may not read `/` (403) and a proxy may hide
                # it (404): the version stays unknown (plain JSON media types) and the product
                # check runs on the next 2xx answer instead.
                answer = None
            self.version = _version_of(answer.body if answer is not None else None)
            if call == root and answer is not None:
                return answer
        return (yield from self._attempts(call))

    def _attempts(self, call: Call, *, plain: bool = False) -> Flow:
        klass = api.classify(call)
        started = self.clock()
        retries = 0
        sent = 0
        # Set once an attempt may have taken effect without us hearing it: a lost answer
        # (read timeout, broken connection) or 502/503/504 (retry.py). Only then can an error
        # on a later attempt mean "the earlier attempt already did it" (`api.already_done`);
        # after a refused connection or a 429 nothing was applied and an error is an error.
        maybe_applied = False
        while True:
            request = self.build(call, plain=plain)
            self.request_count += 1
            sent += 1
            began = self.clock()
            outcome = yield request
            if outcome is None:  # pragma: no cover - a driver bug, not a network condition
                raise TypeError("the driver must send back the outcome of each request")
            took = self.clock() - began
            retry_after = None
            if isinstance(outcome, RawResponse):
                headers = {k.lower(): v for k, v in outcome.headers.items()}
                body = decode_body(outcome.content, headers.get("content-type", ""))
                status = outcome.status
                logger.debug("%s %s -> %s (%.3fs)", call.method, call.path, status, took)
                meta = ApiResponseMeta(
                    status=status,
                    headers=headers,
                    call=call,
                    attempts=sent,
                    duration=took,
                    node=request.node,
                )
                if 200 <= status < 300:
                    self._check_product(call, headers)
                    return make_response(body, meta)
                if maybe_applied:
                    done = api.already_done(call, status, error_details(status, body)[1])
                    if done is not None:
                        logger.info(
                            "%s %s -> %s after a retry: the earlier attempt took effect",
                            call.method,
                            call.path,
                            status,
                        )
                        return make_response(done, _confirmed(meta))
                failure: FailureKind | int = status
                error: Exception = make_error(call, status, body, self.redact)
                retry_after = parse_retry_after(headers.get("retry-after"))
                maybe_applied = maybe_applied or status in _MAYBE_APPLIED_STATUSES
            else:
                logger.debug("%s %s -> %s (%.3fs)", call.method, call.path, outcome.kind, took)
                failure = outcome.kind
                error = _transport_error(call, outcome, sent, self.redact)
                maybe_applied = maybe_applied or outcome.kind in ("timeout", "lost")
                self._host += 1  # try the next host, if there is one
            decision = self.policy.decide(
                klass, failure, retries, self.clock() - started, retry_after, self.rng
            )
            if decision.action is Action.GIVE_UP:
                raise error
            logger.warning(
                "%s %s -> %s; %s in %.2fs (retry %d of %d)",
                call.method,
                call.path,
                failure,
                "confirming" if decision.action is Action.CONFIRM else "retrying",
                decision.delay,
                retries + 1,
                self.policy.max_retries,
            )
            yield Sleep(decision.delay)
            retries += 1
            if decision.action is Action.CONFIRM:
                confirmed = yield from self._confirm(call)
                if confirmed is not None:
                    return confirmed

    def _confirm(self, call: Call) -> Generator[Step, Outcome | None, ApiResponse | None]:
        """Read back a create whose answer was lost: the response if it exists, else None."""
        read = api.confirmation_read(call)
        if read is None:  # pragma: no cover - CREATE calls always have a read
            return None
        try:
            answer = yield from self._attempts(read)
        except NotFoundError:
            logger.info("%s %s: not created yet, sending it again", call.method, call.path)
            return None
        try:
            exists, body = api.confirmed_object(call, answer.body)
        except ValueError as exc:
            reason = self.redact(f"it already exists and was not created by this call: {exc}")
            raise ConflictError(
                call.method, call.path, 409, "resource_already_exists_exception", reason
            ) from None
        if not exists:
            return None
        logger.info("%s %s: confirmed by reading it back", call.method, call.path)
        return make_response(body, _confirmed(answer.meta, call=call))

    def _check_product(self, call: Call, headers: Mapping[str, str]) -> None:
        if self.product_checked:
            return
        if headers.get("x-elastic-product") != "Elasticsearch":
            raise UnsupportedProductError(
                f"{call.method} {call.path}: the client noticed that the server is not "
                "Elasticsearch (no 'X-Elastic-Product: Elasticsearch' header); check the URL "
                "points at an Elasticsearch cluster, not Kibana or a proxy",
                method=call.method,
                path=call.path,
            )
        self.product_checked = True


def core_from_arguments(
    hosts: str | Sequence[str] | None,
    *,
    cloud_id: str | None,
    api_key: str | tuple[str, str] | None,
    basic_auth: tuple[str, str] | None,
    bearer_auth: str | None,
    headers: Mapping[str, str] | None,
    policy: RetryPolicy,
) -> ClientCore:
    """Validate the official-client-style constructor arguments into a `ClientCore`.

    Raises:
        ConnectionConfigError: both hosts and a cloud id, several auth methods, a bad URL.
    """
    if hosts and cloud_id:
        raise ConnectionConfigError("Only one of 'hosts' and 'cloud_id' may be given")
    if cloud_id:
        urls = [decode_cloud_id(cloud_id)]
    elif hosts:
        urls = [hosts] if isinstance(hosts, str) else list(hosts)
    else:
        urls = [DEFAULT_URL]
    refuse_control_characters((f"the header {k!r}", v) for k, v in (headers or {}).items())
    clean: list[str] = []
    for url in urls:
        address, creds = normalize_url(url)
        clean.append(address)
        if creds and not basic_auth:
            # `http://user:pass@host` works as in the official client, as basic auth.
            basic_auth = creds
    authorization, redactor = auth_header(api_key, basic_auth, bearer_auth)
    return ClientCore(
        urls=tuple(clean),
        authorization=authorization,
        redact=redactor,
        headers=dict(headers or {}),
        policy=policy,
    )


def _confirmed(meta: ApiResponseMeta, call: Call | None = None) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=meta.status,
        headers=meta.headers,
        call=call or meta.call,
        attempts=meta.attempts,
        confirmed=True,
        duration=meta.duration,
        node=meta.node,
    )


def _transport_error(
    call: Call, outcome: TransportFailure, attempts: int, redact: Redactor
) -> TransportError:
    kind: type[TransportError] = ConnectionTimeout if outcome.kind == "timeout" else ConnectionError
    what = {
        "connect": "could not connect",
        "timeout": "no answer within the request timeout",
        "lost": "connection lost before an answer",
        "tls": "the server's TLS certificate is not trusted: pass --ca-cert FILE (or set "
        "SSL_CERT_FILE) with the CA that signed it",
    }[outcome.kind]
    detail = redact(f"{what} ({outcome.detail})" if outcome.detail else what)
    return kind(call.method, call.path, detail, attempts=attempts)


def _version_of(body: Any) -> ClusterVersion:
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, dict):
        return ClusterVersion()
    number = str(version.get("number", ""))
    major: int | None
    try:
        major = int(number.split(".", 1)[0])
    except ValueError:
        major = None
    return ClusterVersion(number, major, version.get("build_flavor") == "serverless")


__all__ = [
    "ClientCore",
    "ClusterVersion",
    "HttpRequest",
    "RawResponse",
    "Sleep",
    "TransportFailure",
    "core_from_arguments",
]
