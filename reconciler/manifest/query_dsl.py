"""Offline structure check of query DSL and aggregation trees, as Elasticsearch parses them.

Input: a datafeed's `query` / `aggregations`, or a data frame analytics job's `source.query`,
and where it sits in the document. Output: `Problem`s that say why Elasticsearch would refuse
the body ("Datafeed query is not parsable", QueryProvider; "Datafeed aggregations are not
parsable", AggProvider; "Data Frame Analytics config query is not parsable",
DataFrameAnalyticsSource). No I/O.

What is checked is what the parser decides before it looks at any mapping: a known query type
at every level (SearchModule.registerQueryParsers plus the query plugins a default
distribution ships: parent-join, percolator, mapper-extras, x-pack), exactly one type per query
object (AbstractQueryBuilder.parseInnerQueryBuilder), the clause shapes of compound queries
(BoolQueryBuilder, ConstantScoreQueryBuilder, ...), the one-field form of leaf queries
(`throwParsingExceptionOnMultipleFields`) and their option names, and for aggregations a known
type, exactly one type per aggregation and the name rules (AggregatorFactories.parseAggregators).
Field names, values and anything needing an index mapping are left to the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.manifest.fields import suggest
from reconciler.manifest.locate import Problem
from reconciler.manifest.source import Path

__all__ = [
    "AGGREGATION_TYPES",
    "QUERY_TYPES",
    "Shape",
    "check_aggregations",
    "check_query",
]

#: How a clause of a compound query holds its sub-queries.
Clause = Literal["query", "queries", "query_or_list", "functions"]

_COMMON = frozenset({"boost", "_name"})


@dataclass(frozen=True)
class Shape:
    """How Elasticsearch parses one query type's body.

    `form` "object": the body is a mapping of options (`keys`: the allowed ones, None when the
    options are not checked here; `required`: what the parser insists on; `clauses`: the options
    that hold sub-queries). `form` "field": the body is `{<field>: value}` with exactly one field,
    the value a scalar (when `scalar`) or a mapping of `keys`. `form` "fields": `terms`, whose
    body holds one field (a list or a lookup mapping) besides `keys`.
    """

    form: Literal["object", "field", "fields"] = "object"
    keys: frozenset[str] | None = None
    required: tuple[str, ...] = ()
    clauses: Mapping[str, Clause] = field(default_factory=dict)
    scalar: bool = True


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names) | _COMMON


_MATCH = _keys(
    "query", "analyzer", "operator", "minimum_should_match", "fuzziness", "prefix_length",
    "max_expansions", "fuzzy_transpositions", "lenient", "zero_terms_query",
    "auto_generate_synonyms_phrase_query", "fuzzy_rewrite", "cutoff_frequency",
)  # fmt: skip
_RANGE = _keys(
    "gt", "gte", "lt", "lte", "from", "to", "include_lower", "include_upper", "format",
    "time_zone", "relation",
)  # fmt: skip
_BOOL_CLAUSES: dict[str, Clause] = {
    "must": "query_or_list",
    "should": "query_or_list",
    "filter": "query_or_list",
    "must_not": "query_or_list",
}

#: Query types checked for their name only (their bodies are left to the cluster).
_NAME_ONLY = (
    "more_like_this", "wrapper", "distance_feature", "terms_set", "geo_distance",
    "geo_bounding_box", "geo_polygon", "geo_shape", "geo_grid", "shape", "span_not",
    "span_within", "span_containing", "span_field_masking", "field_masking_span", "span_first",
    "span_near", "span_gap", "span_or", "span_multi", "parent_id", "percolate", "rank_feature",
    "knn", "sparse_vector", "text_expansion", "weighted_tokens", "semantic", "rule",
)  # fmt: skip

#: Every query type a default Elasticsearch 8 distribution parses, with its shape.
QUERY_TYPES: dict[str, Shape] = {
    # compound queries (their clauses hold queries, checked recursively)
    "bool": Shape(
        keys=_keys(
            "must", "should", "filter", "must_not", "minimum_should_match", "adjust_pure_negative"
        ),
        clauses=_BOOL_CLAUSES,
    ),
    "constant_score": Shape(
        keys=_keys("filter"), required=("filter",), clauses={"filter": "query"}
    ),
    "dis_max": Shape(
        keys=_keys("queries", "tie_breaker"), required=("queries",), clauses={"queries": "queries"}
    ),
    "boosting": Shape(
        keys=_keys("positive", "negative", "negative_boost"),
        required=("positive", "negative", "negative_boost"),
        clauses={"positive": "query", "negative": "query"},
    ),
    "function_score": Shape(clauses={"query": "query", "functions": "functions"}),
    "script_score": Shape(
        keys=_keys("query", "script", "min_score"),
        required=("query", "script"),
        clauses={"query": "query"},
    ),
    "nested": Shape(
        keys=_keys("path", "query", "score_mode", "ignore_unmapped", "inner_hits"),
        required=("path", "query"),
        clauses={"query": "query"},
    ),
    "has_child": Shape(required=("type", "query"), clauses={"query": "query"}),
    "has_parent": Shape(required=("parent_type", "query"), clauses={"query": "query"}),
    "pinned": Shape(required=("organic",), clauses={"organic": "query"}),
    # leaf queries of one field
    "term": Shape(form="field", keys=_keys("value", "case_insensitive")),
    "range": Shape(form="field", keys=_RANGE, scalar=False),
    "match": Shape(form="field", keys=_MATCH),
    "match_phrase": Shape(
        form="field", keys=_keys("query", "analyzer", "slop", "zero_terms_query")
    ),
    "match_phrase_prefix": Shape(
        form="field", keys=_keys("query", "analyzer", "slop", "max_expansions", "zero_terms_query")
    ),
    "match_bool_prefix": Shape(form="field", keys=_MATCH),
    "prefix": Shape(form="field", keys=_keys("value", "rewrite", "case_insensitive")),
    "wildcard": Shape(form="field", keys=_keys("value", "wildcard", "rewrite", "case_insensitive")),
    "regexp": Shape(
        form="field",
        keys=_keys(
            "value",
            "flags",
            "flags_value",
            "case_insensitive",
            "max_determinized_states",
            "rewrite",
        ),
    ),
    "fuzzy": Shape(
        form="field",
        keys=_keys(
            "value", "fuzziness", "prefix_length", "max_expansions", "transpositions", "rewrite"
        ),
    ),
    "span_term": Shape(form="field", keys=_keys("value", "term")),
    "intervals": Shape(form="field", scalar=False),
    "terms": Shape(form="fields", keys=_COMMON),
    # leaf queries with options
    "match_all": Shape(keys=_COMMON),
    "match_none": Shape(keys=_COMMON),
    "exists": Shape(keys=_keys("field"), required=("field",)),
    "ids": Shape(keys=_keys("values"), required=("values",)),
    "query_string": Shape(required=("query",)),
    "simple_query_string": Shape(required=("query",)),
    "multi_match": Shape(required=("query",)),
    "combined_fields": Shape(required=("query", "fields")),
    "script": Shape(required=("script",)),
    # checked for their name only
    **{name: Shape() for name in _NAME_ONLY},
}

#: Aggregation types (SearchModule.registerAggregations / registerPipelineAggregations and the
#: aggregation plugins of a default distribution: x-pack analytics, spatial, ml, aggs module).
AGGREGATION_TYPES: frozenset[str] = frozenset(
    {
        "avg", "weighted_avg", "sum", "min", "max", "stats", "extended_stats", "value_count",
        "percentiles", "percentile_ranks", "median_absolute_deviation", "cardinality",
        "global", "missing", "filter", "filters", "adjacency_matrix", "sampler",
        "diversified_sampler", "random_sampler", "terms", "rare_terms", "significant_terms",
        "significant_text", "multi_terms", "range", "date_range", "ip_range", "ip_prefix",
        "histogram", "date_histogram", "auto_date_histogram", "variable_width_histogram",
        "geo_distance", "geohash_grid", "geotile_grid", "geohex_grid", "geo_bounds",
        "geo_centroid", "geo_line", "cartesian_bounds", "cartesian_centroid", "nested",
        "reverse_nested", "children", "parent", "top_hits", "top_metrics", "scripted_metric",
        "composite", "string_stats", "boxplot", "rate", "t_test", "matrix_stats",
        "categorize_text", "frequent_item_sets", "time_series", "change_point",
        # pipeline aggregations
        "derivative", "max_bucket", "min_bucket", "avg_bucket", "sum_bucket", "stats_bucket",
        "extended_stats_bucket", "percentiles_bucket", "cumulative_sum", "cumulative_cardinality",
        "bucket_script", "bucket_selector", "bucket_sort", "serial_diff", "moving_fn",
        "moving_percentiles", "normalize", "inference", "bucket_count_ks_test",
        "bucket_correlation",
    }
)  # fmt: skip

# AggregatorFactories: the keys of an aggregation that are not its type.
_SUB_AGGREGATIONS = ("aggregations", "aggs")
_AGG_META = "meta"
# AggregatorFactories.VALID_AGG_NAME: any character except '[', ']' and '>'.
_BAD_AGG_NAME_CHARS = frozenset("[]>")


@dataclass
class _Walk:
    """One check: the prefix Elasticsearch puts on the refusal, and the problems so far."""

    prefix: str
    problems: list[Problem] = field(default_factory=list)
    #: How many query objects enclose the one being checked.
    depth: int = 0

    def add(self, path: Path, reason: str, hint: str, *, at_key: bool = False) -> None:
        self.problems.append(Problem(path, f"{self.prefix}: {reason}; {hint}", at_key=at_key))


def check_query(query: Any, path: Path, prefix: str) -> list[Problem]:
    """The structural problems of one query object (a datafeed's `query`, DFA `source.query`).

    Args:
        query: The query as written (after templates).
        path: Where it is in the document.
        prefix: The refusal Elasticsearch answers with, e.g. "Datafeed query is not parsable".

    Returns:
        Every problem found, each at the value or key it is about.
    """
    walk = _Walk(prefix)
    _query(query, path, walk)
    return walk.problems


def check_aggregations(tree: Any, path: Path) -> list[Problem]:
    """The structural problems of a datafeed's `aggregations` tree (and the queries in it)."""
    walk = _Walk("Datafeed aggregations are not parsable")
    _aggregations(tree, path, walk)
    return walk.problems


#: `indices.query.bool.max_nested_depth`, a node setting (SearchModule: default 30): the
#: parser refuses a query nested deeper (AbstractQueryBuilder.parseInnerQueryBuilder).
MAX_NESTED_DEPTH = 30


def _query(query: Any, path: Path, walk: _Walk) -> None:
    if walk.depth >= MAX_NESTED_DEPTH:
        walk.add(
            path,
            "The nested depth of the query exceeds the maximum nested depth for queries set in "
            f"[indices.query.bool.max_nested_depth] ({MAX_NESTED_DEPTH} by default)",
            "flatten the query (one bool can hold many clauses)",
        )
        return
    walk.depth += 1
    try:
        _one_query(query, path, walk)
    finally:
        walk.depth -= 1


def _one_query(query: Any, path: Path, walk: _Walk) -> None:
    if not isinstance(query, dict):
        walk.add(
            path,
            "[_na] query malformed, must start with start_object",
            "write a query as a mapping such as {term: {field: value}}",
        )
        return
    if not query:
        walk.add(
            path,
            "query malformed, empty clause found",
            "remove it, or write a query such as {match_all: {}}",
        )
        return
    names = list(query)
    if len(names) > 1:
        walk.add(
            (*path, names[1]),
            f"[{names[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
            "a query mapping holds exactly one query type; combine several with bool "
            "(must, filter, should, must_not)",
            at_key=True,
        )
    for name in names[:1]:
        shape = QUERY_TYPES.get(name)
        if shape is None:
            _unknown(
                walk,
                (*path, name),
                f"unknown query [{name}]",
                suggest(name, tuple(QUERY_TYPES)),
                "use a query type Elasticsearch knows, such as bool, term, terms, match, "
                "range or exists",
            )
            continue
        _body(name, shape, query[name], (*path, name), walk)


def _body(name: str, shape: Shape, body: Any, path: Path, walk: _Walk) -> None:
    if not isinstance(body, dict):
        walk.add(
            path,
            f"[{name}] query malformed, no start_object after query name",
            f"write its body as a mapping, e.g. {{{name}: {{...}}}}",
        )
        return
    if shape.form == "field":
        _one_field(name, shape, body, path, walk)
        return
    if shape.form == "fields":
        _terms(name, shape, body, path, walk)
        return
    for key in body:
        if shape.keys is not None and key not in shape.keys:
            _unsupported(name, key, shape.keys, (*path, key), walk)
    for key in shape.required:
        if key not in body:
            walk.add(path, f"[{name}] query requires [{key}]", f"add {key} to the {name} query")
    for key, clause in shape.clauses.items():
        if key in body:
            _clause(name, key, clause, body[key], (*path, key), walk)


def _clause(name: str, key: str, clause: Clause, value: Any, path: Path, walk: _Walk) -> None:
    if clause == "query" or (clause == "query_or_list" and not isinstance(value, list)):
        _query(value, path, walk)
        return
    if clause == "functions":
        if isinstance(value, list):
            for position, function in enumerate(value):
                if isinstance(function, dict) and "filter" in function:
                    _query(function["filter"], (*path, position, "filter"), walk)
        return
    if not isinstance(value, list) or (clause == "queries" and not value):
        walk.add(
            path,
            f"[{name}] requires '{key}' field with at least one clause",
            f"give {key} as a list of queries",
        )
        return
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            walk.add(
                (*path, position),
                f"[{name}] query malformed, {key} item {position} is not a query object",
                f"each {key} item must be a query mapping such as {{term: {{field: value}}}}",
            )
        else:
            _query(item, (*path, position), walk)


def _unknown(walk: _Walk, path: Path, reason: str, close: str | None, otherwise: str) -> None:
    """A name the parser does not know, at its key, with the closest known one if any."""
    walk.add(path, reason, f"did you mean '{close}'?" if close else otherwise, at_key=True)


def _unsupported(name: str, key: str, allowed: frozenset[str], path: Path, walk: _Walk) -> None:
    _unknown(
        walk,
        path,
        f"[{name}] query does not support [{key}]",
        suggest(key, tuple(allowed)),
        f"{name} takes: {', '.join(sorted(allowed))}",
    )


def _one_field(name: str, shape: Shape, body: dict[str, Any], path: Path, walk: _Walk) -> None:
    """`{term: {status: active}}`: exactly one field, its value a scalar or an option mapping."""
    example = f"{{{name}: {{<field>: ...}}}}"
    if not body:
        walk.add(
            path,
            f"[{name}] query malformed, no field to query",
            f"name exactly one field, as in {example}",
        )
        return
    fields = list(body)
    if len(fields) > 1:
        walk.add(
            (*path, fields[1]),
            f"[{name}] query doesn't support multiple fields, found [{fields[0]}] and "
            f"[{fields[1]}]",
            f"use one {name} query per field, combined with bool",
            at_key=True,
        )
    target = fields[0]
    value = body[target]
    if isinstance(value, dict):
        if shape.keys is not None:
            for key in value:
                if key not in shape.keys:
                    _unsupported(name, key, shape.keys, (*path, target, key), walk)
    elif isinstance(value, list) or not shape.scalar:
        walk.add(
            (*path, target),
            f"[{name}] query malformed, [{target}] must be a mapping of options"
            if not shape.scalar
            else f"[{name}] query does not support an array of values for [{target}]",
            "for range write bounds such as {gte: now-1d}"
            if name == "range"
            else "use terms for several values"
            if name == "term"
            else f"give one value or a mapping of {name} options",
        )


def _terms(name: str, shape: Shape, body: dict[str, Any], path: Path, walk: _Walk) -> None:
    """`terms`: one field whose value is a list (or a terms lookup mapping), plus options."""
    assert shape.keys is not None
    fields = [key for key in body if key not in shape.keys]
    if not fields:
        walk.add(
            path,
            f"[{name}] query requires a field",
            "name one field with a list of values, as in {terms: {status: [a, b]}}",
        )
    for extra in fields[1:]:
        walk.add(
            (*path, extra),
            f"[{name}] query does not support multiple fields",
            "use one terms query per field, combined with bool",
            at_key=True,
        )
    for target in fields[:1]:
        if not isinstance(body[target], list | dict):
            walk.add(
                (*path, target),
                f"[{name}] query does not support [{target}] with a single value",
                "give a list of values (or use term for one value)",
            )


def _aggregations(tree: Any, path: Path, walk: _Walk) -> None:
    if not isinstance(tree, dict):
        walk.add(path, "aggregations must be a mapping", "map each aggregation name to its body")
        return
    for agg_name, body in tree.items():
        agg_path: Path = (*path, agg_name)
        bad = sorted(set(str(agg_name)) & _BAD_AGG_NAME_CHARS)
        if bad:
            walk.add(
                agg_path,
                f"Invalid aggregation name [{agg_name}]. Aggregation names can contain any "
                "character except '[', ']', and '>'",
                "rename it",
                at_key=True,
            )
        if not isinstance(body, dict):
            walk.add(
                agg_path,
                f"Expected [START_OBJECT] under [{agg_name}]",
                "write the aggregation as a mapping such as {date_histogram: {...}}",
            )
            continue
        _aggregation(str(agg_name), body, agg_path, walk)


def _aggregation(agg_name: str, body: dict[str, Any], path: Path, walk: _Walk) -> None:
    subs = [key for key in body if key in _SUB_AGGREGATIONS]
    if len(subs) > 1:
        walk.add(
            (*path, subs[1]),
            f"Found two sub aggregation definitions under [{agg_name}]",
            "keep aggregations or aggs, not both",
            at_key=True,
        )
    types = [key for key in body if key not in _SUB_AGGREGATIONS and key != _AGG_META]
    if not types:
        walk.add(
            path,
            f"Missing definition for aggregation [{agg_name}]",
            "give its type, such as {max: {field: time}}",
        )
    if len(types) > 1:
        walk.add(
            (*path, types[1]),
            f"Found two aggregation type definitions in [{agg_name}]: [{types[0]}] and "
            f"[{types[1]}]",
            "put the second aggregation in its own entry (or under aggregations)",
            at_key=True,
        )
    for agg_type in types[:1]:
        settings = body[agg_type]
        if agg_type not in AGGREGATION_TYPES:
            _unknown(
                walk,
                (*path, agg_type),
                f"Unknown aggregation type [{agg_type}]",
                suggest(agg_type, tuple(AGGREGATION_TYPES)),
                "use an aggregation type Elasticsearch knows, such as date_histogram, max or terms",
            )
        elif not isinstance(settings, dict):
            walk.add(
                (*path, agg_type),
                f"Expected [START_OBJECT] under [{agg_type}] in [{agg_name}]",
                f"write the {agg_type} settings as a mapping",
            )
        elif agg_type == "filter":
            _query(settings, (*path, agg_type), walk)
        elif agg_type == "filters":
            _filters(settings.get("filters"), (*path, agg_type, "filters"), walk)
    for key in subs[:1]:
        _aggregations(body[key], (*path, key), walk)


def _filters(filters: Any, path: Path, walk: _Walk) -> None:
    """The `filters` aggregation: named queries (a mapping) or anonymous ones (a list)."""
    if isinstance(filters, dict):
        for key, query in filters.items():
            _query(query, (*path, key), walk)
    elif isinstance(filters, list):
        for position, query in enumerate(filters):
            _query(query, (*path, position), walk)
