"""`plan_order` is the order of sorting every ref of both states by `Ref.sort_key`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import Kind, Ref, Resource, State
from reconciler.plan.context import plan_order

REFS = st.builds(Ref.of, st.sampled_from(list(Kind)), st.sampled_from(["a", "b", "B", "a-1", ""]))


def states() -> st.SearchStrategy[State]:
    return st.lists(REFS).map(lambda refs: {r: Resource(ref=r, body={}) for r in refs})


@settings(max_examples=200, deadline=None)
@given(states(), states())
def test_plan_order_is_sort_key_order(desired: State, live: State) -> None:
    expected = sorted(desired.keys() | live.keys(), key=lambda r: r.sort_key)
    assert plan_order(desired, live) == expected
