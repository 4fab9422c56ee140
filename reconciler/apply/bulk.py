"""Registry writes of several steps coalesced into one `_bulk` request, and its answer read.

Input: plan step calls (single-document writes to the ownership registry: a claim, a removal,
a restore record) and the decoded answer of the bulk request built from them. Output: which
calls may share a request (`group_of`), the bulk `Call`, and one checked `Item` per call.
Pure, no I/O: the executor sends the request and settles each step from its item.

Why only these calls: each is one small document of one index, with the same `refresh=true`,
and their per-document results are independent in Elasticsearch's `_bulk` (one item each, in
request order; the answer is a 200 with `errors: true` when some failed, TransportBulkAction).
A claim is a `create` (a resource another scope has is refused per item, 409), a removal a
`delete` (404 once gone), a restore record an `index`. Creates and deletes share a request,
which the client may send again whole after a lost answer (`api.CallClass.BULK`); index writes
go in a request of their own, never repeated once it may have landed, as a single one is not.

A bulk answer is untrusted input: its shape is checked whole (`errors`, one item per request
line in order, each under its action with the id sent and a numeric `status`, an `error`
object where it failed) before any step is settled from it; anything else is a
`BulkAnswerError` naming the first item and resource that do not fit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from reconciler.client import api
from reconciler.model import Call
from reconciler.registry import REGISTRY_INDEX

#: Items per bulk request. A claim is about 100 bytes, so a full request stays near 100 kB,
#: far below `http.max_content_length` (100 MB); the cap keeps one answer (and one failure)
#: small, and lets the first creates start while later claims are still being sent.
BULK_LIMIT = 1000

#: Groups: calls of one group share a request.
REPEATABLE = "create-delete"
INDEX = "index"

_DOC = re.compile(rf"^/{re.escape(REGISTRY_INDEX)}/(_create|_doc)/([^/]+)$")
#: The only query parameter the registry's writes carry (`registry._refreshed`).
_PARAMS = {"refresh": "true"}


@dataclass(frozen=True)
class Op:
    """One bulk operation: its action, the document id and (create, index) its source."""

    action: str
    doc_id: str
    source: dict[str, Any] | None = None


@dataclass(frozen=True)
class Item:
    """One checked item of a bulk answer: its HTTP status and, when it failed, its error."""

    status: int
    #: The item's `error` object (`type`, `reason`, ...), None when it did not fail.
    error: dict[str, Any] | None


class BulkAnswerError(ValueError):
    """A bulk answer that does not fit its request (the message names item and resource)."""


def op_of(call: Call) -> Op | None:
    """The bulk operation a step's call stands for, or None when it cannot join a bulk."""
    found = _DOC.match(call.path)
    if found is None or call.params != _PARAMS:
        return None
    endpoint, doc_id = found.group(1), unquote(found.group(2))
    if call.method == "PUT" and isinstance(call.body, dict):
        return Op("create" if endpoint == "_create" else "index", doc_id, dict(call.body))
    if call.method == "DELETE" and endpoint == "_doc" and call.body is None:
        return Op("delete", doc_id)
    return None


def group_of(call: Call) -> str | None:
    """The request group a step's call may share (`REPEATABLE`, `INDEX`), or None."""
    op = op_of(call)
    if op is None:
        return None
    return INDEX if op.action == "index" else REPEATABLE


def bulk_call(ops: Sequence[Op]) -> Call:
    """`POST /mlsync-registry/_bulk?refresh=true` with the operations' NDJSON lines."""
    lines: list[dict[str, Any]] = []
    for op in ops:
        lines.append({op.action: {"_id": op.doc_id}})
        if op.source is not None:
            lines.append(op.source)
    return api.bulk(REGISTRY_INDEX, lines, **_PARAMS)


def read_items(ops: Sequence[Op], answer: Any, names: Sequence[str]) -> list[Item]:
    """One checked `Item` per operation, in order, from the bulk answer.

    Args:
        ops: the request's operations, in the order they were sent.
        answer: the decoded answer body.
        names: the resource of each operation, for messages (`AnomalyDetectionJob/x`).

    Raises:
        BulkAnswerError: the answer is not a bulk answer to exactly these operations.
    """
    if not isinstance(answer, dict):
        raise BulkAnswerError("expected a JSON object with 'errors' and 'items'")
    items = answer.get("items")
    if not isinstance(items, list):
        raise BulkAnswerError("the answer has no 'items' list")
    if not isinstance(answer.get("errors"), bool):
        raise BulkAnswerError("the answer has no boolean 'errors'")
    if len(items) != len(ops):
        raise BulkAnswerError(f"{len(items)} items for {len(ops)} operations")
    pairs = enumerate(zip(ops, items, strict=True))
    out = [_item(pos, op, raw, names[pos], len(ops)) for pos, (op, raw) in pairs]
    if answer["errors"] != any(item.error is not None for item in out):
        raise BulkAnswerError(
            f"'errors' is {str(answer['errors']).lower()}, but "
            f"{'no' if answer['errors'] else 'an'} item failed"
        )
    return out


def _item(pos: int, op: Op, raw: Any, name: str, total: int) -> Item:
    where = f"item {pos + 1} of {total} ({op.action} for {name})"
    if not (isinstance(raw, dict) and len(raw) == 1 and isinstance(raw.get(op.action), dict)):
        raise BulkAnswerError(f"{where} is not an object with one '{op.action}' result")
    result = raw[op.action]
    if result.get("_id") != op.doc_id:
        raise BulkAnswerError(f"{where} is for id {result.get('_id')!r}, not {op.doc_id!r}")
    status = result.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BulkAnswerError(f"{where} has no HTTP 'status'")
    error = result.get("error")
    if error is None:
        # A delete of a missing document is no failure: 404 with `result: not_found`.
        if 200 <= status < 300 or (op.action == "delete" and status == 404):
            return Item(status, None)
        raise BulkAnswerError(f"{where} has status {status} but no 'error'")
    if not (isinstance(error, dict) and isinstance(error.get("type"), str)):
        raise BulkAnswerError(f"{where} has an 'error' without a 'type'")
    if 200 <= status < 300:
        raise BulkAnswerError(f"{where} has status {status} and an 'error'")
    return Item(status, error)
