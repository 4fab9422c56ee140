"""Anomaly detection jobs: defaults, validation, multi-id GET, update and delete rules."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import MINIMAL_JOB, Api, job_body

AD = "/_ml/anomaly_detectors"


def test_minimal_job_gets_server_defaults(api: Api) -> None:
    job = api.ok("PUT", f"{AD}/minimal", MINIMAL_JOB)
    assert job["job_type"] == "anomaly_detector"
    assert isinstance(job["create_time"], int)
    assert {k: v for k, v in job.items() if k not in ("create_time", "job_version")} == {
        "job_id": "minimal",
        "job_type": "anomaly_detector",
        "analysis_config": {
            "bucket_span": "5m",
            "detectors": [
                {"detector_description": "count", "function": "count", "detector_index": 0}
            ],
            "influencers": [],
            "model_prune_window": "30d",
        },
        "analysis_limits": {"model_memory_limit": "1024mb", "categorization_examples_limit": 4},
        "data_description": {"time_field": "time", "time_format": "epoch_ms"},
        "model_snapshot_retention_days": 10,
        "daily_model_snapshot_retention_after_days": 1,
        "results_index_name": "shared",
        "allow_lazy_open": False,
    }
    assert api.ok("GET", f"{AD}/minimal")["jobs"] == [job]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (2048, "2048mb"),
        ("11MB", "11mb"),
        ("8g", "8192mb"),
        ("3000g", "3072000mb"),
        ("1500kb", "1mb"),
    ],
)
def test_model_memory_limit_is_normalised_to_mb(api: Api, given: Any, stored: str) -> None:
    job = api.ok("PUT", f"{AD}/j", job_body(analysis_limits={"model_memory_limit": given}))
    assert job["analysis_limits"]["model_memory_limit"] == stored


def test_model_memory_limit_below_one_mb_is_rejected(api: Api) -> None:
    err = api.error(
        400, "PUT", f"{AD}/j", job_body(analysis_limits={"model_memory_limit": "500kb"})
    )
    assert err["type"] == "illegal_argument_exception"
    assert err["reason"] == "model_memory_limit must be at least 1 MiB. Value = 0"


def test_generated_values(api: Api) -> None:
    job = api.ok(
        "PUT",
        f"{AD}/j",
        job_body(
            results_index_name="mine",
            model_snapshot_retention_days=1,
            analysis_config={
                "bucket_span": "1h",
                "detectors": [
                    {
                        "function": "nzc",
                        "by_field_name": "host",
                        "partition_field_name": "region name",
                        "exclude_frequent": "ALL",
                    }
                ],
            },
        ),
    )
    assert job["results_index_name"] == "custom-mine"
    assert job["daily_model_snapshot_retention_after_days"] == 1
    det = job["analysis_config"]["detectors"][0]
    assert det["function"] == "non_zero_count"
    assert det["exclude_frequent"] == "all"
    assert (
        det["detector_description"]
        == 'non_zero_count by host partitionfield="region name" excludefrequent=all'
    )


def test_categorization_gets_the_default_analyzer(api: Api) -> None:
    job = api.ok(
        "PUT",
        f"{AD}/cat",
        job_body(
            analysis_config={
                "categorization_field_name": "message",
                "categorization_filters": ["\\d+"],
                "detectors": [{"function": "count", "by_field_name": "mlcategory"}],
            }
        ),
    )
    ac = job["analysis_config"]
    assert "categorization_filters" not in ac
    assert ac["categorization_analyzer"]["char_filter"] == [
        "first_non_blank_line",
        {"type": "pattern_replace", "pattern": "\\d+"},
    ]
    assert ac["categorization_analyzer"]["tokenizer"] == "ml_standard"
    assert ac["per_partition_categorization"] == {"enabled": False}


@pytest.mark.parametrize(
    ("body", "etype", "reason"),
    [
        ({"data_description": {}}, "illegal_argument_exception", "An analysis_config must be set"),
        (
            {"analysis_config": {"detectors": [{"function": "count"}]}},
            "illegal_argument_exception",
            "A data_description must be set",
        ),
        (
            {"analysis_config": {"detectors": []}, "data_description": {}},
            "illegal_argument_exception",
            "No detectors configured",
        ),
        (
            {"analysis_config": {"detectors": [{"function": "bogus"}]}, "data_description": {}},
            "illegal_argument_exception",
            "Unknown function 'bogus'",
        ),
        (
            {"analysis_config": {"detectors": [{"function": "mean"}]}, "data_description": {}},
            "illegal_argument_exception",
            "field_name must be set when the 'mean' function is used",
        ),
        (
            {
                "analysis_config": {"detectors": [{"function": "count", "field_name": "x"}]},
                "data_description": {},
            },
            "illegal_argument_exception",
            "field_name cannot be used with function 'count'",
        ),
        (
            {"analysis_config": {"detectors": [{"function": "rare"}]}, "data_description": {}},
            "illegal_argument_exception",
            "by_field_name must be set when the 'rare' function is used",
        ),
        (
            {
                "analysis_config": {"detectors": [{"function": "count"}, {"function": "count"}]},
                "data_description": {},
            },
            "illegal_argument_exception",
            "Duplicate detectors are not allowed: [count]",
        ),
        (
            {
                "analysis_config": {"detectors": [{"function": "count", "by_field_name": "time"}]},
                "data_description": {},
            },
            "illegal_argument_exception",
            "data_description.time_field may not be used in the analysis_config",
        ),
        (
            {
                "analysis_config": {
                    "bucket_span": "15m",
                    "model_prune_window": "29m",
                    "detectors": [{"function": "count"}],
                },
                "data_description": {},
            },
            "illegal_argument_exception",
            "model_prune_window [29m] must be a multiple of bucket_span [15m]",
        ),
        (
            {
                "analysis_config": {
                    "bucket_span": "15m",
                    "model_prune_window": "15m",
                    "detectors": [{"function": "count"}],
                },
                "data_description": {},
            },
            "illegal_argument_exception",
            "model_prune_window [15m] must be at least 2 times greater than bucket_span [15m]",
        ),
        (
            {
                **MINIMAL_JOB,
                "model_snapshot_retention_days": 3,
                "daily_model_snapshot_retention_after_days": 4,
            },
            "illegal_argument_exception",
            # MessageFormat treats the source's single quotes as quoting: they vanish.
            "The value of daily_model_snapshot_retention_after_days [4] cannot be greater than "
            "model_snapshot_retention_days [3]",
        ),
        (
            {**MINIMAL_JOB, "groups": ["Bad"]},
            "illegal_argument_exception",
            "Invalid group id 'Bad'; must be non-empty string and may contain lowercase "
            "alphanumeric "
            "(a-z and 0-9), hyphens or underscores; must start and end with alphanumeric",
        ),
        (
            {**MINIMAL_JOB, "job_id": "other"},
            "illegal_argument_exception",
            "Inconsistent job_id; 'other' specified in the body differs from 'j' specified as "
            "a URL argument",
        ),
        (
            {
                "analysis_config": {
                    "categorization_filters": ["x"],
                    "detectors": [{"function": "count"}],
                },
                "data_description": {},
            },
            "illegal_argument_exception",
            "categorization_filters require setting categorization_field_name",
        ),
        (
            {
                "analysis_config": {
                    "detectors": [
                        {"function": "count", "custom_rules": [{"actions": ["skip_result"]}]}
                    ]
                },
                "data_description": {},
            },
            "illegal_argument_exception",
            "Invalid detector rule: at least scope or a condition is required",
        ),
        (
            {
                "analysis_config": {
                    "detectors": [
                        {
                            "function": "count",
                            "by_field_name": "airline",
                            "custom_rules": [{"scope": {"x": {"filter_id": "f"}}}],
                        }
                    ]
                },
                "data_description": {},
            },
            "illegal_argument_exception",
            "Invalid detector rule: scope field 'x' is invalid; select from [airline]",
        ),
    ],
)
def test_put_validation_errors(api: Api, body: dict[str, Any], etype: str, reason: str) -> None:
    err = api.error(400, "PUT", f"{AD}/j", body)
    assert (err["type"], err["reason"]) == (etype, reason)
    assert api.ok("GET", f"{AD}")["count"] == 0


def test_unknown_and_generated_fields_are_parse_errors(api: Api) -> None:
    err = api.error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "foo": 1})
    assert err["type"] == "x_content_parse_exception"
    assert err["reason"].endswith("[job_details] unknown field [foo]")
    assert err["reason"].startswith("[1:")
    err = api.error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "job_type": "anomaly_detector"})
    assert err["reason"].endswith("[job_details] unknown field [job_type]")


def test_generated_fields_before_8_14_use_the_old_message(clock: Any) -> None:
    import httpx
    from sandbox_helpers import Api as A

    from reconciler.sandbox import Sandbox, SandboxTransport

    with httpx.Client(
        transport=SandboxTransport(Sandbox(version="8.13.4")), base_url="http://x"
    ) as c:
        err = A(c, None).error(400, "PUT", f"{AD}/j", {**MINIMAL_JOB, "model_snapshot_id": "1"})  # type: ignore[arg-type]
    assert err["type"] == "illegal_argument_exception"
    assert err["reason"] == (
        "The job is configured with fields [model_snapshot_id] that are illegal to set at job "
        "creation"
    )


@pytest.mark.parametrize(
    ("job_id", "reason"),
    [
        (
            "Bad",
            "Invalid job_id; 'Bad' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
            "underscores; must start and end with alphanumeric",
        ),
        ("a" * 65, "The job id cannot contain more than 64 characters."),
    ],
)
def test_invalid_job_ids(api: Api, job_id: str, reason: str) -> None:
    err = api.error(400, "PUT", f"{AD}/{job_id}", MINIMAL_JOB)
    assert (err["type"], err["reason"]) == ("illegal_argument_exception", reason)


def test_duplicate_ids_and_group_collisions(api: Api) -> None:
    api.ok("PUT", f"{AD}/a", {**MINIMAL_JOB, "groups": ["team"]})
    err = api.error(400, "PUT", f"{AD}/a", MINIMAL_JOB)
    assert (err["type"], err["reason"]) == (
        "resource_already_exists_exception",
        "The job cannot be created with the Id 'a'. The Id is already used.",
    )
    err = api.error(400, "PUT", f"{AD}/team", MINIMAL_JOB)
    assert err["reason"] == "The job cannot be created with the Id 'team'. The Id is already used."
    err = api.error(400, "PUT", f"{AD}/b", {**MINIMAL_JOB, "groups": ["a"]})
    assert (err["type"], err["reason"]) == (
        "resource_already_exists_exception",
        "job and group names must be unique but job [a] and group [a] have the same name",
    )


def test_multi_id_expressions(api: Api) -> None:
    for job_id, groups in (("foo-2", ["g"]), ("foo-1", []), ("bar", ["g"])):
        api.ok("PUT", f"{AD}/{job_id}", {**MINIMAL_JOB, "groups": groups})
    ids = lambda r: [j["job_id"] for j in r["jobs"]]  # noqa: E731
    assert ids(api.ok("GET", AD)) == ["bar", "foo-1", "foo-2"]
    assert ids(api.ok("GET", f"{AD}/_all")) == ["bar", "foo-1", "foo-2"]
    assert ids(api.ok("GET", f"{AD}/foo-*")) == ["foo-1", "foo-2"]
    assert ids(api.ok("GET", f"{AD}/g")) == ["bar", "foo-2"]
    assert ids(api.ok("GET", f"{AD}/foo-2,bar")) == ["bar", "foo-2"]
    assert api.ok("GET", f"{AD}/nope-*") == {"count": 0, "jobs": []}
    err = api.error(404, "GET", f"{AD}/nope-*", allow_no_match=False)
    assert (err["type"], err["reason"]) == (
        "resource_not_found_exception",
        "No known job with id 'nope-*'",
    )
    err = api.error(404, "GET", f"{AD}/bar,missing", allow_no_match=True)
    assert err["reason"] == "No known job with id 'missing'"
    assert ids(api.ok("GET", f"{AD}/_stats")) == ["bar", "foo-1", "foo-2"]


def test_exclude_generated(api: Api) -> None:
    api.ok(
        "PUT",
        f"{AD}/j",
        {
            **MINIMAL_JOB,
            "custom_settings": {"created_by": "ml-module", "team": "x"},
            "datafeed_config": {"indices": ["i"]},
        },
    )
    job = api.ok("GET", f"{AD}/j", exclude_generated=True)["jobs"][0]
    for key in ("job_type", "job_version", "create_time", "datafeed_config"):
        assert key not in job
    assert job["custom_settings"] == {"team": "x"}
    full = api.ok("GET", f"{AD}/j")["jobs"][0]
    # Job.Builder.build: an inline datafeed without an id takes the job's id.
    assert full["datafeed_config"]["datafeed_id"] == "j"


def test_update_rules(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    updated = api.ok(
        "POST",
        f"{AD}/j/_update",
        {
            "description": "d",
            "groups": ["g1"],
            "custom_settings": {"a": 1},
            "detectors": [{"detector_index": 0, "description": "my detector"}],
            "model_prune_window": "45m",
            "analysis_limits": {"model_memory_limit": "64mb"},
        },
    )
    assert updated["description"] == "d"
    assert updated["groups"] == ["g1"]
    assert updated["analysis_config"]["detectors"][0]["detector_description"] == "my detector"
    assert updated["analysis_config"]["model_prune_window"] == "45m"
    assert updated["analysis_limits"]["model_memory_limit"] == "64mb"
    err = api.error(400, "POST", f"{AD}/j/_update", {"detectors": [{"detector_index": 3}]})
    assert err["reason"] == "Supplied detector_index [3] is >= the number of detectors [1]"
    err = api.error(400, "POST", f"{AD}/j/_update", {"bucket_span": "1h"})
    assert err["type"] == "x_content_parse_exception"
    assert err["reason"].endswith("[job_update] unknown field [bucket_span]")
    err = api.error(404, "POST", f"{AD}/missing/_update", {})
    assert err["reason"] == "No known job with id 'missing'"


def test_analysis_limits_update_rejected_while_open(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(
        400, "POST", f"{AD}/j/_update", {"analysis_limits": {"model_memory_limit": "2gb"}}
    )
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot update analysis_limits while the job is open",
    )
    assert (
        api.ok("POST", f"{AD}/j/_update", {"description": "while open"})["description"]
        == "while open"
    )


def test_model_memory_cannot_drop_below_usage(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed("j", {"model_size_stats": {"model_bytes": 11 * 1024 * 1024 - 5}})
    err = api.error(
        400, "POST", f"{AD}/j/_update", {"analysis_limits": {"model_memory_limit": "10mb"}}
    )
    assert err["reason"] == (
        "Invalid update value for analysis_limits: model_memory_limit cannot be decreased below "
        "current usage; current usage [11mb], update had [10mb]"
    )


def test_delete_rules_and_cascade(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("PUT", "/_ml/datafeeds/df", {"job_id": "j", "indices": ["i"]})
    api.ok("PUT", "/_ml/calendars/c", {"job_ids": ["j", "other"]})
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(409, "DELETE", f"{AD}/j")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot delete job [j] because the job is opened",
    )
    assert api.ok("DELETE", f"{AD}/j", force=True) == {"acknowledged": True}
    assert api.ok("GET", "/_ml/datafeeds")["count"] == 0
    assert api.ok("GET", "/_ml/calendars/c")["calendars"][0]["job_ids"] == ["other"]
    err = api.error(404, "DELETE", f"{AD}/j")
    assert err["reason"] == "No known job with id 'j'"


def test_delete_job_with_started_datafeed_needs_force(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("PUT", "/_ml/datafeeds/df", {"job_id": "j", "indices": ["i-*"]})
    api.ok("POST", f"{AD}/j/_open")
    api.ok("POST", "/_ml/datafeeds/df/_start")
    api.ok("POST", f"{AD}/j/_close")
    # closing stopped the datafeed first (PR #74257), so a plain delete now works
    assert api.ok("DELETE", f"{AD}/j") == {"acknowledged": True}


def test_open_close_state_machine(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    assert api.ok("POST", f"{AD}/j/_open")["opened"] is True
    err = api.error(409, "POST", f"{AD}/j/_open")
    assert err["reason"] == "Cannot open job [j] because it has already been opened"
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]
    assert stats["state"] == "opened"
    assert stats["node"]["name"]
    assert stats["open_time"].endswith("s")
    assert api.ok("POST", f"{AD}/j/_close") == {"closed": True}
    assert api.ok("POST", f"{AD}/j/_close") == {"closed": True}
    stats = api.ok("GET", f"{AD}/j/_stats")["jobs"][0]
    assert stats["state"] == "closed"
    assert "node" not in stats and "open_time" not in stats
    job = api.ok("GET", f"{AD}/j")["jobs"][0]
    assert isinstance(job["finished_time"], int)
    snaps = api.ok("GET", f"{AD}/j/model_snapshots")["model_snapshots"]
    assert [s["snapshot_id"] for s in snaps] == [job["model_snapshot_id"]]
    assert api.error(404, "POST", f"{AD}/nope/_open")["reason"] == "No known job with id 'nope'"


def test_failed_job_needs_force_close(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.ok("POST", f"{AD}/j/_open")
    api.ok("PUT", "/_sandbox/transitions", {"fail": {"jobs": ["j"]}})
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "failed"
    err = api.error(409, "POST", f"{AD}/j/_close")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "cannot close job [j] because it failed, use force close",
    )
    assert api.ok("POST", f"{AD}/j/_close", force=True) == {"closed": True}
    assert api.ok("GET", f"{AD}/j/_stats")["jobs"][0]["state"] == "closed"


def test_open_needs_referenced_filters(api: Api) -> None:
    api.ok(
        "PUT",
        f"{AD}/j",
        job_body(
            analysis_config={
                "detectors": [
                    {
                        "function": "count",
                        "by_field_name": "ip",
                        "custom_rules": [{"scope": {"ip": {"filter_id": "safe"}}}],
                    }
                ]
            }
        ),
    )
    err = api.error(404, "POST", f"{AD}/j/_open")
    assert err["reason"] == "No filter with id [safe] exists"
    api.ok("PUT", "/_ml/filters/safe", {"items": ["1.2.3.4"]})
    assert api.ok("POST", f"{AD}/j/_open")["opened"] is True


def test_reset_needs_closed_job(api: Api) -> None:
    api.ok("PUT", f"{AD}/j", job_body())
    api.seed("j", {"buckets": [{"timestamp": 1_700_000_000_000, "anomaly_score": 5}]})
    api.ok("POST", f"{AD}/j/_open")
    err = api.error(409, "POST", f"{AD}/j/_reset")
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Can only reset a job when it is closed.",
    )
    api.ok("POST", f"{AD}/j/_close")
    assert api.ok("POST", f"{AD}/j/_reset") == {"acknowledged": True}
    assert api.ok("GET", f"{AD}/j/results/buckets")["count"] == 0
    assert "model_snapshot_id" not in api.ok("GET", f"{AD}/j")["jobs"][0]


def test_validate_endpoints(api: Api) -> None:
    assert api.ok("POST", f"{AD}/_validate", job_body()) == {"acknowledged": True}
    err = api.error(
        400,
        "POST",
        f"{AD}/_validate",
        {"analysis_config": {"detectors": []}, "data_description": {}},
    )
    assert err["reason"] == "No detectors configured"
    assert api.ok("POST", f"{AD}/_validate/detector", {"function": "mean", "field_name": "x"}) == {
        "acknowledged": True
    }
    err = api.error(400, "POST", f"{AD}/_validate/detector", {"function": "mean"})
    assert err["reason"] == "field_name must be set when the 'mean' function is used"
    assert api.ok("GET", AD)["count"] == 0


def test_estimate_model_memory_needs_cardinalities(api: Api) -> None:
    err = api.error(
        400,
        "POST",
        f"{AD}/_estimate_model_memory",
        {"analysis_config": {"detectors": [{"function": "count", "by_field_name": "status"}]}},
    )
    assert (
        err["reason"]
        == "[Overall] cardinality estimate required for [by_field_name] [status] but not supplied"
    )
    small = api.ok(
        "POST",
        f"{AD}/_estimate_model_memory",
        {"analysis_config": {"detectors": [{"function": "count"}]}},
    )
    assert small == {"model_memory_estimate": "11mb"}


def test_close_expressions(api: Api) -> None:
    api.ok("PUT", f"{AD}/a", {**MINIMAL_JOB, "groups": ["g"]})
    api.ok("PUT", f"{AD}/b", {**MINIMAL_JOB, "groups": ["g"]})
    api.ok("POST", f"{AD}/a/_open")
    api.ok("POST", f"{AD}/b/_open")
    assert api.ok("POST", f"{AD}/nope-*/_close") == {"closed": True}
    err = api.error(404, "POST", f"{AD}/nope-*/_close", allow_no_match=False)
    assert err["reason"] == "No known job with id 'nope-*'"
    assert api.error(404, "POST", f"{AD}/nope/_close")["reason"] == "No known job with id 'nope'"
    assert api.ok("POST", f"{AD}/g/_close") == {"closed": True}
    states = [j["state"] for j in api.ok("GET", f"{AD}/_stats")["jobs"]]
    assert states == ["closed", "closed"]


# --------------------------------------------------------------------------- fidelity review
# Each case below reproduces a finding of the fidelity review (A1, A2, A4, B1, B2, C1) and
# asserts Elasticsearch's own status, type and reason text.


def _analysis(**ac: Any) -> dict[str, Any]:
    return {"analysis_config": ac, "data_description": {"time_field": "@timestamp"}}


_MLCAT = {"function": "count", "by_field_name": "mlcategory"}
_PPC_ON = {"enabled": True}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # A1: AnalysisConfig.verifyMlCategoryIsUsedWhenCategorizationFieldNameIsSet.
        (
            _analysis(categorization_field_name="message", detectors=[{"function": "count"}]),
            "categorization_field_name is set but mlcategory is not used in any detector "
            "by/over/partition field",
        ),
        # A2: AnalysisConfig.verifyConfigConsistentWithPerPartitionCategorization.
        (
            _analysis(per_partition_categorization=_PPC_ON, detectors=[{"function": "count"}]),
            "categorization_field_name must be set when per-partition categorization is enabled",
        ),
        (
            _analysis(
                categorization_field_name="message",
                per_partition_categorization=_PPC_ON,
                detectors=[_MLCAT],
            ),
            "partition_field_name must be set for detectors that reference mlcategory when "
            "per-partition categorization is enabled",
        ),
        (
            _analysis(
                categorization_field_name="message",
                per_partition_categorization=_PPC_ON,
                detectors=[
                    {"function": "count", "by_field_name": "host", "partition_field_name": "x"},
                    {
                        "function": "count",
                        "over_field_name": "u",
                        "partition_field_name": "mlcategory",
                    },
                ],
            ),
            "mlcategory cannot be used as a partition_field_name when per-partition "
            "categorization is enabled",
        ),
        (
            _analysis(
                categorization_field_name="message",
                per_partition_categorization=_PPC_ON,
                detectors=[
                    {**_MLCAT, "partition_field_name": "a"},
                    {"function": "count", "partition_field_name": "b"},
                ],
            ),
            "partition_field_name cannot vary between detectors when per-partition "
            "categorization is enabled: [a] and [b] are used",
        ),
        # A4: AnalysisConfig.verifyNoInconsistentNestedFieldNames (term fields + influencers).
        (
            _analysis(detectors=[{"function": "count", "by_field_name": "a"}], influencers=["a.b"]),
            "Fields [a] and [a.b] cannot both be used in the same analysis_config",
        ),
        (
            _analysis(
                detectors=[
                    {"function": "count", "over_field_name": "a.b.c"},
                    {"function": "count", "partition_field_name": "a.b"},
                ]
            ),
            "Fields [a.b] and [a.b.c] cannot both be used in the same analysis_config",
        ),
    ],
)
def test_analysis_config_cross_field_rules(api: Api, body: dict[str, Any], reason: str) -> None:
    err = api.error(400, "PUT", f"{AD}/j", body)
    assert (err["type"], err["reason"]) == ("illegal_argument_exception", reason)
    assert api.ok("GET", AD)["count"] == 0


def test_valid_categorization_and_nesting_are_accepted(api: Api) -> None:
    per_partition = api.ok(
        "PUT",
        f"{AD}/ppc",
        _analysis(
            categorization_field_name="message",
            per_partition_categorization={"enabled": True, "stop_on_warn": True},
            detectors=[
                {**_MLCAT, "partition_field_name": "host"},
                {"function": "count", "partition_field_name": "host"},
            ],
        ),
    )
    assert per_partition["analysis_config"]["per_partition_categorization"] == {
        "enabled": True,
        "stop_on_warn": True,
    }
    # `a.b` with `a.c` (siblings) is fine; only a field with one nested under it clashes.
    siblings = api.ok(
        "PUT",
        f"{AD}/siblings",
        _analysis(
            detectors=[{"function": "count", "by_field_name": "a.b"}], influencers=["a.c", "ab"]
        ),
    )
    assert siblings["analysis_config"]["influencers"] == ["a.c", "ab"]


def test_duplicate_detectors_compare_their_descriptions(api: Api) -> None:
    # B2: Detector.equals includes detector_description (Job.validateDetectorsAreUnique).
    described = [
        {"function": "count", "detector_description": "all events"},
        {"function": "count", "detector_description": "events again"},
    ]
    job = api.ok("PUT", f"{AD}/two", _analysis(detectors=described))
    assert [d["detector_description"] for d in job["analysis_config"]["detectors"]] == [
        "all events",
        "events again",
    ]
    same = [{"function": "count", "detector_description": "x"}] * 2
    err = api.error(400, "PUT", f"{AD}/dup", _analysis(detectors=same))
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        "Duplicate detectors are not allowed: [x]",
    )


@pytest.mark.parametrize("expression", ["_all", "*", "j*"])
def test_update_of_all_or_a_wildcard_is_a_bad_request(api: Api, expression: str) -> None:
    # B1: es-ml-api.md §1.6 "Updating `_all` / wildcard → 400" (UpdateJobAction.Request).
    api.ok("PUT", f"{AD}/j1", MINIMAL_JOB)
    err = api.error(400, "POST", f"{AD}/{expression}/_update", {"description": "x"})
    assert (err["type"], err["reason"]) == (
        "status_exception",
        "Cannot update more than 1 job at a time",
    )
    assert "description" not in api.ok("GET", f"{AD}/j1")["jobs"][0]


@pytest.mark.parametrize(
    ("given", "setting", "shown"),
    [
        ("10gb", "9gb", ("10gb", "9gb")),  # es-ml-api.md §1.5
        (10240, "9216mb", ("10gb", "9gb")),  # ByteSizeValue.toString picks the largest unit
        ("1536mb", "1gb", ("1.5gb", "1gb")),
        ("600mb", "500mb", ("600mb", "500mb")),
    ],
)
def test_model_memory_limit_over_the_max_shows_byte_sizes(
    given: Any, setting: str, shown: tuple[str, str]
) -> None:
    # C1: AnalysisLimits renders both values with ByteSizeValue.toString.
    import httpx
    from sandbox_helpers import Api as A

    from reconciler.sandbox import Sandbox, SandboxTransport

    sandbox = Sandbox(max_model_memory_limit=setting)
    with httpx.Client(transport=SandboxTransport(sandbox), base_url="http://x") as c:
        err = A(c, sandbox).error(
            400, "PUT", f"{AD}/j", job_body(analysis_limits={"model_memory_limit": given})
        )
    assert (err["type"], err["reason"]) == (
        "illegal_argument_exception",
        f"model_memory_limit [{shown[0]}] must be less than the value of the "
        f"xpack.ml.max_model_memory_limit setting [{shown[1]}]",
    )
