"""Every per-kind table of the planner has an entry for every kind, and the phases cover them.

Adding a kind (trained models come next) means adding entries to these tables; this test names
the table that lacks one.
"""

from __future__ import annotations

import pytest

from reconciler.model import DESIRED_STATES, Kind
from reconciler.plan import cascade, changes, checks, decide, order, rules, targets, writes

TABLES = {
    "rules.RUN_STATES": rules.RUN_STATES,
    "checks.CHECKS": checks.CHECKS,
    "checks.DECISION_CHECKS": checks.DECISION_CHECKS,
    "targets.NEEDS": targets.NEEDS,
    "decide.DECIDE": decide.DECIDE,
    "cascade.CASCADES": cascade.CASCADES,
    "cascade.FORCE_STOP_CASCADES": cascade.FORCE_STOP_CASCADES,
    "writes.WRITES": writes.WRITES,
    "order.STEPS": order.STEPS,
    "changes.DESTROYS": changes.DESTROYS,
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_has_every_kind(name: str) -> None:
    assert set(TABLES[name]) == set(Kind), f"{name} lacks {set(Kind) - set(TABLES[name])}"


def test_every_kind_is_written_and_deleted_exactly_once() -> None:
    assert sorted(order.WRITE_ORDER) == sorted(Kind)
    deletes = order.DELETE_ORDER + order.LATE_DELETE_ORDER
    assert sorted(deletes) == sorted(Kind)


def test_kinds_that_run_are_stopped_and_started() -> None:
    running = {kind for kind, states in rules.RUN_STATES.items() if states is not None}
    assert set(order.STOP_ORDER) == running == set(order.START_ORDER)
    for kind in running:
        steps = order.STEPS[kind]
        assert steps.stop is not None and steps.start is not None, kind
        assert steps.start_wait is not None, kind
        states = rules.RUN_STATES[kind]
        assert states is not None
        # A manifest can ask for exactly the states the planner knows how to reach.
        assert set(DESIRED_STATES[kind]) == {states.up, states.down}
    for kind in set(Kind) - running:
        assert DESIRED_STATES[kind] == ()
        assert order.STEPS[kind].stop is None and order.STEPS[kind].start is None


def test_children_go_after_parents() -> None:
    # Datafeeds stop before their jobs and are deleted before them; jobs are written first.
    assert order.STOP_ORDER.index(Kind.DATAFEED) < order.STOP_ORDER.index(Kind.JOB)
    assert order.DELETE_ORDER.index(Kind.DATAFEED) < order.DELETE_ORDER.index(Kind.JOB)
    assert order.WRITE_ORDER.index(Kind.FILTER) < order.WRITE_ORDER.index(Kind.JOB)
    assert order.WRITE_ORDER.index(Kind.JOB) < order.WRITE_ORDER.index(Kind.DATAFEED)
    assert order.START_ORDER.index(Kind.JOB) < order.START_ORDER.index(Kind.DATAFEED)
