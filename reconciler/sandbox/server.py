"""A real HTTP/1.1 server in front of a `Sandbox` (stdlib `ThreadingHTTPServer`).

Input: TCP connections. Output: HTTP responses with Content-Length and keep-alive. Does network
I/O. Dropped-connection faults close the socket without an answer; "timeout" faults apply the
request, keep the connection silent for the rule's `hold` seconds, then close it.

Every answer leaves in one `send` on a socket with TCP_NODELAY: with Nagle's algorithm on and the
head and body in two writes, the second write waits for the client's delayed ACK (about 40 ms on
Linux) and every request would take that long.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from reconciler.sandbox.emulator import Sandbox


def _handler_class(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mlsync-sandbox"
        sys_version = ""
        # StreamRequestHandler.setup sets TCP_NODELAY on the accepted socket.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            """Silence the per-request stderr log."""

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._body()
            answer = sandbox.handle(self.command, self.path, dict(self.headers.items()), body)
            if answer.latency > 0:
                time.sleep(answer.latency)
            if answer.drop or answer.timeout:
                if answer.timeout:
                    time.sleep(answer.hold)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            reason = self.responses.get(answer.status, ("",))[0]
            head = [
                f"{self.protocol_version} {answer.status} {reason}",
                f"Server: {self.version_string()}",
                f"Date: {self.date_time_string()}",
                *(f"{name}: {value}" for name, value in answer.headers.items()),
                f"Content-Length: {len(answer.body)}",
            ]
            payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            if self.command != "HEAD":
                payload += answer.body
            # One write: head and body in one segment (see the module docstring).
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


class RunningServer:
    """A server running in a background thread (tests); a context manager."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def make_server(sandbox: Sandbox, host: str, port: int) -> ThreadingHTTPServer:
    """Bind a threading HTTP server for the sandbox."""
    server = ThreadingHTTPServer((host, port), _handler_class(sandbox))
    server.daemon_threads = True
    return server


def start_in_thread(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve in a daemon thread; `port=0` picks a free port (see `.url`)."""
    server = make_server(sandbox, host, port)
    thread = threading.Thread(target=server.serve_forever, name="mlsync-sandbox", daemon=True)
    thread.start()
    return RunningServer(server, thread)


def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 9200) -> None:
    """Serve until Ctrl-C (blocking); closes the socket cleanly."""
    server = make_server(sandbox, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
