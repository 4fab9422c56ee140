"""Planning reads the cluster in a constant number of requests, whatever its size."""

from __future__ import annotations

from typing import Any

from reconciler.client import MLClient
from reconciler.cluster import read_cluster
from reconciler.model import Call, Kind
from reconciler.sandbox import Sandbox, SandboxTransport


def seeded_client(jobs: int, dfas: int) -> MLClient:
    sandbox = Sandbox(implicit_indices=True)
    client = MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))
    for i in range(jobs):
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/anomaly_detectors/job-{i:04d}",
                body={
                    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
                    "data_description": {"time_field": "@timestamp"},
                    "custom_settings": {"managed_by": "mlsync"},
                },
            )
        )
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/datafeeds/feed-{i:04d}",
                body={"job_id": f"job-{i:04d}", "indices": ["logs-*"]},
            )
        )
    for i in range(dfas):
        client.perform(
            Call(
                method="PUT",
                path=f"/_ml/data_frame/analytics/dfa-{i:03d}",
                body={
                    "source": {"index": ["src"]},
                    "dest": {"index": f"dest-{i:03d}"},
                    "analysis": {"outlier_detection": {}},
                },
            )
        )
    client.perform(Call(method="POST", path="/_sandbox/requests/_reset"))
    return client


def test_1000_jobs_1000_datafeeds_200_dfa_in_at_most_12_requests() -> None:
    client = seeded_client(1000, 200)
    before = client.request_count
    info = client.preflight()
    live = read_cluster(client, info)
    sent = client.request_count - before
    counts: dict[Kind, int] = {}
    for ref in live.resources:
        counts[ref.kind] = counts.get(ref.kind, 0) + 1
    assert counts == {Kind.JOB: 1000, Kind.DATAFEED: 1000, Kind.DFA: 200}
    assert sent <= 12
    # The sandbox's own counter agrees with the client's (nothing was retried or hidden).
    log = client.perform(Call(method="GET", path="/_sandbox/requests")).body
    assert log["total"] == sent
    assert all(entry["method"] == "GET" for entry in log["log"])


def test_request_count_does_not_grow_with_resources() -> None:
    small = seeded_client(3, 2)
    large = seeded_client(60, 40)
    counts = []
    for client in (small, large):
        before = client.request_count
        read_cluster(client, client.preflight())
        counts.append(client.request_count - before)
    assert counts[0] == counts[1]


class _NotEmbedding:
    """A client whose GET jobs answers carry no `datafeed_config` (an ES that does not embed)."""

    def __init__(self, client: MLClient) -> None:
        self.client = client

    @property
    def request_count(self) -> int:
        return self.client.request_count

    def perform(self, call: Call) -> Any:
        answer = self.client.perform(call)
        if call.path.startswith("/_ml/anomaly_detectors") and "_stats" not in call.path:
            for job in answer.body["jobs"]:
                job.pop("datafeed_config", None)
        return answer


def test_datafeeds_come_from_the_jobs_answer_and_are_read_again_when_not_embedded() -> None:
    client = seeded_client(5, 1)
    direct = read_cluster(client, client.preflight())
    log = client.perform(Call(method="GET", path="/_sandbox/requests")).body["log"]
    # GET jobs embeds each job's datafeed: no GET /_ml/datafeeds (its _stats only).
    assert not [
        e for e in log if e["path"].startswith("/_ml/datafeeds/_all") and "_stats" not in e["path"]
    ]

    fallback = _NotEmbedding(seeded_client(5, 1))
    before = fallback.request_count
    again = read_cluster(fallback, fallback.client.preflight())
    # One request more, and the same datafeeds, bodies and states.
    assert again.request_count == direct.request_count + 1
    assert fallback.request_count - before == direct.request_count + 4  # + the preflight's 3
    feeds = {r: res for r, res in direct.resources.items() if r.kind is Kind.DATAFEED}
    assert len(feeds) == 5
    for ref, res in feeds.items():
        assert again.resources[ref].body == res.body
        assert again.resources[ref].state == res.state
