"""Registry writes ready at the same time share one `_bulk` request; each step is settled from
its own item exactly as its single request would have been (reconciler/apply/batch.py).

Counted in the sandbox request log: claims, removals and restore records no longer cost a
request per resource. Item outcomes: 409 refuses exactly those resources with the single
`PUT _create`'s error; a lost answer is settled by reading back (own claim: done; another
scope's: the single create's conflict); 429 items go again alone; a failed or malformed
answer fails every step of the bulk, clearly, and a re-run converges.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from apply_helpers import (
    job_ref,
    new_client,
    new_sandbox,
    plan_for,
    plan_of,
    request_log,
    reset_log,
    set_faults,
    step,
)
from click.testing import CliRunner

from reconciler import registry
from reconciler.apply import StepStatus, apply_plan
from reconciler.apply import bulk as bulk_module
from reconciler.apply.batch import CONFIRMED
from reconciler.cli import main
from reconciler.client import MLClient, api
from reconciler.client.errors import ConflictError, describe_error
from reconciler.model import Kind, Ref, Resource
from reconciler.sandbox import Sandbox, SandboxTransport

BULK = "POST /mlsync-registry/_bulk"


def filters(n: int) -> list[Resource]:
    return [
        Resource(ref=Ref(kind=Kind.FILTER, id=f"f{i}"), body={"items": [f"i{i}"]}) for i in range(n)
    ]


def lines(sandbox: Sandbox) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in request_log(sandbox)]


#: The registry's search window, set before the first write (see test_registry_window.py).
WINDOW_LINES = {"PUT /mlsync-registry/_settings", "PUT /mlsync-registry"}


def registry_lines(sandbox: Sandbox) -> list[str]:
    """The registry's document requests (its window set-up left out)."""
    return [
        line
        for line in lines(sandbox)
        if "mlsync-registry" in line and line.split("?")[0] not in WINDOW_LINES
    ]


def owners(client: MLClient) -> dict[str, str]:
    found = registry.parse_registry(client.perform(registry.search_call(registry.PAGE)).body).owners
    return {str(ref): scope for ref, scope in found.items()}


def outcomes(result: Any) -> dict[str, tuple[StepStatus, str]]:
    return {o.label: (o.status, o.message) for o in result.outcomes}


def claim_of(ref: Ref, scope: str = "default") -> api.Call:
    return registry.add_member_call(ref, scope)


def single_claim_error(client: MLClient, ref: Ref) -> str:
    """What the single claim request of this run's scope answers now (today's path)."""
    with pytest.raises(ConflictError) as caught:
        client.perform(claim_of(ref))
    return describe_error(caught.value)


def test_a_409_item_refuses_exactly_that_resource_with_the_single_requests_error() -> None:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    plan = plan_for(client, filters(5))
    # Another scope claims f1 and f3 after this plan was made (both planned at once).
    taken = [Ref(kind=Kind.FILTER, id=i) for i in ("f1", "f3")]
    for ref in taken:
        client.perform(claim_of(ref, "other"))
    expected = {str(ref): single_claim_error(client, ref) for ref in taken}
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    assert registry_lines(sandbox) == [BULK]  # five claims, one request
    got = outcomes(result)
    for ref in taken:
        assert got[f"add-member {ref}"] == (StepStatus.FAILED, expected[str(ref)])
        assert "409 version_conflict_engine_exception" in expected[str(ref)]
        assert got[f"create {ref}"][0] is StepStatus.SKIPPED
    for i in ("f0", "f2", "f4"):
        assert got[f"add-member Filter/{i}"] == (StepStatus.DONE, "")
        assert got[f"create Filter/{i}"][0] is StepStatus.DONE
    assert owners(client) == {
        "Filter/f0": "default",
        "Filter/f1": "other",
        "Filter/f2": "default",
        "Filter/f3": "other",
        "Filter/f4": "default",
    }
    made = {f["filter_id"] for f in client.perform(api.get_filters()).body["filters"]}
    assert made == {"f0", "f2", "f4"}


