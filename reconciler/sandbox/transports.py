"""httpx transports that send requests straight into a `Sandbox`, in process.

Input: `httpx.Request`s. Output: `httpx.Response`s; fault signals become what a real network
would produce: a dropped connection raises `httpx.RemoteProtocolError` (request not applied), a
"timeout" fault raises `httpx.ReadTimeout` after the request WAS applied, injected latency
sleeps (`time.sleep` / `asyncio.sleep`). No other I/O.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from reconciler.sandbox.emulator import Sandbox, SandboxResponse


def _target(request: httpx.Request) -> str:
    return request.url.raw_path.decode("ascii")


def _finish(request: httpx.Request, answer: SandboxResponse) -> httpx.Response:
    if answer.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if answer.timeout:
        raise httpx.ReadTimeout(
            "timed out (sandbox fault: request applied, answer lost)", request=request
        )
    return httpx.Response(
        answer.status, headers=answer.headers, content=answer.body, request=request
    )


class SandboxTransport(httpx.BaseTransport):
    """Synchronous in-process transport: `httpx.Client(transport=SandboxTransport(sb))`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Route the request into the sandbox."""
        body = request.read()
        answer = self.sandbox.handle(request.method, _target(request), dict(request.headers), body)
        if answer.latency > 0:
            time.sleep(answer.latency)
        return _finish(request, answer)


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    """Asynchronous in-process transport: `httpx.AsyncClient(transport=...)`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route the request into the sandbox (the sandbox itself is synchronous and fast)."""
        body = await request.aread()
        answer = self.sandbox.handle(request.method, _target(request), dict(request.headers), body)
        if answer.latency > 0:
            await asyncio.sleep(answer.latency)
        return _finish(request, answer)
