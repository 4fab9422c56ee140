"""Cluster settings: `PUT|GET _cluster/settings`, and the ML settings that change behaviour.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch's bodies (RestClusterUpdate-
SettingsAction: `acknowledged`, `persistent`, `transient` with what changed; RestCluster-
GetSettingsAction: `persistent`, `transient`, optional `defaults`), nested unless
`flat_settings=true`, values as strings. No I/O.

Only registered settings are accepted (`SETTINGS`: the dynamic ML settings of
MachineLearning.getSettings and the persistent task allocation setting); an unknown key answers
`[persistent|transient] setting [k], not recognized`, a static one `not dynamically
updateable`, `null` resets. `effective()` answers transient over persistent over the
sandbox's constructor option over the default; the ML APIs read it:
- `xpack.ml.max_model_memory_limit`: job PUT/update/_validate limits and `_ml/info` `limits`;
- `xpack.ml.max_open_jobs`: job open (JobNodeSelector: a full node refuses the job);
- `cluster.persistent_tasks.allocation.enable: none`: job open cannot assign its task
  (EnableAssignmentDecider), lazily opened jobs wait without a node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.context import NODE_ID, NODE_NAME, Ctx, Request
from reconciler.sandbox.exceptions import EsError, illegal_argument
from reconciler.sandbox.validation import parse_bool, parse_bytes, parse_duration

Json = dict[str, Any]


def _int_between(low: int, high: int) -> Callable[[str, str], None]:
    def check(key: str, value: str) -> None:
        try:
            number = int(value)
        except ValueError:
            raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from None
        if number < low:
            raise illegal_argument(
                f"Failed to parse value [{value}] for setting [{key}] must be >= {low}"
            )
        if number > high:
            raise illegal_argument(
                f"Failed to parse value [{value}] for setting [{key}] must be <= {high}"
            )

    return check


def _bytes(key: str, value: str) -> None:
    parse_bytes(value, key)


def _duration(key: str, value: str) -> None:
    parse_duration(value, key)


def _boolean(key: str, value: str) -> None:
    parse_bool(value, key)


def _allocation(key: str, value: str) -> None:
    # EnableAssignmentDecider.Allocation.fromString
    if value.lower() not in ("all", "none"):
        raise illegal_argument(f"Illegal allocation.enable value [{value.upper()}]")


def _any(key: str, value: str) -> None:
    return None


@dataclass(frozen=True)
class Setting:
    """One cluster setting: its default (None: unset) and how a new value is checked."""

    default: str | None
    check: Callable[[str, str], None]
    dynamic: bool = True


#: The settings the sandbox knows (MachineLearning.getSettings, EnableAssignmentDecider, ...).
SETTINGS: dict[str, Setting] = {
    "cluster.persistent_tasks.allocation.enable": Setting("all", _allocation),
    "cluster.persistent_tasks.allocation.recheck_interval": Setting("30s", _duration),
    "xpack.ml.max_model_memory_limit": Setting("0b", _bytes),
    "xpack.ml.max_open_jobs": Setting("512", _int_between(1, 512)),
    "xpack.ml.max_machine_memory_percent": Setting("30", _int_between(5, 200)),
    "xpack.ml.use_auto_machine_memory_percent": Setting("false", _boolean),
    "xpack.ml.max_lazy_ml_nodes": Setting("0", _int_between(0, 3)),
    "xpack.ml.max_ml_node_size": Setting("0b", _bytes),
    "xpack.ml.node_concurrent_job_allocations": Setting("2", _int_between(0, 2**31 - 1)),
    "xpack.ml.process_connect_timeout": Setting("10s", _duration),
    "xpack.ml.persist_results_max_retries": Setting("20", _int_between(0, 50)),
    "xpack.ml.delayed_data_check_freq": Setting("15m", _duration),
    "xpack.ml.nightly_maintenance_requests_per_second": Setting("-1.0", _any),
    "xpack.ml.max_anomaly_records": Setting("500", _int_between(1, 2**31 - 1)),
    "xpack.ml.enable_config_migration": Setting("true", _boolean),
    "xpack.ml.inference_model.time_to_live": Setting("5m", _duration),
    "cluster.routing.allocation.enable": Setting("all", _any),
    "action.auto_create_index": Setting("true", _any),
    "action.destructive_requires_name": Setting("true", _boolean),
    "xpack.ml.enabled": Setting("true", _boolean, dynamic=False),
    "node.roles": Setting(None, _any, dynamic=False),
}
_SCOPES = ("persistent", "transient")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"xpack": {"ml": {"k": v}}}` and `{"xpack.ml.k": v}` alike → `{"xpack.ml.k": v}`."""
    if not isinstance(value, dict):
        raise EsError(400, "parse_exception", "settings must be an object")
    out: dict[str, Any] = {}
    for key, inner in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(inner, dict):
            out.update(_flatten(inner, path))
        else:
            out[path] = inner
    return out


def _nest(flat: dict[str, str]) -> Json:
    out: Json = {}
    for key in sorted(flat):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = flat[key]
    return out


def _render(flat: dict[str, str], req: Request) -> Json:
    return dict(sorted(flat.items())) if req.flag("flat_settings", False) else _nest(flat)


