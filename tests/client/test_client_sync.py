"""MLClient against a scripted fake Elasticsearch (httpx.MockTransport)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from client_fakes import ES, FakeES, es_error, ok, sync_client

from reconciler import MLClient
from reconciler.client import api
from reconciler.client.connection import InsecureConnectionWarning
from reconciler.client.errors import (
    ApiError,
    AuthenticationException,
    BadRequestError,
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    MLUnavailableError,
    NotFoundError,
    ServerError,
    UnsupportedProductError,
)

JOB = {"job_id": "j", "description": "d", "analysis_config": {"detectors": [{"function": "count"}]}}
VENDOR8 = "application/vnd.elasticsearch+json; compatible-with=8"


def sleeps(client: MLClient) -> list[float]:
    recorded: list[float] = []
    client.sleep = recorded.append
    return recorded


# ----------------------------------------------------------------- headers and product check


def test_no_extra_root_request_and_compat_media_types_once_the_version_is_known(
    fake: FakeES, client: MLClient
) -> None:
    fake.on("PUT", "/_ml/filters/f", ok({"filter_id": "f", "items": []}))
    fake.on("GET", "/_ml/filters", ok({"count": 0, "filters": []}))
    client.ml.put_filter(filter_id="f", items=[])
    (put,) = fake.requests  # the official client sends no `GET /` of its own either
    assert (put.method, put.url.path) == ("PUT", "/_ml/filters/f")
    assert put.headers["accept"] == "application/json"
    assert put.headers["content-type"] == "application/json"
    assert put.headers["user-agent"].startswith("mlsync/")
    assert client.info()["version"]["number"].startswith("8.")
    client.ml.get_filters()
    assert fake.requests[-1].headers["accept"] == VENDOR8
    assert client.request_count == 3


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            {"number": "9.1.0", "build_flavor": "default"},
            {"accept": "application/vnd.elasticsearch+json; compatible-with=9"},
        ),
        (
            {"number": "8.11.0", "build_flavor": "serverless"},
            {"accept": "application/json", "elastic-api-version": "2023-10-31"},
        ),
        ({"number": "7.17.9", "build_flavor": "default"}, {"accept": "application/json"}),
    ],
)
def test_media_types_follow_the_cluster(version: dict[str, str], expected: dict[str, str]) -> None:
    fake = FakeES()
    fake.root["version"] = version
    fake.on("GET", "/_ml/info", ok({}))
    client = sync_client(fake)
    client.info()
    client.ml.info()
    sent = fake.requests[-1].headers
    for key, value in expected.items():
        assert sent[key] == value


def test_a_server_that_is_not_elasticsearch_is_refused_on_its_first_answer(fake: FakeES) -> None:
    fake.on("GET", "/_ml/anomaly_detectors", httpx.Response(200, json={"count": 0, "jobs": []}))
    with pytest.raises(UnsupportedProductError, match="not Elasticsearch") as err:
        sync_client(fake).ml.get_jobs()
    assert "X-Elastic-Product" in str(err.value)
    assert "GET /_ml/anomaly_detectors" in str(err.value)  # the user's call, not `GET /`
    assert len(fake.requests) == 1  # nothing else was sent


def test_the_product_check_passes_once_and_errors_do_not_count(fake: FakeES) -> None:
    fake.on("GET", "/_ml/anomaly_detectors/x", es_error(404, "resource_not_found_exception", "no"))
    fake.on("GET", "/_ml/anomaly_detectors", ok({"count": 0, "jobs": []}))
    client = sync_client(fake)
    with pytest.raises(NotFoundError):
        client.ml.get_jobs(job_id="x")  # an error answer is not checked (nor does it pass)
    assert client.ml.get_jobs().body == {"count": 0, "jobs": []}
    fake.on("GET", "/_ml/anomaly_detectors", httpx.Response(200, json={"count": 0, "jobs": []}))
    assert client.ml.get_jobs().body == {"count": 0, "jobs": []}  # checked once per client


def test_authentication_failure_is_final(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors",
        es_error(401, "security_exception", "unable to authenticate user"),
    )
    with pytest.raises(AuthenticationException) as err:
        sync_client(fake).ml.get_jobs()
    assert err.value.summary == (
        "GET /_ml/anomaly_detectors -> 401 security_exception: unable to authenticate user"
    )
    assert str(err.value) == (
        "AuthenticationException(401, 'security_exception', 'unable to authenticate user')"
    )
    assert len(fake.requests) == 1


# ----------------------------------------------------------------- responses and errors


def test_response_object_behaves_like_the_official_one(fake: FakeES, client: MLClient) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors/j/_stats",
        ok({"count": 1, "jobs": [{"job_id": "j", "state": "closed"}]}),
    )
    resp = client.ml.get_job_stats(job_id="j")
    assert resp.body["jobs"][0]["state"] == "closed"
    assert resp["count"] == 1 and len(resp) == 2 and set(resp) == {"count", "jobs"}
    assert resp.meta.status == 200 and resp.meta.headers["x-elastic-product"] == "Elasticsearch"
    assert resp.meta.call == api.get_job_stats("j") and resp.meta.attempts == 1
    fake.on("GET", "/_ml/datafeeds/d/_preview", ok([{"@timestamp": 1, "x": 2}]))  # no body: GET
    preview = client.ml.preview_datafeed(datafeed_id="d")
    assert preview.body == [{"@timestamp": 1, "x": 2}] and preview[0]["x"] == 2


@pytest.mark.parametrize(
    ("status", "etype", "cls"),
    [
        (400, "resource_already_exists_exception", BadRequestError),
        (404, "resource_not_found_exception", NotFoundError),
        (409, "status_exception", ConflictError),
        (500, "null_pointer_exception", ServerError),
        (418, "teapot", ApiError),
    ],
)
def test_error_envelope_maps_to_the_exception_tree(
    fake: FakeES, client: MLClient, status: int, etype: str, cls: type[ApiError]
) -> None:
    fake.on(
        "POST",
        "/_ml/anomaly_detectors/j/_update",
        es_error(status, etype, "No known job with id 'j'"),
    )
    with pytest.raises(cls) as err:
        client.ml.update_job(job_id="j", description="x")
    e = err.value
    assert type(e) is cls
    assert (e.method, e.path, e.status, e.error_type, e.reason) == (
        "POST",
        "/_ml/anomaly_detectors/j/_update",
        status,
        etype,
        "No known job with id 'j'",
    )
    assert e.summary == (
        f"POST /_ml/anomaly_detectors/j/_update -> {status} {etype}: No known job with id 'j'"
    )
    # The official client's attributes and str().
    assert str(e) == f"{cls.__name__}({status}, {etype!r}, \"No known job with id 'j'\")"
    assert (e.status_code, e.error, e.message, e.meta.status) == (status, etype, etype, status)
    assert e.info is e.body and e.body["status"] == status


def test_non_json_error_bodies_still_make_a_clear_error(fake: FakeES, client: MLClient) -> None:
    fake.on("GET", "/_ml/filters", httpx.Response(502, text="<html>bad gateway</html>", headers=ES))
    client.sleep = lambda s: None
    with pytest.raises(ServerError) as err:
        client.ml.get_filters()
    assert err.value.summary == "GET /_ml/filters -> 502 http_error: <html>bad gateway</html>"


# ----------------------------------------------------------------- retries


def test_reads_are_retried_with_bounded_jittered_backoff(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors",
        es_error(503, "unavailable", "x"),
        es_error(503, "unavailable", "x"),
        ok({"count": 0, "jobs": []}),
    )
    client = sync_client(fake, retry_backoff_base=0.1, retry_backoff_cap=0.15)
    waits = sleeps(client)
    resp = client.ml.get_jobs()
    assert resp.meta.attempts == 3 and resp.meta.status == 200
    assert len(waits) == 2
    assert (
        0.05 <= waits[0] <= 0.1 and 0.075 <= waits[1] <= 0.15
    )  # min(cap, base*2**n), equal jitter
    assert len(fake.sent("GET", "/_ml/anomaly_detectors")) == 3
    assert client.request_count == 3


def test_retries_stop_after_max_retries(fake: FakeES) -> None:
    fake.on("GET", "/_ml/anomaly_detectors", es_error(503, "unavailable", "still down"))
    client = sync_client(fake, max_retries=2)
    waits = sleeps(client)
    with pytest.raises(ServerError, match="still down"):
        client.ml.get_jobs()
    assert len(fake.sent("GET", "/_ml/anomaly_detectors")) == 3 and len(waits) == 2


def test_retry_after_is_honoured(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/filters",
        es_error(429, "es_rejected_execution_exception", "busy", **{"Retry-After": "0.3"}),
        ok({"count": 0, "filters": []}),
    )
    client = sync_client(fake)
    waits = sleeps(client)
    client.ml.get_filters()
    assert waits == [0.3]


def test_total_retry_time_is_bounded(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/filters",
        es_error(429, "es_rejected_execution_exception", "busy", **{"Retry-After": "30"}),
    )
    client = sync_client(fake, retry_max_time=5.0)
    waits = sleeps(client)
    with pytest.raises(ApiError) as err:
        client.ml.get_filters()
    assert err.value.status == 429 and waits == []


def test_writes_are_not_repeated_after_a_lost_answer(fake: FakeES, client: MLClient) -> None:
    fake.on("POST", "/_ml/anomaly_detectors/j/_update", httpx.ReadTimeout("timed out"))
    with pytest.raises(ConnectionTimeout, match="no answer within the request timeout"):
        client.ml.update_job(job_id="j", description="x")
    assert len(fake.sent("POST", "/_ml/anomaly_detectors/j/_update")) == 1
    fake.on("POST", "/_ml/calendars/c/events", es_error(503, "unavailable", "x"))
    with pytest.raises(ServerError):
        client.ml.post_calendar_events(calendar_id="c", events=[{"description": "e"}])
    assert len(fake.sent("POST", "/_ml/calendars/c/events")) == 1


def test_any_call_is_retried_when_it_never_reached_the_server(
    fake: FakeES, client: MLClient
) -> None:
    fake.on("POST", "/_ml/anomaly_detectors/j/_update", httpx.ConnectError("refused"), ok(JOB))
    assert client.ml.update_job(job_id="j", description="x").body == JOB
    assert len(fake.sent("POST", "/_ml/anomaly_detectors/j/_update")) == 2


def test_connection_errors_fail_over_to_the_next_host() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "down":
            raise httpx.ConnectError("refused")
        return FakeES()(request)

    client = MLClient(
        ["http://down:9200", "http://up:9200"],
        transport=httpx.MockTransport(handler),
        retry_backoff_base=0.001,
    )
    assert client.info()["cluster_name"] == "test-cluster"
    assert seen == ["down", "up"]


def test_connection_error_after_all_retries(fake: FakeES) -> None:
    fake.on("GET", "/", httpx.ConnectError("[Errno 111] Connection refused"))
    client = sync_client(fake, max_retries=1)
    with pytest.raises(ConnectionError) as err:
        client.info()
    refused = "could not connect (ConnectError: [Errno 111] Connection refused)"
    assert str(err.value) == f"GET / -> {refused} after 2 attempts"
    assert err.value.__cause__ is None and err.value.__context__ is None


# ----------------------------------------------------------------- create confirmation


def test_a_create_whose_answer_was_lost_is_confirmed_by_reading(
    fake: FakeES, client: MLClient
) -> None:
    stored = {**JOB, "analysis_limits": {"model_memory_limit": "1024mb"}}
    fake.on("PUT", "/_ml/anomaly_detectors/j", httpx.ReadTimeout("timed out"))
    fake.on("GET", "/_ml/anomaly_detectors/j", ok({"count": 1, "jobs": [stored]}))
    resp = client.ml.put_job(job_id="j", analysis_config=JOB["analysis_config"], description="d")
    assert resp.body == stored and resp.meta.confirmed
    assert len(fake.sent("PUT", "/_ml/anomaly_detectors/j")) == 1  # never sent blindly again


def test_a_create_that_did_not_happen_is_sent_again_after_reading(
    fake: FakeES, client: MLClient
) -> None:
    fake.on(
        "PUT",
        "/_ml/filters/f",
        httpx.ReadTimeout("timed out"),
        ok({"filter_id": "f", "items": ["a"]}),
    )
    fake.on(
        "GET",
        "/_ml/filters/f",
        es_error(404, "resource_not_found_exception", "No filter with id [f] exists"),
    )
    resp = client.ml.put_filter(filter_id="f", items=["a"])
    assert resp.body == {"filter_id": "f", "items": ["a"]} and not resp.meta.confirmed
    methods = [(r.method, r.url.path) for r in fake.requests]
    assert methods == [
        ("PUT", "/_ml/filters/f"),
        ("GET", "/_ml/filters/f"),
        ("PUT", "/_ml/filters/f"),
    ]


def test_a_create_found_with_other_content_is_a_conflict(fake: FakeES, client: MLClient) -> None:
    fake.on("PUT", "/locks/_create/default", es_error(504, "gateway_timeout", "proxy gave up"))
    other = {
        "found": True,
        "_index": "locks",
        "_id": "default",
        "_seq_no": 1,
        "_primary_term": 1,
        "_source": {"lock_id": "THEIRS"},
    }
    fake.on("GET", "/locks/_doc/default", ok(other))
    with pytest.raises(ConflictError, match="not created by this call"):
        client.create(index="locks", id="default", document={"lock_id": "MINE"})
    assert len(fake.sent("PUT", "/locks/_create/default")) == 1


def test_a_delete_retried_into_404_is_done(fake: FakeES, client: MLClient) -> None:
    fake.on(
        "DELETE",
        "/_ml/anomaly_detectors/j",
        httpx.ReadTimeout("timed out"),
        es_error(404, "resource_not_found_exception", "No known job with id 'j'"),
    )
    resp = client.ml.delete_job(job_id="j", force=True)
    assert resp.body == {"acknowledged": True} and resp.meta.confirmed
    fake.on(
        "DELETE",
        "/_ml/anomaly_detectors/k",
        es_error(404, "resource_not_found_exception", "No known job with id 'k'"),
    )
    with pytest.raises(NotFoundError):  # without a retry, a 404 is a 404
        client.ml.delete_job(job_id="k")


def test_an_open_retried_into_already_opened_is_done(fake: FakeES, client: MLClient) -> None:
    fake.on(
        "POST",
        "/_ml/anomaly_detectors/j/_open",
        httpx.RemoteProtocolError("dropped"),
        es_error(409, "status_exception", "Cannot open job [j] because it has already been opened"),
    )
    resp = client.ml.open_job(job_id="j")
    assert resp.body == {"opened": True} and resp.meta.confirmed


# ----------------------------------------------------------------- paging


def test_filters_are_paged_past_one_page(fake: FakeES, client: MLClient) -> None:
    filters = [{"filter_id": f"f{i:03d}", "items": []} for i in range(250)]

    def page(request: httpx.Request) -> httpx.Response:
        start, size = int(request.url.params["from"]), int(request.url.params["size"])
        return ok({"count": len(filters), "filters": filters[start : start + size]})

    fake.on("GET", "/_ml/filters", page)
    assert list(client.iter_filters()) == filters
    asked = [(r.url.params["from"], r.url.params["size"]) for r in fake.sent("GET", "/_ml/filters")]
    assert asked == [("0", "100"), ("100", "100"), ("200", "100")]


def test_paging_stops_at_the_es_window(fake: FakeES, client: MLClient) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params["size"])
        return ok({"count": 20_000, "records": [{"n": 1}] * size})

    fake.on("GET", "/_ml/anomaly_detectors/j/results/records", page)
    got = list(client.iter_records("j", size=3000, record_score=50))
    assert len(got) == 10_000  # from + size never exceeds 10 000 (es-ml-api.md §8)
    last = fake.sent("GET", "/_ml/anomaly_detectors/j/results/records")[-1]
    assert (last.url.params["from"], last.url.params["size"], last.url.params["record_score"]) == (
        "9000",
        "1000",
        "50",
    )


# ----------------------------------------------------------------- preflight


def ml_cluster(fake: FakeES, licence: str = "platinum", upgrade: bool = False) -> FakeES:
    fake.on("GET", "/_license", ok({"license": {"type": licence, "status": "active"}}))
    fake.on(
        "GET",
        "/_ml/info",
        ok(
            {
                "upgrade_mode": upgrade,
                "limits": {
                    "effective_max_model_memory_limit": "2gb",
                    "max_model_memory_limit": "1gb",
                },
            }
        ),
    )
    return fake


def test_preflight_reports_the_cluster(fake: FakeES, client: MLClient) -> None:
    ml_cluster(fake)
    info = client.preflight()
    assert (info.cluster_name, info.cluster_uuid, info.version, info.major) == (
        "test-cluster",
        "uuid-1",
        "8.15.3",
        8,
    )
    assert (info.flavor, info.serverless, info.license_type, info.license_status) == (
        "default",
        False,
        "platinum",
        "active",
    )
    assert info.ml_available and not info.upgrade_mode and info.max_model_memory_limit == "1gb"
    assert info.banner().startswith("Connected to test-cluster (es 8.15.3")


def test_preflight_refuses_without_ml_licence(fake: FakeES, client: MLClient) -> None:
    ml_cluster(fake, licence="basic")
    with pytest.raises(MLUnavailableError, match="current licence: basic") as err:
        client.preflight()
    assert err.value.cluster.license_type == "basic"
    assert client.preflight(require=False).ml_available is False


def test_preflight_refuses_upgrade_mode_and_old_majors(fake: FakeES, client: MLClient) -> None:
    ml_cluster(fake, upgrade=True)
    with pytest.raises(MLUnavailableError, match="upgrade mode"):
        client.preflight()
    old = ml_cluster(FakeES())
    old.root["version"] = {"number": "7.17.0", "build_flavor": "default"}
    with pytest.raises(UnsupportedProductError, match=r"8\.x and 9\.x.*7\.17\.0"):
        sync_client(old).preflight()


def test_preflight_when_ml_is_disabled(fake: FakeES, client: MLClient) -> None:
    ml_cluster(fake)
    fake.on(
        "GET",
        "/_ml/info",
        es_error(400, "illegal_argument_exception", "no handler found for uri [/_ml/info]"),
    )
    with pytest.raises(MLUnavailableError, match="no handler found"):
        client.preflight()


# ----------------------------------------------------------------- TLS, timeouts, logging


def test_turning_verification_off_is_warned() -> None:
    with pytest.warns(InsecureConnectionWarning, match="verification is turned off"):
        MLClient("https://es:9200", verify_certs=False).close()


@pytest.fixture
def slow_server() -> Iterator[str]:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(0.5)
            self.send_response(200)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"version": {"number": "8.15.0"}}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_request_timeout_applies_over_a_real_socket(slow_server: str) -> None:
    client = MLClient(
        slow_server,
        request_timeout=0.1,
        max_retries=1,
        retry_backoff_base=0.01,
        retry_on_timeout=True,
    )
    began = time.monotonic()
    with pytest.raises(ConnectionTimeout) as err:
        client.info()
    assert time.monotonic() - began < 0.45 * 2  # two attempts of ~0.1s, not two of 0.5s
    assert err.value.attempts == 2
    client.close()
    patient = MLClient(slow_server, request_timeout=2.0)
    assert patient.info().body["version"]["number"] == "8.15.0"
    patient.close()


def test_logs_say_method_path_status_only(fake: FakeES, caplog: pytest.LogCaptureFixture) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors",
        es_error(503, "unavailable", "x"),
        ok({"count": 0, "jobs": []}),
    )
    client = sync_client(fake, api_key="kid:very-secret-key")
    with caplog.at_level(logging.DEBUG, logger="reconciler.client"):
        client.ml.get_jobs(allow_no_match=True)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "reconciler.client")
    assert "GET /_ml/anomaly_detectors -> 503; retrying" in text
    assert "GET /_ml/anomaly_detectors -> 200" in text
    assert "allow_no_match" not in text and "ApiKey" not in text and "very-secret-key" not in text
