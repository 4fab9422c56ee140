"""The offline query DSL / aggregation structure check (reconciler/manifest/query_dsl.py).

Elasticsearch parses a datafeed's `query` and `aggregations` (and a DFA's `source.query`) at
PUT and answers 400 "Datafeed query is not parsable" for what these rules catch, so each rule
has a case here; every known type has a valid example that must pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_helpers import run_validate

from reconciler.manifest.query_dsl import (
    AGGREGATION_TYPES,
    QUERY_TYPES,
    check_aggregations,
    check_query,
)

PREFIX = "Datafeed query is not parsable"
BASE = ("spec", "query")

#: A body Elasticsearch parses, for every query type in the table.
VALID: dict[str, Any] = {
    "bool": {
        "must": [{"match_all": {}}],
        "filter": {"term": {"a": 1}},
        "should": [],
        "must_not": [{"exists": {"field": "x"}}],
        "minimum_should_match": 1,
    },
    "constant_score": {"filter": {"term": {"a": 1}}, "boost": 1.2},
    "dis_max": {"queries": [{"term": {"a": 1}}, {"match": {"b": "x"}}], "tie_breaker": 0.7},
    "boosting": {
        "positive": {"term": {"a": 1}},
        "negative": {"term": {"b": 1}},
        "negative_boost": 0.5,
    },
    "function_score": {
        "query": {"match_all": {}},
        "functions": [{"filter": {"term": {"a": 1}}, "weight": 2}],
    },
    "script_score": {"query": {"match_all": {}}, "script": {"source": "1"}},
    "nested": {"path": "items", "query": {"term": {"items.sku": "a"}}},
    "has_child": {"type": "answer", "query": {"match_all": {}}},
    "has_parent": {"parent_type": "question", "query": {"match_all": {}}},
    "pinned": {"ids": ["1"], "organic": {"match_all": {}}},
    "term": {"status": {"value": "paid", "case_insensitive": True}},
    "range": {"@timestamp": {"gte": "now-1d", "lt": "now", "format": "strict_date_optional_time"}},
    "match": {"note": {"query": "refund", "operator": "and"}},
    "match_phrase": {"note": "full refund"},
    "match_phrase_prefix": {"note": {"query": "full ref", "max_expansions": 10}},
    "match_bool_prefix": {"note": "quick brown f"},
    "prefix": {"user": "ki"},
    "wildcard": {"user": {"value": "ki*y"}},
    "regexp": {"user": {"value": "k.*y", "flags": "ALL"}},
    "fuzzy": {"user": {"value": "ki", "fuzziness": "AUTO"}},
    "span_term": {"user": "kimchy"},
    "intervals": {"note": {"match": {"query": "hot water"}}},
    "terms": {"status": ["paid", "void"], "boost": 1.0},
    "match_all": {},
    "match_none": {},
    "exists": {"field": "user"},
    "ids": {"values": ["1", "4"]},
    "query_string": {"query": "status:paid"},
    "simple_query_string": {"query": "paid +refund"},
    "multi_match": {"query": "refund", "fields": ["note", "title"]},
    "combined_fields": {"query": "refund", "fields": ["note", "title"]},
    "script": {"script": {"source": "doc['a'].value > 1"}},
}


def _reasons(problems: list[Any]) -> list[tuple[tuple[Any, ...], str]]:
    return [(p.path, p.message) for p in problems]


def test_every_query_type_in_the_table_accepts_a_valid_body() -> None:
    for name, shape in QUERY_TYPES.items():
        body = VALID.get(name, {})
        assert shape.form == "object" or name in VALID, f"{name} needs a valid example"
        assert check_query({name: body}, BASE, PREFIX) == [], name


def test_every_aggregation_type_is_accepted() -> None:
    for name in AGGREGATION_TYPES:
        body = {"match_all": {}} if name == "filter" else {}
        assert check_aggregations({"a": {name: body}}, ("spec", "aggs")) == [], name


def test_real_datafeed_bodies_pass() -> None:
    # The body of Elasticsearch's own PUT datafeed example, and the shipped manifests' queries.
    assert check_query({"bool": {"must": [{"match_all": {}}]}}, BASE, PREFIX) == []
    for path in Path("manifests").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            spec = (doc or {}).get("spec") or {}
            for query in (spec.get("query"), (spec.get("source") or {}).get("query")):
                if query is not None:
                    assert check_query(query, BASE, PREFIX) == [], path


@pytest.mark.parametrize(
    ("query", "path", "reason"),
    [
        # a query type at each level
        ({"no_such_query": {}}, ("no_such_query",), "unknown query [no_such_query]; use"),
        ({"mtch": {"a": 1}}, ("mtch",), "unknown query [mtch]; did you mean 'match'?"),
        (
            {"bool": {"filter": [{"trem": {"a": 1}}]}},
            ("bool", "filter", 0, "trem"),
            "unknown query [trem]",
        ),
        (
            {"nested": {"path": "p", "query": {"bogus": {}}}},
            ("nested", "query", "bogus"),
            "unknown query [bogus]",
        ),
        (
            {"function_score": {"functions": [{"filter": {"bogus": {}}}]}},
            ("function_score", "functions", 0, "filter", "bogus"),
            "unknown query [bogus]",
        ),
        # exactly one type per query object
        ({}, (), "query malformed, empty clause found"),
        (
            {"term": {"a": 1}, "match": {"b": 2}},
            ("match",),
            "[term] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
        ),
        ("status:paid", (), "[_na] query malformed, must start with start_object"),
        # bool and other compound shapes
        (
            {"bool": {"must": [{"term": {"a": 1}}, "x"]}},
            ("bool", "must", 1),
            "[bool] query malformed, must item 1 is not a query object",
        ),
        ({"bool": {"should": "x"}}, ("bool", "should"), "must start with start_object"),
        ({"bool": {"must": [{}]}}, ("bool", "must", 0), "empty clause found"),
        ({"bool": {"shuld": []}}, ("bool", "shuld"), "[bool] query does not support [shuld]"),
        ({"bool": []}, ("bool",), "[bool] query malformed, no start_object after query name"),
        ({"constant_score": {}}, ("constant_score",), "[constant_score] query requires [filter]"),
        (
            {"dis_max": {"queries": []}},
            ("dis_max", "queries"),
            "[dis_max] requires 'queries' field with at least one clause",
        ),
        (
            {"boosting": {"positive": {"match_all": {}}, "negative_boost": 1}},
            ("boosting",),
            "[boosting] query requires [negative]",
        ),
        ({"nested": {"query": {"match_all": {}}}}, ("nested",), "[nested] query requires [path]"),
        (
            {"exists": {"field": "a", "fields": "a"}},
            ("exists", "fields"),
            "does not support [fields]",
        ),
        ({"match_all": {"bost": 1}}, ("match_all", "bost"), "did you mean 'boost'?"),
        # leaf queries: one field, known options
        (
            {"term": {"a": 1, "b": 2}},
            ("term", "b"),
            "[term] query doesn't support multiple fields, found [a] and [b]",
        ),
        ({"term": {}}, ("term",), "[term] query malformed, no field to query"),
        ({"term": "x"}, ("term",), "[term] query malformed, no start_object after query name"),
        ({"term": {"a": [1, 2]}}, ("term", "a"), "does not support an array of values for [a]"),
        ({"term": {"a": {"vale": 1}}}, ("term", "a", "vale"), "did you mean 'value'?"),
        ({"range": {"t": {"gtt": 1}}}, ("range", "t", "gtt"), "does not support [gtt]"),
        ({"range": {"t": "now"}}, ("range", "t"), "[t] must be a mapping of options"),
        (
            {"range": {"t": {"gte": 1}, "u": {"lt": 2}}},
            ("range", "u"),
            "[range] query doesn't support multiple fields",
        ),
        ({"match": {"a": {"qury": "x"}}}, ("match", "a", "qury"), "did you mean 'query'?"),
        ({"terms": {"a": "x"}}, ("terms", "a"), "does not support [a] with a single value"),
        ({"terms": {"a": [1], "b": [2]}}, ("terms", "b"), "does not support multiple fields"),
        ({"terms": {"boost": 1}}, ("terms",), "[terms] query requires a field"),
    ],
)
def test_query_rule(query: Any, path: tuple[Any, ...], reason: str) -> None:
    problems = check_query(query, BASE, PREFIX)
    assert [p.path for p in problems] == [(*BASE, *path)], _reasons(problems)
    message = problems[0].message
    assert message.startswith(f"{PREFIX}: ")
    assert reason in message


def test_every_problem_of_a_query_is_reported() -> None:
    query = {"bool": {"must": ["x", {"bogus": {}}], "filter": {"term": {"a": 1, "b": 2}}}}
    paths = [p.path[len(BASE) :] for p in check_query(query, BASE, PREFIX)]
    assert paths == [
        ("bool", "must", 0),
        ("bool", "must", 1, "bogus"),
        ("bool", "filter", "term", "b"),
    ]


@pytest.mark.parametrize(
    ("tree", "path", "reason"),
    [
        (
            {"b": {"maxx": {}}},
            ("b", "maxx"),
            "Unknown aggregation type [maxx]; did you mean 'max'?",
        ),
        (
            {"b": {"max": {}, "min": {}}},
            ("b", "min"),
            "Found two aggregation type definitions in [b]: [max] and [min]",
        ),
        ({"b": {}}, ("b",), "Missing definition for aggregation [b]"),
        ({"b": {"aggs": {"c": {"max": {}}}}}, ("b",), "Missing definition for aggregation [b]"),
        ({"b>c": {"max": {}}}, ("b>c",), "Invalid aggregation name [b>c]"),
        ({"b": "max"}, ("b",), "Expected [START_OBJECT] under [b]"),
        ({"b": {"max": "time"}}, ("b", "max"), "Expected [START_OBJECT] under [max] in [b]"),
        (
            {"b": {"max": {}, "aggs": {}, "aggregations": {"c": {"max": {}}}}},
            ("b", "aggregations"),
            "Found two sub aggregation definitions under [b]",
        ),
        (
            {"b": {"date_histogram": {}, "aggs": {"t": {"mx": {}}}}},
            ("b", "aggs", "t", "mx"),
            "Unknown aggregation type [mx]",
        ),
        ({"b": {"filter": {"trm": {}}}}, ("b", "filter", "trm"), "unknown query [trm]"),
        (
            {"b": {"filters": {"filters": {"paid": {"bogus": {}}}}}},
            ("b", "filters", "filters", "paid", "bogus"),
            "unknown query [bogus]",
        ),
        (
            {"b": {"filters": {"filters": [{"term": {"a": 1, "b": 1}}]}}},
            ("b", "filters", "filters", 0, "term", "b"),
            "doesn't support multiple fields",
        ),
        ([], (), "aggregations must be a mapping"),
    ],
)
def test_aggregation_rule(tree: Any, path: tuple[Any, ...], reason: str) -> None:
    base = ("spec", "aggregations")
    problems = check_aggregations(tree, base)
    assert [p.path for p in problems] == [(*base, *path)], _reasons(problems)
    assert problems[0].message.startswith("Datafeed aggregations are not parsable: ")
    assert reason in problems[0].message


DATAFEED = """\
kind: AnomalyDetectionJob
id: payments
spec:
  analysis_config:
    bucket_span: 15m
    summary_count_field_name: doc_count
    detectors: [{function: mean, field_name: amount}]
  data_description: {time_field: time}
