"""Work done for each resource of a plan never walks the whole plan again.

The planner's stages build their indexes once (tests/plan/test_linear_costs.py); the stages
after it must too. Found at 8,000 jobs: the live checks looked up "does the plan delete this
job" by walking every change once per datafeed, and "does the plan empty this destination" by
walking every step once per DFA, and a create rendered without its whole body walked every
step once per change: an empty-cluster plan took 74 s at 8k jobs against 20 s at 4k. These
tests count the passes over `plan.changes` and `plan.steps`: the same at 10 resources as at 40.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.live_checks import questions
from reconciler.model import Kind, LiveState, Plan, Ref, Resource
from reconciler.plan import PlanOptions, make_plan
from reconciler.render import render_markdown, render_text

JOB = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


class Counted(tuple):  # type: ignore[type-arg]
    """A tuple that counts how often it is walked."""

    passes = 0

    def __iter__(self) -> Iterator[Any]:
        type(self).passes += 1
        return super().__iter__()


def fleet(n: int) -> list[Resource]:
    out = []
    for i in range(n):
        out.append(Resource(ref=Ref(kind=Kind.JOB, id=f"j{i}"), state="opened", body=JOB))
        feed = {"job_id": f"j{i}", "indices": ["logs-*"]}
        out.append(Resource(ref=Ref(kind=Kind.DATAFEED, id=f"f{i}"), state="started", body=feed))
        dfa = {
            "source": {"index": ["src"]},
            "dest": {"index": f"dest-{i}"},
            "analysis": {"outlier_detection": {}},
        }
        out.append(Resource(ref=Ref(kind=Kind.DFA, id=f"d{i}"), body=dfa))
    return out


def counted(plan: Plan) -> Plan:
    """The plan with its changes and steps in counting tuples (a fresh count)."""

    class Changes(Counted):
        passes = 0

    class Steps(Counted):
        passes = 0

    return plan.model_copy(update={"changes": Changes(plan.changes), "steps": Steps(plan.steps)})


def passes(n: int) -> dict[str, int]:
    desired = fleet(n)
    live = LiveState(resources={})
    out = {}
    for name, use in (
        ("survey", lambda p: questions.survey(p, desired, live)),
        ("text", render_text),
        ("markdown", render_markdown),
    ):
        plan = counted(make_plan(desired, live, options=PlanOptions()))
        assert all(c.after is None for c in plan.changes)  # the creates are rendered from steps
        use(plan)
        out[name] = type(plan.changes).passes + type(plan.steps).passes
    return out


def test_live_checks_and_rendering_walk_the_plan_a_fixed_number_of_times() -> None:
    small, large = passes(10), passes(40)
    assert small == large, (small, large)
    assert all(count > 0 for count in small.values())  # the counting does see the walks
