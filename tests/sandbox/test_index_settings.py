"""Index settings and the search window: `PUT/GET /{index}/_settings`, `max_result_window`,
`track_total_hits` (DefaultSearchContext, SearchSourceBuilder, MetadataUpdateSettingsService)."""

from __future__ import annotations

import json

from sandbox_helpers import Api

WINDOW_REASON = (
    "Result window is too large, from + size must be less than or equal to: [10000] but was "
    "[10001]. See the scroll api for a more efficient way to request large data sets. This "
    "limit can be set by changing the [index.max_result_window] index level setting."
)


def fill(api: Api, index: str, count: int) -> None:
    raw = "".join(
        json.dumps({"create": {"_index": index, "_id": f"d{i}"}})
        + "\n"
        + json.dumps({"n": i})
        + "\n"
        for i in range(count)
    )
    resp = api.client.post("/_bulk", content=raw, headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 200 and not resp.json()["errors"], resp.text[:500]


def test_a_search_beyond_the_window_fails_on_every_shard(api: Api) -> None:
    fill(api, "small", 3)
    resp = api.call("GET", "/small/_search", size=10001)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["type"], error["reason"]) == (
        "search_phase_execution_exception",
        "all shards failed",
    )
    assert error["root_cause"] == [{"type": "illegal_argument_exception", "reason": WINDOW_REASON}]
    assert error["failed_shards"][0]["index"] == "small"
    # from counts too
    assert api.call("GET", "/small/_search", size=5000, **{"from": 5001}).status_code == 400
    assert api.call("GET", "/small/_search", size=10000).status_code == 200


def test_a_wider_index_answers_and_a_narrow_one_beside_it_fails_alone(api: Api) -> None:
    fill(api, "wide", 2)
    fill(api, "narrow", 2)
    assert api.ok("PUT", "/wide/_settings", {"index": {"max_result_window": 20000}}) == {
        "acknowledged": True
    }
    answer = api.ok("GET", "/wide,narrow/_search", size=15000)
    assert answer["_shards"]["failed"] == 1 and answer["_shards"]["successful"] == 1
    assert answer["_shards"]["failures"][0]["index"] == "narrow"
    assert {h["_index"] for h in answer["hits"]["hits"]} == {"wide"}
    assert answer["hits"]["total"] == {"value": 2, "relation": "eq"}


def test_hits_are_counted_up_to_ten_thousand_unless_asked(api: Api) -> None:
    fill(api, "many", 10_005)
    default = api.ok("GET", "/many/_search", size=0)["hits"]
    assert default["total"] == {"value": 10_000, "relation": "gte"}
    exact = api.ok("GET", "/many/_search", size=0, track_total_hits="true")["hits"]
    assert exact["total"] == {"value": 10_005, "relation": "eq"}
    capped = api.ok("GET", "/many/_search", size=0, track_total_hits=50)["hits"]
    assert capped["total"] == {"value": 50, "relation": "gte"}
    assert "total" not in api.ok("GET", "/many/_search", size=0, track_total_hits="false")["hits"]
    err = api.error(400, "GET", "/many/_search", track_total_hits=-5)
    assert err["reason"] == "[track_total_hits] parameter must be positive or equals to -1, got -5"


def test_dynamic_settings_update_and_static_or_unknown_ones_are_refused(api: Api) -> None:
    fill(api, "ix", 1)
    api.ok("PUT", "/ix/_settings", {"index.max_result_window": "50000"})
    view = api.ok("GET", "/ix/_settings")["ix"]["settings"]["index"]
    assert view["max_result_window"] == "50000"
    api.ok("PUT", "/ix/_settings", {"max_result_window": None})  # null: back to the default
    assert "max_result_window" not in api.ok("GET", "/ix/_settings")["ix"]["settings"]["index"]
    uuid = api.ok("GET", "/ix/_settings")["ix"]["settings"]["index"]["uuid"]
    err = api.error(400, "PUT", "/ix/_settings", {"index": {"number_of_shards": 2}})
    assert err["reason"] == (
        "Can't update non dynamic settings [[index.number_of_shards]] for open indices "
        f"[[ix/{uuid}]]"
    )
    err = api.error(400, "PUT", "/ix/_settings", {"index": {"no_such": 1}})
    assert err["reason"].startswith("unknown setting [index.no_such]")
    err = api.error(400, "PUT", "/ix/_settings", {"index": {"max_result_window": 0}})
    assert err["reason"] == (
        "Failed to parse value [0] for setting [index.max_result_window] must be >= 1"
    )
    err = api.error(404, "PUT", "/missing/_settings", {"index": {"max_result_window": 5}})
    assert err["type"] == "index_not_found_exception"
    err = api.error(404, "PUT", "/missing*/_settings", {"index": {"max_result_window": 5}})
    assert err["type"] == "index_not_found_exception"


def test_an_index_made_with_the_window_is_searched_beyond_ten_thousand(api: Api) -> None:
    api.ok("PUT", "/made", {"settings": {"index": {"max_result_window": 1_000_000}}})
    fill(api, "made", 10_003)
    answer = api.ok("GET", "/made*/_search", size=1_000_000, track_total_hits="true")
    assert len(answer["hits"]["hits"]) == 10_003
    assert answer["hits"]["total"] == {"value": 10_003, "relation": "eq"}
