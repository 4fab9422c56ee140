"""Secret scanning: no form of any configured secret reaches any output, through the CLI.

Every credential form (API key as `id:key` and encoded, bearer token, basic auth, user and
password in the URL, with and without unencoded `/` and `#`) meets every failure path (wrong
credentials answered as JSON, a text error page long enough to be cut, a JSON error echoing
all headers, an unreachable host, an untrusted TLS certificate) and a working cluster behind a
proxy that copies the Authorization header into the resources it returns. plan, apply,
validate and force-unlock run against each; stdout, stderr, the saved plan file and the GitHub
output files are then searched for every form of every secret: raw, Python repr, JSON-escaped,
URL-encoded, base64 of `user:password` / `id:key`, and the first and last 8 characters of each.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.sandbox import Sandbox

HERE = Path(__file__).parent
KEY_ID, KEY = "scan-key-id", 'k3y"S3CRET/va#lue\\x'
USER, PASSWORD = "elastic", 'pw"S3CRET/pa#ss%word'
BEARER = "bearer-S3CRET-token-0123456789"
URL_PASSWORD = "url/S3CRET#pass?word"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms(secret: str) -> set[str]:
    """Spellings of `secret` a leak could take (computed here, not by the code under test)."""
    spelled = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        b64(secret),
    }
    cut = {s[:8] for s in spelled if len(s) >= 8} | {s[-8:] for s in spelled if len(s) >= 8}
    return spelled | cut


#: name -> (extra argv, environment, the URL template, the secrets to look for)
CREDENTIALS: dict[str, tuple[list[str], dict[str, str], str, list[str]]] = {
    "api_key_id_key": (
        ["--api-key", f"{KEY_ID}:{KEY}"],
        {},
        "{scheme}://{host}",
        [KEY, f"{KEY_ID}:{KEY}"],
    ),
    "api_key_encoded": (
        [],
        {"MLSYNC_API_KEY": b64(f"{KEY_ID}:{KEY}")},
        "{scheme}://{host}",
        [KEY, f"{KEY_ID}:{KEY}", b64(f"{KEY_ID}:{KEY}")],
    ),
    "bearer": (["--bearer-token", BEARER], {}, "{scheme}://{host}", [BEARER]),
    "basic": (
        ["--username", USER],
        {"MLSYNC_PASSWORD": PASSWORD},
        "{scheme}://{host}",
        [PASSWORD, f"{USER}:{PASSWORD}"],
    ),
    "url_encoded": (
        [],
        {},
        "{scheme}://" + USER + ":" + quote(PASSWORD, safe="") + "@{host}",
        [PASSWORD, f"{USER}:{PASSWORD}", quote(PASSWORD, safe="")],
    ),
    "url_unencoded": (
        [],
        {},
        "{scheme}://" + USER + ":" + URL_PASSWORD + "@{host}",
        [URL_PASSWORD, f"{USER}:{URL_PASSWORD}"],
    ),
}


class Echo(BaseHTTPRequestHandler):
    """A hostile server: every answer repeats the credentials it received."""

    mode = "json_401"
    sandbox: Sandbox | None = None

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("authorization", "")
        headers = dict(self.headers.items())
        if self.mode == "success":
            self._proxy(body, auth)
            return
        if self.mode == "json_401":
            status, ctype = 401, "application/json"
            reason = f"unable to authenticate with [{auth}] headers={json.dumps(headers)}"
            payload = json.dumps({"error": {"type": "security_exception", "reason": reason}})
        elif self.mode == "json_500":
            status, ctype = 500, "application/json"
            error = {
                "type": "exception",
                "reason": f"proxy saw {headers!r}",
                "caused_by": {"type": "x", "reason": json.dumps({"auth": auth})},
            }
            payload = json.dumps({"error": error, "status": 500})
        else:  # text_cut: the header value straddles the 500th character of the page
            status, ctype = 400, "text/html"
            payload = "<html>" + "x" * 459 + f"Authorization: {auth} " + repr(headers) + "</html>"
        data = payload.encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.send_header("x-elastic-product", "Elasticsearch")
        self.end_headers()
        self.wfile.write(data)

    def _proxy(self, body: bytes, auth: str) -> None:
        assert self.sandbox is not None
        answer = self.sandbox.handle(self.command, self.path, dict(self.headers.items()), body)
        data = answer.body
        if self.command == "GET" and self.path.startswith("/_ml/filters"):
            # Live state that holds the secret: it reaches the plan, its file and GitHub.
            doc = json.loads(data)
            for item in doc.get("filters", []):
                item["description"] = f"seen {auth} {json.dumps(auth)}"
            data = json.dumps(doc).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """One plain server per mode, one TLS server with an untrusted certificate."""
    running: list[ThreadingHTTPServer] = []
    hosts: dict[str, str] = {}
    sandbox = Sandbox(implicit_indices=True)
    seeded = sandbox.handle(
        "PUT",
        "/_ml/filters/scanned_filter",
        {"content-type": "application/json"},
        b'{"items":["a"]}',
    )
    assert seeded.status == 200, seeded.body
    for mode in ("json_401", "json_500", "text_cut", "success", "tls"):
        handler = type(f"Echo_{mode}", (Echo,), {"mode": mode, "sandbox": sandbox})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if mode == "tls":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(HERE / "untrusted-cert.pem", HERE / "untrusted-key.pem")
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
        hosts[mode] = f"127.0.0.1:{server.server_address[1]}"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        hosts["unreachable"] = f"127.0.0.1:{probe.getsockname()[1]}"
    yield hosts
    for server in running:
        server.shutdown()
        server.server_close()


MANIFEST = """kind: Filter
id: scanned_filter
spec:
  description: managed by mlsync
  items: [a, b]
