"""The planner's indexes answer exactly what a scan over the states would, in the same order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import Kind, Ref, Resource, State
from reconciler.plan.indexes import Indexes, filter_ids

IDS = st.sampled_from(["a", "b", "c", "d"])


def job_body(filters: list[str], groups: list[str]) -> dict[str, Any]:
    rules = [{"scope": {"f": {"filter_id": f}}} for f in filters]
    return {
        "analysis_config": {"detectors": [{"function": "count", "custom_rules": rules}]},
        "groups": groups,
    }


@st.composite
def states(draw: st.DrawFn) -> State:
    out: State = {}
    for kind in Kind:
        for ident in draw(st.lists(IDS, unique=True)):
            ref = Ref(kind=kind, id=ident)
            if kind is Kind.JOB:
                body = job_body(draw(st.lists(IDS)), draw(st.lists(IDS)))
            elif kind is Kind.DATAFEED:
                body = {"job_id": draw(IDS)} if draw(st.booleans()) else {}
            elif kind is Kind.CALENDAR:
                body = {"job_ids": draw(st.lists(IDS))}
            else:
                body = {}
            out[ref] = Resource(ref=ref, body=body)
    items = draw(st.permutations(list(out.items())))
    return dict(items)


def uses_filter(body: dict[str, Any], filter_id: str) -> bool:
    """The scan the index replaces: any detector rule scoped to the filter."""
    return any(
        isinstance(scope, dict) and scope.get("filter_id") == filter_id
        for detector in body["analysis_config"]["detectors"]
        for rule in detector.get("custom_rules") or []
        for scope in rule["scope"].values()
    )


def plan_order(desired: State, live: State) -> list[Ref]:
    return sorted(desired.keys() | live.keys(), key=lambda r: r.sort_key)


@settings(max_examples=100, deadline=None)
@given(states(), states())
def test_indexes_answer_what_a_scan_would(desired: State, live: State) -> None:
    idx = Indexes.build(desired, live)
    everything = plan_order(desired, live)
    for job in ["a", "b", "c", "d", ""]:
        feeds = [
            r
            for r in everything
            if r.kind is Kind.DATAFEED
            and job
            in {
                (side.get(r) or Resource(ref=r, body={})).body.get("job_id")
                for side in (desired, live)
            }
        ]
        assert idx.datafeeds_of(job, set(everything)) == feeds
        some = set(everything[::2])
        assert idx.datafeeds_of(job, some) == [f for f in feeds if f in some]
        assert idx.live_datafeeds_by_job.get(job, []) == [
            r
            for r, res in live.items()
            if r.kind is Kind.DATAFEED and res.body.get("job_id") == job
        ]
        assert idx.live_calendars_by_job.get(job, []) == [
            r for r, res in live.items() if r.kind is Kind.CALENDAR and job in res.body["job_ids"]
        ]
        assert idx.live_jobs_by_filter.get(job, []) == [
            r
            for r in everything
            if r.kind is Kind.JOB and r in live and uses_filter(live[r].body, job)
        ]
    calendars = [r for r in live if r.kind is Kind.CALENDAR]
    assert sorted(idx.live_calendar_order, key=idx.live_calendar_order.__getitem__) == calendars
    assert idx.live_job_ids == {r.id for r in live if r.kind is Kind.JOB}
    assert idx.live_filter_ids == {r.id for r in live if r.kind is Kind.FILTER}
    assert idx.live_groups == {
        g for r, res in live.items() if r.kind is Kind.JOB for g in res.body["groups"]
    }
    for ref, res in desired.items():
        if ref.kind is Kind.JOB:
            assert idx.desired_filters_of_job[ref] == {
                f for f in "abcd" if uses_filter(res.body, f)
            }


def test_filter_ids_ignores_scopes_without_a_filter() -> None:
    body = {
        "analysis_config": {
            "detectors": [
                {"custom_rules": [{"scope": {"x": {"filter_id": "f1"}, "y": "not a scope"}}]},
                {"custom_rules": [{"conditions": []}]},
                {"function": "count"},
            ]
        }
    }
    assert filter_ids(body) == {"f1"}
    assert filter_ids({}) == set()
