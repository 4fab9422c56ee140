"""Live checks through the CLI against a served sandbox: each finding class, end to end.

The sandbox runs without implicit indices, so its indices, mappings and documents are exactly
what each test puts there; the plan talks to it over a real socket with `--url`. Every test
also reads the sandbox's request log to assert that planning (checks included) wrote nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.commands.apply import apply as apply_command
from reconciler.commands.plan import plan as plan_command
from reconciler.sandbox import Sandbox, start_in_thread

#: Read-only POST endpoints the checks may use (everything else must be a GET).
READ_ONLY_POST = re.compile(
    r"/(_field_caps|_validate|_estimate_model_memory|_preview|_explain|_search|_count)$"
)

LOGS_MAPPING = {
    "properties": {
        "@timestamp": {"type": "date"},
        "bytes": {"type": "long"},
        "host": {"type": "keyword"},
        "message": {"type": "text"},
    }
}


def job_yaml(
    *,
    indices: str = "[web-logs]",
    field: str = "bytes",
    feed_state: str = "started",
    job_state: str = "opened",
    limit: str | None = None,
    feed_extra: str = "",
    by: str | None = None,
) -> str:
    limits = f"\n  analysis_limits: {{model_memory_limit: {limit}}}" if limit else ""
    by_field = f", by_field_name: {by}" if by else ""
    return f"""\
kind: AnomalyDetectionJob
id: web
state: {job_state}
spec:
  analysis_config:
    bucket_span: 15m
    detectors: [{{function: mean, field_name: {field}{by_field}}}]
  data_description: {{time_field: "@timestamp"}}{limits}
datafeed:
  id: web-feed
  state: {feed_state}
  spec:
    indices: {indices}{feed_extra}
"""


def dfa_yaml(*, source: str = "tx", dest: str = "tx-outliers", state: str = "started") -> str:
    return f"""\
kind: DataFrameAnalytics
id: tx-outliers
state: {state}
spec:
  source: {{index: [{source}]}}
  dest: {{index: {dest}}}
  analysis: {{outlier_detection: {{}}}}
"""


class Cluster:
    """A served sandbox and an HTTP client to seed it and read its request log."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.server = start_in_thread(sandbox)
        self.url = self.server.url
        self.http = httpx.Client(base_url=self.url)

    def index(self, name: str, mappings: dict[str, Any] | None, docs: list[dict[str, Any]]) -> None:
        if mappings is not None:
            assert self.http.put(f"/{name}", json={"mappings": mappings}).status_code == 200
        for n, doc in enumerate(docs):
            assert self.http.put(f"/{name}/_doc/{n}", json=doc).status_code in (200, 201)

    def reset_log(self) -> None:
        self.http.post("/_sandbox/requests/_reset")

    def log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.http.get("/_sandbox/requests").json()["log"]
        return entries

    def close(self) -> None:
        self.http.close()
        self.server.__exit__(None, None, None)


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests").mkdir()
    running = Cluster(Sandbox(max_model_memory_limit="2gb"))
    yield running
    running.close()


def write(text: str, name: str = "ml.yaml") -> None:
    Path("manifests", name).write_text(text)


def plan(cluster: Cluster, *flags: str) -> tuple[int, str, str]:
    cluster.reset_log()
    result = CliRunner().invoke(plan_command, ["manifests", "--url", cluster.url, *flags])
    return result.exit_code, result.stdout, result.stderr


def assert_read_only(cluster: Cluster) -> None:
    log = cluster.log()
    assert log, "the plan sent no requests"
    for entry in log:
        method, path = entry["method"], entry["path"].split("?")[0]
        assert method == "GET" or (method == "POST" and READ_ONLY_POST.search(path)), entry


def logs_index(cluster: Cluster) -> None:
    cluster.index(
        "web-logs",
        LOGS_MAPPING,
        [{"@timestamp": 1_700_000_000_000 + n, "bytes": n, "host": "a"} for n in range(3)],
    )


# ----------------------------------------------------------------------------- errors


def test_missing_index_fails_the_plan(cluster: Cluster) -> None:
    write(job_yaml(indices="[web-logs]"))
    code, out, err = plan(cluster)
    assert code == 1, err
    assert "Datafeed/web-feed (manifests/ml.yaml:9)" in err
    assert "index web-logs does not exist" in err
    assert "create the index" in err
    assert "Traceback" not in err and out == ""
    assert_read_only(cluster)


def test_pattern_matching_nothing_fails_the_plan(cluster: Cluster) -> None:
    write(job_yaml(indices="[web-*]"))
    code, _, err = plan(cluster)
    assert code == 1
    assert "no index matches web-*" in err


def test_unmapped_field_fails_the_plan(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml(field="latency"))
    code, _, err = plan(cluster)
    assert code == 1, err
    assert "field latency (detectors[0].field_name of job web) has no mapping in web-logs" in err
    assert_read_only(cluster)


