"""`PUT|GET _cluster/settings` and the ML behaviour that depends on them.

Expected answers: RestClusterUpdateSettingsAction's body (what changed, nested, values as
strings), the settings service's "not recognized" message, EnableAssignmentDecider's
explanation, JobNodeSelector's full-node explanation behind TransportOpenJobAction's "no
suitable nodes" 429, and `_ml/info` limits (es-ml-api.md §7).
"""

from __future__ import annotations

from sandbox_helpers import Api, Clock, job_body

AD = "/_ml/anomaly_detectors"


def test_put_and_get_have_the_persistent_and_transient_shape(api: Api) -> None:
    answer = api.ok(
        "PUT",
        "/_cluster/settings",
        {"persistent": {"xpack.ml.max_open_jobs": 20}, "transient": {"xpack": {"ml": {}}}},
    )
    assert answer == {
        "acknowledged": True,
        "persistent": {"xpack": {"ml": {"max_open_jobs": "20"}}},
        "transient": {},
    }
    assert api.ok("GET", "/_cluster/settings") == {
        "persistent": {"xpack": {"ml": {"max_open_jobs": "20"}}},
        "transient": {},
    }
    flat = api.ok("GET", "/_cluster/settings", flat_settings=True)
    assert flat == {"persistent": {"xpack.ml.max_open_jobs": "20"}, "transient": {}}
    api.ok("PUT", "/_cluster/settings", {"persistent": {"xpack.ml.max_open_jobs": None}})
    assert api.ok("GET", "/_cluster/settings")["persistent"] == {}
    defaults = api.ok("GET", "/_cluster/settings", include_defaults=True, flat_settings=True)
    assert defaults["defaults"]["xpack.ml.max_open_jobs"] == "512"
    err = api.error(400, "PUT", "/_cluster/settings", {"persistent": {"xpack.ml.nope": 1}})
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "persistent setting [xpack.ml.nope], not recognized",
    )
    err = api.error(400, "PUT", "/_cluster/settings", {"transient": {"xpack.ml.enabled": False}})
    assert err["reason"] == "transient setting [xpack.ml.enabled], not dynamically updateable"
    err = api.error(400, "PUT", "/_cluster/settings", {"persistent": {"xpack.ml.max_open_jobs": 0}})
    assert err["reason"] == (
        "Failed to parse value [0] for setting [xpack.ml.max_open_jobs] must be >= 1"
    )


def test_max_model_memory_limit_feeds_ml_info_and_job_validation(api: Api) -> None:
    assert "max_model_memory_limit" not in api.ok("GET", "/_ml/info")["limits"]
    api.ok("PUT", "/_cluster/settings", {"persistent": {"xpack.ml.max_model_memory_limit": "1gb"}})
    api.ok("PUT", "/_cluster/settings", {"transient": {"xpack.ml.max_model_memory_limit": "512mb"}})
    info = api.ok("GET", "/_ml/info")
    assert info["limits"]["max_model_memory_limit"] == "512mb"  # transient wins
    assert info["defaults"]["anomaly_detectors"]["model_memory_limit"] == "512mb"
    err = api.error(
        400, "PUT", f"{AD}/big", job_body(analysis_limits={"model_memory_limit": "600mb"})
    )
    assert err["reason"] == (
        "model_memory_limit [600mb] must be less than the value of the "
        "xpack.ml.max_model_memory_limit setting [512mb]"
    )
    api.ok("PUT", "/_cluster/settings", {"transient": {"xpack.ml.max_model_memory_limit": None}})
    api.ok("PUT", f"{AD}/big", job_body(analysis_limits={"model_memory_limit": "600mb"}))


def test_disabled_task_allocation_refuses_or_defers_job_open(api: Api, clock: Clock) -> None:
    api.ok("PUT", f"{AD}/eager", job_body())
    api.ok("PUT", f"{AD}/lazy", job_body(allow_lazy_open=True))
    none = {"persistent": {"cluster.persistent_tasks.allocation.enable": "none"}}
    api.ok("PUT", "/_cluster/settings", none)
    explanation = (
        "persistent task [xpack/ml/job] cannot be assigned [no persistent task assignments are "
        "allowed due to cluster settings]"
    )
    err = api.error(429, "POST", f"{AD}/eager/_open")
    # TransportOpenJobAction.makeAssignmentsNotAllowedException
    assert err["reason"] == (
        "Cannot open jobs because persistent task assignment is disabled by the "
        "[cluster.persistent_tasks.allocation.enable] setting"
    )
    assert api.ok("POST", f"{AD}/lazy/_open") == {"opened": True, "node": ""}
    clock.advance(60)
    stats = api.ok("GET", f"{AD}/lazy/_stats")["jobs"][0]
    assert stats["state"] == "opening" and "node" not in stats
    assert stats["assignment_explanation"] == explanation
    all_ = {"persistent": {"cluster.persistent_tasks.allocation.enable": "all"}}
    api.ok("PUT", "/_cluster/settings", all_)
    clock.advance(60)
    stats = api.ok("GET", f"{AD}/lazy/_stats")["jobs"][0]
    assert stats["state"] == "opened" and stats["assignment_explanation"] == ""


def test_max_open_jobs_fills_the_node(api: Api) -> None:
    api.ok("PUT", "/_cluster/settings", {"persistent": {"xpack.ml.max_open_jobs": 1}})
    for job in ("one", "two"):
        api.ok("PUT", f"{AD}/{job}", job_body())
    api.ok("POST", f"{AD}/one/_open")
    err = api.error(429, "POST", f"{AD}/two/_open")
    # makeNoSuitableNodesException: the explanation is in the IllegalStateException cause
    assert err["reason"] == (
        "Could not open job because no ML nodes with sufficient capacity were found"
    )
    assert err["caused_by"]["reason"].startswith(
        "Could not open job because no suitable nodes were found, allocation explanation ["
    )
    assert (
        "because this node is full. Number of opened jobs and allocated native inference "
        "processes [1], xpack.ml.max_open_jobs [1]" in err["caused_by"]["reason"]
    )
    api.ok("POST", f"{AD}/one/_close")
    api.ok("POST", f"{AD}/two/_open")
