"""`mlsync sandbox serve` reports bad settings without a traceback and exits 1."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sandbox", "serve", *args])
    return result.exit_code, result.output


def test_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = serve("--port", str(port))
    assert code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in out and "Traceback" not in out


def test_port_out_of_range_and_half_credentials() -> None:
    code, out = serve("--port", "99999")
    assert code == 1 and "--port 99999: expected 0-65535" in out
    code, out = serve("--password", "x")
    assert code == 1 and "--username and --password go together" in out


def test_damaged_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{broken")
    code, out = serve("--state", str(state), "--port", "0")
    assert code == 1
    assert "the sandbox state file is damaged" in out and "delete it to start afresh" in out
