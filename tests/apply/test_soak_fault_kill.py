"""Fault-and-kill soak (slow): random faults and SIGKILLs of a real `mlsync apply` process, then
one clean apply; every trial must converge.

Run it with: `pytest -m slow -o addopts="" -s tests/apply/test_soak_fault_kill.py`
(`MLSYNC_SOAK_TRIALS` sets the number of trials, 100 by default). It prints its figures.

Each trial starts from the same applied v1 state (copied), adds what users do by hand (a
calendar no manifest declares that holds owned jobs) and what clusters do on their own (a job
that failed while its datafeed was started, in some trials), stores random fault rules in the
sandbox state (500, 429, lost answers, dropped connections on ML requests), and starts
`mlsync apply` of v2 as a subprocess (restart-updates, replaces of jobs in both calendars and of
a DFA that wrote results, in-place updates, a close, creates, a prune). The process is killed
after a random number of mutating requests (or left to finish against the faults). Then the
faults are cleared and ONE clean apply runs; it must succeed, the plan after it must show no
changes, and every resource must be in its desired state (run states, calendar memberships,
the hand-made calendar's owned jobs, DFA results not doubled).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.sandbox import Sandbox

pytestmark = pytest.mark.slow

MAIN = "from reconciler.cli import main; main()"
JOB = """
kind: AnomalyDetectionJob
id: {job}
state: {state}
spec:
  description: {description}
  analysis_config:
    bucket_span: {bucket}
    detectors: [{{function: count}}]
  data_description: {{time_field: "@timestamp"}}
  analysis_limits: {{model_memory_limit: {mml}}}
datafeed:
  id: {job}-feed
  state: {feed_state}
  spec:
    indices: ["logs-*"]
"""
DFA = """
kind: DataFrameAnalytics
id: outliers
state: started
spec:
  source: {{index: src}}
  dest: {{index: outliers-out}}
  analysis: {{outlier_detection: {analysis}}}
"""
CALENDAR = """
kind: Calendar
id: holidays
spec:
  job_ids: {jobs}
