"""Fixtures for the apply tests: an in-process sandbox and the real client over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apply_helpers import new_client, new_sandbox

from reconciler.client import MLClient
from reconciler.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Sandbox:
    return new_sandbox()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[MLClient]:
    c = new_client(sandbox)
    yield c
    c.close()
