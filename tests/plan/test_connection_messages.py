"""Connection problems name the URL, where it came from and which credentials were used."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.client import ConnectionConfig
from reconciler.commands.common import describe_connection


class Redirecting(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(307)
        self.send_header("Location", "https://es.example.com:9243/")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("MLSYNC_", "ELASTICSEARCH_")):
            monkeypatch.delenv(name)


def test_describe_connection_names_sources_never_secrets() -> None:
    config = ConnectionConfig.resolve(
        {"url": None}, {"MLSYNC_URL": "https://es:9200", "ELASTICSEARCH_API_KEY": "c2VjcmV0"}
    )
    text = describe_connection(config)
    assert text == "https://es:9200 (URL from MLSYNC_URL; API key from ELASTICSEARCH_API_KEY)"
    assert "c2VjcmV0" not in text
    basic = ConnectionConfig.resolve(
        {"url": ["http://h:9200"], "username": "u"}, {"ELASTICSEARCH_PASSWORD": "pw"}
    )
    assert describe_connection(basic) == (
        "http://h:9200 (URL from --url; basic auth from --username, ELASTICSEARCH_PASSWORD)"
    )


def test_refused_connection_names_the_url_and_credential_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean_env(monkeypatch)
    monkeypatch.setenv("MLSYNC_API_KEY", "c2VjcmV0")
    result = CliRunner().invoke(main, ["plan", "--url", "http://127.0.0.1:1", "--timeout", "1"])
    assert result.exit_code == 1
    assert (
        "Error: cannot use Elasticsearch at http://127.0.0.1:1 (URL from --url; API key from "
        "MLSYNC_API_KEY): GET / -> could not connect" in result.stderr
    )
    assert "c2VjcmV0" not in result.output and "Traceback" not in result.output


def test_a_redirect_shows_its_location(
    monkeypatch: pytest.MonkeyPatch, redirecting_server: str
) -> None:
    clean_env(monkeypatch)
    monkeypatch.setenv("ELASTICSEARCH_URL", redirecting_server)
    result = CliRunner().invoke(main, ["plan"])
    assert result.exit_code == 1
    assert f"at {redirecting_server} (URL from ELASTICSEARCH_URL; no credentials)" in result.stderr
    assert "307 redirect: the server redirects to https://es.example.com:9243/" in result.stderr
