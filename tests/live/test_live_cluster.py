"""Against a real Elasticsearch: apply the example manifests, re-plan to nothing, clean up.

This is the check that the sandbox and the canonical form agree with the real server: a
perpetual diff that the sandbox hides would show up here as a non-empty second plan.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.client import MLClient

pytestmark = pytest.mark.live

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_examples_converge_on_a_real_cluster(
    live_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    client = MLClient(hosts=[live_url])
    # The DFA jobs need their source indices; a real cluster has the data, this one gets a doc.
    # A classification needs at least two classes of its dependent variable in the source, or
    # Elasticsearch refuses the start (and the plan's live checks say so first).
    for doc_id, churned in (("1", False), ("2", True)):
        client.index(
            index="customer_data",
            id=doc_id,
            document={
                "account_age_days": 40,
                "churned": churned,
                "monthly_spend": 10.0,
                "support_tickets": 1,
                "login_frequency": 3.5,
                "feature_usage_score": 0.7,
            },
        )
    client.index(
        index="transactions",
        id="1",
        document={
            # The fraud DFA's source query keeps the last 7 days.
            "@timestamp": datetime.now(UTC).isoformat(),
            "amount": 12.5,
            "transaction_hour": 13,
            "merchant_category_code": 5411,
            "days_since_last_transaction": 2,
            "amount_deviation_from_avg": 0.4,
        },
    )
    # The anomaly job's datafeed reads transactions-*: without a matching index a real cluster
    # refuses to start it, and the plan's live checks say so before anything is written.
    client.index(
        index="transactions-2024.01",
        id="1",
        document={
            "@timestamp": 1_704_067_200_000,
            "amount": 12.5,
            "user_id": "u1",
            "merchant_category": "grocery",
            "status": "completed",
        },
    )
    client.close()
    try:
        code, out = run("apply", "manifests", "--url", live_url, "--auto-approve")
        assert code == 0, out
        code, out = run("plan", "manifests", "--url", live_url, "--detailed-exitcode")
        assert code == 0, out
        assert "No changes" in out
    finally:
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "none.yaml").write_text("")
        code, out = run(
            "apply",
            "empty",
            "--url",
            live_url,
            "--auto-approve",
            "--prune",
            "--allow-destroy",
            "--allow-prune-all",
        )
        assert code == 0, out
