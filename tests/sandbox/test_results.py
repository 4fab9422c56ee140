"""Results APIs and model snapshots with their filters, sort defaults and paging."""

from __future__ import annotations

from sandbox_helpers import Api, job_body

AD = "/_ml/anomaly_detectors"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SPAN = 900_000


def seeded(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed(
        "j",
        {
            "buckets": [
                {"timestamp": T0 + i * SPAN, "anomaly_score": s, "is_interim": i == 3}
                for i, s in enumerate([10.0, 90.0, 50.0, 70.0])
            ],
            "records": [
                {"timestamp": T0 + i * SPAN, "record_score": s, "by_field_value": f"u{i}"}
                for i, s in enumerate([5.0, 95.0, 60.0])
            ],
            "influencers": [
                {
                    "timestamp": T0,
                    "influencer_field_name": "user",
                    "influencer_field_value": v,
                    "influencer_score": s,
                }
                for v, s in (("a", 20.0), ("b", 80.0))
            ],
            "categories": [{"category_id": 2, "terms": "b"}, {"category_id": 1, "terms": "a"}],
            "model_snapshots": [
                {"snapshot_id": "s1", "timestamp": T0},
                {"snapshot_id": "s2", "timestamp": T0 + SPAN},
            ],
        },
    )


def test_buckets(api: Api) -> None:
    seeded(api)
    everything = api.ok("GET", f"{AD}/j/results/buckets")
    assert everything["count"] == 4
    assert [b["timestamp"] for b in everything["buckets"]] == [T0 + i * SPAN for i in range(4)]
    bucket = everything["buckets"][1]
    assert (
        bucket["bucket_span"] == 900
        and bucket["result_type"] == "bucket"
        and bucket["job_id"] == "j"
    )
    high = api.ok(
        "GET", f"{AD}/j/results/buckets", anomaly_score=60, sort="anomaly_score", desc=True
    )
    assert [b["anomaly_score"] for b in high["buckets"]] == [90.0, 70.0]
    body = api.ok(
        "POST", f"{AD}/j/results/buckets", {"exclude_interim": True, "page": {"from": 1, "size": 1}}
    )
    assert body["count"] == 3 and body["buckets"][0]["anomaly_score"] == 90.0
    ranged = api.ok(
        "GET", f"{AD}/j/results/buckets", start="2024-01-01T00:15:00Z", end=T0 + 3 * SPAN
    )
    assert [b["anomaly_score"] for b in ranged["buckets"]] == [90.0, 50.0]
    one = api.ok("GET", f"{AD}/j/results/buckets/{T0 + SPAN}", expand=True)
    assert one["count"] == 1 and [r["record_score"] for r in one["buckets"][0]["records"]] == [95.0]
    err = api.error(400, "GET", f"{AD}/j/results/buckets", start="bad")
    assert err["reason"] == (
        "Query param [start] with value [bad] cannot be parsed as a date or converted to a "
        "number (epoch)."
    )
    err = api.error(400, "GET", f"{AD}/j/results/buckets", size=10_001)
    assert err["reason"] == "The sum of parameters [from] and [size] cannot be higher than 10000."
    assert (
        api.error(404, "GET", f"{AD}/nope/results/buckets")["reason"]
        == "No known job with id 'nope'"
    )


def test_records_default_to_score_descending(api: Api) -> None:
    seeded(api)
    records = api.ok("GET", f"{AD}/j/results/records")["records"]
    assert [r["record_score"] for r in records] == [95.0, 60.0, 5.0]
    assert records[0]["function"] == "mean" and records[0]["field_name"] == "amount"
    assert records[0]["by_field_name"] == "user" and records[0]["by_field_value"] == "u1"
    assert api.ok("GET", f"{AD}/j/results/records", record_score=50, desc=False)["count"] == 2
    ascending = api.ok("GET", f"{AD}/j/results/records", sort="timestamp", desc=False)["records"]
    assert [r["by_field_value"] for r in ascending] == ["u0", "u1", "u2"]


def test_influencers_and_categories(api: Api) -> None:
    seeded(api)
    infl = api.ok("GET", f"{AD}/j/results/influencers")["influencers"]
    assert [i["influencer_field_value"] for i in infl] == ["b", "a"]
    assert api.ok("GET", f"{AD}/j/results/influencers", influencer_score=50)["count"] == 1
    cats = api.ok("GET", f"{AD}/j/results/categories")["categories"]
    assert [c["category_id"] for c in cats] == [1, 2]
    assert cats[0]["result_type"] == "category_definition"
    assert api.ok("GET", f"{AD}/j/results/categories/2")["categories"][0]["terms"] == "b"


def test_overall_buckets(api: Api) -> None:
    seeded(api)
    overall = api.ok("GET", f"{AD}/j/results/overall_buckets", overall_score=60)
    assert [(o["timestamp"], o["overall_score"]) for o in overall["overall_buckets"]] == [
        (T0 + SPAN, 90.0),
        (T0 + 3 * SPAN, 70.0),
    ]
    assert overall["overall_buckets"][0]["jobs"] == [{"job_id": "j", "max_anomaly_score": 90.0}]


def test_snapshots(api: Api) -> None:
    seeded(api)
    snaps = api.ok("GET", f"{AD}/j/model_snapshots")["model_snapshots"]
    assert [s["snapshot_id"] for s in snaps] == ["s2", "s1"]  # timestamp descending by default
    assert api.ok("GET", f"{AD}/j")["jobs"][0]["model_snapshot_id"] == "s2"
    asc = api.ok("GET", f"{AD}/j/model_snapshots", desc=False)["model_snapshots"]
    assert [s["snapshot_id"] for s in asc] == ["s1", "s2"]
    updated = api.ok(
        "POST", f"{AD}/j/model_snapshots/s1/_update", {"description": "keep", "retain": True}
    )
    assert updated["acknowledged"] is True and updated["model"]["retain"] is True
    err = api.error(400, "DELETE", f"{AD}/j/model_snapshots/s2")
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "Model snapshot 's2' is the active snapshot for job 'j', so cannot be deleted",
    )
    err = api.error(404, "DELETE", f"{AD}/j/model_snapshots/zzz")
    assert err["reason"] == "No model snapshot with id [zzz] exists for job [j]"
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(409, "POST", f"{AD}/j/model_snapshots/s1/_revert")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Can only revert to a model snapshot when the job is closed.",
    )
    api.ok("POST", f"{AD}/j/_close")
    reverted = api.ok(
        "POST", f"{AD}/j/model_snapshots/s1/_revert", {"delete_intervening_results": True}
    )
    assert reverted["model"]["snapshot_id"] == "s1"
    assert api.ok("GET", f"{AD}/j")["jobs"][0]["model_snapshot_id"] == "s1"
    assert api.ok("GET", f"{AD}/j/results/buckets")["count"] == 1
    assert api.ok("DELETE", f"{AD}/j/model_snapshots/s2") == {"acknowledged": True}


