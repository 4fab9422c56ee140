"""The pure request catalogue: paths, parameters, JSON round trip, call classes."""

from __future__ import annotations

import json

import pytest

from reconciler.client import api
from reconciler.client.api import Call, CallClass


def test_paths_quote_segments_but_keep_multi_id_syntax() -> None:
    assert api.get_jobs("a,b*").path == "/_ml/anomaly_detectors/a,b*"
    assert api.get_jobs(["a", "b"]).path == "/_ml/anomaly_detectors/a,b"
    assert api.put_job("a/b c", {}).path == "/_ml/anomaly_detectors/a%2Fb%20c"
    assert api.get_document("idx", "x?y").path == "/idx/_doc/x%3Fy"
    with pytest.raises(ValueError, match="non-empty"):
        api.open_job("")


def test_booleans_and_numbers_become_query_strings_and_none_is_dropped() -> None:
    call = api.delete_job("j", force=True, wait_for_completion=False)
    assert call.params == {"force": "true", "wait_for_completion": "false"}
    assert api.delete_job("j").params == {}
    dfa = api.get_data_frame_analytics(from_=100, size=50, exclude_generated=True)
    assert dfa.params == {"from": "100", "size": "50", "exclude_generated": "true"}
    assert api.get_calendar_events().path == "/_ml/calendars/_all/events"


def test_calls_round_trip_through_json_for_saved_plans() -> None:
    call = api.put_datafeed("df", {"job_id": "j", "indices": ["i"]})
    again = Call.model_validate(json.loads(call.model_dump_json()))
    assert again == call
    with pytest.raises(ValueError):
        call.body = {}  # type: ignore[misc]  # frozen


def test_describe_shows_method_path_and_sorted_query() -> None:
    call = api.close_job("j", force=True, timeout="1m")
    assert api.describe(call) == "POST /_ml/anomaly_detectors/j/_close?force=true&timeout=1m"
    assert str(api.open_job("j")) == "POST /_ml/anomaly_detectors/j/_open"
    assert api.describe_with_body(api.put_filter("f", {"items": ["b", "a"]})) == (
        'PUT /_ml/filters/f {"items":["b","a"]}'
    )


def test_catalogue_endpoints() -> None:
    cases = [
        (api.update_job("j", {}), ("POST", "/_ml/anomaly_detectors/j/_update")),
        (api.get_job_stats(), ("GET", "/_ml/anomaly_detectors/_stats")),
        (
            api.start_datafeed("d", start="2024-01-01T00:00:00Z"),
            ("POST", "/_ml/datafeeds/d/_start"),
        ),
        (api.get_datafeed_stats("d"), ("GET", "/_ml/datafeeds/d/_stats")),
        (api.update_datafeed("d", {}), ("POST", "/_ml/datafeeds/d/_update")),
        (api.stop_data_frame_analytics("x"), ("POST", "/_ml/data_frame/analytics/x/_stop")),
        (api.get_data_frame_analytics_stats("x"), ("GET", "/_ml/data_frame/analytics/x/_stats")),
        (api.update_filter("f", {}), ("POST", "/_ml/filters/f/_update")),
        (api.put_calendar_job("c", ["j1", "j2"]), ("PUT", "/_ml/calendars/c/jobs/j1,j2")),
        (api.delete_calendar_event("c", "e1"), ("DELETE", "/_ml/calendars/c/events/e1")),
        (
            api.post_calendar_events("c", [{"description": "x"}]),
            ("POST", "/_ml/calendars/c/events"),
        ),
        (api.create_document("locks", "default", {"a": 1}), ("PUT", "/locks/_create/default")),
        (api.index_document("locks", "d", {}, 3, 1), ("PUT", "/locks/_doc/d")),
        (api.search("dest", {"size": 1}), ("POST", "/dest/_search")),
        (api.ml_info(), ("GET", "/_ml/info")),
        (api.license(), ("GET", "/_license")),
        (api.info(), ("GET", "/")),
        (
            api.get_buckets("j", "1700000000000"),
            ("GET", "/_ml/anomaly_detectors/j/results/buckets/1700000000000"),
        ),
        (
            api.revert_model_snapshot("j", "s"),
            ("POST", "/_ml/anomaly_detectors/j/model_snapshots/s/_revert"),
        ),
    ]
    for call, (method, path) in cases:
        assert (call.method, call.path) == (method, path)
    assert api.index_document("locks", "d", {}, 3, 1).params == {
        "if_seq_no": "3",
        "if_primary_term": "1",
    }
    assert api.post_calendar_events("c", [{"description": "x"}]).body == {
        "events": [{"description": "x"}]
    }


@pytest.mark.parametrize(
    ("call", "klass"),
    [
        (api.get_jobs(), CallClass.READ),
        (api.search("i", {}), CallClass.READ),
        (api.preview_datafeed("d"), CallClass.READ),
        (api.validate_job({}), CallClass.READ),
        (api.open_job("j"), CallClass.TRANSITION),
        (api.close_job("j"), CallClass.TRANSITION),
        (api.start_datafeed("d"), CallClass.TRANSITION),
        (api.stop_data_frame_analytics("x"), CallClass.TRANSITION),
        (api.delete_job("j"), CallClass.DELETE),
        (api.delete_document("i", "d"), CallClass.DELETE),
        (api.put_job("j", {}), CallClass.CREATE),
        (api.put_datafeed("d", {}), CallClass.CREATE),
        (api.put_data_frame_analytics("x", {}), CallClass.CREATE),
        (api.put_filter("f", {}), CallClass.CREATE),
        (api.put_calendar("c"), CallClass.CREATE),
        (api.create_document("i", "d", {}), CallClass.CREATE),
        (api.update_job("j", {}), CallClass.WRITE),
        (api.put_calendar_job("c", "j"), CallClass.WRITE),
        (api.post_calendar_events("c", []), CallClass.WRITE),
        (api.index_document("i", "d", {}), CallClass.WRITE),
        (api.revert_model_snapshot("j", "s"), CallClass.WRITE),
        # A bulk of creates and deletes only: sent again, what landed is refused or gone.
        (
            api.bulk("i", [{"create": {"_id": "a"}}, {"x": 1}, {"delete": {"_id": "b"}}]),
            CallClass.BULK,
        ),
        (
            api.bulk("i", [{"create": {"_id": "a"}}, {"x": 1}, {"index": {"_id": "b"}}, {}]),
            CallClass.WRITE,
        ),
        (api.bulk("i", [{"update": {"_id": "a"}}, {"doc": {}}]), CallClass.WRITE),
        (api.bulk("i", [{"create": {"_id": "a"}}]), CallClass.WRITE),  # no source line
        (api.bulk("i", []), CallClass.WRITE),
    ],
)
def test_classify(call: Call, klass: CallClass) -> None:
    assert api.classify(call) is klass


