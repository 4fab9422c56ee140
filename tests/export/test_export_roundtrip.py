"""`mlsync export` round trip over the sandbox, for every shape Elasticsearch returns.

Hand-made resources (as Kibana or curl make them) -> export -> plan shows only adoption ->
apply -> plan shows no changes, and the resources' configuration and run state are unchanged
apart from the ownership marks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.client import MLClient, api
from reconciler.manifest import load_manifests
from reconciler.sandbox import Sandbox, SandboxTransport

TEMPLATED = {"match": {"message": "{{ user }} logged in {% now %}"}}
KIBANA_JOB = {
    "description": "Made in Kibana",
    "groups": ["web", "kibana"],
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [{"function": "high_count", "partition_field_name": "host"}],
        "influencers": ["host"],
    },
    "data_description": {"time_field": "@timestamp"},
    "model_plot_config": {"enabled": True},
    "custom_settings": {
        "created_by": "single-metric-wizard",
        "custom_urls": [
            {
                "url_name": "Raw data",
                "url_value": "discover#/?_g=(time:(from:'$earliest$',to:'$latest$'))",
            }
        ],
    },
}
CATEGORIZATION_JOB = {
    "analysis_config": {
        "bucket_span": "30m",
        "categorization_field_name": "message",
        "categorization_filters": ["\\[.*\\]", "user=\\w+"],
        "detectors": [{"function": "count", "by_field_name": "mlcategory"}],
    },
    "data_description": {"time_field": "@timestamp"},
}
ANALYZER_JOB = {
    "analysis_config": {
        "bucket_span": "1h",
        "categorization_field_name": "message",
        "categorization_analyzer": {
            "char_filter": ["first_non_blank_line"],
            "tokenizer": "ml_classic",
            "filter": [{"type": "stop", "stopwords": ["INFO"]}],
        },
        "per_partition_categorization": {"enabled": True, "stop_on_warn": True},
        "detectors": [
            {"function": "count", "by_field_name": "mlcategory", "partition_field_name": "svc"}
        ],
        "influencers": ["svc"],
    },
    "data_description": {"time_field": "@timestamp"},
}
AGGREGATION_JOB = {
    "analysis_config": {
        "bucket_span": "1h",
        "summary_count_field_name": "doc_count",
        "detectors": [
            {"function": "mean", "field_name": "responsetime", "by_field_name": "airline"}
        ],
    },
    "data_description": {"time_field": "time"},
}
AGGREGATION_FEED = {
    "indices": ["farequote"],
    "aggregations": {
        "buckets": {
            "date_histogram": {"field": "time", "fixed_interval": "360s", "time_zone": "UTC"},
            "aggregations": {
                "time": {"max": {"field": "time"}},
                "airline": {
                    "terms": {"field": "airline", "size": 100},
                    "aggregations": {"responsetime": {"avg": {"field": "responsetime"}}},
                },
            },
        }
    },
    "chunking_config": {"mode": "manual", "time_span": "3h"},
}
RULES_JOB = {
    "results_index_name": "shared-web",
    "analysis_config": {
        "bucket_span": "10m",
        "detectors": [
            {
                "function": "sum",
                "field_name": "bytes",
                "over_field_name": "client_ip",
                "detector_description": "bytes out by client",
                "custom_rules": [
                    {
                        "scope": {"client_ip": {"filter_id": "safe_ips"}},
                        "conditions": [{"applies_to": "actual", "operator": "lt", "value": 10}],
                    }
                ],
            }
        ],
    },
    "data_description": {"time_field": "@timestamp", "time_format": "epoch"},
    "analysis_limits": {"model_memory_limit": "64mb"},
    "model_snapshot_retention_days": 3,
    "results_retention_days": 30,
}
SCRIPTED_FEED = {
    "indices": ["web-*", "web-archive"],
    "query": {"bool": {"filter": [{"term": {"status": "error"}}]}},
    "runtime_mappings": {
        "hour": {"type": "long", "script": {"source": "emit(doc['@timestamp'].value.getHour())"}}
    },
    "script_fields": {"double_bytes": {"script": {"source": "doc['bytes'].value * 2"}}},
    "indices_options": {"ignore_unavailable": True, "expand_wildcards": ["open", "hidden"]},
    "scroll_size": 500,
    "frequency": "150s",
    "query_delay": "90s",
    "max_empty_searches": 10,
}
OUTLIERS = {
    "source": {"index": ["transactions"], "query": {"range": {"amount": {"gt": 0}}}},
    "dest": {"index": "tx-outliers"},
    "analysis": {"outlier_detection": {"n_neighbors": 5}},
    "analyzed_fields": {"includes": ["amount", "hour"]},
    "model_memory_limit": "50mb",
}
REGRESSION = {
    "description": "price model",
    "source": {"index": "houses"},
    "dest": {"index": "houses-predicted", "results_field": "predicted"},
    "analysis": {"regression": {"dependent_variable": "price", "training_percent": 80}},
    "_meta": {"team": "pricing"},
}
CLASSIFICATION = {
    "source": {"index": ["loans"], "_source": {"includes": ["amount", "grade", "paid"]}},
    "dest": {"index": "loans-classified"},
    "analysis": {"classification": {"dependent_variable": "paid", "num_top_classes": 3}},
    "max_num_threads": 2,
}


#: What a plan of an export may show: adoption only, ownership marks only.
ADOPTION = {"adopt"}
MARKS = {"custom_settings.managed_by"}


def _client(state: Path) -> MLClient:
    sandbox = Sandbox(state_file=state, implicit_indices=True)
    return MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))


def _hand_made(state: Path) -> None:
    """What people made by hand: no ownership marks anywhere."""
    client = _client(state)
    send = client.perform
    send(api.put_filter("safe_ips", {"description": "internal", "items": ["10.0.0.1", "10.0.0.2"]}))
    send(api.put_filter("empty_filter", {}))
    for job_id, body in (
        ("kibana_job", KIBANA_JOB),
        ("categories", CATEGORIZATION_JOB),
        ("per_partition", ANALYZER_JOB),
        ("aggregated", AGGREGATION_JOB),
        ("rules", RULES_JOB),
        (
            "bare",
            {"analysis_config": {"detectors": [{"function": "count"}]}, "data_description": {}},
        ),
    ):
        send(api.put_job(job_id, body))
    send(api.put_datafeed("datafeed-kibana_job", {"job_id": "kibana_job", "indices": ["web-*"]}))
    # A literal `{{` from the cluster must not be rendered as a template by the loader.
    send(
        api.put_datafeed(
            "datafeed-bare", {"job_id": "bare", "indices": ["logs"], "query": TEMPLATED}
        )
    )
    send(api.put_datafeed("agg-feed", {"job_id": "aggregated", **AGGREGATION_FEED}))
    send(api.put_datafeed("rules-feed", {"job_id": "rules", **SCRIPTED_FEED}))
    send(api.put_calendar("holidays", {"job_ids": ["rules", "web"], "description": "days off"}))
    send(
        api.post_calendar_events(
            "holidays",
            [
                {"description": "New year", "start_time": 1704067200000, "end_time": 1704153600000},
                {
                    "description": "Maintenance",
                    "start_time": "2024-03-01T10:00:00Z",
                    "end_time": "2024-03-01T12:30:00.250Z",
                    "skip_model_update": False,
                },
            ],
        )
    )
    send(api.put_calendar("empty_calendar"))
    send(api.put_data_frame_analytics("outliers", OUTLIERS))
    send(api.put_data_frame_analytics("prices", REGRESSION))
    send(api.put_data_frame_analytics("loans", CLASSIFICATION))
    send(api.open_job("kibana_job"))
    send(api.start_datafeed("datafeed-kibana_job"))
    send(api.open_job("rules"))
    client.close()


def _snapshot(state: Path) -> dict[str, Any]:
    """Every resource's configuration and run state, without the ownership marks."""
    client = _client(state)
    get = lambda call: client.perform(call).body  # noqa: E731
    jobs = {}
    for job in get(api.get_jobs("_all"))["jobs"]:
        settings = {
            k: v
            for k, v in (job.get("custom_settings") or {}).items()
            if k not in ("managed_by", "mlsync_scope")
        }
        job = {k: v for k, v in job.items() if k not in ("custom_settings", "finished_time")}
        jobs[job["job_id"]] = {**job, "custom_settings": settings}
    dfa = {}
    for item in get(api.get_data_frame_analytics("_all"))["data_frame_analytics"]:
        meta = {k: v for k, v in (item.get("_meta") or {}).items() if k != "managed_by"}
        dfa[item["id"]] = {**{k: v for k, v in item.items() if k != "_meta"}, "_meta": meta}
    events = get(api.get_calendar_events("_all"))["events"]
    snapshot = {
        "jobs": jobs,
        "job_states": {s["job_id"]: s["state"] for s in get(api.get_job_stats("_all"))["jobs"]},
        "datafeeds": get(api.get_datafeeds("_all"))["datafeeds"],
        "feed_states": {
            s["datafeed_id"]: s["state"] for s in get(api.get_datafeed_stats("_all"))["datafeeds"]
        },
        "dfa": dfa,
        "filters": get(api.get_filters())["filters"],
        "calendars": get(api.get_calendars())["calendars"],
        "events": sorted(events, key=lambda e: e["event_id"]),
    }
    client.close()
    return snapshot


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state.json"
    _hand_made(state)
    return state


