"""No exception text, repr, log record or warning from failing calls contains a credential."""

from __future__ import annotations

import base64
import json
import logging
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from client_fakes import ES, FakeES

from reconciler import AsyncMLClient, MLClient
from reconciler.client import api
from reconciler.client.connection import ConnectionConfig, ConnectionConfigError
from reconciler.client.errors import ClientError
from reconciler.sandbox import Sandbox, start_in_thread

KEY_ID, KEY_SECRET = "redact-id", "apikey-S3CRET-value"
USER, PASSWORD = "elastic", "pw-S3CRET-value"
BEARER = "bearer-S3CRET-token"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: Every form in which a credential could leak.
FORBIDDEN = [
    KEY_SECRET,
    f"{KEY_ID}:{KEY_SECRET}",
    b64(f"{KEY_ID}:{KEY_SECRET}"),
    PASSWORD,
    b64(f"{USER}:{PASSWORD}"),
    BEARER,
]

AUTH: dict[str, dict[str, Any]] = {
    "api_key": {"api_key": f"{KEY_ID}:{KEY_SECRET}"},
    "api_key_encoded": {"api_key": b64(f"{KEY_ID}:{KEY_SECRET}")},
    "basic": {"basic_auth": (USER, PASSWORD)},
    "bearer": {"bearer_auth": BEARER},
}


def leaky_server(request: httpx.Request) -> httpx.Response:
    """A misbehaving proxy that echoes the credentials it received in every error."""
    auth = request.headers.get("authorization", "")
    path = request.url.path
    if path == "/":
        return httpx.Response(200, json={"version": {"number": "8.15.0"}}, headers=ES)
    if path.endswith("/_open"):
        raise httpx.ConnectError(f"proxy refused {auth}")
    if path.endswith("/_close"):
        raise httpx.ReadTimeout(f"proxy timed out holding {auth}")
    status = {"/_ml/filters": 401, "/_ml/calendars": 403, "/_ml/datafeeds": 503}.get(path, 400)
    error = {"type": f"echo_{auth}", "reason": f"rejected credentials [{auth}]", "header": auth}
    return httpx.Response(status, json={"error": error, "status": status}, headers=ES)


FAILING_CALLS: list[Callable[[MLClient], Any]] = [
    lambda c: c.ml.get_filters(),  # 401
    lambda c: c.ml.get_calendars(),  # 403
    lambda c: c.ml.get_datafeeds(),  # 503, retried
    lambda c: c.ml.put_job(job_id="j", analysis_config={}),  # 400
    lambda c: c.ml.open_job(job_id="j"),  # connection error, retried
    lambda c: c.ml.close_job(job_id="j"),  # timeout, retried
]


