"""Shared pieces of the growth benchmarks: fleets, a served sandbox, timing, growth ratios.

Input: sizes and options from the benchmark scripts. Output: manifest trees and `Resource`
lists of N jobs with datafeeds, a `mlsync sandbox serve` subprocess on a free loopback port,
best-of-N timings (also interleaved over the sizes: `interleaved`), and one JSON line per
measurement. I/O: temp files, subprocesses, sockets.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from reconciler.model import Kind, Ref, Resource

T = TypeVar("T")

#: `--quick` sizes (CI's growth check: 1000 is 4x 250) and the full sizes of the issue.
QUICK_SIZES = (250, 500, 1000)
FULL_SIZES = (1000, 2000, 4000, 8000)

JOB_SPEC: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}
FEED_SPEC: dict[str, Any] = {"indices": ["logs-*"]}
#: The mappings of the index the fleet's datafeeds read.
LOGS_MAPPINGS: dict[str, Any] = {"properties": {"@timestamp": {"type": "date"}}}


def sizes(arg: str | None, quick: bool) -> list[int]:
    """`--sizes 1000,2000` or the default sizes of the mode."""
    if arg:
        return [int(s) for s in arg.split(",")]
    return list(QUICK_SIZES if quick else FULL_SIZES)


def fleet(jobs: int) -> list[Resource]:
    """N opened jobs, each with a started datafeed (the in-process desired state)."""
    out = []
    for i in range(jobs):
        job = Ref(kind=Kind.JOB, id=f"job-{i:05}")
        out.append(Resource(ref=job, state="opened", body=JOB_SPEC))
        out.append(
            Resource(
                ref=Ref(kind=Kind.DATAFEED, id=f"feed-{i:05}"),
                state="started",
                body={"job_id": f"job-{i:05}", **FEED_SPEC},
            )
        )
    return out


def write_tree(root: Path, jobs: int, per_file: int = 100) -> Path:
    """The same fleet as manifests: `per_file` jobs (with their datafeeds) per YAML file."""
    root.mkdir(parents=True, exist_ok=True)
    for start in range(0, jobs, per_file):
        docs = []
        for i in range(start, min(jobs, start + per_file)):
            doc = {
                "kind": "AnomalyDetectionJob",
                "id": f"job-{i:05}",
                "state": "opened",
                "spec": JOB_SPEC,
                "datafeed": {"id": f"feed-{i:05}", "state": "started", "spec": FEED_SPEC},
            }
            docs.append(json.dumps(doc))  # JSON is YAML: no dumper needed
        (root / f"jobs-{start:05}.yaml").write_text("\n---\n".join(docs) + "\n")
    return root


def best_of(repeats: int, run: Callable[[], float]) -> float:
    """The smallest of `repeats` timings: the least disturbed by other load on the machine."""
    return min(run() for _ in range(max(1, repeats)))


def clocked(fn: Callable[[], T]) -> tuple[float, float, T]:
    """The wall and CPU time of one run of `fn`, and its result.

    CPU time (this process only, every thread) is what to compare on a shared machine: other
    processes stretch the wall time but not it.

    The run starts from a collected heap (`gc.collect()`, outside the timing). The stages pause
    the cyclic collector and pay, when they end, one young-generation pass over what they built;
    without this, whether a full collection of the whole heap (the earlier runs' results, the
    seeded sandbox, this benchmark's own data) falls due inside a run or just after it depends
    on the allocation counters left by what ran before, so one size got a 0.4 s scan that is not
    its own and the next did not, and the growth ratios swung from x1.5 to x3.7 per doubling.
    """
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - started, time.process_time() - cpu_started, result


def interleaved(
    rounds: int, sizes: Sequence[int], measure: Callable[[int], dict[str, float]]
) -> list[dict[str, float]]:
    """Per size (in order), the least of each figure `measure(size)` returned over the rounds.

    Each round measures every size once. The speed of a shared machine drifts over minutes
    (other tenants come and go): measured size after size, one size ran on a fast stretch and
    the next on a slow one, and linear code showed x2.4 for one doubling and x1.6 for the next.
    Interleaved, every round sees all sizes under about the same conditions, so the drift no
    longer lands between two sizes. The least, not the median: noise only ever adds time.

    Call it with every size's fixtures built: they are frozen out of the collector's sight
    (`gc.freeze()`) for the rounds, so the `gc.collect()` before each timed run (`clocked`)
    scans only what the rounds made, not every size's fixtures, every time.
    """
    best: list[dict[str, float]] = [{} for _ in sizes]
    gc.collect()
    gc.freeze()
    try:
        for _ in range(max(1, rounds)):
            for cell, size in zip(best, sizes, strict=True):
                for key, value in measure(size).items():
                    cell[key] = min(value, cell.get(key, value))
    finally:
        gc.unfreeze()
    return best


def emit(record: dict[str, Any]) -> None:
    """One JSON line on stdout (what `.ci/growth_check.py` reads)."""
    print(json.dumps(record, sort_keys=True), flush=True)


def ratios(rows: Sequence[dict[str, Any]], key: str = "s") -> list[str]:
    """`x2.05` per row: its time over the previous row's (the growth per step in size)."""
    out = ["-"]
    for prev, row in itertools.pairwise(rows):
        out.append(f"x{row[key] / prev[key]:.2f}" if prev[key] > 0 else "-")
    return out


# ----------------------------------------------------------------------------- served sandbox


def mlsync_argv(*args: str) -> list[str]:
    """`mlsync ...` run with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "reconciler.cli", *args]


def clean_env() -> dict[str, str]:
    """The environment without connection settings that would redirect the CLI."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLSYNC_", "ELASTICSEARCH_"))}


