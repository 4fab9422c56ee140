"""Regressions from the planner review: each case applied against the sandbox, then re-planned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import apply_plan
from reconciler.client import MLClient, api
from reconciler.cluster import read_cluster
from reconciler.errors import PlanError
from reconciler.manifest import load_manifests
from reconciler.model import Action, Kind, Plan, Ref, Resource
from reconciler.plan import PlanOptions, make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

JOB: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


@pytest.fixture
def client() -> MLClient:
    return MLClient(
        hosts=["http://sandbox:9200"], transport=SandboxTransport(Sandbox(implicit_indices=True))
    )


def plan_for(client: MLClient, desired: list[Resource], **options: Any) -> Plan:
    return make_plan(
        desired, read_cluster(client, client.preflight()), options=PlanOptions(**options)
    )


def converge(client: MLClient, desired: list[Resource], **options: Any) -> Plan:
    """Apply the plan for `desired` and return the re-plan (which must be empty)."""
    first = plan_for(client, desired, **options)
    result = apply_plan(first, client, poll_interval=0.01, wait_timeout=5)
    assert result.ok, [(o.step.description, o.message) for o in result.outcomes if o.message]
    return plan_for(client, desired, **options)


def job(body: dict[str, Any] = JOB, state: str | None = None, ident: str = "j") -> Resource:
    return Resource(ref=Ref(kind=Kind.JOB, id=ident), body=body, state=state)


def feed(ident: str, job_id: str = "j", state: str | None = None, **body: Any) -> Resource:
    return Resource(
        ref=Ref(kind=Kind.DATAFEED, id=ident),
        body={"job_id": job_id, "indices": ["x"], **body},
        state=state,
    )


def test_replacing_a_job_restores_it_in_calendars_mlsync_does_not_manage(client: MLClient) -> None:
    assert not converge(client, [job()]).has_changes
    client.perform(api.put_calendar("maint", {"job_ids": ["j"]}))  # made by hand, not declared
    replaced = job({**JOB, "analysis_config": {**JOB["analysis_config"], "bucket_span": "30m"}})
    plan = plan_for(client, [replaced])
    assert any("calendar maint" in r for c in plan.changes for r in c.reasons)
    assert not converge(client, [replaced]).has_changes
    assert client.perform(api.get_calendars("maint")).body["calendars"][0]["job_ids"] == ["j"]


def test_a_new_datafeed_waits_for_the_pruned_old_one(client: MLClient) -> None:
    assert not converge(client, [job(state="opened"), feed("old", state="started")]).has_changes
    desired = [job(state="opened"), feed("new", state="started")]
    with pytest.raises(PlanError, match="already has datafeed old"):
        plan_for(client, desired)
    plan = plan_for(client, desired, prune=True)
    delete_old = next(s.index for s in plan.steps if s.op == "delete" and s.ref.id == "old")
    create_new = next(s for s in plan.steps if s.op == "create" and s.ref.id == "new")
    assert delete_old in create_new.depends_on
    assert not converge(client, desired, prune=True).has_changes


def test_quoted_numbers_validate_to_numbers(client: MLClient, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "kind: DataFrameAnalytics\nid: d\nspec:\n"
        "  source: {index: src}\n  dest: {index: out}\n"
        "  analysis: {classification: {dependent_variable: y, training_percent: '80'}}\n"
        "---\nkind: AnomalyDetectionJob\nid: j\nspec:\n"
        "  analysis_config: {detectors: [{function: count}]}\n  data_description: {}\n"
        "  model_snapshot_retention_days: '5'\n"
    )
    resources = list(load_manifests([tmp_path]).resources)
    dfa = next(r for r in resources if r.ref.kind is Kind.DFA)
    assert dfa.body["analysis"]["classification"]["training_percent"] == 80.0
    assert not converge(client, resources).has_changes


def test_removing_aggregations_replaces_the_datafeed(client: MLClient) -> None:
    aggs = {
        "buckets": {
            "date_histogram": {"field": "@timestamp", "fixed_interval": "5m"},
            "aggregations": {"@timestamp": {"max": {"field": "@timestamp"}}},
        }
    }
    summarised = {
        **JOB,
        "analysis_config": {**JOB["analysis_config"], "summary_count_field_name": "doc_count"},
    }
    assert not converge(client, [job(summarised), feed("f", aggregations=aggs)]).has_changes
    plan = plan_for(client, [job(summarised), feed("f")])
    assert {c.ref.id: c.action for c in plan.changes}["f"] is Action.REPLACE
    assert not converge(client, [job(summarised), feed("f")]).has_changes


def test_pasted_default_query_delay_is_no_change(client: MLClient) -> None:
    # es-ml-api.md §2.2: test-job1's default query_delay is 61499ms, as Kibana shows it.
    desired = [
        job(ident="test-job1"),
        feed("f", job_id="test-job1", query_delay="61499ms", chunking_config={"mode": "auto"}),
    ]
    assert not converge(client, desired).has_changes


def test_changing_an_event_flag_replaces_the_event(client: MLClient) -> None:
    def calendar(skip: bool) -> Resource:
        event = {"description": "d", "start_time": 1000, "end_time": 2000, "skip_result": skip}
        return Resource(ref=Ref(kind=Kind.CALENDAR, id="c"), body={"events": [event]})

    assert not converge(client, [calendar(True)]).has_changes
    plan = plan_for(client, [calendar(False)])
    assert [s.op for s in plan.steps] == ["delete-event", "add-events"]
    assert not converge(client, [calendar(False)]).has_changes


def test_started_datafeed_needs_an_open_job(client: MLClient) -> None:
    with pytest.raises(PlanError, match="its job j will be closed"):
        plan_for(client, [job(), feed("f", state="started")])


def test_prune_never_deletes_the_job_of_a_declared_datafeed(client: MLClient) -> None:
    assert not converge(client, [job(), feed("f")]).has_changes
    with pytest.raises(PlanError, match="which --prune would delete"):
        plan_for(client, [feed("f")], prune=True)