def test_a_lost_bulk_answer_is_settled_by_reading_the_claims_back() -> None:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    plan = plan_for(client, filters(4))
    # f2 is claimed by another scope meanwhile: its item is a 409 on both attempts.
    f2 = Ref(kind=Kind.FILTER, id="f2")
    client.perform(claim_of(f2, "other"))
    # The first bulk lands, its answer is lost; the client sends it again (creates and deletes
    # only), and every item is now a 409: this apply's own three claims and the other scope's.
    set_faults(sandbox, [{"method": "POST", "path": "_bulk$", "timeout": True, "times": 1}])
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    assert registry_lines(sandbox) == [BULK, BULK, "POST /mlsync-registry/_search"]
    got = outcomes(result)
    for i in ("f0", "f1", "f3"):
        assert got[f"add-member Filter/{i}"] == (StepStatus.DONE, CONFIRMED)
        assert got[f"create Filter/{i}"][0] is StepStatus.DONE
    assert got["add-member Filter/f2"] == (StepStatus.FAILED, single_lost_answer_error(sandbox, f2))
    assert "it already exists and was not created by this call" in got["add-member Filter/f2"][1]
    assert got["create Filter/f2"][0] is StepStatus.SKIPPED
    assert owners(client)["Filter/f2"] == "other"


class LoseFirstAnswer(httpx.BaseTransport):
    """Delivers the first request whose path contains `part`, then loses its answer."""

    def __init__(self, inner: httpx.BaseTransport, part: str) -> None:
        self.inner, self.part, self.pending = inner, part, True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.pending and self.part in request.url.path:
            self.pending = False
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def single_lost_answer_error(sandbox: Sandbox, ref: Ref) -> str:
    """Today's path: a single claim reaches the cluster, its answer is lost, it is read back."""
    transport = LoseFirstAnswer(SandboxTransport(sandbox), "/_create/")
    client = MLClient(
        hosts=["http://sandbox:9200"],
        transport=transport,
        retry_backoff_base=0.005,
        retry_on_timeout=True,
    )
    with pytest.raises(ConflictError) as caught:
        client.perform(claim_of(ref))
    assert not transport.pending
    return describe_error(caught.value)


def test_a_failed_bulk_request_fails_every_claim_and_the_next_apply_converges() -> None:
    sandbox = new_sandbox()
    client = new_client(sandbox)
    wanted = filters(3)
    plan = plan_for(client, wanted)
    set_faults(sandbox, [{"method": "POST", "path": "_bulk$", "status": 500, "times": 1}])

    result = apply_plan(plan, client, poll_interval=0.01)

    got = outcomes(result)
    for i in range(3):
        assert got[f"add-member Filter/f{i}"] == (
            StepStatus.FAILED,
            "POST /mlsync-registry/_bulk -> 500 exception: injected fault",
        )
        assert got[f"create Filter/f{i}"][0] is StepStatus.SKIPPED
    assert owners(client) == {}
    again = apply_plan(plan_for(client, wanted), client, poll_interval=0.01)
    assert again.ok
    assert not plan_for(client, wanted).steps
    assert set(owners(client)) == {"Filter/f0", "Filter/f1", "Filter/f2"}


class RewriteItems:
    """A client whose bulk answers carry made-up item failures for some documents.

    Those documents are taken out of the request before it is sent (so nothing was written
    for them, as Elasticsearch writes nothing for a failed item) and their items are put back
    into the answer, in request order.
    """

    def __init__(self, inner: MLClient, failures: dict[str, tuple[int, str]]) -> None:
        self.inner, self.failures = inner, failures
        self.request_count = 0

    def perform(self, call: api.Call, *, ndjson: bool = False) -> Any:
        if not ndjson:
            return self.inner.perform(call)
        ops = list(_pairs(call.body))
        kept = [line for op in ops if op[0]["_id"] not in self.failures for line in op[2]]
        answer = self.inner.perform(call.model_copy(update={"body": kept}), ndjson=True)
        real = iter(answer.body["items"])
        items = []
        for meta, action, _ in ops:
            if meta["_id"] in self.failures:
                status, etype = self.failures[meta["_id"]]
                error = {"type": etype, "reason": f"made up for [{meta['_id']}]"}
                items.append({action: {"_id": meta["_id"], "status": status, "error": error}})
            else:
                items.append(next(real))
        body = {**answer.body, "errors": True, "items": items}
        return type(answer)(body, answer.meta)


