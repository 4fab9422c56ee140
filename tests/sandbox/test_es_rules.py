"""Elasticsearch's request rules, behaviours, start-time checks and messages (issue 15, part 2).

Each test pairs a request with the answer Elasticsearch gives for it; the comment names the
class (or REST test) the answer comes from.
"""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import MINIMAL_JOB, Api, Clock, job_body

AD = "/_ml/anomaly_detectors"
DF = "/_ml/datafeeds"
DFA = "/_ml/data_frame/analytics"


def opened_job_with_feed(api: Api, feed: dict[str, Any] | None = None) -> None:
    api.ok("PUT", "/airline-data", {"mappings": {"properties": {
        "@timestamp": {"type": "date"}, "amount": {"type": "double"},
        "user": {"type": "keyword"},
    }}})  # fmt: skip
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["airline-data"], **(feed or {})})
    api.ok("POST", f"{AD}/j/_open")


# --- request parameter rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"start": "1000"}, "Param [start] is incompatible with [timestamp]."),
        ({"end": "1000"}, "Param [end] is incompatible with [timestamp]."),
        ({"anomaly_score": "1"}, "Param [anomaly_score] is incompatible with [timestamp]."),
        ({"from": "1"}, "Param [from, size] is incompatible with [timestamp]."),
    ],
)
def test_bucket_timestamp_excludes_paging_and_filters(
    api: Api, params: dict[str, str], reason: str
) -> None:
    # RestGetBucketsAction sets the timestamp first; the later setter refuses (400).
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    err = api.error(400, "GET", f"{AD}/j/results/buckets/1000", **params)
    assert (err["type"], err["reason"]) == ("illegal_argument_exception", reason)


def test_bucket_timestamp_with_a_body_filter_is_refused_in_the_timestamp_setter(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    err = api.error(400, "POST", f"{AD}/j/results/buckets/1000", {"start": "1000"})
    assert err["reason"] == (
        "Param [timestamp] is incompatible with [from,size,start,end,anomaly_score]"
    )


def test_category_id_excludes_paging(api: Api) -> None:
    # GetCategoriesAction.Request.setPageParams
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    err = api.error(400, "GET", f"{AD}/j/results/categories/1", size=5)
    assert err["reason"] == "Param [from, size] is incompatible with [category_id]."
    err = api.error(400, "POST", f"{AD}/j/results/categories/1", {"page": {"from": 1}})
    assert err["reason"] == "Param [category_id] is incompatible with [from, size]."


def test_from_alone_pages_with_the_default_size(api: Api) -> None:
    # PageParams.DEFAULT_SIZE is 100: `from` alone does not shrink the page.
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    buckets = [{"timestamp": i * 300_000, "anomaly_score": 0.0} for i in range(1, 131)]
    api.seed("j", {"buckets": buckets})
    page = api.ok("GET", f"{AD}/j/results/buckets", **{"from": 10})
    assert page["count"] == 130
    assert len(page["buckets"]) == 100
    assert page["buckets"][0]["timestamp"] == 11 * 300_000


@pytest.mark.parametrize("start", ["now", "now-1d", "now-1d/d", "2024-01-01T00:00:00Z||+1h"])
def test_datafeed_start_takes_date_math(api: Api, clock: Clock, start: str) -> None:
    # StartDatafeedAction.DatafeedParams.parseDateOrThrow uses a DateMathParser.
    opened_job_with_feed(api)
    api.ok("POST", f"{DF}/d/_start", start=start)
    stats = api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]
    assert stats["state"] in ("starting", "started")


def test_date_math_values(api: Api, clock: Clock) -> None:
    from reconciler.sandbox.validation import parse_date_math

    now = 1_700_000_123_456  # 2023-11-14T22:15:23.456Z
    assert parse_date_math("now", "start", now) == now
    assert parse_date_math("now-1d", "start", now) == now - 86_400_000
    assert parse_date_math("now/d", "start", now) == 1_699_920_000_000
    assert parse_date_math("now+1M/M", "start", now) == 1_701_388_800_000  # 2023-12-01
    assert parse_date_math("2024-01-31T00:00:00Z||+1M", "start", now) == 1_709_164_800_000