"""


def _scan(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert form not in text, f"{where} contains {form!r} (a form of a secret)"


@pytest.mark.parametrize(
    "mode", ["json_401", "json_500", "text_cut", "unreachable", "tls", "success"]
)
@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_no_secret_in_any_output(
    servers: dict[str, str],
    credential: str,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # retries without waiting
    argv, environ, url_template, secrets = CREDENTIALS[credential]
    scheme = "https" if mode == "tls" else "http"
    url = url_template.format(scheme=scheme, host=servers[mode])
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "f.yaml").write_text(MANIFEST)
    plan_file = tmp_path / "plan.json"
    github_output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = {
        **environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    connection = ["--url", url, *argv, "--timeout", "5"]
    runs = [
        ["plan", str(manifests), "--out", str(plan_file), *connection],
        ["plan", str(manifests), "--format", "json", *connection],
        ["plan", str(manifests), "--format", "markdown", *connection],
        ["apply", str(manifests), "--auto-approve", *connection],
        ["validate", str(manifests)],
        ["force-unlock", "--force", "some-lock-id", *connection],
    ]
    if mode == "success":
        runs.insert(1, ["apply", "--plan", str(plan_file), "--auto-approve", *connection])
    outputs = []
    for run in runs:
        result = CliRunner().invoke(main, run, env=env)
        outputs.append(result.output + (result.stderr if result.stderr_bytes else ""))
        if mode != "success" and run[0] in ("plan", "apply", "force-unlock"):
            assert result.exit_code == 1, (run, result.output)
            assert "Traceback" not in result.output
    if mode == "success":
        # The secret really was in the live state: the plan shows the description change.
        assert "description" in outputs[0], outputs[0]
    for run, output in zip(runs, outputs, strict=True):
        _scan(output, secrets, f"output of mlsync {run[0]}")
    for path in (plan_file, github_output, summary):
        if path.exists():
            _scan(path.read_text(), secrets, path.name)


def test_certificate_failure_is_not_retried_and_says_what_to_do(
    servers: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "f.yaml").write_text(MANIFEST)
    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["plan", str(tmp_path), "--url", f"https://{servers['tls']}", "--timeout", "5"]
    )
    assert result.exit_code == 1
    assert "after" not in result.output.split("Error:")[-1]  # no "after 4 attempts"
    assert "retrying" not in result.output
    assert "--ca-cert" in result.output and "SSL_CERT_FILE" in result.output
    assert time.monotonic() - started < 5


def test_ssl_cert_file_is_honoured(servers: dict[str, str], tmp_path: Path) -> None:
    """SSL_CERT_FILE names the CA when --ca-cert is not given (the server's own cert here)."""
    (tmp_path / "f.yaml").write_text(MANIFEST)
    env = {"SSL_CERT_FILE": str(HERE / "untrusted-cert.pem")}
    result = CliRunner().invoke(
        main,
        ["plan", str(tmp_path), "--url", f"https://{servers['tls']}", "--timeout", "5"],
        env=env,
    )
    # The handshake now succeeds: the echo server's own JSON error comes back instead.
    assert "certificate is not trusted" not in result.output
    assert "-> 400 http_error" in result.output


@pytest.mark.parametrize(
    "flag",
    [
        ["--bearer-token", BEARER + "\r"],
        ["--bearer-token", BEARER + "\n"],
        ["--api-key", f"{KEY_ID}:{KEY}\r\n"],
        ["--api-key", b64(f"{KEY_ID}:{KEY}") + "\x00"],
        ["--username", USER, "--password", PASSWORD + "\n"],
    ],
)
def test_control_characters_in_credentials_are_refused(
    servers: dict[str, str], flag: list[str], tmp_path: Path
) -> None:
    (tmp_path / "f.yaml").write_text(MANIFEST)
    result = CliRunner().invoke(
        main, ["plan", str(tmp_path), "--url", f"http://{servers['json_401']}", *flag]
    )
    assert result.exit_code == 1
    assert "control character" in result.output
    assert "connection lost" not in result.output and "retry" not in result.output
    _scan(result.output, [BEARER, KEY, PASSWORD, b64(f"{KEY_ID}:{KEY}")], "output")


@pytest.mark.parametrize("password", ["Fz8q/Kp2w#Lm5v", "Fz8q#Kp2w/Lm5v", "Fz8q?Kp2w/Lm5v#Rr3t"])
def test_unencoded_password_in_url_never_crashes_or_prints(password: str, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(MANIFEST)
    for url in (f"http://elastic:{password}@127.0.0.1:notaport", f"ftp://elastic:{password}@h"):
        result = CliRunner().invoke(main, ["plan", str(tmp_path), "--url", url])
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert "invalid Elasticsearch URL" in result.output
        for piece in (password, *password.replace("#", "/").replace("?", "/").split("/")):
            # Each 4-character piece is distinctive: none may appear (the old crash printed
            # the part before the first `/` as a port).
            assert piece not in result.output, piece