def test_runtime_mapped_field_is_fine(cluster: Cluster) -> None:
    logs_index(cluster)
    runtime = (
        "\n    runtime_mappings:"
        "\n      latency: {type: long, script: {source: \"emit(doc['bytes'].value * 2)\"}}"
    )
    write(job_yaml(field="latency", feed_extra=runtime))
    code, out, err = plan(cluster, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    record = document["plan"]["live_checks"]
    assert {"field_caps", "index_resolution", "datafeed_preview"} <= set(record["checks"])
    assert document["warnings"] == []
    # The runtime mapping went to the cluster in the field-capabilities body.
    assert any(e["method"] == "POST" and "_field_caps" in e["path"] for e in cluster.log())
    assert_read_only(cluster)


def test_script_field_counts_as_a_field(cluster: Cluster) -> None:
    logs_index(cluster)
    scripts = "\n    script_fields:\n      doubled: {script: {source: \"doc['bytes'].value * 2\"}}"
    write(job_yaml(field="doubled", feed_extra=scripts))
    code, _, err = plan(cluster)
    assert code == 0, err


def test_limit_above_the_cluster_maximum_fails_the_plan(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml(limit="4gb"))
    code, _, err = plan(cluster)
    assert code == 1, err
    assert "AnomalyDetectionJob/web (manifests/ml.yaml:1)" in err
    assert "model_memory_limit 4096mb is above the cluster's maximum 2048mb" in err
    assert "lower analysis_limits.model_memory_limit to at most 2048mb" in err
    assert err.count("AnomalyDetectionJob/web") == 1  # `_validate` says the same: once
    assert_read_only(cluster)


def test_missing_dfa_source_fails_the_plan(cluster: Cluster) -> None:
    write(dfa_yaml(source="tx"))
    code, _, err = plan(cluster)
    assert code == 1, err
    assert "DataFrameAnalytics/tx-outliers (manifests/ml.yaml:1)" in err
    assert "its source index does not exist" in err
    assert "refuse to create it" in err
    assert_read_only(cluster)


def test_missing_dfa_source_fails_even_when_stopped(cluster: Cluster) -> None:
    # The PUT itself is refused: the desired run state does not matter.
    write(dfa_yaml(source="tx", state="stopped"))
    code, _, err = plan(cluster)
    assert code == 1
    assert "its source index does not exist" in err


def test_non_empty_dfa_destination_fails_the_plan(cluster: Cluster) -> None:
    cluster.index("tx", None, [{"amount": 1.5, "n": 1}, {"amount": 7.0, "n": 2}])
    cluster.index("tx-outliers", None, [{"amount": 1.0}])
    write(dfa_yaml())
    code, _, err = plan(cluster)
    assert code == 1, err
    assert "destination index tx-outliers already holds 1 documents" in err
    assert_read_only(cluster)


def test_dfa_source_without_compatible_fields_fails_the_plan(cluster: Cluster) -> None:
    cluster.index("tx", {"properties": {"note": {"type": "text"}}}, [{"note": "x"}])
    write(dfa_yaml())
    code, _, err = plan(cluster)
    assert code == 1, err
    assert "No compatible fields could be detected in index [tx]" in err


def test_empty_dfa_destination_is_fine(cluster: Cluster) -> None:
    cluster.index("tx", None, [{"amount": 1.5, "n": 1}, {"amount": 7.0, "n": 2}])
    cluster.index("tx-outliers", {"properties": {}}, [])
    write(dfa_yaml())
    code, out, err = plan(cluster, "--format", "json")
    assert code == 0, err
    assert "dfa_dest_index" in json.loads(out)["plan"]["live_checks"]["checks"]


# ----------------------------------------------------------------------------- warnings


def test_limit_below_the_estimate_warns_in_every_format(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml(limit="2mb"))
    expected = "model_memory_limit 2mb is below the estimated 11mb"
    code, out, err = plan(cluster)
    assert code == 0, err
    assert f"Warning: AnomalyDetectionJob/web (manifests/ml.yaml:1): {expected}" in out
    code, out, _ = plan(cluster, "--format", "markdown")
    assert code == 0 and expected in out and "[!WARNING]" in out
    code, out, _ = plan(cluster, "--format", "json", "--out", "saved.json")
    assert code == 0
    assert any(expected in w for w in json.loads(out)["warnings"])
    saved = json.loads(Path("saved.json").read_text())
    assert any(expected in w for w in saved["plan"]["warnings"])
    assert "estimate_model_memory" in saved["plan"]["live_checks"]["checks"]
    assert_read_only(cluster)


def test_stopped_datafeed_over_a_missing_index_only_warns(cluster: Cluster) -> None:
    write(job_yaml(indices="[web-logs]", feed_state="stopped", job_state="closed"))
    code, out, err = plan(cluster)
    assert code == 0, err
    assert "index web-logs does not exist" in out
    assert "it stays stopped, so this only warns" in out
    assert_read_only(cluster)


def test_stopped_datafeed_with_an_unmapped_field_only_warns(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml(field="latency", feed_state="stopped"))
    code, out, err = plan(cluster)
    assert code == 0, err
    assert "field latency" in out and "only warns" in out


# ----------------------------------------------------------------------------- switches, budget


def test_no_live_checks_turns_them_off_and_the_plan_says_so(cluster: Cluster) -> None:
    write(job_yaml(indices="[web-logs]"))
    code, out, err = plan(cluster, "--no-live-checks", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["plan"]["live_checks"] == {
        "enabled": False,
        "checks": [],
        "skipped": [],
        "requests": 0,
        "round_trips": 0,
    }
    assert not any("_field_caps" in e["path"] for e in cluster.log())


def test_checks_add_bounded_requests_and_none_for_a_no_op_plan(cluster: Cluster) -> None:
    logs_index(cluster)
    cluster.index("tx", None, [{"amount": 1.5, "n": 1}])
    write(job_yaml())
    write(dfa_yaml(), "dfa.yaml")
    code, out, _ = plan(cluster, "--format", "json")
    assert code == 0
    checked = json.loads(out)
    code, out, _ = plan(cluster, "--format", "json", "--no-live-checks")
    unchecked = json.loads(out)
    record = checked["plan"]["live_checks"]
    # job: validate + estimate; datafeed: resolve + field caps, then preview; DFA: explain + dest.
    assert record["requests"] == 7 and record["round_trips"] == 2
    assert checked["request_count"] == unchecked["request_count"] + 7
    assert len(cluster.log()) == unchecked["request_count"]

    result = CliRunner().invoke(
        apply_command, ["manifests", "--url", cluster.url, "--auto-approve"]
    )
    assert result.exit_code == 0, result.output
    code, out, _ = plan(cluster, "--format", "json")
    noop = json.loads(out)
    checked_log = sorted(f"{e['method']} {e['path']}" for e in cluster.log())
    assert code == 0 and not noop["has_changes"]
    assert noop["plan"]["live_checks"]["requests"] == 0
    code, out, _ = plan(cluster, "--format", "json", "--no-live-checks")
    assert noop["request_count"] == json.loads(out)["request_count"]
    # The very same requests, with the checks on or off.
    assert checked_log == sorted(f"{e['method']} {e['path']}" for e in cluster.log())
    assert not any("_field_caps" in line or "_validate" in line for line in checked_log)


def test_apply_of_a_saved_plan_checks_again(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml())
    code, _, err = plan(cluster, "--out", "saved.json")
    assert code == 0, err
    cluster.http.delete("/web-logs")
    result = CliRunner().invoke(
        apply_command, ["--plan", "saved.json", "--url", cluster.url, "--auto-approve"]
    )
    assert result.exit_code == 1
    assert "index web-logs does not exist" in result.stderr
    assert not any(e["method"] == "PUT" for e in cluster.log())
    # Made with --no-live-checks, the saved plan is applied without them: the writes happen
    # and the start fails half way, which is what the checks are there to prevent.
    code, _, _ = plan(cluster, "--out", "unchecked.json", "--no-live-checks")
    assert code == 0
    result = CliRunner().invoke(
        apply_command, ["--plan", "unchecked.json", "--url", cluster.url, "--auto-approve"]
    )
    assert result.exit_code == 1
    assert "create AnomalyDetectionJob/web" in result.output
    assert "because index [web-logs] does not exist" in result.output


def test_a_malformed_answer_is_a_clear_error(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml())
    fault = {"path": "_field_caps", "status": 200, "body": {"indices": "web-logs", "fields": []}}
    assert cluster.http.post("/_sandbox/faults", json=fault).status_code == 200
    code, _, err = plan(cluster)
    assert code == 1
    assert "_field_caps" in err and "Traceback" not in err


def test_apply_stops_before_writing_when_the_checks_fail(cluster: Cluster) -> None:
    write(job_yaml(indices="[web-logs]"))
    cluster.reset_log()
    result = CliRunner().invoke(
        apply_command, ["manifests", "--url", cluster.url, "--auto-approve"]
    )
    assert result.exit_code == 1
    assert "index web-logs does not exist" in result.stderr
    # Only the apply lock was taken and given back; no ML resource was written.
    writes = [e for e in cluster.log() if e["method"] in ("PUT", "DELETE")]
    assert all(e["path"].startswith("/mlsync-locks/") for e in writes), writes
    assert not any(e["path"].startswith("/_ml/") and e["method"] == "PUT" for e in cluster.log())


def test_a_malformed_memory_limit_from_ml_info_is_a_clear_error(cluster: Cluster) -> None:
    logs_index(cluster)
    write(job_yaml())
    info = cluster.http.get("/_ml/info").json()
    info["limits"]["max_model_memory_limit"] = "plenty"
    fault = {"path": "^/_ml/info$", "status": 200, "body": info}
    assert cluster.http.post("/_sandbox/faults", json=fault).status_code == 200
    code, _, err = plan(cluster)
    assert code == 1
    assert "/_ml/info" in err and "'plenty', not a byte size" in err
    assert "Traceback" not in err


def test_a_datafeed_over_an_alias_is_fine(cluster: Cluster) -> None:
    logs_index(cluster)
    actions = {"actions": [{"add": {"index": "web-logs", "alias": "web"}}]}
    assert cluster.http.post("/_aliases", json=actions).status_code == 200
    write(job_yaml(indices="[web]"))
    code, _, err = plan(cluster)
    assert code == 0, err
