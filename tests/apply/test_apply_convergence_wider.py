"""Convergence over a wider world: jobs whose custom rules use filters, DFA jobs, calendar events.

Generated desired and live worlds, seeded through the REST API; apply the plan (with deletes
allowed, pruning drawn), then the re-plan must be empty and a second apply must change nothing.
This exercises the cross-resource order: filters before the jobs that use them, jobs stop using
a filter before it is deleted, DFA restarts around updates, events replaced when they change.
"""

from __future__ import annotations

from typing import Any

from apply_helpers import live_state, new_client, new_sandbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import ownership
from reconciler.apply import apply_plan
from reconciler.client import MLClient, api
from reconciler.model import Kind, Ref, Resource
from reconciler.plan import PlanOptions, make_plan

jobs = st.dictionaries(
    st.sampled_from(["a", "b"]),
    st.fixed_dictionaries(
        {
            "bucket_span": st.sampled_from(["15m", "30m"]),
            "rule_filter": st.sampled_from([None, "f1", "f2"]),
            "state": st.sampled_from(["opened", "closed", None]),
        }
    ),
    max_size=2,
)
dfas = st.dictionaries(
    st.sampled_from(["d1", "d2"]),
    st.fixed_dictionaries(
        {
            "dest": st.sampled_from(["out1", "out2"]),
            "mml": st.sampled_from(["32mb", "64mb"]),
            "description": st.sampled_from([None, "x"]),
            "state": st.sampled_from(["started", "stopped", None]),
        }
    ),
    max_size=2,
)
events = st.lists(
    st.fixed_dictionaries(
        {
            "description": st.sampled_from(["sale", "holiday"]),
            "start_time": st.sampled_from([1_000_000, 5_000_000]),
            "skip_result": st.booleans(),
        }
    ),
    max_size=2,
    unique_by=lambda e: (e["description"], e["start_time"], e["skip_result"]),
)
world = st.fixed_dictionaries(
    {
        "filters": st.dictionaries(
            st.sampled_from(["f1", "f2"]), st.sampled_from([["a"], ["a", "b"]]), max_size=2
        ),
        "jobs": jobs,
        "dfas": dfas,
        "events": st.none() | events,
    }
)


def job_body(spec: dict[str, Any]) -> dict[str, Any]:
    detector: dict[str, Any] = {"function": "count", "by_field_name": "host"}
    if spec["rule_filter"]:
        detector["custom_rules"] = [{"scope": {"host": {"filter_id": spec["rule_filter"]}}}]
    return {
        "analysis_config": {"bucket_span": spec["bucket_span"], "detectors": [detector]},
        "data_description": {"time_field": "@timestamp"},
    }


def dfa_body(spec: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {"index": ["src"]},
        "dest": {"index": spec["dest"]},
        "analysis": {"outlier_detection": {}},
        "model_memory_limit": spec["mml"],
    }
    if spec["description"]:
        body["description"] = spec["description"]
    return body


def event_body(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "end_time": event["start_time"] + 3_600_000}


def filters_needed(w: dict[str, Any]) -> dict[str, list[str]]:
    """The world's filters plus any filter a job's rule uses (a reference must resolve)."""
    out = dict(w["filters"])
    for spec in w["jobs"].values():
        if spec["rule_filter"]:
            out.setdefault(spec["rule_filter"], ["a"])
    return out


def desired(w: dict[str, Any]) -> list[Resource]:
    out = [
        Resource(ref=Ref(kind=Kind.FILTER, id=f), body={"items": items})
        for f, items in filters_needed(w).items()
    ]
    out += [
        Resource(ref=Ref(kind=Kind.JOB, id=j), body=job_body(s), state=s["state"])
        for j, s in w["jobs"].items()
    ]
    out += [
        Resource(ref=Ref(kind=Kind.DFA, id=d), body=dfa_body(s), state=s["state"])
        for d, s in w["dfas"].items()
    ]
    if w["events"] is not None:
        body = {"job_ids": sorted(w["jobs"]), "events": [event_body(e) for e in w["events"]]}
        out.append(Resource(ref=Ref(kind=Kind.CALENDAR, id="cal"), body=body))
    return out


def seed(client: MLClient, w: dict[str, Any]) -> None:
    for f, items in filters_needed(w).items():
        client.perform(api.put_filter(f, {"items": items}))
    for j, s in w["jobs"].items():
        client.perform(api.put_job(j, ownership.with_marker(Kind.JOB, job_body(s))))
        if s["state"] == "opened":
            client.perform(api.open_job(j))
    for d, s in w["dfas"].items():
        client.perform(
            api.put_data_frame_analytics(d, ownership.with_marker(Kind.DFA, dfa_body(s)))
        )
        if s["state"] == "started":
            client.perform(api.start_data_frame_analytics(d))
    if w["events"] is not None:
        client.perform(api.put_calendar("cal", {"job_ids": sorted(w["jobs"])}))
        if w["events"]:
            client.perform(api.post_calendar_events("cal", [event_body(e) for e in w["events"]]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(want=world, have=world, prune=st.booleans())
def test_wider_worlds_converge(want: dict[str, Any], have: dict[str, Any], prune: bool) -> None:
    client = new_client(new_sandbox())
    seed(client, have)
    wanted = desired(want)
    # Convergence, not the empty-prune guard (tested in tests/registry): pruning all is allowed.
    options = PlanOptions(prune=prune, allow_prune_all=True)
    first = make_plan(wanted, live_state(client), options=options)
    result = apply_plan(first, client, poll_interval=0.01, wait_timeout=5)
    assert result.ok, [(o.step.description, o.message) for o in result.outcomes if o.message]
    second = make_plan(wanted, live_state(client), options=options)
    assert second.steps == (), [f"{s.op} {s.ref}" for s in second.steps]
    for res in wanted:
        if res.ref.kind is Kind.JOB and res.state is not None:
            job_state = live_state(client).resources[res.ref].state
            assert job_state == res.state
