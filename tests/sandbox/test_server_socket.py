"""The HTTP server answers in one send on a TCP_NODELAY socket (no Nagle / delayed-ACK stall)."""

from __future__ import annotations

import socket
from typing import Any

from reconciler.sandbox import Sandbox
from reconciler.sandbox.server import make_server


class RecordingSocket:
    """An accepted socket that records every `sendall`/`send` and forwards everything else."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends: list[bytes] = []
        self.nodelay = 0

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))
        self.sock.sendall(data)

    def send(self, data: bytes) -> int:
        self.sends.append(bytes(data))
        return self.sock.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def serve_one(raw_request: bytes) -> tuple[RecordingSocket, bytes]:
    """Run the server's handler on one real TCP connection carrying `raw_request`."""
    server = make_server(Sandbox(), "127.0.0.1", 0)
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as client:
            accepted, address = server.socket.accept()
            with accepted:
                recording = RecordingSocket(accepted)
                client.sendall(raw_request)
                # `Connection: close`: the handler answers once and returns.
                server.RequestHandlerClass(recording, address, server)  # type: ignore[arg-type]
                recording.nodelay = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                accepted.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := client.recv(65536):
                    received += chunk
    finally:
        server.server_close()
    return recording, received


def test_answer_is_one_send_on_a_nodelay_socket() -> None:
    recording, received = serve_one(
        b"GET /_ml/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert recording.nodelay != 0
    assert len(recording.sends) == 1
    head, _, body = recording.sends[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"X-Elastic-Product: Elasticsearch" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert body.startswith(b"{") and b'"limits"' in body
    assert received == recording.sends[0]


def test_head_answer_has_no_body() -> None:
    recording, _ = serve_one(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(recording.sends) == 1
    assert recording.sends[0].endswith(b"\r\n\r\n")
    assert recording.sends[0].startswith(b"HTTP/1.1 200 OK\r\n")
