"""Elasticsearch's semantic rules, checked offline (accepted and rejected configurations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

Write = Callable[[str, str], Path]


def job(detectors: str, analysis: str = "", spec: str = "", tail: str = "") -> str:
    return (
        "kind: AnomalyDetectionJob\nid: j\nspec:\n  analysis_config:\n    bucket_span: 15m\n"
        f"    detectors:\n{detectors}{analysis}  data_description:\n    time_field: ts\n"
        f"{spec}{tail}"
    )


def dfa(body: str) -> str:
    return f"kind: DataFrameAnalytics\nid: d\nspec:\n{body}"


def messages(write: Write, text: str) -> list[str]:
    path = write("m.yaml", text)
    try:
        load_manifests([path], environ={})
    except ManifestError as exc:
        return [d.message for d in exc.diagnostics]
    return []


COUNT_BY_USER = "      - function: count\n        by_field_name: user\n"


@pytest.mark.parametrize(
    "detectors",
    [
        "      - {function: count}\n",
        "      - {function: nzc, by_field_name: user}\n",
        "      - {function: high_dc, field_name: ip, over_field_name: user}\n",
        "      - {function: rare, by_field_name: process}\n",
        "      - {function: freq_rare, by_field_name: url, over_field_name: client}\n",
        "      - {function: time_of_day, partition_field_name: host}\n",
        "      - {function: lat_long, field_name: location}\n",
        "      - {function: mean, field_name: a, exclude_frequent: ALL, use_null: true}\n",
        "      - {function: mean, field_name: a}\n      - {function: mean, field_name: a,"
        " detector_description: second}\n",
    ],
)
def test_accepted_detectors(write: Write, detectors: str) -> None:
    assert messages(write, job(detectors)) == []


@pytest.mark.parametrize(
    ("detectors", "message"),
    [
        (
            "      - {function: count, by_field_name: over}\n",
            "'over' is not a permitted value for by_field_name",
        ),
        (
            "      - {function: count, over_field_name: by}\n",
            "'by' is not a permitted value for over_field_name",
        ),
        (
            "      - {function: count, by_field_name: a, partition_field_name: a}\n",
            "partition_field_name and by_field_name cannot be the same: 'a'",
        ),
        (
            '      - {function: sum, field_name: "a\\"b"}\n',
            "Invalid field name 'a\"b'. Field names including over, by and partition fields "
            'cannot contain any of these characters: ",\\',
        ),
        (
            "      - {function: mean, field_name: a, exclude_frequent: sometimes}\n",
            "No enum constant ExcludeFrequent 'sometimes'; use one of: all, none, by, over",
        ),
        (
            "      - function: count\n        custom_rules:\n"
            "          - scope: {user: {filter_id: f}}\n",
            "Invalid detector rule: scope field 'user' is invalid; detector has no available "
            "fields for scoping",
        ),
        (
            "      - {function: count, by_field_name: a}\n"
            "      - {function: count, partition_field_name: a.b}\n",
            "Fields [a] and [a.b] cannot both be used in the same analysis_config",
        ),
    ],
)
def test_rejected_detectors(write: Write, detectors: str, message: str) -> None:
    assert messages(write, job(detectors)) == [message]


def test_rule_conditions_on_time_are_fine_for_rare(write: Write) -> None:
    detectors = (
        "      - function: rare\n        by_field_name: user\n        custom_rules:\n"
        "          - conditions: [{applies_to: time, operator: gte, value: 3600}]\n"
    )
    assert messages(write, job(detectors)) == []


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        ("    model_prune_window: 30d\n", []),
        (
            "    model_prune_window: 15m\n",
            ["model_prune_window [15m] must be at least 2 times greater than bucket_span [15m]"],
        ),
        ("    latency: 5m\n", []),
        (
            "    categorization_field_name: message\n",
            [
                "categorization_field_name is set but mlcategory is not used in any detector "
                "by/over/partition field"
            ],
        ),
        (
            "    summary_count_field_name: doc_count\n",
            [],
        ),
    ],
)
def test_analysis_config_rules(write: Write, analysis: str, expected: list[str]) -> None:
    assert messages(write, job(COUNT_BY_USER, analysis)) == expected


def test_categorization_rules(write: Write) -> None:
    detectors = "      - {function: count, by_field_name: mlcategory}\n"
    good = (
        "    categorization_field_name: message\n    categorization_filters: ['\\\\[\\\\d+\\\\]']\n"
    )
    assert messages(write, job(detectors, good)) == []
    both = (
        "    categorization_field_name: message\n    categorization_filters: [a, a, '', '(']\n"
        "    categorization_analyzer: standard\n"
    )
    assert messages(write, job(detectors, both)) == [
        "categorization_filters cannot be used with categorization_analyzer - instead specify "
        "them as pattern_replace char_filters in the analyzer",
        "categorization_filters contain duplicates",
        "categorization_filters are not allowed to contain empty strings",
        "categorization_filters contains invalid regular expression '('",
    ]
    partitioned = "    categorization_field_name: m\n    per_partition_categorization:\n"
    assert messages(write, job(detectors, partitioned + "      enabled: true\n")) == [
        "partition_field_name must be set for detectors that reference mlcategory when "
        "per-partition categorization is enabled"
    ]
    assert messages(write, job(detectors, partitioned + "      stop_on_warn: true\n")) == [
        "stop_on_warn cannot be true in per_partition_categorization when enabled is false; "
        "set enabled: true or remove stop_on_warn"
    ]


def test_summary_count_forbids_metric(write: Write) -> None:
    text = job("      - {function: metric, field_name: x}\n", "    summary_count_field_name: c\n")
    assert messages(write, text) == [
        "The 'metric' function cannot be used in jobs that will take pre-summarized input"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("  analysis_limits: {model_memory_limit: 2048, categorization_examples_limit: 4}\n", []),
        (
            "  analysis_limits: {categorization_examples_limit: -1}\n",
            ["categorization_examples_limit cannot be less than 0. Value = -1"],
        ),
        ("  background_persist_interval: 2h\n", []),
        (
            "  background_persist_interval: 30m\n",
            ["background_persist_interval cannot be less than 1h. Value = 30m"],
        ),
        (
            "  results_retention_days: -2\n",
            ["results_retention_days cannot be less than 0. Value = -2"],
        ),
        (
            "  daily_model_snapshot_retention_after_days: 11\n",
            [
                "The value of daily_model_snapshot_retention_after_days [11] cannot be greater "
                "than model_snapshot_retention_days [10]"
            ],
        ),
        (
            "  results_index_name: Custom\n",
            [
                "Invalid results_index_name; 'Custom' can contain lowercase alphanumeric (a-z and "
                "0-9), hyphens or underscores; must start and end with alphanumeric"
            ],
        ),
        ("  custom_settings: {owner: team-a, nested: {any: [1, 2]}}\n", []),
    ],
)
def test_job_settings(write: Write, spec: str, expected: list[str]) -> None:
    assert messages(write, job(COUNT_BY_USER, spec=spec)) == expected


@pytest.mark.parametrize(
    ("time_format", "ok"),
    [
        ("epoch", True),
        ("epoch_ms", True),
        ("yyyy-MM-dd'T'HH:mm:ssX", True),
        ("dd/MM/yyyy HH:mm:ss.SSS Z", True),
        ("yyyy-MM-dd'T", False),
        ("yyyy-bb-dd", False),
        ("", False),
    ],
)
def test_time_format(write: Write, time_format: str, ok: bool) -> None:
    text = job(COUNT_BY_USER, tail=f'    time_format: "{time_format}"\n')
    assert (messages(write, text) == []) is ok


AGG_JOB = job(
    "      - {function: sum, field_name: bytes}\n", "    summary_count_field_name: doc_count\n"
)


def feed(body: str) -> str:
    return AGG_JOB + "datafeed:\n  spec:\n    indices: [logs]\n" + body


def test_valid_aggregation_datafeed(write: Write) -> None:
    body = (
        "    frequency: 10m\n    aggregations:\n      buckets:\n"
        "        date_histogram: {field: ts, fixed_interval: 5m}\n"
        "        aggregations:\n          ts: {max: {field: ts}}\n"
        "          bytes: {sum: {field: bytes}}\n"
    )
    assert messages(write, feed(body)) == []


def test_nested_histogram_under_a_terms_aggregation(write: Write) -> None:
    body = (
        "    aggs:\n      hosts:\n        terms: {field: host}\n        aggs:\n          buckets:\n"
        "            date_histogram: {field: ts, calendar_interval: 1m}\n"
        "            aggs:\n              ts: {max: {field: ts}}\n"
    )
    assert messages(write, feed(body)) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    frequency: 7m\n    aggregations:\n      b:\n"
            "        date_histogram: {field: ts, fixed_interval: 5m}\n"
            "        aggregations: {ts: {max: {field: ts}}}\n",
            "Datafeed frequency [7m] must be a multiple of the aggregation interval [300000ms]",
        ),
        (
            "    aggregations:\n      b:\n        date_histogram: {field: ts, fixed_interval: 1h}\n"
            "        aggregations: {ts: {max: {field: ts}}}\n",
            "Aggregation interval [3600000ms] must be less than or equal to the bucket_span [15m]",
        ),
        (
            "    aggregations: {a: {terms: {field: x}}, b: {terms: {field: y}}}\n",
            "Aggregations can only have 1 date_histogram or histogram aggregation",
        ),
        (
            "    aggregations: {a: {terms: {field: x}}}\n",
            "A date_histogram (or histogram) aggregation is required",
        ),
        (
            "    max_empty_searches: 0\n",
            "Invalid max_empty_searches value '0' in datafeed configuration",
        ),
        ("    frequency: 0s\n", "Invalid frequency value '0s' in datafeed configuration"),
        (
            "    indexes: [other]\n",
            "Found two index definitions: [indices] and [indexes]; keep only indices",
        ),
        (
            "    delayed_data_check_config: {enabled: true, check_window: 200000h}\n",
            "delayed_data_check_config: check_window [200000h] must be less than 10,000x the "
            "bucket_span [15m]",
        ),
    ],
)
def test_rejected_datafeeds(write: Write, body: str, message: str) -> None:
    assert messages(write, feed(body)) == [message]


def test_job_with_latency_cannot_have_a_datafeed(write: Write) -> None:
    text = job(COUNT_BY_USER, "    latency: 1m\n") + "datafeed:\n  spec: {indices: [x]}\n"
    assert messages(write, text) == ["A job configured with datafeed cannot support latency"]


@pytest.mark.parametrize("latency", ["0s", "0ms", "0"])
def test_a_zero_latency_is_allowed_with_a_datafeed(write: Write, latency: str) -> None:
    # Elasticsearch (DatafeedJobValidator) rejects only a latency above zero.
    text = job(COUNT_BY_USER, f"    latency: {latency}\n") + "datafeed:\n  spec: {indices: [x]}\n"
    assert messages(write, text) == []


def test_datafeed_checked_against_a_job_in_another_document(write: Write) -> None:
    text = (
        job(COUNT_BY_USER, "    latency: 1m\n")
        + "---\nkind: Datafeed\nid: f\nspec: {job_id: j, indices: [x]}\n"
    )
    assert messages(write, text) == ["A job configured with datafeed cannot support latency"]


SOURCE_DEST = "  source: {index: src}\n  dest: {index: out}\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (SOURCE_DEST + "  analysis: {regression: {dependent_variable: price, eta: 0.5}}\n", []),
        (
            SOURCE_DEST + "  analysis: {regression: {dependent_variable: p, loss_function: mae}}\n",
            [
                "invalid value 'mae' for spec.analysis.regression.loss_function: expected one "
                "of 'mse', 'msle', 'huber'; did you mean 'mse'?"
            ],
        ),
        (
            SOURCE_DEST + "  analysis: {outlier_detection: {method: knn}}\n",
            [
                "invalid value 'knn' for spec.analysis.outlier_detection.method: expected one of "
                "'lof', 'ldof', 'distance_kth_nn', 'distance_knn', 'ensemble'"
            ],
        ),
        (
            SOURCE_DEST + "  analysis: {}\n",
            [
                "analysis must hold exactly one of outlier_detection, regression or classification "
                "(found 0)"
            ],
        ),
        (
            "  source: {index: []}\n  dest: {index: out}\n  analysis: {outlier_detection: {}}\n",
            ["source.index must specify at least one index"],
        ),
        (
            "  source: {index: 'remote:src'}\n  dest: {index: out}\n"
            "  analysis: {outlier_detection: {}}\n",
            ["remote source indices are not supported"],
        ),
        (
            SOURCE_DEST + "  analysis: {outlier_detection: {}}\n  model_memory_limit: 100kb\n",
            ["[model_memory_limit] must be at least [1mb]; got [100kb]"],
        ),
        (
            SOURCE_DEST + "  analysis: {outlier_detection: {}}\n  max_num_threads: 0\n",
            ["[max_num_threads] must be a positive integer"],
        ),
        (
            SOURCE_DEST + "  analysis: {outlier_detection: {}}\n  _meta: {team: a}\n"
            "  analyzed_fields: [a, b]\n  id: d\n",
            [],
        ),
        (
            SOURCE_DEST + "  analysis: {outlier_detection: {}}\n  version: 8.4.0\n",
            [
                "unknown field 'version' in spec: it is generated by Elasticsearch and cannot be "
                "set; remove it (GET with exclude_generated=true gives a body you can paste)"
            ],
        ),
    ],
)
def test_data_frame_analytics(write: Write, body: str, expected: list[str]) -> None:
    assert messages(write, dfa(body)) == expected


def test_filter_item_limit(write: Write) -> None:
    items = ", ".join(f"i{n}" for n in range(10_001))
    assert messages(write, f"kind: Filter\nid: big\nspec: {{items: [{items}]}}\n") == [
        "Filter [big] contains too many items; up to [10000] items are allowed"
    ]


def test_calendar_rules(write: Write) -> None:
    text = (
        "kind: Calendar\nid: cal\nspec:\n  job_ids: [_all]\n  events:\n"
        "    - {description: a, start_time: 1700000000000, end_time: '2024-01-01T00:00:00Z'}\n"
        "    - {description: b, start_time: tomorrow, end_time: 2}\n"
        "    - {description: c, start_time: 1, end_time: 2, calendar_id: other}\n"
    )
    assert messages(write, text) == [
        "failed to parse date field [tomorrow]: use ISO 8601 with a time zone "
        "(2024-12-24T00:00:00Z) or epoch milliseconds",
        "Inconsistent calendar_id; 'other' specified in the body differs from 'cal' specified "
        "as the manifest id",
    ]


def test_function_suggestions_use_shortcuts(write: Write) -> None:
    assert messages(write, job("      - {function: hihg_count}\n")) == [
        "Unknown function 'hihg_count'; did you mean 'high_count'?"
    ]


@pytest.mark.parametrize(
    ("job_state", "feed_doc", "problem"),
    [
        ("closed", "datafeed:\n  state: started\n  spec: {indices: [x]}\n", True),
        (
            "closed",
            "---\nkind: Datafeed\nid: f\nstate: started\nspec: {job_id: j, indices: [x]}\n",
            True,
        ),
        ("opened", "datafeed:\n  state: started\n  spec: {indices: [x]}\n", False),
        (
            None,
            "datafeed:\n  state: started\n  spec: {indices: [x]}\n",
            False,
        ),  # the cluster decides
        ("closed", "datafeed:\n  state: stopped\n  spec: {indices: [x]}\n", False),
    ],
)
def test_a_started_datafeed_on_a_job_declared_closed_is_refused_offline(
    write: Write, job_state: str | None, feed_doc: str, problem: bool
) -> None:
    # The plan refuses this too; validate (and so pre-commit) must catch it without a cluster.
    text = job(COUNT_BY_USER) + (f"state: {job_state}\n" if job_state else "") + feed_doc
    found = messages(write, text)
    if problem:
        assert len(found) == 1, found
        assert "is declared `state: started` but its job j is declared `state: closed`" in found[0]
    else:
        assert found == []
