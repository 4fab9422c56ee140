"""HTTP conventions: product header, media types, parameter checks, routing errors, security."""

from __future__ import annotations

import base64

import httpx
import pytest
from sandbox_helpers import Api

from reconciler.sandbox import Sandbox, SandboxTransport

COMPAT9 = "application/vnd.elasticsearch+json; compatible-with=9"


def test_root_license_and_info(api: Api) -> None:
    resp = api.call("GET", "/")
    assert resp.headers["X-Elastic-Product"] == "Elasticsearch"
    root = resp.json()
    assert root["version"]["number"] == "9.1.0" and root["version"]["build_flavor"] == "default"
    assert root["tagline"] == "You Know, for Search"
    lic = api.ok("GET", "/_license")["license"]
    assert (lic["type"], lic["status"]) == ("trial", "active")
    info = api.ok("GET", "/_ml/info")
    assert info["defaults"]["anomaly_detectors"]["model_memory_limit"] == "1gb"
    assert info["upgrade_mode"] is False
    assert api.call("HEAD", "/").status_code == 200


@pytest.mark.parametrize("major", [7, 8, 9])
def test_compatible_media_types_are_accepted(api: Api, major: int) -> None:
    media = f"application/vnd.elasticsearch+json; compatible-with={major}"
    resp = api.client.put(
        "/_ml/filters/f",
        content=b'{"items":["a"]}',
        headers={"Accept": media, "Content-Type": media},
    )
    assert resp.status_code == 200
    assert (
        resp.headers["Content-Type"]
        == f"application/vnd.elasticsearch+json;compatible-with={major}"
    )


def test_bad_media_types(api: Api) -> None:
    media = "application/vnd.elasticsearch+json; compatible-with=6"
    resp = api.client.get("/", headers={"Accept": media})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "media_type_header_exception"
    resp = api.client.put(
        "/_ml/filters/f", content=b"items", headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 406


def test_params_methods_and_unknown_paths(api: Api) -> None:
    err = api.error(400, "GET", "/_ml/anomaly_detectors", bogus=1)
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "request [/_ml/anomaly_detectors] contains unrecognized parameter: [bogus]",
    )
    err = api.error(400, "GET", "/_ml/anomaly_detectors", allow_no_match="maybe")
    assert err["reason"] == "Failed to parse value [maybe] as only [true] or [false] are allowed."
    resp = api.call("PUT", "/_ml/info")
    assert resp.status_code == 405
    assert (
        resp.json()["error"]
        == "Incorrect HTTP method for uri [/_ml/info] and method [PUT], allowed: [GET]"
    )
    resp = api.call("GET", "/_ml/nothing/here/at/all")
    assert resp.status_code == 400
    assert (
        resp.json()["error"]
        == "no handler found for uri [/_ml/nothing/here/at/all] and method [GET]"
    )
    bad = api.client.put(
        "/_ml/filters/f", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "x_content_parse_exception"


def client_for(sandbox: Sandbox, **headers: str) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport(sandbox), base_url="http://x", headers=headers)


def test_api_key_security() -> None:
    sandbox = Sandbox(api_key="id1:secret")
    encoded = base64.b64encode(b"id1:secret").decode()
    with client_for(sandbox) as anon:
        resp = anon.get("/_ml/anomaly_detectors")
        assert resp.status_code == 401
        err = resp.json()["error"]
        assert err["type"] == "security_exception"
        assert (
            err["reason"]
            == "missing authentication credentials for REST request [/_ml/anomaly_detectors]"
        )
        assert "ApiKey" in err["root_cause"][0]["header"]["WWW-Authenticate"]
        assert resp.headers["X-Elastic-Product"] == "Elasticsearch"
    with client_for(sandbox, Authorization="ApiKey wrong") as wrong:
        resp = wrong.get("/")
        assert resp.status_code == 401
        assert resp.json()["error"]["reason"].startswith(
            "unable to authenticate with provided credentials"
        )
    with client_for(sandbox, Authorization=f"ApiKey {encoded}") as good:
        assert good.get("/_ml/anomaly_detectors").status_code == 200


def test_basic_security() -> None:
    sandbox = Sandbox(username="elastic", password="changeme")
    token = base64.b64encode(b"elastic:nope").decode()
    with client_for(sandbox, Authorization=f"Basic {token}") as wrong:
        resp = wrong.get("/")
        assert resp.status_code == 401
        assert (
            resp.json()["error"]["reason"]
            == "unable to authenticate user [elastic] for REST request [/]"
        )
    with httpx.Client(
        transport=SandboxTransport(sandbox), base_url="http://x", auth=("elastic", "changeme")
    ) as ok:
        assert ok.get("/").status_code == 200


def test_async_transport() -> None:
    import asyncio

    from reconciler.sandbox import AsyncSandboxTransport

    async def main() -> int:
        async with httpx.AsyncClient(
            transport=AsyncSandboxTransport(Sandbox()), base_url="http://x"
        ) as c:
            await c.put("/_ml/filters/f", json={"items": ["a"]})
            return int((await c.get("/_ml/filters")).json()["count"])

    assert asyncio.run(main()) == 1


def test_filter_path(api: Api) -> None:
    api.ok("PUT", "/_ml/filters/a", {"description": "x", "items": ["1"]})
    api.ok("PUT", "/_ml/filters/b", {"items": ["2"]})
    assert api.ok("GET", "/_ml/filters", filter_path="filters.filter_id") == {
        "filters": [{"filter_id": "a"}, {"filter_id": "b"}]
    }
    assert api.ok("GET", "/_ml/filters", filter_path="count,-filters") == {"count": 2}
    assert api.ok("GET", "/_ml/filters", filter_path="**.items") == {
        "filters": [{"items": ["1"]}, {"items": ["2"]}]
    }
    assert api.ok("GET", "/_ml/filters", filter_path="-filters.items,-filters.description") == {
        "count": 2,
        "filters": [{"filter_id": "a"}, {"filter_id": "b"}],
    }
    assert api.ok("GET", "/_ml/filters", filter_path="nothing") == {}
