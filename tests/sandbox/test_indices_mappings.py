"""Index mappings (explicit and dynamic), aliases, and the field map other modules read.

Expected answers are Elasticsearch's: the dynamic field mapping table of the reference
("Dynamic field mapping": boolean, long, float, date detection with the default
`dynamic_date_formats`, text with a `keyword` multi-field, objects), DocumentParser's and
MapperService's messages, and the alias APIs' bodies (RestGetAliasesAction,
AliasesNotFoundException, IndexAbstraction.getWriteIndex).
"""

from __future__ import annotations

import json

from sandbox_helpers import Api

from reconciler.sandbox import documents
from reconciler.sandbox.context import Ctx


def test_dynamic_mapping_follows_the_documented_table(api: Api) -> None:
    api.ok(
        "PUT",
        "/logs/_doc/1",
        {
            "count": 3,
            "ratio": 0.5,
            "ok": True,
            "message": "hello",
            "@timestamp": "2024-01-01T10:00:00Z",
            "day": "2024-01-01",
            "slashed": "2015/09/02 10:00:00 +0000",
            "nothing": None,
            "tags": ["a", "b"],
            "empty": [],
            "host": {"name": "web-1", "cpu": 2},
        },
    )
    mappings = api.ok("GET", "/logs/_mapping")["logs"]["mappings"]
    text = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert mappings == {
        "properties": {
            "count": {"type": "long"},
            "ratio": {"type": "float"},
            "ok": {"type": "boolean"},
            "message": text,
            "@timestamp": {"type": "date"},
            "day": {"type": "date"},
            "slashed": {"type": "date", "format": "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"},
            "tags": text,
            "host": {"properties": {"name": text, "cpu": {"type": "long"}}},
        }
    }
    # a value the mapped type cannot hold is refused (DocumentParser)
    err = api.error(400, "PUT", "/logs/_doc/2", {"count": "many"})
    assert err["type"] == "document_parsing_exception"
    assert err["reason"] == (
        "[1:2] failed to parse field [count] of type [long] in document with id '2'. "
        "Preview of field's value: 'many'"
    )


def test_explicit_mappings_strict_and_false(api: Api) -> None:
    api.ok(
        "PUT",
        "/strict",
        {"mappings": {"dynamic": "strict", "properties": {"a": {"type": "keyword"}}}},
    )
    api.ok("PUT", "/strict/_doc/1", {"a": "x"})
    err = api.error(400, "PUT", "/strict/_doc/2", {"b": 1})
    assert (err["type"], err["reason"]) == (
        "strict_dynamic_mapping_exception",
        "[1:2] mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed",
    )
    api.ok("PUT", "/loose", {"mappings": {"dynamic": False}})
    api.ok("PUT", "/loose/_doc/1", {"b": 1})
    assert api.ok("GET", "/loose/_mapping")["loose"]["mappings"] == {"dynamic": False}
    assert api.ok("GET", "/loose/_doc/1")["_source"] == {"b": 1}  # stored, not mapped


def test_put_mapping_adds_fields_and_refuses_a_type_change(api: Api) -> None:
    api.ok("PUT", "/m/_doc/1", {"host": "a"})
    err = api.error(400, "PUT", "/m/_mapping", {"properties": {"host": {"type": "keyword"}}})
    assert err["reason"] == "mapper [host] cannot be changed from type [text] to [keyword]"
    api.ok("PUT", "/m/_mapping", {"properties": {"region": {"type": "keyword"}}})
    props = api.ok("GET", "/m/_mapping")["m"]["mappings"]["properties"]
    assert sorted(props) == ["host", "region"]


def test_aliases_resolve_in_search_mapping_and_document_apis(api: Api) -> None:
    api.ok("PUT", "/a1", {"aliases": {"both": {}}})
    api.ok("PUT", "/a2")
    api.ok("PUT", "/a1/_doc/1", {"team": "x"})
    api.ok("PUT", "/a2/_doc/2", {"team": "y"})
    answer = api.ok(
        "POST",
        "/_aliases",
        {
            "actions": [
                {"add": {"index": "a2", "alias": "both", "is_write_index": True}},
                {"add": {"index": "a1", "alias": "only-x", "filter": {"term": {"team": "x"}}}},
            ]
        },
    )
    assert answer == {"acknowledged": True, "errors": False}
    assert api.ok("GET", "/both/_count")["count"] == 2
    assert [h["_id"] for h in api.ok("GET", "/only-x/_search")["hits"]["hits"]] == ["1"]
    assert sorted(api.ok("GET", "/both/_mapping")) == ["a1", "a2"]
    written = api.ok("PUT", "/both/_doc/3", {"team": "z"})
    assert written["_index"] == "a2"  # the write index
    assert api.ok("GET", "/_alias/both") == {
        "a1": {"aliases": {"both": {}}},
        "a2": {"aliases": {"both": {"is_write_index": True}}},
    }
    assert api.ok("GET", "/a1")["a1"]["aliases"] == {
        "both": {},
        "only-x": {"filter": {"term": {"team": "x"}}},
    }
    api.ok("PUT", "/a1/_alias/both", {"is_write_index": False})
    api.ok("DELETE", "/a2/_alias/both")
    err = api.error(400, "PUT", "/both/_doc/4", {"team": "w"})
    assert err["reason"].startswith("no write index is defined for alias [both].")
    err = api.error(404, "DELETE", "/a2/_alias/nope")
    assert (err["type"], err["reason"]) == ("aliases_not_found_exception", "aliases [nope] missing")
    err = api.error(400, "DELETE", "/only-x")
    assert err["reason"] == (
        "The provided expression [only-x] matches an alias, specify the corresponding concrete "
        "indices instead."
    )
    assert api.call("HEAD", "/_alias/only-x").status_code == 200
    api.ok("DELETE", "/a1")
    assert api.call("HEAD", "/_alias/only-x").status_code == 404  # aliases go with the index


