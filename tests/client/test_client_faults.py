"""Retries, backoff limits, timeouts and create confirmation against the sandbox's fault injection.

Every test drives the real client into the real emulator (in process, or over a socket for
timeouts) and checks the emulator's own request log: what was actually sent and applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler import AsyncMLClient, MLClient
from reconciler.client import api
from reconciler.client.errors import (
    BadRequestError,
    ConnectionError,
    ConnectionTimeout,
    ServerError,
)
from reconciler.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport, start_in_thread

#: Fast backoff, and mlsync's CLI policy of retrying timeouts (the constructor's default is the
#: official client's: not retried).
FAST = {"retry_backoff_base": 0.001, "retry_backoff_cap": 0.004, "retry_on_timeout": True}
COUNT_JOB = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


class Admin:
    """The sandbox admin endpoints, outside the client under test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.http = httpx.Client(transport=SandboxTransport(sandbox), base_url="http://sandbox")

    def faults(self, *rules: dict[str, Any]) -> None:
        self.http.put("/_sandbox/faults", json=list(rules)).raise_for_status()

    def log(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        entries = self.http.get("/_sandbox/requests").json()["log"]
        return [
            e
            for e in entries
            if (method is None or e["method"] == method) and (path is None or e["path"] == path)
        ]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(implicit_indices=True)


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[Admin]:
    a = Admin(sandbox)
    yield a
    a.http.close()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[MLClient]:
    c = MLClient(transport=SandboxTransport(sandbox), **FAST)  # type: ignore[arg-type]
    yield c
    c.close()


def test_reads_ride_out_transient_503s(client: MLClient, admin: Admin) -> None:
    admin.faults({"method": "GET", "path": "^/_ml/anomaly_detectors$", "status": 503, "times": 2})
    waits: list[float] = []
    client.sleep = waits.append
    assert client.ml.get_jobs().body == {"count": 0, "jobs": []}
    assert [e["status"] for e in admin.log("GET", "/_ml/anomaly_detectors")] == [503, 503, 200]
    assert len(waits) == 2 and all(0 < w <= 0.004 for w in waits)


def test_backoff_and_attempts_are_bounded(sandbox: Sandbox, admin: Admin) -> None:
    admin.faults({"path": "^/_ml/filters$", "status": 503})
    client = MLClient(
        transport=SandboxTransport(sandbox),
        max_retries=4,
        retry_backoff_base=0.01,
        retry_backoff_cap=0.02,
    )
    waits: list[float] = []
    client.sleep = waits.append
    with pytest.raises(ServerError) as err:
        client.ml.get_filters()
    assert err.value.status == 503
    assert len(admin.log("GET", "/_ml/filters")) == 5  # 1 + max_retries
    expected_ceilings = [0.01, 0.02, 0.02, 0.02]  # min(cap, base * 2**n)
    assert all(c / 2 <= w <= c for w, c in zip(waits, expected_ceilings, strict=True))


def test_a_create_whose_answer_is_lost_is_confirmed_not_resent(
    client: MLClient, admin: Admin
) -> None:
    admin.faults(
        {"method": "PUT", "path": "^/_ml/anomaly_detectors/j1$", "timeout": True, "times": 1}
    )
    resp = client.ml.put_job(job_id="j1", description="confirmed", **COUNT_JOB)
    assert (
        resp.meta.confirmed
        and resp.body["job_id"] == "j1"
        and resp.body["description"] == "confirmed"
    )
    assert [e["status"] for e in admin.log("PUT", "/_ml/anomaly_detectors/j1")] == [
        200
    ]  # applied once
    assert len(admin.log("GET", "/_ml/anomaly_detectors/j1")) == 1


def test_a_create_that_was_dropped_is_read_then_sent_again(client: MLClient, admin: Admin) -> None:
    admin.faults({"method": "PUT", "path": "^/_ml/filters/safe_ips$", "drop": True, "times": 1})
    resp = client.ml.put_filter(filter_id="safe_ips", items=["10.0.0.2", "10.0.0.1"])
    assert resp.body == {"filter_id": "safe_ips", "items": ["10.0.0.1", "10.0.0.2"]}
    assert not resp.meta.confirmed
    sent = [(e["method"], e["path"]) for e in admin.log() if "safe_ips" in e["path"]]
    assert sent == [
        ("PUT", "/_ml/filters/safe_ips"),
        ("GET", "/_ml/filters/safe_ips"),
        ("PUT", "/_ml/filters/safe_ips"),
    ]


def test_a_lock_document_create_is_confirmed_by_its_content(client: MLClient, admin: Admin) -> None:
    admin.faults({"method": "PUT", "path": "^/mlsync-locks/_create/", "timeout": True, "times": 1})
    resp = client.create(
        index="mlsync-locks", id="default", document={"lock_id": "L-1", "holder": "ci"}
    )
    assert resp.meta.confirmed and resp.body["result"] == "created" and resp.body["_seq_no"] >= 0
    assert len(admin.log("PUT", "/mlsync-locks/_create/default")) == 1


def test_a_bulk_of_creates_whose_answer_is_lost_is_sent_again_and_says_so(
    client: MLClient, admin: Admin
) -> None:
    admin.faults({"method": "POST", "path": "/_bulk$", "timeout": True, "times": 1})
    ops = [{"create": {"_id": "a"}}, {"v": 1}, {"delete": {"_id": "gone"}}]
    resp = client.perform(api.bulk("docs", ops), ndjson=True)
    # The first attempt landed: the repeat finds its document (409) and nothing to delete.
    assert [e["status"] for e in admin.log("POST", "/docs/_bulk")] == [200, 200]
    assert [i["create"]["status"] for i in resp.body["items"][:1]] == [409]
    assert resp.meta.repeated and not resp.meta.confirmed
    fresh = client.perform(api.bulk("docs", [{"create": {"_id": "b"}}, {"v": 2}]), ndjson=True)
    assert not fresh.meta.repeated


def test_a_bulk_with_index_writes_is_not_sent_again_after_a_lost_answer(
    client: MLClient, admin: Admin
) -> None:
    admin.faults({"method": "POST", "path": "/_bulk$", "timeout": True, "times": 1})
    with pytest.raises(ConnectionTimeout):
        client.perform(api.bulk("docs", [{"index": {"_id": "a"}}, {"v": 1}]), ndjson=True)
    assert len(admin.log("POST", "/docs/_bulk")) == 1


def test_a_delete_whose_answer_is_lost_is_done_when_the_retry_says_404(
    client: MLClient, admin: Admin
) -> None:
    client.ml.put_job(job_id="j2", **COUNT_JOB)
    admin.faults(
        {"method": "DELETE", "path": "^/_ml/anomaly_detectors/j2$", "timeout": True, "times": 1}
    )
    resp = client.ml.delete_job(job_id="j2")
    assert resp.body == {"acknowledged": True} and resp.meta.confirmed
    assert [e["status"] for e in admin.log("DELETE", "/_ml/anomaly_detectors/j2")] == [200, 404]


def test_an_open_whose_answer_is_lost_is_done_when_es_says_already_opened(
    client: MLClient, admin: Admin
) -> None:
    client.ml.put_job(job_id="j3", **COUNT_JOB)
    admin.faults({"method": "POST", "path": "/_open$", "timeout": True, "times": 1})
    assert client.ml.open_job(job_id="j3").body == {"opened": True}
    assert [e["status"] for e in admin.log("POST", "/_ml/anomaly_detectors/j3/_open")] == [200, 409]
    assert client.ml.get_job_stats(job_id="j3")["jobs"][0]["state"] == "opened"


def test_a_dropped_create_is_not_confirmed_by_a_group_of_the_same_name(
    client: MLClient, admin: Admin
) -> None:
    # B3: `GET /_ml/anomaly_detectors/team` expands group `team` to job `other` (§0.4); the
    # read-back must not take `other` for the job `team` the lost PUT was creating.
    client.ml.put_job(job_id="other", groups=["team"], **COUNT_JOB)
    admin.faults(
        {"method": "PUT", "path": "^/_ml/anomaly_detectors/team$", "drop": True, "times": 1}
    )
    with pytest.raises(BadRequestError) as err:
        client.ml.put_job(job_id="team", **COUNT_JOB)
    assert (err.value.status, err.value.error_type, err.value.reason) == (
        400,
        "resource_already_exists_exception",
        "The job cannot be created with the Id 'team'. The Id is already used.",
    )
    sent = [(e["method"], e["status"]) for e in admin.log() if e["path"].endswith("/team")]
    assert sent == [("PUT", None), ("GET", 200), ("PUT", 400)]
    assert [j["job_id"] for j in client.ml.get_jobs()["jobs"]] == ["other"]


def test_a_calendar_job_removal_whose_answer_is_lost_is_done_when_es_says_not_present(
    client: MLClient, admin: Admin
) -> None:
    # C7: the repeat of an applied removal answers 400 "not present" (es-ml-api.md §4.2).
    client.ml.put_calendar(calendar_id="wildlife", job_ids=["otter", "seal"])
    admin.faults(
        {"method": "DELETE", "path": "^/_ml/calendars/wildlife/jobs/", "timeout": True, "times": 1}
    )
    resp = client.ml.delete_calendar_job(calendar_id="wildlife", job_id="otter")
    assert resp.body == {"calendar_id": "wildlife"} and resp.meta.confirmed
    path = "/_ml/calendars/wildlife/jobs/otter"
    assert [e["status"] for e in admin.log("DELETE", path)] == [200, 400]
    assert client.ml.get_calendars(calendar_id="wildlife")["calendars"][0]["job_ids"] == ["seal"]


def test_not_present_after_a_refused_attempt_is_still_an_error(
    client: MLClient, admin: Admin
) -> None:
    # A 429 means the first attempt was never applied: the 400 of the retry is genuine.
    client.ml.put_calendar(calendar_id="wildlife", job_ids=["seal"])
    admin.faults(
        {"method": "DELETE", "path": "^/_ml/calendars/wildlife/jobs/", "status": 429, "times": 1}
    )
    with pytest.raises(BadRequestError) as err:
        client.ml.delete_calendar_job(calendar_id="wildlife", job_id="otter")
    assert err.value.reason == "Cannot remove [otter] as it is not present in calendar [wildlife]"
    path = "/_ml/calendars/wildlife/jobs/otter"
    assert [e["status"] for e in admin.log("DELETE", path)] == [429, 400]


def test_other_writes_are_never_repeated_after_a_lost_answer(
    client: MLClient, admin: Admin
) -> None:
    client.ml.put_job(job_id="j4", **COUNT_JOB)
    admin.faults({"method": "POST", "path": "_update$", "timeout": True, "times": 1})
    with pytest.raises(ConnectionTimeout):
        client.ml.update_job(job_id="j4", description="once")
    assert len(admin.log("POST", "/_ml/anomaly_detectors/j4/_update")) == 1
    assert client.ml.get_jobs(job_id="j4")["jobs"][0]["description"] == "once"  # it was applied


def test_dropped_connections_on_reads_are_retried_then_reported(
    sandbox: Sandbox, admin: Admin
) -> None:
    admin.faults({"method": "GET", "path": "^/_ml/datafeeds$", "drop": True})
    client = MLClient(transport=SandboxTransport(sandbox), max_retries=2, **FAST)  # type: ignore[arg-type]
    with pytest.raises(
        ConnectionError, match=r"connection lost before an answer.*after 3 attempts"
    ):
        client.ml.get_datafeeds()


@pytest.fixture
def socket_sandbox() -> Iterator[tuple[str, Admin]]:
    sandbox = Sandbox()
    with start_in_thread(sandbox) as server:
        admin = Admin(sandbox)
        yield server.url, admin
        admin.http.close()


def test_request_timeout_with_injected_latency_over_a_socket(
    socket_sandbox: tuple[str, Admin],
) -> None:
    url, admin = socket_sandbox
    admin.faults({"method": "GET", "path": "^/_ml/info$", "latency": 0.4})
    client = MLClient(hosts=[url], request_timeout=0.1, max_retries=1, **FAST)  # type: ignore[arg-type]
    client.info()  # the root GET is not delayed
    began = time.monotonic()
    with pytest.raises(
        ConnectionTimeout, match=r"GET /_ml/info -> no answer within the request timeout"
    ):
        client.ml.info()
    assert time.monotonic() - began < 0.6  # two attempts cut at 0.1s each, not two of 0.4s
    admin.faults()
    assert "defaults" in client.ml.info().body
    client.close()


# ----------------------------------------------------------------- paging past one page


def test_paging_through_filters_calendars_events_and_analytics(
    client: MLClient, admin: Admin
) -> None:
    for i in range(120):
        client.ml.put_filter(filter_id=f"f{i:03d}", items=[f"x{i}"])
    for i in range(12):
        client.ml.put_calendar(calendar_id=f"cal{i:02d}")
    client.ml.post_calendar_events(
        calendar_id="cal00",
        events=[
            {
                "description": f"e{i}",
                "start_time": 1_700_000_000_000 + i * 3_600_000,
                "end_time": 1_700_000_000_000 + i * 3_600_000 + 60_000,
            }
            for i in range(130)
        ],
    )
    for i in range(23):
        client.ml.put_data_frame_analytics(
            id=f"dfa{i:02d}",
            source={"index": "src"},
            dest={"index": f"dst{i}"},
            analysis={"outlier_detection": {}},
        )

    assert [f["filter_id"] for f in client.iter_filters(size=50)] == [
        f"f{i:03d}" for i in range(120)
    ]
    assert len(admin.log("GET", "/_ml/filters")) == 3
    assert [c["calendar_id"] for c in client.iter_calendars(size=5)] == [
        f"cal{i:02d}" for i in range(12)
    ]
    events = list(client.iter_calendar_events("cal00"))
    assert [e["description"] for e in events] == [f"e{i}" for i in range(130)]
    assert len(admin.log("GET", "/_ml/calendars/cal00/events")) == 2
    assert [d["id"] for d in client.iter_data_frame_analytics(size=10)] == [
        f"dfa{i:02d}" for i in range(23)
    ]
    stats = list(client.iter_data_frame_analytics_stats(size=10))
    assert len(stats) == 23 and {s["state"] for s in stats} == {"stopped"}


def test_results_are_paged(client: MLClient, admin: Admin) -> None:
    client.ml.put_job(job_id="r1", **COUNT_JOB)
    buckets = [
        {"timestamp": 1_700_000_000_000 + i * 900_000, "anomaly_score": float(i % 100)}
        for i in range(230)
    ]
    admin.http.post(
        "/_sandbox/anomaly_detectors/r1/results", json={"buckets": buckets}
    ).raise_for_status()
    got = list(client.iter_buckets("r1", size=100))
    assert [b["timestamp"] for b in got] == [b["timestamp"] for b in buckets]
    high = list(client.iter_buckets("r1", size=7, anomaly_score=95))
    assert len(high) == 10 and all(b["anomaly_score"] >= 95 for b in high)


# ----------------------------------------------------------------- the async client, same rules


def test_async_client_retries_confirms_and_pages(sandbox: Sandbox, admin: Admin) -> None:
    admin.faults(
        {"method": "GET", "path": "^/_ml/filters$", "status": 502, "times": 1},
        {"method": "PUT", "path": "^/_ml/datafeeds/feed$", "timeout": True, "times": 1},
    )

    async def scenario() -> tuple[list[str], Any]:
        async with AsyncMLClient(transport=AsyncSandboxTransport(sandbox), **FAST) as client:  # type: ignore[arg-type]
            for i in range(7):
                await client.ml.put_filter(filter_id=f"a{i}")
            names = [f["filter_id"] async for f in client.iter_filters(size=3)]
            await client.ml.put_job(job_id="job", **COUNT_JOB)
            feed = await client.ml.put_datafeed(
                datafeed_id="feed", job_id="job", indices=["logs-*"]
            )
            return names, feed

    names, feed = asyncio.run(scenario())
    assert names == [f"a{i}" for i in range(7)]
    assert [e["status"] for e in admin.log("GET", "/_ml/filters")] == [502, 200, 200, 200]
    assert feed.meta.confirmed and feed.body["indices"] == ["logs-*"]
    assert len(admin.log("PUT", "/_ml/datafeeds/feed")) == 1
