"""Code written for elasticsearch-py runs on mlsync's client unchanged: the idioms it relies on.

`options(ignore_status=...)`, catching `NotFoundError` and reading `e.meta.status`/`e.info`,
`filter_path`, `datetime` arguments, `body=` merging, response objects, case-insensitive
headers, the serializer, constructor forms, and the generated modules' freshness.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_fakes import ES, FakeES, async_client, es_error, ok, sync_client

from reconciler import AsyncMLClient, MLClient
from reconciler.client import _generate
from reconciler.client.endpoint import build_call
from reconciler.client.endpoints import ENDPOINTS
from reconciler.client.errors import (
    ApiError,
    AuthenticationError,
    AuthenticationException,
    AuthorizationError,
    AuthorizationException,
    BadRequestError,
    ConnectionError,
    NotFoundError,
    RequestError,
    SerializationError,
    SSLError,
    TransportError,
)
from reconciler.client.transport import pinned_context
from reconciler.sandbox import Sandbox, SandboxTransport

MISSING_JOB = "No known job with id 'nope'"


def sandbox_client(**kwargs: Any) -> MLClient:
    return MLClient(transport=SandboxTransport(Sandbox()), **kwargs)


# ----------------------------------------------------------------- the generated modules


def test_committed_generated_modules_are_up_to_date() -> None:
    rendered = _generate.render()
    for name, path in _generate.OUTPUTS.items():
        assert path.read_text(encoding="utf-8") == rendered[name], (
            "run: python -m reconciler.client._generate"
        )
    assert _generate.main(["--check"]) == 0


def test_the_table_comes_from_the_spec_and_names_its_source() -> None:
    assert ENDPOINTS["ml.close_job"].source == "OpenAPI ml-close-job"
    assert ENDPOINTS["ml.post_data"].source == "rest-api-spec ml.post_data.json"
    assert all(e.routes and e.source for e in ENDPOINTS.values())


# ----------------------------------------------------------------- ignore_status and errors


def test_options_ignore_status_returns_the_error_answer_instead_of_raising() -> None:
    with sandbox_client() as client:
        answer = client.options(ignore_status=404).ml.get_jobs(job_id="nope")
        assert answer.meta.status == 404 and not answer
        assert answer.body["error"]["type"] == "resource_not_found_exception"
        answer = client.options(ignore_status=[400, 404]).ml.get_jobs(job_id="nope")
        assert answer.meta.status == 404
        with pytest.raises(NotFoundError):  # the parent client is unchanged
            client.ml.get_jobs(job_id="nope")


def test_catching_not_found_reads_meta_and_info_like_the_official_client() -> None:
    with sandbox_client() as client:
        try:
            client.ml.get_jobs(job_id="nope")
        except NotFoundError as e:
            assert e.meta.status == 404 and e.status_code == 404
            assert e.info["error"]["reason"] == MISSING_JOB
            assert e.error == e.message == "resource_not_found_exception"
            assert e.body is e.info
            assert (
                str(e) == f"NotFoundError(404, 'resource_not_found_exception', \"{MISSING_JOB}\")"
            )
            assert e.summary == (
                f"GET /_ml/anomaly_detectors/nope -> 404 resource_not_found_exception: "
                f"{MISSING_JOB}"
            )
            assert e.meta.headers["X-Elastic-Product"] == "Elasticsearch"
        else:  # pragma: no cover - the call must fail
            pytest.fail("no NotFoundError")


def test_the_exception_hierarchy_has_the_official_names() -> None:
    assert RequestError is BadRequestError
    assert AuthenticationError is AuthenticationException
    assert AuthorizationError is AuthorizationException
    assert issubclass(SSLError, ConnectionError) and issubclass(ConnectionError, TransportError)
    assert issubclass(SerializationError, TransportError)
    assert not issubclass(ApiError, TransportError)  # as in elasticsearch-py 8+


def test_head_404_is_an_answer_not_an_error() -> None:
    with sandbox_client() as client:
        assert not client.indices.exists(index="nothing")
        assert client.indices.exists(index="nothing").meta.status == 404
        client.indices.create(index="something")
        assert client.indices.exists(index="something")


# ----------------------------------------------------------------- filter_path, params, body


def test_filter_path_and_the_common_parameters_reach_the_server() -> None:
    with sandbox_client() as client:
        client.ml.put_filter(filter_id="f", items=["a"], description="d")
        answer = client.ml.get_filters(filter_path=["filters.filter_id", "count"])
        assert answer.body == {"count": 1, "filters": [{"filter_id": "f"}]}
        answer = client.ml.get_filters(filter_path="filters.items", human=True, pretty=True)
        assert answer.body == {"filters": [{"items": ["a"]}]}


def test_datetime_arguments_are_sent_in_iso_8601(fake: FakeES) -> None:
    fake.on("POST", "/_ml/datafeeds/f/_start", ok({"started": True, "node": "n"}))
    fake.on("GET", "/_ml/anomaly_detectors/j/results/buckets", ok({"count": 0, "buckets": []}))
    client = sync_client(fake)
    client.ml.start_datafeed(
        datafeed_id="f", start=datetime(2024, 1, 1, tzinfo=UTC), end=date(2024, 2, 1)
    )
    client.ml.get_buckets(job_id="j", start=datetime(2024, 1, 1, 12, 30), exclude_interim=True)
    started, buckets = fake.requests
    assert started.url.params["start"] == "2024-01-01T00:00:00+00:00"
    assert started.url.params["end"] == "2024-02-01"
    assert buckets.url.params["start"] == "2024-01-01T12:30:00"
    assert buckets.url.params["exclude_interim"] == "true"


def test_bodies_serialize_datetime_date_uuid_and_decimal(fake: FakeES) -> None:
    fake.on("PUT", "/notes/_doc/1", ok({"_id": "1", "result": "created"}, 201))
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    sync_client(fake).index(
        index="notes",
        id="1",
        document={"at": datetime(2024, 1, 1, tzinfo=UTC), "on": date(2024, 1, 2), "id": key,
                  "amount": Decimal("1.5")},
    )  # fmt: skip
    assert json.loads(fake.requests[0].content) == {
        "at": "2024-01-01T00:00:00+00:00",
        "on": "2024-01-02",
        "id": "12345678-1234-5678-1234-567812345678",
        "amount": 1.5,
    }


def test_a_value_json_cannot_hold_is_a_serialization_error_and_nothing_is_sent(
    fake: FakeES,
) -> None:
    client = sync_client(fake)
    with pytest.raises(SerializationError, match="Unable to serialize"):
        client.index(index="notes", id="1", document={"x": object()})
    assert fake.requests == []


def test_body_merges_with_named_fields_and_refuses_duplicates() -> None:
    endpoint = ENDPOINTS["ml.put_filter"]
    call = build_call(endpoint, {"filter_id": "f", "items": ["a"], "body": {"description": "d"}})
    assert call.body == {"description": "d", "items": ["a"]}
    with pytest.raises(ValueError, match="multiple values for 'items'"):
        build_call(endpoint, {"filter_id": "f", "items": ["a"], "body": {"items": ["b"]}})
    # A query parameter inside `body=` moves to the query string.
    call = build_call(ENDPOINTS["ml.close_job"], {"job_id": "j", "body": {"force": True}})
    assert call.body == {"force": True} and call.method == "POST"
    bulk = build_call(ENDPOINTS["bulk"], {"body": [{"index": {}}, {"a": 1}]})
    assert bulk.body == [{"index": {}}, {"a": 1}] and bulk.path == "/_bulk"
    with pytest.raises(TypeError, match="alias"):
        build_call(ENDPOINTS["index"], {"index": "i", "document": {}, "body": {}})


def test_query_and_body_parameters_go_where_elasticsearch_reads_them() -> None:
    # No body: parameters ES accepts in both places go in the query string.
    call = build_call(ENDPOINTS["ml.get_buckets"], {"job_id": "j", "desc": True})
    assert (call.method, call.params, call.body) == ("GET", {"desc": "true"}, None)
    # With a body, ES reads the body instead of the query: they all go there.
    call = build_call(
        ENDPOINTS["ml.get_buckets"], {"job_id": "j", "desc": True, "page": {"size": 1}}
    )
    assert (call.method, call.params, call.body) == (
        "POST",
        {},
        {"desc": True, "page": {"size": 1}},
    )
    call = build_call(ENDPOINTS["ml.get_buckets"], {"job_id": "j", "timestamp": 1700000000000})
    assert call.path == "/_ml/anomaly_detectors/j/results/buckets/1700000000000"
    call = build_call(ENDPOINTS["ml.close_job"], {"job_id": ["a", "b*"]})
    assert call.path == "/_ml/anomaly_detectors/a,b*/_close"
    with pytest.raises(ValueError, match="Empty value"):
        build_call(ENDPOINTS["ml.close_job"], {"job_id": ""})


def test_ndjson_bodies_are_sent_line_by_line(fake: FakeES) -> None:
    fake.on("PUT", "/_bulk", ok({"took": 1, "errors": False, "items": []}))
    sync_client(fake).bulk(operations=[{"index": {"_index": "i"}}, {"a": 1}])
    sent = fake.requests[0]
    assert sent.method == "PUT" and sent.content == b'{"index":{"_index":"i"}}\n{"a":1}\n'
    assert sent.headers["content-type"] == "application/x-ndjson"


# ----------------------------------------------------------------- responses and headers


def test_responses_have_body_raw_meta_and_case_insensitive_headers() -> None:
    with sandbox_client() as client:
        answer = client.ml.info()
        assert answer.raw is answer.body and answer.meta.status == 200
        assert answer.meta.headers["Content-Type"].startswith("application/")
        assert answer.meta.headers.get("X-Elastic-Product") == "Elasticsearch"
        assert "x-elastic-product" in answer.meta.headers
        assert answer.meta.mimetype == "application/json"
        assert set(answer.keys()) >= {"defaults", "limits"} and "limits" in answer
        assert dict(answer.items()) == answer.body and list(answer.values())
        client.ml.put_job(
            job_id="j",
            analysis_config={"detectors": [{"function": "count"}], "bucket_span": "15m"},
            data_description={"time_field": "t"},
        )
        client.ml.put_datafeed(datafeed_id="f", job_id="j", indices=["i"])
        preview = client.ml.preview_datafeed(datafeed_id="f")
        assert isinstance(preview.body, list) and len(preview) == len(list(preview))


# ----------------------------------------------------------------- options() and constructor


def test_options_send_headers_opaque_id_other_credentials_and_timeouts(fake: FakeES) -> None:
    fake.on("GET", "/_ml/info", ok({}))
    client = sync_client(fake, api_key="id:key", opaque_id="client-wide")
    view = client.options(
        headers={"X-Trace": "t1"}, opaque_id="call-1", basic_auth=("u", "p"), request_timeout=3
    )
    view.ml.info()
    client.ml.info()
    first, second = fake.requests
    assert first.headers["x-trace"] == "t1" and first.headers["x-opaque-id"] == "call-1"
    assert first.headers["authorization"].startswith("Basic ")
    assert first.extensions["timeout"]["read"] == 3.0
    assert second.headers["authorization"].startswith("ApiKey ")
    assert second.headers["x-opaque-id"] == "client-wide" and "x-trace" not in second.headers
    assert client.request_count == 2  # the view shares the connection and its counters


def test_options_change_the_retry_policy(fake: FakeES) -> None:
    fake.on("GET", "/_ml/info", es_error(503, "unavailable", "x"), ok({}))
    client = sync_client(fake)
    client.sleep = lambda _s: None
    with pytest.raises(ApiError):
        client.options(max_retries=0).ml.info()
    assert client.options(retry_on_status=503).ml.info().meta.attempts == 1  # the 2nd answer
    with pytest.raises(TypeError):
        client.options(no_such_option=1)  # type: ignore[call-arg]


def test_hosts_as_dicts_and_basic_auth_as_a_string(fake: FakeES) -> None:
    fake.on("GET", "/_ml/info", ok({}))
    client = MLClient(
        hosts=[{"host": "es1", "port": 9201, "scheme": "https"}, {"host": "es2"}],
        basic_auth="elastic:changeme",
        transport=httpx.MockTransport(fake),
    )
    assert client.hosts == ("https://es1:9201", "http://es2:9200")
    client.ml.info()
    assert fake.requests[0].url.host == "es1" and fake.requests[0].headers["authorization"] == (
        "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="
    )
    single = MLClient({"host": "es3", "port": 9300, "path_prefix": "es"})
    assert single.hosts == ("http://es3:9300/es",)


def test_ssl_assert_fingerprint_is_checked_and_must_look_like_one() -> None:
    context = pinned_context("AB:" * 31 + "AB")
    assert context.verify_mode.name == "CERT_NONE"  # the pin replaces chain checks
    with pytest.raises(ValueError, match="SHA-256"):
        pinned_context("not-a-fingerprint")


def test_a_refused_connection_names_the_users_call_not_a_root_get() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = MLClient(transport=httpx.MockTransport(refuse), max_retries=0)
    with pytest.raises(ConnectionError) as err:
        client.ml.get_jobs(job_id="j")
    assert str(err.value).startswith("GET /_ml/anomaly_detectors/j -> could not connect")


def test_the_async_client_supports_the_same_idioms(fake: FakeES) -> None:
    fake.on(
        "GET", "/_ml/anomaly_detectors/nope", es_error(404, "resource_not_found_exception", "no")
    )

    async def scenario() -> tuple[int, int]:
        async with async_client(fake) as client:
            answer = await client.options(ignore_status=404).ml.get_jobs(job_id="nope")
            try:
                await client.ml.get_jobs(job_id="nope")
            except NotFoundError as e:
                return answer.meta.status, e.meta.status
        return 0, 0  # pragma: no cover

    assert asyncio.run(scenario()) == (404, 404)


def test_error_answers_without_es_product_header_are_still_errors() -> None:
    fake = FakeES()
    fake.on("GET", "/_ml/info", httpx.Response(401, json={"error": "no"}, headers={}))
    with pytest.raises(AuthenticationException) as err:
        sync_client(fake).ml.info()
    assert str(err.value) == "AuthenticationException(401, 'no', 'no')"
    assert ES  # the fakes' product header is what 2xx answers carry


# ----------------------------------------------------------------- TLS over a real socket

TLS = Path(__file__).parent / "tls"  # a self-signed certificate made for these tests only


@pytest.fixture
def https_url() -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "test-only-cert.pem", TLS / "test-only-key.pem")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"version": {"number": "9.1.0"}}).encode()
            self.send_response(200)
            for name, value in {**ES, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_ssl_assert_fingerprint_pins_the_certificate_in_both_clients(https_url: str) -> None:
    der = ssl.PEM_cert_to_DER_cert((TLS / "test-only-cert.pem").read_text())
    pin = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    with MLClient(https_url, ssl_assert_fingerprint=pin) as client:
        assert client.info()["version"]["number"] == "9.1.0"
    wrong = MLClient(https_url, ssl_assert_fingerprint="00" * 32, max_retries=0)
    with wrong, pytest.raises(SSLError, match="Fingerprints did not match"):
        wrong.info()
    unpinned = MLClient(https_url, max_retries=0)  # no pin: the chain is checked
    with unpinned, pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        unpinned.info()
    by_name = https_url.replace("127.0.0.1", "localhost")  # the certificate's name
    with MLClient(by_name, ca_certs=str(TLS / "test-only-cert.pem")) as client:
        assert client.info()["version"]["number"] == "9.1.0"

    async def pinned() -> str:
        async with AsyncMLClient(https_url, ssl_assert_fingerprint=pin) as client:
            answer = await client.info()
        async with AsyncMLClient(https_url, ssl_assert_fingerprint="00" * 32, max_retries=0) as c:
            with pytest.raises(SSLError):
                await c.info()
        return str(answer["version"]["number"])

    assert asyncio.run(pinned()) == "9.1.0"