def _pairs(lines: list[dict[str, Any]]) -> Any:
    """(action metadata, action, the op's lines) of a bulk body of creates and deletes."""
    pos = 0
    while pos < len(lines):
        ((action, meta),) = lines[pos].items()
        size = 1 if action == "delete" else 2
        yield meta, action, lines[pos : pos + size]
        pos += size


def test_a_rejected_item_goes_again_alone_and_other_item_errors_fail_that_step() -> None:
    sandbox = new_sandbox()
    inner = new_client(sandbox)
    plan = plan_for(inner, filters(4))
    client = RewriteItems(
        inner,
        {
            "Filter:f1": (429, "es_rejected_execution_exception"),
            "Filter:f2": (500, "exception"),
        },
    )
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    got = outcomes(result)
    # The rejected one was sent again as its own request, with the client's retries.
    assert registry_lines(sandbox) == [BULK, "PUT /mlsync-registry/_create/Filter:f1"]
    assert got["add-member Filter/f1"] == (StepStatus.DONE, "")
    assert got["add-member Filter/f2"] == (
        StepStatus.FAILED,
        "PUT /mlsync-registry/_create/Filter%3Af2 -> 500 exception: made up for [Filter:f2]",
    )
    assert got["create Filter/f2"][0] is StepStatus.SKIPPED
    for i in ("f0", "f1", "f3"):
        assert got[f"create Filter/{i}"][0] is StepStatus.DONE
    assert set(owners(inner)) == {"Filter/f0", "Filter/f1", "Filter/f3"}


def write_filters(folder: Path, n: int) -> Path:
    folder.mkdir()
    docs = [f"kind: Filter\nid: f{i}\nspec: {{items: [i{i}]}}\n" for i in range(n)]
    (folder / "filters.yaml").write_text("---\n".join(docs))
    return folder


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"errors": False, "items": []}, "0 items for 3 operations"),
        ({"took": 1, "errors": False}, "the answer has no 'items' list"),
        (
            {"errors": False, "items": [{"create": {"_id": "Filter:f0", "status": 201}}] * 3},
            "item 2 of 3 (create for Filter/f1) is for id 'Filter:f0', not 'Filter:f1'",
        ),
    ],
)
def test_a_malformed_bulk_answer_is_a_clear_error_and_exit_1(
    tmp_path: Path, body: dict[str, Any], problem: str
) -> None:
    state = tmp_path / "state.db"
    sandbox = Sandbox(state_file=state, implicit_indices=True)
    manifests = write_filters(tmp_path / "m", 3)
    set_faults(sandbox, [{"method": "POST", "path": "_bulk$", "status": 200, "body": body}])
    args = ["apply", str(manifests), "--auto-approve", "--sandbox", "--sandbox-state", str(state)]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    said = " ".join(result.output.split())
    assert f"unexpected answer from Elasticsearch to POST /mlsync-registry/_bulk: {problem}" in said
    assert "whether its 3 registry writes landed is not known" in said
    for i in range(3):
        assert f"add-member Filter/f{i}" in said
    # Faults gone, the next apply converges from the cluster's state.
    set_faults(sandbox, [])
    assert CliRunner().invoke(main, args).exit_code == 0
    plan = [
        "plan",
        str(manifests),
        "--detailed-exitcode",
        "--sandbox",
        "--sandbox-state",
        str(state),
    ]
    assert CliRunner().invoke(main, plan).exit_code == 0