def texts_of(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(exc.args)]
    for name in ("reason", "error_type", "detail", "message"):
        out.append(str(getattr(exc, name, "")))
    out.append(json.dumps(getattr(exc, "body", None), default=str))
    return out


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in FORBIDDEN:
            assert secret not in text, f"credential leaked: {text[:200]!r}"


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = []
    for record in caplog.records:
        out.append(record.getMessage())
        out.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            out.extend(texts_of(record.exc_info[1]))
    return out


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_failing_calls_never_reveal_credentials(
    auth: str, everything_logged: pytest.LogCaptureFixture
) -> None:
    client = MLClient(
        transport=httpx.MockTransport(leaky_server), retry_backoff_base=0.001, **AUTH[auth]
    )
    texts: list[str] = [repr(client)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for call in FAILING_CALLS:
            with pytest.raises(ClientError) as err:
                call(client)
            texts += texts_of(err.value)
    texts += [str(w.message) for w in caught]
    texts += log_texts(everything_logged)
    assert any("rejected credentials [" in t for t in texts)  # the echo did arrive, redacted
    assert any("***" in t for t in texts)
    assert_clean(texts)


def test_real_socket_sandbox_with_security_and_wrong_password(
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    sandbox = Sandbox(username=USER, password="the-right-one")
    texts: list[str] = []
    with start_in_thread(sandbox) as server, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrong = MLClient(hosts=[server.url], basic_auth=(USER, PASSWORD), retry_backoff_base=0.001)
        with pytest.raises(ClientError) as err:
            wrong.ml.get_jobs(job_id="nope")
        texts += texts_of(err.value)
        wrong.close()
        cfg = ConnectionConfig.resolve(
            {"url": server.url, "username": USER}, {"MLSYNC_PASSWORD": PASSWORD}
        )
        texts += [repr(cfg), str(cfg), cfg.model_dump_json()]
        dead = MLClient(
            hosts=["http://127.0.0.1:9"],
            bearer_auth=BEARER,
            max_retries=1,
            retry_backoff_base=0.001,
        )
        with pytest.raises(ClientError) as err:
            dead.ml.get_jobs()
        texts += texts_of(err.value)
    texts += [str(w.message) for w in caught]
    texts += log_texts(everything_logged)
    assert "401" in texts[0]
    assert_clean(texts)


def test_credentials_in_urls_and_insecure_warnings_are_not_echoed() -> None:
    with pytest.warns(Warning) as caught:
        client = MLClient(f"https://{USER}:{PASSWORD}@es.example:9200", verify_certs=False)
    texts = [str(w.message) for w in caught] + [repr(client), str(client.hosts)]
    client.close()
    with pytest.raises(ConnectionConfigError) as err:
        MLClient(f"es.example:9200?key={KEY_SECRET}", api_key=f"{KEY_ID}:{KEY_SECRET}")
    texts += texts_of(err.value)
    with pytest.raises(ConnectionConfigError) as err:
        MLClient(f"ftp://{USER}:{PASSWORD}@es.example")
    texts += texts_of(err.value)
    assert_clean(texts)


def test_sandbox_fake_es_echo_is_redacted_in_error_bodies(fake: FakeES) -> None:
    fake.on(
        "GET",
        "/_ml/anomaly_detectors",
        lambda r: httpx.Response(
            400,
            json={"error": {"type": "x", "reason": "y", "echo": r.headers["authorization"]}},
            headers=ES,
        ),
    )
    client = MLClient(transport=httpx.MockTransport(fake), bearer_auth=BEARER)
    with pytest.raises(ClientError) as err:
        client.ml.get_jobs()
    assert err.value.body["error"]["echo"] == "Bearer ***"  # type: ignore[attr-defined]


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_reprs_of_the_client_core_and_its_requests_hide_credentials(auth: str) -> None:
    # B4: the dataclass reprs printed `authorization='Basic ...'` and the request headers.
    secret = {"basic": PASSWORD, "bearer": BEARER}.get(auth, KEY_SECRET)
    extra = {"X-Api-Key": KEY_SECRET, "x-trace": f"t-{secret}"}
    transport = httpx.MockTransport(leaky_server)
    for client in (
        MLClient(transport=transport, headers=extra, **AUTH[auth]),
        AsyncMLClient(transport=transport, headers=extra, **AUTH[auth]),  # type: ignore[arg-type]
    ):
        core = client._core
        request = core.build(api.get_jobs("j"))
        texts = [repr(core), str(core), repr(request), str(request), repr([request])]
        assert request.headers["authorization"] not in ("", "***")  # still sent as configured
        assert all("authorization='***'" in t or "'authorization': '***'" in t for t in texts)
        assert "'x-api-key': '***'" in repr(request) and "'t-***'" in repr(request)
        assert_clean(texts)


def test_reprs_hide_credentials_given_in_the_url() -> None:
    client = MLClient(hosts=[f"http://{USER}:{PASSWORD}@localhost:9200"])
    request = client._core.build(api.ml_info())
    texts = [repr(client), repr(client._core), repr(request)]
    assert request.headers["authorization"] == "Basic " + b64(f"{USER}:{PASSWORD}")
    assert "authorization='***'" in texts[1] and "'authorization': '***'" in texts[2]
    assert_clean(texts)
    client.close()
