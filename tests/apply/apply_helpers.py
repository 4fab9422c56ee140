"""Helpers for the apply tests: sandbox + real client, hand-built plans, request-log reading."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.client import MLClient, api
from reconciler.cluster import read_cluster
from reconciler.model import Call, Kind, LiveState, Plan, Ref, Resource, Step
from reconciler.plan import PlanOptions, make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

JOB_BODY: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


def new_sandbox(**kwargs: Any) -> Sandbox:
    kwargs.setdefault("implicit_indices", True)
    return Sandbox(**kwargs)


def new_client(sandbox: Sandbox, **kwargs: Any) -> MLClient:
    # Small backoffs: fault tests retry often and must stay fast.
    kwargs.setdefault("retry_backoff_base", 0.005)
    kwargs.setdefault("retry_backoff_cap", 0.02)
    kwargs.setdefault("retry_on_timeout", True)  # mlsync's CLI policy (MLSYNC_POLICY)
    return MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox), **kwargs)


def clone_sandbox(source: Sandbox, **kwargs: Any) -> Sandbox:
    """A new in-memory sandbox holding a copy of `source`'s state (fast per-trial setup)."""
    snapshot = source.store.snapshot()
    target = new_sandbox(**kwargs)
    with target.store.transaction() as state:
        state.clear()
        state.update(copy.deepcopy(snapshot))
    return target


def admin(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    import json

    raw = b"" if body is None else json.dumps(body).encode()
    answer = sandbox.handle(method, path, {"content-type": "application/json"}, raw)
    assert answer.status == 200, answer.body
    return answer.json()


def request_log(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(admin(sandbox, "GET", "/_sandbox/requests")["log"])


def reset_log(sandbox: Sandbox) -> None:
    admin(sandbox, "POST", "/_sandbox/requests/_reset")


def set_faults(sandbox: Sandbox, rules: list[dict[str, Any]]) -> None:
    admin(sandbox, "PUT", "/_sandbox/faults", rules)


def mutating_calls(sandbox: Sandbox, *, include_lock: bool = False) -> list[str]:
    """`METHOD path` of every non-GET request the sandbox answered, in order."""
    out = []
    for entry in request_log(sandbox):
        if entry["method"] in ("GET", "HEAD"):
            continue
        if not include_lock and entry["path"].startswith("/mlsync-locks"):
            continue
        out.append(f"{entry['method']} {entry['path']}")
    return out


def job_ref(i: str) -> Ref:
    return Ref(kind=Kind.JOB, id=i)


def feed_ref(i: str) -> Ref:
    return Ref(kind=Kind.DATAFEED, id=i)


def step(
    index: int,
    ref: Ref,
    op: str,
    call: Call | api.Call,
    *,
    wait_for: str | None = None,
    depends_on: Sequence[int] = (),
    restore: bool = False,
    destructive: bool = False,
) -> Step:
    return Step(
        index=index,
        ref=ref,
        op=op,
        call=Call.model_validate(call.model_dump()),
        wait_for=wait_for,
        depends_on=tuple(depends_on),
        restore=restore,
        destructive=destructive,
    )


def plan_of(*steps: Step) -> Plan:
    return Plan(steps=tuple(steps))


def seed_job(
    client: MLClient,
    job_id: str,
    *,
    state: str = "closed",
    feed: str | None = None,
    feed_state: str = "stopped",
    body: dict[str, Any] | None = None,
) -> None:
    """Create a job (and optionally its datafeed) directly, in the given run states."""
    client.perform(api.put_job(job_id, body or JOB_BODY))
    if feed:
        client.perform(api.put_datafeed(feed, {"job_id": job_id, "indices": ["logs-*"]}))
    if state == "opened":
        client.perform(api.open_job(job_id))
    if feed and feed_state == "started":
        client.perform(api.start_datafeed(feed))


def run_state(client: MLClient, ref: Ref) -> str:
    path = {
        Kind.JOB: f"/_ml/anomaly_detectors/{ref.id}/_stats",
        Kind.DATAFEED: f"/_ml/datafeeds/{ref.id}/_stats",
        Kind.DFA: f"/_ml/data_frame/analytics/{ref.id}/_stats",
    }[ref.kind]
    body = client.perform(api.Call(method="GET", path=path)).body
    key = {Kind.JOB: "jobs", Kind.DATAFEED: "datafeeds", Kind.DFA: "data_frame_analytics"}
    return str(body[key[ref.kind]][0]["state"])


def live_state(client: MLClient) -> LiveState:
    info = client.preflight()
    return read_cluster(client, info)


def plan_for(client: MLClient, desired: Iterable[Resource], **options: Any) -> Plan:
    return make_plan(list(desired), live_state(client), options=PlanOptions(**options))


def live_refs(client: MLClient) -> set[Ref]:
    return set(live_state(client).resources)
