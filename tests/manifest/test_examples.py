"""The example manifests (README quick start) validate, in every environment."""

from __future__ import annotations

import pytest
from manifest_helpers import EXAMPLES, run_validate

from reconciler.manifest import load_manifests
from reconciler.model import Kind, Ref


@pytest.mark.parametrize("env", [None, "dev", "prod"])
def test_examples_validate_through_the_cli(env: str | None) -> None:
    args = [str(EXAMPLES)] + (["--env", env] if env else [])
    run = run_validate(args)
    assert run.exit_code == 0, run.output
    suffix = f" (environment {env})" if env else ""
    assert run.output.splitlines()[-1] == f"6 resources valid{suffix}"


def test_examples_hold_the_seed_scenarios() -> None:
    state = load_manifests([EXAMPLES], environ={}).state()
    job = state[Ref(kind=Kind.JOB, id="transaction_anomalies")]
    assert job.state == "opened"
    config = job.body["analysis_config"]
    assert config["bucket_span"] == "15m"
    assert [d["function"] for d in config["detectors"]] == ["mean", "high_count"]
    assert config["influencers"] == ["user_id", "merchant_category"]
    assert job.body["data_description"] == {"time_field": "@timestamp", "time_format": "epoch_ms"}
    assert job.body["analysis_limits"] == {"model_memory_limit": "100mb"}
    assert job.body["model_plot_config"] == {"enabled": True, "terms": "user_id"}

    feed = state[Ref(kind=Kind.DATAFEED, id="transaction_anomalies_feed")]
    assert feed.state == "started"
    assert feed.facts == {"start": "2024-01-01T00:00:00Z"}
    assert feed.body["job_id"] == "transaction_anomalies"
    assert feed.body["indices"] == ["transactions-*"]
    assert (feed.body["frequency"], feed.body["query_delay"], feed.body["scroll_size"]) == (
        "5m",
        "30s",
        1000,
    )
    assert feed.body["query"]["bool"]["must"] == [
        {"range": {"amount": {"gt": 0}}},
        {"term": {"status": "completed"}},
    ]

    churn = state[Ref(kind=Kind.DFA, id="customer_churn_prediction")]
    assert churn.state == "started"
    assert churn.body["analysis"]["classification"] == {
        "dependent_variable": "churned",
        "training_percent": 80,
        "num_top_feature_importance_values": 5,
        "prediction_field_name": "churn_prediction",
    }
    assert churn.body["model_memory_limit"] == "200mb"

    fraud = state[Ref(kind=Kind.DFA, id="fraud_outlier_detection")]
    assert fraud.body["analysis"]["outlier_detection"] == {
        "n_neighbors": 20,
        "method": "lof",
        "feature_influence_threshold": 0.1,
        "outlier_fraction": 0.05,
    }
    assert fraud.body["model_memory_limit"] == "150mb"

    scope = config["detectors"][1]["custom_rules"][0]["scope"]["merchant_category"]
    assert Ref(kind=Kind.FILTER, id=scope["filter_id"]) in state
    calendar = state[Ref(kind=Kind.CALENDAR, id="sales_events")]
    assert calendar.body["job_ids"] == ["transaction_anomalies"]
    assert len(calendar.body["events"]) == 1


@pytest.mark.parametrize(
    ("env", "prefix", "index", "job_memory"),
    [
        ("dev", "dev-", "dev-transactions-*", "50mb"),
        ("prod", "prod-", "prod-transactions-*", "512mb"),
    ],
)
def test_environments_change_ids_indices_and_memory(
    env: str, prefix: str, index: str, job_memory: str
) -> None:
    manifests = load_manifests([EXAMPLES], env=env, environ={})
    assert manifests.environment == env
    ids = {r.ref.id for r in manifests.resources}
    assert all(ident.startswith(prefix) for ident in ids)
    state = manifests.state()
    job = state[Ref(kind=Kind.JOB, id=f"{prefix}transaction_anomalies")]
    assert job.body["analysis_limits"]["model_memory_limit"] == job_memory
    feed = state[Ref(kind=Kind.DATAFEED, id=f"{prefix}transaction_anomalies_feed")]
    assert feed.body["indices"] == [index]
    assert feed.body["job_id"] == f"{prefix}transaction_anomalies"
    # References between example resources follow the prefix, so none is left dangling.
    assert manifests.references == ()


def test_examples_carry_the_schema_header() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/mlsync.schema.json", path


def test_environment_files_are_not_resources() -> None:
    manifests = load_manifests([EXAMPLES], environ={})
    assert not any("environments" in f for f in manifests.files)
    assert len(manifests.files) == 5
