"""`mlsync apply` and `mlsync force-unlock` through click, on the file-backed embedded sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import new_client, request_log, set_faults
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.client import MLClient, api
from reconciler.commands import apply as apply_module
from reconciler.lock import acquire_lock, read_lock
from reconciler.sandbox import Sandbox

JOB = """
kind: AnomalyDetectionJob
id: {job}
state: opened
spec:
  description: {description}
  analysis_config:
    bucket_span: {bucket_span}
    detectors: [{{function: count}}]
  data_description: {{time_field: "@timestamp"}}
  analysis_limits: {{model_memory_limit: 64mb}}
datafeed:
  id: {job}-feed
  state: started
  spec:
    indices: ["logs-*"]
"""
FILTER = """
kind: Filter
id: hosts
spec:
  items: [a, b]
"""


class Env:
    """A working directory with manifests and a sandbox state file shared with the CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "sandbox.db"
        self.manifests = root / "manifests"
        self.manifests.mkdir()
        (self.manifests / "filter.yaml").write_text(FILTER)
        self.write_job()
        self.sandbox = Sandbox(state_file=self.state, implicit_indices=True)
        self.client: MLClient = new_client(self.sandbox)

    def write_job(self, *, bucket_span: str = "15m", description: str = "first") -> None:
        text = JOB.format(job="web", bucket_span=bucket_span, description=description)
        (self.manifests / "job.yaml").write_text(text)

    def run(self, *args: str, input: str | None = None) -> Result:
        argv = [*args, "--sandbox", "--sandbox-state", str(self.state)]
        if args[0] == "apply":
            argv += ["--poll-interval", "0.01"]
        return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)

    def apply(self, *args: str, input: str | None = None) -> Result:
        return self.run("apply", str(self.manifests), *args, input=input)

    def plan_steps(self) -> int:
        out = self.root / "check.plan.json"
        result = self.run("plan", str(self.manifests), "--out", str(out))
        assert result.exit_code == 0, result.output
        return len(json.loads(out.read_text())["plan"]["steps"])

    def mutations(self) -> list[str]:
        return [
            f"{e['method']} {e['path']}"
            for e in request_log(self.sandbox)
            if e["method"] not in ("GET", "HEAD")
        ]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_without_a_terminal_apply_refuses_before_sending_anything(env: Env) -> None:
    result = env.apply()
    assert result.exit_code == 1
    assert "no terminal" in result.stderr and "--auto-approve" in result.stderr
    assert request_log(env.sandbox) == []


def test_auto_approve_applies_and_converges(env: Env) -> None:
    result = env.apply("--auto-approve")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    # Claim filter, job and datafeed for the scope; create them; open the job; start the feed.
    assert len(lines) == 8
    assert all(re.match(r"\[\d/8\] done   \S+ \S+ \(\d+\.\ds\)$", line) for line in lines)
    assert "Apply complete: 8 done, 0 failed, 0 skipped" in result.stdout
    assert env.plan_steps() == 0
    assert read_lock(env.client) is None  # released
    again = env.apply("--auto-approve")
    assert again.exit_code == 0
    assert "No changes" in again.stdout


@pytest.mark.parametrize(("answer", "applied"), [("yes", True), ("y", False), ("no", False)])
def test_the_terminal_confirmation_accepts_only_yes(
    env: Env, monkeypatch: pytest.MonkeyPatch, answer: str, applied: bool
) -> None:
    monkeypatch.setattr(apply_module, "_stdin_is_tty", lambda: True)
    result = env.apply(input=f"{answer}\n")
    assert "Only 'yes' will be accepted" in result.stderr
    if applied:
        assert result.exit_code == 0, result.output
        assert env.plan_steps() == 0
    else:
        assert result.exit_code == 1
        assert "apply cancelled" in result.stderr
        assert env.mutations() == []


def test_destructive_plans_need_allow_destroy(env: Env) -> None:
    assert env.apply("--auto-approve").exit_code == 0
    env.write_job(bucket_span="30m")  # bucket_span is immutable: the job must be replaced
    before = len(env.mutations())
    refused = env.apply("--auto-approve")
    assert refused.exit_code == 1
    assert "--allow-destroy" in refused.stderr
    assert "replace AnomalyDetectionJob/web" in refused.stderr
    # An auto-approved apply plans under the lock (so it needs no second read): the refusal
    # only took and released it; nothing else was written.
    assert env.mutations()[before:] == [
        "PUT /mlsync-locks/_create/default",
        "DELETE /mlsync-locks/_doc/default",
    ]
    assert read_lock(env.client) is None
    allowed = env.apply("--auto-approve", "--allow-destroy")
    assert allowed.exit_code == 0, allowed.output
    assert env.plan_steps() == 0