def test_confirmation_of_ml_creates() -> None:
    put = api.put_job("j", {"description": "d", "analysis_config": {}})
    read = api.confirmation_read(put)
    assert read == Call(method="GET", path="/_ml/anomaly_detectors/j")
    stored = {
        "job_id": "j",
        "description": "d",
        "analysis_limits": {"model_memory_limit": "1024mb"},
    }
    assert api.confirmed_object(put, {"count": 1, "jobs": [stored]}) == (True, stored)
    assert api.confirmed_object(put, {"count": 0, "jobs": []}) == (False, None)
    with pytest.raises(ValueError, match="description"):
        api.confirmed_object(put, {"count": 1, "jobs": [{**stored, "description": "other"}]})
    # ES stores a single index string as a list and filter items sorted and de-duplicated.
    feed = api.put_datafeed("d", {"job_id": "j", "indices": "logs"})
    stored_feed = {"datafeed_id": "d", "job_id": "j", "indices": ["logs"]}
    assert api.confirmed_object(feed, {"datafeeds": [stored_feed]})[0]
    flt = api.put_filter("f", {"items": ["b", "a", "b"]})
    assert api.confirmed_object(flt, {"filters": [{"filter_id": "f", "items": ["a", "b"]}]})[0]


@pytest.mark.parametrize(
    ("put", "key", "id_field"),
    [
        (api.put_job("team", {}), "jobs", "job_id"),
        (api.put_datafeed("team", {}), "datafeeds", "datafeed_id"),
        (api.put_data_frame_analytics("team", {}), "data_frame_analytics", "id"),
        (api.put_filter("team", {}), "filters", "filter_id"),
        (api.put_calendar("team", {}), "calendars", "calendar_id"),
    ],
)
def test_confirmation_needs_exactly_the_created_id(put: Call, key: str, id_field: str) -> None:
    # A GET by id expands groups and expressions (es-ml-api.md §0.4): `GET .../team` can list
    # job `other` of group `team`. That is not the object the PUT created.
    other = {id_field: "other"}
    assert api.confirmed_object(put, {"count": 1, key: [other]}) == (False, None)
    mine = {id_field: "team"}
    assert api.confirmed_object(put, {"count": 2, key: [other, mine]}) == (True, mine)
    assert api.confirmed_object(put, {"count": 2, key: [mine, dict(mine)]}) == (False, None)


def test_confirmation_of_document_creates_compares_the_source() -> None:
    put = api.create_document("locks", "default", {"lock_id": "L1"})
    assert api.confirmation_read(put) == api.get_document("locks", "default")
    found = {
        "_index": "locks",
        "_id": "default",
        "_seq_no": 4,
        "_primary_term": 1,
        "found": True,
        "_source": {"lock_id": "L1"},
    }
    ok, body = api.confirmed_object(put, found)
    assert ok and body["_seq_no"] == 4 and body["result"] == "created"
    with pytest.raises(ValueError, match="different"):
        api.confirmed_object(put, {**found, "_source": {"lock_id": "L2"}})
    assert api.confirmed_object(put, {"found": False}) == (False, None)
    assert api.confirmation_read(api.update_job("j", {})) is None


def test_already_done_after_a_retry() -> None:
    assert api.already_done(api.delete_job("j"), 404, "No known job with id 'j'") == {
        "acknowledged": True
    }
    opened = "Cannot open job [j] because it has already been opened"
    assert api.already_done(api.open_job("j"), 409, opened) == {"opened": True}
    started = "cannot start datafeed [d] because it has already been started"
    assert api.already_done(api.start_datafeed("d"), 409, started) == {"started": True}
    assert (
        api.already_done(api.open_job("j"), 409, "Cannot open job [j] because it is being deleted")
        is None
    )
    assert api.already_done(api.put_job("j", {}), 404, "x") is None


def test_removing_calendar_jobs_is_done_when_es_says_not_present() -> None:
    # es-ml-api.md §4.2: the repeat of an applied removal answers 400 "not present".
    remove = api.delete_calendar_job("wildlife", ["otter", "seal"])
    gone = "Cannot remove [otter] as it is not present in calendar [wildlife]"
    assert api.already_done(remove, 400, gone) == {"calendar_id": "wildlife"}
    other_id = "Cannot remove [bear] as it is not present in calendar [wildlife]"
    assert api.already_done(remove, 400, other_id) is None
    other_calendar = "Cannot remove [otter] as it is not present in calendar [zoo]"
    assert api.already_done(remove, 400, other_calendar) is None
    assert api.already_done(remove, 409, gone) is None
    assert api.already_done(api.put_calendar_job("wildlife", "otter"), 400, gone) is None
