"""Answers from Elasticsearch are untrusted: a proxy that mutates them must never crash mlsync.

A transport between the client and the sandbox rewrites a share of the GET answers the reader
uses: one key dropped, one value nulled or replaced by a value of another type, anywhere in the
body. `mlsync plan` must then either plan (the mutation was harmless: an optional field) or
stop with "unexpected answer from Elasticsearch to GET ...", exit code 1 and no traceback.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import reconciler.sandbox
from reconciler.cli import main
from reconciler.sandbox import SandboxTransport

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
OTHER_TYPE: list[Any] = ["text", 7, 2.5, True, [1], {"x": 1}]


def nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON tree (except the root)."""
    out = []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        out.append((*path, key))
        out += nodes(child, (*path, key))
    return out


def mutate(body: Any, rng: random.Random) -> tuple[Any, str]:
    """One random mutation: drop a key, null a value, or give it another type."""
    positions = nodes(body)
    if not positions:
        return body, "nothing to mutate"
    where = rng.choice(positions)
    parent = body
    for key in where[:-1]:
        parent = parent[key]
    last = where[-1]
    current = parent[last]
    ops = ["null", "retype"] + (["drop"] if isinstance(parent, dict) else [])
    op = rng.choice(ops)
    if op == "drop":
        del parent[last]
    elif op == "null":
        parent[last] = None
    else:
        parent[last] = rng.choice([v for v in OTHER_TYPE if type(v) is not type(current)])
    return body, f"{op} {'.'.join(map(str, where))}"


class MutatingTransport(SandboxTransport):
    """Rewrites `rate` of the ML GET answers (not the preflight's `/_ml/info`)."""

    rng = random.Random(0)
    rate = 0.3
    log: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = super().handle_request(request)
        path = request.url.path
        if request.method != "GET" or not path.startswith("/_ml/") or path == "/_ml/info":
            return answer
        if self.rng.random() >= self.rate:
            return answer
        body, what = mutate(json.loads(answer.read()), self.rng)
        self.log.append(f"GET {path}: {what}")
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        return httpx.Response(answer.status_code, headers=headers, json=body, request=request)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox state holding the example manifests, applied (jobs, datafeeds, DFA, ...)."""
    state = tmp_path_factory.mktemp("answers") / "state.json"
    result = CliRunner().invoke(
        main,
        ["apply", str(MANIFESTS), "--auto-approve", "--sandbox", "--sandbox-state", str(state)],
    )
    assert result.exit_code == 0, result.output
    return state


def plan(state: Path) -> Any:
    return CliRunner().invoke(
        main, ["plan", str(MANIFESTS), "--sandbox", "--sandbox-state", str(state)]
    )


def test_mutated_answers_never_crash_the_plan(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler.sandbox, "SandboxTransport", MutatingTransport)
    MutatingTransport.rng = random.Random(20261201)
    trials, refused, planned = 120, 0, 0
    for trial in range(trials):
        MutatingTransport.log = []
        result = plan(seeded)
        mutations = "; ".join(MutatingTransport.log)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        assert not crashed, f"trial {trial} ({mutations}): {result.exception!r}\n{result.output}"
        assert "Traceback" not in result.output, f"trial {trial} ({mutations})"
        if result.exit_code == 0:
            planned += 1
            continue
        assert result.exit_code == 1, result.output
        assert "Error: unexpected answer from Elasticsearch to GET /_ml/" in result.output, (
            f"trial {trial} ({mutations}):\n{result.output}"
        )
        refused += 1
    print(
        f"mutated-answer trials: {trials}, refused with a clear error: {refused}, "
        f"planned: {planned}"
    )
    # The mutations did land: many plans were refused, and harmless ones still planned.
    assert refused >= trials // 4, (refused, planned)
    assert planned > 0


@pytest.mark.parametrize(
    ("path", "mutation", "message"),
    [
        (
            "/_ml/anomaly_detectors/_all",
            lambda b: b.pop("jobs"),
            "to GET /_ml/anomaly_detectors/_all: the answer has no 'jobs' list",
        ),
        (
            "/_ml/anomaly_detectors/_all/_stats",
            lambda b: b["jobs"][0].update(state=None),
            "jobs[0].state: input should be a valid string (got null)",
        ),
        (
            # Datafeeds are read from their jobs' answer (`datafeed_config`, embedded by ES).
            "/_ml/anomaly_detectors/_all",
            lambda b: next(j for j in b["jobs"] if "datafeed_config" in j)[
                "datafeed_config"
            ].update(indices="logs-*"),
            "datafeed_config.indices: input should be a valid list (got a string)",
        ),
        (
            "/_ml/calendars",
            lambda b: b["calendars"][0].update(job_ids=7),
            "calendars[0].job_ids: input should be a valid list (got a number)",
        ),
        (
            "/_ml/data_frame/analytics/_all",
            lambda b: b["data_frame_analytics"][0].pop("dest"),
            "data_frame_analytics[0].dest: field required (got nothing)",
        ),
    ],
)
def test_each_broken_answer_is_named_with_its_get_and_field(
    seeded: Path, monkeypatch: pytest.MonkeyPatch, path: str, mutation: Any, message: str
) -> None:
    class OneMutation(SandboxTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = super().handle_request(request)
            if request.method != "GET" or request.url.path != path:
                return answer
            body = json.loads(answer.read())
            mutation(body)
            return httpx.Response(answer.status_code, json=body, request=request)

    monkeypatch.setattr(reconciler.sandbox, "SandboxTransport", OneMutation)
    result = plan(seeded)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Error: unexpected answer from Elasticsearch to GET" in result.output
    assert message in result.output


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_an_answer_with_a_number_json_cannot_hold_is_refused(
    seeded: Path, monkeypatch: pytest.MonkeyPatch, constant: str
) -> None:
    # Python's JSON parser reads these tokens; Elasticsearch never writes them, and a NaN in a
    # live body would differ from itself in every plan (and print as null in a fingerprint).
    class NotANumber(SandboxTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = super().handle_request(request)
            if request.method != "GET" or request.url.path != "/_ml/anomaly_detectors/_all":
                return answer
            body = json.loads(answer.read())
            # In a free-form part, which no shape check types.
            body["jobs"][0].setdefault("custom_settings", {})["weight"] = "@@"
            text = json.dumps(body).replace('"@@"', constant)
            headers = {"content-type": "application/json"}
            return httpx.Response(answer.status_code, headers=headers, text=text)

    monkeypatch.setattr(reconciler.sandbox, "SandboxTransport", NotANumber)
    result = plan(seeded)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert (
        "Error: unexpected answer from Elasticsearch to GET /_ml/anomaly_detectors" in result.output
    )
