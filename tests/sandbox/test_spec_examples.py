"""Every es-spec-examples request that has a recorded response, replayed against the sandbox.

The YAML files under spec_examples/ are copies of the Elasticsearch specification examples
(reference/es-spec-examples). Each case sets up what the real cluster had (test setup), sends the
example request verbatim and compares the answer with the recorded one; ids, timestamps, versions
and node names aside. Evaluate responses depend on the data, so only their shape is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_helpers import Api

EXAMPLES = Path(__file__).parent / "spec_examples"
VOLATILE = {"create_time", "job_version", "version", "node", "task", "event_id", "timestamp"}


def load_request(api_name: str, file: str | None = None) -> tuple[str, str, Any]:
    folder = EXAMPLES / api_name / "request"
    path = folder / file if file else sorted(folder.iterdir())[0]
    doc = yaml.safe_load(path.read_text())
    method, target = doc["method_request"].split(" ", 1)
    return method, "/" + target.lstrip("/"), doc.get("value")


def load_response(api_name: str, file: str | None = None) -> Any:
    folder = next(p for p in (EXAMPLES / api_name).iterdir() if "response" in p.name)
    path = folder / file if file else sorted(folder.iterdir())[0]
    return yaml.safe_load(path.read_text())["value"]


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def send(api: Api, method: str, target: str, body: Any) -> Any:
    resp = api.client.request(method, target, json=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Elastic-Product"] == "Elasticsearch"
    return resp.json()


def make_job(api: Api, job_id: str) -> None:
    api.ok(
        "PUT",
        f"/_ml/anomaly_detectors/{job_id}",
        {
            "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
            "data_description": {"time_field": "timestamp"},
        },
    )


def model(api: Api, model_id: str) -> None:
    api.ok(
        "PUT",
        f"/_ml/trained_models/{model_id}",
        {"inference_config": {"regression": {}}, "input": {"field_names": ["a"]}},
    )


def index_docs(
    api: Api, index: str, docs: list[dict[str, Any]], mappings: dict[str, Any] | None = None
) -> None:
    api.ok("PUT", f"/{index}", {"mappings": mappings} if mappings else None)
    for doc in docs:
        api.ok("POST", f"/{index}/_doc", doc)


SETUPS: dict[str, Callable[[Api], None]] = {
    "clear_trained_model_deployment_cache": lambda api: model(
        api, "elastic__distilbert-base-uncased-finetuned-conll03-english"
    ),
    "close_job": lambda api: (
        make_job(api, "low_request_rate"),
        api.ok("POST", "/_ml/anomaly_detectors/low_request_rate/_open"),
    ),
    "delete_calendar": lambda api: api.ok("PUT", "/_ml/calendars/planned-outages"),
    "delete_calendar_job": lambda api: (
        make_job(api, "total-requests"),
        api.ok("PUT", "/_ml/calendars/planned-outages", {"job_ids": ["total-requests"]}),
    ),
    "delete_data_frame_analytics": lambda api: (
        index_docs(api, "logdata", [{"a": 1}]),
        api.ok(
            "PUT",
            "/_ml/data_frame/analytics/loganalytics",
            {
                "source": {"index": "logdata"},
                "dest": {"index": "logdata_out"},
                "analysis": {"outlier_detection": {}},
            },
        ),
    ),
    "delete_datafeed": lambda api: (
        make_job(api, "total-requests"),
        api.ok(
            "PUT",
            "/_ml/datafeeds/datafeed-total-requests",
            {"job_id": "total-requests", "indices": ["server-metrics"]},
        ),
    ),
    "delete_expired_data": lambda api: None,
    "delete_filter": lambda api: api.ok(
        "PUT", "/_ml/filters/safe_domains", {"items": ["*.elastic.co"]}
    ),
    "delete_forecast": lambda api: make_job(api, "total-requests"),
    "delete_job": lambda api: make_job(api, "total-requests"),
    "delete_model_snapshot": lambda api: (
        make_job(api, "farequote"),
        api.seed(
            "farequote",
            {
                "model_snapshots": [{"snapshot_id": "1491948163", "timestamp": 1491948163000}],
                "set_active": False,
            },
        ),
    ),
    "delete_trained_model": lambda api: model(api, "regression-job-one-1574775307356"),
    "delete_trained_model_alias": lambda api: (
        model(api, "flight-delay-prediction-1574775339910"),
        api.ok(
            "PUT",
            "/_ml/trained_models/flight-delay-prediction-1574775339910/model_aliases/flight_delay_model",
        ),
    ),
    "estimate_model_memory": lambda api: None,
    "explain_data_frame_analytics": lambda api: index_docs(
        api,
        "houses_sold_last_10_yrs",
        [{"number_of_bedrooms": 3, "postcode": "AB1 2CD", "price": 250000.0}],
        {
            "properties": {
                "number_of_bedrooms": {"type": "integer"},
                "postcode": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "price": {"type": "float"},
            }
        },
    ),
    "open_job": lambda api: make_job(api, "job-01"),
    "put_job": lambda api: None,
}


@pytest.mark.parametrize("api_name", sorted(SETUPS))
def test_example_matches_recorded_response(api: Api, api_name: str) -> None:
    SETUPS[api_name](api)
    method, target, body = load_request(api_name)
    expected = load_response(api_name)
    if api_name == "put_job":
        # ids aside: the recorded answer is for job `test-job1` (its datafeed's query_delay is
        # derived from that id, es-ml-api.md §2.2), so the example body is sent to that id.
        target = target.replace("job-01", expected["job_id"])
    answer = send(api, method, target, body)
    assert strip(answer) == strip(expected)
    if isinstance(expected, dict):
        assert list(strip(answer)) == list(strip(expected))  # key order like Elasticsearch


def test_delete_calendar_event_example(api: Api) -> None:
    api.ok("PUT", "/_ml/calendars/planned-outages")
    created = api.ok(
        "POST",
        "/_ml/calendars/planned-outages/events",
        {
            "events": [
                {"description": "event 1", "start_time": 1513641600000, "end_time": 1513728000000}
            ]
        },
    )
    method, target, body = load_request("delete_calendar_event")
    target = target.replace("LS8LJGEBMTCMA-qz49st", created["events"][0]["event_id"])  # ids aside
    assert send(api, method, target, body) == load_response("delete_calendar_event")
    assert api.ok("GET", "/_ml/calendars/planned-outages/events")["count"] == 0


def test_delete_job_async_example(api: Api) -> None:
    make_job(api, "total-requests")
    method, target, _ = load_request("delete_job")
    answer = send(api, method, target + "?wait_for_completion=false", None)
    expected = load_response("delete_job", "MlDeleteJobResponseExample2.yaml")
    assert set(answer) == set(expected) == {"task"}
    node, _, number = answer["task"].partition(":")
    assert node and number.isdigit()


EVALUATE_PAIRS = [
    ("MlEvaluateDataFrameRequestExample1.yaml", "MlEvaluateDataFrameResponseExample1.yaml"),
    ("MlEvaluateDataFrameRequestExample2.yaml", "MlEvaluateDataFrameResponseExample2.yaml"),
    ("MlEvaluateDataFrameRequestExample3.yaml", "MlEvaluateDataFrameResponseExample3.yaml"),
]


@pytest.mark.parametrize(("request_file", "response_file"), EVALUATE_PAIRS)
def test_evaluate_examples_have_the_recorded_shape(
    api: Api, request_file: str, response_file: str
) -> None:
    index_docs(
        api,
        "animal_classification",
        [
            {
                "animal_class": "cat",
                "ml": {
                    "animal_class_prediction": "cat",
                    "top_classes": [{"class_name": "dog", "class_probability": 0.2}],
                },
            },
            {
                "animal_class": "dog",
                "ml": {
                    "animal_class_prediction": "cat",
                    "top_classes": [{"class_name": "dog", "class_probability": 0.6}],
                },
            },
        ],
    )
    index_docs(
        api,
        "my_analytics_dest_index",
        [
            {"is_outlier": True, "ml": {"outlier_score": 0.9}},
            {"is_outlier": False, "ml": {"outlier_score": 0.1}},
            {"is_outlier": False, "ml": {"outlier_score": 0.6}},
        ],
    )
    method, target, body = load_request("evaluate_data_frame", request_file)
    answer = send(api, method, target, body)
    assert shape(answer) == shape(load_response("evaluate_data_frame", response_file))


def test_evaluate_regression_examples_compute_metrics(api: Api) -> None:
    index_docs(
        api,
        "house_price_predictions",
        [
            {"price": 100.0, "ml": {"price_prediction": 110.0, "is_training": False}},
            {"price": 200.0, "ml": {"price_prediction": 190.0, "is_training": False}},
            {"price": 300.0, "ml": {"price_prediction": 0.0, "is_training": True}},
        ],
    )
    method, target, body = load_request(
        "evaluate_data_frame", "MlEvaluateDataFrameRequestExample4.yaml"
    )
    test_split = send(api, method, target, body)["regression"]
    assert test_split["mse"]["value"] == pytest.approx(100.0)
    assert test_split["r_squared"]["value"] == pytest.approx(1 - 200 / 5000)
    assert set(test_split) == {"r_squared", "mse", "msle", "huber"}
    method, target, body = load_request(
        "evaluate_data_frame", "MlEvaluateDataFrameRequestExample5.yaml"
    )
    training = send(api, method, target, body)["regression"]
    assert training["mse"]["value"] == pytest.approx(90000.0)