"""
FAULTS = [{"status": 500}, {"status": 429}, {"timeout": True}, {"drop": True}]
FAULT_PATHS = [
    "^/_ml/anomaly_detectors/[^/]+$",
    "/_open$",
    "/_close$",
    "/_start$",
    "/_stop$",
    "^/_ml/datafeeds/[^/]+$",
    "^/_ml/calendars/",
    "^/_ml/data_frame/",
    "_update$",
    "^/_ml/",
    # The ownership registry: claims, restore records and their removal (and its search).
    "^/mlsync-registry",
]


def job_doc(job: str, **kw: Any) -> str:
    spec = {
        "state": "opened",
        "feed_state": "started",
        "description": "v1",
        "bucket": "15m",
        "mml": "32mb",
    }
    return JOB.format(job=job, **{**spec, **kw})


def write_manifests(root: Path, version: int) -> Path:
    folder = root / f"v{version}"
    folder.mkdir()
    docs = []
    if version == 1:
        docs += [job_doc(f"a{i}") for i in (0, 1, 2, 4, 5, 6)]
        docs.append(DFA.format(analysis="{}"))
        docs.append(CALENDAR.format(jobs="[a0, a1]"))
    else:
        docs.append(job_doc("a0", mml="64mb"))  # restart-update
        docs.append(job_doc("a1", bucket="30m"))  # replace, in a declared calendar
        docs.append(job_doc("a2", bucket="30m"))  # replace, in the hand-made calendar
        docs.append(job_doc("a4", description="v2"))  # in place (fails by itself in some trials)
        docs.append(job_doc("a5", state="closed", feed_state="stopped"))  # close
        # a6 is no longer declared: pruned.
        docs.append(job_doc("n0"))
        docs.append(DFA.format(analysis="{n_neighbors: 5}"))  # replace after it wrote results
        docs.append(CALENDAR.format(jobs="[a0, a1, n0]"))
    (folder / "all.yaml").write_text("---\n".join(docs))
    return folder


def copy_state(source: Path, target: Path) -> None:
    """A consistent copy of a sandbox state database (SQLite in WAL mode).

    A file copy misses what is still in the write-ahead log (`-wal` beside the file): the
    backup API copies the committed state whole.
    """
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def cli(state: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--sandbox", "--sandbox-state", str(state)])
    return result.exit_code, result.output


def admin(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = sandbox.handle(method, path, {"content-type": "application/json"}, raw)
    assert answer.status in (200, 201), answer.body
    return answer.json()


def ml_mutations(sandbox: Sandbox) -> int:
    log = admin(sandbox, "GET", "/_sandbox/requests")["log"]
    return sum(1 for e in log if e["method"] != "GET" and e["path"].startswith("/_ml/"))


def spawn_apply(state: Path, manifests: Path) -> subprocess.Popen[str]:
    # --recover-failed: the job that failed on its own is force-closed and opened again.
    argv = [sys.executable, "-c", MAIN, "apply", str(manifests), "--auto-approve", "--prune"]
    argv += ["--recover-failed"]
    argv += ["--allow-destroy", "--sandbox", "--sandbox-state", str(state)]
    argv += ["--poll-interval", "0.01", "--lock-ttl", "1", "--wait-timeout", "5"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSYNC_", "ELASTICSEARCH_"))}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def stats_state(sandbox: Sandbox, path: str, key: str) -> dict[str, str]:
    return {
        e.get("job_id") or e.get("datafeed_id") or e["id"]: e["state"]
        for e in admin(sandbox, "GET", path)[key]
    }


def check_desired_state(sandbox: Sandbox) -> None:
    jobs = stats_state(sandbox, "/_ml/anomaly_detectors/_stats", "jobs")
    feeds = stats_state(sandbox, "/_ml/datafeeds/_stats", "datafeeds")
    want_open = ["a0", "a1", "a2", "a4", "n0"]
    assert {j: jobs.get(j) for j in want_open} == dict.fromkeys(want_open, "opened"), jobs
    assert jobs.get("a5") == "closed" and "a6" not in jobs, jobs
    want_feeds = {f"{j}-feed": "started" for j in want_open} | {"a5-feed": "stopped"}
    assert {f: feeds.get(f) for f in want_feeds} == want_feeds, feeds
    calendars = {
        c["calendar_id"]: sorted(c["job_ids"])
        for c in admin(sandbox, "GET", "/_ml/calendars")["calendars"]
    }
    assert calendars == {"holidays": ["a0", "a1", "n0"], "maint": ["a2", "a4"]}, calendars
    results = admin(sandbox, "POST", "/outliers-out/_search", {"size": 0})["hits"]["total"]
    assert results["value"] == 5, results  # one run's results for the five source documents


def test_random_faults_and_kills_then_one_clean_apply_converge(tmp_path: Path) -> None:
    trials = int(os.environ.get("MLSYNC_SOAK_TRIALS", "100"))
    v1, v2 = write_manifests(tmp_path, 1), write_manifests(tmp_path, 2)
    base = tmp_path / "base.json"
    sandbox = Sandbox(
        state_file=base, implicit_indices=True, transition_delay=0.01, dfa_duration=0.05
    )
    for i in range(5):
        admin(sandbox, "POST", "/src/_doc", {"x": i, "y": i * i})
    code, out = cli(base, "apply", str(v1), "--auto-approve", "--poll-interval", "0.01")
    assert code == 0, out
    admin(sandbox, "PUT", "/_ml/calendars/maint", {"job_ids": ["a2", "a4"]})  # by hand
    time.sleep(0.2)  # the DFA finishes its first run (its results are in outliers-out)
    assert (
        admin(sandbox, "POST", "/outliers-out/_search", {"size": 0})["hits"]["total"]["value"] == 5
    )
    rng = random.Random(int(os.environ.get("MLSYNC_SOAK_SEED", "20261202")))
    figures: Counter[str] = Counter()
    failures: list[str] = []
    for trial in range(trials):
        state = tmp_path / f"trial{trial}.json"
        copy_state(base, state)
        sb = Sandbox(state_file=state)
        admin(sb, "POST", "/_sandbox/requests/_reset")
        if rng.random() < 0.35:  # the job fails on its own while its datafeed is started
            admin(sb, "PUT", "/_sandbox/transitions", {"fail": {"jobs": ["a4"]}})
            figures["failed jobs"] += 1
        rules = []
        for _ in range(rng.randint(1, 4)):
            rule = {"path": rng.choice(FAULT_PATHS), "rate": round(rng.uniform(0.1, 0.5), 2)}
            rule |= rng.choice(FAULTS) | {"times": rng.randint(1, 3)}
            rules.append(rule)
        admin(sb, "PUT", "/_sandbox/faults", rules)
        figures["fault rules"] += len(rules)
        kill_after = rng.randint(1, 30) if rng.random() < 0.8 else None
        proc = spawn_apply(state, v2)
        deadline = time.monotonic() + 120
        while proc.poll() is None and kill_after is not None:
            if ml_mutations(sb) >= kill_after:
                break
            assert time.monotonic() < deadline, "the apply made no progress"
            time.sleep(0.02)
        if proc.poll() is None and kill_after is not None:
            proc.send_signal(signal.SIGKILL)
            figures["killed mid-apply"] += 1
        proc.communicate(timeout=120)
        figures["first apply exit 0"] += proc.returncode == 0
        figures["faults fired"] += sum(
            1
            for e in admin(sb, "GET", "/_sandbox/requests")["log"]
            if e.get("fault") or e.get("status") in (429, 500)
        )
        admin(sb, "PUT", "/_sandbox/faults", [])
        code, out = cli(
            state,
            *("apply", str(v2), "--auto-approve", "--prune", "--allow-destroy", "--recover-failed"),
            *("--lock-timeout", "10", "--poll-interval", "0.01", "--wait-timeout", "10"),
        )
        try:
            assert code == 0, f"clean apply failed:\n{out}"
            code, out = cli(
                state, "plan", str(v2), "--prune", "--recover-failed", "--detailed-exitcode"
            )
            assert code == 0, f"not converged:\n{out}"
            check_desired_state(sb)
        except AssertionError as exc:
            failures.append(f"trial {trial} (kill after {kill_after}, faults {rules}): {exc}")
            continue
        figures["converged"] += 1
        state.unlink()
    print(f"\nsoak: {trials} trials; " + ", ".join(f"{k}: {v}" for k, v in sorted(figures.items())))
    assert not failures, f"{len(failures)} of {trials} trials did not converge:\n" + "\n".join(
        failures[:5]
    )
    assert figures["killed mid-apply"] >= trials // 2
