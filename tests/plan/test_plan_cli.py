"""`mlsync plan` through the CLI: exit codes, saved plans, targeting, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.client import MLClient
from reconciler.commands.plan import plan as plan_command
from reconciler.model import Action, Call, Change, Kind, Plan, Ref, Risk
from reconciler.planfile import load_plan
from reconciler.render import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.sandbox import Sandbox, SandboxTransport

JOB_YAML = """\
kind: AnomalyDetectionJob
id: tx
state: opened
spec:
  analysis_config:
    bucket_span: 15m
    detectors: [{function: count}]
  data_description: {time_field: "@timestamp"}
datafeed:
  id: tx-feed
  state: started
  spec: {indices: [tx-*]}
---
kind: Filter
id: safe
spec: {items: [a, b]}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "ml.yaml").write_text(JOB_YAML)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(plan_command, list(args))
    return result.exit_code, result.stdout, result.stderr


def requests_sent(state: Path) -> int:
    client = MLClient(
        hosts=["http://sandbox:9200"], transport=SandboxTransport(Sandbox(state_file=state))
    )
    total = int(client.perform(Call(method="GET", path="/_sandbox/requests")).body["total"])
    client.close()
    return total


def test_detailed_exitcode(workdir: Path) -> None:
    code, out, err = invoke("--sandbox", "--detailed-exitcode")
    assert code == 2
    assert "Plan: 3 to create" in out
    assert "Connected to mlsync-sandbox" in err
    assert invoke("--sandbox")[0] == 0


def test_saved_plan_holds_steps_and_fingerprint(workdir: Path) -> None:
    code, _, err = invoke("--sandbox", "--out", "plan.json")
    assert code == 0 and "Saved the plan to plan.json" in err
    saved = load_plan(workdir / "plan.json")
    assert [s.op for s in saved.steps] == [
        *["add-member"] * 3,
        *["create"] * 3,
        "open",
        "start",
    ]
    assert len(saved.live_fingerprint) == 64
    assert saved.request_count == 12


def test_json_format_is_versioned_and_counts_requests(workdir: Path) -> None:
    code, out, _ = invoke("--sandbox", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["format_version"] == "1"
    assert document["request_count"] == 12
    assert [c["address"] for c in document["resource_changes"]] == [
        "Filter/safe",
        "AnomalyDetectionJob/tx",
        "Datafeed/tx-feed",
    ]
    # Every counter, zeros included, so `jq .summary.delete` never reads null.
    assert document["summary"] == {
        "no-op": 0,
        "create": 3,
        "update": 0,
        "restart-update": 0,
        "replace": 0,
        "delete": 0,
        "adopt": 0,
        "open": 0,
        "close": 0,
        "start": 0,
        "stop": 0,
    }


def test_target_limits_the_plan(workdir: Path) -> None:
    code, out, _ = invoke("--sandbox", "--target", "Filter/safe")
    assert code == 0
    assert "Filter/safe will be created" in out and "AnomalyDetectionJob" not in out
    assert "Warning: resource targeting is in effect" in out
    code, _, err = invoke("--sandbox", "--target", "Widget/x")
    assert code == 1 and "unknown kind 'Widget'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("filter/safe", ["Filter/safe"]),
        ("FILTER/s*", ["Filter/safe"]),
        ("job/t?", ["AnomalyDetectionJob/tx", "Datafeed/tx-feed"]),
        ("datafeed/*", ["AnomalyDetectionJob/tx", "Datafeed/tx-feed"]),
        ("AnomalyDetectionJob/*", ["AnomalyDetectionJob/tx", "Datafeed/tx-feed"]),
        ("*/safe", ["Filter/safe"]),
    ],
)
def test_target_short_kinds_and_globs(workdir: Path, target: str, expected: list[str]) -> None:
    code, out, err = invoke("--sandbox", "--format", "json", "--target", target)
    assert code == 0, err
    document = json.loads(out)
    assert [c["address"] for c in document["resource_changes"]] == expected


@pytest.mark.parametrize("target", ["dfa/*", "job/nope", "DataFrameAnalytics/*", "filter/x*"])
def test_target_matching_nothing_is_an_error(workdir: Path, target: str) -> None:
    code, out, err = invoke("--sandbox", "--target", target)
    assert code == 1 and out == ""
    assert f"--target {target}: matches no resource" in err and "Traceback" not in err


