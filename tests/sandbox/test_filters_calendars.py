"""Filters, calendars and scheduled events (es-ml-api.md §4)."""

from __future__ import annotations

from sandbox_helpers import Api, job_body

F = "/_ml/filters"
C = "/_ml/calendars"


def test_filter_lifecycle(api: Api) -> None:
    created = api.ok("PUT", f"{F}/safe", {"description": "d", "items": ["b", "a", "b", "*.x"]})
    assert created == {"filter_id": "safe", "description": "d", "items": ["*.x", "a", "b"]}
    assert api.ok("PUT", f"{F}/bare", {}) == {"filter_id": "bare", "items": []}
    err = api.error(400, "PUT", f"{F}/safe", {})
    assert (err["type"], err["reason"]) == (
        "resource_already_exists_exception",
        "A filter with id [safe] already exists",
    )
    updated = api.ok("POST", f"{F}/safe/_update", {"add_items": ["c"], "remove_items": ["a"]})
    assert updated["items"] == ["*.x", "b", "c"]
    err = api.error(400, "POST", f"{F}/safe/_update", {"remove_items": ["zzz"]})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot remove item [zzz] as it is not present in filter [safe]",
    )
    assert (
        api.error(404, "POST", f"{F}/nope/_update", {})["reason"]
        == "No filter with id [nope] exists"
    )
    page = api.ok("GET", F, size=1, **{"from": 1})
    assert page["count"] == 2 and [f["filter_id"] for f in page["filters"]] == ["safe"]
    err = api.error(400, "PUT", f"{F}/big", {"items": [str(i) for i in range(10_001)]})
    assert err["reason"] == "Filter [big] contains too many items; up to [10000] items are allowed"


def test_filter_in_use_cannot_be_deleted(api: Api) -> None:
    api.ok("PUT", f"{F}/filter-foo", {"items": ["x"]})
    api.ok(
        "PUT",
        "/_ml/anomaly_detectors/filter-crud",
        job_body(
            analysis_config={
                "detectors": [
                    {
                        "function": "count",
                        "by_field_name": "ip",
                        "custom_rules": [{"scope": {"ip": {"filter_id": "filter-foo"}}}],
                    }
                ]
            }
        ),
    )
    err = api.error(409, "DELETE", f"{F}/filter-foo")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot delete filter [filter-foo] currently used by jobs [filter-crud]",
    )
    api.ok("DELETE", "/_ml/anomaly_detectors/filter-crud")
    assert api.ok("DELETE", f"{F}/filter-foo") == {"acknowledged": True}
    err = api.error(404, "DELETE", f"{F}/filter-foo")
    assert err["reason"] == "Could not delete filter with ID [filter-foo] because it does not exist"


def test_calendar_lifecycle(api: Api) -> None:
    assert api.ok("PUT", f"{C}/wildlife", {"job_ids": ["otter", "new-group"]}) == {
        "calendar_id": "wildlife",
        "job_ids": ["otter", "new-group"],
    }
    err = api.error(400, "PUT", f"{C}/wildlife", {})
    assert err["type"] == "resource_already_exists_exception"
    assert api.error(400, "PUT", f"{C}/_all", {})["type"] == "illegal_argument_exception"
    assert api.ok("PUT", f"{C}/wildlife/jobs/fox,otter")["job_ids"] == ["otter", "new-group", "fox"]
    assert api.ok("DELETE", f"{C}/wildlife/jobs/otter")["job_ids"] == ["new-group", "fox"]
    err = api.error(400, "DELETE", f"{C}/wildlife/jobs/otter")
    assert err["reason"] == "Cannot remove [otter] as it is not present in calendar [wildlife]"
    assert api.error(404, "GET", f"{C}/nope")["reason"] == "No calendar with id [nope]"
    err = api.error(400, "GET", f"{C}/wildlife", size=10)
    assert err["type"] == "action_request_validation_exception"
    api.ok("PUT", f"{C}/a-cal")
    listed = api.ok("POST", C, {"page": {"from": 1, "size": 5}})
    assert listed["count"] == 2 and [c["calendar_id"] for c in listed["calendars"]] == ["wildlife"]


def test_events(api: Api) -> None:
    api.ok("PUT", f"{C}/planned")
    err = api.error(400, "POST", f"{C}/planned/events", {"events": []})
    assert err["reason"] == "At least 1 event is required"
    created = api.ok(
        "POST",
        f"{C}/planned/events",
        {
            "events": [
                {
                    "description": "late",
                    "start_time": "2024-02-01T00:00:00Z",
                    "end_time": 1706832000000,
                },
                {"description": "early", "start_time": 1704067200000, "end_time": 1704153600000},
            ]
        },
    )
    first = created["events"][0]
    assert first["start_time"] == 1706745600000 and first["calendar_id"] == "planned"
    assert first["event_id"]
    events = api.ok("GET", f"{C}/planned/events")["events"]
    assert [e["description"] for e in events] == ["early", "late"]
    assert api.ok("GET", f"{C}/planned/events", start=1706000000000)["count"] == 1
    err = api.error(400, "GET", f"{C}/planned/events", job_id="x")
    assert err["type"] == "action_request_validation_exception"
    api.ok("PUT", "/_ml/anomaly_detectors/j", job_body())
    api.ok("PUT", f"{C}/other", {"job_ids": ["j"]})
    api.ok(
        "POST",
        f"{C}/other/events",
        {"events": [{"description": "o", "start_time": 1, "end_time": 2}]},
    )
    assert [e["calendar_id"] for e in api.ok("GET", f"{C}/_all/events", job_id="j")["events"]] == [
        "other"
    ]
    err = api.error(400, "DELETE", f"{C}/other/events/{first['event_id']}")
    assert err["type"] == "status_exception"
    assert api.ok("DELETE", f"{C}/planned/events/{first['event_id']}") == {"acknowledged": True}
    assert api.ok("DELETE", f"{C}/planned") == {"acknowledged": True}
    assert api.ok("GET", f"{C}/_all/events")["count"] == 1
