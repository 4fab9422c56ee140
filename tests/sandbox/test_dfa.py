"""Data frame analytics: defaults, validation, paging, state rules, progress, explain."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import Api, Clock

DFA = "/_ml/data_frame/analytics"


def source(api: Api, index: str = "logdata", n: int = 3) -> None:
    for i in range(n):
        api.ok("POST", f"/{index}/_doc", {"bytes": i * 10, "price": float(i), "host": f"h{i}"})


def dfa_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {"index": "logdata"},
        "dest": {"index": "logdata_out"},
        "analysis": {"outlier_detection": {}},
    }
    body.update(overrides)
    return body


def test_outlier_defaults(api: Api) -> None:
    source(api)
    config = api.ok(
        "PUT", f"{DFA}/loganalytics", dfa_body(description="Outlier detection on log data")
    )
    stable = {k: v for k, v in config.items() if k not in ("create_time", "version")}
    assert stable == {
        "id": "loganalytics",
        "description": "Outlier detection on log data",
        "source": {"index": ["logdata"], "query": {"match_all": {}}},
        "dest": {"index": "logdata_out", "results_field": "ml"},
        "analysis": {
            "outlier_detection": {
                "compute_feature_influence": True,
                "outlier_fraction": 0.05,
                "standardization_enabled": True,
            }
        },
        "model_memory_limit": "1gb",
        "authorization": {"roles": ["superuser"]},
        "allow_lazy_start": False,
        "max_num_threads": 1,
    }
    slim = api.ok("GET", f"{DFA}/loganalytics", exclude_generated=True)["data_frame_analytics"][0]
    assert not {"create_time", "version", "authorization"} & set(slim)


def test_supervised_defaults(api: Api) -> None:
    source(api)
    reg = api.ok(
        "PUT", f"{DFA}/r", dfa_body(analysis={"regression": {"dependent_variable": "price"}})
    )
    analysis = reg["analysis"]["regression"]
    seed = analysis.pop("randomize_seed")
    assert isinstance(seed, int)
    assert analysis == {
        "dependent_variable": "price",
        "prediction_field_name": "price_prediction",
        "training_percent": 100.0,
        "loss_function": "mse",
        "early_stopping_enabled": True,
    }
    cls = api.ok(
        "PUT",
        f"{DFA}/c",
        dfa_body(
            dest={"index": "o2"},
            model_memory_limit="20MB",
            analysis={"classification": {"dependent_variable": "host"}},
        ),
    )
    assert cls["model_memory_limit"] == "20mb"
    assert (
        cls["analysis"]["classification"]["class_assignment_objective"] == "maximize_minimum_recall"
    )
    assert cls["analysis"]["classification"]["num_top_classes"] == 2


@pytest.mark.parametrize(
    ("body", "status", "etype", "reason"),
    [
        (
            dfa_body(source={"index": "missing"}),
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no such index [missing];",
        ),
        (
            dfa_body(dest={"index": "Foo"}),
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: Destination index [Foo] must be lowercase;",
        ),
        (
            dfa_body(dest={"index": "logdata"}),
            400,
            "illegal_argument_exception",
            "Destination index [logdata] is included in source expression [logdata]",
        ),
        (
            dfa_body(source={"index": []}),
            400,
            "illegal_argument_exception",
            "source.index must specify at least one index",
        ),
        (
            {"dest": {"index": "x"}, "analysis": {"outlier_detection": {}}},
            400,
            "illegal_argument_exception",
            "[source] must not be null",
        ),
        (
            dfa_body(id="other"),
            400,
            "illegal_argument_exception",
            "Inconsistent id; 'other' specified in the body differs from 'a' specified as a "
            "URL argument",
        ),
    ],
)
def test_put_validation(
    api: Api, body: dict[str, Any], status: int, etype: str, reason: str
) -> None:
    source(api)
    err = api.error(status, "PUT", f"{DFA}/a", body)
    assert (err["type"], err["reason"]) == (etype, reason)


def test_generated_fields_and_duplicates_rejected(api: Api) -> None:
    source(api)
    err = api.error(400, "PUT", f"{DFA}/a", dfa_body(create_time=1))
    assert err["type"] == "x_content_parse_exception"
    assert err["reason"].endswith("[data_frame_analytics_config] unknown field [create_time]")
    api.ok("PUT", f"{DFA}/a", dfa_body())
    err = api.error(400, "PUT", f"{DFA}/a", dfa_body())
    assert (err["type"], err["reason"]) == (
        "resource_already_exists_exception",
        "A data frame analytics with id [a] already exists",
    )
    err = api.error(400, "PUT", f"{DFA}/Bad", dfa_body())
    assert err["reason"].startswith("Invalid id; 'Bad' can contain lowercase alphanumeric")


def test_get_is_paged_and_sorted(api: Api) -> None:
    source(api)
    for dfa_id in ("foo-2", "bar", "foo-1"):
        api.ok("PUT", f"{DFA}/{dfa_id}", dfa_body(dest={"index": f"out-{dfa_id}"}))
    page = api.ok("GET", DFA, **{"from": 1})
    assert page["count"] == 3
    assert [c["id"] for c in page["data_frame_analytics"]] == ["foo-1", "foo-2"]
    assert [c["id"] for c in api.ok("GET", f"{DFA}/_stats", size=1)["data_frame_analytics"]] == [
        "bar"
    ]
    assert (
        api.error(404, "GET", f"{DFA}/nope")["reason"]
        == "No known data frame analytics with id [nope]"
    )


def test_state_rules(api: Api) -> None:
    source(api)
    api.ok("PUT", f"{DFA}/a", dfa_body())
    assert (
        api.ok("POST", f"{DFA}/a/_update", {"model_memory_limit": "30mb"})["model_memory_limit"]
        == "30mb"
    )
    assert api.ok("POST", f"{DFA}/a/_start")["acknowledged"] is True
    err = api.error(409, "POST", f"{DFA}/a/_start")
    assert (
        err["reason"] == "Cannot open data frame analytics [a] because it has already been opened"
    )
    err = api.error(409, "POST", f"{DFA}/a/_update", {"max_num_threads": 2})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot update analytics [a] unless it's stopped",
    )
    assert (
        api.ok("POST", f"{DFA}/a/_update", {"description": "any state"})["description"]
        == "any state"
    )
    err = api.error(400, "POST", f"{DFA}/a/_update", {"source": {"index": "x"}})
    assert err["type"] == "x_content_parse_exception"
    err = api.error(409, "DELETE", f"{DFA}/a")
    assert err["reason"] == "Cannot delete data frame analytics [a] while its status is [started]"
    assert api.ok("POST", f"{DFA}/a/_stop") == {"stopped": True}
    assert api.ok("GET", f"{DFA}/a/_stats")["data_frame_analytics"][0]["state"] == "stopped"
    assert api.ok("DELETE", f"{DFA}/a") == {"acknowledged": True}
    assert api.call("HEAD", "/logdata_out").status_code == 200  # destination index is kept


def test_start_on_empty_source_is_rejected(api: Api) -> None:
    # start_data_frame_analytics.yml: a mapped numeric field, but no documents
    api.ok("PUT", "/empty", {"mappings": {"properties": {"numeric": {"type": "long"}}}})
    api.ok("PUT", f"{DFA}/a", dfa_body(source={"index": "empty"}))
    err = api.error(400, "POST", f"{DFA}/a/_start")
    assert err["reason"].startswith(
        "Unable to start a as no documents in the source indices [empty]"
    )


def test_progress_and_completion(api: Api, clock: Clock) -> None:
    api.ok("PUT", "/_sandbox/transitions", {"dfa_duration": 10})
    source(api)
    api.ok("PUT", f"{DFA}/a", dfa_body())
    never = api.ok("GET", f"{DFA}/a/_stats")["data_frame_analytics"][0]
    assert never["progress"] == [
        {"phase": p, "progress_percent": 0}
        for p in ("reindexing", "loading_data", "computing_outliers", "writing_results")
    ]
    assert never["memory_usage"] == {"peak_usage_bytes": 0, "status": "ok"}
    api.ok("POST", f"{DFA}/a/_start")
    clock.advance(5)
    running = api.ok("GET", f"{DFA}/a/_stats")["data_frame_analytics"][0]
    assert running["state"] == "started"
    assert [p["progress_percent"] for p in running["progress"]] == [100, 100, 0, 0]
    clock.advance(5)
    done = api.ok("GET", f"{DFA}/a/_stats")["data_frame_analytics"][0]
    assert done["state"] == "stopped"
    assert all(p["progress_percent"] == 100 for p in done["progress"])
    assert done["data_counts"]["training_docs_count"] == 3
    hits = api.ok("POST", "/logdata_out/_search")["hits"]
    assert hits["total"]["value"] == 3
    assert all("outlier_score" in h["_source"]["ml"] for h in hits["hits"])


def test_a_first_start_needs_an_empty_destination_and_a_finished_job_is_not_rerun(
    api: Api, clock: Clock
) -> None:
    # TransportStartDataFrameAnalyticsAction: FIRST_TIME checks the destination index is empty;
    # FINISHED (every phase at 100) is refused instead of writing the results a second time.
    api.ok("PUT", "/_sandbox/transitions", {"dfa_duration": 10})
    source(api)
    api.ok("PUT", f"{DFA}/a", dfa_body())
    api.ok("POST", f"{DFA}/a/_start")
    clock.advance(10)
    assert api.ok("GET", f"{DFA}/a/_stats")["data_frame_analytics"][0]["state"] == "stopped"
    err = api.error(400, "POST", f"{DFA}/a/_start")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot start because the job has already finished",
    )
    # The same job created again (a replace) starts for the first time: refused while the
    # previous run's results are in the destination index.
    api.ok("DELETE", f"{DFA}/a")
    api.ok("PUT", f"{DFA}/a", dfa_body(description="again"))
    err = api.error(400, "POST", f"{DFA}/a/_start")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "dest index [logdata_out] must be empty",
    )
    assert api.ok("POST", "/logdata_out/_search")["hits"]["total"]["value"] == 3  # not doubled
    api.ok("DELETE", "/logdata_out")
    assert api.ok("POST", f"{DFA}/a/_start")["acknowledged"] is True


def test_an_existing_empty_destination_index_is_accepted(api: Api) -> None:
    source(api)
    api.ok("PUT", "/logdata_out")
    api.ok("PUT", f"{DFA}/a", dfa_body())
    assert api.ok("POST", f"{DFA}/a/_start")["acknowledged"] is True


def test_explain_and_preview(api: Api) -> None:
    source(api)
    explained = api.ok(
        "POST",
        f"{DFA}/_explain",
        {
            "source": {"index": "logdata"},
            "analysis": {"regression": {"dependent_variable": "price"}},
        },
    )
    fields = {f["field"]: f for f in explained["field_selection"]}
    assert fields["price"]["is_required"] is True and fields["price"]["feature_type"] == "numerical"
    assert fields["host"]["reason"] == "[host.keyword] is preferred because it is aggregatable"
    assert fields["host.keyword"]["feature_type"] == "categorical"
    preview = api.ok("POST", f"{DFA}/_preview", {"config": dfa_body()})
    assert len(preview["feature_values"]) == 3


def test_update_compares_model_memory_limit_by_bytes(api: Api) -> None:
    # C6: DataFrameAnalyticsConfigUpdate compares ByteSizeValues, so "1024mb" is no change
    # from the default "1gb" and needs no stop (es-ml-api.md §3.3).
    source(api)
    api.ok("PUT", f"{DFA}/a", dfa_body())
    api.ok("POST", f"{DFA}/a/_start")
    same = api.ok("POST", f"{DFA}/a/_update", {"model_memory_limit": "1024mb"})
    assert same["model_memory_limit"] == "1024mb"
    err = api.error(409, "POST", f"{DFA}/a/_update", {"model_memory_limit": "2gb"})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot update analytics [a] unless it's stopped",
    )
    assert api.ok("GET", f"{DFA}/a")["data_frame_analytics"][0]["model_memory_limit"] == "1024mb"


def test_model_memory_limit_over_the_max_shows_byte_sizes() -> None:
    # DataFrameAnalyticsConfig.Builder renders both values with ByteSizeValue.toString (§3.1).
    import httpx

    from reconciler.sandbox import Sandbox, SandboxTransport

    sandbox = Sandbox(max_model_memory_limit="20mb", implicit_indices=True)
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://x") as c:
        api = Api(c, sandbox)
        for given, shown in (("8gb", "8gb"), ("2048mb", "2gb")):
            err = api.error(400, "PUT", f"{DFA}/a", dfa_body(model_memory_limit=given))
            assert (err["type"], err["reason"]) == (
                "illegal_argument_exception",
                f"model_memory_limit [{shown}] must be less than the value of the "
                "xpack.ml.max_model_memory_limit setting [20mb]",
            )