def test_datafeed_start_with_bad_date_is_a_parse_exception(api: Api) -> None:
    opened_job_with_feed(api)
    err = api.error(400, "POST", f"{DF}/d/_start", start="now-1x")
    assert (err["type"], err["reason"]) == (
        "parse_exception",
        "Query param [start] with value [now-1x] cannot be parsed as a date or converted to a "
        "number (epoch).",
    )


def test_datafeed_start_end_not_after_start_is_a_request_validation_error(api: Api) -> None:
    # start_stop_datafeed.yml "Test start given end same as start"
    opened_job_with_feed(api)
    body = {"start": "2017-02-01T01:00:00Z", "end": "2017-02-01T01:00:00Z"}
    err = api.error(400, "POST", f"{DF}/d/_start", body)
    assert (err["type"], err["reason"]) == (
        "action_request_validation_exception",
        "Validation Failed: 1: start [1485910800000] must be earlier than end [1485910800000];",
    )


def test_datafeed_start_body_is_lenient_and_takes_every_parameter(api: Api) -> None:
    # DatafeedParams.PARSER ignores unknown fields; start/end/timeout come from the body.
    opened_job_with_feed(api)
    body = {"start": "1000", "timeout": "20s", "unknown": 1}
    assert api.ok("POST", f"{DF}/d/_start", body)["started"] is True
    stats = api.ok("GET", f"{DF}/d/_stats")["datafeeds"][0]
    assert stats["running_state"]["search_interval"]["start_ms"] == 1000
    api.ok("POST", f"{DF}/d/_stop")
    err = api.error(400, "POST", f"{DF}/d/_start", {"timeout": "soon"})
    assert err["reason"].startswith("failed to parse setting [timeout] with value [soon]")


def test_preview_start_not_before_end_is_refused(api: Api) -> None:
    # PreviewDatafeedAction.Request.validate
    opened_job_with_feed(api)
    err = api.error(400, "GET", f"{DF}/d/_preview", start="2000", end="1000")
    assert err["reason"] == "Validation Failed: 1: start [2000] must be earlier than end [1000];"


def test_preview_with_an_id_and_a_config_is_refused(api: Api) -> None:
    opened_job_with_feed(api)
    body = {"datafeed_config": {"job_id": "j", "indices": ["airline-data"]}}
    err = api.error(400, "POST", f"{DF}/d/_preview", body)
    assert err["reason"] == (
        "[datafeed_id] cannot be supplied when either [job_config] or [datafeed_config] is present"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{AD}/j", {**MINIMAL_JOB, "job_id": "other"}),
        (f"{AD}/j/_update", {"job_id": "other"}),
        ("/_ml/filters/f/_update", {"filter_id": "other"}),
        ("/_ml/calendars/c", {"calendar_id": "other"}),
        (f"{DFA}/a/_start", {"id": "other"}),
        (f"{DFA}/a/_stop", {"id": "other"}),
    ],
)
def test_a_body_id_that_differs_from_the_url_is_inconsistent(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    # Messages.INCONSISTENT_ID
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB) if not path.endswith("/j") else None
    api.ok("PUT", "/_ml/filters/f", {"items": []})
    api.ok("POST", "/src/_doc", {"x": 1.0})
    api.ok("PUT", f"{DFA}/a", {"source": {"index": "src"}, "dest": {"index": "out"},
                               "analysis": {"outlier_detection": {}}})  # fmt: skip
    method = "POST" if path.rsplit("/", 1)[1].startswith("_") else "PUT"
    err = api.error(400, method, path, body)
    key = next(k for k in body if k in ("job_id", "filter_id", "calendar_id", "id"))
    url_id = path.split("/")[4 if path.startswith(DFA) else 3]
    assert err["reason"] == (
        f"Inconsistent {key}; 'other' specified in the body differs from '{url_id}' specified "
        "as a URL argument"
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"{AD}/nothing-*/_close", {"allow_no_match": False}),
        (f"{DF}/nothing-*/_stop", {"allow_no_match": False}),
        (f"{DFA}/nothing-*/_stop", {"allow_no_match": False}),
    ],
)
def test_a_wildcard_without_match_is_404_with_allow_no_match_false(
    api: Api, path: str, params: dict[str, Any]
) -> None:
    assert api.error(404, "POST", path, **params)["type"] == "resource_not_found_exception"
    # and the same parameter in the body (start_stop_datafeed.yml "Test stop with body params")
    assert api.error(404, "POST", path, params)["type"] == "resource_not_found_exception"
    assert api.call("POST", path, {"allow_no_match": True}).status_code == 200


