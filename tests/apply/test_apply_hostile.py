"""Hostile input to apply: edited saved plans, lock scopes that would change a path.

A saved plan is data: apply computes its steps again from the resources the file records and
the live cluster, and refuses a file that differs, before any write. A lock scope becomes a
document id in a path: one that would address another path is refused before connecting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import request_log, reset_log
from test_apply_cli import Env

from reconciler.client import api
from reconciler.errors import LockError
from reconciler.lock import acquire_lock, check_scope, read_lock

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def _saved(env: Env, *args: str) -> tuple[Path, dict[str, Any]]:
    out = env.root / "saved.plan.json"
    result = env.run("plan", str(env.manifests), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return out, json.loads(out.read_text())


def _step(doc: dict[str, Any], op: str) -> dict[str, Any]:
    return next(s for s in doc["plan"]["steps"] if s["op"] == op)


def _delete_victim(doc: dict[str, Any]) -> None:
    doc["plan"]["steps"][0]["call"] = {
        "method": "DELETE",
        "path": "/victim-index",
        "params": {},
        "body": None,
    }


def _other_path(doc: dict[str, Any]) -> None:
    _step(doc, "create")["call"]["path"] = "/_ml/filters/someone_elses"


def _other_body(doc: dict[str, Any]) -> None:
    _step(doc, "create")["call"]["body"]["items"] = ["attacker"]


def _other_params(doc: dict[str, Any]) -> None:
    _step(doc, "open")["call"]["params"] = {"force": "true"}


def _other_method(doc: dict[str, Any]) -> None:
    _step(doc, "create")["call"]["method"] = "DELETE"


def _extra_step(doc: dict[str, Any]) -> None:
    steps = doc["plan"]["steps"]
    extra = json.loads(json.dumps(steps[-1]))
    extra["index"] = len(steps)
    extra["call"] = {"method": "DELETE", "path": "/_ml/anomaly_detectors/web", "params": {}}
    steps.append(extra)


def _dropped_step(doc: dict[str, Any]) -> None:
    doc["plan"]["steps"].pop()


def _reordered(doc: dict[str, Any]) -> None:
    steps = doc["plan"]["steps"]
    steps[0], steps[1] = steps[1], steps[0]


def _hidden_change(doc: dict[str, Any]) -> None:
    doc["plan"]["changes"][0]["action"] = "no-op"


EDITS: dict[str, Edit] = {
    "delete_victim_index": _delete_victim,
    "path": _other_path,
    "body": _other_body,
    "params": _other_params,
    "method": _other_method,
    "extra_step": _extra_step,
    "dropped_step": _dropped_step,
    "reordered": _reordered,
    "changes": _hidden_change,
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edited_saved_plan_is_refused_before_any_write(env: Env, name: str) -> None:
    path, doc = _saved(env)
    EDITS[name](doc)
    path.write_text(json.dumps(doc))
    reset_log(env.sandbox)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "refusing the saved plan" in result.stderr, result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert env.mutations() == []


def test_a_destroying_step_disguised_in_the_file_needs_allow_destroy(env: Env) -> None:
    """The destroy check reads the derived plan, never the file's flags or actions."""
    assert env.apply("--auto-approve").exit_code == 0
    env.write_job(bucket_span="30m")  # bucket_span cannot change in place: a replace
    path, doc = _saved(env)
    for step in doc["plan"]["steps"]:
        step["destructive"] = False
    for change in doc["plan"]["changes"]:
        if change["action"] == "replace":
            change["action"], change["risk"] = "update", "safe"
    path.write_text(json.dumps(doc))
    reset_log(env.sandbox)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 1
    assert env.mutations() == []
    # The honest file is refused too without --allow-destroy: the derived plan destroys.
    path, _ = _saved(env)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 1
    assert "--allow-destroy" in result.stderr
    assert env.mutations() == []


def test_an_unedited_saved_plan_applies(env: Env) -> None:
    path, _ = _saved(env)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 0, result.output
    # 5 writes plus the add-member claim of each of the 3 created resources.
    assert "Apply complete: 8 done" in result.stdout


def test_the_format_json_document_is_a_saved_plan(env: Env) -> None:
    # One document format: `mlsync plan --format json` prints what `--out` writes, the planner's
    # inputs included, so apply re-derives its steps and runs it.
    saved, _ = _saved(env)
    printed = env.run("plan", str(env.manifests), "--format", "json")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == saved.read_text()
    path = env.root / "printed.plan.json"
    path.write_text(printed.stdout)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 0, result.output
    # Three creates, each after its scope's registry claim, then an open and a start.
    assert "Apply complete: 8 done" in result.stdout


@pytest.mark.parametrize("missing", ["absent", "null"])
def test_a_plan_file_without_its_inputs_is_refused(env: Env, missing: str) -> None:
    path, doc = _saved(env)
    if missing == "null":
        doc["inputs"] = None  # a document whose inputs are not known
    else:
        del doc["inputs"]
    path.write_text(json.dumps(doc))
    reset_log(env.sandbox)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 1
    assert "does not record the resources" in result.stderr
    assert request_log(env.sandbox) == []


def test_edited_recorded_resources_cannot_smuggle_a_delete(env: Env) -> None:
    """Emptying the file's resources with prune plans deletes: --allow-destroy still applies."""
    assert env.apply("--auto-approve").exit_code == 0
    path, doc = _saved(env, "--prune")
    doc["inputs"]["desired"] = []
    path.write_text(json.dumps(doc))
    reset_log(env.sandbox)
    result = env.run("apply", "--plan", str(path), "--auto-approve")
    assert result.exit_code == 1
    assert env.mutations() == []


# ----------------------------------------------------------------------------- lock scope


@pytest.mark.parametrize("scope", ["", "..", ".", " ", "a\nb", "x" * 513])
def test_force_unlock_refuses_a_scope_that_changes_the_path(env: Env, scope: str) -> None:
    assert env.apply("--auto-approve").exit_code == 0  # the lock index exists now
    reset_log(env.sandbox)
    result = env.run("force-unlock", "--force", "--scope", scope, "some-id")
    assert result.exit_code == 1
    # force-unlock's --scope is the ownership scope (its lock): named and refused as such.
    assert "--scope: scope name" in result.output and "is not valid" in result.output
    assert "Traceback" not in result.output
    assert request_log(env.sandbox) == []


@pytest.mark.parametrize("scope", ["", "..", "."])
def test_apply_refuses_a_lock_scope_that_changes_the_path(env: Env, scope: str) -> None:
    result = env.apply("--auto-approve", "--lock-scope", scope)
    assert result.exit_code == 1
    assert "invalid lock scope" in result.output
    assert request_log(env.sandbox) == []


def test_the_library_refuses_dot_segments_everywhere(env: Env) -> None:
    for scope in ("..", "."):
        with pytest.raises(LockError, match="invalid lock scope"):
            read_lock(env.client, scope)
        with pytest.raises(LockError, match="invalid lock scope"):
            acquire_lock(env.client, scope=scope)
        with pytest.raises(ValueError, match="other than"):
            api.get_document("mlsync-locks", scope)
        with pytest.raises(ValueError, match="other than"):
            api.delete_job(scope)
    assert check_scope("team-a/..") == "team-a/.."  # one encoded segment: %2F..
    assert api.get_document("mlsync-locks", "team-a/..").path == "/mlsync-locks/_doc/team-a%2F.."
