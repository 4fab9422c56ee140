"""Sandbox-only admin endpoints under `/_sandbox/` (never counted in the request log).

Input: the sandbox, a `Ctx`, the method, path segments after `_sandbox`, query and JSON body.
Output: `(status, body)`; mutates the state (request log reset, wipe, faults, transition settings,
seeded results, forced failures). No I/O. Documented in README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sandbox import results
from reconciler.sandbox.context import Ctx
from reconciler.sandbox.exceptions import EsError
from reconciler.sandbox.faults import validate_rules
from reconciler.sandbox.store import empty_state

if TYPE_CHECKING:
    from reconciler.sandbox.emulator import Sandbox

Json = dict[str, Any]
TRANSITION_KEYS = {
    "delay",
    "transition_delay",
    "stuck",
    "datafeed_lookback",
    "dfa_duration",
    "latency",
    "fail",
}


def handle(
    sandbox: Sandbox, ctx: Ctx, method: str, parts: list[str], params: dict[str, str], body: Any
) -> tuple[int, Any]:
    """Dispatch one admin request."""
    state = ctx.state
    route = (method, "/".join(parts))
    if route == ("GET", "requests"):
        return 200, state["requests"]
    if route == ("POST", "requests/_reset"):
        state["requests"] = {"total": 0, "by_endpoint": {}, "log": []}
        return 200, {"acknowledged": True}
    if route == ("POST", "_reset"):
        fresh = empty_state()
        state.clear()
        state.update(fresh)
        return 200, {"acknowledged": True}
    if route == ("GET", "faults"):
        return 200, {"faults": state["faults"]}
    if route == ("PUT", "faults"):
        state["faults"] = validate_rules(body if body is not None else [])
        return 200, {"acknowledged": True, "faults": state["faults"]}
    if route == ("POST", "faults"):
        state["faults"] = state["faults"] + validate_rules(body if body is not None else [])
        return 200, {"acknowledged": True, "faults": state["faults"]}
    if route == ("DELETE", "faults"):
        state["faults"] = []
        return 200, {"acknowledged": True}
    if route == ("GET", "transitions"):
        return 200, _transitions(ctx)
    if route == ("PUT", "transitions"):
        _put_transitions(ctx, body or {})
        return 200, _transitions(ctx)
    if route == ("GET", "state"):
        return 200, state.plain()
    if (
        method == "POST"
        and len(parts) == 3
        and parts[0] == "anomaly_detectors"
        and parts[2] == "results"
    ):
        return 200, results.seed(ctx, parts[1], body or {})
    raise EsError(
        404,
        "resource_not_found_exception",
        f"no sandbox admin endpoint [{method} /_sandbox/{route[1]}]",
    )


def _transitions(ctx: Ctx) -> Json:
    return {
        "delay": float(ctx.setting("transition_delay")),
        "stuck": list(ctx.state["settings"].get("stuck", [])),
        "datafeed_lookback": float(ctx.setting("datafeed_lookback")),
        "dfa_duration": ctx.setting("dfa_duration"),
        "latency": float(ctx.setting("latency")),
    }


def _put_transitions(ctx: Ctx, body: Json) -> None:
    unknown = set(body) - TRANSITION_KEYS
    if unknown:
        raise EsError(
            400, "illegal_argument_exception", f"unknown transition settings {sorted(unknown)}"
        )
    settings = ctx.state["settings"]
    if "delay" in body or "transition_delay" in body:
        settings["transition_delay"] = float(body.get("delay", body.get("transition_delay")) or 0.0)
    if "stuck" in body:
        settings["stuck"] = [str(s) for s in body["stuck"]]
    for key in ("datafeed_lookback", "latency"):
        if key in body:
            settings[key] = float(body[key])
    if "dfa_duration" in body:
        settings["dfa_duration"] = (
            None if body["dfa_duration"] is None else float(body["dfa_duration"])
        )
    fail: Json = body.get("fail") or {}
    # Forced failures: the process crashed (es-ml-api.md §5.1 opened --crash--> failed).
    for job_id in fail.get("jobs", []):
        task = ctx.state["job_tasks"].get(job_id)
        if task is None:
            raise EsError(409, "status_exception", f"job [{job_id}] has no task to fail")
        task.update(state="failed", since=ctx.now)
    for dfa_id in fail.get("data_frame_analytics", []):
        task = ctx.state["dfa_tasks"].get(dfa_id)
        if task is None:
            raise EsError(409, "status_exception", f"analytics [{dfa_id}] has no task to fail")
        task.update(state="failed", since=ctx.now)
