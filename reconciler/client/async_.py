"""`AsyncMLClient`: the asyncio Elasticsearch ML client (the I/O half; logic lives in `base`).

Input: `Call`s, built by `client.ml.<method>(...)` or passed to `perform`.
Output: awaitables of `ApiResponse`s, or `ClientError`s. Does network I/O through one
`httpx.AsyncClient`, and sleeps (asynchronously) between retries.

The same request building, retry decisions, product check and error mapping as `MLClient`
(`reconciler.client.base`); only sending and sleeping differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
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

AR = Coroutine[Any, Any, ApiResponse]


class AsyncMLClient(ClientBase[AR]):
    """Asyncio client for the Elasticsearch ML APIs, shaped like the official `AsyncElasticsearch`.

    The constructor takes the official `AsyncElasticsearch(...)` arguments (see `ClientBase`).

    Example:
        ```python
        async with AsyncMLClient(hosts=["https://es:9200"], api_key="id:key") as client:
            await client.ml.open_job(job_id="transaction_anomalies")
        ```
    """

    def _open_http(
        self,
        transport: httpx.AsyncBaseTransport | None,
        verify: Any,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
    ) -> httpx.AsyncClient:
        #: Replaced in tests to observe backoff without waiting.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        return httpx.AsyncClient(
            transport=transport,
            verify=verify,
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        )

    # ------------------------------------------------------------- the I/O seam

    async def perform(
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
                    await self.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._send(step))
        except StopIteration as done:
            result: ApiResponse = done.value
            return result

    async def _send(self, request: HttpRequest) -> Outcome:
        try:
            response = await self._http.request(
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

    async def preflight(self, *, require: bool = True) -> ClusterInfo:
        """Cluster name, version, flavour, licence and ML availability (3 requests).

        Raises:
            MLUnavailableError: ML is unlicensed, disabled or in upgrade mode (with
                `require=True`); the error's `cluster` holds the `ClusterInfo`.
            UnsupportedProductError: not Elasticsearch, or not 8.x/9.x.
        """
        root = (await self.info()).body
        try:
            licence: Any = (await self.license.get()).body
        except (NotFoundError, BadRequestError, AuthorizationError):
            licence = None  # serverless has no licence API; monitor privilege may be missing
        ml_error = None
        ml_body: Any = None
        try:
            ml_body = (await self.ml.info()).body
        except ApiError as exc:
            if exc.status not in (400, 403, 404):
                raise
            ml_error = f"{exc.status} {exc.error_type}: {exc.reason}"
        info = summarize(root, licence, ml_body, ml_error)
        if require:
            require_ml(info)
        return info

    # ------------------------------------------------------------- paging

    async def _pages(
        self, make: Callable[[int, int], Call], key: str, size: int
    ) -> AsyncIterator[Any]:
        page = Page(size)
        while (asked := page.next_size()) > 0:
            body = (await self.perform(make(page.start, asked))).body
            items = body.get(key, []) if isinstance(body, dict) else []
            for item in items:
                yield item
            if not page.advance(len(items), body.get("count") if isinstance(body, dict) else None):
                return

    def iter_filters(self, filter_id: str | None = None, *, size: int = 100) -> AsyncIterator[Any]:
        """Every filter, page by page (ES pages filters 100 at a time by default)."""
        return self._pages(lambda f, s: api.get_filters(filter_id, f, s), "filters", size)

    def iter_calendars(self, *, size: int = 100) -> AsyncIterator[Any]:
        """Every calendar, page by page (paging is only allowed without an id)."""
        return self._pages(lambda f, s: api.get_calendars(None, f, s), "calendars", size)

    def iter_calendar_events(
        self, calendar_id: str = "_all", *, size: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every scheduled event of a calendar (or all calendars), page by page."""
        return self._pages(
            lambda f, s: api.get_calendar_events(calendar_id, f, s, **params), "events", size
        )

    def iter_data_frame_analytics(
        self, id: str | None = None, *, size: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every data frame analytics configuration, page by page."""
        return self._pages(
            lambda f, s: api.get_data_frame_analytics(id, from_=f, size=s, **params),
            "data_frame_analytics",
            size,
        )

    def iter_data_frame_analytics_stats(
        self, id: str | None = None, *, size: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every data frame analytics stats entry, page by page."""
        return self._pages(
            lambda f, s: api.get_data_frame_analytics_stats(id, from_=f, size=s, **params),
            "data_frame_analytics",
            size,
        )

    def iter_buckets(self, job_id: str, *, size: int = 100, **params: Any) -> AsyncIterator[Any]:
        """Every result bucket (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_buckets(job_id, from_=f, size=s, **params), "buckets", size
        )

    def iter_records(self, job_id: str, *, size: int = 100, **params: Any) -> AsyncIterator[Any]:
        """Every anomaly record (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_records(job_id, from_=f, size=s, **params), "records", size
        )

    def iter_influencers(
        self, job_id: str, *, size: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every influencer (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_influencers(job_id, from_=f, size=s, **params),
            "influencers",
            size,
        )

    def iter_categories(self, job_id: str, *, size: int = 100, **params: Any) -> AsyncIterator[Any]:
        """Every category definition (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_categories(job_id, None, from_=f, size=s, **params),
            "categories",
            size,
        )

    def iter_model_snapshots(
        self, job_id: str, *, size: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every model snapshot of a job (within ES's 10 000 paging window)."""
        return self._pages(
            lambda f, s: api.get_model_snapshots(job_id, None, from_=f, size=s, **params),
            "model_snapshots",
            size,
        )

    # ------------------------------------------------------------- lifecycle

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMLClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