def test_body_parameters_of_close_and_stop(api: Api) -> None:
    # CloseJobAction.Request / StopDatafeedAction.Request parse force and timeout from a body.
    opened_job_with_feed(api)
    api.ok("POST", f"{DF}/d/_start")
    api.ok("PUT", "/_sandbox/transitions", {"fail": {"jobs": ["j"]}})
    err = api.error(409, "POST", f"{AD}/j/_close", {"timeout": "10s"})
    assert err["reason"] == "cannot close job [j] because it failed, use force close"
    assert api.ok("POST", f"{AD}/j/_close", {"force": True, "timeout": "10s"}) == {"closed": True}
    err = api.error(400, "POST", f"{AD}/j/_open", {"timeout": "soon"})
    assert err["reason"].startswith("failed to parse setting [timeout] with value [soon]")


def test_empty_events_are_refused_before_the_calendar_lookup(api: Api) -> None:
    # PostCalendarEventsAction.Request: badRequestException while parsing
    err = api.error(400, "POST", "/_ml/calendars/missing/events", {"events": []})
    assert (err["type"], err["reason"]) == ("status_exception", "At least 1 event is required")
    event = {"description": "x", "start_time": 1000, "end_time": 2000}
    err = api.error(404, "POST", "/_ml/calendars/missing/events", {"events": [event]})
    assert err["type"] == "resource_not_found_exception"


# --- behaviours --------------------------------------------------------------------------


def test_inline_datafeed_takes_the_job_id(api: Api) -> None:
    # Job.Builder.build: datafeedConfig.setId(id) when it has none
    api.ok("PUT", f"{AD}/j", {**MINIMAL_JOB, "datafeed_config": {"indices": ["i"]}})
    assert [d["datafeed_id"] for d in api.ok("GET", DF)["datafeeds"]] == ["j"]


def test_max_empty_searches_minus_one_on_put_means_unset(api: Api) -> None:
    # DatafeedConfig.Builder.setMaxEmptySearches(-1) clears the value
    api.ok("PUT", f"{AD}/j", job_body())
    feed = api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i"], "max_empty_searches": -1})
    assert "max_empty_searches" not in feed
    err = api.error(
        400, "PUT", f"{DF}/e", {"job_id": "j", "indices": ["i"], "max_empty_searches": 0}
    )
    assert err["reason"] == "Invalid max_empty_searches value '0' in datafeed configuration"


@pytest.mark.parametrize(
    ("field", "value", "cause"),
    [
        ("query", {"no_such_query": {}}, "unknown query [no_such_query]"),
        ("query", {"bool": {"must": [], "oops": 1}}, "[bool] query does not support [oops]"),
        ("query", {"bool": {"filter": {"foo": {}}}}, "unknown query [foo]"),
        ("query", {"term": "x"}, "[term] query malformed, no start_object after query name"),
        ("query", {"match_all": {}, "term": {"a": 1}}, "[match_all] malformed query, expected "
         "[END_OBJECT] but found [FIELD_NAME]"),
        ("aggregations", {"buckets": {"date_hist": {}}}, "Unknown aggregation type [date_hist]"),
        ("aggs", {"buckets": {}}, "Missing definition for aggregation [buckets]"),
    ],
)  # fmt: skip
def test_a_datafeed_query_or_aggregation_that_does_not_parse_is_refused_at_put(
    api: Api, field: str, value: Any, cause: str
) -> None:
    # QueryProvider / AggProvider.fromXContent (strict)
    api.ok("PUT", f"{AD}/j", job_body())
    err = api.error(400, "PUT", f"{DF}/d", {"job_id": "j", "indices": ["i"], field: value})
    assert err["type"] == "x_content_parse_exception"
    assert err["reason"].endswith(f"[datafeed_config] failed to parse field [{field}]")
    which = "query" if field == "query" else "aggregations"
    assert err["caused_by"]["type"] == "status_exception"
    assert err["caused_by"]["reason"] == f"Datafeed {which} are not parsable".replace(
        "query are", "query is"
    )
    assert err["caused_by"]["caused_by"]["reason"] == cause
    # the same check on update
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["i"]})
    err = api.error(400, "POST", f"{DF}/d/_update", {field: value})
    assert err["reason"].endswith(f"[datafeed_update] failed to parse field [{field}]")


