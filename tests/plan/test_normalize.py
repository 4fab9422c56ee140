"""Each canonicalisation rule, as a pair: the manifest's spelling vs what Elasticsearch returns.

The "returned" side is taken from the references (es-ml-api.md sections and the recorded
es-spec-examples bodies), never from mlsync's sandbox.
"""

from __future__ import annotations

import pytest

from reconciler.model import Kind
from reconciler.normalize import (
    ServerDefaults,
    canonical,
    canonical_bytes,
    canonical_duration,
    canonical_event_time,
    canonical_expand_wildcards,
    canonical_job_memory,
    default_categorization_analyzer,
    drop_unset_computed,
)

DEFAULTS = ServerDefaults()


def same(kind: Kind, manifest: dict, returned: dict, defaults: ServerDefaults = DEFAULTS) -> None:
    desired = canonical(kind, manifest, defaults)
    live = drop_unset_computed(kind, desired, canonical(kind, returned, defaults))
    assert live == desired


# es-spec-examples/put_job: request (8.4) and the exact 200 response.
PUT_JOB_REQUEST = {
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [
            {"detector_description": "Sum of bytes", "function": "sum", "field_name": "bytes"}
        ],
    },
    "data_description": {"time_field": "timestamp", "time_format": "epoch_ms"},
    "analysis_limits": {"model_memory_limit": "11MB"},
    "model_plot_config": {"enabled": True, "annotations_enabled": True},
    "results_index_name": "test-job1",
}
PUT_JOB_RESPONSE = {
    "job_id": "test-job1",
    "job_type": "anomaly_detector",
    "job_version": "8.4.0",
    "create_time": 1656087283340,
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [
            {
                "detector_description": "Sum of bytes",
                "function": "sum",
                "field_name": "bytes",
                "detector_index": 0,
            }
        ],
        "influencers": [],
        "model_prune_window": "30d",
    },
    "analysis_limits": {"model_memory_limit": "11mb", "categorization_examples_limit": 4},
    "data_description": {"time_field": "timestamp", "time_format": "epoch_ms"},
    "model_plot_config": {"enabled": True, "annotations_enabled": True},
    "model_snapshot_retention_days": 10,
    "daily_model_snapshot_retention_after_days": 1,
    "results_index_name": "custom-test-job1",
    "allow_lazy_open": False,
}
# The embedded datafeed of the same response.
PUT_JOB_DATAFEED = {
    "datafeed_id": "datafeed-test-job1",
    "job_id": "test-job1",
    "authorization": {"roles": ["superuser"]},
    "query_delay": "61499ms",
    "chunking_config": {"mode": "auto"},
    "indices_options": {
        "expand_wildcards": ["open"],
        "ignore_unavailable": False,
        "allow_no_indices": True,
        "ignore_throttled": True,
    },
    "query": {"bool": {"must": [{"match_all": {}}]}},
    "indices": ["kibana_sample_data_logs"],
    "scroll_size": 1000,
    "delayed_data_check_config": {"enabled": True},
    "runtime_mappings": {
        "hour_of_day": {
            "type": "long",
            "script": {"source": "emit(doc['timestamp'].value.getHour());"},
        }
    },
}


def test_put_job_example_round_trips() -> None:
    same(Kind.JOB, PUT_JOB_REQUEST, PUT_JOB_RESPONSE)


def test_put_job_example_datafeed_round_trips() -> None:
    manifest = {
        "job_id": "test-job1",
        "indices": ["kibana_sample_data_logs"],
        "query": {"bool": {"must": [{"match_all": {}}]}},
        "runtime_mappings": PUT_JOB_DATAFEED["runtime_mappings"],
    }
    same(Kind.DATAFEED, manifest, PUT_JOB_DATAFEED)


def test_minimal_job_gets_every_server_default() -> None:
    # es-ml-api.md §1.8: minimal PUT and the 8.x GET shape.
    returned = {
        "job_id": "minimal",
        "job_type": "anomaly_detector",
        "job_version": "8.4.0",
        "create_time": 1656087283340,
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
    same(
        Kind.JOB,
        {"analysis_config": {"detectors": [{"function": "count"}]}, "data_description": {}},
        returned,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("15m", "15m"),
        ("900s", "15m"),
        ("900000ms", "15m"),
        ("3600S", "1h"),
        ("61499ms", "61499ms"),
        ("30d", "30d"),
    ],
)
def test_durations_compare_by_length(given: str, expected: str) -> None:
    # es-ml-api.md §1.2: TimeValue keeps the unit as given ("15m", "3600s", "1h", "3600000ms").
    assert canonical_duration(given) == expected


