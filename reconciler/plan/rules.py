"""Per-resource rules every stage shares: run states per kind, and whether a resource is prunable.

Input: one `Resource` (and the live `State` for a datafeed's job). Output: a folded state, the
action that reaches a state, or a yes/no. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.model import Action, Kind, Ref, Resource, State
from reconciler.scopes import Ownership

RUNNING = frozenset({"opened", "started"})

# Groups of actions the stages test every decision against. Sets, not tuples: on Python 3.11
# reading a member off an enum class (`Action.DELETE`) goes through the enum metaclass's
# attribute hook and costs several times the membership test itself, once per member per test.

#: The live resource is deleted (a replace deletes it, then creates it again).
DELETES = frozenset({Action.DELETE, Action.REPLACE})
#: Created (a replace creates it again, after the delete).
CREATES = frozenset({Action.CREATE, Action.REPLACE})
#: Updated in place (a restart-update stops it first).
UPDATES = frozenset({Action.UPDATE, Action.RESTART_UPDATE})
#: Nothing is done to the resource itself (an adoption only joins the scope).
LEFT_AS_IS = frozenset({Action.NOOP, Action.ADOPT})
#: Only the run state changes.
STATE_ONLY = frozenset({Action.OPEN, Action.CLOSE, Action.START, Action.STOP})


@dataclass(frozen=True)
class RunStates:
    """How one kind runs: its up and down states and what the stats APIs report on the way."""

    up: str
    down: str
    up_action: Action
    down_action: Action
    #: Transitional states folded into the state they are heading for.
    transitions: dict[str, str] = field(default_factory=dict)

    @property
    def verb(self) -> str:
        """How a person says it is down: "closed" or "stopped"."""
        return self.down


#: Per kind: its run states, or None for kinds that do not run (filters, calendars).
#: Jobs: opening -> opened, closing -> closed (§5.1); datafeeds: starting -> started,
#: stopping -> stopped (§5.2); DFA: starting/reindexing/analyzing -> started (§5.3).
RUN_STATES: dict[Kind, RunStates | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: RunStates(
        "opened", "closed", Action.OPEN, Action.CLOSE, {"opening": "opened", "closing": "closed"}
    ),
    Kind.DATAFEED: RunStates(
        "started",
        "stopped",
        Action.START,
        Action.STOP,
        {"starting": "started", "stopping": "stopped"},
    ),
    Kind.DFA: RunStates(
        "started",
        "stopped",
        Action.START,
        Action.STOP,
        {
            "starting": "started",
            "reindexing": "started",
            "analyzing": "started",
            "stopping": "stopped",
        },
    ),
}


def run_state(kind: Kind, state: str | None) -> str | None:
    """Fold transitional states into the state they are heading for (or `failed`)."""
    states = RUN_STATES[kind]
    if state is None or states is None:
        return None
    return states.transitions.get(state, state)


def state_action(kind: Kind, want: str | None) -> Action:
    """The run-state action that brings a resource of `kind` to `want`."""
    states = RUN_STATES[kind]
    assert states is not None
    return states.up_action if want == states.up else states.down_action


def datafeed_job(res: Resource | None) -> str | None:
    """The job id a datafeed body names, or None."""
    if res is None:
        return None
    job = res.body.get("job_id")
    return job if isinstance(job, str) else None


def prunable(live: Resource, live_state: State, own: Ownership) -> bool:
    """May --prune delete this live resource? A member of the scope, not Elastic's.

    A datafeed that no registry entry names follows its job.
    """
    if live.elastic_managed:
        return False
    if own.is_member(live):
        return True
    if live.ref.kind is Kind.DATAFEED and own.owner(live.ref) is None:
        job = live_state.get(Ref.of(Kind.JOB, datafeed_job(live) or ""))
        return job is not None and own.is_member(job) and not job.elastic_managed
    return False