def test_model_snapshot_id_at_job_creation_is_illegal(api: Api) -> None:
    # Job.REST_REQUEST_PARSER declares it; JobManager refuses JOB_CONFIG_INVALID_CREATE_SETTINGS
    err = api.error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "model_snapshot_id": "1"})
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "The job is configured with fields [model_snapshot_id] that are illegal to set at job "
        "creation",
    )


def test_validate_checks_the_data_format(api: Api) -> None:
    # DataDescription.DataFormat.forString
    body = {**MINIMAL_JOB, "data_description": {"format": "csv"}}
    err = api.error(400, "POST", f"{AD}/_validate", body)
    assert err["reason"].endswith("[data_description] failed to parse field [format]")
    assert err["caused_by"]["reason"] == (
        "No enum constant org.elasticsearch.xpack.core.ml.job.config.DataDescription.DataFormat.CSV"
    )
    ok = {**MINIMAL_JOB, "data_description": {"format": "XContent"}}
    assert api.ok("POST", f"{AD}/_validate", ok) == {"acknowledged": True}
    job = api.ok("PUT", f"{AD}/j", {**MINIMAL_JOB, "data_description": {"format": "delimited"}})
    # DataDescription.toXContent writes a non-default format; build() adds the delimiters
    assert job["data_description"] == {
        "format": "delimited", "time_field": "time", "time_format": "epoch_ms",
        "field_delimiter": "\t", "quote_character": '"',
    }  # fmt: skip


def test_open_of_a_stuck_job_times_out_with_408(api: Api) -> None:
    # TransportOpenJobAction.waitForJobStarted → onTimeout
    api.ok("PUT", "/_sandbox/transitions", {"stuck": ["j"]})
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    err = api.error(408, "POST", f"{AD}/j/_open")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Opening job [j] timed out after [30m]",  # OpenJobAction.JobParams.DEFAULT_TIMEOUT
    )
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "opening"
    err = api.error(409, "POST", f"{AD}/j/_open", {"timeout": "5s"})
    assert err["reason"] == "Cannot open job [j] because it has already been opened"


@pytest.mark.parametrize(
    ("value", "etype", "cause_type"),
    [
        (True, "x_content_parse_exception", None),
        ("ten", "x_content_parse_exception", "number_format_exception"),
        (99999999999999999999, "x_content_parse_exception", "input_coercion_exception"),
    ],
)
def test_long_fields_refuse_booleans_garbage_and_overflow(
    api: Api, value: Any, etype: str, cause_type: str | None
) -> None:
    # ObjectParser.declareLong (ValueType.LONG)
    err = api.error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "results_retention_days": value})
    assert err["type"] == etype
    if cause_type is None:
        assert err["reason"].endswith(
            "[job_details] results_retention_days doesn't support values of type: VALUE_BOOLEAN"
        )
    else:
        assert err["reason"].endswith(
            "[job_details] failed to parse field [results_retention_days]"
        )
        assert err["caused_by"]["type"] == cause_type


def test_a_numeric_string_is_a_long(api: Api) -> None:
    job = api.ok("PUT", f"{AD}/j", {**MINIMAL_JOB, "results_retention_days": "7"})
    assert job["results_retention_days"] == 7