def _plan_json(state: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(
        "plan", *args, "--sandbox", "--sandbox-state", str(state), "--format", "json"
    )
    assert code == 0, err
    return dict(json.loads(out))


def test_export_plan_apply_plan_round_trip(cluster: Path, tmp_path: Path) -> None:
    before = _snapshot(cluster)
    code, _, err = run("export", "--sandbox", "--sandbox-state", str(cluster), "--out", "exported")
    assert code == 0, err
    files = sorted(
        p.relative_to(tmp_path / "exported").as_posix()
        for p in (tmp_path / "exported").rglob("*.yaml")
    )
    assert files == [
        "anomaly_detection/aggregated.yaml",
        "anomaly_detection/bare.yaml",
        "anomaly_detection/categories.yaml",
        "anomaly_detection/kibana_job.yaml",
        "anomaly_detection/per_partition.yaml",
        "anomaly_detection/rules.yaml",
        "calendars/empty_calendar.yaml",
        "calendars/holidays.yaml",
        "data_frame_analytics/loans.yaml",
        "data_frame_analytics/outliers.yaml",
        "data_frame_analytics/prices.yaml",
        "filters/empty_filter.yaml",
        "filters/safe_ips.yaml",
    ]
    # The exported files are valid manifests.
    loaded = load_manifests([tmp_path / "exported"])
    assert len(loaded.resources) == 17

    plan = _plan_json(cluster, "exported")
    changed = [c for c in plan["resource_changes"] if c["action"] != "no-op"]
    assert changed
    for change in changed:
        assert change["action"] in ADOPTION, change
        assert {f["path"] for f in change["fields"]} <= MARKS, change
        assert change["state"]["before"] == change["state"]["after"]
    # Exactly one claim per resource, and for jobs the marker alone; nothing else is sent.
    assert sorted(s["address"] for s in plan["steps"] if s["op"] == "add-member") == sorted(
        c["address"] for c in plan["resource_changes"]
    )
    updates = [s for s in plan["steps"] if s["op"] != "add-member"]
    assert {s["op"] for s in updates} == {"update"}
    assert all(set(s["body"]) == {"custom_settings"} for s in updates)
    assert len(updates) == 6  # the six jobs
    code, out, err = run(
        "apply", "exported", "--sandbox", "--sandbox-state", str(cluster), "--auto-approve"
    )
    assert code == 0, out + err
    again = _plan_json(cluster, "exported")
    assert again["steps"] == [], again
    assert all(c["action"] == "no-op" for c in again["resource_changes"])
    assert _snapshot(cluster) == before


def test_export_is_as_short_as_a_person_writes_it(cluster: Path, tmp_path: Path) -> None:
    code, _, err = run("export", "--sandbox", "--sandbox-state", str(cluster), "--out", "out")
    assert code == 0, err
    text = (tmp_path / "out" / "anomaly_detection" / "bare.yaml").read_text()
    assert (
        text.splitlines()[0] == "# yaml-language-server: $schema=../../schemas/mlsync.schema.json"
    )
    bare = yaml.safe_load(text)
    assert bare.pop("datafeed")["spec"]["query"] == {
        "match": {"message": "{% raw %}{{ user }} logged in {% now %}{% endraw %}"}
    }
    assert bare == {
        "kind": "AnomalyDetectionJob",
        "id": "bare",
        "state": "closed",
        "spec": {
            "analysis_config": {"detectors": [{"function": "count"}]},
            "data_description": {},
        },
    }
    kibana = yaml.safe_load(
        (tmp_path / "out" / "anomaly_detection" / "kibana_job.yaml").read_text()
    )
    assert kibana["state"] == "opened"
    assert kibana["datafeed"] == {"state": "started", "spec": {"indices": ["web-*"]}}
    assert "created_by" not in kibana["spec"]["custom_settings"]
    assert (
        kibana["spec"]["custom_settings"]["custom_urls"]
        == KIBANA_JOB["custom_settings"]["custom_urls"]
    )
    assert kibana["spec"]["analysis_config"]["detectors"] == [
        {"function": "high_count", "partition_field_name": "host"}
    ]
    categories = yaml.safe_load(
        (tmp_path / "out" / "anomaly_detection" / "categories.yaml").read_text()
    )
    assert categories["spec"]["analysis_config"] == CATEGORIZATION_JOB["analysis_config"]
    rules = yaml.safe_load((tmp_path / "out" / "anomaly_detection" / "rules.yaml").read_text())
    assert rules["datafeed"]["id"] == "rules-feed"
    assert rules["datafeed"]["spec"] == SCRIPTED_FEED
    detector = rules["spec"]["analysis_config"]["detectors"][0]
    assert detector["detector_description"] == "bytes out by client"
    assert rules["spec"]["results_index_name"] == "custom-shared-web"
    aggregated = yaml.safe_load(
        (tmp_path / "out" / "anomaly_detection" / "aggregated.yaml").read_text()
    )
    assert aggregated["datafeed"]["spec"] == AGGREGATION_FEED
    holidays = yaml.safe_load((tmp_path / "out" / "calendars" / "holidays.yaml").read_text())
    assert holidays["spec"]["events"] == [
        {
            "description": "New year",
            "start_time": "2024-01-01T00:00:00Z",
            "end_time": "2024-01-02T00:00:00Z",
        },
        {
            "description": "Maintenance",
            "start_time": "2024-03-01T10:00:00Z",
            "end_time": 1709296200250,
            "skip_model_update": False,
        },
    ]
    prices = yaml.safe_load((tmp_path / "out" / "data_frame_analytics" / "prices.yaml").read_text())
    regression = prices["spec"]["analysis"]["regression"]
    assert regression["dependent_variable"] == "price"
    assert regression["training_percent"] == 80
    assert "loss_function" not in regression and "prediction_field_name" not in regression
    assert "model_memory_limit" not in prices["spec"]


def test_export_to_stdout_with_targets(cluster: Path) -> None:
    code, out, err = run(
        "export", "--sandbox", "--sandbox-state", str(cluster), "datafeed/agg-*", "Filter/safe*"
    )
    assert code == 0, err
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert [(d["kind"], d["id"]) for d in documents] == [
        ("Filter", "safe_ips"),
        ("AnomalyDetectionJob", "aggregated"),
    ]
    assert out.startswith("# yaml-language-server: $schema=schemas/mlsync.schema.json\n")


def test_export_refuses_to_overwrite(cluster: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "filters").mkdir(parents=True)
    (tmp_path / "out" / "filters" / "safe_ips.yaml").write_text("# mine\n")
    code, _, err = run("export", "--sandbox", "--sandbox-state", str(cluster), "--out", "out")
    assert code == 1
    assert "would overwrite" in err and "safe_ips.yaml" in err
    assert (tmp_path / "out" / "filters" / "safe_ips.yaml").read_text() == "# mine\n"
    assert not (tmp_path / "out" / "calendars").exists()


def test_export_of_nothing_is_an_error(cluster: Path) -> None:
    code, _, err = run("export", "--sandbox", "--sandbox-state", str(cluster), "Filter/nope*")
    assert code == 1
    assert "nothing to export" in err and "Filter/nope*" in err


def test_a_bad_target_is_refused_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        "export", "--sandbox", "--sandbox-state", str(tmp_path / "s.json"), "nokind/x"
    )
    assert code == 1
    assert "unknown kind 'nokind'" in err
    assert not (tmp_path / "s.json").exists()  # the sandbox was never opened