datafeed:
  spec:
    indices: [payments-*]
    query: {bool: {filter: [{term: {status: paid}}]}}
    aggregations:
      buckets:
        date_histogram: {field: time, fixed_interval: 5m}
        aggregations:
          time: {max: {field: time}}
          amount: {avg: {field: amount}}
"""


def test_a_valid_datafeed_with_query_and_aggregations_validates(tmp_path: Path) -> None:
    (tmp_path / "ml.yaml").write_text(DATAFEED)
    run = run_validate([str(tmp_path / "ml.yaml")])
    assert run.exit_code == 0, run.output


def test_an_unknown_aggregation_is_reported_once_not_as_a_missing_max(tmp_path: Path) -> None:
    # The job-level histogram checks would also see no `max` on the time field: the one cause
    # (an unknown type) is reported, not its consequence.
    (tmp_path / "ml.yaml").write_text(
        DATAFEED.replace("{max: {field: time}}", "{mx: {field: time}}")
    )
    run = run_validate([str(tmp_path / "ml.yaml")])
    assert run.exit_code == 1
    assert run.problems == [
        f"{tmp_path}/ml.yaml:17:18: Datafeed aggregations are not parsable: Unknown aggregation "
        "type [mx]; did you mean 'max'?"
    ]


def test_dfa_source_query_is_checked(tmp_path: Path) -> None:
    (tmp_path / "dfa.yaml").write_text(
        "kind: DataFrameAnalytics\nid: churn\nspec:\n  source:\n    index: customers\n"
        "    query: {bool: {must: [{range: {age: {above: 18}}}]}}\n"
        "  dest: {index: churn_out}\n  analysis: {outlier_detection: {}}\n"
    )
    run = run_validate([str(tmp_path / "dfa.yaml")])
    assert run.exit_code == 1
    assert len(run.problems) == 1
    assert run.problems[0].startswith(
        f"{tmp_path}/dfa.yaml:6:42: Data Frame Analytics config query is not parsable: "
        "[range] query does not support [above]"
    )


def test_a_query_nested_deeper_than_elasticsearch_parses_is_refused_once() -> None:
    query: dict[str, Any] = {"match_all": {}}
    for _ in range(30):
        query = {"bool": {"must": [query]}}
    problems = check_query(query, BASE, PREFIX)
    assert len(problems) == 1
    assert len(problems[0].path) == len(BASE) + 30 * 3  # at the 31st query object
    assert "exceeds the maximum nested depth for queries" in problems[0].message
    assert check_query(query["bool"]["must"][0], BASE, PREFIX) == []  # 30 levels parse
