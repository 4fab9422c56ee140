"""A registry of any size is read in one request: mlsync gives it a search window.

Elasticsearch answers at most `index.max_result_window` (10 000 by default) hits per search and
counts hits exactly only up to 10 000; a fleet of 8,000 jobs with datafeeds has 16,000 members.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler import registry
from reconciler.cli import main
from reconciler.client import MLClient
from reconciler.cluster import read_cluster
from reconciler.model import Call, Kind, Ref
from reconciler.sandbox import Sandbox, SandboxTransport

MEMBERS = 10_050


def new_client(state: Path | None = None) -> MLClient:
    sandbox = Sandbox(state_file=state, implicit_indices=True)
    return MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))


def write_members(client: MLClient, count: int) -> None:
    """`count` members (filters that do not exist: the plan would remove them), in one bulk."""
    lines = []
    for i in range(count):
        ref = Ref(kind=Kind.FILTER, id=f"f{i:05d}")
        lines.append({"create": {"_index": registry.REGISTRY_INDEX, "_id": registry.entry_id(ref)}})
        lines.append({"kind": "Filter", "id": ref.id, "scope": "default"})
    call = Call(method="POST", path="/_bulk", params={"refresh": "true"}, body=lines)
    assert client.perform(call, ndjson=True).body["errors"] is False


def test_more_members_than_one_default_page_are_read_in_one_request() -> None:
    client = new_client()
    update, create = registry.settings_calls()
    client.perform(create)
    write_members(client, MEMBERS)
    live = read_cluster(client)
    # Before: the reader asked for 10 000 hits; Elasticsearch counts 10 000 "or more" (gte)
    # and the 50 members past them were silently unread (they would look unowned).
    assert len(live.owners) == MEMBERS
    assert live.request_count == 9  # the same nine reads as an empty cluster
    client.perform(update)  # idempotent: what apply sends once the registry exists


def test_a_registry_made_without_the_window_is_read_with_one_request_more() -> None:
    client = new_client()
    write_members(client, 40)  # auto-created by the first write: the default window
    live = read_cluster(client)
    assert len(live.owners) == 40 and live.request_count == 10


def test_a_narrow_registry_with_too_many_members_says_how_to_widen_it() -> None:
    client = new_client()
    write_members(client, MEMBERS)
    with pytest.raises(registry.RegistryError) as caught:
        read_cluster(client)
    message = str(caught.value)
    assert f"holds {MEMBERS} members" in message and "at most 10000" in message
    assert 'PUT /mlsync-registry/_settings {"index": {"max_result_window": 1000000}}' in message
    client.perform(registry.settings_calls()[0])
    assert len(read_cluster(client).owners) == MEMBERS


def test_an_answer_missing_members_is_refused() -> None:
    hits = [{"_id": "Filter:a", "_source": {"kind": "Filter", "id": "a", "scope": "default"}}]
    answer = {"hits": {"total": {"value": 2, "relation": "eq"}, "hits": hits}}
    with pytest.raises(registry.RegistryError, match="holds 2 members, but its search answered 1"):
        registry.parse_registry(answer)


def test_apply_gives_the_registry_its_window_first_made_or_already_there(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "f.yaml").write_text("kind: Filter\nid: one\nspec: {items: [a]}\n")

    def apply() -> None:
        args = ["apply", str(folder), "--auto-approve", "--sandbox", "--sandbox-state", str(state)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output

    def window() -> str | None:
        client = new_client(state)
        got = client.perform(Call(method="GET", path=f"/{registry.REGISTRY_INDEX}/_settings"))
        client.close()
        return got.body[registry.REGISTRY_INDEX]["settings"]["index"].get("max_result_window")

    apply()  # no registry yet: made with the window
    assert window() == str(registry.WINDOW)
    # A registry an earlier mlsync made (the default window) is widened by the next apply.
    client = new_client(state)
    client.perform(
        Call(
            method="PUT",
            path=f"/{registry.REGISTRY_INDEX}/_settings",
            body={"index": {"max_result_window": None}},
        )
    )
    client.close()
    assert window() is None
    (folder / "g.yaml").write_text("kind: Filter\nid: two\nspec: {items: [b]}\n")
    apply()
    assert window() == str(registry.WINDOW)


def test_a_refused_window_is_a_warning_and_the_members_are_written(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "f.yaml").write_text("kind: Filter\nid: one\nspec: {items: [a]}\n")
    client = new_client(state)
    denied = {
        "type": "security_exception",
        "reason": "action [indices:admin/settings/update] is unauthorized",
    }
    rules = [
        {
            "method": "PUT",
            "path": "^/mlsync-registry(/_settings)?$",
            "status": 403,
            "body": {"error": {"root_cause": [denied], **denied}, "status": 403},
        },
    ]
    client.perform(Call(method="PUT", path="/_sandbox/faults", body=rules))
    client.close()
    args = ["apply", str(folder), "--auto-approve", "--sandbox", "--sandbox-state", str(state)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Warning: could not set the search window of the ownership registry" in result.output
    assert "create_index and manage privileges" in result.output
    client = new_client(state)
    client.perform(Call(method="PUT", path="/_sandbox/faults", body=[]))
    assert {str(r) for r in read_cluster(client).owners} == {"Filter/one"}
