"""`MLClient`: the synchronous Elasticsearch ML client (the I/O half; logic lives in `base`).

Input: `Call`s, built by `client.ml.<method>(...)` or passed to `perform`.
Output: `ApiResponse`s, or `ClientError`s. Does network I/O through one `httpx.Client`, and
sleeps between retries.

Seed code written for the official client runs unchanged apart from the import and the
constructor: `MLClient(hosts=["http://localhost:9200"]).ml.put_job(job_id=..., ...)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from reconciler.client import api
from reconciler.client.api import Call
from reconciler.client.base import HttpRequest, Outcome, Sleep
from reconciler.client.errors import ApiError, AuthorizationError, BadRequestError, NotFoundError
from reconciler.client.preflight import ClusterInfo, require_ml, summarize
from reconciler.client.response import ApiResponse, Page
from reconciler.client.transport import (
    ClientBase,
    extensions,
    outcome_of_exception,
    outcome_of_response,
)


class MLClient(ClientBase[ApiResponse]):
    """Synchronous client for the Elasticsearch ML APIs, shaped like the official client.

    The constructor takes the official `Elasticsearch(...)` arguments (see `ClientBase`).

    Example:
        ```python
        client = MLClient(hosts=["https://es:9200"], api_key="id:key")
        client.ml.open_job(job_id="transaction_anomalies")
        ```
    """

    def _open_http(
        self,
        transport: httpx.BaseTransport | None,
        verify: Any,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
    ) -> httpx.Client:
        #: Replaced in tests to observe backoff without waiting.
        self.sleep: Callable[[float], None] = time.sleep
        return httpx.Client(
            transport=transport,
            verify=verify,
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        )

    # ------------------------------------------------------------- the I/O seam

    def perform(
        self,
        call: Call,
        *,
        ndjson: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send one call: retries, the product check and create confirmation included."""
        flow = self._core.perform_flow(call, self._options, ndjson=ndjson, headers=headers)
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
                request.method,
                request.url,
                headers=request.headers,
                content=request.content,
                extensions=extensions(request),
            )
        except httpx.TransportError as exc:
            return outcome_of_exception(exc)
        return outcome_of_response(response)

    _dispatch = perform

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
