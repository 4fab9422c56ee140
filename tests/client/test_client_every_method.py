"""Every ML method of the official client, called once through mlsync's sync and async clients.

One scenario (a job, a datafeed, a DFA job, a filter, a calendar, a trained model, from
creation to deletion) runs against the sandbox twice: through `MLClient` and through
`AsyncMLClient`. Each step checks the documented shape of its answer; a last check asserts
that the scenario called every method elasticsearch-py's `MlClient` has.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch._sync.client.ml import MlClient as OfficialMl

from reconciler import AsyncMLClient, MLClient
from reconciler.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport

T0 = 1_700_000_000_000  # epoch ms, aligned to the 15m bucket span
DETECTORS = {"bucket_span": "15m", "detectors": [{"function": "mean", "field_name": "value"}]}
TIME = {"time_field": "@timestamp"}
Saved = dict[str, Any]


@dataclass
class Step:
    """`client.<target>(**kwargs(saved))`, whose answer must satisfy `check`."""

    target: str
    kwargs: Callable[[Saved], dict[str, Any]]
    check: Callable[[Any, Saved], object]


def step(target: str, check: Callable[[Any, Saved], object], **fixed: Any) -> Step:
    return Step(target, lambda _s: fixed, check)


def has(*keys: str) -> Callable[[Any, Saved], object]:
    return lambda body, _s: all(k in body for k in keys)


def save(key: str, get: Callable[[Any], Any]) -> Callable[[Any, Saved], object]:
    def check(body: Any, saved: Saved) -> object:
        saved[key] = get(body)
        return saved[key] is not None

    return check


DOCS = [{"@timestamp": T0 + i * 60_000, "value": float(i % 7), "host": "a"} for i in range(120)]
OPERATIONS: list[Any] = []
for i, doc in enumerate(DOCS):
    OPERATIONS += [{"index": {"_index": "logs", "_id": str(i)}}, doc]

SCENARIO = [
    # cluster and documents
    step("info", has("version", "cluster_name")),
    step("ping", lambda body, _s: body is True),
    step("license.get", has("license")),
    step(
        "indices.create",
        has("acknowledged"),
        index="logs",
        mappings={"properties": {"@timestamp": {"type": "date"}, "value": {"type": "double"}}},
    ),
    step("indices.exists", lambda body, _s: body is True, index="logs"),
    step(
        "bulk",
        lambda body, _s: body["errors"] is False and len(body["items"]) == 120,
        operations=OPERATIONS,
    ),
    step("indices.refresh", has("_shards"), index="logs"),
    step(
        "indices.put_mapping",
        has("acknowledged"),
        index="logs",
        properties={"region": {"type": "keyword"}},
    ),
    step(
        # `host` was mapped dynamically by the bulk (text + keyword), `region` by the PUT
        "indices.get_mapping",
        lambda body, _s: {"host", "region"} <= set(body["logs"]["mappings"]["properties"]),
        index="logs",
    ),
    step("count", lambda body, _s: body["count"] == 120, index="logs"),
    step("search", lambda body, _s: len(body["hits"]["hits"]) == 2, index="logs", size=2),
    step("index", has("_id"), index="notes", id="n1", document={"at": datetime(2024, 1, 1)}),
    step("create", has("_id"), index="notes", id="n2", document={"at": "2024-01-02"}),
    step(
        "get",
        lambda body, _s: body["_source"]["at"] == "2024-01-01T00:00:00",
        index="notes",
        id="n1",
    ),
    step("delete", lambda body, _s: body["result"] == "deleted", index="notes", id="n2"),
    # ML info, filters, validation
    step("ml.info", has("defaults", "limits")),
    step("ml.get_memory_stats", has("nodes", "_nodes")),
    step("ml.put_filter", has("filter_id"), filter_id="safe", items=["a"]),
    step(
        "ml.update_filter",
        lambda b, _s: b["items"] == ["a", "b"],
        filter_id="safe",
        add_items=["b"],
    ),
    step("ml.get_filters", lambda b, _s: b["count"] == 1, filter_id="safe"),
    step("ml.validate", has("acknowledged"), analysis_config=DETECTORS, data_description=TIME),
    step("ml.validate_detector", has("acknowledged"), detector={"function": "count"}),
    step("ml.estimate_model_memory", has("model_memory_estimate"), analysis_config=DETECTORS),
    # anomaly detection job, calendar, datafeed
    step("ml.put_job", has("job_id"), job_id="j", analysis_config=DETECTORS, data_description=TIME),
    step("ml.get_jobs", lambda b, _s: b["jobs"][0]["job_id"] == "j", job_id="j"),
    step("ml.update_job", lambda b, _s: b["description"] == "d", job_id="j", description="d"),
    step("ml.put_calendar", has("calendar_id"), calendar_id="c"),
    step("ml.put_calendar_job", lambda b, _s: b["job_ids"] == ["j"], calendar_id="c", job_id="j"),
    step("ml.get_calendars", lambda b, _s: b["count"] == 1, calendar_id="c"),
    Step(
        "ml.post_calendar_events",
        lambda _s: {
            "calendar_id": "c",
            "events": [
                {
                    "description": "maintenance",
                    "start_time": datetime(2030, 1, 1, tzinfo=UTC),
                    "end_time": datetime(2030, 1, 2, tzinfo=UTC),
                }
            ],
        },
        save("event_id", lambda b: b["events"][0]["event_id"]),
    ),
    step("ml.get_calendar_events", lambda b, _s: b["count"] == 1, calendar_id="c"),
    Step(
        "ml.delete_calendar_event",
        lambda s: {"calendar_id": "c", "event_id": s["event_id"]},
        has("acknowledged"),
    ),
    step("ml.delete_calendar_job", lambda b, _s: b["job_ids"] == [], calendar_id="c", job_id="j"),
    step("ml.delete_calendar", has("acknowledged"), calendar_id="c"),
    step(
        "ml.put_datafeed",
        has("datafeed_id"),
        datafeed_id="f",
        job_id="j",
        indices=["logs"],
        query={"match_all": {}},
    ),
    step("ml.get_datafeeds", lambda b, _s: b["count"] == 1, datafeed_id="f"),
    step(
        "ml.update_datafeed",
        lambda b, _s: b["query_delay"] == "90s",
        datafeed_id="f",
        query_delay="90s",
    ),
    step("ml.preview_datafeed", lambda b, _s: isinstance(b, list) and len(b) > 0, datafeed_id="f"),
    step("ml.open_job", lambda b, _s: b["opened"] is True, job_id="j"),
    step(
        "ml.post_data",
        lambda b, _s: b["processed_record_count"] == 2,
        job_id="j",
        data=[{"@timestamp": T0 - 120_000, "value": 1.0}, {"@timestamp": T0 - 60_000, "value": 2}],
    ),
    step("ml.flush_job", lambda b, _s: b["flushed"] is True, job_id="j"),
    step("ml.forecast", save("forecast_id", lambda b: b["forecast_id"]), job_id="j", duration="1h"),
    Step(
        "ml.delete_forecast",
        lambda s: {"job_id": "j", "forecast_id": s["forecast_id"]},
        has("acknowledged"),
    ),
    step(
        "ml.start_datafeed",
        lambda b, _s: b["started"] is True,
        datafeed_id="f",
        start=datetime.fromtimestamp(T0 / 1000, UTC),
        end=T0 + 7_200_000,
    ),
    step("ml.get_datafeed_stats", lambda b, _s: b["count"] == 1, datafeed_id="f"),
    step("ml.stop_datafeed", lambda b, _s: b["stopped"] is True, datafeed_id="f"),
    step("ml.get_job_stats", lambda b, _s: b["jobs"][0]["job_id"] == "j", job_id="j"),
    step("ml.get_buckets", has("count", "buckets"), job_id="j", page={"from": 0, "size": 5}),
    step("ml.get_records", has("count", "records"), job_id="j", desc=True),
    step("ml.get_influencers", has("count", "influencers"), job_id="j"),
    step("ml.get_categories", has("count", "categories"), job_id="j"),
    step("ml.get_overall_buckets", has("count", "overall_buckets"), job_id="j"),
    step("ml.close_job", lambda b, _s: b["closed"] is True, job_id="j"),
    step(
        "ml.get_model_snapshots",
        save("snapshot_id", lambda b: b["model_snapshots"][0]["snapshot_id"]),
        job_id="j",
    ),
    Step(
        "ml.update_model_snapshot",
        lambda s: {"job_id": "j", "snapshot_id": s["snapshot_id"], "retain": True},
        lambda b, _s: b["model"]["retain"] is True,
    ),
    Step(
        "ml.upgrade_job_snapshot",
        lambda s: {"job_id": "j", "snapshot_id": s["snapshot_id"], "wait_for_completion": True},
        has("node", "completed"),
    ),
    step(
        "ml.get_model_snapshot_upgrade_stats",
        has("count", "model_snapshot_upgrades"),
        job_id="j",
        snapshot_id="_all",
    ),
    Step(
        "ml.revert_model_snapshot",
        lambda s: {"job_id": "j", "snapshot_id": s["snapshot_id"]},
        has("model"),
    ),
    # a second open/close persists a newer snapshot, so the first is no longer the active one
    step("ml.open_job", lambda b, _s: b["opened"] is True, job_id="j"),
    step("ml.close_job", lambda b, _s: b["closed"] is True, job_id="j"),
    Step(
        "ml.delete_model_snapshot",
        lambda s: {"job_id": "j", "snapshot_id": s["snapshot_id"]},
        has("acknowledged"),
    ),
    step("ml.delete_expired_data", lambda b, _s: b["deleted"] is True),
    step("ml.reset_job", has("acknowledged"), job_id="j"),
    step("ml.set_upgrade_mode", has("acknowledged"), enabled=True),
    step("ml.set_upgrade_mode", has("acknowledged"), enabled=False),
    # data frame analytics
    step(
        "ml.put_data_frame_analytics",
        has("id"),
        id="d",
        source={"index": "logs"},
        dest={"index": "d_out"},
        analysis={"outlier_detection": {}},
        analyzed_fields={"includes": ["value"]},
    ),
    step("ml.get_data_frame_analytics", lambda b, _s: b["count"] == 1, id="d"),
    step(
        "ml.update_data_frame_analytics",
        lambda b, _s: b["description"] == "x",
        id="d",
        description="x",
    ),
    step("ml.explain_data_frame_analytics", has("field_selection", "memory_estimation"), id="d"),
    step("ml.preview_data_frame_analytics", has("feature_values"), id="d"),
    step("ml.start_data_frame_analytics", has("acknowledged"), id="d"),
    step("ml.get_data_frame_analytics_stats", lambda b, _s: b["count"] == 1, id="d"),
    step("ml.stop_data_frame_analytics", lambda b, _s: b["stopped"] is True, id="d", force=True),
    step(
        "ml.evaluate_data_frame",
        has("outlier_detection"),
        index="d_out",
        evaluation={
            "outlier_detection": {
                "actual_field": "is_outlier",
                "predicted_probability_field": "ml.outlier_score",
            }
        },
    ),
    step("ml.delete_data_frame_analytics", has("acknowledged"), id="d", force=True),
    # trained models
    step(
        "ml.put_trained_model",
        has("model_id"),
        model_id="m",
        model_type="pytorch",
        inference_config={"text_embedding": {}},
        input={"field_names": ["text_field"]},
        model_size_bytes=1000,
    ),
    step(
        "ml.put_trained_model_definition_part",
        has("acknowledged"),
        model_id="m",
        part=0,
        definition="AAAA",
        total_definition_length=3,
        total_parts=1,
    ),
    step(
        "ml.put_trained_model_vocabulary",
        has("acknowledged"),
        model_id="m",
        vocabulary=["[PAD]", "[UNK]", "mlsync"],
    ),
    step(
        "ml.get_trained_models",
        lambda b, _s: b["trained_model_configs"][0]["model_id"] == "m",
        model_id="m",
    ),
    step("ml.put_trained_model_alias", has("acknowledged"), model_id="m", model_alias="m_alias"),
    step(
        "ml.start_trained_model_deployment",
        lambda b, _s: b["assignment"]["assignment_state"] == "started",
        model_id="m",
        wait_for="started",
    ),
    step(
        "ml.get_trained_models_stats",
        lambda b, _s: "deployment_stats" in b["trained_model_stats"][0],
        model_id="m",
    ),
    step(
        "ml.infer_trained_model",
        lambda b, _s: len(b["inference_results"]) == 1,
        model_id="m",
        docs=[{"text_field": "hello"}],
    ),
    step(
        "ml.update_trained_model_deployment",
        lambda b, _s: b["assignment"]["task_parameters"]["number_of_allocations"] == 2,
        model_id="m",
        number_of_allocations=2,
    ),
    step("ml.clear_trained_model_deployment_cache", has("cleared"), model_id="m"),
    step("ml.stop_trained_model_deployment", lambda b, _s: b["stopped"] is True, model_id="m"),
    step("ml.delete_trained_model_alias", has("acknowledged"), model_id="m", model_alias="m_alias"),
    step("ml.delete_trained_model", has("acknowledged"), model_id="m"),
    # deletions, and the escape hatch
    step("ml.delete_datafeed", has("acknowledged"), datafeed_id="f"),
    step("ml.delete_job", has("acknowledged"), job_id="j"),
    step("ml.delete_filter", has("acknowledged"), filter_id="safe"),
    step("ml.perform_request", has("defaults"), method="GET", path="/_ml/info"),
]


def target(client: Any, name: str) -> Any:
    for part in name.split("."):
        client = getattr(client, part)
    return client


def sandbox() -> Sandbox:
    return Sandbox(datafeed_lookback=0.0)


def test_every_ml_method_is_called_by_the_scenario() -> None:
    official = {n for n, _ in inspect.getmembers(OfficialMl, inspect.isfunction) if n[0] != "_"}
    called = {s.target.removeprefix("ml.") for s in SCENARIO if s.target.startswith("ml.")}
    assert official <= called, sorted(official - called)


def test_every_method_against_the_sandbox_sync() -> None:
    saved: Saved = {}
    with MLClient(transport=SandboxTransport(sandbox())) as client:
        for s in SCENARIO:
            body = target(client, s.target)(**s.kwargs(saved)).body
            assert s.check(body, saved), f"{s.target}: {body!r}"


def test_every_method_against_the_sandbox_async() -> None:
    async def scenario() -> None:
        saved: Saved = {}
        async with AsyncMLClient(transport=AsyncSandboxTransport(sandbox())) as client:
            for s in SCENARIO:
                body = (await target(client, s.target)(**s.kwargs(saved))).body
                assert s.check(body, saved), f"{s.target}: {body!r}"

    asyncio.run(scenario())


@pytest.mark.parametrize("name", ["ml.get_jobs", "search", "indices.exists"])
def test_async_methods_return_awaitables(name: str) -> None:
    client = AsyncMLClient(transport=AsyncSandboxTransport(sandbox()))
    pending = target(client, name)(**({"index": "x"} if name == "indices.exists" else {}))
    assert inspect.isawaitable(pending)
    asyncio.run(_finish(pending, client))


async def _finish(pending: Any, client: AsyncMLClient) -> None:
    await pending
    await client.close()