def test_bad_manifest_sends_nothing(workdir: Path) -> None:
    (workdir / "manifests" / "bad.yaml").write_text(
        "kind: AnomalyDetectionJob\nid: tx2\nspec:\n"
        "  analysis_config: {detectors: [{function: count}]}\n"
        "  data_description: {}\n"
        "  bucket_spam: 15m\n"
    )
    code, out, err = invoke("--sandbox", "--sandbox-state", "state.json")
    assert code == 1
    assert "manifests/bad.yaml:6:3: unknown field 'bucket_spam'" in err
    assert "nothing was sent to the cluster" in err
    assert "Traceback" not in err + out
    assert not (workdir / "state.json").exists() or requests_sent(workdir / "state.json") == 0


def test_no_cluster_is_a_clear_error(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLSYNC_URL",
        "ELASTICSEARCH_URL",
        "ELASTICSEARCH_ENDPOINTS",
        "MLSYNC_CLOUD_ID",
        "ELASTICSEARCH_CLOUD_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    code, _, err = invoke()
    assert code == 1
    assert "no cluster given" in err and "--sandbox" in err


def test_unreachable_cluster_is_reported_without_traceback(workdir: Path) -> None:
    code, _, err = invoke("--url", "http://127.0.0.1:9", "--timeout", "2")
    assert code == 1
    assert err.startswith("Error: ") and "Traceback" not in err


def test_dangling_reference_is_a_plan_error(workdir: Path) -> None:
    (workdir / "manifests" / "feed.yaml").write_text(
        "kind: Datafeed\nid: orphan\nspec: {job_id: nowhere, indices: [x]}\n"
    )
    code, _, err = invoke("--sandbox")
    assert code == 1
    assert (
        "refers to job 'nowhere', which exists neither in the manifests nor on the cluster" in err
    )


def test_markdown_stays_under_the_github_comment_limit() -> None:
    big = tuple(
        Change(
            ref=Ref(kind=Kind.JOB, id=f"job-{i:04d}"),
            action=Action.CREATE,
            risk=Risk.SAFE,
            reasons=("x" * 300,),
        )
        for i in range(2000)
    )
    text = render_markdown(Plan(changes=big))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "omitted to stay under GitHub's comment size limit" in text
    assert text.startswith("<!-- mlsync:plan env=default -->")


def test_github_actions_outputs_and_summary(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(workdir / "out.txt"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(workdir / "summary.md"))
    code, _, _ = invoke("--sandbox")
    assert code == 0
    outputs = dict(line.split("=", 1) for line in (workdir / "out.txt").read_text().splitlines())
    assert outputs == {
        "has_changes": "true",
        "create": "3",
        "update": "0",
        "restart_update": "0",
        "replace": "0",
        "delete": "0",
    }
    summary = (workdir / "summary.md").read_text()
    assert summary.startswith("<!-- mlsync:plan env=default -->")
    assert "`AnomalyDetectionJob/tx`" in summary


def test_text_plan_is_coloured_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from reconciler.commands.common import echo_plan

    text = (
        "  + Filter/x will be created\n"
        "  -/+ AnomalyDetectionJob/y must be replaced\n"
        "Plan: 1 to create.\n"
    )
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    echo_plan(text)
    coloured = capsys.readouterr().out
    assert "\x1b[32m" in coloured and "\x1b[31m" in coloured
    assert "+ Filter/x will be created" in coloured  # the symbol stays
    monkeypatch.setenv("NO_COLOR", "1")
    echo_plan(text)
    assert capsys.readouterr().out == text


def test_bad_flags_exit_1_not_2(workdir: Path) -> None:
    # 2 means "changes present" with --detailed-exitcode; a typo must never look like that.
    from reconciler.cli import main

    for argv in (
        ["plan", "--bogus"],
        ["plan", "--format", "yaml"],
        ["apply", "--concurrency", "0"],
    ):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 1, (argv, result.output)
        assert "Error:" in result.output and "Traceback" not in result.output


def test_damaged_embedded_sandbox_state_is_a_clear_error(workdir: Path) -> None:
    (workdir / ".mlsync").mkdir()
    (workdir / ".mlsync" / "sandbox.db").write_text("{broken")
    code, out, err = invoke("--sandbox")
    assert code == 1
    assert "the sandbox state file is damaged" in err and "Traceback" not in err + out


def test_unwritable_github_output_is_a_warning(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(workdir / "missing-dir" / "out.txt"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, _, err = invoke("--sandbox")
    assert code == 0
    assert "Warning: could not write the GitHub Actions outputs" in err
