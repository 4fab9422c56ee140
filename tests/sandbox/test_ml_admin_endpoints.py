"""Upgrade mode, expired-data deletion, model aliases and snapshot upgrades.

Expected answers: MlUpgradeModeActionFilter (429 `Cannot perform <action> action while upgrade
mode is enabled` for the actions it lists, MlTasks.AWAITING_UPGRADE in the stats), the removers
of TransportDeleteExpiredDataAction, TransportPutTrainedModelAliasAction's messages.
"""

from __future__ import annotations

from sandbox_helpers import Api, Clock, job_body

AD = "/_ml/anomaly_detectors"
DAY = 86_400_000
T0 = 1_704_067_200_000


def test_upgrade_mode_refuses_the_listed_actions_and_unassigns_tasks(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    assert api.ok("POST", "/_ml/set_upgrade_mode", enabled=True) == {"acknowledged": True}
    assert api.ok("GET", "/_ml/info")["upgrade_mode"] is True
    for method, path, action in (
        ("PUT", f"{AD}/k", "job/put"),
        ("POST", f"{AD}/j/_close", "job/close"),
        ("PUT", "/_ml/filters/f", "filters/put"),
        ("DELETE", "/_ml/_delete_expired_data", "delete_expired_data"),
    ):
        body = job_body() if method == "PUT" and "anomaly" in path else {"items": []}
        err = api.error(429, method, path, body if method == "PUT" else None)
        assert (err["type"], err["reason"]) == (
            "status_exception",
            f"Cannot perform cluster:admin/xpack/ml/{action} action while upgrade mode is enabled",
        )
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]
    assert stats["state"] == "opened" and "node" not in stats
    assert stats["assignment_explanation"] == (
        "persistent task cannot be assigned while upgrade mode is enabled."
    )
    # reads stay allowed
    assert api.ok("GET", f"{AD}/j")["count"] == 1
    api.ok("POST", "/_ml/set_upgrade_mode", enabled=False)
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["assignment_explanation"] == ""
    api.ok("POST", f"{AD}/j/_close")


def test_delete_expired_data_applies_the_retention_settings(api: Api, clock: Clock) -> None:
    api.ok("PUT", f"{AD}/j", job_body(results_retention_days=2, model_snapshot_retention_days=2))
    api.seed(
        "j",
        {
            "buckets": [{"timestamp": T0 + n * DAY, "anomaly_score": 1.0} for n in range(5)],
            "model_snapshots": [
                {"snapshot_id": f"s{n}", "timestamp": T0 + n * DAY, "retain": n == 0}
                for n in range(5)
            ],
        },
    )
    err = api.error(400, "DELETE", "/_ml/_delete_expired_data", requests_per_second=0)
    assert err["reason"].startswith("Validation Failed: 1: [requests_per_second]")
    err = api.error(404, "DELETE", "/_ml/_delete_expired_data/nope")
    assert err["reason"] == "No known job with id 'nope'"
    assert api.ok("DELETE", "/_ml/_delete_expired_data/j") == {"deleted": True}
    # results older than newest bucket - 2 days go
    kept = [b["timestamp"] for b in api.ok("GET", f"{AD}/j/results/buckets")["buckets"]]
    assert kept == [T0 + 2 * DAY, T0 + 3 * DAY, T0 + 4 * DAY]
    # snapshots older than newest - 2 days go (s1), except the retained one (s0); the daily
    # rule (after 1 day) keeps one per day in between (s2); s4 is the active one
    snaps = api.ok("GET", f"{AD}/j/model_snapshots", desc=False)["model_snapshots"]
    assert [s["snapshot_id"] for s in snaps] == ["s0", "s2", "s3", "s4"]


def test_expired_forecasts_are_deleted(api: Api, clock: Clock) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    short = api.ok("POST", f"{AD}/j/_forecast", duration="1h", expires_in="1h")["forecast_id"]
    kept = api.ok("POST", f"{AD}/j/_forecast", duration="1h", expires_in="0")["forecast_id"]
    clock.advance(7200)
    api.ok("DELETE", "/_ml/_delete_expired_data")
    left = api.ok(
        "POST",
        "/.ml-anomalies-j/_search",
        {"query": {"term": {"result_type": "model_forecast_request_stats"}}},
    )["hits"]["hits"]
    assert [h["_source"]["forecast_id"] for h in left] == [kept]
    assert short != kept


