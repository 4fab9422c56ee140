"""The 50-resource scenario of the fault suite, and one fault trial (importable by workers).

Live side (seeded once, then cloned per trial): ten owned jobs with started datafeeds, four
filters. Desired side: three restart-updates (analysis_limits), two replaces (bucket_span), two
in-place updates, one close, two prune-deletes, eight new jobs with datafeeds that are opened
and started, filter updates and creates, and calendars. That is 50 resources and ~90 steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apply_helpers import (
    clone_sandbox,
    live_refs,
    live_state,
    new_client,
    new_sandbox,
    request_log,
    set_faults,
)

from reconciler import ownership
from reconciler.apply import StepStatus, apply_plan
from reconciler.client import MLClient, api
from reconciler.model import Kind, Plan, Ref, Resource
from reconciler.plan import PlanOptions, make_plan
from reconciler.sandbox import Sandbox

OPTIONS = PlanOptions(prune=True)
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "500": {"status": 500},
    "429": {"status": 429},
    "timeout": {"timeout": True},  # applied, answer lost
    "drop": {"drop": True},  # connection dropped, not applied
}
#: Live refs of the base state (the same for every trial of a worker).
_BASE_REFS: dict[int, frozenset[Ref]] = {}
FAST: dict[str, Any] = {"poll_interval": 0.005, "wait_timeout": 5.0, "concurrency": 4}


def job(
    bucket_span: str = "15m", mml: str = "32mb", description: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "analysis_config": {"bucket_span": bucket_span, "detectors": [{"function": "count"}]},
        "data_description": {"time_field": "@timestamp"},
        "analysis_limits": {"model_memory_limit": mml},
    }
    if description:
        body["description"] = description
    return body


def feed(job_id: str) -> dict[str, Any]:
    return {"job_id": job_id, "indices": ["logs-*"]}


def build_base() -> Sandbox:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    for i in range(10):
        job_id = f"j{i:02}"
        client.perform(api.put_job(job_id, ownership.with_marker(Kind.JOB, job(description="old"))))
        client.perform(api.put_datafeed(f"{job_id}-feed", feed(job_id)))
        client.perform(api.open_job(job_id))
        client.perform(api.start_datafeed(f"{job_id}-feed"))
    for i in range(4):
        client.perform(api.put_filter(f"flt{i}", {"items": ["a", "b"]}))
    client.close()
    return sandbox


def desired() -> list[Resource]:
    out: list[Resource] = []

    def add_job(
        job_id: str,
        body: dict[str, Any],
        state: str | None = "opened",
        feed_state: str | None = "started",
    ) -> None:
        out.append(Resource(ref=Ref(kind=Kind.JOB, id=job_id), state=state, body=body))
        out.append(
            Resource(
                ref=Ref(kind=Kind.DATAFEED, id=f"{job_id}-feed"),
                state=feed_state,
                body=feed(job_id),
            )
        )

    for i in range(3):  # analysis_limits on a running job: restart-update
        add_job(f"j{i:02}", job(mml="64mb", description="old"))
    for i in range(3, 5):  # bucket_span is immutable: replace
        add_job(f"j{i:02}", job(bucket_span="30m", description="old"))
    for i in range(5, 7):  # in place while running
        add_job(f"j{i:02}", job(description="new"))
    add_job("j07", job(description="old"), state="closed", feed_state="stopped")
    # j08, j09 are owned and no longer declared: pruned.
    for i in range(8):
        add_job(f"n{i:02}", job())
    for i in range(4):
        out.append(Resource(ref=Ref(kind=Kind.FILTER, id=f"flt{i}"), body={"items": ["a", "c"]}))
    for i in range(4, 10):
        out.append(Resource(ref=Ref(kind=Kind.FILTER, id=f"flt{i}"), body={"items": ["x"]}))
    for i in range(4):
        out.append(
            Resource(
                ref=Ref(kind=Kind.CALENDAR, id=f"cal{i}"), body={"job_ids": [f"n{i:02}", f"j0{i}"]}
            )
        )
    return out


def plan_of(client: MLClient) -> Plan:
    return make_plan(desired(), live_state(client), options=OPTIONS)


def depends_on(plan: Plan, index: int, root: int) -> bool:
    """Whether step `index` depends on step `root`, transitively."""
    by_index = {s.index: s for s in plan.steps}
    todo = list(by_index[index].depends_on)
    seen: set[int] = set()
    while todo:
        dep = todo.pop()
        if dep == root:
            return True
        if dep not in seen:
            seen.add(dep)
            todo.extend(by_index[dep].depends_on)
    return False


@dataclass(frozen=True)
class TrialResult:
    step: str
    kind: str
    times: int
    first_ok: bool


def run_trial(base: Sandbox, plan: Plan, index: int, kind: str, times: int) -> TrialResult:
    """Inject `kind` on step `index`'s request, apply, check safety, clear, re-run, converge."""
    sandbox = clone_sandbox(base)
    client = new_client(sandbox)
    before = set(_BASE_REFS.setdefault(id(base), frozenset(live_refs(client))))
    target = plan.steps[index]
    rule = {
        "method": target.call.method,
        "path": "^" + re.escape(target.call.path) + "$",
        "times": times,
        **FAULT_KINDS[kind],
    }
    set_faults(sandbox, [rule])
    label = f"{target.op} {target.ref}"
    result = apply_plan(plan, client, **FAST)  # never raises: failures are outcomes

    # Fails cleanly: only the faulty step may fail, and only its dependents may be skipped.
    for outcome in result.outcomes:
        if outcome.status is StepStatus.FAILED:
            assert outcome.step.index == index, (label, kind, outcome.label, outcome.message)
            assert outcome.message
        if outcome.status is StepStatus.SKIPPED:
            assert depends_on(plan, outcome.step.index, index), (label, kind, outcome.label)
    set_faults(sandbox, [])

    rerun = plan_of(client)
    allowed = {s.ref for s in plan.steps if s.destructive}
    assert {s.ref for s in rerun.steps if s.destructive} <= allowed, (label, kind)
    second = apply_plan(rerun, client, **FAST)
    assert second.ok, (label, kind, [(o.label, o.message) for o in second.failed])
    final = live_state(client)
    assert make_plan(desired(), final, options=OPTIONS).steps == (), (label, kind)

    # Nothing outside the plan's deletes was ever deleted.
    deleted_paths = {s.call.path for s in plan.steps if s.destructive}
    for entry in request_log(sandbox):
        if entry["method"] == "DELETE" and entry["path"].startswith("/_ml/"):
            assert entry["path"] in deleted_paths, (label, kind, entry)
    assert before - set(final.resources) <= allowed
    client.close()
    return TrialResult(label, kind, times, result.ok)


def run_chunk(plan_json: str, trials: list[tuple[int, str, int]]) -> list[TrialResult]:
    """Worker entry point: rebuild the (deterministic) base state and run some trials."""
    base = build_base()
    plan = Plan.model_validate_json(plan_json)
    return [run_trial(base, plan, index, kind, times) for index, kind, times in trials]