def test_a_saved_plan_is_applied_as_saved(env: Env) -> None:
    saved = env.root / "web.plan.json"
    assert env.run("plan", str(env.manifests), "--out", str(saved)).exit_code == 0
    env.write_job(description="edited after the plan was saved")
    result = env.run("apply", "--plan", str(saved), "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    jobs = env.client.perform(api.get_jobs("web")).body["jobs"]
    assert jobs[0]["description"] == "first"  # the saved plan, not the edited manifests


def test_a_stale_saved_plan_is_refused(env: Env) -> None:
    saved = env.root / "web.plan.json"
    assert env.run("plan", str(env.manifests), "--out", str(saved)).exit_code == 0
    # Someone else creates the filter this plan was going to create.
    env.client.perform(api.put_filter("hosts", {"items": ["z"]}))
    before = env.mutations()
    result = env.run("apply", "--plan", str(saved), "--poll-interval", "0.01")
    assert result.exit_code == 1
    assert "plan is stale: Filter/hosts changed since the plan was made; run mlsync plan again" in (
        result.stderr
    )
    lock_only = [m for m in env.mutations()[len(before) :] if "mlsync-locks" not in m]
    assert lock_only == []
    assert read_lock(env.client) is None


def test_a_change_elsewhere_does_not_make_a_plan_stale(env: Env) -> None:
    saved = env.root / "web.plan.json"
    assert env.run("plan", str(env.manifests), "--out", str(saved)).exit_code == 0
    env.client.perform(api.put_filter("other", {"items": ["x"]}))  # not a resource of this plan
    result = env.run("apply", "--plan", str(saved), "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert env.plan_steps() == 0


def test_plan_file_cannot_be_combined_with_manifest_options(env: Env) -> None:
    saved = env.root / "p.json"
    assert env.run("plan", str(env.manifests), "--out", str(saved)).exit_code == 0
    result = env.run("apply", str(env.manifests), "--plan", str(saved))
    assert result.exit_code == 1
    assert "cannot be combined with PATH" in result.stderr


def test_a_failed_step_prints_the_table_and_exits_1_then_a_rerun_converges(env: Env) -> None:
    set_faults(env.sandbox, [{"method": "POST", "path": "/_open$", "status": 500}])
    result = env.apply("--auto-approve")
    assert result.exit_code == 1
    assert re.search(r"failed +open +AnomalyDetectionJob/web", result.stdout)
    assert re.search(r"skipped +start +Datafeed/web-feed", result.stdout)
    # The three registry claims and three creates are done.
    assert "Apply failed: 6 done, 1 failed, 1 skipped" in result.stdout
    assert "re-run mlsync plan/apply to converge" in result.stderr
    assert read_lock(env.client) is None
    set_faults(env.sandbox, [])
    rerun = env.apply("--auto-approve")
    assert rerun.exit_code == 0, rerun.output
    assert env.plan_steps() == 0


def test_an_apply_refuses_while_another_holds_the_lock(env: Env) -> None:
    other = acquire_lock(env.client, heartbeat=False, holder="alice@ci (pid 1)")
    result = env.apply("--auto-approve")
    assert result.exit_code == 1
    assert "held by alice@ci (pid 1)" in result.stderr
    assert f"mlsync force-unlock {other.info.lock_id}" in result.stderr
    assert [m for m in env.mutations() if "mlsync-locks" not in m] == []


def test_force_unlock_command(env: Env) -> None:
    lock = acquire_lock(env.client, heartbeat=False, holder="alice")
    no_tty = env.run("force-unlock", lock.info.lock_id)
    assert no_tty.exit_code == 1 and "--force" in no_tty.stderr
    wrong = env.run("force-unlock", "1234", "--force")
    assert wrong.exit_code == 1 and "does not match" in wrong.stderr
    assert read_lock(env.client) is not None
    right = env.run("force-unlock", lock.info.lock_id, "--force")
    assert right.exit_code == 0, right.output
    assert "held by alice" in right.stdout
    assert read_lock(env.client) is None


def test_plain_progress_line_format() -> None:
    from reconciler.apply import EventKind, StepEvent, StepOutcome, StepStatus
    from reconciler.model import Call, Kind, Ref, Step

    step = Step(
        index=2, ref=Ref(kind=Kind.JOB, id="x"), op="close", call=Call(method="POST", path="/p")
    )
    outcome = StepOutcome(step, StepStatus.DONE, "", 1.23)
    event = StepEvent(EventKind.FINISHED, step, 3, 12, outcome)
    assert apply_module.plain_line(event) == "[ 3/12] done   close AnomalyDetectionJob/x (1.2s)"
    failed: Any = StepEvent(
        EventKind.FINISHED, step, 3, 9, StepOutcome(step, StepStatus.FAILED, "boom", 0.04)
    )
    assert (
        apply_module.plain_line(failed) == "[3/9] failed close AnomalyDetectionJob/x (0.0s): boom"
    )


def test_plain_progress_prints_a_heartbeat_while_a_step_waits() -> None:
    import io

    from reconciler.apply import EventKind, StepEvent, StepOutcome, StepStatus
    from reconciler.model import Call, Kind, Ref, Step

    now = [100.0]
    stream = io.StringIO()
    progress = apply_module.PlainProgress(stream, interval=10.0, clock=lambda: now[0])
    step = Step(
        index=4,
        ref=Ref(kind=Kind.JOB, id="web"),
        op="open",
        call=Call(method="POST", path="/_ml/anomaly_detectors/web/_open"),
    )
    progress(StepEvent(EventKind.WAITING, step, 4, 9, detail="opened"))
    now[0] = 120.0
    progress.heartbeat()
    assert (
        stream.getvalue() == "still waiting for AnomalyDetectionJob/web to open (20 s; step 5/9)\n"
    )
    outcome = StepOutcome(step, StepStatus.DONE, "", 21.0)
    progress(StepEvent(EventKind.FINISHED, step, 5, 9, outcome))
    progress.heartbeat()  # nothing waits any more: no new line
    assert stream.getvalue().splitlines()[-1] == "[5/9] done   open AnomalyDetectionJob/web (21.0s)"


def test_plain_progress_heartbeat_runs_at_its_interval_in_a_thread() -> None:
    import io
    import time

    from reconciler.apply import EventKind, StepEvent
    from reconciler.model import Call, Kind, Ref, Step

    stream = io.StringIO()
    step = Step(
        index=0, ref=Ref(kind=Kind.DATAFEED, id="f"), op="stop", call=Call(method="POST", path="/p")
    )
    with apply_module.PlainProgress(stream, interval=0.02) as progress:
        progress(StepEvent(EventKind.WAITING, step, 0, 1, detail="stopped"))
        deadline = time.monotonic() + 5
        while stream.getvalue().count("still waiting") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stream.getvalue().count("still waiting for Datafeed/f to stop") >= 2


def test_apply_format_json_prints_one_result_document(tmp_path: Path) -> None:
    env = Env(tmp_path)
    result = env.apply("--auto-approve", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "mlsync-apply-result" and document["ok"] is True
    assert document["summary"] == {"done": len(document["steps"]), "failed": 0, "skipped": 0}
    assert [s["step"] for s in document["steps"]] == list(range(1, len(document["steps"]) + 1))
    assert {s["status"] for s in document["steps"]} == {"done"}
    assert "will be created" in result.stderr  # the plan went to stderr
    again = env.apply("--auto-approve", "--format", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["steps"] == []


def test_apply_format_json_reports_a_failed_apply(tmp_path: Path) -> None:
    env = Env(tmp_path)
    assert env.apply("--auto-approve").exit_code == 0
    env.write_job(description="second")
    # The update is refused by the cluster: the document says which step failed, exit 1.
    set_faults(env.sandbox, [{"method": "POST", "path": "/web/_update$", "status": 400}])
    result = env.apply("--auto-approve", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["summary"]["failed"] >= 1
    [failed] = [s for s in document["steps"] if s["status"] == "failed"]
    assert failed["address"] == "AnomalyDetectionJob/web" and failed["op"] == "update"
    assert "Apply failed" in result.stderr
