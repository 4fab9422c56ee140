"""No perpetual diff: every server-side rewrite in es-ml-api.md plans as "no change".

Each case is a manifest spec written one way and the body Elasticsearch returns for it, written
from the reference (section cited), run through the whole planner.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import Kind, LiveState, Ref, Resource
from reconciler.plan import make_plan

BASE_JOB: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}
RETURNED_JOB: dict[str, Any] = {
    "job_id": "j",
    "job_type": "anomaly_detector",
    "job_version": "12.0.0",
    "create_time": 1656087283340,
    "analysis_config": {
        "bucket_span": "15m",
        "detectors": [{"detector_description": "count", "function": "count", "detector_index": 0}],
        "influencers": [],
        "model_prune_window": "30d",
    },
    "analysis_limits": {"model_memory_limit": "1024mb", "categorization_examples_limit": 4},
    "data_description": {"time_field": "@timestamp", "time_format": "epoch_ms"},
    "model_snapshot_retention_days": 10,
    "daily_model_snapshot_retention_after_days": 1,
    "results_index_name": "shared",
    "allow_lazy_open": False,
    "custom_settings": {"managed_by": "mlsync"},
}
RETURNED_FEED: dict[str, Any] = {
    "datafeed_id": "f",
    "job_id": "j",
    "authorization": {"roles": ["superuser"]},
    "query_delay": "61499ms",
    "chunking_config": {"mode": "auto"},
    "indices_options": {
        "expand_wildcards": ["open"],
        "ignore_unavailable": False,
        "allow_no_indices": True,
        "ignore_throttled": True,
    },
    "query": {"match_all": {}},
    "indices": ["logs"],
    "scroll_size": 1000,
    "delayed_data_check_config": {"enabled": True},
}
RETURNED_DFA: dict[str, Any] = {
    "id": "d",
    "source": {"index": ["src"], "query": {"match_all": {}}},
    "dest": {"index": "out", "results_field": "ml"},
    "analysis": {
        "outlier_detection": {
            "compute_feature_influence": True,
            "outlier_fraction": 0.05,
            "standardization_enabled": True,
        }
    },
    "model_memory_limit": "1gb",
    "create_time": 1562265491319,
    "version": "12.0.0",
    "authorization": {"roles": ["superuser"]},
    "allow_lazy_start": False,
    "max_num_threads": 1,
    "_meta": {"managed_by": "mlsync"},
}


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def job_case(
    manifest: dict[str, Any], returned: dict[str, Any]
) -> tuple[Kind, dict[str, Any], dict[str, Any]]:
    return Kind.JOB, merge(BASE_JOB, manifest), merge(RETURNED_JOB, returned)


def with_detector(detector: dict[str, Any]) -> dict[str, Any]:
    return {"analysis_config": {"detectors": [detector]}}


CASES = {
    # §1.5: model_memory_limit stored in MB, returned "<N>mb"
    "mml_uppercase_unit": job_case(
        {"analysis_limits": {"model_memory_limit": "11MB"}},
        {"analysis_limits": {"model_memory_limit": "11mb"}},
    ),
    "mml_number_is_mb": job_case(
        {"analysis_limits": {"model_memory_limit": 2048}},
        {"analysis_limits": {"model_memory_limit": "2048mb"}},
    ),
    "mml_gigabytes": job_case(
        {"analysis_limits": {"model_memory_limit": "8g"}},
        {"analysis_limits": {"model_memory_limit": "8192mb"}},
    ),
    "mml_rounded_down": job_case(
        {"analysis_limits": {"model_memory_limit": "1500kb"}},
        {"analysis_limits": {"model_memory_limit": "1mb"}},
    ),
    # §1.1: results_index_name gets the custom- prefix
    "results_index_custom_prefix": job_case(
        {"results_index_name": "tx"}, {"results_index_name": "custom-tx"}
    ),
    # §1.3: detector_description generated, detector_index assigned, shortcuts expanded
    "detector_description_generated": job_case(
        with_detector({"function": "sum", "field_name": "bytes"}),
        with_detector(
            {
                "function": "sum",
                "field_name": "bytes",
                "detector_description": "sum(bytes)",
                "detector_index": 0,
            }
        ),
    ),
    "function_shortcut": job_case(
        with_detector({"function": "nzc", "by_field_name": "host"}),
        with_detector(
            {
                "function": "non_zero_count",
                "by_field_name": "host",
                "detector_description": "non_zero_count by host",
                "detector_index": 0,
            }
        ),
    ),
    "exclude_frequent_case": job_case(
        with_detector({"function": "count", "over_field_name": "ip", "exclude_frequent": "ALL"}),
        with_detector(
            {
                "function": "count",
                "over_field_name": "ip",
                "exclude_frequent": "all",
                "detector_description": "count over ip excludefrequent=all",
                "detector_index": 0,
            }
        ),
    ),
    "use_null_false_omitted": job_case(
        with_detector({"function": "count", "by_field_name": "h", "use_null": False}),
        with_detector(
            {
                "function": "count",
                "by_field_name": "h",
                "detector_description": "count by h",
                "detector_index": 0,
            }
        ),
    ),
    # §1.3.1: rule defaults
    "custom_rule_defaults": job_case(
        with_detector(
            {
                "function": "count",
                "by_field_name": "h",
                "custom_rules": [
                    {
                        "scope": {"h": {"filter_id": "f"}},
                        "conditions": [{"applies_to": "actual", "operator": "gt", "value": 1}],
                    }
                ],
            }
        ),
        with_detector(
            {
                "function": "count",
                "by_field_name": "h",
                "detector_description": "count by h",
                "detector_index": 0,
                "custom_rules": [
                    {
                        "actions": ["skip_result"],
                        "scope": {"h": {"filter_id": "f", "filter_type": "include"}},
                        "conditions": [{"applies_to": "actual", "operator": "gt", "value": 1.0}],
                    }
                ],
            }
        ),
    ),
    # §1.2: model_prune_window default, influencers default, bucket_span unit lower-cased
    "bucket_span_other_unit": job_case(
        {"analysis_config": {"bucket_span": "900s"}}, {"analysis_config": {"bucket_span": "15m"}}
    ),
    "bucket_span_uppercase": job_case(
        {"analysis_config": {"bucket_span": "300S"}}, {"analysis_config": {"bucket_span": "300s"}}
    ),
    "bucket_span_default": job_case(
        {"analysis_config": {"bucket_span": None}}, {"analysis_config": {"bucket_span": "5m"}}
    ),
    "influencers_order": job_case(
        {"analysis_config": {"influencers": ["b", "a"]}},
        {"analysis_config": {"influencers": ["a", "b"]}},
    ),
    # §1.2: categorization filters folded into the analyzer; per_partition_categorization default
    "categorization_filters_folded": job_case(
        {
            "analysis_config": {
                "categorization_field_name": "message",
                "categorization_filters": ["\\d+"],
                "detectors": [{"function": "count", "by_field_name": "mlcategory"}],
            }
        },
        {
            "analysis_config": {
                "categorization_field_name": "message",
                "per_partition_categorization": {"enabled": False},
                "detectors": [
                    {
                        "function": "count",
                        "by_field_name": "mlcategory",
                        "detector_description": "count by mlcategory",
                        "detector_index": 0,
                    }
                ],
                "categorization_analyzer": {
                    "char_filter": [
                        "first_non_blank_line",
                        {"type": "pattern_replace", "pattern": "\\d+"},
                    ],
                    "tokenizer": "ml_standard",
                    "filter": [
                        {
                            "type": "stop",
                            "stopwords": [
                                "Monday",
                                "Tuesday",
                                "Wednesday",
                                "Thursday",
                                "Friday",
                                "Saturday",
                                "Sunday",
                                "Mon",
                                "Tue",
                                "Wed",
                                "Thu",
                                "Fri",
                                "Sat",
                                "Sun",
                                "January",
                                "February",
                                "March",
                                "April",
                                "May",
                                "June",
                                "July",
                                "August",
                                "September",
                                "October",
                                "November",
                                "December",
                                "Jan",
                                "Feb",
                                "Mar",
                                "Apr",
                                "May",
                                "Jun",
                                "Jul",
                                "Aug",
                                "Sep",
                                "Oct",
                                "Nov",
                                "Dec",
                                "GMT",
                                "UTC",
                            ],
                        }
                    ],
                },
            }
        },
    ),
    # §1.4: data_description defaults, `format` never output
    "data_description_defaults": job_case(
        {"data_description": {"time_field": None, "format": "xcontent"}},
        {"data_description": {"time_field": "time"}},
    ),
    # §1.1: retention defaults, allow_lazy_open, model_plot annotations default, Kibana's created_by
    "retention_defaults": job_case({"model_snapshot_retention_days": 10}, {}),
    "model_plot_annotations_default": job_case(
        {"model_plot_config": {"enabled": True}},
        {"model_plot_config": {"enabled": True, "annotations_enabled": True}},
    ),
    "kibana_created_by": job_case(
        {}, {"custom_settings": {"managed_by": "mlsync", "created_by": "ml-module-logs"}}
    ),
    "groups_order": job_case({"groups": ["b", "a", "a"]}, {"groups": ["a", "b"]}),
    # §2.1-§2.2: datafeed defaults
    "datafeed_all_defaults": (Kind.DATAFEED, {"job_id": "j", "indices": "logs"}, RETURNED_FEED),
    "datafeed_indexes_alias": (Kind.DATAFEED, {"job_id": "j", "indexes": ["logs"]}, RETURNED_FEED),
    "datafeed_expand_wildcards_all": (
        Kind.DATAFEED,
        {"job_id": "j", "indices": ["logs"], "indices_options": {"expand_wildcards": "all"}},
        merge(
            RETURNED_FEED, {"indices_options": {"expand_wildcards": ["open", "closed", "hidden"]}}
        ),
    ),
    "datafeed_query_delay_unit": (
        Kind.DATAFEED,
        {"job_id": "j", "indices": ["logs"], "query_delay": "1m"},
        merge(RETURNED_FEED, {"query_delay": "60000ms"}),
    ),
    "datafeed_aggs_alias_and_manual_chunking": (
        Kind.DATAFEED,
        {
            "job_id": "j",
            "indices": ["logs"],
            "aggs": {
                "buckets": {
                    "date_histogram": {"field": "t", "fixed_interval": "5m"},
                    "aggs": {"t": {"max": {"field": "t"}}},
                }
            },
        },
        {
            **{k: v for k, v in RETURNED_FEED.items() if k != "chunking_config"},
            "chunking_config": {"mode": "manual", "time_span": "5000m"},
            "aggregations": {
                "buckets": {
                    "date_histogram": {"field": "t", "fixed_interval": "5m"},
                    "aggs": {"t": {"max": {"field": "t"}}},
                }
            },
        },
    ),
    # §3.1-§3.2: DFA defaults
    "dfa_outlier_defaults": (
        Kind.DFA,
        {
            "source": {"index": "src"},
            "dest": {"index": "out"},
            "analysis": {"outlier_detection": {}},
        },
        RETURNED_DFA,
    ),
    "dfa_memory_spelling": (
        Kind.DFA,
        {
            "source": {"index": ["src"]},
            "dest": {"index": "out"},
            "analysis": {"outlier_detection": {}},
            "model_memory_limit": "1024mb",
        },
        RETURNED_DFA,
    ),
    "dfa_regression_seed_and_defaults": (
        Kind.DFA,
        {
            "source": {"index": ["src"]},
            "dest": {"index": "out"},
            "analysis": {"regression": {"dependent_variable": "price", "training_percent": 50}},
            "analyzed_fields": ["a", "b"],
        },
        {
            **RETURNED_DFA,
            "analysis": {
                "regression": {
                    "dependent_variable": "price",
                    "prediction_field_name": "price_prediction",
                    "training_percent": 50.0,
                    "randomize_seed": 123456789,
                    "loss_function": "mse",
                    "early_stopping_enabled": True,
                }
            },
            "analyzed_fields": {"includes": ["a", "b"], "excludes": []},
        },
    ),
    "dfa_classification_defaults": (
        Kind.DFA,
        {
            "source": {"index": ["src"]},
            "dest": {"index": "out"},
            "analysis": {"classification": {"dependent_variable": "churned"}},
        },
        {
            **RETURNED_DFA,
            "analysis": {
                "classification": {
                    "dependent_variable": "churned",
                    "prediction_field_name": "churned_prediction",
                    "training_percent": 100.0,
                    "randomize_seed": -5,
                    "early_stopping_enabled": True,
                    "class_assignment_objective": "maximize_minimum_recall",
                    "num_top_classes": 2,
                }
            },
        },
    ),
    # §4.1-§4.2: filters and calendars
    "filter_items_sorted": (
        Kind.FILTER,
        {"items": ["z", "a", "a"]},
        {"filter_id": "x", "items": ["a", "z"]},
    ),
    "calendar_events_epoch_ms": (
        Kind.CALENDAR,
        {
            "job_ids": ["j2", "j1"],
            "events": [
                {
                    "description": "Sale",
                    "start_time": "2025-01-01T00:00:00Z",
                    "end_time": 1735776000000,
                }
            ],
        },
        {
            "calendar_id": "c",
            "job_ids": ["j1", "j2"],
            "events": [
                {
                    "description": "Sale",
                    "start_time": 1735689600000,
                    "end_time": 1735776000000,
                    "calendar_id": "c",
                    "event_id": "abc",
                    "skip_result": True,
                    "skip_model_update": True,
                }
            ],
        },
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_server_rewrite_is_not_a_change(name: str) -> None:
    kind, manifest, returned = CASES[name]
    manifest = {k: v for k, v in manifest.items() if v is not None}
    if kind is Kind.JOB:
        manifest["analysis_config"] = {
            k: v for k, v in manifest["analysis_config"].items() if v is not None
        }
        manifest["data_description"] = {
            k: v for k, v in manifest["data_description"].items() if v is not None
        }
    ident = {
        Kind.JOB: "j",
        Kind.DATAFEED: "f",
        Kind.DFA: "d",
        Kind.FILTER: "x",
        Kind.CALENDAR: "c",
    }[kind]
    ref = Ref(kind=kind, id=ident)
    live = Resource(ref=ref, body=returned, owned=True)
    desired = Resource(ref=ref, body=manifest)
    plan = make_plan([desired], LiveState(resources={ref: live}))
    assert not plan.has_changes, [f.model_dump() for c in plan.changes for f in c.fields]


def test_lower_cluster_max_memory_is_the_default() -> None:
    # §1.5: the default becomes xpack.ml.max_model_memory_limit when that is lower.
    ref = Ref(kind=Kind.JOB, id="j")
    live = Resource(
        ref=ref,
        body=merge(RETURNED_JOB, {"analysis_limits": {"model_memory_limit": "512mb"}}),
        owned=True,
    )
    plan = make_plan(
        [Resource(ref=ref, body=BASE_JOB)],
        LiveState(resources={ref: live}, job_model_memory_limit_mb=512),
    )
    assert not plan.has_changes