@pytest.mark.parametrize(
    ("value", "etype", "reason"),
    [
        ("99999999999999999999d", "parse_exception",
         "failed to parse [99999999999999999999d], fractional time values are not supported"),
        ("1.5h", "parse_exception",
         "failed to parse [1.5h], fractional time values are not supported"),
        ("-5m", "illegal_argument_exception",
         "failed to parse setting [background_persist_interval] with value [-5m] as a time value: "
         "negative durations are not supported"),
    ],
)  # fmt: skip
def test_durations_as_time_value_parses_them(api: Api, value: str, etype: str, reason: str) -> None:
    # TimeValue.parseTimeValue: Long.parseLong, then Double.parseDouble
    err = api.error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "background_persist_interval": value})
    assert (err["type"], err["reason"]) == (etype, reason)


# --- start-time checks -------------------------------------------------------------------


def test_datafeed_start_on_a_missing_index(api: Api) -> None:
    # start_stop_datafeed.yml "Test start given datafeed index does not exist"
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": ["utopia"]})
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(404, "POST", f"{DF}/d/_start")
    assert (
        err["reason"] == "datafeed [d] cannot retrieve data because index [utopia] does not exist"
    )


def test_datafeed_start_with_a_job_field_without_mappings(api: Api) -> None:
    # start_stop_datafeed.yml "Test start given field without mappings"
    api.ok("PUT", "/airline-data", {"mappings": {"properties": {"time": {"type": "date"}}}})
    job = {
        "analysis_config": {
            "bucket_span": "1h", "detectors": [{"function": "count", "by_field_name": "airline2"}]
        },
        "data_description": {"time_field": "time"},
    }  # fmt: skip
    api.ok("PUT", f"{AD}/j", job)
    api.ok("PUT", f"{DF}/d", {"job_id": "j", "indices": "airline-data"})
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(400, "POST", f"{DF}/d/_start")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "[d] cannot retrieve field [airline2] because it has no mappings",
    )
    # a runtime field supplies it
    api.ok("POST", f"{DF}/d/_update", {"runtime_mappings": {"airline2": {"type": "keyword"}}})
    assert api.ok("POST", f"{DF}/d/_start")["started"] is True


def dfa(api: Api, analysis: dict[str, Any], index: str = "src") -> Any:
    api.ok(
        "PUT",
        f"{DFA}/a",
        {"source": {"index": index}, "dest": {"index": "out"}, "analysis": analysis},
    )
    return api.call("POST", f"{DFA}/a/_start")


def test_dfa_start_into_a_non_empty_destination(api: Api) -> None:
    api.ok("POST", "/src/_doc", {"x": 1.0})
    api.ok("POST", "/out/_doc", {"x": 1.0})
    resp = dfa(api, {"outlier_detection": {}})
    assert resp.status_code == 400
    assert resp.json()["error"]["reason"] == "dest index [out] must be empty"


def test_dfa_start_without_analysable_fields(api: Api) -> None:
    # ExtractedFieldsDetector.detect: outlier detection needs a numeric or boolean field
    api.ok("POST", "/src/_doc", {"name": "a"})
    resp = dfa(api, {"outlier_detection": {}})
    assert resp.status_code == 400
    assert resp.json()["error"]["reason"] == (
        "No compatible fields could be detected in index [src]. Supported types are [boolean, "
        "byte, double, float, half_float, integer, long, scaled_float, short, unsigned_long]."
    )


def test_dfa_start_with_a_missing_dependent_variable(api: Api) -> None:
    api.ok("POST", "/src/_doc", {"x": 1.0})
    resp = dfa(api, {"regression": {"dependent_variable": "price"}})
    assert resp.status_code == 400
    assert resp.json()["error"]["reason"] == (
        "required field [price] is missing; analysis requires fields [price]"
    )


def test_explain_runs_the_same_field_checks(api: Api) -> None:
    api.ok("POST", "/src/_doc", {"x": 1.0})
    body = {"source": {"index": "src"}, "analysis": {"regression": {"dependent_variable": "y"}}}
    err = api.error(400, "POST", f"{DFA}/_explain", body)
    assert err["reason"] == "required field [y] is missing; analysis requires fields [y]"


