"""AsyncMLClient: the same shared logic, driven by the asyncio I/O half."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from client_fakes import FakeES, async_client, es_error, ok

from reconciler.client.errors import MLUnavailableError, NotFoundError, UnsupportedProductError


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_compat_headers_errors_and_response_objects(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors/j",
        es_error(404, "resource_not_found_exception", "No known job with id 'j'"),
    )
    fake.on("GET", "/_ml/datafeeds", ok({"count": 0, "datafeeds": []}))

    async def scenario() -> Any:
        async with async_client(fake) as client:
            with pytest.raises(NotFoundError) as err:
                await client.ml.get_jobs(job_id="j")
            resp = await client.ml.get_datafeeds()
            return err.value, resp, client.request_count

    err, resp, count = run(scenario())
    expected = "404 resource_not_found_exception: No known job with id 'j'"
    assert err.summary == f"GET /_ml/anomaly_detectors/j -> {expected}"
    assert (
        str(err)
        == "NotFoundError(404, 'resource_not_found_exception', \"No known job with id 'j'\")"
    )
    assert resp.body == {"count": 0, "datafeeds": []} and resp.meta.status == 200
    assert count == 2  # no `GET /` of the client's own
    assert fake.requests[0].headers["accept"] == "application/json"


def test_backoff_sleeps_are_awaited_and_bounded(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/filters",
        es_error(503, "unavailable", "x"),
        es_error(503, "unavailable", "x"),
        ok({"count": 0, "filters": []}),
    )
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def scenario() -> None:
        client = async_client(fake, retry_backoff_base=0.2, retry_backoff_cap=0.3)
        client.sleep = record
        await client.ml.get_filters()
        await client.close()

    run(scenario())
    assert len(waits) == 2 and 0.1 <= waits[0] <= 0.2 and 0.15 <= waits[1] <= 0.3


def test_product_check_and_preflight(fake: FakeES) -> None:
    fake.on("GET", "/_license", ok({"license": {"type": "basic", "status": "active"}}))
    fake.on("GET", "/_ml/info", ok({"upgrade_mode": False, "limits": {}}))
    not_es = FakeES().on("GET", "/", httpx.Response(200, json={}))

    async def scenario() -> Any:
        with pytest.raises(UnsupportedProductError):
            await async_client(not_es).info()
        client = async_client(fake)
        info = await client.preflight(require=False)
        with pytest.raises(MLUnavailableError, match="basic"):
            await client.preflight()
        return info

    info = run(scenario())
    assert (
        info.license_type == "basic"
        and not info.ml_available
        and info.cluster_name == "test-cluster"
    )


def test_async_paging(fake: FakeES) -> None:
    events = [{"event_id": str(i)} for i in range(205)]

    def page(request: httpx.Request) -> httpx.Response:
        start, size = int(request.url.params["from"]), int(request.url.params["size"])
        return ok({"count": len(events), "events": events[start : start + size]})

    fake.on("GET", "/_ml/calendars/_all/events", page)

    async def scenario() -> list[Any]:
        async with async_client(fake) as client:
            return [e async for e in client.iter_calendar_events()]

    assert run(scenario()) == events
    assert len(fake.sent("GET", "/_ml/calendars/_all/events")) == 3
