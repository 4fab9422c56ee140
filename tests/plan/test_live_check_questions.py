"""What the live checks ask (pure): nothing for no-ops, one batch per distinct index set."""

from __future__ import annotations

from typing import Any

from reconciler.live_checks import questions
from reconciler.model import Action, Change, Kind, LiveState, Plan, Ref, Resource, Risk
from reconciler.plan import PlanOptions, make_plan

JOB = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


def fleet(n: int, indices: list[str], **feed: Any) -> list[Resource]:
    out = []
    for i in range(n):
        out.append(Resource(ref=Ref(kind=Kind.JOB, id=f"j{i}"), state="opened", body=JOB))
        out.append(
            Resource(
                ref=Ref(kind=Kind.DATAFEED, id=f"f{i}"),
                state="started",
                body={"job_id": f"j{i}", "indices": indices, **feed},
            )
        )
    return out


def survey_of(desired: list[Resource]) -> questions.Survey:
    state = LiveState(resources={})
    plan = make_plan(desired, state, options=PlanOptions())
    return questions.survey(plan, desired, state)


def test_datafeeds_over_the_same_indices_share_one_resolution_and_one_field_caps() -> None:
    survey = survey_of(fleet(5, ["logs-*"]))
    calls = [str(c) for c in survey.questions.values()]
    assert sum("/_resolve/index/" in c for c in calls) == 1
    assert sum("/_field_caps" in c for c in calls) == 1
    assert sum("/_validate" in c for c in calls) == 5
    # every call is read-only
    assert all(c.startswith(("GET ", "POST ")) for c in calls)


def test_runtime_mappings_make_a_separate_batch() -> None:
    runtime = {"r": {"type": "keyword"}}
    desired = fleet(2, ["logs-*"]) + [
        r.model_copy(update={"ref": Ref(kind=r.ref.kind, id=r.ref.id + "x")})
        if r.ref.kind is Kind.JOB
        else r.model_copy(
            update={
                "ref": Ref(kind=r.ref.kind, id=r.ref.id + "x"),
                "body": {**r.body, "job_id": r.body["job_id"] + "x", "runtime_mappings": runtime},
            }
        )
        for r in fleet(1, ["logs-*"])
    ]
    survey = survey_of(desired)
    caps = [c for k, c in survey.questions.items() if k.startswith("caps:")]
    assert len(caps) == 2
    assert sorted(str(c.body) for c in caps) == [
        "None",
        "{'runtime_mappings': " + str(runtime) + "}",
    ]


def test_no_ops_and_deletes_ask_nothing() -> None:
    desired = fleet(3, ["logs-*"])
    state = LiveState(resources={r.ref: r for r in desired})
    idle = (Action.NOOP, Action.DELETE)
    changes = tuple(
        Change(ref=r.ref, action=idle[n % 2], risk=Risk.NONE) for n, r in enumerate(desired)
    )
    assert questions.survey(Plan(changes=changes), desired, state) == questions.Survey()
    # The same resources created: now they are asked about.
    created = tuple(Change(ref=r.ref, action=Action.CREATE, risk=Risk.SAFE) for r in desired)
    assert questions.survey(Plan(changes=created), desired, state).questions


def test_cardinality_dependent_estimates_are_recorded_as_skipped() -> None:
    job = {
        **JOB,
        "analysis_config": {
            "bucket_span": "15m",
            "detectors": [{"function": "mean", "field_name": "x", "by_field_name": "user"}],
        },
    }
    desired = [Resource(ref=Ref(kind=Kind.JOB, id="j"), state="closed", body=job)]
    survey = survey_of(desired)
    assert "estimate:j" not in survey.questions
    assert survey.skipped and "cardinality" in survey.skipped[0]
