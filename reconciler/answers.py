"""The shapes of the Elasticsearch answers the cluster reader uses, checked before use.

Input: the decoded JSON body of one GET the reader sent, and that GET's path.
Output: the body's items (plain dicts, exactly as received) once the body has the shape the
reader, the canonical form and the planner rely on; or `UnexpectedAnswerError` naming the GET
and the first field that is missing or of the wrong type. Pure, no I/O.

Answers are untrusted input, like manifests: a proxy, a different product behind the URL or a
version with other types must end in a clear error, not in a traceback or, worse, in a plan
computed from a half-read cluster (a missing `jobs` key read as "no jobs" would plan to create
every job again). Extra fields are allowed (newer versions add some); the fields mlsync reads
must have the types Elasticsearch documents (the ES specification's `ml._types.*`: Job,
JobStats, Datafeed, DatafeedStats, DataframeAnalyticsSummary, DataframeAnalytics, Filter,
Calendar, CalendarEvent).
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from reconciler.errors import UnexpectedAnswerError

Json = dict[str, Any]
Text = StrictStr | None
Number = StrictInt | StrictFloat


class _Shape(BaseModel):
    # Extra fields pass either way ("allow" or "ignore"); the checked models are dropped once
    # checked, and ignoring saves keeping a copy of every extra field of every item.
    model_config = ConfigDict(extra="ignore")


# ----------------------------------------------------------------------------- datafeeds


class _Chunking(_Shape):
    mode: StrictStr
    time_span: Text = None


class _DelayedDataCheck(_Shape):
    enabled: StrictBool
    check_window: Text = None


class _Datafeed(_Shape):
    datafeed_id: StrictStr
    job_id: StrictStr
    indices: list[StrictStr]
    query: Json | None = None
    query_delay: Text = None
    frequency: Text = None
    scroll_size: StrictInt | None = None
    chunking_config: _Chunking | None = None
    delayed_data_check_config: _DelayedDataCheck | None = None
    aggregations: Json | None = None
    aggs: Json | None = None
    script_fields: Json | None = None
    runtime_mappings: Json | None = None
    indices_options: Json | None = None
    max_empty_searches: StrictInt | None = None


class _TimingStats(_Shape):
    search_count: StrictInt | None = None


class _DatafeedStats(_Shape):
    datafeed_id: StrictStr
    state: StrictStr
    timing_stats: _TimingStats | None = None


# ----------------------------------------------------------------------------- jobs


class _FilterRef(_Shape):
    filter_id: StrictStr
    filter_type: Text = None


class _Condition(_Shape):
    applies_to: StrictStr
    operator: StrictStr
    value: Number


class _Rule(_Shape):
    actions: list[StrictStr] | None = None
    scope: dict[str, _FilterRef] | None = None
    conditions: list[_Condition] | None = None
    params: Json | None = None


class _Detector(_Shape):
    function: StrictStr
    field_name: Text = None
    by_field_name: Text = None
    over_field_name: Text = None
    partition_field_name: Text = None
    detector_description: Text = None
    exclude_frequent: Text = None
    use_null: StrictBool | None = None
    detector_index: StrictInt | None = None
    custom_rules: list[_Rule] | None = None


class _AnalysisConfig(_Shape):
    bucket_span: Text = None
    detectors: list[_Detector]
    influencers: list[StrictStr] | None = None
    categorization_field_name: Text = None
    categorization_filters: list[StrictStr] | None = None
    categorization_analyzer: StrictStr | Json | None = None
    per_partition_categorization: Json | None = None
    summary_count_field_name: Text = None
    latency: Text = None
    multivariate_by_fields: StrictBool | None = None
    model_prune_window: Text = None


class _AnalysisLimits(_Shape):
    model_memory_limit: StrictStr | StrictInt | None = None
    categorization_examples_limit: StrictInt | None = None


class _Job(_Shape):
    job_id: StrictStr
    description: Text = None
    groups: list[StrictStr] | None = None
    analysis_config: _AnalysisConfig
    analysis_limits: _AnalysisLimits | None = None
    data_description: Json
    model_plot_config: Json | None = None
    custom_settings: Json | None = None
    results_index_name: Text = None
    background_persist_interval: Text = None
    renormalization_window_days: StrictInt | None = None
    results_retention_days: StrictInt | None = None
    system_annotations_retention_days: StrictInt | None = None
    model_snapshot_retention_days: StrictInt | None = None
    daily_model_snapshot_retention_after_days: StrictInt | None = None
    allow_lazy_open: StrictBool | None = None
    #: The job's datafeed, embedded by GET jobs (the same object GET datafeeds returns).
    datafeed_config: _Datafeed | None = None


class _ModelSizeStats(_Shape):
    model_bytes: StrictInt | None = None


class _JobStats(_Shape):
    job_id: StrictStr
    state: StrictStr
    model_size_stats: _ModelSizeStats | None = None


# ----------------------------------------------------------------------------- DFA


class _DfaSource(_Shape):
    index: list[StrictStr] | StrictStr
    query: Json | None = None
    runtime_mappings: Json | None = None


class _DfaDest(_Shape):
    index: StrictStr
    results_field: Text = None


class _AnalyzedFields(_Shape):
    includes: list[StrictStr] | None = None
    excludes: list[StrictStr] | None = None


class _Dfa(_Shape):
    id: StrictStr
    description: Text = None
    source: _DfaSource
    dest: _DfaDest
    analysis: dict[str, Json]
    analyzed_fields: _AnalyzedFields | None = None
    model_memory_limit: Text = None
    allow_lazy_start: StrictBool | None = None
    max_num_threads: StrictInt | None = None


class _Phase(_Shape):
    phase: StrictStr
    progress_percent: StrictInt


class _DfaStats(_Shape):
    id: StrictStr
    state: StrictStr
    progress: list[_Phase] | None = None


# ----------------------------------------------------------------------------- filters, calendars


class _Filter(_Shape):
    filter_id: StrictStr
    description: Text = None
    items: list[StrictStr]


class _Calendar(_Shape):
    calendar_id: StrictStr
    description: Text = None
    job_ids: list[StrictStr]


class _Event(_Shape):
    calendar_id: StrictStr
    event_id: Text = None
    description: StrictStr
    start_time: StrictInt | StrictStr
    end_time: StrictInt | StrictStr
    skip_result: StrictBool | None = None
    skip_model_update: StrictBool | None = None
    force_time_shift: StrictInt | None = None


#: Per collection key of an answer: the shape of one of its items.
ITEM_SHAPES: dict[str, dict[str, type[_Shape]]] = {
    "config": {
        "jobs": _Job,
        "datafeeds": _Datafeed,
        "data_frame_analytics": _Dfa,
        "filters": _Filter,
        "calendars": _Calendar,
        "events": _Event,
    },
    "stats": {"jobs": _JobStats, "datafeeds": _DatafeedStats, "data_frame_analytics": _DfaStats},
}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: Any) -> str:
    value = error.get("input")
    got = "nothing" if error["type"] == "missing" else _type_name(value)
    return f"{_where(tuple(error['loc']))}: {error['msg'].lower()} (got {got})"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number"}
    names |= {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def unexpected(path: str, detail: str) -> UnexpectedAnswerError:
    """The error for an answer to `GET path` that mlsync cannot use."""
    return UnexpectedAnswerError(
        f"unexpected answer from Elasticsearch to GET {path}: {detail}; nothing was changed. "
        "Check that the URL points at Elasticsearch itself (not a proxy that rewrites answers)"
    )


def items_of(path: str, body: Any, key: str, *, stats: bool = False) -> list[Json]:
    """The items of the collection `key` in the answer `body` to `GET path`, checked.

    Raises:
        UnexpectedAnswerError: the body is not an object, lacks `key` (or `count` is not a
            number), or an item lacks a field mlsync reads or has it with another type.
    """
    if not isinstance(body, dict):
        raise unexpected(path, f"expected a JSON object, got {_type_name(body)}")
    if key not in body:
        raise unexpected(path, f"the answer has no '{key}' list")
    items = body[key]
    if not isinstance(items, list):
        raise unexpected(path, f"{key}: expected a list (got {_type_name(items)})")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise unexpected(path, f"count: expected a number (got {_type_name(count)})")
    shape = ITEM_SHAPES["stats" if stats else "config"][key]
    for index, item in enumerate(items):
        try:
            shape.model_validate(item)
        except ValidationError as exc:
            errors = exc.errors()
            first: dict[str, Any] = dict(errors[0])
            first["loc"] = (key, index, *tuple(errors[0]["loc"]))
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise unexpected(path, _describe(first) + more) from None
    return list(items)


def page_count(body: Json) -> int | None:
    """The `count` of a checked page answer (None when the API sends none)."""
    count = body.get("count")
    return count if isinstance(count, int) else None
