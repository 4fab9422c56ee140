"""The seed example scripts, run unmodified with the official client over a real socket.

Only the host (constructor line) and the sleep differ: where the seed sleeps while the analysis
runs, the test calls the sandbox's documented seeding endpoint instead. DFA source indices are
created first through the document API (test setup, not a script change).
"""

from __future__ import annotations

import builtins
import textwrap
import time
import types
from collections.abc import Iterator
from typing import Any

import elasticsearch
import httpx
import pytest

from reconciler.sandbox import Sandbox, start_in_thread

JOB_SCRIPT = """
# Create an anomaly detection job
client.ml.put_job(
job_id="transaction_anomalies",
description="Detect anomalies in transaction amounts",
analysis_config={
"bucket_span": "15m",
"detectors": [
{
"function": "mean",
"field_name": "amount",
"by_field_name": "user_id"
},
{
"function": "high_count",
"by_field_name": "merchant_category"
}
],
"influencers": ["user_id", "merchant_category"]
},
data_description={
"time_field": "@timestamp",
"time_format": "epoch_ms"
},
analysis_limits={
"model_memory_limit": "100mb"
},
model_plot_config={
"enabled": True,
"terms": "user_id"
}
)
# Create datafeed for the job
client.ml.put_datafeed(
datafeed_id="transaction_anomalies_feed",
job_id="transaction_anomalies",
indices=["transactions-*"],
query={
"bool": {
"must": [
{"range": {"amount": {"gt": 0}}},
{"term": {"status": "completed"}}
]
}
},
frequency="5m",
query_delay="30s",
scroll_size=1000
)
# Open the job and start the datafeed
client.ml.open_job(job_id="transaction_anomalies")
client.ml.start_datafeed(
datafeed_id="transaction_anomalies_feed",
start="2024-01-01T00:00:00Z"
)
# Wait for analysis, then get results
import time
time.sleep(SLEEP)  # Allow some processing time
# Get anomaly buckets
buckets = client.ml.get_buckets(
job_id="transaction_anomalies",
anomaly_score=75, # Only high-score anomalies
size=10,
sort="anomaly_score",
desc=True
)
for bucket in buckets.body['buckets']:
    print(f"Anomaly at {bucket['timestamp']}, score: {bucket['anomaly_score']}")
# Get detailed anomaly records
records = client.ml.get_records(
job_id="transaction_anomalies",
record_score=50,
size=20
)
for record in records.body['records']:
    print(f"Record anomaly: {record['function']} on {record['field_name']}")
    print(f" Typical: {record.get('typical', 'N/A')}, Actual: {record.get('actual', 'N/A')}")
    print(f" User: {record.get('by_field_value', 'N/A')}")
"""

CLASSIFICATION_SCRIPT = """
# Create a classification job to predict customer churn
client.ml.put_data_frame_analytics(
id="customer_churn_prediction",
description="Predict customer churn based on usage patterns",
source={
"index": ["customer_data"],
"query": {
"bool": {
"must": [
{"range": {"account_age_days": {"gte": 30}}},
{"exists": {"field": "churned"}}
]
}
}
},
dest={
"index": "customer_churn_results",
"results_field": "ml_results"
},
analysis={
"classification": {
"dependent_variable": "churned",
"training_percent": 80,
"num_top_feature_importance_values": 5,
"prediction_field_name": "churn_prediction"
}
},
analyzed_fields={
"includes": [
"monthly_spend", "support_tickets", "login_frequency",
"feature_usage_score", "account_age_days", "churned"
]
},
model_memory_limit="200mb"
)
# Start the analytics job
client.ml.start_data_frame_analytics(id="customer_churn_prediction")
# Monitor job progress
job_stats = client.ml.get_data_frame_analytics_stats(id="customer_churn_prediction")
progress = job_stats.body['data_frame_analytics'][0]['progress']
print(f"Progress: {progress}")
# Once complete, examine results
results = client.search(
index="customer_churn_results",
query={"match_all": {}},
size=10,
sort=[{"ml_results.churn_prediction_probability": "desc"}]
)
for hit in results.body['hits']['hits']:
    customer = hit['_source']
    ml_results = customer['ml_results']
    print(f"Customer ID: {customer.get('customer_id', 'N/A')}")
    print(f" Churn prediction: {ml_results['churn_prediction']}")
    print(f" Probability: {ml_results['churn_prediction_probability']:.3f}")
    print(f" Top features: {ml_results.get('feature_importance', [])[:3]}")
"""

