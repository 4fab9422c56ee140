"""Convergence, property-tested: for generated manifests and generated live states, apply then
plan is empty, and applying twice is the same as applying once (ux-conventions.md §4.3).

Each example seeds a fresh in-process sandbox through the REST API (so Elasticsearch fills in
its defaults), plans with the real planner, applies with the executor, and re-reads everything.
"""

from __future__ import annotations

from typing import Any

from apply_helpers import admin, live_state, new_client, new_sandbox
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler import ownership
from reconciler.apply import apply_plan
from reconciler.client import MLClient, api
from reconciler.model import Kind, Ref, Resource
from reconciler.plan import PlanOptions, make_plan

JOB_IDS = ("a", "b", "c")
FILTER_IDS = ("f1", "f2")

job_spec = st.fixed_dictionaries(
    {
        "bucket_span": st.sampled_from(["15m", "30m"]),
        "mml": st.sampled_from(["32mb", "64mb"]),
        "description": st.sampled_from(["x", "y", None]),
        "state": st.sampled_from(["opened", "closed", None]),
        "feed": st.none()
        | st.fixed_dictionaries(
            {
                "query_delay": st.sampled_from(["30s", "90s"]),
                "state": st.sampled_from(["started", "stopped", None]),
            }
        ),
    }
)
filter_spec = st.fixed_dictionaries(
    {
        "items": st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True),
        "description": st.sampled_from(["hosts", None]),
    }
)


def side(draw_jobs: Any, draw_filters: Any) -> Any:
    return st.fixed_dictionaries(
        {
            "jobs": st.dictionaries(st.sampled_from(JOB_IDS), draw_jobs, max_size=3),
            "filters": st.dictionaries(st.sampled_from(FILTER_IDS), draw_filters, max_size=2),
            "calendar": st.none() | st.lists(st.sampled_from(JOB_IDS), max_size=2, unique=True),
        }
    )


def job_body(spec: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "analysis_config": {
            "bucket_span": spec["bucket_span"],
            "detectors": [{"function": "count"}],
        },
        "data_description": {"time_field": "@timestamp"},
        "analysis_limits": {"model_memory_limit": spec["mml"]},
    }
    if spec["description"]:
        body["description"] = spec["description"]
    return body


def filter_body(spec: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"items": spec["items"]}
    if spec["description"]:
        body["description"] = spec["description"]
    return body


def desired_resources(world: dict[str, Any]) -> list[Resource]:
    out = []
    for job_id, spec in world["jobs"].items():
        out.append(
            Resource(ref=Ref(kind=Kind.JOB, id=job_id), state=spec["state"], body=job_body(spec))
        )
        feed = spec["feed"]
        if feed:
            state = (
                feed["state"]
                if spec["state"] == "opened"
                else ("stopped" if feed["state"] else None)
            )
            out.append(
                Resource(
                    ref=Ref(kind=Kind.DATAFEED, id=f"{job_id}-feed"),
                    state=state,
                    body={
                        "job_id": job_id,
                        "indices": ["logs-*"],
                        "query_delay": feed["query_delay"],
                    },
                )
            )
    for filter_id, spec in world["filters"].items():
        out.append(Resource(ref=Ref(kind=Kind.FILTER, id=filter_id), body=filter_body(spec)))
    if world["calendar"] is not None:
        jobs = [j for j in world["calendar"] if j in world["jobs"]]
        out.append(Resource(ref=Ref(kind=Kind.CALENDAR, id="cal"), body={"job_ids": jobs}))
    return out


def seed_live(client: MLClient, world: dict[str, Any]) -> None:
    """Create the live side through the REST API, owned by mlsync, in the drawn run states."""
    for job_id, spec in world["jobs"].items():
        client.perform(api.put_job(job_id, ownership.with_marker(Kind.JOB, job_body(spec))))
        feed = spec["feed"]
        if feed:
            body = {"job_id": job_id, "indices": ["logs-*"], "query_delay": feed["query_delay"]}
            client.perform(api.put_datafeed(f"{job_id}-feed", body))
        if spec["state"] == "opened":
            client.perform(api.open_job(job_id))
            if feed and feed["state"] == "started":
                client.perform(api.start_datafeed(f"{job_id}-feed"))
    for filter_id, spec in world["filters"].items():
        client.perform(api.put_filter(filter_id, filter_body(spec)))
    if world["calendar"] is not None:
        client.perform(
            api.put_calendar(
                "cal", {"job_ids": [j for j in world["calendar"] if j in world["jobs"]]}
            )
        )
    # An unmanaged job (no ownership marker): apply must never touch it, prune or not.
    client.perform(
        api.put_job("foreign", job_body({"bucket_span": "15m", "mml": "32mb", "description": None}))
    )


