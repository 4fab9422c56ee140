"""Value types that flow through the pipeline: manifests -> State -> Plan -> render/apply.

Input: nothing (leaf module). Output: immutable pydantic values. No I/O.

Both the desired side (manifests) and the live side (cluster) are read into the same
`Resource` type and collected in a `State`, so the planner compares like with like.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict


class Kind(StrEnum):
    """The resource kinds mlsync manages; the values are the manifest `kind:` names."""

    FILTER = "Filter"
    CALENDAR = "Calendar"
    JOB = "AnomalyDetectionJob"
    DATAFEED = "Datafeed"
    DFA = "DataFrameAnalytics"


#: Run states a manifest may ask for, per kind (`state:` in the envelope).
DESIRED_STATES: dict[Kind, tuple[str, ...]] = {
    Kind.JOB: ("opened", "closed"),
    Kind.DATAFEED: ("started", "stopped"),
    Kind.DFA: ("started", "stopped"),
    Kind.FILTER: (),
    Kind.CALENDAR: (),
}

#: Dependency order used everywhere a stable, parents-first order is needed.
KIND_ORDER: dict[Kind, int] = {
    Kind.FILTER: 0,
    Kind.CALENDAR: 1,
    Kind.JOB: 2,
    Kind.DATAFEED: 3,
    Kind.DFA: 4,
}


class Ref(BaseModel):
    """The address of one resource: `AnomalyDetectionJob/transaction_anomalies`."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.id}"

    # The planner keys every index by Ref: pydantic's generic hash and equality (over all
    # fields, private attributes and extras) cost several times these, with the same answer.
    # The id alone is a good hash (a C string hash, cached): refs of different kinds rarely
    # share an id, and equality tells them apart.
    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ref):
            return self.id == other.id and self.kind == other.kind
        return NotImplemented

    @classmethod
    def of(cls, kind: Kind, ident: str) -> Ref:
        """`Ref(kind=kind, id=ident)`, one shared value per address (refs are immutable).

        Building a pydantic value costs far more than finding it again, and the planner and
        the cluster reader name the same few thousand addresses over and over (a datafeed's
        job, a calendar's jobs); a dict lookup with the same object skips `__eq__` too.
        """
        return _shared_ref(kind, ident)

    @property
    def sort_key(self) -> tuple[int, str]:
        """Parents-first, then by id: the deterministic order of plans and output."""
        return (KIND_ORDER[self.kind], self.id)

    @classmethod
    def parse(cls, text: str) -> Ref:
        """Parse `KIND/ID` (kind names are case-insensitive); raises ValueError."""
        kind_text, sep, ident = text.partition("/")
        if not sep or not ident:
            raise ValueError(f"expected KIND/ID, got {text!r}")
        for kind in Kind:
            if kind.value.lower() == kind_text.lower():
                return cls(kind=kind, id=ident)
        names = ", ".join(k.value for k in Kind)
        raise ValueError(f"unknown kind {kind_text!r} in {text!r}; expected one of {names}")


@functools.lru_cache(maxsize=1 << 16)
def _shared_ref(kind: Kind, ident: str) -> Ref:
    return Ref(kind=kind, id=ident)


