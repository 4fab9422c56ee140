"""The ownership registry on the sandbox: exclusive claims, read by the reader in one request."""

from __future__ import annotations

import pytest

from reconciler import registry
from reconciler.client import MLClient, api
from reconciler.client.errors import ConflictError
from reconciler.cluster import read_cluster
from reconciler.model import Kind, Ref
from reconciler.sandbox import Sandbox, SandboxTransport

JOB = Ref(kind=Kind.JOB, id="tx")
FILTER = Ref(kind=Kind.FILTER, id="safe")


def read_registry(client: MLClient) -> registry.Registry:
    """The registry as one default-window search reads it (these tests write it directly)."""
    return registry.parse_registry(client.perform(registry.search_call(registry.PAGE)).body)


@pytest.fixture
def client() -> MLClient:
    return MLClient(
        hosts=["http://sandbox:9200"], transport=SandboxTransport(Sandbox(implicit_indices=True))
    )


def test_a_claim_is_exclusive_across_scopes(client: MLClient) -> None:
    client.perform(registry.add_member_call(FILTER, "dev"))
    with pytest.raises(ConflictError):
        client.perform(registry.add_member_call(FILTER, "prod"))
    owners = read_registry(client).owners
    assert owners == {FILTER: "dev"}
    client.perform(registry.remove_member_call(FILTER))
    client.perform(registry.add_member_call(FILTER, "prod"))
    owners = read_registry(client).owners
    assert owners == {FILTER: "prod"}


def test_a_missing_registry_is_empty(client: MLClient) -> None:
    assert read_registry(client).owners == {}


def test_reader_reads_the_registry_in_one_request(client: MLClient) -> None:
    client.perform(api.put_filter("safe", {"items": ["a"]}))
    client.perform(registry.add_member_call(FILTER, "prod"))
    counts = []
    for start, end in ((0, 1), (1, 40)):
        for i in range(start, end):
            client.perform(registry.add_member_call(Ref(kind=Kind.CALENDAR, id=f"c{i}"), "dev"))
        before = client.request_count
        live = read_cluster(client)
        counts.append(client.request_count - before)
    assert counts[0] == counts[1]
    assert live.resources[FILTER].owner == "prod"
    assert live.owners[Ref(kind=Kind.CALENDAR, id="c39")] == "dev"
    # Members without a resource are kept (the planner removes them), resources stay as read.
    assert Ref(kind=Kind.CALENDAR, id="c0") not in live.resources


def test_documents_mlsync_did_not_write_are_errors(client: MLClient) -> None:
    client.perform(api.index_document(registry.REGISTRY_INDEX, "junk", {"hello": 1}))
    client.perform(
        api.index_document(
            registry.REGISTRY_INDEX, "Filter:other", {"kind": "Filter", "id": "x", "scope": "a"}
        )
    )
    with pytest.raises(registry.RegistryError) as caught:
        read_registry(client)
    message = str(caught.value)
    assert "Filter:other" in message and "junk" in message and "delete them" in message


@pytest.mark.parametrize("name", ["", "..", "Prod", "a/b", "-x", "x" * 65, "a b"])
def test_bad_scope_names_are_refused(name: str) -> None:
    with pytest.raises(registry.MlsyncError, match="scope name"):
        registry.check_scope(name)


@pytest.mark.parametrize("name", ["default", "dev", "team-a.prod_2"])
def test_good_scope_names(name: str) -> None:
    assert registry.check_scope(name) == name


def test_a_jobs_restore_record_is_read_and_a_bad_one_is_an_error(client: MLClient) -> None:
    client.perform(registry.member_call(JOB, "dev", ["maint", "holidays"]))
    found = read_registry(client)
    assert found.owners == {JOB: "dev"}
    assert found.restores == {JOB: ["holidays", "maint"]}
    # Written again without a record: the member stays, the record is gone.
    client.perform(registry.member_call(JOB, "dev", []))
    found = read_registry(client)
    assert (found.owners, found.restores) == ({JOB: "dev"}, {})
    # Only a job has one, and it is a list of calendar ids.
    for ref, record in ((FILTER, ["maint"]), (JOB, "maint"), (JOB, [3])):
        body = {"kind": ref.kind.value, "id": ref.id, "scope": "dev", "restore_calendars": record}
        client.perform(api.index_document(registry.REGISTRY_INDEX, registry.entry_id(ref), body))
        with pytest.raises(registry.RegistryError, match=registry.entry_id(ref)):
            read_registry(client)
        client.perform(registry.remove_member_call(ref))