OUTLIER_SCRIPT = """
# Create outlier detection job for fraud detection
client.ml.put_data_frame_analytics(
id="fraud_outlier_detection",
description="Detect fraudulent transactions using outlier detection",
source={
"index": ["transactions"],
"query": {
"range": {
"@timestamp": {
"gte": "now-7d"
}
}
}
},
dest={
"index": "fraud_outliers",
"results_field": "outlier_score"
},
analysis={
"outlier_detection": {
"n_neighbors": 20,
"method": "lof", # Local Outlier Factor
"feature_influence_threshold": 0.1,
"outlier_fraction": 0.05
}
},
analyzed_fields={
"includes": [
"amount", "transaction_hour", "merchant_category_code",
"days_since_last_transaction", "amount_deviation_from_avg"
]
},
model_memory_limit="150mb"
)
# Start outlier detection
client.ml.start_data_frame_analytics(id="fraud_outlier_detection")
# Query for high outlier scores (potential fraud)
outliers = client.search(
index="fraud_outliers",
query={
"range": {
"outlier_score.outlier_score": {"gte": 0.7}
}
},
sort=[{"outlier_score.outlier_score": "desc"}],
size=50
)
for hit in outliers.body['hits']['hits']:
    transaction = hit['_source']
    score = transaction['outlier_score']['outlier_score']
    print(f"Transaction ID: {transaction.get('transaction_id', 'N/A')}")
    print(f" Outlier score: {score:.3f}")
    print(f" Amount: ${transaction.get('amount', 'N/A')}")
    print(f" Merchant: {transaction.get('merchant_name', 'N/A')}")
"""

STATS_SCRIPT = """
# Get job statistics and health
job_stats = client.ml.get_job_stats(job_id="transaction_anomalies")
job_info = job_stats.body['jobs'][0]
print(f"Job state: {job_info['state']}")
print(f"Data counts: {job_info['data_counts']}")
print(f"Model size: {job_info['model_size_stats']}")
print(f"Processed records: {job_info['data_counts']['processed_record_count']}")
# Get model snapshots
snapshots = client.ml.get_model_snapshots(
job_id="transaction_anomalies",
size=5,
sort="timestamp",
desc=True
)
latest_snapshot = snapshots.body['model_snapshots'][0]
print(f"Latest snapshot: {latest_snapshot['snapshot_id']}")
print(f"Model size: {latest_snapshot['model_size_stats']['total_by_field_count']}")
"""

UPDATE_SCRIPT = """
# Update job configuration
client.ml.update_job(
job_id="transaction_anomalies",
description="Updated: Detect anomalies in transaction amounts with enhanced settings",
analysis_limits={
"model_memory_limit": "150mb" # Increase memory limit
},
model_plot_config={
"enabled": True,
"terms": "user_id,merchant_category" # Add more terms
}
)
"""

STOP_SCRIPT = """
# Close job and datafeed when done
client.ml.stop_datafeed(datafeed_id="transaction_anomalies_feed")
client.ml.close_job(job_id="transaction_anomalies")
"""

SEEDED = {
    "buckets": [
        {"timestamp": "2024-01-01T00:15:00Z", "anomaly_score": 91.5, "event_count": 12},
        {"timestamp": "2024-01-01T00:30:00Z", "anomaly_score": 80.0, "event_count": 9},
        {"timestamp": "2024-01-01T00:45:00Z", "anomaly_score": 12.0, "event_count": 7},
    ],
    "records": [
        {
            "timestamp": "2024-01-01T00:15:00Z",
            "record_score": 91.5,
            "detector_index": 0,
            "by_field_value": "u-17",
            "typical": [20.5],
            "actual": [310.0],
        },
        {
            "timestamp": "2024-01-01T00:30:00Z",
            "record_score": 40.0,
            "detector_index": 0,
            "by_field_value": "u-3",
            "typical": [20.5],
            "actual": [45.0],
        },
    ],
    "model_snapshots": [{"timestamp": "2024-01-01T01:00:00Z", "snapshot_id": "1704070800"}],
    "model_size_stats": {"model_bytes": 52_000_000, "total_by_field_count": 42},
    "data_counts": {"processed_record_count": 1234, "input_record_count": 1234, "bucket_count": 4},
}


@pytest.fixture
def server() -> Iterator[Any]:
    sandbox = Sandbox(dfa_duration=0.0)
    with start_in_thread(sandbox) as running:
        yield running


def run(script: str, namespace: dict[str, Any]) -> None:
    exec(compile(textwrap.dedent(script), "<seed>", "exec"), namespace)


