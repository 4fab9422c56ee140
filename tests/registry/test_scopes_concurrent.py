"""Concurrent applies in two scopes, as real processes on one sandbox state file.

Each scope has its own lock, so both run at once; both declare one resource nobody owns yet.
The create-only registry claim lets exactly one of them have it: the other's claim fails, its
create is skipped, and nothing of the winner's is touched. Their own resources are unaffected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler import registry
from reconciler.client import MLClient, api
from reconciler.sandbox import Sandbox, SandboxTransport

MAIN = "from reconciler.cli import main; main()"
FILTER = "kind: Filter\nid: {id}\nspec: {{items: [{item}]}}\n"


def read_registry(client: MLClient) -> registry.Registry:
    """The registry as one default-window search reads it (these tests write it directly)."""
    return registry.parse_registry(client.perform(registry.search_call(registry.PAGE)).body)


def spawn(state: Path, folder: Path, scope: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", MAIN, "apply", str(folder), "--auto-approve", "--scope", scope]
    argv += ["--sandbox", "--sandbox-state", str(state)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSYNC_", "ELASTICSEARCH_"))}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_two_scopes_racing_for_one_resource_never_both_act_on_it(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    Sandbox(state_file=state, implicit_indices=True, latency=0.002)
    folders = {}
    for scope in ("blue", "green"):
        folder = tmp_path / scope
        folder.mkdir()
        text = FILTER.format(id="shared", item=scope)
        for i in range(20):
            text += "---\n" + FILTER.format(id=f"{scope}_{i}", item="x")
        (folder / "filters.yaml").write_text(text)
        folders[scope] = folder
    procs = {scope: spawn(state, folder, scope) for scope, folder in folders.items()}
    results = {scope: proc.communicate(timeout=120) for scope, proc in procs.items()}
    codes = {scope: proc.returncode for scope, proc in procs.items()}
    client = MLClient(
        hosts=["http://sandbox:9200"],
        transport=SandboxTransport(Sandbox(state_file=state, implicit_indices=True)),
    )
    owners = read_registry(client).owners
    shared = client.perform(api.get_filters("shared")).body["filters"][0]
    client.close()
    winner = {str(r): s for r, s in owners.items()}["Filter/shared"]
    loser = "green" if winner == "blue" else "blue"
    # The winner's declared items are what the filter holds: the loser never wrote to it.
    assert shared["items"] == [winner]
    assert codes[winner] == 0, results[winner]
    assert codes[loser] == 1, results[loser]
    said = results[loser][0] + results[loser][1]
    assert sum(1 for s in owners.values() if s == winner) == 21
    if "belongs to scope" in said:
        # The loser planned after the winner's claim: refused before any write.
        assert f"Filter/shared belongs to scope '{winner}'" in said
        assert sum(1 for s in owners.values() if s == loser) == 0
    else:
        # Both planned before either claimed: the loser's claim failed, its create was skipped.
        assert "add-member Filter/shared" in said
        assert sum(1 for s in owners.values() if s == loser) == 20