def test_dfa_regression_needs_a_numeric_dependent_variable(api: Api) -> None:
    api.ok("POST", "/src/_doc", {"x": 1.0, "price": "cheap"})
    resp = dfa(api, {"regression": {"dependent_variable": "price"}})
    reason = resp.json()["error"]["reason"]
    assert reason.startswith(
        "invalid types [text] for required field [price]; expected types are ["
    )
    assert set(reason.rsplit("[", 1)[1].rstrip("]").split(", ")) == {
        "half_float", "float", "double", "byte", "short", "integer", "long", "scaled_float",
        "unsigned_long",
    }  # fmt: skip


def test_dfa_classification_needs_two_classes(api: Api) -> None:
    # FieldCardinalityConstraint.between(dependent_variable, 2, 100)
    for i in range(3):
        api.ok("POST", "/src/_doc", {"x": float(i), "label": "only"})
    resp = dfa(api, {"classification": {"dependent_variable": "label.keyword"}})
    assert resp.status_code == 400
    assert resp.json()["error"]["reason"] == (
        "Field [label.keyword] must have at least [2] distinct values but there were [1]"
    )


def test_dfa_classification_with_two_classes_starts(api: Api) -> None:
    for i, label in enumerate(["a", "b", "a"]):
        api.ok("POST", "/src/_doc", {"x": float(i), "label": label})
    assert dfa(api, {"classification": {"dependent_variable": "label.keyword"}}).status_code == 200


def test_java_hash_set_order() -> None:
    from reconciler.sandbox.dfa import java_hash_set

    # new HashSet<>(List.of("a", "b", "c")).toString() and a collision-free reordering
    assert java_hash_set(("c", "b", "a")) == "[a, b, c]"
    assert java_hash_set(("long", "keyword")) == java_hash_set(("keyword", "long"))


# --- messages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"training_percent": 0}, "[training_percent] must be a positive double in (0, 100]"),
        ({"training_percent": 100.5}, "[training_percent] must be a positive double in (0, 100]"),
        ({"lambda": -0.1}, "[lambda] must be a non-negative double"),
        ({"gamma": -1}, "[gamma] must be a non-negative double"),
        ({"eta": 0.0}, "[eta] must be a double in [0.001, 1]"),
        ({"alpha": -1}, "[alpha] must be a non-negative double"),
        ({"eta_growth_rate_per_tree": 3},
         "[eta_growth_rate_per_tree] must be a double in [0.5, 2.0]"),
        ({"soft_tree_depth_tolerance": 0.001},
         "[soft_tree_depth_tolerance] must be a double greater than or equal to 0.01"),
        ({"downsample_factor": 0}, "[downsample_factor] must be a double in (0, 1]"),
        ({"max_optimization_rounds_per_hyperparameter": 21},
         "[max_optimization_rounds_per_hyperparameter] must be an integer in [0, 20]"),
        ({"num_top_feature_importance_values": -1},
         "[num_top_feature_importance_values] must be a non-negative integer"),
    ],
)  # fmt: skip
def test_supervised_parameter_ranges(api: Api, params: dict[str, Any], reason: str) -> None:
    # BoostedTreeParams / Regression constructors: ExceptionsHelper.badRequestException
    body = {
        "source": {"index": "src"}, "dest": {"index": "out"},
        "analysis": {"regression": {"dependent_variable": "y", **params}},
    }  # fmt: skip
    api.ok("POST", "/src/_doc", {"y": 1.0})
    err = api.error(400, "PUT", f"{DFA}/a", body)
    assert (err["type"], err["reason"]) == ("status_exception", reason)


def test_snapshot_retention_message_is_unquoted(api: Api) -> None:
    # MessageFormat drops the single quotes of Messages'
    # JOB_CONFIG_MODEL_SNAPSHOT_RETENTION_SETTINGS_INCONSISTENT and groups the numbers.
    body = {**MINIMAL_JOB, "model_snapshot_retention_days": 1000,
            "daily_model_snapshot_retention_after_days": 2000}  # fmt: skip
    err = api.error(400, "PUT", f"{AD}/j", body)
    assert err["reason"] == (
        "The value of daily_model_snapshot_retention_after_days [2,000] cannot be greater than "
        "model_snapshot_retention_days [1,000]"
    )


