"""Datafeeds: defaults, one-per-job, state rules, lookback, preview, stats."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import Api, Clock, job_body

DF = "/_ml/datafeeds"
AD = "/_ml/anomaly_detectors"


def setup_job(api: Api, job_id: str = "high_sum_total_sales") -> None:
    api.ok("PUT", f"{AD}/{job_id}", job_body())


def test_datafeed_defaults_match_the_documented_shape(api: Api) -> None:
    setup_job(api)
    df = api.ok(
        "PUT",
        f"{DF}/datafeed-high_sum_total_sales",
        {"job_id": "high_sum_total_sales", "indices": "kibana_sample_data_ecommerce"},
    )
    assert df == {
        "datafeed_id": "datafeed-high_sum_total_sales",
        "job_id": "high_sum_total_sales",
        "authorization": {"roles": ["superuser"]},
        "query_delay": "93169ms",  # es-ml-api.md §2.2, get-datafeed docs
        "chunking_config": {"mode": "auto"},
        "indices_options": {
            "expand_wildcards": ["open"],
            "ignore_unavailable": False,
            "allow_no_indices": True,
            "ignore_throttled": True,
        },
        "query": {"match_all": {}},
        "indices": ["kibana_sample_data_ecommerce"],
        "scroll_size": 1000,
        "delayed_data_check_config": {"enabled": True},
    }
    assert api.ok("GET", f"{DF}/datafeed-high_sum_total_sales")["datafeeds"] == [df]
    slim = api.ok("GET", DF, exclude_generated=True)["datafeeds"][0]
    assert set(slim) == {
        "datafeed_id",
        "job_id",
        "query",
        "indices",
        "scroll_size",
        "delayed_data_check_config",
    }


def test_query_params_override_indices_options(api: Api) -> None:
    setup_job(api, "j")
    df = api.ok(
        "PUT",
        f"{DF}/d",
        {"job_id": "j", "indices": ["a"]},
        ignore_unavailable=True,
        expand_wildcards="open,hidden",
    )
    assert df["indices_options"]["ignore_unavailable"] is True
    assert df["indices_options"]["expand_wildcards"] == ["open", "hidden"]


def test_create_rules(api: Api) -> None:
    err = api.error(404, "PUT", f"{DF}/d", {"job_id": "nope", "indices": ["i"]})
    assert (err["type"], err["reason"]) == (
        "resource_not_found_exception",
        "No known job with id 'nope'",
    )
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d1", {"job_id": "j", "indices": ["i"]})
    err = api.error(400, "PUT", f"{DF}/d1", {"job_id": "j", "indices": ["i"]})
    assert (err["type"], err["reason"]) == (
        "resource_already_exists_exception",
        "A datafeed with id [d1] already exists",
    )
    err = api.error(409, "PUT", f"{DF}/d2", {"job_id": "j", "indices": ["i"]})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "A datafeed [d1] already exists for job [j]",
    )
    err = api.error(
        400, "PUT", f"{DF}/d3", {"job_id": "j", "indices": ["i"], "headers": {"a": "b"}}
    )
    assert err["type"] == "x_content_parse_exception"
    assert err["reason"].endswith("[datafeed_config] unknown field [headers]")
    err = api.error(400, "PUT", f"{DF}/d3", {"job_id": "j", "indices": ["i"], "scroll_size": -1})
    assert err["reason"] == "Invalid scroll_size value '-1' in datafeed configuration"
    err = api.error(
        400,
        "PUT",
        f"{DF}/d3",
        {"job_id": "j", "indices": ["i"], "aggs": {"a": {}}, "aggregations": {}},
    )
    assert err["reason"] == "Found two aggregation definitions: [aggs] and [aggregations]"


def test_aggregations_need_summary_count_field(api: Api) -> None:
    setup_job(api, "j")
    aggs = {
        "buckets": {
            "date_histogram": {"field": "time", "fixed_interval": "300s"},
            "aggregations": {"time": {"max": {"field": "time"}}},
        }
    }
    err = api.error(400, "PUT", f"{DF}/d", {"job_id": "j", "indices": ["i"], "aggregations": aggs})
    assert err["reason"] == (
        "A job configured with a datafeed with aggregations must set summary_count_field_name; "
        "use doc_count or suitable alternative"
    )
    api.ok(
        "PUT",
        f"{AD}/k",
        job_body(
            analysis_config={
                "bucket_span": "15m",
                "summary_count_field_name": "doc_count",
                "detectors": [{"function": "mean", "field_name": "amount"}],
            }
        ),
    )
    df = api.ok("PUT", f"{DF}/d", {"job_id": "k", "indices": ["i"], "aggregations": aggs})
    assert df["chunking_config"] == {"mode": "manual", "time_span": "300000000ms"}


def test_update_rules(api: Api) -> None:
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i"]})
    updated = api.ok(
        "POST", f"{DF}/d/_update", {"frequency": "2m", "query_delay": "0s", "indexes": ["x-*"]}
    )
    assert (updated["frequency"], updated["query_delay"], updated["indices"]) == (
        "2m",
        "0s",
        ["x-*"],
    )
    err = api.error(400, "POST", f"{DF}/d/_update", {"job_id": "other"})
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "Datafeed's job_id cannot be changed.",
    )
    api.ok("POST", f"{AD}/j/_open")
    api.ok("POST", f"{DF}/d/_start")
    err = api.error(409, "POST", f"{DF}/d/_update", {"scroll_size": 10})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot update datafeed [d] while its status is started",
    )
    err = api.error(409, "DELETE", f"{DF}/d")
    assert err["reason"] == "Cannot delete datafeed [d] while its status is started"
    assert api.ok("DELETE", f"{DF}/d", force=True) == {"acknowledged": True}
    assert api.error(404, "DELETE", f"{DF}/d")["reason"] == "No datafeed with id [d] exists"


def test_start_stop_rules(api: Api) -> None:
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i-*"]})
    err = api.error(409, "POST", f"{DF}/d/_start")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "cannot start datafeed [d] because job [j] is closed",
    )
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(400, "POST", f"{DF}/d/_start", start="yesterday")
    assert err["reason"] == (
        "Query param [start] with value [yesterday] cannot be parsed as a date or converted to "
        "a number (epoch)."
    )
    err = api.error(
        400, "POST", f"{DF}/d/_start", start="2024-01-02T00:00:00Z", end="2024-01-01T00:00:00Z"
    )
    # StartDatafeedAction.Request.validate, in epoch ms
    assert (err["type"], err["reason"]) == (
        "action_request_validation_exception",
        "Validation Failed: 1: start [1704153600000] must be earlier than end [1704067200000];",
    )
    assert api.ok("POST", f"{DF}/d/_start", {"start": "2024-01-01T00:00:00Z"})["started"] is True
    err = api.error(409, "POST", f"{DF}/d/_start")
    assert err["reason"] == "cannot start datafeed [d] because it has already been started"
    stats = api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]
    assert stats["state"] == "started"
    assert stats["running_state"]["real_time_configured"] is True
    assert stats["running_state"]["search_interval"]["start_ms"] == 1704067200000
    assert api.ok("POST", f"{DF}/d/_stop") == {"stopped": True}
    assert api.ok("POST", f"{DF}/d/_stop") == {"stopped": True}
    assert api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]["state"] == "stopped"
    assert (
        api.error(404, "POST", f"{DF}/nope/_stop")["reason"] == "No datafeed with id [nope] exists"
    )
    assert api.ok("POST", f"{DF}/nope-*/_stop") == {"stopped": True}


def test_start_needs_existing_concrete_index(api: Api) -> None:
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["missing"]})
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(404, "POST", f"{DF}/d/_start")
    # start_stop_datafeed.yml "Test start given datafeed index does not exist"
    assert (err["type"], err["reason"]) == (
        "resource_not_found_exception",
        "datafeed [d] cannot retrieve data because index [missing] does not exist",
    )


def test_lookback_with_end_stops_and_closes_the_job(api: Api, clock: Clock) -> None:
    api.ok("PUT", "/_sandbox/transitions", {"datafeed_lookback": 5})
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i-*"]})
    api.ok("POST", f"{AD}/j/_open")
    api.ok("POST", f"{DF}/d/_start", start=0, end=3_600_000)
    stats = api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]
    assert stats["state"] == "started"
    assert stats["running_state"]["real_time_configured"] is False
    clock.advance(5)
    assert api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]["state"] == "stopped"
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "closed"


def test_stop_with_close_job(api: Api) -> None:
    setup_job(api, "j")
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i-*"]})
    api.ok("POST", f"{AD}/j/_open")
    api.ok("POST", f"{DF}/d/_start")
    api.ok("POST", f"{DF}/d/_stop", close_job=True)
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "closed"


def test_preview_returns_a_top_level_array(api: Api) -> None:
    setup_job(api, "j")
    api.ok(
        "PUT", f"{DF}/d", {"job_id": "j", "indices": ["metrics"], "query": {"term": {"ok": True}}}
    )
    for i, ok in enumerate((True, False, True)):
        api.ok(
            "POST",
            "/metrics/_doc",
            {"@timestamp": 1000 * (3 - i), "amount": i, "user": "u", "ok": ok, "x": 1},
        )
    preview = api.ok("GET", f"{DF}/d/_preview")
    assert preview == [
        {"@timestamp": 1000, "amount": 2, "user": "u"},
        {"@timestamp": 3000, "amount": 0, "user": "u"},
    ]


# --------------------------------------------------------------------------- fidelity review


def _summary_job(api: Api, job_id: str = "k") -> None:
    api.ok(
        "PUT",
        f"{AD}/{job_id}",
        job_body(
            analysis_config={
                "bucket_span": "15m",
                "summary_count_field_name": "doc_count",
                "detectors": [{"function": "mean", "field_name": "amount"}],
            }
        ),
    )


def _histogram(**nested: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"date_histogram": {"field": "time", "fixed_interval": "5m"}}
    if nested:
        out["aggregations"] = nested
    return out


_MAX_TIME = {"max": {"field": "time"}}


@pytest.mark.parametrize(
    ("aggs", "reason"),
    [
        # A3 (DatafeedConfig.validateAggregations, es-ml-api.md §2.1/§5.5): no max at all.
        (
            {"buckets": _histogram()},
            "Date histogram must have nested max aggregation for time_field [time]",
        ),
        # a max on another field, or below another level, does not count
        (
            {"buckets": _histogram(m={"max": {"field": "amount"}})},
            "Date histogram must have nested max aggregation for time_field [time]",
        ),
        (
            {"buckets": _histogram(t={"terms": {"field": "x"}, "aggs": {"time": _MAX_TIME}})},
            "Date histogram must have nested max aggregation for time_field [time]",
        ),
        # a second histogram below the first, at any depth
        (
            {"buckets": _histogram(time=_MAX_TIME, h={"histogram": {"field": "b", "interval": 5}})},
            "Aggregations can only have 1 date_histogram or histogram aggregation",
        ),
        (
            {
                "buckets": _histogram(
                    time=_MAX_TIME,
                    t={"terms": {"field": "x"}, "aggs": {"d": _histogram(time=_MAX_TIME)}},
                )
            },
            "Aggregations can only have 1 date_histogram or histogram aggregation",
        ),
        # DatafeedConfigUtils.getHistogramAggregation: one aggregation per level down to it
        (
            {"a": _histogram(time=_MAX_TIME), "b": _histogram(time=_MAX_TIME)},
            "The date_histogram (or histogram) aggregation cannot have sibling aggregations",
        ),
        (
            {"t": {"terms": {"field": "x"}}},
            "A date_histogram (or histogram) aggregation is required",
        ),
        ({}, "A date_histogram (or histogram) aggregation is required"),
    ],
)
def test_aggregations_shape_rules(api: Api, aggs: dict[str, Any], reason: str) -> None:
    _summary_job(api)
    err = api.error(400, "PUT", f"{DF}/d", {"job_id": "k", "indices": ["i"], "aggregations": aggs})
    assert (err["type"], err["reason"]) == ("illegal_argument_exception", reason)
    assert api.ok("GET", DF)["count"] == 0


def test_aggregations_with_the_histogram_under_a_single_parent_are_accepted(api: Api) -> None:
    _summary_job(api)
    aggs = {
        "by_host": {
            "terms": {"field": "host", "size": 10},
            "aggregations": {"buckets": _histogram(time=_MAX_TIME, avg={"avg": {"field": "v"}})},
        }
    }
    df = api.ok("PUT", f"{DF}/d", {"job_id": "k", "indices": ["i"], "aggregations": aggs})
    assert df["aggregations"] == aggs
    assert df["chunking_config"] == {"mode": "manual", "time_span": "300000000ms"}


def test_a_single_indices_string_is_one_index_not_a_comma_list(api: Api) -> None:
    # C4: DatafeedConfig declares `indices` as a string array; a lone string is one element.
    setup_job(api, "j")
    df = api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": "a,b"})
    assert df["indices"] == ["a,b"]
    updated = api.ok("POST", f"{DF}/d/_update", {"indexes": "logs-*,metrics-*"})
    assert updated["indices"] == ["logs-*,metrics-*"]


@pytest.mark.parametrize(("latency", "accepted"), [("0s", True), ("0ms", True), ("1ms", False)])
def test_only_a_latency_above_zero_refuses_a_datafeed(
    api: Api, latency: str, accepted: bool
) -> None:
    # DatafeedJobValidator: `latency > 0` cannot be combined with a datafeed; zero can.
    body = job_body()
    body["analysis_config"]["latency"] = latency
    api.ok("PUT", "/_ml/anomaly_detectors/lat", body)
    feed = {"job_id": "lat", "indices": ["x"]}
    if accepted:
        api.ok("PUT", "/_ml/datafeeds/lat-feed", feed)
    else:
        err = api.error(400, "PUT", "/_ml/datafeeds/lat-feed", feed)
        assert err["reason"] == "A job configured with datafeed cannot support latency"