def _as_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _stored(ctx: Ctx) -> dict[str, dict[str, str]]:
    cluster: Json = ctx.state["settings"].get("cluster_settings") or {}
    return {scope: dict(cluster.get(scope) or {}) for scope in _SCOPES}


def put_settings(ctx: Ctx, req: Request) -> Json:
    """PUT /_cluster/settings {"persistent": {...}, "transient": {...}}."""
    body = req.obj()
    unknown = [k for k in body if k not in _SCOPES]
    if unknown:
        raise EsError(
            400,
            "x_content_parse_exception",
            f"[1:2] [cluster_update_settings_request] unknown field [{unknown[0]}]",
        )
    if not any(body.get(scope) for scope in _SCOPES):
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no settings to update;",
        )
    stored = _stored(ctx)
    changed: dict[str, dict[str, str]] = {scope: {} for scope in _SCOPES}
    for scope in _SCOPES:
        for key, raw in _flatten(body.get(scope) or {}).items():
            setting = SETTINGS.get(key)
            if setting is None:
                raise illegal_argument(f"{scope} setting [{key}], not recognized")
            if not setting.dynamic:
                raise illegal_argument(f"{scope} setting [{key}], not dynamically updateable")
            value = _as_string(raw)
            if value is None:
                stored[scope].pop(key, None)
                continue
            setting.check(key, value)
            stored[scope][key] = value
            changed[scope][key] = value
    ctx.state["settings"]["cluster_settings"] = stored
    return {
        "acknowledged": True,
        "persistent": _render(changed["persistent"], req),
        "transient": _render(changed["transient"], req),
    }


def get_settings(ctx: Ctx, req: Request) -> Json:
    """GET /_cluster/settings[?include_defaults=true&flat_settings=true]."""
    stored = _stored(ctx)
    out: Json = {scope: _render(stored[scope], req) for scope in _SCOPES}
    if req.flag("include_defaults", False):
        defaults = {
            k: s.default
            for k, s in SETTINGS.items()
            if s.default is not None
            and k not in stored["persistent"]
            and k not in stored["transient"]
        }
        option = ctx.config.max_model_memory_limit
        if option is not None:
            defaults["xpack.ml.max_model_memory_limit"] = option
        out["defaults"] = _render({k: v for k, v in defaults.items() if v is not None}, req)
    return out


def effective(ctx: Ctx, key: str) -> str | None:
    """The value in force: transient, persistent, the sandbox option, then the default."""
    stored = _stored(ctx)
    for scope in ("transient", "persistent"):
        if key in stored[scope]:
            return stored[scope][key]
    if key == "xpack.ml.max_model_memory_limit" and ctx.config.max_model_memory_limit:
        return ctx.config.max_model_memory_limit
    return SETTINGS[key].default


def max_model_memory_limit(ctx: Ctx) -> str | None:
    """`xpack.ml.max_model_memory_limit` in force, None when unset (`0b`, the default)."""
    value = effective(ctx, "xpack.ml.max_model_memory_limit")
    if value is None or parse_bytes(value, "xpack.ml.max_model_memory_limit") == 0:
        return None
    return value


def assignment_refusal(ctx: Ctx, job_id: str) -> str | None:
    """Why a job's persistent task cannot be assigned now, or None when it can.

    EnableAssignmentDecider first (`cluster.persistent_tasks.allocation.enable: none`), then
    JobNodeSelector's full-node check against `xpack.ml.max_open_jobs`. The sandbox's one node
    has no open-job limit until the setting is set (counting the open jobs reads every task).
    """
    if effective(ctx, "cluster.persistent_tasks.allocation.enable") == "none":
        return (
            "persistent task [xpack/ml/job] cannot be assigned [no persistent task assignments "
            "are allowed due to cluster settings]"
        )
    stored = _stored(ctx)
    if not any("xpack.ml.max_open_jobs" in stored[scope] for scope in _SCOPES):
        return None
    limit = int(effective(ctx, "xpack.ml.max_open_jobs") or 512)
    open_jobs = sum(
        1 for other, task in ctx.state["job_tasks"].items() if task.get("node") and other != job_id
    )
    if open_jobs >= limit:
        return (
            f"Not opening job [{job_id}] on node [{{{NODE_NAME}}}{{{NODE_ID}}}{{ml.machine_memory"
            f"=17179869184}}{{ml.max_jvm_size=1073741824}}], because this node is full. Number of "
            f"opened jobs and allocated native inference processes [{open_jobs}], "
            f"xpack.ml.max_open_jobs [{limit}]"
        )
    return None


#: MlTasks.AWAITING_UPGRADE: the assignment of every ML task while upgrade mode is enabled.
AWAITING_UPGRADE = "persistent task cannot be assigned while upgrade mode is enabled."


def upgrade_mode_enabled(ctx: Ctx) -> bool:
    """Whether `POST _ml/set_upgrade_mode?enabled=true` is in force (MlMetadata.upgrade_mode)."""
    return bool(ctx.state["settings"].get("upgrade_mode", False))


#: (methods, path templates, handler, accepted query parameters), registered by routes.py.
_PARAMS = ("flat_settings", "master_timeout", "timeout", "include_defaults", "local")
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    ("PUT", ("/_cluster/settings",), put_settings, _PARAMS),
    ("GET", ("/_cluster/settings",), get_settings, _PARAMS),
]
