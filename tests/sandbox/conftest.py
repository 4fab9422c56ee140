"""Fixtures for the sandbox tests: an in-memory emulator, a controllable clock, an httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import Api, Clock

from reconciler.sandbox import Sandbox, SandboxTransport, overlay


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(clock=clock)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://sandbox") as client:
        yield Api(client, sandbox)


@pytest.fixture(autouse=True)
def check_shared_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sandbox test also checks that read-only requests change no value in place."""
    monkeypatch.setattr(overlay, "CHECK_SHARED_READS", True)
