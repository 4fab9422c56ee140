"""Per-request context handed to every resource handler.

Input: the loaded state, the sandbox's configuration, the clock and the parsed request.
Output: a `Ctx` with helpers (current time, effective settings, generated ids) and a `Request`
with typed access to query parameters and the JSON body. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.exceptions import EsError, illegal_argument
from reconciler.sandbox.store import State
from reconciler.sandbox.validation import parse_bool, parse_int

Json = dict[str, Any]

NODE_ID = "sandbox-node-0-id00000001"
NODE_NAME = "sandbox-node-0"
NODE_EPHEMERAL_ID = "sandbox-ephemeral-0001"
CLUSTER_UUID = "sandbox-cluster-uuid-000001"


@dataclass
class Config:
    """Static configuration of one `Sandbox` (constructor options)."""

    version: str = "9.1.0"
    implicit_indices: bool = False
    transition_delay: float = 0.0
    datafeed_lookback: float = 0.0
    dfa_duration: float | None = None
    latency: float = 0.0
    max_model_memory_limit: str | None = None
    ml_config_version: str | None = None
    fault_seed: int | None = None


@dataclass
class Request:
    """One parsed HTTP request, after routing."""

    method: str
    path: str
    params: dict[str, str]
    raw: str
    headers: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def has_body(self) -> bool:
        """Whether a non-empty body was sent."""
        return bool(self.raw.strip())

    def obj(self) -> Json:
        """The body as a JSON object (`{}` when absent)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise EsError(
                400, "x_content_parse_exception", "[1:1] request body must be a JSON object"
            )
        return self.body

    def value(self, name: str, *, body_too: bool = True) -> Any:
        """A parameter from the query string, else (optionally) from the body."""
        if name in self.params:
            return self.params[name]
        if body_too and isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        return None

    def flag(self, name: str, default: bool, *, body_too: bool = True) -> bool:
        """A boolean parameter (query or body)."""
        value = self.value(name, body_too=body_too)
        return default if value is None else parse_bool(value, name)

    def integer(self, name: str, default: int, *, body_too: bool = True) -> int:
        """An integer parameter (query or body)."""
        value = self.value(name, body_too=body_too)
        return default if value is None else parse_int(value, name)


class Ctx:
    """State plus configuration for handlers; `now` is fixed for the whole request."""

    def __init__(self, state: State, config: Config, now: float) -> None:
        self.state = state
        self.config = config
        self.now = now

    @property
    def now_ms(self) -> int:
        """Current time, epoch milliseconds."""
        return int(self.now * 1000)

    def setting(self, name: str) -> Any:
        """An effective runtime setting (`PUT /_sandbox/transitions` overrides the config)."""
        settings: Json = self.state.setdefault("settings", {})
        if name in settings:
            return settings[name]
        return getattr(self.config, name)

    def stuck(self, resource_id: str) -> bool:
        """Whether transitions of this resource id never complete (fault injection)."""
        stuck: list[str] = self.state.setdefault("settings", {}).get("stuck", [])
        return resource_id in stuck

    def next_counter(self) -> int:
        """A monotonically increasing number for generated ids and task ids."""
        self.state["counter"] = int(self.state.get("counter", 0)) + 1
        return int(self.state["counter"])

    def task_id(self) -> str:
        """A `node:id` task identifier."""
        return f"{NODE_ID}:{self.next_counter()}"

    @property
    def ml_config_version(self) -> str:
        """`job_version` / DFA `version` (es-ml-api.md §10.1, decided in README)."""
        if self.config.ml_config_version is not None:
            return self.config.ml_config_version
        major, minor = (int(x) for x in self.config.version.split(".")[:2])
        # From 8.10 jobs carry an ML config version rather than the ES version (PR #98320).
        if (major, minor) >= (8, 10):
            return "12.0.0"
        return self.config.version

    def version_at_least(self, major: int, minor: int) -> bool:
        """Whether the emulated Elasticsearch version is at least `major.minor`."""
        parts = [int(x) for x in self.config.version.split(".")[:2]]
        return (parts[0], parts[1]) >= (major, minor)


def node_info() -> Json:
    """The `node` object of job/datafeed stats (es-ml-api.md §6.1)."""
    return {
        "id": NODE_ID,
        "name": NODE_NAME,
        "ephemeral_id": NODE_EPHEMERAL_ID,
        "transport_address": "127.0.0.1:9300",
        "attributes": {
            "ml.machine_memory": "17179869184",
            "ml.max_jvm_size": "1073741824",
            "ml.config_version": "12.0.0",
        },
    }


def elapsed_string(ms: int) -> str:
    """`open_time` style elapsed time (`13s`)."""
    return f"{max(ms, 0) // 1000}s"


def require_no_body_id(body: Json, key: str, url_id: str) -> None:
    """Body id that differs from the URL → `Inconsistent <key>` (Messages.INCONSISTENT_ID)."""
    if key in body and body[key] != url_id:
        raise illegal_argument(
            f"Inconsistent {key}; '{body[key]}' specified in the body differs from "
            f"'{url_id}' specified as a URL argument"
        )
