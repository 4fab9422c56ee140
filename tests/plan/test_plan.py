"""The planner on hand-built states: one action per resource, cascades, and step order."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.model import Action, Kind, LiveState, Plan, Ref, Resource, Risk, SourceLocation
from reconciler.normalize import canonical_event, event_key
from reconciler.plan import PlanOptions, make_plan

JOB = {
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [{"function": "mean", "field_name": "amount", "by_field_name": "user_id"}],
    },
    "data_description": {"time_field": "@timestamp"},
    "analysis_limits": {"model_memory_limit": "100mb"},
}
FEED = {"job_id": "j", "indices": ["transactions-*"], "query_delay": "30s"}


def job_live(
    body: dict[str, Any] | None = None, state: str = "closed", owned: bool = True, **extra: Any
) -> Resource:
    body = dict(body or JOB)
    if owned:
        body["custom_settings"] = {**body.get("custom_settings", {}), "managed_by": "mlsync"}
    return Resource(
        ref=Ref(kind=Kind.JOB, id="j"),
        body={"job_id": "j", **body},
        state=state,
        owned=owned,
        **extra,
    )


def feed_live(
    body: dict[str, Any] | None = None,
    state: str = "stopped",
    owned: bool = True,
    searches: int = 0,
) -> Resource:
    return Resource(
        ref=Ref(kind=Kind.DATAFEED, id="f"),
        body={"datafeed_id": "f", **(body or FEED)},
        state=state,
        owned=owned,
        facts={"search_count": searches},
    )


def job(body: dict[str, Any] | None = None, state: str | None = None) -> Resource:
    return Resource(
        ref=Ref(kind=Kind.JOB, id="j"),
        body=body or JOB,
        state=state,
        source=SourceLocation(file="m.yaml", line=1),
    )


def feed(body: dict[str, Any] | None = None, state: str | None = None, **facts: Any) -> Resource:
    return Resource(
        ref=Ref(kind=Kind.DATAFEED, id="f"), body=body or FEED, state=state, facts=facts
    )


def plan(desired: list[Resource], live: list[Resource], **options: Any) -> Plan:
    return make_plan(
        desired, LiveState(resources={r.ref: r for r in live}), options=PlanOptions(**options)
    )


def actions(p: Plan) -> dict[str, Action]:
    return {str(c.ref): c.action for c in p.changes}


def ops(p: Plan) -> list[str]:
    return [f"{s.op} {s.ref}" for s in p.steps]


def assert_deps_point_backwards(p: Plan) -> None:
    for step in p.steps:
        assert all(d < step.index for d in step.depends_on)


def test_create_job_and_datafeed_open_and_start_in_order() -> None:
    p = plan([job(state="opened"), feed(state="started")], [])
    assert actions(p) == {"AnomalyDetectionJob/j": Action.CREATE, "Datafeed/f": Action.CREATE}
    # Each resource is claimed for the scope in the registry before it is created.
    assert ops(p) == [
        "add-member AnomalyDetectionJob/j",
        "add-member Datafeed/f",
        "create AnomalyDetectionJob/j",
        "create Datafeed/f",
        "open AnomalyDetectionJob/j",
        "start Datafeed/f",
    ]
    assert p.steps[0].call.path == "/mlsync-registry/_create/AnomalyDetectionJob%3Aj"
    create_job = p.steps[2]
    assert create_job.call.method == "PUT" and create_job.call.path == "/_ml/anomaly_detectors/j"
    assert create_job.call.body["custom_settings"] == {
        "managed_by": "mlsync",
        "mlsync_scope": "default",
    }
    assert create_job.depends_on == (0,)
    assert p.steps[3].depends_on == (1, 2)
    assert p.steps[5].depends_on == (3, 4)
    assert p.steps[4].wait_for == "opened"


def test_nothing_to_do() -> None:
    p = plan(
        [job(state="opened"), feed(state="started")],
        [job_live(state="opened"), feed_live(state="started")],
    )
    assert set(actions(p).values()) == {Action.NOOP}
    assert p.steps == () and not p.has_changes


def test_in_place_update_on_open_job() -> None:
    body = {**JOB, "description": "new", "groups": ["payments"]}
    p = plan([job(body, state="opened")], [job_live(state="opened")])
    change = p.changes[0]
    assert change.action is Action.UPDATE and change.risk is Risk.SAFE
    assert [f.path for f in change.fields] == ["description", "groups"]
    assert ops(p) == ["update AnomalyDetectionJob/j"]
    assert p.steps[0].call.body == {"description": "new", "groups": ["payments"]}


def test_custom_rule_edit_is_in_place_not_a_replace() -> None:
    # The Terraform provider replaces the job for any analysis_config change (anchors.md §0).
    rule = {
        "actions": ["skip_result"],
        "conditions": [{"applies_to": "actual", "operator": "lt", "value": 5}],
    }
    body = {
        **JOB,
        "analysis_config": {
            **JOB["analysis_config"],
            "detectors": [{**JOB["analysis_config"]["detectors"][0], "custom_rules": [rule]}],
        },
    }
    p = plan([job(body)], [job_live()])
    assert p.changes[0].action is Action.UPDATE
    assert p.steps[0].call.body == {"detectors": [{"detector_index": 0, "custom_rules": [rule]}]}


def test_memory_limit_on_open_job_closes_updates_reopens_and_restarts_datafeed() -> None:
    body = {**JOB, "analysis_limits": {"model_memory_limit": "150mb"}}
    p = plan(
        [job(body, state="opened"), feed(state="started")],
        [job_live(state="opened"), feed_live(state="started")],
    )
    assert actions(p)["AnomalyDetectionJob/j"] is Action.RESTART_UPDATE
    assert ops(p) == [
        "stop Datafeed/f",
        "close AnomalyDetectionJob/j",
        "update AnomalyDetectionJob/j",
        "open AnomalyDetectionJob/j",
        "start Datafeed/f",
    ]
    assert p.steps[2].call.body == {
        "analysis_limits": {"model_memory_limit": "150mb", "categorization_examples_limit": 4}
    }
    assert p.steps[3].restore and p.steps[4].restore
    assert p.steps[1].depends_on == (0,)
    assert_deps_point_backwards(p)


def test_memory_limit_on_closed_job_is_a_plain_update() -> None:
    body = {**JOB, "analysis_limits": {"model_memory_limit": "150mb"}}
    p = plan([job(body)], [job_live(state="closed")])
    assert actions(p)["AnomalyDetectionJob/j"] is Action.UPDATE
    assert ops(p) == ["update AnomalyDetectionJob/j"]


def test_bucket_span_change_replaces_job_and_its_datafeed() -> None:
    body = {**JOB, "analysis_config": {**JOB["analysis_config"], "bucket_span": "30m"}}
    p = plan(
        [job(body, state="opened"), feed(state="started")],
        [job_live(state="opened"), feed_live(state="started")],
    )
    assert actions(p) == {"AnomalyDetectionJob/j": Action.REPLACE, "Datafeed/f": Action.REPLACE}
    change = p.changes[0]
    assert change.risk is Risk.DESTRUCTIVE
    assert [f.path for f in change.fields if f.forces_replacement] == [
        "analysis_config.bucket_span"
    ]
    assert "model state" in (change.destroys or "")
    assert ops(p) == [
        "stop Datafeed/f",
        "close AnomalyDetectionJob/j",
        "delete Datafeed/f",
        "delete AnomalyDetectionJob/j",
        "create AnomalyDetectionJob/j",
        "create Datafeed/f",
        "open AnomalyDetectionJob/j",
        "start Datafeed/f",
    ]
    assert [s.destructive for s in p.steps] == [
        False,
        False,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert_deps_point_backwards(p)


def test_equivalent_spelling_is_no_change() -> None:
    body = {
        **JOB,
        "analysis_config": {**JOB["analysis_config"], "bucket_span": "900s"},
        "analysis_limits": {"model_memory_limit": "100MB"},
    }
    assert not plan([job(body)], [job_live()]).has_changes


def test_datafeed_update_while_started_stops_and_restarts() -> None:
    p = plan(
        [job(state="opened"), feed({**FEED, "scroll_size": 500}, state="started")],
        [job_live(state="opened"), feed_live(state="started")],
    )
    assert actions(p)["Datafeed/f"] is Action.RESTART_UPDATE
    assert ops(p) == ["stop Datafeed/f", "update Datafeed/f", "start Datafeed/f"]
    assert p.steps[1].call.body == {"scroll_size": 500}


def test_datafeed_removed_max_empty_searches_is_reset() -> None:
    p = plan([job(), feed()], [job_live(), feed_live({**FEED, "max_empty_searches": 10})])
    assert p.steps[0].call.body == {"max_empty_searches": -1}


def test_run_state_drift_is_state_only() -> None:
    p = plan(
        [job(state="opened"), feed(state="started")],
        [job_live(state="closed"), feed_live(state="stopped")],
    )
    assert actions(p) == {"AnomalyDetectionJob/j": Action.OPEN, "Datafeed/f": Action.START}
    assert all(c.state_only for c in p.changes)
    assert ops(p) == ["open AnomalyDetectionJob/j", "start Datafeed/f"]


def test_close_and_stop() -> None:
    p = plan(
        [job(state="closed"), feed(state="stopped")],
        [job_live(state="opened"), feed_live(state="started")],
    )
    assert actions(p) == {"AnomalyDetectionJob/j": Action.CLOSE, "Datafeed/f": Action.STOP}
    assert ops(p) == ["stop Datafeed/f", "close AnomalyDetectionJob/j"]


def test_failed_job_is_force_closed_then_opened() -> None:
    # Recovery is an explicit choice (--recover-failed); without it the job is left alone.
    p = plan([job(state="opened")], [job_live(state="failed")], recover_failed=True)
    assert ops(p) == ["close AnomalyDetectionJob/j", "open AnomalyDetectionJob/j"]
    assert p.steps[0].call.params == {"force": "true"}
    assert ops(plan([job(state="opened")], [job_live(state="failed")])) == []


def test_unset_state_leaves_run_state_alone() -> None:
    assert not plan(
        [job(), feed()], [job_live(state="opened"), feed_live(state="started")]
    ).has_changes


def test_lookback_datafeed_that_finished_is_not_restarted() -> None:
    p = plan(
        [job(state="opened"), feed(state="started", end="2024-02-01T00:00:00Z")],
        [job_live(state="opened"), feed_live(state="stopped", searches=3)],
    )
    assert not p.has_changes


def test_lookback_datafeed_that_never_ran_is_started() -> None:
    # A failed or never-attempted start leaves search_count at 0 (es-ml-api.md §6.2).
    p = plan(
        [job(state="opened"), feed(state="started", end="2024-02-01T00:00:00Z")],
        [job_live(state="opened"), feed_live(state="stopped", searches=0)],
    )
    assert [s.op for s in p.steps] == ["start"]


def test_delete_needs_prune_and_ownership() -> None:
    live = [job_live(state="opened"), feed_live(state="started")]
    assert not plan([], live).has_changes
    assert plan([], live).unmanaged == (Ref(kind=Kind.JOB, id="j"), Ref(kind=Kind.DATAFEED, id="f"))
    # Pruning everything from an empty manifest set needs its own flag.
    with pytest.raises(PlanError, match="--allow-prune-all"):
        plan([], live, prune=True)
    p = plan([], live, prune=True, allow_prune_all=True)
    assert actions(p) == {"AnomalyDetectionJob/j": Action.DELETE, "Datafeed/f": Action.DELETE}
    assert ops(p) == [
        "stop Datafeed/f",
        "close AnomalyDetectionJob/j",
        "delete Datafeed/f",
        "delete AnomalyDetectionJob/j",
    ]


def test_prune_never_touches_unowned_resources() -> None:
    p = plan([], [job_live(owned=False), feed_live(owned=False)], prune=True)
    assert not p.has_changes


def test_elastic_managed_job_in_manifests_is_refused() -> None:
    live = job_live(elastic_managed=True)
    with pytest.raises(PlanError, match="managed by Elastic"):
        plan([job()], [live])


def test_unowned_job_is_adopted_in_place() -> None:
    p = plan([job()], [job_live(owned=False)])
    assert p.changes[0].action is Action.ADOPT
    assert [s.op for s in p.steps] == ["add-member", "update"]
    assert p.steps[1].call.body == {
        "custom_settings": {"managed_by": "mlsync", "mlsync_scope": "default"}
    }


def test_dfa_only_four_fields_update() -> None:
    base = {
        "source": {"index": ["customer_data"]},
        "dest": {"index": "out"},
        "analysis": {"outlier_detection": {}},
    }
    ref = Ref(kind=Kind.DFA, id="d")
    live = Resource(
        ref=ref,
        body={"id": "d", **base, "_meta": {"managed_by": "mlsync"}},
        state="started",
        owned=True,
    )
    p = plan([Resource(ref=ref, body={**base, "description": "x"}, state="started")], [live])
    assert p.changes[0].action is Action.UPDATE
    p = plan(
        [Resource(ref=ref, body={**base, "model_memory_limit": "200mb"}, state="started")], [live]
    )
    assert p.changes[0].action is Action.RESTART_UPDATE
    assert ops(p) == [
        "stop DataFrameAnalytics/d",
        "update DataFrameAnalytics/d",
        "start DataFrameAnalytics/d",
    ]
    p = plan(
        [Resource(ref=ref, body={**base, "dest": {"index": "other"}}, state="started")], [live]
    )
    assert p.changes[0].action is Action.REPLACE


def test_completed_dfa_satisfies_started() -> None:
    base = {
        "source": {"index": ["s"]},
        "dest": {"index": "o"},
        "analysis": {"outlier_detection": {}},
    }
    ref = Ref(kind=Kind.DFA, id="d")
    live = Resource(ref=ref, body=base, state="stopped", owned=True, facts={"completed": True})
    assert not plan([Resource(ref=ref, body=base, state="started")], [live]).has_changes
    fresh = Resource(ref=ref, body=base, state="stopped", owned=True, facts={"completed": False})
    assert actions(plan([Resource(ref=ref, body=base, state="started")], [fresh])) == {
        "DataFrameAnalytics/d": Action.START
    }


def test_filter_items_update_and_ordering_before_jobs() -> None:
    fref = Ref(kind=Kind.FILTER, id="safe")
    rule = {"scope": {"user_id": {"filter_id": "safe"}}}
    body = {
        **JOB,
        "analysis_config": {
            **JOB["analysis_config"],
            "detectors": [{**JOB["analysis_config"]["detectors"][0], "custom_rules": [rule]}],
        },
    }
    p = plan([Resource(ref=fref, body={"items": ["a", "c"]}), job(body)], [])
    assert ops(p) == [
        "add-member Filter/safe",
        "add-member AnomalyDetectionJob/j",
        "create Filter/safe",
        "create AnomalyDetectionJob/j",
    ]
    assert p.steps[3].depends_on == (1, 2)
    p = plan(
        [Resource(ref=fref, body={"items": ["a", "c"]})],
        [Resource(ref=fref, body={"filter_id": "safe", "items": ["a", "b"]}, owner="default")],
    )
    assert p.steps[0].call.path == "/_ml/filters/safe/_update"
    assert p.steps[0].call.body == {"add_items": ["c"], "remove_items": ["b"]}


def test_calendar_jobs_and_events_update_in_place() -> None:
    cref = Ref(kind=Kind.CALENDAR, id="holidays")
    ev_old = {
        "description": "old",
        "start_time": 1000,
        "end_time": 2000,
        "event_id": "e1",
        "calendar_id": "holidays",
    }
    live = Resource(
        ref=cref,
        body={"calendar_id": "holidays", "job_ids": ["a"], "events": [ev_old]},
        facts={"event_ids": {event_key(canonical_event(ev_old)): "e1"}},
        owner="default",
    )
    desired = Resource(
        ref=cref,
        body={
            "job_ids": ["b"],
            "events": [{"description": "new", "start_time": 3000, "end_time": 4000}],
        },
    )
    p = plan([desired], [live])
    assert p.changes[0].action is Action.UPDATE
    assert [(s.op, s.call.method, s.call.path) for s in p.steps] == [
        ("add-jobs", "PUT", "/_ml/calendars/holidays/jobs/b"),
        ("remove-jobs", "DELETE", "/_ml/calendars/holidays/jobs/a"),
        ("delete-event", "DELETE", "/_ml/calendars/holidays/events/e1"),
        ("add-events", "POST", "/_ml/calendars/holidays/events"),
    ]


def test_dangling_references_are_errors() -> None:
    class Reference:
        source = SourceLocation(file="jobs.yaml", line=7)
        from_ref = Ref(kind=Kind.JOB, id="j")
        target_kind = "filter"
        target_id = "nope"

    with pytest.raises(
        PlanError, match=r"jobs.yaml:7: AnomalyDetectionJob/j refers to filter 'nope'"
    ):
        make_plan([job()], LiveState(resources={}), references=[Reference()])


def test_target_takes_the_job_with_its_datafeed() -> None:
    other = Resource(ref=Ref(kind=Kind.JOB, id="other"), body=JOB)
    p = plan([job(), feed(), other], [], targets=(Ref(kind=Kind.DATAFEED, id="f"),))
    assert set(actions(p)) == {"AnomalyDetectionJob/j", "Datafeed/f"}
    assert any("targeting" in w for w in p.warnings)


def test_plan_is_deterministic() -> None:
    a = plan([job(state="opened"), feed(state="started")], [])
    b = plan([feed(state="started"), job(state="opened")], [])
    assert a.model_dump_json() == b.model_dump_json()


def test_fields_the_update_api_cannot_unset_are_kept_with_a_warning() -> None:
    # Said when the job is updated (the update keeps the value), not on every unchanged plan.
    p = plan([job()], [job_live({**JOB, "results_retention_days": 30})])
    assert not p.has_changes
    assert not any("results_retention_days" in w for w in p.warnings)
    edited = job({**JOB, "description": "edited"})
    p = plan([edited], [job_live({**JOB, "results_retention_days": 30})])
    assert p.has_changes
    assert any("results_retention_days is 30 on the cluster" in w for w in p.warnings)


def test_target_takes_the_filters_a_job_uses() -> None:
    fref = Ref(kind=Kind.FILTER, id="safe")
    rule = {"scope": {"user_id": {"filter_id": "safe"}}}
    detector = {**JOB["analysis_config"]["detectors"][0], "custom_rules": [rule]}
    body = {**JOB, "analysis_config": {**JOB["analysis_config"], "detectors": [detector]}}
    other = Resource(ref=Ref(kind=Kind.FILTER, id="unrelated"), body={"items": ["x"]})
    p = plan(
        [Resource(ref=fref, body={"items": ["a"]}), other, job(body), feed()],
        [],
        targets=(Ref(kind=Kind.DATAFEED, id="f"),),
    )
    assert set(actions(p)) == {"Filter/safe", "AnomalyDetectionJob/j", "Datafeed/f"}