def setup_indices(url: str) -> None:
    """Test setup: the DFA sources exist on a real cluster (document API, not a script change)."""
    with httpx.Client(base_url=url) as http:
        assert http.put("/customer_data").status_code == 200
        for i in range(6):
            doc = {
                "customer_id": f"c-{i}",
                "account_age_days": 20 + 10 * i,
                "churned": i % 2 == 0,
                "monthly_spend": 10.0 * i,
                "support_tickets": i,
                "login_frequency": 3,
                "feature_usage_score": 0.5,
            }
            assert http.post("/customer_data/_doc", json=doc).status_code == 201
        assert http.put("/transactions").status_code == 200
        assert (
            http.post(
                "/transactions/_doc",
                json={
                    "amount": 12.5,
                    "transaction_id": "t1",
                    "@timestamp": int(time.time() * 1000),
                },
            ).status_code
            == 201
        )


def test_seed_scripts_run_against_sandbox_serve(
    server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_indices(server.url)
    client = elasticsearch.Elasticsearch(hosts=[server.url])

    def stand_in_for_analysis(_seconds: float) -> None:
        with httpx.Client(base_url=server.url) as http:
            resp = http.post(
                "/_sandbox/anomaly_detectors/transaction_anomalies/results", json=SEEDED
            )
            assert resp.status_code == 200, resp.text

    # Only the sleep differs: the script's own `import time` gets a module whose sleep seeds
    # results through the sandbox's documented endpoint instead of waiting for an analysis.
    fake_time = types.SimpleNamespace(sleep=stand_in_for_analysis)

    def importer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "time":
            return fake_time
        return builtins.__import__(name, *args, **kwargs)

    namespace: dict[str, Any] = {
        "client": client,
        "SLEEP": 60,
        "__builtins__": {**builtins.__dict__, "__import__": importer},
    }
    run(JOB_SCRIPT, namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "Anomaly at 1704068100000, score: 91.5",
        "Anomaly at 1704069000000, score: 80.0",
    ]
    assert out[2:] == [
        "Record anomaly: mean on amount",
        " Typical: [20.5], Actual: [310.0]",
        " User: u-17",
    ]

    run(CLASSIFICATION_SCRIPT, namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Progress: [{'phase': 'reindexing', 'progress_percent': ")
    customers = [line for line in out if line.startswith("Customer ID:")]
    # account_age_days >= 30 and churned exists: c-1 .. c-5
    assert sorted(customers) == [f"Customer ID: c-{i}" for i in range(1, 6)]
    assert " Probability: 1.000" in out

    run(OUTLIER_SCRIPT, namespace)
    capsys.readouterr()
    stats = client.ml.get_data_frame_analytics_stats(id="fraud_outlier_detection")
    assert stats["data_frame_analytics"][0]["state"] == "stopped"

    run(STATS_SCRIPT, namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Job state: opened"
    assert "Processed records: 1234" in out
    assert out[-2:] == ["Latest snapshot: 1704070800", "Model size: 42"]

    # Faithful to Elasticsearch: analysis_limits cannot change while the job is open
    # (JobManager: badRequestException, es-ml-api.md §1.6) — the seed's update fails on a real
    # cluster too; the remaining seed lines (stop, close) still run.
    with pytest.raises(elasticsearch.BadRequestError) as info:
        run(UPDATE_SCRIPT, namespace)
    assert info.value.status_code == 400
    assert info.value.error == "status_exception"
    assert (
        info.value.body["error"]["reason"] == "Cannot update analysis_limits while the job is open"
    )

    run(STOP_SCRIPT, namespace)
    job = client.ml.get_job_stats(job_id="transaction_anomalies")["jobs"][0]
    assert job["state"] == "closed"
    feed = client.ml.get_datafeed_stats(datafeed_id="transaction_anomalies_feed")["datafeeds"][0]
    assert feed["state"] == "stopped"
    # Closing an opened job persisted a new model snapshot, now the active one.
    snaps = client.ml.get_model_snapshots(job_id="transaction_anomalies")["model_snapshots"]
    assert len(snaps) == 2
    assert (
        client.ml.get_jobs(job_id="transaction_anomalies")["jobs"][0]["model_snapshot_id"]
        == snaps[0]["snapshot_id"]
    )
    # With the job closed the seed's update applies.
    run(UPDATE_SCRIPT, namespace)
    updated = client.ml.get_jobs(job_id="transaction_anomalies")["jobs"][0]
    assert updated["analysis_limits"]["model_memory_limit"] == "150mb"
    assert updated["model_plot_config"] == {
        "enabled": True,
        "annotations_enabled": True,
        "terms": "user_id,merchant_category",
    }