def test_job_stats_reflect_seeded_data(api: Api) -> None:
    seeded(api)
    api.seed(
        "j",
        {"data_counts": {"processed_record_count": 7}, "model_size_stats": {"model_bytes": 1024}},
    )
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]
    assert stats["data_counts"]["processed_record_count"] == 7
    assert stats["model_size_stats"]["model_bytes"] == 1024
    assert stats["timing_stats"]["bucket_count"] == 4
    assert "minimum_bucket_processing_time_ms" in stats["timing_stats"]


def test_revert_moves_the_snapshot_min_version_too(api: Api) -> None:
    # C5: the revert's JobUpdate sets model_snapshot_id and model_snapshot_min_version.
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed(
        "j",
        {
            "model_snapshots": [
                {"snapshot_id": "old", "timestamp": T0, "min_version": "7.6.0"},
                {"snapshot_id": "new", "timestamp": T0 + SPAN, "min_version": "8.3.0"},
            ]
        },
    )
    job = api.ok("GET", f"{AD}/j")["jobs"][0]
    assert (job["model_snapshot_id"], job["model_snapshot_min_version"]) == ("new", "8.3.0")
    reverted = api.ok("POST", f"{AD}/j/model_snapshots/old/_revert")
    assert reverted["model"]["min_version"] == "7.6.0"
    job = api.ok("GET", f"{AD}/j")["jobs"][0]
    assert (job["model_snapshot_id"], job["model_snapshot_min_version"]) == ("old", "7.6.0")