class SourceLocation(BaseModel):
    """Where a desired resource was declared (file and 1-based line)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Resource(BaseModel):
    """One resource on either side of the comparison.

    `body` is the Elasticsearch API body: on the desired side the manifest `spec`
    (the PUT body, with user-set fields only); on the live side what GET returned.
    Normalisation into canonical form happens later, in `reconciler.normalize`.
    """

    model_config = ConfigDict(frozen=True)

    ref: Ref
    body: dict[str, Any]
    #: Desired: the `state:` asked for, or None when the manifest leaves run state alone.
    #: Live: the state reported by the stats APIs (opened, closing, failed, started, ...).
    state: str | None = None
    #: Desired side only: where the resource was declared.
    source: SourceLocation | None = None
    #: Live side: the resource carries mlsync's ownership marker (jobs, DFA; a datafeed: its job).
    owned: bool = False
    #: Live side: the scope whose member it is in the ownership registry (None: no scope's).
    owner: str | None = None
    #: Live side: Elastic-managed (`custom_settings.managed: true`); never modified.
    elastic_managed: bool = False
    #: Live side, extra facts the planner may need (e.g. job `model_bytes`, datafeed `end`).
    facts: dict[str, Any] = {}


State = dict[Ref, Resource]


# --------------------------------------------------------------------------------------
# The plan: a closed vocabulary of changes (what and why, for people) and an ordered list
# of steps (how, for the executor). Renderers and the executor consume the same value.
# --------------------------------------------------------------------------------------


class Action(StrEnum):
    """What happens to one resource (exactly one action per resource)."""

    NOOP = "no-op"
    CREATE = "create"
    #: In place; the resource keeps running.
    UPDATE = "update"
    #: In place, but the job must be closed / the datafeed or DFA stopped first, then restarted.
    RESTART_UPDATE = "restart-update"
    #: Delete and recreate: an immutable field changed. Destroys data for jobs and DFA.
    REPLACE = "replace"
    DELETE = "delete"
    #: A hand-made resource that matches its manifest joins the scope (registry entry, marker).
    ADOPT = "adopt"
    #: Run state only.
    OPEN = "open"
    CLOSE = "close"
    START = "start"
    STOP = "stop"


class Risk(StrEnum):
    """Risk class of a change, as shown in PR comments."""

    NONE = "none"
    SAFE = "safe"
    RESTART = "restart"
    DESTRUCTIVE = "destructive"


class FieldChange(BaseModel):
    """One field that differs, in canonical form; `path` is dotted (`analysis_limits.x`)."""

    model_config = ConfigDict(frozen=True)

    path: str
    before: Any = None
    after: Any = None
    #: This field cannot be updated in place: the resource must be replaced.
    forces_replacement: bool = False
    #: This field can only be updated while the job is closed / the datafeed or DFA stopped.
    needs_restart: bool = False


class Change(BaseModel):
    """What will happen to one resource and why (explanation fields are never read by apply)."""

    model_config = ConfigDict(frozen=True)

    ref: Ref
    action: Action
    risk: Risk
    fields: tuple[FieldChange, ...] = ()
    #: Run state before and after (None when run state is not managed / not applicable).
    state_before: str | None = None
    state_after: str | None = None
    #: Human explanations: why a replace, what must restart, what data is destroyed.
    reasons: tuple[str, ...] = ()
    #: For REPLACE/DELETE of jobs and DFA: what is lost.
    destroys: str | None = None
    #: True when only the run state differs (drift in run state, shown apart).
    state_only: bool = False
    source: SourceLocation | None = None
    #: The whole resource before (the live body as read; None when it does not exist yet) and
    #: after (the manifest's body as written plus what mlsync adds, like the ownership marker;
    #: None when it is deleted), like Terraform's `change.before` / `change.after`. For review
    #: and policy tools only: apply executes the steps, never these.
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class Call(BaseModel):
    """One REST call, exactly as it will be sent (sans-IO; JSON-serialisable).

    Built by the request catalogue `reconciler.client.api`, carried in plans, sent by the clients.
    """

    model_config = ConfigDict(frozen=True)

    method: Literal["GET", "PUT", "POST", "DELETE", "HEAD"]
    path: str
    params: dict[str, str] = {}
    body: Any = None

    def __str__(self) -> str:
        if self.params:
            return f"{self.method} {self.path}?{urlencode(sorted(self.params.items()))}"
        return f"{self.method} {self.path}"


class Step(BaseModel):
    """One executor step: a call, what to wait for afterwards, and the steps it needs first."""

    model_config = ConfigDict(frozen=True)

    index: int
    ref: Ref
    #: The step's verb: create, update, delete, open, close, start, stop, add-jobs, ...
    op: str
    call: Call
    #: After the call, poll stats until the resource reports this state (opened, closed, ...).
    wait_for: str | None = None
    #: Indices of steps that must have succeeded before this one may run.
    depends_on: tuple[int, ...] = ()
    #: True for steps that destroy data or configuration (delete, or the delete half of replace).
    destructive: bool = False
    #: True for the restart that follows an update needing a stop; apply attempts it even when
    #: the update failed, so nothing stays stopped that was running (ux-conventions.md §4.1).
    restore: bool = False
    description: str = ""


class ClusterSummary(BaseModel):
    """The cluster a plan was computed against."""

    model_config = ConfigDict(frozen=True)

    name: str = ""
    uuid: str = ""
    version: str = ""
    flavor: str = ""


class LiveCheckRecord(BaseModel):
    """Which live checks a plan ran against the cluster (`reconciler.live_checks`)."""

    model_config = ConfigDict(frozen=True)

    #: False with `--no-live-checks`: nothing was asked, nothing below applies.
    enabled: bool = True
    #: The kinds of checks that ran (`index_resolution`, `field_caps`, `job_validate`, ...).
    checks: tuple[str, ...] = ()
    #: Checks that could not be made, each with the resource and why.
    skipped: tuple[str, ...] = ()
    #: Requests the checks sent, and in how many concurrent rounds.
    requests: int = 0
    round_trips: int = 0


class Plan(BaseModel):
    """An immutable plan: rendered for review, saved to a file, executed by apply."""

    model_config = ConfigDict(frozen=True)

    format_version: str = "1"
    mlsync_version: str = ""
    environment: str | None = None
    #: The ownership scope the plan was made for: its lock, its registry members.
    scope: str = "default"
    cluster: ClusterSummary = ClusterSummary()
    #: sha256 of the rendered manifests the plan was computed from.
    manifest_digest: str = ""
    #: sha256 over the canonical live state read (all resources; informational).
    live_fingerprint: str = ""
    #: Per resource the plan acts on: sha256 of its canonical live body and run state, or
    #: "absent". Apply refuses the plan when any of these changed (ux-conventions.md §2.3).
    resource_fingerprints: dict[str, str] = {}
    #: Changes sorted parents-first then by id (no-ops included; renderers hide them).
    changes: tuple[Change, ...] = ()
    #: Steps in a valid execution order (dependencies point backwards).
    steps: tuple[Step, ...] = ()
    #: Live resources not in the manifests that mlsync does not own or was not asked to prune.
    unmanaged: tuple[Ref, ...] = ()
    #: Live resources another scope owns (address -> scope): shown, never touched.
    other_scopes: dict[str, str] = {}
    warnings: tuple[str, ...] = ()
    prune: bool = False
    targets: tuple[str, ...] = ()
    #: HTTP requests made to read the cluster for this plan (the live checks' included).
    request_count: int = 0
    #: The live checks made for this plan; None when the plan was computed without asking.
    live_checks: LiveCheckRecord | None = None

    @property
    def has_changes(self) -> bool:
        """True when applying would do anything."""
        return bool(self.steps)

    @property
    def destructive_changes(self) -> tuple[Change, ...]:
        """Changes that delete or replace resources (need --allow-destroy)."""
        return tuple(c for c in self.changes if c.action in (Action.DELETE, Action.REPLACE))


@dataclass(frozen=True)
class LiveState:
    """Everything read from the cluster for one plan (built by `reconciler.cluster`)."""

    resources: State
    cluster: ClusterSummary = field(default_factory=ClusterSummary)
    #: AD `model_memory_limit` default in MB on this cluster (`GET /_ml/info`).
    job_model_memory_limit_mb: int = 1024
    #: DFA `model_memory_limit` default in bytes on this cluster.
    dfa_model_memory_limit_bytes: int = 1024**3
    #: sha256 over the canonical live resources and their run states.
    fingerprint: str = ""
    #: The same per resource.
    fingerprints: dict[Ref, str] = field(default_factory=dict)
    #: Per resource, the canonical body computed for its fingerprint, with the body and the
    #: server defaults it was computed from: the planner reuses it while both are unchanged
    #: (`reconciler.plan.context.Context.live_canonical`). Read-only: copy before changing.
    canonical: dict[Ref, tuple[dict[str, Any], Any, dict[str, Any]]] = field(default_factory=dict)
    #: HTTP requests made to read it.
    request_count: int = 0
    #: The ownership registry: resource -> owning scope, members that no longer exist included.
    owners: dict[Ref, str] = field(default_factory=dict)
    #: Restore records in the registry: job -> the calendars it must rejoin (the job may be
    #: gone: it is recorded before a replace deletes it).
    restores: dict[Ref, list[str]] = field(default_factory=dict)
