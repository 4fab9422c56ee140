"""`MLClient`: the synchronous Elasticsearch ML client (the I/O half; logic lives in `base`).

Input: `Call`s, built by `client.ml.<method>(...)` or passed to `perform`.
Output: `ApiResponse`s, or `ClientError`s. Does network I/O through one `httpx.Client`, and
sleeps between retries.

Seed code written for the official client runs unchanged apart from the import and the
constructor: `MLClient(hosts=["http://localhost:9200"]).ml.put_job(job_id=..., ...)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from reconciler.client import api
from reconciler.client.api import Call
from reconciler.client.base import HttpRequest, Outcome, Sleep, core_from_arguments
from reconciler.client.connection import ConnectionConfig
from reconciler.client.errors import ApiError, AuthorizationError, BadRequestError, NotFoundError
from reconciler.client.namespaces import LicenseNamespace, MlNamespace, RootMethods
from reconciler.client.preflight import ClusterInfo, require_ml, summarize
from reconciler.client.response import ApiResponse, Page
from reconciler.client.retry import RetryPolicy
from reconciler.client.transport import outcome_of_exception, outcome_of_response, tls_verify


class MLClient(RootMethods[ApiResponse]):
    """Synchronous client for the Elasticsearch ML APIs, shaped like the official client.

    Example:
        ```python
        client = MLClient(hosts=["https://es:9200"], api_key="id:key")
        client.ml.open_job(job_id="transaction_anomalies")
        ```
    """

    def __init__(
        self,
        hosts: str | Sequence[str] | None = None,
        *,
        cloud_id: str | None = None,
        api_key: str | tuple[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        bearer_auth: str | None = None,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        request_timeout: float = 30.0,
        max_retries: int = 3,
        retry_on_status: Sequence[int] = (429, 502, 503, 504),
        retry_on_timeout: bool = True,
        retry_backoff_base: float = 0.5,
        retry_backoff_cap: float = 10.0,
        retry_max_time: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        policy = RetryPolicy(
            max_retries=max_retries,
            retry_on_status=tuple(retry_on_status),
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
        )
        verify = tls_verify(ca_certs, verify_certs, self._core.urls)
        self._http = httpx.Client(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(request_timeout),
            follow_redirects=False,
            trust_env=False,
        )
        #: Replaced in tests to observe backoff without waiting.
        self.sleep: Callable[[float], None] = time.sleep
        self.ml: MlNamespace[ApiResponse] = MlNamespace(self.perform)
        self.license: LicenseNamespace[ApiResponse] = LicenseNamespace(self.perform)

    @classmethod
    def from_config(
        cls, cfg: ConnectionConfig, *, transport: httpx.BaseTransport | None = None, **kwargs: Any
    ) -> MLClient:
        """A client for resolved connection settings (`ConnectionConfig.resolve`)."""
        return cls(**_config_arguments(cfg), transport=transport, **kwargs)

    # ------------------------------------------------------------- the I/O seam

    def perform(self, call: Call) -> ApiResponse:
        """Send one call: retries, the product check and create confirmation included."""
        flow = self._core.perform_flow(call)
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    self.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._send(step))
        except StopIteration as done:
            result: ApiResponse = done.value
            return result

    def _send(self, request: HttpRequest) -> Outcome:
        try:
            response = self._http.request(
                request.method, request.url, headers=request.headers, content=request.content
            )
        except httpx.TransportError as exc:
            return outcome_of_exception(exc)
        return outcome_of_response(response)

    _dispatch = perform

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries, checks and confirmation reads included)."""
        return self._core.request_count

    @property
    def hosts(self) -> tuple[str, ...]:
        """The Elasticsearch URLs this client talks to."""
        return self._core.urls

    # ------------------------------------------------------------- preflight

    def preflight(self, *, require: bool = True) -> ClusterInfo:
        """Cluster name, version, flavour, licence and ML availability (3 requests).

        Raises:
            MLUnavailableError: ML is unlicensed, disabled or in upgrade mode (with
                `require=True`); the error's `cluster` holds the `ClusterInfo`.
            UnsupportedProductError: not Elasticsearch, or not 8.x/9.x.
        """
        root = self.info().body
        try:
            licence: Any = self.license.get().body
        except (NotFoundError, BadRequestError, AuthorizationError):
            licence = None  # serverless has no licence API; monitor privilege may be missing
        ml_error = None
        ml_body: Any = None
        try:
            ml_body = self.ml.info().body
        except ApiError as exc:
            if exc.status not in (400, 403, 404):
                raise
            ml_error = f"{exc.status} {exc.error_type}: {exc.reason}"
        info = summarize(root, licence, ml_body, ml_error)
        if require:
            require_ml(info)
        return info

    # ------------------------------------------------------------- paging

    def _pages(self, make: Callable[[int, int], Call], key: str, size: int) -> Iterator[Any]:
        page = Page(size)
        while (asked := page.next_size()) > 0:
            body = self.perform(make(page.start, asked)).body
            items = body.get(key, []) if isinstance(body, dict) else []
            yield from items
            if not page.advance(len(items), body.get("count") if isinstance(body, dict) else None):
                return

    def iter_filters(self, filter_id: str | None = None, *, size: int = 100) -> Iterator[Any]:
        """Every filter, page by page (ES pages filters 100 at a time by default)."""
        return self._pages(lambda f, s: api.get_filters(filter_id, f, s), "filters", size)

    def iter_calendars(self, *, size: int = 100) -> Iterator[Any]:
        """Every calendar, page by page (paging is only allowed without an id)."""
        return self._pages(lambda f, s: api.get_calendars(None, f, s), "calendars", size)

    def iter_calendar_events(
        self, calendar_id: str = "_all", *, size: int = 100, **params: Any
    ) -> Iterator[Any]:
        """Every scheduled event of a calendar (or all calendars), page by page."""
        return self._pages(
            lambda f, s: api.get_calendar_events(calendar_id, f, s, **params), "events", size
        )

    def iter_data_frame_analytics(
        self, id: str | None = None, *, size: int = 100, **params: Any
    ) -> Iterator[Any]:
        """Every data frame analytics configuration, page by page."""
        return self._pages(
            lambda f, s: api.get_data_frame_analytics(id, from_=f, size=s, **params),
            "data_frame_analytics",
            size,
        )

    def iter_data_frame_analytics_stats(
        self, id: str | None = None, *, size: int = 100, **params: Any
    ) -> Iterator[Any]:
        """Every data frame analytics stats entry, page by page."""
        return self._pages(
            lambda f, s: api.get_data_frame_analytics_stats(id, from_=f, size=s, **params),
            "data_frame_analytics",
            size,
        )

    def iter_buckets(self, job_id: str, *, size: int = 100, **params: Any) -> Iterator[Any]:
        """Every result bucket (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_buckets(job_id, from_=f, size=s, **params), "buckets", size
        )

    def iter_records(self, job_id: str, *, size: int = 100, **params: Any) -> Iterator[Any]:
        """Every anomaly record (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_records(job_id, from_=f, size=s, **params), "records", size
        )

    def iter_influencers(self, job_id: str, *, size: int = 100, **params: Any) -> Iterator[Any]:
        """Every influencer (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_influencers(job_id, from_=f, size=s, **params),
            "influencers",
            size,
        )

    def iter_categories(self, job_id: str, *, size: int = 100, **params: Any) -> Iterator[Any]:
        """Every category definition (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_categories(job_id, None, from_=f, size=s, **params),
            "categories",
            size,
        )

    def iter_model_snapshots(self, job_id: str, *, size: int = 100, **params: Any) -> Iterator[Any]:
        """Every model snapshot of a job (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_model_snapshots(job_id, None, from_=f, size=s, **params),
            "model_snapshots",
            size,
        )

    # ------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> MLClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MLClient(hosts={list(self._core.urls)!r})"


def _config_arguments(cfg: ConnectionConfig) -> dict[str, Any]:
    """Constructor arguments for a resolved `ConnectionConfig` (shared with the async client)."""
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
