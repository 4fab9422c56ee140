"""Fault injection, the request counter, and time-based transitions."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sandbox_helpers import MINIMAL_JOB, Api, Clock

from reconciler.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport

AD = "/_ml/anomaly_detectors"


def test_status_fault_applies_n_times(api: Api) -> None:
    api.ok(
        "PUT",
        "/_sandbox/faults",
        [{"method": "PUT", "path": "^/_ml/anomaly_detectors/.*", "status": 503, "times": 2}],
    )
    for _ in range(2):
        err = api.error(503, "PUT", f"{AD}/j", MINIMAL_JOB)
        assert err["type"] == "cluster_block_exception"
    assert api.ok("GET", AD)["count"] == 0  # failed requests were not applied
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    assert api.ok("GET", "/_sandbox/faults") == {"faults": []}


def test_custom_error_body_and_rate() -> None:
    seeded = Sandbox(
        fault_seed=7,
        faults=[
            {
                "path": "^/_license$",
                "status": 429,
                "error": {"type": "circuit_breaking_exception", "reason": "busy"},
            },
            {"path": "^/_ml/info$", "status": 429, "rate": 0.5},
        ],
    )
    with httpx.Client(transport=SandboxTransport(seeded), base_url="http://x") as client:
        statuses = [client.get("/_ml/info").status_code for _ in range(40)]
        failed = client.get("/_license")
    assert 5 < statuses.count(429) < 35 and statuses.count(200) > 5
    again = Sandbox(fault_seed=7, faults=[{"path": "^/_ml/info$", "status": 429, "rate": 0.5}])
    with httpx.Client(transport=SandboxTransport(again), base_url="http://x") as client:
        assert [client.get("/_ml/info").status_code for _ in range(40)] == statuses  # reproducible
    assert failed.status_code == 429
    assert failed.json()["error"]["type"] == "circuit_breaking_exception"
    assert failed.json()["error"]["reason"] == "busy"


def test_drop_raises_remote_protocol_error_and_is_not_applied(api: Api) -> None:
    api.ok("PUT", "/_sandbox/faults", [{"path": "^/_ml/filters/", "drop": True, "times": 1}])
    with pytest.raises(httpx.RemoteProtocolError):
        api.call("PUT", "/_ml/filters/f", {"items": []})
    assert api.ok("GET", "/_ml/filters")["count"] == 0
    log = api.ok("GET", "/_sandbox/requests")["log"]
    assert log[0] == {"method": "PUT", "path": "/_ml/filters/f", "status": None, "fault": "drop"}


def test_timeout_applies_then_loses_the_answer(api: Api) -> None:
    api.ok(
        "PUT",
        "/_sandbox/faults",
        [{"method": "PUT", "path": "^/_ml/filters/", "timeout": True, "times": 1}],
    )
    with pytest.raises(httpx.ReadTimeout):
        api.call("PUT", "/_ml/filters/f", {"items": []})
    assert api.ok("GET", "/_ml/filters")["count"] == 1  # the create WAS applied
    err = api.error(400, "PUT", "/_ml/filters/f", {"items": []})
    assert err["type"] == "resource_already_exists_exception"


def test_latency_sync_and_async() -> None:
    sandbox = Sandbox(faults=[{"path": "^/$", "latency": 0.05}])
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://x") as client:
        start = time.perf_counter()
        client.get("/")
        assert time.perf_counter() - start >= 0.05
        start = time.perf_counter()
        client.get("/_ml/info")
        assert time.perf_counter() - start < 0.05

    async def run() -> float:
        async with httpx.AsyncClient(
            transport=AsyncSandboxTransport(sandbox), base_url="http://x"
        ) as c:
            begin = time.perf_counter()
            await c.get("/")
            return time.perf_counter() - begin

    assert asyncio.run(run()) >= 0.05


def test_async_drop_and_timeout() -> None:
    sandbox = Sandbox(faults=[{"path": "^/a", "drop": True}, {"path": "^/b", "timeout": True}])

    async def run() -> None:
        async with httpx.AsyncClient(
            transport=AsyncSandboxTransport(sandbox), base_url="http://x"
        ) as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get("/a/_search")
            with pytest.raises(httpx.ReadTimeout):
                await c.put("/b", json={})

    asyncio.run(run())
    assert sandbox.handle("HEAD", "/b", {}, b"").status == 200


def test_bad_fault_rules_are_rejected(api: Api) -> None:
    resp = api.call("PUT", "/_sandbox/faults", [{"path": "("}])
    assert resp.status_code == 400
    resp = api.call("PUT", "/_sandbox/faults", [{"path": "x", "status": 500, "bogus": 1}])
    assert resp.status_code == 400


def test_request_counter(api: Api) -> None:
    api.ok("PUT", f"{AD}/a", MINIMAL_JOB)
    api.ok("GET", f"{AD}/a")
    api.ok("GET", f"{AD}/a")
    api.error(404, "GET", f"{AD}/b")
    api.ok("GET", "/_sandbox/faults")
    log = api.ok("GET", "/_sandbox/requests")
    assert log["total"] == 4
    assert log["by_endpoint"] == {
        "PUT /_ml/anomaly_detectors/{job_id}": 1,
        "GET /_ml/anomaly_detectors/{job_id}": 3,
    }
    assert log["log"][-1] == {"method": "GET", "path": "/_ml/anomaly_detectors/b", "status": 404}
    api.ok("POST", "/_sandbox/requests/_reset")
    assert api.ok("GET", "/_sandbox/requests") == {"total": 0, "by_endpoint": {}, "log": []}
    assert api.ok("GET", AD)["count"] == 1  # resetting the counter keeps the state
    api.ok("POST", "/_sandbox/_reset")
    assert api.ok("GET", AD)["count"] == 0


def test_transitions_take_time_and_pass_through_intermediate_states(api: Api, clock: Clock) -> None:
    assert api.ok("PUT", "/_sandbox/transitions", {"delay": 2})["delay"] == 2.0
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    api.ok("PUT", "/_ml/datafeeds/d", {"job_id": "j", "indices": ["x-*"]})
    api.ok("POST", f"{AD}/j/_open")
    state = lambda: api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"]  # noqa: E731
    assert state() == "opening"
    api.ok("POST", "/_ml/datafeeds/d/_start")  # allowed while the job is opening
    clock.advance(2)
    assert state() == "opened"
    assert api.ok("GET", "/_ml/datafeeds/d/_stats")["datafeeds"][0]["state"] == "started"
    api.ok("POST", "/_ml/datafeeds/d/_stop")
    assert api.ok("GET", "/_ml/datafeeds/d/_stats")["datafeeds"][0]["state"] == "stopping"
    api.ok("POST", f"{AD}/j/_close")
    assert state() == "closing"
    err = api.error(409, "DELETE", f"{AD}/j")
    assert err["reason"] == "Cannot delete job [j] because the job is closing"
    clock.advance(2)
    assert state() == "closed"
    assert api.ok("GET", "/_ml/datafeeds/d/_stats")["datafeeds"][0]["state"] == "stopped"


def test_stuck_transitions_never_complete(api: Api, clock: Clock) -> None:
    api.ok("PUT", "/_sandbox/transitions", {"delay": 1, "stuck": ["j"]})
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    # TransportOpenJobAction waits for the task up to `timeout`, then answers 408; the task stays.
    err = api.error(408, "POST", f"{AD}/j/_open", timeout="10s")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Opening job [j] timed out after [10s]",
    )
    clock.advance(3600)
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "opening"
    api.ok("PUT", "/_sandbox/transitions", {"stuck": []})
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "opened"
