"""Run several registry-write steps as one `_bulk` request and settle each step from its item.

Input: the steps (their calls are single-document registry writes of one `bulk` group), the
client, and `call_one`, the executor's way of sending one step's own call. Output: one
`(status, message)` per step, in order. I/O: the bulk request, and only on the paths below a
registry search or single calls, all through the client.

Each step ends as it would have as a single request (the executor's policy):
- item 2xx: done; a delete's 404 (document or registry index gone): done, "already deleted";
- item 409 on a create: the resource belongs to another scope; the step fails with the error
  the single `PUT _create` gets, so its create is skipped;
- item 409 on a create when the client sent the bulk again after an attempt that may have
  landed (`meta.repeated`): possibly this apply's own claim, so it is confirmed by reading, as
  the client confirms a single create whose answer was lost: one search for all such ids; the
  same document is done ("confirmed by reading after a lost answer"), another is the single
  create's conflict, a missing one is sent again as a single create;
- item 429 / 502 / 503 / 504 (the statuses the client retries): the step's own call is sent
  alone, with the client's retries, as it would have been;
- any other item error: the step fails with that error, in the single request's words;
- the whole request fails (after the client's retries): every step fails with that error;
- an answer that does not fit the request: every step fails with a message saying so and
  naming the item and resource; nothing is settled from it (the next plan reads the registry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reconciler.apply import bulk
from reconciler.apply.outcome import StepStatus
from reconciler.apply.waits import Client, send
from reconciler.client import api
from reconciler.client.errors import ClientError, ConflictError, describe_error
from reconciler.client.response import ApiResponseMeta, HttpHeaders, make_error
from reconciler.model import Step
from reconciler.registry import REGISTRY_INDEX

Result = tuple[StepStatus, str]
#: Sends one step's own call: (note for a done step) or raises `ClientError`.
CallOne = Callable[[Step], str]

#: Item statuses the client retries for a single write (`RetryPolicy.retry_on_status`).
_RETRIED = frozenset({429, 502, 503, 504})
CONFIRMED = "confirmed by reading after a lost answer"


def _plain(text: str) -> str:
    # Item errors carry no request headers; the CLI redacts every output stream anyway
    # (`reconciler.commands.redacting`).
    return text


def run_batch(client: Client, steps: Sequence[Step], call_one: CallOne) -> list[Result]:
    """Send `steps` as one bulk request and settle each step (module docstring)."""
    ops = [bulk.op_of(step.call) for step in steps]
    if any(op is None for op in ops):  # pragma: no cover - the executor groups by `group_of`
        raise ValueError("a step of the batch is not a registry write")
    sent = [op for op in ops if op is not None]
    call = bulk.bulk_call(sent)
    try:
        answer = send(client, call, ndjson=True)
    except ClientError as exc:
        return [(StepStatus.FAILED, describe_error(exc))] * len(steps)
    try:
        items = bulk.read_items(sent, getattr(answer, "body", None), [str(s.ref) for s in steps])
    except bulk.BulkAnswerError as exc:
        message = (
            f"unexpected answer from Elasticsearch to {call.method} {call.path}: {exc}; "
            f"whether its {len(steps)} registry writes landed is not known (the next plan "
            "reads the registry again)"
        )
        return [(StepStatus.FAILED, message)] * len(steps)
    repeated = bool(getattr(getattr(answer, "meta", None), "repeated", False))
    results: list[Result | None] = []
    to_confirm: list[int] = []
    for pos, (step, op, item) in enumerate(zip(steps, sent, items, strict=True)):
        if item.error is None or (op.action == "delete" and item.status == 404):
            results.append((StepStatus.DONE, "already deleted" if item.status == 404 else ""))
        elif op.action == "create" and item.status == 409 and repeated:
            results.append(None)
            to_confirm.append(pos)
        elif item.status in _RETRIED:
            results.append(_single(step, call_one))
        else:
            body = {"error": item.error, "status": item.status}
            error = make_error(step.call, item.status, body, _plain)
            results.append((StepStatus.FAILED, describe_error(error)))
    if to_confirm:
        confirmed = _confirm(client, [steps[i] for i in to_confirm], call_one)
        for pos, result in zip(to_confirm, confirmed, strict=True):
            results[pos] = result
    return [r for r in results if r is not None]


def _single(step: Step, call_one: CallOne) -> Result:
    try:
        return StepStatus.DONE, call_one(step)
    except ClientError as exc:
        return StepStatus.FAILED, describe_error(exc)


def _confirm(client: Client, steps: Sequence[Step], call_one: CallOne) -> list[Result]:
    """Settle creates refused after a repeated bulk: this apply's own claim, or another's."""
    ids = [op.doc_id for op in (bulk.op_of(s.call) for s in steps) if op is not None]
    search = api.search(REGISTRY_INDEX, {"query": {"ids": {"values": ids}}, "size": len(ids)})
    try:
        answer = send(client, search)
    except ClientError as exc:
        return [(StepStatus.FAILED, describe_error(exc))] * len(steps)
    found = _sources(getattr(answer, "body", None))
    if found is None:
        message = (
            f"unexpected answer from Elasticsearch to {search.method} {search.path}: no "
            "'hits.hits' list of documents with '_id' and '_source' (reading back registry "
            "claims whose answer was lost; the next plan reads the registry again)"
        )
        return [(StepStatus.FAILED, message)] * len(steps)
    out: list[Result] = []
    for step, doc_id in zip(steps, ids, strict=True):
        if doc_id not in found:
            out.append(_single(step, call_one))  # gone again: sent alone, as the client would
            continue
        try:
            api.confirmed_object(step.call, {"found": True, "_source": found[doc_id]})
        except ValueError as exc:
            out.append((StepStatus.FAILED, _not_ours(step, exc)))
            continue
        out.append((StepStatus.DONE, CONFIRMED))
    return out


def _sources(body: Any) -> dict[str, Any] | None:
    """`{_id: _source}` of a search answer, or None when it is not one."""
    hits = body.get("hits") if isinstance(body, dict) else None
    hits = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(hits, list):
        return None
    out: dict[str, Any] = {}
    for hit in hits:
        if not (isinstance(hit, dict) and isinstance(hit.get("_id"), str) and "_source" in hit):
            return None
        out[hit["_id"]] = hit["_source"]
    return out


def _not_ours(step: Step, exc: ValueError) -> str:
    # The words of the client's own read-back of a single create (`client.base._confirm`).
    meta = ApiResponseMeta(status=409, headers=HttpHeaders(), call=step.call)
    error = ConflictError(
        "resource_already_exists_exception",
        meta,
        None,
        reason=f"it already exists and was not created by this call: {exc}",
        method=step.call.method,
        path=step.call.path,
    )
    return describe_error(error)
