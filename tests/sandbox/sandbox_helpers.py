"""Helpers shared by the sandbox tests (clock, JSON API wrapper, job bodies)."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.sandbox import Sandbox


class Clock:
    """A manual clock so transition tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Thin JSON helper over an httpx client bound to a sandbox."""

    def __init__(self, client: httpx.Client, sandbox: Sandbox) -> None:
        self.client = client
        self.sandbox = sandbox

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
        return self.client.request(method, path, json=body, params=query)

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.call(method, path, body, **params)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    def error(
        self, status: int, method: str, path: str, body: Any = None, **params: Any
    ) -> dict[str, Any]:
        resp = self.call(method, path, body, **params)
        assert resp.status_code == status, resp.text
        err: dict[str, Any] = resp.json()["error"]
        assert resp.json()["status"] == status
        assert err["root_cause"][0]["type"] == err["type"]
        return err

    def seed(self, job_id: str, body: dict[str, Any]) -> Any:
        return self.ok("POST", f"/_sandbox/anomaly_detectors/{job_id}/results", body)


MINIMAL_JOB = {"analysis_config": {"detectors": [{"function": "count"}]}, "data_description": {}}


def job_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "analysis_config": {
            "bucket_span": "15m",
            "detectors": [{"function": "mean", "field_name": "amount", "by_field_name": "user"}],
            "influencers": ["user"],
        },
        "data_description": {"time_field": "@timestamp"},
    }
    body.update(overrides)
    return body
