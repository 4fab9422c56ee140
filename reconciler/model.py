"""Value types that flow through the pipeline: manifests -> State -> Plan -> render/apply.

Input: nothing (leaf module). Output: immutable pydantic values. No I/O.

Both the desired side (manifests) and the live side (cluster) are read into the same
`Resource` type and collected in a `State`, so the planner compares like with like.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

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
    #: Live side: the resource carries mlsync's ownership marker.
    owned: bool = False
    #: Live side: Elastic-managed (`custom_settings.managed: true`); never modified.
    elastic_managed: bool = False
    #: Live side, extra facts the planner may need (e.g. job `model_bytes`, datafeed `end`).
    facts: dict[str, Any] = {}


State = dict[Ref, Resource]
