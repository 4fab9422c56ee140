"""Live-cluster tests: run only with `pytest -m live` and MLSYNC_TEST_ES_URL set (see
.github/workflows/live-es.yml, which starts the official Elasticsearch container with a trial
licence)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def live_url() -> str:
    url = os.environ.get("MLSYNC_TEST_ES_URL")
    if not url:
        pytest.fail(
            "set MLSYNC_TEST_ES_URL to an Elasticsearch with ML (trial licence) to run -m live"
        )
    return url