@pytest.mark.parametrize(
    ("path", "field", "parser"),
    [
        (f"{DF}/d", "scroll_size", "datafeed_config"),
        (f"{DF}/d", "max_empty_searches", "datafeed_config"),
        (f"{DFA}/a", "max_num_threads", "data_frame_analytics_config"),
    ],
)
def test_int_fields_refuse_booleans_and_overflow(
    api: Api, path: str, field: str, parser: str
) -> None:
    # ObjectParser.declareInt (ValueType.INT)
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", "/src/_doc", {"x": 1.0})
    base: dict[str, Any] = (
        {"job_id": "j", "indices": ["i"]}
        if path.startswith(DF)
        else {"source": {"index": "src"}, "dest": {"index": "out"},
              "analysis": {"outlier_detection": {}}}
    )  # fmt: skip
    err = api.error(400, "PUT", path, {**base, field: True})
    assert err["reason"].endswith(
        f"[{parser}] {field} doesn't support values of type: VALUE_BOOLEAN"
    )
    err = api.error(400, "PUT", path, {**base, field: 3_000_000_000})
    assert err["reason"].endswith(f"[{parser}] failed to parse field [{field}]")
    assert err["caused_by"]["reason"].startswith("Numeric value (3000000000) out of range of int")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"start": "1000"}, "Invalid flush parameters: unexpected 'start'."),
        ({"end": "1000"}, "Invalid flush parameters: unexpected 'end'."),
        ({"calc_interim": True, "end": "1000"},
         "Invalid flush parameters: 'start' has not been specified."),
    ],
)  # fmt: skip
def test_flush_parameter_combinations(api: Api, params: dict[str, Any], reason: str) -> None:
    # InterimResultsParams.Builder.checkValidFlushArgumentsCombination
    api.ok("PUT", f"{AD}/j", MINIMAL_JOB)
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(400, "POST", f"{AD}/j/_flush", **params)
    assert (err["type"], err["reason"]) == ("illegal_argument_exception", reason)
    err = api.error(400, "POST", f"{AD}/j/_flush", params)  # the body takes them too
    assert err["reason"] == reason
    flushed = api.ok("POST", f"{AD}/j/_flush", {"calc_interim": True, "start": "1000"})
    assert flushed["flushed"] is True


def test_a_dfa_source_query_that_does_not_parse_is_refused(api: Api) -> None:
    # DataFrameAnalyticsSource: QueryProvider with DATA_FRAME_ANALYTICS_BAD_QUERY_FORMAT
    api.ok("POST", "/src/_doc", {"x": 1.0})
    body = {
        "source": {"index": "src", "query": {"nope": {}}}, "dest": {"index": "out"},
        "analysis": {"outlier_detection": {}},
    }  # fmt: skip
    err = api.error(400, "PUT", f"{DFA}/a", body)
    assert err["reason"].endswith("[data_frame_analytics_source] failed to parse field [query]")
    assert err["caused_by"]["reason"] == "Data Frame Analytics config query is not parsable"
    assert err["caused_by"]["caused_by"]["reason"] == "unknown query [nope]"


@pytest.mark.parametrize(
    ("body", "etype", "reason"),
    [
        ({"indices": ["i"]}, "illegal_argument_exception", "[job_id] must not be null."),
        ({"job_id": "j"}, "status_exception",
         "Invalid indices value 'null' in datafeed configuration"),
        ({"job_id": "j", "indices": []}, "status_exception",
         "Invalid indices value '[]' in datafeed configuration"),
        ({"job_id": "j", "indices": ["a", ""]}, "status_exception",
         "Invalid indices value '[a, ]' in datafeed configuration"),
        ({"job_id": "j", "indices": ["a"], "scroll_size": -1}, "status_exception",
         "Invalid scroll_size value '-1' in datafeed configuration"),
    ],
)  # fmt: skip
def test_datafeed_builder_messages(api: Api, body: dict[str, Any], etype: str, reason: str) -> None:
    # DatafeedConfig.Builder.build: ExceptionsHelper.requireNonNull and invalidOptionValue
    api.ok("PUT", f"{AD}/j", job_body())
    err = api.error(400, "PUT", f"{DF}/d", body)
    assert (err["type"], err["reason"]) == (etype, reason)
