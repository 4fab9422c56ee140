"""Results, snapshots, counts and forecasts are documents in the job's results index.

Each test pairs a request with what Elasticsearch answers: the index and alias names of
AnomalyDetectorsIndex and JobResultsProvider.createJobResultIndex, the document ids of
Bucket/AnomalyRecord/Influencer/CategoryDefinition/ModelSnapshot/DataCounts, and the results
APIs reading whatever was indexed there, by the seeding endpoint or the index and bulk APIs.
"""

from __future__ import annotations

import json

from sandbox_helpers import Api, job_body

AD = "/_ml/anomaly_detectors"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SPAN = 900_000


def bulk(api: Api, lines: list[dict[str, object]], index: str = "") -> dict[str, object]:
    raw = "".join(json.dumps(line) + "\n" for line in lines)
    path = f"/{index}/_bulk" if index else "/_bulk"
    resp = api.client.post(path, content=raw, headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 200, resp.text
    out: dict[str, object] = resp.json()
    return out


def test_a_job_put_creates_the_shared_index_and_the_two_aliases(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    index = api.ok("GET", "/.ml-anomalies-shared")[".ml-anomalies-shared"]
    assert index["aliases"] == {
        ".ml-anomalies-.write-j": {"is_write_index": True, "is_hidden": True},
        ".ml-anomalies-j": {
            "filter": {"term": {"job_id": {"value": "j", "boost": 1.0}}},
            "is_hidden": True,
        },
    }
    assert index["settings"]["index"]["hidden"] == "true"
    assert index["mappings"]["properties"]["timestamp"] == {"type": "date"}
    by_alias = api.ok("GET", "/_alias/.ml-anomalies-j")
    assert list(by_alias) == [".ml-anomalies-shared"]
    # hidden: `GET _alias` and `*` do not expand to it
    assert ".ml-anomalies-shared" not in api.ok("GET", "/_alias")
    assert api.ok("GET", "/*/_search")["hits"]["total"]["value"] == 0


def test_seeded_results_are_documents_with_elasticsearch_ids(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed(
        "j",
        {
            "buckets": [{"timestamp": T0, "anomaly_score": 40.0}],
            "records": [{"timestamp": T0, "record_score": 9.0, "by_field_value": "u1"}],
            "influencers": [
                {
                    "timestamp": T0,
                    "influencer_field_name": "user",
                    "influencer_field_value": "u1",
                    "influencer_score": 3.0,
                }
            ],
            "categories": [{"category_id": 1, "terms": "a"}],
            "data_counts": {"processed_record_count": 5},
        },
    )
    hits = api.ok("POST", "/.ml-anomalies-j/_search", {"size": 100})["hits"]["hits"]
    ids = sorted(h["_id"] for h in hits)
    # Bucket.getId; AnomalyRecord.getId (Objects.hash("u1", null, null) = 31 * 31 * (31 +
    # "u1".hashCode()) and the values' total length); Influencer.getId ("u1".hashCode() =
    # 117 * 31 + 49 = 3676)
    assert ids == [
        f"j_bucket_{T0}_900",
        "j_category_definition_1",
        "j_data_counts",
        f"j_influencer_{T0}_900_user_3676_2",
        f"j_record_{T0}_900_0_{31 * 31 * (31 + 3676)}_2",
    ]
    assert {h["_index"] for h in hits} == {".ml-anomalies-shared"}
    bucket = api.ok("GET", f"/.ml-anomalies-shared/_doc/j_bucket_{T0}_900")["_source"]
    assert bucket == api.ok("GET", f"{AD}/j/results/buckets")["buckets"][0]


def test_documents_indexed_with_the_index_and_bulk_apis_are_what_the_apis_return(
    api: Api,
) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("PUT", f"{AD}/other", job_body())
    bucket = {
        "job_id": "j",
        "result_type": "bucket",
        "timestamp": T0,
        "anomaly_score": 75.0,
        "bucket_span": 900,
        "initial_anomaly_score": 75.0,
        "event_count": 3,
        "is_interim": False,
        "bucket_influencers": [],
        "processing_time_ms": 2,
    }
    api.ok("PUT", f"/.ml-anomalies-.write-j/_doc/j_bucket_{T0}_900", bucket)
    bulk(
        api,
        [
            {"index": {"_index": ".ml-anomalies-shared", "_id": f"j_bucket_{T0 + SPAN}_900"}},
            {**bucket, "timestamp": T0 + SPAN, "anomaly_score": 20.0, "is_interim": True},
            {"index": {"_index": ".ml-anomalies-shared", "_id": f"other_bucket_{T0}_900"}},
            {**bucket, "job_id": "other", "anomaly_score": 99.0},
            {"index": {"_index": ".ml-anomalies-shared", "_id": "j_data_counts"}},
            {"job_id": "j", "processed_record_count": 12, "input_record_count": 12},
        ],
    )
    buckets = api.ok("GET", f"{AD}/j/results/buckets")
    assert [(b["timestamp"], b["anomaly_score"]) for b in buckets["buckets"]] == [
        (T0, 75.0),
        (T0 + SPAN, 20.0),
    ]
    assert api.ok("GET", f"{AD}/j/results/buckets", exclude_interim=True)["count"] == 1
    assert api.ok("GET", f"{AD}/other/results/buckets")["count"] == 1
    # the filtered read alias shows only the job's own documents
    assert api.ok("GET", "/.ml-anomalies-j/_count")["count"] == 3
    assert api.ok("GET", "/.ml-anomalies-shared/_count")["count"] == 4
    overall = api.ok("GET", f"{AD}/j,other/results/overall_buckets", top_n=2)
    assert overall["overall_buckets"][0]["overall_score"] == (75.0 + 99.0) / 2
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]
    assert stats["data_counts"]["processed_record_count"] == 12
    assert stats["timing_stats"]["bucket_count"] == 2
    # deleting the document through the write alias removes the result
    api.ok("DELETE", f"/.ml-anomalies-.write-j/_doc/j_bucket_{T0}_900")
    assert api.ok("GET", f"{AD}/j/results/buckets")["count"] == 1


def test_snapshots_live_in_the_results_index_and_their_state_in_ml_state(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    api.ok("POST", f"{AD}/j/_close")
    snapshot_id = api.ok("GET", f"{AD}/j")["jobs"][0]["model_snapshot_id"]
    doc = api.ok("GET", f"/.ml-anomalies-shared/_doc/j_model_snapshot_{snapshot_id}")
    assert doc["_source"] == api.ok("GET", f"{AD}/j/model_snapshots")["model_snapshots"][0]
    state = api.ok("GET", f"/.ml-state-write/_doc/j_model_state_{snapshot_id}%231")
    assert state["_index"] == ".ml-state-000001" and state["found"] is True
    # a snapshot written with the index API is listed like one the job wrote
    api.ok(
        "PUT",
        "/.ml-anomalies-.write-j/_doc/j_model_snapshot_old",
        {
            "job_id": "j",
            "snapshot_id": "old",
            "timestamp": 1_600_000_000_000,  # before the close (the test clock is at 1.7e12)
            "min_version": "8.0.0",
            "snapshot_doc_count": 1,
            "retain": False,
            "description": "old",
        },
    )
    listed = api.ok("GET", f"{AD}/j/model_snapshots")["model_snapshots"]
    assert [s["snapshot_id"] for s in listed] == [snapshot_id, "old"]
    api.ok("DELETE", f"{AD}/j/model_snapshots/old")
    assert api.call("GET", "/.ml-anomalies-shared/_doc/j_model_snapshot_old").status_code == 404


def test_deleting_and_resetting_a_job_remove_its_documents(api: Api) -> None:
    for job in ("a", "b"):
        api.ok("PUT", f"{AD}/{job}", job_body())
        api.seed(job, {"buckets": [{"timestamp": T0, "anomaly_score": 1.0}]})
    api.ok("POST", f"{AD}/a/_reset")
    assert api.ok("GET", f"{AD}/a/results/buckets")["count"] == 0
    assert (
        ".ml-anomalies-a"
        in api.ok("GET", "/.ml-anomalies-shared/_alias")[".ml-anomalies-shared"]["aliases"]
    )
    api.ok("DELETE", f"{AD}/b")
    left = api.ok("GET", "/.ml-anomalies-shared/_alias")[".ml-anomalies-shared"]["aliases"]
    assert sorted(left) == [".ml-anomalies-.write-a", ".ml-anomalies-a"]
    assert api.ok("GET", "/.ml-anomalies-shared/_count")["count"] == 0
    missing = api.call("GET", "/_alias/.ml-anomalies-b")
    assert missing.status_code == 404
    assert missing.json() == {"error": "alias [.ml-anomalies-b] missing", "status": 404}


def test_a_custom_results_index_goes_with_its_last_job(api: Api) -> None:
    # Job.getInitialResultsIndexName: `.ml-anomalies-` + `custom-<results_index_name>`
    for job in ("c1", "c2"):
        api.ok("PUT", f"{AD}/{job}", job_body(results_index_name="mine"))
    api.seed("c1", {"buckets": [{"timestamp": T0, "anomaly_score": 1.0}]})
    api.seed("c2", {"buckets": [{"timestamp": T0, "anomaly_score": 2.0}]})
    assert api.ok("GET", "/.ml-anomalies-custom-mine/_count")["count"] == 2
    api.ok("DELETE", f"{AD}/c1")
    assert api.ok("GET", "/.ml-anomalies-custom-mine/_count")["count"] == 1
    api.ok("DELETE", f"{AD}/c2")
    assert api.call("HEAD", "/.ml-anomalies-custom-mine").status_code == 404


def test_forecasts_are_request_stats_and_forecast_documents(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(400, "POST", f"{AD}/j/_forecast", {"duration": "1m"})
    assert err["reason"] == "[duration] must be greater or equal to the bucket span: [1m/15m]"
    err = api.error(400, "POST", f"{AD}/j/_forecast", expires_in="-1d")
    assert err["type"] == "illegal_argument_exception"
    answer = api.ok("POST", f"{AD}/j/_forecast", {"duration": "1h"})
    assert answer["acknowledged"] is True
    forecast_id = answer["forecast_id"]
    stats_doc = api.ok(
        "GET", f"/.ml-anomalies-shared/_doc/j_model_forecast_request_stats_{forecast_id}"
    )["_source"]
    assert stats_doc["forecast_status"] == "finished" and stats_doc["processed_record_count"] == 4
    found = api.ok(
        "POST",
        "/.ml-anomalies-j/_search",
        {"query": {"term": {"result_type": "model_forecast"}}},
    )
    assert found["hits"]["total"]["value"] == 4  # 1h of 15m buckets, one detector
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["forecasts_stats"]
    assert stats["total"] == 1 and stats["forecasted_jobs"] == 1
    assert stats["status"] == {"finished": 1} and stats["records"]["total"] == 4.0
    assert api.ok("DELETE", f"{AD}/j/_forecast/{forecast_id}") == {"acknowledged": True}
    assert api.ok("GET", "/.ml-anomalies-j/_count")["count"] == 0
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["forecasts_stats"] == {
        "total": 0,
        "forecasted_jobs": 0,
    }
    err = api.error(404, "DELETE", f"{AD}/j/_forecast/_all", allow_no_forecasts=False)
    assert err["reason"] == "No forecast(s) [_all] exists for job [j]"


def test_results_index_maps_strings_as_keywords_and_objects_as_objects(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed(
        "j",
        {
            "records": [
                {
                    "timestamp": T0,
                    "record_score": 1.0,
                    "by_field_value": "u1",
                    "user": "u1",
                    "causes": [{"actual": [2.0], "function": "mean"}],
                }
            ]
        },
    )
    props = api.ok("GET", "/.ml-anomalies-j/_mapping")[".ml-anomalies-shared"]["mappings"][
        "properties"
    ]
    # the results index template `strings_as_keywords` (results_index_mappings.json)
    assert props["user"] == {"type": "keyword"} and props["by_field_value"] == {"type": "keyword"}
    assert props["causes"]["properties"]["function"] == {"type": "keyword"}
