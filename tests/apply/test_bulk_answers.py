"""Reading a `_bulk` answer for registry writes (reconciler/apply/bulk.py): pure checks.

The answer is untrusted: one item per operation, in order, under its action, with the id
sent, a status and an error where it failed; `errors` agrees with the items. Anything else
is refused with a message naming the item and resource.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import registry
from reconciler.apply import bulk
from reconciler.model import Kind, Ref

A = Ref(kind=Kind.FILTER, id="a")
B = Ref(kind=Kind.JOB, id="b")
OPS = [
    bulk.Op("create", "Filter:a", {"kind": "Filter", "id": "a", "scope": "s"}),
    bulk.Op("delete", "AnomalyDetectionJob:b"),
]
NAMES = ["Filter/a", "AnomalyDetectionJob/b"]
CONFLICT = {"type": "version_conflict_engine_exception", "reason": "[Filter:a]: version conflict"}


def item(action: str, doc_id: str, status: int, **extra: Any) -> dict[str, Any]:
    return {action: {"_index": "mlsync-registry", "_id": doc_id, "status": status, **extra}}


def test_the_registry_calls_become_bulk_operations_and_others_do_not() -> None:
    assert bulk.op_of(registry.add_member_call(A, "s")) == OPS[0]
    assert bulk.op_of(registry.remove_member_call(B)) == OPS[1]
    record = bulk.op_of(registry.member_call(B, "s", ["c"]))
    assert record == bulk.Op(
        "index",
        "AnomalyDetectionJob:b",
        {"kind": "AnomalyDetectionJob", "id": "b", "scope": "s", "restore_calendars": ["c"]},
    )
    assert bulk.group_of(registry.add_member_call(A, "s")) == bulk.group_of(
        registry.remove_member_call(B)
    )
    assert bulk.group_of(registry.member_call(B, "s", [])) == bulk.INDEX
    # Not registry writes, or not plain ones: each stays a request of its own.
    from reconciler.client import api

    assert bulk.op_of(api.create_document("mlsync-locks", "default", {})) is None
    assert bulk.op_of(api.delete_document(registry.REGISTRY_INDEX, "x", 1, 1)) is None
    assert bulk.op_of(api.put_filter("a", {"items": []})) is None
    assert bulk.op_of(registry.search_call()) is None


def test_a_mixed_answer_gives_each_item_its_own_result() -> None:
    answer = {
        "took": 3,
        "errors": True,
        "items": [
            item("create", "Filter:a", 409, error=CONFLICT),
            item("delete", "AnomalyDetectionJob:b", 404, result="not_found"),
        ],
    }
    assert bulk.read_items(OPS, answer, NAMES) == [
        bulk.Item(409, CONFLICT),
        bulk.Item(404, None),
    ]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "expected a JSON object with 'errors' and 'items'"),
        ({"errors": False}, "the answer has no 'items' list"),
        ({"items": []}, "the answer has no boolean 'errors'"),
        ({"errors": False, "items": [item("create", "Filter:a", 201)]}, "1 items for 2 operations"),
        (
            {"errors": False, "items": [item("delete", "Filter:a", 200)] * 2},
            "item 1 of 2 (create for Filter/a) is not an object with one 'create' result",
        ),
        (
            {
                "errors": False,
                "items": [item("create", "Filter:a", 201), item("delete", "Filter:a", 200)],
            },
            "item 2 of 2 (delete for AnomalyDetectionJob/b) is for id 'Filter:a', "
            "not 'AnomalyDetectionJob:b'",
        ),
        (
            {
                "errors": False,
                "items": [
                    {"create": {"_id": "Filter:a"}},
                    item("delete", "AnomalyDetectionJob:b", 200),
                ],
            },
            "item 1 of 2 (create for Filter/a) has no HTTP 'status'",
        ),
        (
            {
                "errors": True,
                "items": [
                    item("create", "Filter:a", 409),
                    item("delete", "AnomalyDetectionJob:b", 200),
                ],
            },
            "item 1 of 2 (create for Filter/a) has status 409 but no 'error'",
        ),
        (
            {
                "errors": True,
                "items": [
                    item("create", "Filter:a", 409, error="conflict"),
                    item("delete", "AnomalyDetectionJob:b", 200),
                ],
            },
            "item 1 of 2 (create for Filter/a) has an 'error' without a 'type'",
        ),
        (
            {
                "errors": False,
                "items": [
                    item("create", "Filter:a", 409, error=CONFLICT),
                    item("delete", "AnomalyDetectionJob:b", 200),
                ],
            },
            "'errors' is false, but an item failed",
        ),
        (
            {
                "errors": True,
                "items": [
                    item("create", "Filter:a", 201),
                    item("delete", "AnomalyDetectionJob:b", 200),
                ],
            },
            "'errors' is true, but no item failed",
        ),
    ],
)
def test_an_answer_that_does_not_fit_the_request_is_refused(answer: Any, problem: str) -> None:
    with pytest.raises(bulk.BulkAnswerError) as caught:
        bulk.read_items(OPS, answer, NAMES)
    assert str(caught.value) == problem