def test_field_types_is_the_map_field_caps_reads(api: Api) -> None:
    api.ok("PUT", "/f1", {"mappings": {"properties": {"v": {"type": "double"}}}})
    api.ok("PUT", "/f2/_doc/1", {"v": 1, "user": {"id": "u"}})
    api.ok("POST", "/_aliases", {"actions": [{"add": {"indices": ["f1", "f2"], "alias": "f"}}]})
    with api.sandbox.store.transaction() as state:
        ctx = Ctx(state, api.sandbox.config, 0.0)
        types = documents.field_types(ctx, ["f"])
        flat = documents.flat_fields(ctx, ["f1", "f2"])
    assert types == {
        "user": {"object": ["f2"]},
        "user.id": {"text": ["f2"]},
        "user.id.keyword": {"keyword": ["f2"]},
        "v": {"double": ["f1"], "long": ["f2"]},
    }
    assert flat == {"user.id": "text", "user.id.keyword": "keyword", "v": "double"}


def test_bulk_update_merges_upserts_and_reports_missing_documents(api: Api) -> None:
    api.ok("PUT", "/u/_doc/1", {"a": 1, "o": {"x": 1}})
    lines = [
        {"update": {"_index": "u", "_id": "1"}},
        {"doc": {"o": {"y": 2}}},
        {"update": {"_index": "u", "_id": "1"}},
        {"doc": {"a": 1}},
        {"update": {"_index": "u", "_id": "2"}},
        {"doc": {"a": 2}},
        {"update": {"_index": "u", "_id": "3"}},
        {"doc": {"a": 3}, "doc_as_upsert": True},
    ]
    raw = "".join(json.dumps(line) + "\n" for line in lines)
    resp = api.client.post("/_bulk", content=raw, headers={"content-type": "application/x-ndjson"})
    items = [item["update"] for item in resp.json()["items"]]
    assert [(i["status"], i.get("result")) for i in items] == [
        (200, "updated"),
        (200, "noop"),
        (404, None),
        (201, "created"),
    ]
    assert items[2]["error"]["type"] == "document_missing_exception"
    assert items[2]["error"]["reason"] == "[2]: document missing"
    assert api.ok("GET", "/u/_doc/1")["_source"] == {"a": 1, "o": {"x": 1, "y": 2}}


def test_bulk_items_fail_one_by_one_as_elasticsearch_renders_them(api: Api) -> None:
    api.ok("PUT", "/r/_doc/taken", {"scope": "other"})
    lines = [
        {"create": {"_id": "new"}},
        {"scope": "mine"},
        {"create": {"_id": "taken"}},
        {"scope": "mine"},
        {"delete": {"_id": "missing"}},
    ]
    raw = "".join(json.dumps(line) + "\n" for line in lines)
    resp = api.client.post(
        "/r/_bulk?refresh=true", content=raw, headers={"content-type": "application/x-ndjson"}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["errors"] is True
    created, refused, missing = body["items"]
    assert (created["create"]["status"], created["create"]["result"]) == (201, "created")
    # BulkItemResponse: `_index`, `_id`, `status` and the failure's own fields, no root_cause.
    conflict = refused["create"]
    assert (conflict["_id"], conflict["status"]) == ("taken", 409)
    assert conflict["error"]["type"] == "version_conflict_engine_exception"
    assert "root_cause" not in conflict["error"]
    assert conflict["error"]["index"] == "r"
    # A delete of a missing document is no failure: 404 `not_found`, and alone `errors: false`.
    assert (missing["delete"]["status"], missing["delete"]["result"]) == (404, "not_found")
    assert "error" not in missing["delete"]
    only = api.client.post(
        "/r/_bulk",
        content=json.dumps({"delete": {"_id": "missing"}}) + "\n",
        headers={"content-type": "application/x-ndjson"},
    )
    assert only.json()["errors"] is False
    assert api.ok("GET", "/r/_doc/taken")["_source"] == {"scope": "other"}