@pytest.mark.parametrize(
    ("given", "returned"),
    [
        (2048, "2048mb"),
        ("11MB", "11mb"),
        ("8g", "8192mb"),
        ("3000g", "3072000mb"),
        ("1500kb", "1mb"),
        ("1gb", "1024mb"),
    ],
)
def test_job_memory_limit_is_whole_megabytes(given: object, returned: str) -> None:
    # es-ml-api.md §1.5, the examples verbatim.
    assert canonical_job_memory(given) == canonical_job_memory(returned) == returned


def test_dfa_memory_limit_compares_sizes_not_spellings() -> None:
    # §3.1: DFA echoes the string as given, so "1gb" and "1024mb" are both possible answers.
    assert canonical_bytes("1gb") == canonical_bytes("1024mb") == canonical_bytes("1073741824b")
    assert canonical_bytes("150mb") != canonical_bytes("200mb")


def test_expand_wildcards_shorthands() -> None:
    # terraform-provider-elasticstack #2568: "all" comes back expanded.
    assert canonical_expand_wildcards("all") == ["closed", "hidden", "open"]
    assert canonical_expand_wildcards(["open", "closed", "hidden"]) == ["closed", "hidden", "open"]
    assert canonical_expand_wildcards("open,closed") == ["closed", "open"]


def test_categorization_filters_equal_the_generated_analyzer() -> None:
    # §1.2: 7.14+ folds categorization_filters into the stored analyzer and drops the filters.
    manifest = {
        "analysis_config": {
            "categorization_field_name": "message",
            "categorization_filters": ["\\[statement:.*\\]"],
            "detectors": [{"function": "count", "by_field_name": "mlcategory"}],
        },
        "data_description": {},
    }
    returned_config = {
        "bucket_span": "5m",
        "categorization_field_name": "message",
        "categorization_analyzer": default_categorization_analyzer(["\\[statement:.*\\]"]),
        "per_partition_categorization": {"enabled": False},
        "detectors": [
            {
                "detector_description": "count by mlcategory",
                "function": "count",
                "by_field_name": "mlcategory",
                "detector_index": 0,
            }
        ],
        "influencers": [],
        "model_prune_window": "30d",
    }
    same(
        Kind.JOB,
        manifest,
        {
            **PUT_JOB_RESPONSE,
            "analysis_config": returned_config,
            "results_index_name": "shared",
            "data_description": {"time_field": "time", "time_format": "epoch_ms"},
            "analysis_limits": {"model_memory_limit": "1024mb", "categorization_examples_limit": 4},
        }
        | {"model_plot_config": {"enabled": False, "annotations_enabled": False}},
    )


def test_detector_function_shortcuts_and_exclude_frequent_case() -> None:
    manifest = {
        "function": "high_nzc",
        "by_field_name": "host",
        "exclude_frequent": "ALL",
        "use_null": False,
    }
    returned = {
        "function": "high_non_zero_count",
        "by_field_name": "host",
        "exclude_frequent": "all",
        "detector_index": 0,
    }
    m = canonical(Kind.JOB, {"analysis_config": {"detectors": [manifest]}, "data_description": {}})
    r = canonical(Kind.JOB, {"analysis_config": {"detectors": [returned]}, "data_description": {}})
    assert m == r


def test_custom_rule_defaults() -> None:
    # §1.3.1: actions default ["skip_result"], filter_type default include, value as double.
    manifest_rule = {
        "scope": {"user_id": {"filter_id": "safe_users"}},
        "conditions": [{"applies_to": "actual", "operator": "gt", "value": 10}],
    }
    returned_rule = {
        "actions": ["skip_result"],
        "scope": {"user_id": {"filter_id": "safe_users", "filter_type": "include"}},
        "conditions": [{"applies_to": "actual", "operator": "gt", "value": 10.0}],
    }

    def job(rule: dict) -> dict:
        return {
            "analysis_config": {
                "detectors": [
                    {
                        "function": "mean",
                        "field_name": "x",
                        "by_field_name": "user_id",
                        "custom_rules": [rule],
                    }
                ]
            },
            "data_description": {},
        }

    assert canonical(Kind.JOB, job(manifest_rule)) == canonical(Kind.JOB, job(returned_rule))


def test_results_index_custom_prefix() -> None:
    assert canonical(Kind.JOB, {"results_index_name": "abc"})["results_index_name"] == "custom-abc"
    assert (
        canonical(Kind.JOB, {"results_index_name": "custom-abc"})["results_index_name"]
        == "custom-abc"
    )
    assert canonical(Kind.JOB, {})["results_index_name"] == "shared"


def test_daily_retention_default_follows_retention_days() -> None:
    # §1.1: 1 if model_snapshot_retention_days > 1, else equal to it.
    assert (
        canonical(Kind.JOB, {"model_snapshot_retention_days": 1})[
            "daily_model_snapshot_retention_after_days"
        ]
        == 1
    )
    assert (
        canonical(Kind.JOB, {"model_snapshot_retention_days": 0})[
            "daily_model_snapshot_retention_after_days"
        ]
        == 0
    )
    assert canonical(Kind.JOB, {})["daily_model_snapshot_retention_after_days"] == 1


