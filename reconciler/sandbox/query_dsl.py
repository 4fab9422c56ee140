"""Parse checks for the search DSL a datafeed stores: its `query` and its `aggregations`.

Input: the JSON object of a datafeed's `query` or `aggregations`. Output: None, or the parser's
message for the first part Elasticsearch's parsers refuse. No I/O.

Elasticsearch parses both when a datafeed is created or updated (QueryProvider.fromXContent and
AggProvider.fromXContent with lenient=false) and refuses a body whose query or aggregations do
not parse: `Datafeed query is not parsable` / `Datafeed aggregations are not parsable`, caused by
the search parser's own exception. The sandbox knows the query and aggregation names and the
structure of the compound queries; it does not check every query's own parameters.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.exceptions import EsError
from reconciler.sandbox.validation import key_location, token_name

# SearchModule's registered query names (8.x/9.x, core plus the x-pack ones a datafeed can use).
QUERY_TYPES = frozenset(
    {
        "bool", "boosting", "combined_fields", "constant_score", "dis_max", "distance_feature",
        "exists", "function_score", "fuzzy", "geo_bounding_box", "geo_distance", "geo_grid",
        "geo_polygon", "geo_shape", "has_child", "has_parent", "ids", "intervals", "knn",
        "match", "match_all", "match_bool_prefix", "match_none", "match_phrase",
        "match_phrase_prefix", "more_like_this", "multi_match", "nested", "parent_id",
        "percolate", "pinned", "prefix", "query_string", "range", "rank_feature", "regexp",
        "rule", "script", "script_score", "semantic", "shape", "simple_query_string",
        "span_containing", "span_field_masking", "span_first", "span_gap", "span_multi",
        "span_near", "span_not", "span_or", "span_term", "span_within", "sparse_vector", "term",
        "terms", "terms_set", "text_expansion", "type", "weighted_tokens", "wildcard", "wrapper",
    }
)  # fmt: skip

# BoolQueryBuilder.fromXContent: the clause lists and the scalar options.
_BOOL_CLAUSES = ("must", "should", "must_not", "filter")
_BOOL_OPTIONS = ("minimum_should_match", "boost", "_name", "adjust_pure_negative")
# Compound queries whose inner queries are parsed as queries: key -> (single, list) positions.
_INNER_QUERIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant_score": (("filter",), ()),
    "nested": (("query",), ()),
    "has_child": (("query",), ()),
    "has_parent": (("query",), ()),
    "function_score": (("query",), ()),
    "script_score": (("query",), ()),
    "boosting": (("positive", "negative"), ()),
    "dis_max": ((), ("queries",)),
}

# AggregatorFactories / SearchModule: registered aggregation names (8.x/9.x).
AGGREGATION_TYPES = frozenset(
    {
        "adjacency_matrix", "auto_date_histogram", "avg", "boxplot", "cardinality",
        "categorize_text", "children", "composite", "date_histogram", "date_range",
        "diversified_sampler", "extended_stats", "filter", "filters", "frequent_item_sets",
        "geo_bounds", "geo_centroid", "geo_distance", "geo_line", "geohash_grid", "geohex_grid",
        "geotile_grid", "global", "histogram", "ip_prefix", "ip_range", "matrix_stats", "max",
        "median_absolute_deviation", "min", "missing", "multi_terms", "nested", "parent",
        "percentile_ranks", "percentiles", "random_sampler", "range", "rare_terms", "rate",
        "reverse_nested", "sampler", "scripted_metric", "significant_terms", "significant_text",
        "stats", "string_stats", "sum", "t_test", "terms", "time_series", "top_hits",
        "top_metrics", "value_count", "variable_width_histogram", "weighted_avg",
        # pipeline aggregations
        "avg_bucket", "bucket_correlation", "bucket_count_ks_test", "bucket_script",
        "bucket_selector", "bucket_sort", "change_point", "cumulative_cardinality",
        "cumulative_sum", "derivative", "extended_stats_bucket", "inference", "max_bucket",
        "min_bucket", "moving_fn", "moving_percentiles", "normalize", "percentiles_bucket",
        "serial_diff", "stats_bucket", "sum_bucket",
    }
)  # fmt: skip
_AGG_META = ("aggregations", "aggs", "meta")
_AGG_NAME_FORBIDDEN = ("[", "]", ">")


def query_problem(query: Any) -> str | None:
    """Why AbstractQueryBuilder.parseInnerQueryBuilder refuses `query`, or None.

    Messages are the search parsers' own: `unknown query [x]`, `[x] query malformed, no
    start_object after query name`, `[x] malformed query, expected [END_OBJECT] but found
    [FIELD_NAME]`, `[bool] query does not support [x]`.
    """
    if not isinstance(query, dict) or not query:
        return "query malformed, empty clause found"
    name, *others = list(query)
    if name not in QUERY_TYPES:
        return f"unknown query [{name}]"
    if others:
        return f"[{name}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]"
    body = query[name]
    if not isinstance(body, dict):
        return f"[{name}] query malformed, no start_object after query name"
    if name == "bool":
        return _bool_problem(body)
    singles, lists = _INNER_QUERIES.get(name, ((), ()))
    for key in singles:
        if key in body and (problem := query_problem(body[key])) is not None:
            return problem
    for key in lists:
        for inner in body.get(key) or []:
            if (problem := query_problem(inner)) is not None:
                return problem
    return None


def _bool_problem(body: dict[str, Any]) -> str | None:
    for key, value in body.items():
        if key in _BOOL_CLAUSES:
            for clause in value if isinstance(value, list) else [value]:
                if (problem := query_problem(clause)) is not None:
                    return problem
        elif key not in _BOOL_OPTIONS:
            return f"[bool] query does not support [{key}]"
    return None


def aggregations_problem(aggs: Any) -> str | None:
    """Why AggregatorFactories.parseAggregators refuses `aggs`, or None."""
    if not isinstance(aggs, dict):
        return "Aggregation definition must be an object"
    for name, agg in aggs.items():
        if any(ch in name for ch in _AGG_NAME_FORBIDDEN):
            return (
                f"Invalid aggregation name [{name}]. Aggregation names can contain any "
                "character except '[', ']', and '>'"
            )
        if not isinstance(agg, dict):
            # AggregatorFactories.parseAggregators (the source's text lacks a `]`)
            return (
                f"Aggregation definition for [{name} starts with a [{token_name(agg)}], expected a "
                "[START_OBJECT]."
            )
        kinds = [k for k in agg if k not in _AGG_META]
        if not kinds:
            return f"Missing definition for aggregation [{name}]"
        if len(kinds) > 1:
            return (
                f"Found two aggregation type definitions in [{name}]: [{kinds[0]}] and [{kinds[1]}]"
            )
        if kinds[0] not in AGGREGATION_TYPES:
            return f"Unknown aggregation type [{kinds[0]}]"
        for meta in ("aggregations", "aggs"):
            if meta in agg and (problem := aggregations_problem(agg[meta])) is not None:
                return problem
    return None


def refuse_unparsable(problem: str | None, field: str, message: str, parser: str, raw: str) -> None:
    """QueryProvider / AggProvider.fromXContent, strict: a parse failure inside the field.

    Used by datafeeds (`Datafeed query is not parsable`, `Datafeed aggregations are not
    parsable`) and DFA sources (`Data Frame Analytics config query is not parsable`).

    ExceptionsHelper.badRequestException(message, cause) is thrown inside the ObjectParser's
    field, which wraps it: `[l:c] [datafeed_config] failed to parse field [query]`, caused by the
    400 status_exception, itself caused by the search parser's parsing_exception.
    """
    if problem is None:
        return
    raise EsError(
        400,
        "x_content_parse_exception",
        f"[{key_location(raw, field)}] [{parser}] failed to parse field [{field}]",
        caused_by={
            "type": "status_exception",
            "reason": message,
            "caused_by": {"type": "parsing_exception", "reason": problem},
        },
    )
