"""The planner's working state: inputs, indexes, warnings and one `Decision` per resource.

Input: desired resources, references, a `LiveState` and `PlanOptions`. Output: a `Context`
that the stages (checks, targets, decide, cascade, steps, changes) read and fill in. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from reconciler.model import (
    KIND_ORDER,
    Action,
    FieldChange,
    Kind,
    LiveState,
    Ref,
    Resource,
    State,
)
from reconciler.normalize import ServerDefaults, canonical
from reconciler.plan.indexes import Indexes
from reconciler.plan.inputs import Body, PlanOptions, ReferenceLike
from reconciler.plan.rules import LEFT_AS_IS, RUNNING, datafeed_job
from reconciler.scopes import Ownership


@dataclass
class Decision:
    """What the plan does to one resource, and the facts the later stages need."""

    ref: Ref
    desired: Resource | None
    live: Resource | None
    action: Action = Action.NOOP
    fields: list[FieldChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    live_state: str | None = None
    want_state: str | None = None
    #: Joins this run's scope: an add-member step goes before its other steps.
    adopt: bool = False
    #: A job that gets the ownership marker in `custom_settings` (an update step).
    mark: bool = False
    #: The live run state already satisfies the desired one.
    state_ok: bool = True
    desired_canon: Body = field(default_factory=dict)
    live_canon: Body = field(default_factory=dict)
    #: A running datafeed that a step on its job stops (a force-close): started again after.
    restart: bool = False

    @property
    def force_closed(self) -> bool:
        """Is it failed and force-closed / force-stopped before anything else (§5.1, §5.3)?

        Only when the plan changes it or runs it: an adoption (joining the scope, and for a job
        the ownership marker, which `_update` writes to a failed job as to any other) leaves it
        as it is, failed, as the plan's warning says.
        """
        return self.live_state == "failed" and (
            self.action not in LEFT_AS_IS or self.want_state is not None
        )

    @property
    def dest_to_empty(self) -> str | None:
        """The destination index a DFA replace must delete (None: nothing to delete).

        That is the index the old job wrote to (it ran, so it holds reindexed documents or
        results), when the new job writes to the same one: its first start refuses a non-empty
        destination (`dest index [X] must be empty`, TransportStartDataFrameAnalyticsAction).
        A different index is left alone.
        """
        if self.ref.kind is not Kind.DFA or self.action is not Action.REPLACE:
            return None
        if self.live is None or self.desired is None or not self.live.facts.get("ran"):
            return None
        old = (self.live.body.get("dest") or {}).get("index")
        new = (self.desired.body.get("dest") or {}).get("index")
        return old if isinstance(old, str) and old == new else None

    @property
    def running_now(self) -> bool:
        """Is it opened or started on the cluster now?"""
        return self.live_state in RUNNING

    @property
    def running_after(self) -> bool:
        """Will it be opened or started once the plan is applied?"""
        return self.want_state in RUNNING


def plan_order(desired: State, live: State) -> list[Ref]:
    """Every ref of either state in plan order: parents' kinds first (`KIND_ORDER`), then by id.

    The same order as sorting by `Ref.sort_key`, for less: the dict merge reuses the stored
    hashes (`Ref.__hash__` is Python code), and sorting each kind by id compares strings, not a
    tuple built per ref.
    """
    by_kind: dict[Kind, list[Ref]] = {kind: [] for kind in sorted(Kind, key=KIND_ORDER.__getitem__)}
    for ref in {**desired, **live}:
        by_kind[ref.kind].append(ref)
    return [ref for refs in by_kind.values() for ref in sorted(refs, key=attrgetter("id"))]


class Context:
    """Everything one plan computation shares between its stages."""

    def __init__(
        self,
        desired: Sequence[Resource],
        references: Sequence[ReferenceLike],
        live: LiveState,
        options: PlanOptions,
    ) -> None:
        self.options = options
        self.live_state = live
        self.defaults = ServerDefaults(
            job_model_memory_limit_mb=live.job_model_memory_limit_mb,
            dfa_model_memory_limit_bytes=live.dfa_model_memory_limit_bytes,
        )
        self.desired: State = {r.ref: r for r in desired}
        self.live: State = dict(live.resources)
        self.references = references
        self.warnings: list[str] = []
        #: One per resource, in plan order (`decide_all` fills it walking `order`, and nothing
        #: adds to it later): the stages that list resources walk it as it is.
        self.decisions: dict[Ref, Decision] = {}
        #: Calendar -> jobs to put back in it (`cascade.memberships_to_restore`).
        self.restores: dict[Ref, list[str]] = {}
        #: Job id -> the calendars it is put back in (`restores` inverted, sorted ids).
        self.restore_records: dict[str, list[str]] = {}
        #: Every resource on either side in plan order (parents first, then by id); targeting
        #: narrows it with the states. Sorted once: every stage walks this order.
        self.order: list[Ref] = plan_order(self.desired, self.live)
        # Over the whole states: targeting only drops resources (see reconciler.plan.indexes).
        self.index = Indexes.build(self.desired, self.live)
        owners = {r: res.owner for r, res in live.resources.items() if res.owner is not None}
        self.ownership = Ownership(
            scope=options.scope, owners={**owners, **live.owners}, restores=live.restores
        )
        #: Members of the scope with no resource on the cluster and none declared.
        self.stale_members: list[Ref] = []

    def live_canonical(self, live: Resource) -> Body:
        """The canonical form of a live resource's body; read-only (copy it to change it).

        Reading the cluster computed it already, for the fingerprint (`LiveState.canonical`),
        and that value is handed out as it is: the planner only reads it (`decide` compares
        it through `without_unset_computed`, which changes nothing). Computed anew when the
        body or the defaults are not the ones it was computed from.
        """
        known = self.live_state.canonical.get(live.ref)
        if known is not None and known[0] is live.body and known[1] == self.defaults:
            return known[2]
        return canonical(live.ref.kind, live.body, self.defaults)

    def datafeeds_of(self, job_id: str) -> list[Ref]:
        """The datafeeds in this plan that feed `job_id` now or will, in plan order."""
        return self.index.datafeeds_of(job_id, self.decisions)

    def job_of_feed(self, ref: Ref) -> Ref:
        """The job a datafeed in the plan feeds (as declared, else as it is live)."""
        d = self.decisions[ref]
        return Ref.of(Kind.JOB, datafeed_job(d.desired) or datafeed_job(d.live) or "")
