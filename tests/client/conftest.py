"""Fixtures for the client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_fakes import FakeES, sync_client

from reconciler import MLClient


@pytest.fixture
def fake() -> FakeES:
    return FakeES()


@pytest.fixture
def client(fake: FakeES) -> Iterator[MLClient]:
    c = sync_client(fake)
    yield c
    c.close()