def test_model_alias_reassignment_rules(api: Api) -> None:
    for model_id, config in (
        ("reg-1", {"regression": {}}),
        ("reg-2", {"regression": {}}),
        ("cls-1", {"classification": {}}),
    ):
        api.ok(
            "PUT",
            f"/_ml/trained_models/{model_id}",
            {"inference_config": config, "input": {"field_names": ["a"]}},
        )
    api.ok("PUT", "/_ml/trained_models/reg-1/model_aliases/current")
    err = api.error(400, "PUT", "/_ml/trained_models/reg-2/model_aliases/current")
    assert err["reason"] == (
        "cannot assign model_alias [current] to model_id [reg-2] as model_alias already refers "
        "to [reg-1]. Set parameter [reassign] to [true] if model_alias should be reassigned."
    )
    err = api.error(400, "PUT", "/_ml/trained_models/cls-1/model_aliases/current", reassign=True)
    assert err["reason"] == (
        "cannot reassign model_alias [current] to model [cls-1] with inference config type "
        "[classification] from model [reg-1] with type [regression]"
    )
    err = api.error(400, "PUT", "/_ml/trained_models/reg-1/model_aliases/reg-2")
    assert err["reason"] == "model_alias cannot be the same as an existing trained model_id"
    api.ok("PUT", "/_ml/trained_models/reg-2/model_aliases/current", reassign=True)
    assert (
        api.ok("GET", "/_ml/trained_models/current")["trained_model_configs"][0]["model_id"]
        == "reg-2"
    )


def test_snapshot_upgrade_rules_and_the_rewritten_document(api: Api) -> None:
    # TransportUpgradeJobModelSnapshotAction: only the active snapshot needs a closed job
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed(
        "j",
        {
            "model_snapshots": [
                {"snapshot_id": "old", "timestamp": T0, "min_version": "7.17.0"},
                {"snapshot_id": "active", "timestamp": T0 + DAY, "min_version": "7.17.0"},
            ]
        },
    )
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(409, "POST", f"{AD}/j/model_snapshots/active/_upgrade")
    assert err["reason"] == (
        "Cannot upgrade snapshot [active] for job [j] as it is the current primary job "
        "snapshot and the job's state is [opened]"
    )
    answer = api.ok("POST", f"{AD}/j/model_snapshots/old/_upgrade")
    assert answer["completed"] is True and answer["node"]
    doc = api.ok("GET", "/.ml-anomalies-shared/_doc/j_model_snapshot_old")["_source"]
    listed = api.ok("GET", f"{AD}/j/model_snapshots/old")["model_snapshots"][0]
    assert doc["min_version"] == listed["min_version"] != "7.17.0"
    err = api.error(409, "POST", f"{AD}/j/model_snapshots/old/_upgrade")
    assert err["reason"] == (
        f"Cannot upgrade job [j] snapshot [old] as it is already compatible with current "
        f"version {listed['min_version']}"
    )
    err = api.error(404, "POST", f"{AD}/j/model_snapshots/nope/_upgrade")
    assert err["reason"] == "No model snapshot with id [nope] exists for job [j]"


def test_memory_stats_count_assigned_jobs_and_the_machine_memory_share(api: Api) -> None:
    GB, MB = 1024**3, 1024**2
    node = next(iter(api.ok("GET", "/_ml/memory/_stats")["nodes"].values()))
    assert node["mem"]["ml"]["max_in_bytes"] == 16 * GB * 30 // 100
    assert node["mem"]["ml"]["anomaly_detectors_in_bytes"] == 0
    api.ok("PUT", f"{AD}/j", job_body(analysis_limits={"model_memory_limit": "64mb"}))
    api.ok("POST", f"{AD}/j/_open")
    api.ok("PUT", "/_cluster/settings", {"persistent": {"xpack.ml.max_machine_memory_percent": 50}})
    answer = api.ok("GET", "/_ml/memory/_stats")
    assert answer["_nodes"] == {"total": 1, "successful": 1, "failed": 0}
    ml = next(iter(answer["nodes"].values()))["mem"]["ml"]
    assert ml["anomaly_detectors_in_bytes"] == 64 * MB + 10 * MB  # + the process overhead
    assert ml["native_code_overhead_in_bytes"] == 30 * MB
    assert ml["max_in_bytes"] == 8 * GB
    assert api.ok("GET", "/_ml/memory/other-node/_stats")["nodes"] == {}


def test_a_deployed_model_is_deleted_only_with_force(api: Api) -> None:
    api.ok(
        "PUT",
        "/_ml/trained_models/ner-model",
        {"model_type": "pytorch", "inference_config": {"ner": {}}, "input": {"field_names": ["t"]}},
    )
    api.ok(
        "PUT",
        "/_ml/trained_models/ner-model/definition/0",
        {"definition": "AAAA", "total_definition_length": 3, "total_parts": 1},
    )
    api.ok("POST", "/_ml/trained_models/ner-model/deployment/_start")
    err = api.error(409, "DELETE", "/_ml/trained_models/ner-model")
    assert err["reason"] == "Cannot delete model [ner-model] as it is currently deployed"
    assert api.ok("DELETE", "/_ml/trained_models/ner-model", force=True) == {"acknowledged": True}
    assert api.ok("GET", "/_ml/trained_models")["count"] == 0
