"""`_field_caps` and `_resolve/index`: the answers the plan's live checks read, as ES gives them.

Shapes from FieldCapabilitiesResponse and ResolveIndexAction.Response; the index options as
IndexNameExpressionResolver applies them (a missing concrete index is a 404 unless
`ignore_unavailable`, a pattern matching nothing is empty unless `allow_no_indices=false`).
"""

from __future__ import annotations

import httpx
from sandbox_helpers import Api

from reconciler.sandbox import Sandbox, SandboxTransport

LOGS = {
    "properties": {
        "@timestamp": {"type": "date"},
        "bytes": {"type": "long"},
        "host": {"type": "keyword"},
        "message": {"type": "text"},
    }
}


def seed(api: Api) -> None:
    api.ok("PUT", "/logs-a", {"mappings": LOGS})
    api.ok("PUT", "/logs-b/_doc/1", {"@timestamp": "2024-01-01T00:00:00Z", "bytes": 1.5})


def test_field_caps_answer_shape_and_capabilities(api: Api) -> None:
    seed(api)
    body = api.ok("GET", "/logs-a/_field_caps", fields="*")
    assert body["indices"] == ["logs-a"]
    assert body["fields"]["host"] == {
        "keyword": {
            "type": "keyword",
            "metadata_field": False,
            "searchable": True,
            "aggregatable": True,
        }
    }
    # text is searchable but has no doc values to aggregate on
    assert body["fields"]["message"]["text"]["aggregatable"] is False
    assert body["fields"]["message"]["text"]["searchable"] is True


def test_a_field_with_two_types_lists_the_indices_of_each(api: Api) -> None:
    seed(api)
    body = api.ok("GET", "/logs-*/_field_caps", fields="bytes")
    assert body["indices"] == ["logs-a", "logs-b"]
    assert body["fields"]["bytes"]["long"]["indices"] == ["logs-a"]
    assert body["fields"]["bytes"]["float"]["indices"] == ["logs-b"]


def test_fields_filter_and_unmapped(api: Api) -> None:
    seed(api)
    body = api.ok("GET", "/logs-a/_field_caps", fields="host,nope")
    assert set(body["fields"]) == {"host"}
    body = api.ok("GET", "/logs-a/_field_caps", fields="host,nope", include_unmapped=True)
    assert body["fields"]["nope"]["unmapped"]["searchable"] is False
    # unmapped in some indices only: listed with those indices
    body = api.ok("GET", "/logs-*/_field_caps", fields="host", include_unmapped=True)
    assert body["fields"]["host"]["unmapped"]["indices"] == ["logs-b"]
    assert body["fields"]["host"]["keyword"]["indices"] == ["logs-a"]


def test_runtime_mappings_in_the_body_are_fields(api: Api) -> None:
    seed(api)
    runtime = {"runtime_mappings": {"doubled": {"type": "long", "script": "emit(1)"}}}
    body = api.ok("POST", "/logs-a/_field_caps", runtime, fields="doubled")
    assert body["fields"]["doubled"]["long"]["aggregatable"] is True
    error = api.error(
        400,
        "POST",
        "/logs-a/_field_caps",
        {"runtime_mappings": {"x": {"type": "nope"}}},
        fields="x",
    )
    assert error["type"] == "mapper_parsing_exception"
    assert "No handler for type [nope] declared on runtime field [x]" in error["reason"]


def test_fields_are_required(api: Api) -> None:
    error = api.error(400, "GET", "/_field_caps")
    assert error["type"] == "action_request_validation_exception"


def test_index_options(api: Api) -> None:
    seed(api)
    error = api.error(404, "GET", "/logs-a,missing/_field_caps", fields="*")
    assert error["type"] == "index_not_found_exception"
    assert error["index"] == "missing"
    body = api.ok("GET", "/logs-a,missing/_field_caps", fields="host", ignore_unavailable=True)
    assert body["indices"] == ["logs-a"]
    assert api.ok("GET", "/nothing-*/_field_caps", fields="*") == {"indices": [], "fields": {}}
    api.error(404, "GET", "/nothing-*/_field_caps", fields="*", allow_no_indices=False)


def test_resolve_index(api: Api) -> None:
    seed(api)
    body = api.ok("GET", "/_resolve/index/logs-*")
    assert body == {
        "indices": [
            {"name": "logs-a", "attributes": ["open"]},
            {"name": "logs-b", "attributes": ["open"]},
        ],
        "aliases": [],
        "data_streams": [],
    }
    api.error(404, "GET", "/_resolve/index/logs-a,missing")
    body = api.ok("GET", "/_resolve/index/logs-a,missing", ignore_unavailable=True)
    assert [i["name"] for i in body["indices"]] == ["logs-a"]


def test_resolve_index_lists_aliases_and_field_caps_reads_through_them(api: Api) -> None:
    seed(api)
    api.ok("POST", "/_aliases", {"actions": [{"add": {"index": "logs-a", "alias": "web"}}]})
    body = api.ok("GET", "/_resolve/index/web")
    assert body["indices"] == []
    assert body["aliases"] == [{"name": "web", "indices": ["logs-a"]}]
    body = api.ok("GET", "/_resolve/index/logs-a")
    assert body["indices"] == [{"name": "logs-a", "aliases": ["web"], "attributes": ["open"]}]
    assert api.ok("GET", "/web/_field_caps", fields="host")["indices"] == ["logs-a"]


def test_implicit_indices_stand_for_data_not_loaded() -> None:
    sandbox = Sandbox(implicit_indices=True)
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://sandbox") as client:
        api = Api(client, sandbox)
        body = api.ok("GET", "/never-created/_field_caps", fields="a,b*")
        assert body["indices"] == ["never-created"]
        assert set(body["fields"]) == {"a"}  # named fields only, not patterns
        body = api.ok("GET", "/_resolve/index/logs-*")
        assert [i["name"] for i in body["indices"]] == ["logs-*"]


def test_explain_refuses_a_source_without_compatible_fields(api: Api) -> None:
    api.ok("PUT", "/notes", {"mappings": {"properties": {"note": {"type": "text"}}}})
    api.ok("PUT", "/notes/_doc/1", {"note": "x"})
    config = {"source": {"index": "notes"}, "analysis": {"outlier_detection": {}}}
    error = api.error(400, "POST", "/_ml/data_frame/analytics/_explain", config)
    assert error["type"] == "status_exception"
    assert error["reason"].startswith("No compatible fields could be detected in index [notes].")
