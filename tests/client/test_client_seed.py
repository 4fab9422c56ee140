"""The seed example scripts run against the sandbox with only the import and constructor changed.

Sync: the verbatim seed code over a real socket (`start_in_thread`). Async: the same code with
every client call awaited. Results the job would produce in the seed's one-minute sleep are
seeded through the sandbox admin endpoint; the DFA source indices are created first through
the document API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import seed_scripts as seed

from reconciler import AsyncMLClient, MLClient
from reconciler.client.errors import BadRequestError
from reconciler.sandbox import Sandbox, start_in_thread

NOW_MS = int(time.time() * 1000)
RESULTS = {
    "buckets": [
        {"timestamp": 1704067200000, "anomaly_score": 91.5, "event_count": 40},
        {"timestamp": 1704068100000, "anomaly_score": 20.0, "event_count": 35},
        {"timestamp": 1704069000000, "anomaly_score": 78.25, "event_count": 52},
    ],
    "records": [
        {
            "timestamp": 1704067200000,
            "record_score": 88.0,
            "detector_index": 0,
            "by_field_value": "u-17",
            "typical": [12.5],
            "actual": [480.0],
        },
        {
            "timestamp": 1704069000000,
            "record_score": 31.0,
            "detector_index": 0,
            "by_field_value": "u-3",
            "typical": [10.0],
            "actual": [55.0],
        },
    ],
    "model_snapshots": [
        {
            "snapshot_id": "1704069000",
            "timestamp": 1704069000000,
            "model_size_stats": {"total_by_field_count": 7},
        }
    ],
}
CUSTOMERS = [
    {"customer_id": "c1", "account_age_days": 400, "churned": "yes", "monthly_spend": 20.0},
    {"customer_id": "c2", "account_age_days": 45, "churned": "no", "monthly_spend": 80.0},
    {"customer_id": "c3", "account_age_days": 10, "churned": "no", "monthly_spend": 5.0},  # too new
]
TRANSACTIONS = [
    {"transaction_id": "t1", "@timestamp": NOW_MS - 3_600_000, "amount": 12.0},
    {"transaction_id": "t2", "@timestamp": NOW_MS - 20 * 86_400_000, "amount": 9000.0},  # too old
]


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    sandbox = Sandbox(dfa_duration=0.0)
    with start_in_thread(sandbox) as server:
        setup = MLClient(hosts=[server.url])
        for i, doc in enumerate(CUSTOMERS):
            setup.index(index="customer_data", id=f"c{i}", document=doc)
        for i, doc in enumerate(TRANSACTIONS):
            setup.index(index="transactions", id=f"t{i}", document=doc)
        setup.close()
        yield server.url


def run(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(compile(code, "<seed>", "exec"), namespace)
    return namespace


def test_seed_scripts_run_with_the_sync_client(
    sandbox_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def seed_results() -> None:
        httpx.post(
            f"{sandbox_url}/_sandbox/anomaly_detectors/transaction_anomalies/results", json=RESULTS
        ).raise_for_status()

    ns = run(seed.HEADER, {"SANDBOX_URL": sandbox_url, "seed_results": seed_results})
    client: MLClient = ns["client"]
    run(seed.ANOMALY_DETECTION, ns)
    out = capsys.readouterr().out.splitlines()
    # Only buckets scored >= 75, highest first; only records scored >= 50.
    assert out[:2] == [
        "Anomaly at 1704067200000, score: 91.5",
        "Anomaly at 1704069000000, score: 78.25",
    ]
    assert out[2:] == [
        "Record anomaly: mean on amount",
        " Typical: [12.5], Actual: [480.0]",
        " User: u-17",
    ]

    run(seed.CHURN_CLASSIFICATION, ns)
    out = capsys.readouterr().out
    assert out.startswith("Progress: [")
    assert out.count("Customer ID:") == 2 and "Customer ID: c3" not in out  # the query kept 2 of 3
    assert " Churn prediction: yes" in out and " Probability: 1.000" in out

    run(seed.FRAUD_OUTLIERS, ns)
    assert capsys.readouterr().out == ""  # no transaction scored >= 0.7
    assert ns["outliers"].body["hits"]["hits"] == []
    written = client.search(index="fraud_outliers", query={"match_all": {}})
    assert [h["_source"]["transaction_id"] for h in written.body["hits"]["hits"]] == ["t1"]

    run(seed.MONITORING, ns)
    out = capsys.readouterr().out
    assert (
        "Job state: opened" in out
        and "Latest snapshot: 1704069000" in out
        and "Model size: 7" in out
    )

    # Elasticsearch refuses analysis_limits on an open job (es-ml-api.md §1.6), and so does the
    # sandbox; the seed's update runs as written once the job is closed.
    with pytest.raises(
        BadRequestError, match="Cannot update analysis_limits while the job is open"
    ):
        run(seed.UPDATE_JOB, ns)
    run(seed.CLOSE, ns)
    run(seed.UPDATE_JOB, ns)
    job = client.ml.get_jobs(job_id="transaction_anomalies").body["jobs"][0]
    assert job["analysis_limits"]["model_memory_limit"] == "150mb"
    assert job["model_plot_config"]["terms"] == "user_id,merchant_category"
    stats = client.ml.get_job_stats(job_id="transaction_anomalies").body["jobs"][0]
    assert stats["state"] == "closed"
    feed = client.ml.get_datafeed_stats(datafeed_id="transaction_anomalies_feed").body
    assert feed["datafeeds"][0]["state"] == "stopped"
    client.close()


def test_seed_scripts_run_with_the_async_client(
    sandbox_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed_results() -> None:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{sandbox_url}/_sandbox/anomaly_detectors/transaction_anomalies/results",
                json=RESULTS,
            )
            answer.raise_for_status()

    async def scenario() -> dict[str, Any]:
        ns: dict[str, Any] = {"SANDBOX_URL": sandbox_url, "seed_results": seed_results}
        ns["client"] = client = AsyncMLClient(hosts=[sandbox_url])
        for script in (
            seed.ANOMALY_DETECTION,
            seed.CHURN_CLASSIFICATION,
            seed.FRAUD_OUTLIERS,
            seed.MONITORING,
        ):
            run(seed.asynchronous(script), ns)
            await ns["main"]()
        with pytest.raises(BadRequestError, match="while the job is open"):
            run(seed.asynchronous(seed.UPDATE_JOB), ns)
            await ns["main"]()
        for script in (seed.CLOSE, seed.UPDATE_JOB):
            run(seed.asynchronous(script), ns)
            await ns["main"]()
        ns["job"] = (await client.ml.get_jobs(job_id="transaction_anomalies")).body["jobs"][0]
        ns["state"] = (await client.ml.get_job_stats(job_id="transaction_anomalies"))["jobs"][0][
            "state"
        ]
        await client.close()
        return ns

    ns = asyncio.run(scenario())
    out = capsys.readouterr().out
    assert "Anomaly at 1704067200000, score: 91.5\nAnomaly at 1704069000000, score: 78.25\n" in out
    assert "Record anomaly: mean on amount" in out and out.count("Customer ID:") == 2
    assert "Latest snapshot: 1704069000" in out
    assert ns["job"]["analysis_limits"]["model_memory_limit"] == "150mb" and ns["state"] == "closed"
