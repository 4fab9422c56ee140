"""The REST route table: method + path template → handler and accepted query parameters.

Input: a method and a decoded path. Output: the matched `Route` and path parameters, or the
Elasticsearch answer for "no handler" (400) / "wrong method" (405). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox import (
    cluster,
    cluster_settings,
    datafeeds,
    dfa,
    documents,
    field_caps,
    filters_calendars,
    forecasts,
    index_admin,
    index_settings,
    jobs,
    ml_extras,
    results,
    trained_models,
)
from reconciler.sandbox.context import Ctx, Request

Handler = Callable[[Ctx, Request], Any]

# Parameters every REST endpoint accepts (BaseRestHandler / RestRequest).
COMMON_PARAMS = frozenset(
    {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
)
_IDX_OPTS = ("allow_no_indices", "expand_wildcards", "ignore_throttled", "ignore_unavailable")
_WRITE = (
    "op_type",
    "if_seq_no",
    "if_primary_term",
    "refresh",
    "routing",
    "timeout",
    "version",
    "version_type",
    "pipeline",
    "require_alias",
    "wait_for_active_shards",
    "require_data_stream",
)
_SEARCH = (
    "size",
    "from",
    "sort",
    "track_total_hits",
    "rest_total_hits_as_int",
    "typed_keys",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "q",
    "_source",
    "timeout",
    "search_type",
    "preference",
    "routing",
    "request_cache",
    "track_scores",
    "seq_no_primary_term",
    "version",
    "explain",
    "stored_fields",
    "docvalue_fields",
    "batched_reduce_size",
    "ccs_minimize_roundtrips",
    "allow_partial_search_results",
    "max_concurrent_shard_requests",
)
_BUCKETS = (
    "anomaly_score",
    "desc",
    "end",
    "exclude_interim",
    "expand",
    "from",
    "size",
    "sort",
    "start",
)
_RECORDS = ("desc", "end", "exclude_interim", "from", "record_score", "size", "sort", "start")
_INFLUENCERS = (
    "desc",
    "end",
    "exclude_interim",
    "influencer_score",
    "from",
    "size",
    "sort",
    "start",
)
_SNAPSHOTS = ("desc", "end", "from", "size", "sort", "start")
_OVERALL = (
    "allow_no_match",
    "bucket_span",
    "end",
    "exclude_interim",
    "overall_score",
    "start",
    "top_n",
    "allow_no_jobs",
)


@dataclass(frozen=True)
class Route:
    """One endpoint."""

    methods: tuple[str, ...]
    template: str
    handler: Handler
    params: frozenset[str]

    @property
    def segments(self) -> list[str]:
        """Template split into path segments."""
        return [s for s in self.template.split("/") if s]


def _r(
    methods: str, templates: str | tuple[str, ...], handler: Handler, *params: str
) -> list[Route]:
    names = (templates,) if isinstance(templates, str) else templates
    return [Route(tuple(methods.split(",")), t, handler, frozenset(params)) for t in names]


AD = "/_ml/anomaly_detectors"
DF = "/_ml/datafeeds"
DFA = "/_ml/data_frame/analytics"
TM = "/_ml/trained_models"

ROUTES: list[Route] = [
    *_r("GET,HEAD", "/", cluster.root),
    *_r("GET", "/_license", cluster.license_info, "local", "accept_enterprise"),
    *_r("GET", "/_ml/info", cluster.ml_info),
    *_r("POST", "/_ml/set_upgrade_mode", cluster.set_upgrade_mode, "enabled", "timeout"),
    *_r(
        "DELETE",
        ("/_ml/_delete_expired_data", "/_ml/_delete_expired_data/{job_id}"),
        cluster.delete_expired_data,
        "requests_per_second",
        "timeout",
    ),
    # anomaly detection jobs
    *_r("PUT", f"{AD}/{{job_id}}", jobs.put_job, *_IDX_OPTS),
    *_r(
        "GET",
        (AD, f"{AD}/{{job_id}}"),
        jobs.get_jobs,
        "allow_no_match",
        "exclude_generated",
        "allow_no_jobs",
    ),
    *_r(
        "GET",
        (f"{AD}/_stats", f"{AD}/{{job_id}}/_stats"),
        jobs.job_stats,
        "allow_no_match",
        "allow_no_jobs",
    ),
    *_r("POST", f"{AD}/{{job_id}}/_update", jobs.update_job),
    *_r(
        "DELETE",
        f"{AD}/{{job_id}}",
        jobs.delete_job,
        "force",
        "wait_for_completion",
        "delete_user_annotations",
    ),
    *_r("POST", f"{AD}/{{job_id}}/_open", jobs.open_job, "timeout"),
    *_r(
        "POST",
        f"{AD}/{{job_id}}/_close",
        jobs.close_job,
        "allow_no_match",
        "force",
        "timeout",
        "allow_no_jobs",
    ),
    *_r(
        "POST",
        f"{AD}/{{job_id}}/_reset",
        jobs.reset_job,
        "wait_for_completion",
        "delete_user_annotations",
    ),
    *_r("POST", f"{AD}/_validate", jobs.validate_job),
    *_r("POST", f"{AD}/_validate/detector", jobs.validate_detector),
    *_r("POST", f"{AD}/_estimate_model_memory", jobs.estimate_model_memory),
    *_r(
        "POST",
        f"{AD}/{{job_id}}/_forecast",
        forecasts.forecast,
        "duration",
        "expires_in",
        "max_model_memory",
    ),
    *_r(
        "DELETE",
        (f"{AD}/{{job_id}}/_forecast", f"{AD}/{{job_id}}/_forecast/{{forecast_id}}"),
        forecasts.delete_forecast,
        "allow_no_forecasts",
        "timeout",
    ),
    *_r(
        "POST",
        f"{AD}/{{job_id}}/_flush",
        jobs.flush_job,
        "advance_time",
        "calc_interim",
        "end",
        "skip_time",
        "start",
    ),
    # results and snapshots
    *_r(
        "GET,POST",
        (f"{AD}/{{job_id}}/results/buckets", f"{AD}/{{job_id}}/results/buckets/{{timestamp}}"),
        results.get_buckets,
        *_BUCKETS,
    ),
    *_r("GET,POST", f"{AD}/{{job_id}}/results/records", results.get_records, *_RECORDS),
    *_r("GET,POST", f"{AD}/{{job_id}}/results/influencers", results.get_influencers, *_INFLUENCERS),
    *_r(
        "GET,POST",
        (
            f"{AD}/{{job_id}}/results/categories",
            f"{AD}/{{job_id}}/results/categories/{{category_id}}",
        ),
        results.get_categories,
        "from",
        "size",
        "partition_field_value",
    ),
    *_r(
        "GET,POST",
        f"{AD}/{{job_id}}/results/overall_buckets",
        results.get_overall_buckets,
        *_OVERALL,
    ),
    *_r(
        "GET,POST",
        (f"{AD}/{{job_id}}/model_snapshots", f"{AD}/{{job_id}}/model_snapshots/{{snapshot_id}}"),
        results.get_snapshots,
        *_SNAPSHOTS,
    ),
    *_r(
        "POST", f"{AD}/{{job_id}}/model_snapshots/{{snapshot_id}}/_update", results.update_snapshot
    ),
    *_r("DELETE", f"{AD}/{{job_id}}/model_snapshots/{{snapshot_id}}", results.delete_snapshot),
    *_r(
        "POST",
        f"{AD}/{{job_id}}/model_snapshots/{{snapshot_id}}/_revert",
        results.revert_snapshot,
        "delete_intervening_results",
    ),
    # datafeeds
    *_r("PUT", f"{DF}/{{datafeed_id}}", datafeeds.put_datafeed, *_IDX_OPTS),
    *_r(
        "GET",
        (DF, f"{DF}/{{datafeed_id}}"),
        datafeeds.get_datafeeds,
        "allow_no_match",
        "exclude_generated",
        "allow_no_datafeeds",
    ),
    *_r(
        "GET",
        (f"{DF}/_stats", f"{DF}/{{datafeed_id}}/_stats"),
        datafeeds.datafeed_stats,
        "allow_no_match",
        "allow_no_datafeeds",
    ),
    *_r("POST", f"{DF}/{{datafeed_id}}/_update", datafeeds.update_datafeed, *_IDX_OPTS),
    *_r("DELETE", f"{DF}/{{datafeed_id}}", datafeeds.delete_datafeed, "force"),
    *_r(
        "POST", f"{DF}/{{datafeed_id}}/_start", datafeeds.start_datafeed, "start", "end", "timeout"
    ),
    *_r(
        "POST",
        f"{DF}/{{datafeed_id}}/_stop",
        datafeeds.stop_datafeed,
        "allow_no_match",
        "force",
        "timeout",
        "close_job",
        "allow_no_datafeeds",
    ),
    *_r(
        "GET,POST",
        (f"{DF}/_preview", f"{DF}/{{datafeed_id}}/_preview"),
        datafeeds.preview_datafeed,
        "start",
        "end",
    ),
    # data frame analytics
    *_r("PUT", f"{DFA}/{{id}}", dfa.put_dfa),
    *_r(
        "GET",
        (DFA, f"{DFA}/{{id}}"),
        dfa.get_dfa,
        "allow_no_match",
        "from",
        "size",
        "exclude_generated",
    ),
    *_r(
        "GET",
        (f"{DFA}/_stats", f"{DFA}/{{id}}/_stats"),
        dfa.dfa_stats,
        "allow_no_match",
        "from",
        "size",
        "verbose",
    ),
    *_r("POST", f"{DFA}/{{id}}/_update", dfa.update_dfa),
    *_r("DELETE", f"{DFA}/{{id}}", dfa.delete_dfa, "force", "timeout"),
    *_r("POST", f"{DFA}/{{id}}/_start", dfa.start_dfa, "timeout"),
    *_r("POST", f"{DFA}/{{id}}/_stop", dfa.stop_dfa, "allow_no_match", "force", "timeout"),
    *_r("GET,POST", (f"{DFA}/_explain", f"{DFA}/{{id}}/_explain"), dfa.explain_dfa),
    *_r("GET,POST", (f"{DFA}/_preview", f"{DFA}/{{id}}/_preview"), dfa.preview_dfa),
    *_r("POST", "/_ml/data_frame/_evaluate", dfa.evaluate),
    # filters and calendars
    *_r("PUT", "/_ml/filters/{filter_id}", filters_calendars.put_filter),
    *_r(
        "GET",
        ("/_ml/filters", "/_ml/filters/{filter_id}"),
        filters_calendars.get_filters,
        "from",
        "size",
    ),
    *_r("POST", "/_ml/filters/{filter_id}/_update", filters_calendars.update_filter),
    *_r("DELETE", "/_ml/filters/{filter_id}", filters_calendars.delete_filter),
    *_r("PUT", "/_ml/calendars/{calendar_id}", filters_calendars.put_calendar),
    *_r(
        "GET,POST",
        ("/_ml/calendars", "/_ml/calendars/{calendar_id}"),
        filters_calendars.get_calendars,
        "from",
        "size",
    ),
    *_r("DELETE", "/_ml/calendars/{calendar_id}", filters_calendars.delete_calendar),
    *_r("PUT", "/_ml/calendars/{calendar_id}/jobs/{job_ids}", filters_calendars.put_calendar_jobs),
    *_r(
        "DELETE",
        "/_ml/calendars/{calendar_id}/jobs/{job_ids}",
        filters_calendars.delete_calendar_jobs,
    ),
    *_r("POST", "/_ml/calendars/{calendar_id}/events", filters_calendars.post_events),
    *_r(
        "GET",
        "/_ml/calendars/{calendar_id}/events",
        filters_calendars.get_events,
        "end",
        "from",
        "job_id",
        "size",
        "start",
    ),
    *_r("DELETE", "/_ml/calendars/{calendar_id}/events/{event_id}", filters_calendars.delete_event),
    # trained models (only what the spec examples need)
    *_r(
        "PUT",
        f"{TM}/{{model_id}}",
        cluster.put_trained_model,
        "defer_definition_decompression",
        "wait_for_completion",
    ),
    *_r("DELETE", f"{TM}/{{model_id}}", cluster.delete_trained_model, "force", "timeout"),
    *_r(
        "PUT",
        f"{TM}/{{model_id}}/model_aliases/{{model_alias}}",
        cluster.put_model_alias,
        "reassign",
    ),
    *_r("DELETE", f"{TM}/{{model_id}}/model_aliases/{{model_alias}}", cluster.delete_model_alias),
    *_r("POST", f"{TM}/{{model_id}}/deployment/cache/_clear", cluster.clear_deployment_cache),
    # the rest of the trained model API, memory stats, snapshot upgrades, post data, bulk,
    # mappings, index administration, cluster settings, field capabilities and index
    # resolution: each module lists its own routes
    *[
        r
        for m, t, h, p in (
            trained_models.ROUTES
            + ml_extras.ROUTES
            + index_admin.ROUTES
            + index_settings.ROUTES
            + cluster_settings.ROUTES
            + field_caps.ROUTES
        )
        for r in _r(m, t, h, *p)
    ],
    # documents and indices
    *_r("GET,POST", ("/_search", "/{index}/_search"), documents.search, *_SEARCH),
    *_r("GET,POST", ("/_count", "/{index}/_count"), documents.count, *_IDX_OPTS, "q"),
    *_r("GET,POST", ("/_refresh", "/{index}/_refresh"), documents.refresh_index, *_IDX_OPTS),
    *_r(
        "PUT",
        "/{index}",
        documents.create_index,
        "wait_for_active_shards",
        "timeout",
        "master_timeout",
    ),
    *_r(
        "HEAD",
        "/{index}",
        documents.head_index,
        *_IDX_OPTS,
        "local",
        "flat_settings",
        "include_defaults",
    ),
    *_r(
        "GET",
        "/{index}",
        documents.get_index,
        *_IDX_OPTS,
        "local",
        "flat_settings",
        "include_defaults",
        "master_timeout",
        "features",
    ),
    *_r("DELETE", "/{index}", documents.delete_index, *_IDX_OPTS, "timeout", "master_timeout"),
    *_r("PUT,POST", ("/{index}/_doc/{id}", "/{index}/_create/{id}"), documents.write_doc, *_WRITE),
    *_r("POST", "/{index}/_doc", documents.write_doc, *_WRITE),
    *_r(
        "GET",
        "/{index}/_doc/{id}",
        documents.get_doc,
        "_source",
        "_source_includes",
        "_source_excludes",
        "realtime",
        "refresh",
        "routing",
        "preference",
        "stored_fields",
        "version",
        "version_type",
    ),
    *_r(
        "DELETE",
        "/{index}/_doc/{id}",
        documents.delete_doc,
        "if_seq_no",
        "if_primary_term",
        "refresh",
        "routing",
        "timeout",
        "version",
        "version_type",
        "wait_for_active_shards",
    ),
]


class _Node:
    """One path position of the route trie: literal children, the parameter child, endpoints."""

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.routes: list[Route] = []


def _build(routes: list[Route]) -> _Node:
    root = _Node()
    for route in routes:
        node = root
        for segment in route.segments:
            if segment.startswith("{"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        node.routes.append(route)
    return root


_trie: tuple[int, int, _Node] | None = None


def _root() -> _Node:
    """The trie of `ROUTES`, rebuilt if the table changed (other modules may extend it)."""
    global _trie
    if _trie is None or _trie[:2] != (id(ROUTES), len(ROUTES)):
        _trie = (id(ROUTES), len(ROUTES), _build(ROUTES))
    return _trie[2]


def _path_params(route: Route, segments: list[str]) -> dict[str, str] | None:
    """The route's parameters, or None when a value is not acceptable for its parameter."""
    params: dict[str, str] = {}
    for template, segment in zip(route.segments, segments, strict=True):
        if template.startswith("{"):
            name = template[1:-1]
            if not segment or (name == "index" and segment.startswith("_")):
                return None
            params[name] = segment
    return params


def _walk(node: _Node, segments: list[str], at: int) -> list[tuple[Route, dict[str, str]]]:
    """The endpoints for `segments[at:]` (literal segments first, as RestController's PathTrie).

    Literal segments win over parameters, earlier positions first.
    """
    if at == len(segments):
        found = [(r, p) for r in node.routes if (p := _path_params(r, segments)) is not None]
        return found
    child = node.literal.get(segments[at])
    if child is not None:
        found = _walk(child, segments, at + 1)
        if found:
            return found
    return [] if node.param is None else _walk(node.param, segments, at + 1)


def match(method: str, segments: list[str]) -> tuple[Route | None, dict[str, str], list[str]]:
    """Find the route for a path (a walk down the route trie: cost is the path length).

    Returns:
        (route, path params, allowed methods). The route is None when nothing matched (allowed is
        empty) or the path exists for other methods only (allowed lists them).
    """
    found = _walk(_root(), segments, 0)
    for route, params in found:
        if method in route.methods:
            return route, params, []
    return None, {}, sorted({m for r, _ in found for m in r.methods})