class Served:
    """A running `mlsync sandbox serve` and its admin endpoints."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call a `/_sandbox/...` endpoint (never counted in the request log)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")

    def reset(self, latency: float = 0.0) -> None:
        """Empty the cluster, set the latency, and create the index the fleet's datafeeds read.

        A real cluster holds the data the datafeeds read (`logs-*`); without it the plan's live
        checks would rightly refuse to start them.
        """
        self.admin("POST", "/_sandbox/_reset")
        self.admin("PUT", "/_sandbox/transitions", {"latency": latency})
        self.admin("PUT", "/logs-bench", {"mappings": LOGS_MAPPINGS})

    def requests(self) -> int:
        """Requests answered since the last reset."""
        return int(self.admin("GET", "/_sandbox/requests")["total"])


@contextlib.contextmanager
def served_sandbox(timeout: float = 30.0) -> Iterator[Served]:
    """`mlsync sandbox serve --port 0` (a free loopback port); always stopped on exit.

    `BENCH_SERVER_SOURCE=DIR` runs the server from another source tree (a before/after
    comparison of the sandbox alone; the client side stays this checkout).
    """
    env = clean_env()
    source = os.environ.get("BENCH_SERVER_SOURCE")
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (source, env.get("PYTHONPATH"))))
    proc = subprocess.Popen(
        mlsync_argv("sandbox", "serve", "--host", "127.0.0.1", "--port", "0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=source or None,  # `python -m` puts the working directory first on sys.path
    )
    try:
        deadline = time.monotonic() + timeout
        url = ""
        assert proc.stderr is not None
        while not url:
            line = proc.stderr.readline()
            if not line and (proc.poll() is not None or time.monotonic() > deadline):
                raise SystemExit(f"mlsync sandbox serve did not start (exit {proc.poll()})")
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
        yield Served(proc, url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_cli(url: str, *args: str) -> float:
    """Run `mlsync ARGS --url URL` to completion; its wall time (exit code 0 or 2 expected)."""
    argv = mlsync_argv(*args, *(["--url", url] if url else []))
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        tail = (done.stdout + done.stderr)[-2000:]
        raise SystemExit(f"{' '.join(args[:1])} failed ({done.returncode}):\n{tail}")
    return elapsed