def test_job_memory_default_follows_the_cluster_max() -> None:
    # §1.5 / ml_info.yml: the default becomes max_model_memory_limit when that is lower.
    defaults = ServerDefaults(job_model_memory_limit_mb=512)
    assert canonical(Kind.JOB, {}, defaults)["analysis_limits"]["model_memory_limit"] == "512mb"


def test_dfa_example_loganalytics() -> None:
    # es-ml-api.md §3.6.
    returned = {
        "id": "loganalytics",
        "description": "Outlier detection on log data",
        "source": {"index": ["logdata"], "query": {"match_all": {}}},
        "dest": {"index": "logdata_out", "results_field": "ml"},
        "analysis": {
            "outlier_detection": {
                "compute_feature_influence": True,
                "outlier_fraction": 0.05,
                "standardization_enabled": True,
            }
        },
        "model_memory_limit": "1gb",
        "create_time": 1562265491319,
        "version": "8.4.0",
        "authorization": {"roles": ["superuser"]},
        "allow_lazy_start": False,
        "max_num_threads": 1,
    }
    manifest = {
        "description": "Outlier detection on log data",
        "source": {"index": "logdata"},
        "dest": {"index": "logdata_out"},
        "analysis": {"outlier_detection": {}},
    }
    same(Kind.DFA, manifest, returned)


def test_dfa_regression_defaults_and_random_seed() -> None:
    # §3.2: defaults filled, randomize_seed generated at PUT.
    manifest = {
        "source": {"index": ["houses"]},
        "dest": {"index": "houses_out"},
        "analysis": {"regression": {"dependent_variable": "price"}},
        "analyzed_fields": ["a.*"],
    }
    returned = {
        "source": {"index": ["houses"], "query": {"match_all": {}}},
        "dest": {"index": "houses_out", "results_field": "ml"},
        "analysis": {
            "regression": {
                "dependent_variable": "price",
                "prediction_field_name": "price_prediction",
                "training_percent": 100.0,
                "randomize_seed": -2228827740028660200,
                "loss_function": "mse",
                "early_stopping_enabled": True,
            }
        },
        "analyzed_fields": {"includes": ["a.*"], "excludes": []},
        "model_memory_limit": "1gb",
        "allow_lazy_start": False,
        "max_num_threads": 1,
    }
    same(Kind.DFA, manifest, returned)


def test_classification_training_percent_int_vs_double() -> None:
    manifest = {
        "analysis": {"classification": {"dependent_variable": "churned", "training_percent": 80}}
    }
    returned = {
        "analysis": {
            "classification": {
                "dependent_variable": "churned",
                "training_percent": 80.0,
                "prediction_field_name": "churned_prediction",
                "early_stopping_enabled": True,
                "class_assignment_objective": "maximize_minimum_recall",
                "num_top_classes": 2,
                "randomize_seed": 7,
            }
        }
    }
    same(Kind.DFA, manifest, returned)


def test_filter_items_are_a_sorted_set() -> None:
    # §4.1: the server sorts and de-duplicates items.
    same(Kind.FILTER, {"items": ["b", "a", "b"]}, {"filter_id": "f", "items": ["a", "b"]})


def test_calendar_events_iso_vs_epoch_ms() -> None:
    # §4.2: times accepted as ISO strings, returned as epoch ms; event ids generated.
    manifest = {
        "job_ids": ["b", "a"],
        "events": [
            {
                "description": "Black Friday",
                "start_time": "2025-11-28T00:00:00Z",
                "end_time": "2025-11-29T00:00:00Z",
            }
        ],
    }
    returned = {
        "calendar_id": "holidays",
        "job_ids": ["a", "b"],
        "events": [
            {
                "description": "Black Friday",
                "start_time": 1764288000000,
                "end_time": 1764374400000,
                "calendar_id": "holidays",
                "event_id": "x1",
                "skip_result": True,
                "skip_model_update": True,
            }
        ],
    }
    same(Kind.CALENDAR, manifest, returned)
    assert canonical_event_time("1764288000000") == 1764288000000


def test_canonical_is_idempotent() -> None:
    for kind, body in [(Kind.JOB, PUT_JOB_RESPONSE), (Kind.DATAFEED, PUT_JOB_DATAFEED)]:
        once = canonical(kind, body)
        assert canonical(kind, once) == once


def test_a_real_difference_survives_canonical_form() -> None:
    changed = {**PUT_JOB_REQUEST, "analysis_limits": {"model_memory_limit": "12MB"}}
    desired = canonical(Kind.JOB, changed)
    live = drop_unset_computed(Kind.JOB, desired, canonical(Kind.JOB, PUT_JOB_RESPONSE))
    assert live != desired
    assert live["analysis_limits"]["model_memory_limit"] == "11mb"
    assert desired["analysis_limits"]["model_memory_limit"] == "12mb"