def test_stale_members_leave_in_one_bulk_with_the_claims_and_a_gone_one_is_already_deleted(
    client: MLClient, sandbox: Sandbox
) -> None:
    # Members whose resources are gone (deleted by hand): the plan removes them.
    stale = [Ref(kind=Kind.FILTER, id=f"gone{i}") for i in range(3)]
    for ref in stale:
        client.perform(claim_of(ref))
    plan = plan_for(client, filters(2))
    assert [s.op for s in plan.steps].count("remove-member") == 3
    client.perform(registry.remove_member_call(stale[0]))  # gone before the apply
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    assert result.ok
    assert registry_lines(sandbox) == [BULK]  # 2 claims and 3 removals
    got = outcomes(result)
    assert got["remove-member Filter/gone0"] == (StepStatus.DONE, "already deleted")
    assert got["remove-member Filter/gone1"] == (StepStatus.DONE, "")
    assert owners(client) == {"Filter/f0": "default", "Filter/f1": "default"}


def test_restore_records_share_a_bulk_of_their_own_and_a_lone_write_is_sent_as_it_is(
    client: MLClient, sandbox: Sandbox
) -> None:
    a, b, c = job_ref("a"), job_ref("b"), job_ref("c")
    plan = plan_of(
        step(0, a, "add-member", claim_of(a)),
        step(1, b, "add-member", claim_of(b)),
        step(2, a, "record-restore", registry.member_call(a, "default", ["cal1"])),
        step(3, b, "record-restore", registry.member_call(b, "default", ["cal2"])),
        step(4, c, "add-member", claim_of(c), depends_on=[2]),
    )
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    assert result.ok
    # Claims and index writes never share a request (a lost index write is not sent again).
    log = [e for e in request_log(sandbox) if f"{e['method']} {e['path']}" not in WINDOW_LINES]
    assert [f"{e['method']} {e['path']}" for e in log] == [
        BULK,
        BULK,
        "PUT /mlsync-registry/_create/AnomalyDetectionJob:c",
    ]
    found = registry.parse_registry(client.perform(registry.search_call(registry.PAGE)).body)
    assert found.restores == {a: ["cal1"], b: ["cal2"]}
    assert set(found.owners) == {a, b, c}


def test_more_claims_than_one_bulk_holds_take_several(
    client: MLClient, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_module, "BULK_LIMIT", 3)
    plan = plan_for(client, filters(7))
    reset_log(sandbox)

    result = apply_plan(plan, client, poll_interval=0.01)

    assert result.ok
    # 3 + 3 + 1: two bulks and the lone last claim as it is (sent at once, in any order).
    assert sorted(registry_lines(sandbox)) == [BULK, BULK, "PUT /mlsync-registry/_create/Filter:f6"]
    assert len(owners(client)) == 7


def test_a_lost_lock_sends_none_of_the_collected_claims(client: MLClient, sandbox: Sandbox) -> None:
    from reconciler.errors import LockError

    plan = plan_for(client, filters(4))
    checks = []

    def guard() -> None:
        checks.append(1)
        if len(checks) == 3:
            raise LockError("the lock was lost")

    reset_log(sandbox)
    result = apply_plan(plan, client, poll_interval=0.01, guard=guard)

    assert registry_lines(sandbox) == []
    assert all(o.status is StepStatus.SKIPPED for o in result.outcomes)
    assert owners(client) == {}


def test_the_bulk_is_ndjson_with_one_create_per_claim(client: MLClient, sandbox: Sandbox) -> None:
    seen: list[tuple[api.Call, bool]] = []

    class Spy:
        def perform(self, call: api.Call, *, ndjson: bool = False) -> Any:
            seen.append((copy.deepcopy(call), ndjson))
            return client.perform(call, ndjson=ndjson) if ndjson else client.perform(call)

    plan = plan_for(client, filters(2))
    assert apply_plan(plan, Spy(), poll_interval=0.01).ok
    seen = [(c, nd) for c, nd in seen if f"{c.method} {c.path}" not in WINDOW_LINES]
    call, ndjson = seen[0]
    assert ndjson
    assert (call.method, call.path, call.params) == (
        "POST",
        "/mlsync-registry/_bulk",
        {"refresh": "true"},
    )
    assert call.body == [
        {"create": {"_id": "Filter:f0"}},
        {"kind": "Filter", "id": "f0", "scope": "default"},
        {"create": {"_id": "Filter:f1"}},
        {"kind": "Filter", "id": "f1", "scope": "default"},
    ]