def snapshot(client: MLClient) -> dict[str, Any]:
    live = live_state(client)
    return {str(ref): (res.body, res.state) for ref, res in live.resources.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(desired=side(job_spec, filter_spec), live=side(job_spec, filter_spec), prune=st.booleans())
def test_apply_then_plan_is_empty_and_apply_is_idempotent(
    desired: dict[str, Any], live: dict[str, Any], prune: bool
) -> None:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    seed_live(client, live)
    wanted = desired_resources(desired)
    # Convergence, not the empty-prune guard (tested in tests/registry): pruning all is allowed.
    options = PlanOptions(prune=prune, allow_prune_all=True)
    foreign = client.perform(api.get_jobs("foreign")).body["jobs"][0]

    first = make_plan(wanted, live_state(client), options=options)
    result = apply_plan(first, client, poll_interval=0.01, wait_timeout=5)
    assert result.ok, [(o.label, o.message) for o in result.outcomes if o.message]

    after_once = snapshot(client)
    second = make_plan(wanted, live_state(client), options=options)
    assert second.steps == (), [f"{s.op} {s.ref}" for s in second.steps]
    again = apply_plan(second, client, poll_interval=0.01, wait_timeout=5)
    assert again.ok and again.outcomes == ()
    assert snapshot(client) == after_once
    # Everything desired exists, in the desired run state when one was asked for.
    for res in wanted:
        state = after_once[str(res.ref)][1]
        if res.state is not None and res.ref.kind is Kind.JOB:
            assert state == res.state
    assert client.perform(api.get_jobs("foreign")).body["jobs"][0] == foreign


FEED = {"query_delay": "30s", "state": "started"}
RUNNING: dict[str, Any] = {
    "bucket_span": "15m",
    "mml": "32mb",
    "description": None,
    "state": "opened",
    "feed": {"query_delay": "30s", "state": "started"},
}
REPLACED = {**RUNNING, "bucket_span": "30m"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # a failed job whose datafeed was started, declared running
    desired={"jobs": {"a": RUNNING}, "filters": {}, "calendar": None},
    live={"jobs": {"a": RUNNING}, "filters": {}, "calendar": None},
    failed=["a"],
    handmade=["a"],
    prune=False,
)
@example(  # a failed job that is also replaced, in a hand-made calendar
    desired={"jobs": {"a": REPLACED, "b": RUNNING}, "filters": {}, "calendar": ["b"]},
    live={"jobs": {"a": RUNNING, "b": RUNNING}, "filters": {}, "calendar": ["a", "b"]},
    failed=["a", "b"],
    handmade=["a", "b"],
    prune=True,
)
@example(  # a failed job's started datafeed edited in place, the job's run state undeclared
    desired={
        "jobs": {
            "a": {**RUNNING, "state": None, "feed": {"query_delay": "30s", "state": None}},
        },
        "filters": {},
        "calendar": None,
    },
    live={
        "jobs": {"a": {**RUNNING, "feed": {"query_delay": "90s", "state": "started"}}},
        "filters": {},
        "calendar": None,
    },
    failed=["a"],
    handmade=["a"],
    prune=False,
)
@example(  # a failed job changed in place (force-closed first), no declared run state
    desired={
        "jobs": {
            "a": {**RUNNING, "description": "x", "state": None, "feed": {**FEED, "state": None}}
        },
        "filters": {},
        "calendar": None,
    },
    live={
        "jobs": {"a": {**RUNNING, "description": "y", "feed": FEED}},
        "filters": {},
        "calendar": None,
    },
    failed=["a"],
    handmade=["a"],
    prune=False,
)
@given(
    desired=side(job_spec, filter_spec),
    live=side(job_spec, filter_spec),
    failed=st.lists(st.sampled_from(JOB_IDS), max_size=2, unique=True),
    handmade=st.lists(st.sampled_from(JOB_IDS), min_size=1, max_size=3, unique=True),
    prune=st.booleans(),
)
def test_convergence_with_failed_jobs_and_hand_made_calendars(
    desired: dict[str, Any],
    live: dict[str, Any],
    failed: list[str],
    handmade: list[str],
    prune: bool,
) -> None:
    """Jobs that failed with their datafeeds started, and a calendar that no manifest declares
    holding owned jobs: one apply reaches every declared run state (datafeeds included), and the
    hand-made calendar keeps every job that still exists, replaced or not."""
    sandbox = new_sandbox()
    client = new_client(sandbox)
    seed_live(client, live)
    members = [j for j in handmade if j in live["jobs"]]
    client.perform(api.put_calendar("maint", {"job_ids": members}))
    broken = [j for j in failed if j in live["jobs"] and live["jobs"][j]["state"] == "opened"]
    if broken:
        admin(sandbox, "PUT", "/_sandbox/transitions", {"fail": {"jobs": broken}})
    wanted = desired_resources(desired)
    # Failed jobs are recovered only when asked (--recover-failed); without it they are left alone.
    # Convergence, not the empty-prune guard (tested in tests/registry): pruning all is allowed.
    options = PlanOptions(prune=prune, recover_failed=True, allow_prune_all=True)

    first = make_plan(wanted, live_state(client), options=options)
    result = apply_plan(first, client, poll_interval=0.01, wait_timeout=5)
    assert result.ok, [(o.label, o.message) for o in result.outcomes if o.message]

    second = make_plan(wanted, live_state(client), options=options)
    assert second.steps == (), [f"{s.op} {s.ref}" for s in second.steps]
    after = live_state(client)
    for res in wanted:
        if res.state is not None and res.ref.kind in (Kind.JOB, Kind.DATAFEED):
            assert after.resources[res.ref].state == res.state, (res.ref, broken)
    still = {r.id for r in after.resources if r.kind is Kind.JOB}
    maint = after.resources[Ref(kind=Kind.CALENDAR, id="maint")].body["job_ids"]
    assert sorted(maint) == sorted(j for j in members if j in still), (members, broken)
