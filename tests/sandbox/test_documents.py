"""Document, index and search APIs (what an apply lock and DFA sources need)."""

from __future__ import annotations

from sandbox_helpers import Api


def test_create_get_delete_with_optimistic_concurrency(api: Api) -> None:
    created = api.call("PUT", "/locks/_doc/mlsync", {"owner": "a"}, op_type="create")
    assert created.status_code == 201
    first = created.json()
    assert (first["result"], first["_version"], first["_primary_term"]) == ("created", 1, 1)
    err = api.error(409, "PUT", "/locks/_doc/mlsync", {"owner": "b"}, op_type="create")
    assert (err["type"], err["reason"]) == (
        "version_conflict_engine_exception",
        "[mlsync]: version conflict, document already exists (current version [1])",
    )
    assert api.call("PUT", "/locks/_create/mlsync", {"owner": "b"}).status_code == 409
    got = api.ok("GET", "/locks/_doc/mlsync")
    assert (
        got["found"] is True
        and got["_source"] == {"owner": "a"}
        and got["_seq_no"] == first["_seq_no"]
    )
    err = api.error(409, "DELETE", "/locks/_doc/mlsync", if_seq_no=99, if_primary_term=1)
    assert err["reason"] == (
        "[mlsync]: version conflict, required seqNo [99], primary term [1]. current document "
        "has seqNo "
        f"[{first['_seq_no']}] and primary term [1]"
    )
    updated = api.ok(
        "PUT", "/locks/_doc/mlsync", {"owner": "a2"}, if_seq_no=first["_seq_no"], if_primary_term=1
    )
    assert updated["result"] == "updated" and updated["_version"] == 2
    deleted = api.ok(
        "DELETE", "/locks/_doc/mlsync", if_seq_no=updated["_seq_no"], if_primary_term=1
    )
    assert deleted["result"] == "deleted"
    missing = api.call("GET", "/locks/_doc/mlsync")
    assert missing.status_code == 404 and missing.json() == {
        "_index": "locks",
        "_id": "mlsync",
        "found": False,
    }
    assert api.call("DELETE", "/locks/_doc/mlsync").json()["result"] == "not_found"


def test_indices(api: Api) -> None:
    assert api.ok("PUT", "/things") == {
        "acknowledged": True,
        "shards_acknowledged": True,
        "index": "things",
    }
    err = api.error(400, "PUT", "/things")
    assert err["type"] == "resource_already_exists_exception" and err["reason"].startswith(
        "index [things/"
    )
    err = api.error(400, "PUT", "/Things")
    assert (err["type"], err["reason"]) == (
        "invalid_index_name_exception",
        "Invalid index name [Things], must be lowercase",
    )
    assert api.call("HEAD", "/things").status_code == 200
    assert api.call("HEAD", "/other").status_code == 404
    err = api.error(404, "GET", "/other/_doc/1")
    assert (err["type"], err["reason"]) == ("index_not_found_exception", "no such index [other]")
    assert api.ok("DELETE", "/things") == {"acknowledged": True}


def test_search(api: Api) -> None:
    for i in range(5):
        api.ok(
            "POST",
            "/data/_doc",
            {"n": i, "tag": "even" if i % 2 == 0 else "odd", "nested": {"v": 10 - i}},
        )
    everything = api.ok("POST", "/data/_search")
    assert everything["hits"]["total"] == {"value": 5, "relation": "eq"}
    ranged = api.ok(
        "POST",
        "/data/_search",
        {
            "query": {
                "bool": {
                    "filter": [{"range": {"n": {"gte": 1, "lt": 4}}}, {"term": {"tag": "odd"}}]
                }
            }
        },
    )
    assert sorted(h["_source"]["n"] for h in ranged["hits"]["hits"]) == [1, 3]
    ordered = api.ok("POST", "/data/_search", {"sort": [{"nested.v": "asc"}], "size": 2})
    assert [h["_source"]["n"] for h in ordered["hits"]["hits"]] == [4, 3]
    assert ordered["hits"]["hits"][0]["sort"] == [6]
    assert api.ok("POST", "/data/_count", {"query": {"term": {"tag": "even"}}})["count"] == 3
    err = api.error(404, "POST", "/nothing/_search")
    assert err["type"] == "index_not_found_exception"
    assert api.ok("POST", "/nothing-*/_search")["hits"]["total"]["value"] == 0
