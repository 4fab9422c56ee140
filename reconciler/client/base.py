"""The client logic shared by `MLClient` and `AsyncMLClient`, written once and free of I/O.

Input: a `Call`, and (sent in by a driver) the outcome of each HTTP request it asks for.
Output: a generator that yields `HttpRequest`s to send and `Sleep`s to wait, and returns the
`ApiResponse` (or raises a `ClientError`). No I/O: the sync and async clients drive this
generator with their own httpx client and sleep, in the sans-IO style of httpx's auth flows.

What happens here, for every call:
- Requests are sent as plain `application/json` until an answer to `GET /` (the user's own
  `info()`, or `preflight()`) has revealed the version; later requests carry
  `compatible-with=<major>` media types for majors >= 8 (or `elastic-api-version` on
  serverless), ux-conventions.md §1.6. No extra request is ever sent for that.
- The first 2xx answer must carry `X-Elastic-Product: Elasticsearch` (es-ml-api.md §0.1), as
  the official client checks it: on the first real answer, not with a `GET /` of its own.
- Error statuses listed in `ignore_status` (and 404 for HEAD, an "exists" answer) are
  returned as responses, as the official client does.
- Failures are retried per `RetryPolicy`; a create whose answer was lost is confirmed by
  reading it back; an already-done transition or delete after a retry counts as done.
- Errors become the `ClientError` tree; logs say method, path and status, never headers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    SSLError,
    TransportError,
    UnsupportedProductError,
    api_error_class,
)
from reconciler.client.options import RequestOptions
from reconciler.client.response import (
    ApiResponse,
    ApiResponseMeta,
    HttpHeaders,
    decode_body,
    error_details,
    make_error,
    make_response,
)
from reconciler.client.retry import Action, FailureKind, RetryPolicy, parse_retry_after
from reconciler.client.serializer import dumps, dumps_ndjson

logger = logging.getLogger("reconciler.client")

#: The REST API version serverless projects are addressed with (ux-conventions.md §1.6).
SERVERLESS_API_VERSION = "2023-10-31"
JSON = "application/json"
NDJSON = "application/x-ndjson"
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
    #: Seconds to wait for this request; None keeps the connection pool's timeout.
    timeout: float | None = None
    #: The client's redactor, so that the repr hides configured secrets in other headers too.
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        # The dataclass repr would print the Authorization header (finding B4).
        size = None if self.content is None else len(self.content)
        url = self.redact(self.url) if self.redact else self.url
        return (
            f"HttpRequest(method={self.method!r}, url={url!r}, "
            f"headers={masked_headers(self.headers, self.redact)!r}, content_bytes={size!r}, "
            f"node={self.node!r}, timeout={self.timeout!r})"
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
    #: The TLS handshake or certificate check failed (reported as `SSLError`).
    tls: bool = False


Outcome = RawResponse | TransportFailure
Step = HttpRequest | Sleep
Flow = Generator[Step, Outcome | None, ApiResponse]


@dataclass
class ClusterVersion:
    """What an answer to `GET /` revealed."""

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

    def media_headers(self, ndjson: bool = False) -> dict[str, str]:
        """`Accept`/`Content-Type` for the detected cluster (ux-conventions.md §1.6)."""
        version = self.version
        accept, content = JSON, NDJSON if ndjson else JSON
        extra: dict[str, str] = {}
        if version is not None and version.serverless:
            extra["elastic-api-version"] = SERVERLESS_API_VERSION
        elif version is not None and version.major is not None and version.major >= 8:
            compat = f"compatible-with={version.major}"
            accept = f"application/vnd.elasticsearch+json; {compat}"
            content = f"application/vnd.elasticsearch+{'x-ndjson' if ndjson else 'json'}; {compat}"
        return {"accept": accept, "content-type": content, **extra}

    def build(
        self,
        call: Call,
        options: RequestOptions | None = None,
        *,
        ndjson: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        """The HTTP request for `call` against the current host.

        Raises:
            SerializationError: the body holds a value JSON cannot represent.
        """
        options = options or RequestOptions(policy=self.policy)
        node = self.urls[self._host % len(self.urls)]
        url = node + call.path
        if call.params:
            url += "?" + urlencode(call.params)
        sent = {"user-agent": self.user_agent, **self.media_headers(ndjson)}
        sent.update({k.lower(): v for k, v in self.headers.items()})
        sent.update(options.headers)
        sent.update({k.lower(): v for k, v in (headers or {}).items()})
        authorization = options.authorization or self.authorization
        if authorization:
            sent["authorization"] = authorization
        content = None
        if call.body is not None:
            content = dumps_ndjson(call.body) if ndjson else dumps(call.body)
        else:
            sent.pop("content-type", None)
        redact = self.redact if options.redact is None else _both(self.redact, options.redact)
        return HttpRequest(
            call.method, url, sent, content, node, options.request_timeout, redact=redact
        )

    # ----------------------------------------------------------------- the flow

    def perform_flow(
        self,
        call: Call,
        options: RequestOptions | None = None,
        *,
        ndjson: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Flow:
        """Send `call` with retries and create confirmation; check the product on the way."""
        options = options or RequestOptions(policy=self.policy)
        answer = yield from self._attempts(call, options, ndjson=ndjson, headers=headers)
        if call.method == "GET" and call.path == "/" and 200 <= answer.meta.status < 300:
            self.version = _version_of(answer.body)
        return answer

    def _attempts(
        self,
        call: Call,
        options: RequestOptions,
        *,
        ndjson: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Flow:
        klass = api.classify(call)
        policy = options.policy
        redact = self.redact if options.redact is None else _both(self.redact, options.redact)
        started = self.clock()
        retries = 0
        sent = 0
        # Set once an attempt may have taken effect without us hearing it: a lost answer
        # (read timeout, broken connection) or 502/503/504 (retry.py). Only then can an error
        # on a later attempt mean "the earlier attempt already did it" (`api.already_done`);
        # after a refused connection or a 429 nothing was applied and an error is an error.
        maybe_applied = False
        while True:
            request = self.build(call, options, ndjson=ndjson, headers=headers)
            self.request_count += 1
            sent += 1
            began = self.clock()
            outcome = yield request
            if outcome is None:  # pragma: no cover - a driver bug, not a network condition
                raise TypeError("the driver must send back the outcome of each request")
            took = self.clock() - began
            retry_after = None
            if isinstance(outcome, RawResponse):
                answer_headers = HttpHeaders(outcome.headers)
                body = decode_body(outcome.content, answer_headers.get("content-type", ""))
                status = outcome.status
                logger.debug("%s %s -> %s (%.3fs)", call.method, call.path, status, took)
                meta = ApiResponseMeta(
                    status=status,
                    headers=answer_headers,
                    call=call,
                    attempts=sent,
                    duration=took,
                    node=request.node,
                    repeated=maybe_applied,
                )
                if 200 <= status < 300:
                    self._check_product(call, answer_headers)
                    return make_response(body, meta)
                if call.method == "HEAD" and status == 404:
                    return make_response(body, meta)  # "does not exist" is an answer
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
                error: Exception = make_error(call, status, body, redact, meta)
                if 300 <= status < 400:
                    # Redirects are never followed (credentials would go elsewhere): say where.
                    where = redact(answer_headers.get("location", "")) or "no Location header"
                    error = api_error_class(status)(
                        "redirect",
                        meta,
                        None,
                        reason=f"the server redirects to {where}; mlsync does not follow "
                        "redirects, so point --url (or MLSYNC_URL) at the final address",
                        method=call.method,
                        path=call.path,
                    )
                ignored = status in options.ignore_status
                retry_after = parse_retry_after(answer_headers.get("retry-after"))
                maybe_applied = maybe_applied or status in _MAYBE_APPLIED_STATUSES
            else:
                logger.debug("%s %s -> %s (%.3fs)", call.method, call.path, outcome.kind, took)
                failure = outcome.kind
                error = _transport_error(call, outcome, sent, redact)
                if outcome.tls:
                    # A certificate the client does not trust stays untrusted: no retry.
                    raise error
                ignored = False
                maybe_applied = maybe_applied or outcome.kind in ("timeout", "lost")
                if outcome.tls and len(self.urls) == 1:
                    raise error  # a certificate that failed the check fails it again
                self._host += 1  # try the next host, if there is one
            decision = policy.decide(
                klass, failure, retries, self.clock() - started, retry_after, self.rng
            )
            if decision.action is Action.GIVE_UP:
                if ignored and isinstance(outcome, RawResponse):
                    return make_response(body, meta)  # `options(ignore_status=...)`
                raise error
            logger.warning(
                "%s %s -> %s; %s in %.2fs (retry %d of %d)",
                call.method,
                call.path,
                failure,
                "confirming" if decision.action is Action.CONFIRM else "retrying",
                decision.delay,
                retries + 1,
                policy.max_retries,
            )
            yield Sleep(decision.delay)
            retries += 1
            if decision.action is Action.CONFIRM:
                confirmed = yield from self._confirm(call, options)
                if confirmed is not None:
                    return confirmed

    def _confirm(
        self, call: Call, options: RequestOptions
    ) -> Generator[Step, Outcome | None, ApiResponse | None]:
        """Read back a create whose answer was lost: the response if it exists, else None."""
        read = api.confirmation_read(call)
        if read is None:  # pragma: no cover - CREATE calls always have a read
            return None
        try:
            answer = yield from self._attempts(read, replace(options, ignore_status=frozenset()))
        except NotFoundError:
            logger.info("%s %s: not created yet, sending it again", call.method, call.path)
            return None
        try:
            exists, body = api.confirmed_object(call, answer.body)
        except ValueError as exc:
            reason = self.redact(f"it already exists and was not created by this call: {exc}")
            meta = ApiResponseMeta(status=409, headers=HttpHeaders(), call=call)
            raise ConflictError(
                "resource_already_exists_exception", meta, None, reason=reason
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


Host = str | Mapping[str, Any]


def host_url(host: Host) -> str:
    """One entry of `hosts`: a URL, or the official client's dict form.

    `{"host": "es1", "port": 9200, "scheme": "https", "path_prefix": "/es"}`; the scheme
    defaults to http and the port to 9200, as in elasticsearch-py.

    Raises:
        ConnectionConfigError: a dict without `host`, or with keys the client does not know.
    """
    if isinstance(host, str):
        return host
    unknown = set(host) - {"host", "port", "scheme", "path_prefix", "url_prefix"}
    if "host" not in host or unknown:
        raise ConnectionConfigError(
            "a host given as a dict needs 'host' and may have 'port', 'scheme' and "
            f"'path_prefix'; got keys {sorted(host)}"
        )
    scheme = str(host.get("scheme", "http"))
    prefix = str(host.get("path_prefix", host.get("url_prefix", "")) or "")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    name = str(host["host"])
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 address
    return f"{scheme}://{name}:{int(host.get('port', 9200))}{prefix}"


def core_from_arguments(
    hosts: Host | Sequence[Host] | None,
    *,
    cloud_id: str | None,
    api_key: str | tuple[str, str] | None,
    basic_auth: str | tuple[str, str] | None,
    bearer_auth: str | None,
    headers: Mapping[str, str] | None,
    policy: RetryPolicy,
    opaque_id: str | None = None,
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
        many = isinstance(hosts, Sequence) and not isinstance(hosts, str)
        urls = [host_url(h) for h in hosts] if many else [host_url(hosts)]  # type: ignore[arg-type]
    else:
        urls = [DEFAULT_URL]
    if isinstance(basic_auth, str):
        user, _, password = basic_auth.partition(":")
        basic_auth = (user, password)
    refuse_control_characters((f"the header {k!r}", v) for k, v in (headers or {}).items())
    clean: list[str] = []
    for url in urls:
        address, creds = normalize_url(url)
        clean.append(address)
        if creds and not basic_auth:
            # `http://user:pass@host` works as in the official client, as basic auth.
            basic_auth = creds
    authorization, redactor = auth_header(api_key, basic_auth, bearer_auth)
    extra = dict(headers or {})
    if opaque_id is not None:
        extra["x-opaque-id"] = opaque_id
    return ClientCore(
        urls=tuple(clean),
        authorization=authorization,
        redact=redactor,
        headers=extra,
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


def _both(first: Callable[[str], str], second: Callable[[str], str]) -> Callable[[str], str]:
    """A redactor that applies the client's and an `options()` view's secrets."""
    return lambda text: second(first(text))


def _transport_error(
    call: Call, outcome: TransportFailure, attempts: int, redact: Callable[[str], str]
) -> TransportError:
    kind: type[TransportError] = ConnectionTimeout if outcome.kind == "timeout" else ConnectionError
    what = {
        "connect": "could not connect",
        "timeout": "no answer within the request timeout",
        "lost": "connection lost before an answer",
    }[outcome.kind]
    if outcome.tls:
        kind = SSLError
        what = (
            "the TLS handshake failed; if the server's certificate is not trusted, pass "
            "--ca-cert FILE (or set SSL_CERT_FILE) with the CA that signed it"
        )
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
