"""State files shared across processes, `mlsync sandbox serve`, and the real HTTP server."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sandbox_helpers import MINIMAL_JOB

from reconciler.sandbox import Sandbox, SandboxTransport, start_in_thread

ROOT = Path(__file__).resolve().parents[2]


def child(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_state_file_is_shared_between_processes(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    child(
        "import json\nfrom reconciler.sandbox import Sandbox\n"
        f"sb = Sandbox({str(state)!r})\n"
        f"r = sb.handle('PUT', '/_ml/anomaly_detectors/j', {{'content-type': "
        f"'application/json'}}, {json.dumps(MINIMAL_JOB).encode()!r})\n"
        "assert r.status == 200, r.body\n"
        "r = sb.handle('POST', '/_ml/anomaly_detectors/j/_open', {}, b'')\n"
        "assert r.status == 200, r.body\n"
    )
    sandbox = Sandbox(state)
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://x") as client:
        stats = client.get("/_ml/anomaly_detectors/j/_stats").json()["jobs"][0]
        assert stats["state"] == "opened"
        assert client.get("/_sandbox/requests").json()["total"] == 3
        client.post("/_ml/anomaly_detectors/j/_close")
    out = child(
        "from reconciler.sandbox import Sandbox\n"
        f"sb = Sandbox({str(state)!r})\n"
        "print(sb.handle('GET', '/_ml/anomaly_detectors/j/_stats', {}, "
        "b'').json()['jobs'][0]['state'])\n"
    )
    assert out.strip() == "closed"
    # one row per object in a SQLite database
    with contextlib.closing(sqlite3.connect(state)) as db:
        rows = db.execute("SELECT coll, id, value FROM objects WHERE coll = 'jobs'").fetchall()
    assert [(coll, oid) for coll, oid, _ in rows] == [("jobs", "j")]
    assert json.loads(rows[0][2])["job_id"] == "j"
    # only the database and SQLite's write-ahead log files, no temp or lock files
    assert {p.name for p in tmp_path.iterdir()} <= {"state.db", "state.db-wal", "state.db-shm"}


def test_concurrent_processes_do_not_lose_updates(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    code = (
        "from reconciler.sandbox import Sandbox\n"
        f"sb = Sandbox({str(state)!r})\n"
        "import sys\n"
        "for i in range(15):\n"
        "    r = sb.handle('PUT', f'/_ml/filters/f-{sys.argv[1]}-{i}', {}, b'{}')\n"
        "    assert r.status == 200, r.body\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], env=env) for n in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert Sandbox(state).handle("GET", "/_ml/filters", {}, b"").json()["count"] == 45


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_serve_with_state_file(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "served.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-c",
        "from reconciler.commands.sandbox import sandbox; sandbox()",
        "serve",
        "--port",
        str(port),
        "--state",
        str(state),
        "--api-key",
        "k:v",
        "--fault",
        "method=GET,path=^/_ml/info$,status=500,times=1",
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "ApiKey k:v"}
        for _ in range(100):
            try:
                httpx.get(url, headers=headers, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert httpx.get(f"{url}/_ml/info", headers=headers).status_code == 500
        assert httpx.get(f"{url}/_ml/info", headers=headers).status_code == 200
        assert httpx.get(f"{url}/_ml/info").status_code == 401
        assert (
            httpx.put(
                f"{url}/_ml/filters/shared", json={"items": ["x"]}, headers=headers
            ).status_code
            == 200
        )
        # another process (think `mlsync plan --sandbox`) sees the served state
        assert Sandbox(state).handle("GET", "/_ml/filters/shared", {}, b"").json()["count"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_server_keep_alive_and_dropped_connections() -> None:
    sandbox = Sandbox(faults=[{"path": "^/_ml/filters/dropme", "drop": True}])
    with start_in_thread(sandbox) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        for _ in range(3):  # one connection, several requests
            conn.request("GET", "/_ml/info")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("X-Elastic-Product") == "Elasticsearch"
            assert int(resp.getheader("Content-Length") or 0) == len(resp.read())
        conn.request(
            "PUT", "/_ml/filters/dropme", body=b"{}", headers={"Content-Type": "application/json"}
        )
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            conn.getresponse()
        conn.close()
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/_ml/filters").json()["count"] == 0
            assert client.head("/").status_code == 200


def test_server_is_thread_safe() -> None:
    import threading

    sandbox = Sandbox()
    with start_in_thread(sandbox) as server:

        def worker(n: int) -> None:
            with httpx.Client(base_url=server.url) as client:
                for i in range(10):
                    resp = client.put(f"/_ml/filters/f-{n}-{i}", json={"items": [str(i)]})
                    assert resp.status_code == 200

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/_ml/filters").json()["count"] == 80
            assert client.get("/_sandbox/requests").json()["total"] == 81


def test_server_timeout_fault_applies_then_stays_silent() -> None:
    sandbox = Sandbox(
        faults=[{"method": "PUT", "path": "^/_ml/filters/", "timeout": True, "hold": 0.3}]
    )
    with (
        start_in_thread(sandbox) as server,
        httpx.Client(base_url=server.url, timeout=0.1) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            client.put("/_ml/filters/lost", json={})
        assert client.get("/_ml/filters/lost").json()["count"] == 1
