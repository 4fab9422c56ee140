"""A faithful emulator of the Elasticsearch 8.x/9.x machine-learning REST API.

Input: HTTP requests (in process through httpx transports, or over a real socket). Output:
Elasticsearch-shaped responses. I/O: optional SQLite state file; the server module does network I/O.
It imports nothing from the rest of `reconciler` (import contract in pyproject.toml).
"""

from reconciler.sandbox.emulator import Sandbox, SandboxResponse
from reconciler.sandbox.server import RunningServer, serve, start_in_thread
from reconciler.sandbox.store import StateFileError
from reconciler.sandbox.transports import AsyncSandboxTransport, SandboxTransport

__all__ = [
    "AsyncSandboxTransport",
    "RunningServer",
    "Sandbox",
    "SandboxResponse",
    "SandboxTransport",
    "StateFileError",
    "serve",
    "start_in_thread",
]
