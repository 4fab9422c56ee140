"""Real processes: applies killed with SIGKILL at random points, and two concurrent applies.

`mlsync apply --sandbox` runs as a subprocess on a sandbox state file shared with this process
(every request is one SQLite write transaction on the file, like separate clients of one
cluster), so a SIGKILL really interrupts it between requests and leaves its lock behind. The
re-run waits for that lock to expire (`--lock-ttl 1`), takes it over and converges.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main
from reconciler.client import api
from reconciler.model import Call
from reconciler.sandbox import Sandbox

MAIN = "from reconciler.cli import main; main()"
JOB = """
kind: AnomalyDetectionJob
id: {job}
state: opened
spec:
  analysis_config:
    bucket_span: 15m
    detectors: [{{function: count}}]
  data_description: {{time_field: "@timestamp"}}
  analysis_limits: {{model_memory_limit: {mml}}}
datafeed:
  id: {job}-feed
  state: started
  spec:
    indices: ["logs-*"]
"""


def write_manifests(root: Path, version: int) -> Path:
    """v1: six running jobs. v2: three of them need a restart-update, six new ones."""
    folder = root / f"v{version}"
    folder.mkdir(exist_ok=True)
    for i in range(6):
        mml = "64mb" if version == 2 and i < 3 else "32mb"
        (folder / f"old{i}.yaml").write_text(JOB.format(job=f"old{i}", mml=mml))
    if version == 2:
        for i in range(6):
            (folder / f"new{i}.yaml").write_text(JOB.format(job=f"new{i}", mml="32mb"))
    return folder


def cli(state: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--sandbox", "--sandbox-state", str(state)])
    return result.exit_code, result.output


def spawn_apply(state: Path, manifests: Path, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", MAIN, "apply", str(manifests), "--auto-approve"]
    argv += ["--sandbox", "--sandbox-state", str(state)]
    # TTL 3 s: short, so a re-run soon takes over a killed apply's lock, yet long enough for the
    # heartbeat (every TTL/3) to get through ten busy workers on a loaded machine.
    argv += ["--poll-interval", "0.01", "--lock-ttl", "3", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSYNC_", "ELASTICSEARCH_"))}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def ml_mutations(sandbox: Sandbox) -> int:
    answer = sandbox.handle("GET", "/_sandbox/requests", {}, b"").json()
    # Writes only: the plan's live checks POST to read-only endpoints (`_validate`, `_preview`).
    return sum(
        1
        for e in answer["log"]
        if e["path"].startswith("/_ml/")
        and api.classify(Call(method=e["method"], path=e["path"].split("?")[0]))
        is not api.CallClass.READ
    )


def new_state(path: Path, **settings: float) -> Sandbox:
    # Settings given here are stored in the state file, so the CLI processes see them too.
    return Sandbox(state_file=path, implicit_indices=True, **settings)


def test_applies_killed_at_random_points_converge_on_rerun(tmp_path: Path) -> None:
    v1, v2 = write_manifests(tmp_path, 1), write_manifests(tmp_path, 2)
    rng = random.Random(20261124)
    trials = 10
    killed_mid_apply = 0
    for trial in range(trials):
        state = tmp_path / f"trial{trial}.json"
        sandbox = new_state(state, latency=0.005, transition_delay=0.02)
        code, out = cli(state, "apply", str(v1), "--auto-approve", "--poll-interval", "0.01")
        assert code == 0, out
        base = ml_mutations(sandbox)
        # v2 sends 39 mutating requests; kill after a random number of them was answered.
        kill_after = rng.randint(1, 38)
        proc = spawn_apply(state, v2)
        deadline = time.monotonic() + 60
        while ml_mutations(sandbox) - base < kill_after and proc.poll() is None:
            assert time.monotonic() < deadline, "the apply made no progress"
            time.sleep(0.005)
        if proc.poll() is None:
            killed_mid_apply += 1
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode in (-signal.SIGKILL, 0), stderr
        # The re-run finds the dead process's lock, waits for it to expire, and converges.
        code, out = cli(
            state,
            "apply",
            str(v2),
            "--auto-approve",
            "--lock-timeout",
            "10",
            "--poll-interval",
            "0.01",
        )
        assert code == 0, f"trial {trial} (kill after {kill_after}): {out}"
        code, out = cli(state, "plan", str(v2), "--detailed-exitcode")
        assert code == 0, f"trial {trial}: not converged:\n{out}"
        assert "No changes" in out
    assert killed_mid_apply >= trials - 2  # the kills really landed inside the applies


def lock_held(sandbox: Sandbox, scope: str = "default") -> bool:
    return sandbox.handle("GET", f"/mlsync-locks/_doc/{scope}", {}, b"").status == 200


def test_two_concurrent_applies_exactly_one_proceeds(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    sandbox = new_state(state, transition_delay=0.3)
    manifests = write_manifests(tmp_path, 2)
    # Since apply trusts `opened: true` / `started: true` answers, an apply of these manifests is
    # over in about a second: starting both at once raced the second's start-up (on a loaded
    # machine it planned after the first had finished, "No changes", exit 0). The second is
    # started once the first holds the lock, and the first's first job creation is answered
    # after 25 s (a loaded CI machine can take seconds to start a Python process), so the first
    # still holds the lock when the second asks for it.
    rule = {"method": "PUT", "path": "^/_ml/anomaly_detectors/", "latency": 25, "times": 1}
    answer = sandbox.handle(
        "PUT", "/_sandbox/faults", {"content-type": "application/json"}, json.dumps([rule]).encode()
    )
    assert answer.status == 200, answer.body
    first = spawn_apply(state, manifests, "--lock-ttl", "30", "--timeout", "120")
    deadline = time.monotonic() + 60
    while not lock_held(sandbox) and first.poll() is None:
        assert time.monotonic() < deadline, "the first apply never took the lock"
        time.sleep(0.01)
    second = spawn_apply(state, manifests, "--lock-ttl", "30")
    outputs = {p.pid: p.communicate(timeout=120) for p in (first, second)}
    codes = sorted((first.returncode, second.returncode))
    assert codes == [0, 1], outputs
    winner, loser = (first, second) if first.returncode == 0 else (second, first)
    loser_err = outputs[loser.pid][1]
    assert "Error: the cluster lock 'default' is held by" in loser_err
    assert f"(pid {winner.pid}) for apply since" in loser_err
    assert "mlsync force-unlock" in loser_err
    assert "Apply complete" in outputs[winner.pid][0]
    code, out = cli(state, "plan", str(manifests), "--detailed-exitcode")
    assert code == 0, out


def test_sigterm_mid_apply_releases_the_lock_and_reports(tmp_path: Path) -> None:
    # A cancelled CI job sends SIGTERM: apply stops, reports, releases the lock, exits 1.
    state = tmp_path / "state.json"
    # Opens take 1.5 s: the signal lands while the apply waits for them, however slow the
    # machine (with 0.2 s, a loaded machine saw the apply end before the signal was sent).
    sandbox = new_state(state, transition_delay=1.5)
    manifests = write_manifests(tmp_path, 2)
    proc = spawn_apply(state, manifests, "--lock-ttl", "300")
    deadline = time.monotonic() + 60
    while ml_mutations(sandbox) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "apply ended too early"
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "interrupted" in err and "re-run mlsync plan/apply to converge" in err
    lock = sandbox.handle("GET", "/mlsync-locks/_doc/default", {}, b"")
    assert lock.status == 404, lock.body  # released, not left for 300 s
    # Nothing is half-done for good: a re-run converges at once (no lock to wait for).
    code, output = cli(state, "apply", str(manifests), "--auto-approve", "--poll-interval", "0.01")
    assert code == 0, output
    code, output = cli(state, "plan", str(manifests), "--detailed-exitcode")
    assert code == 0, output
