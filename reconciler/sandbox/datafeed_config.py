"""Datafeed configuration: parse, validate against the job, fill server defaults.

Input: a datafeed PUT / update body, the job config and query parameters. Output: the stored
datafeed config exactly as Elasticsearch returns it (es-ml-api.md §2.1-§2.4), or `EsError`s.
No I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import query_dsl
from reconciler.sandbox.exceptions import bad_request, illegal_argument, parse_error
from reconciler.sandbox.javarandom import default_query_delay_ms
from reconciler.sandbox.validation import (
    Duration,
    body_long,
    check_fields,
    key_location,
    parse_bool,
    parse_duration,
    require_object,
)

Json = dict[str, Any]

DATAFEED_FIELDS = (
    "datafeed_id", "job_id", "indices", "indexes", "query", "aggregations", "aggs",
    "script_fields", "runtime_mappings", "scroll_size", "chunking_config",
    "delayed_data_check_config", "query_delay", "frequency", "max_empty_searches",
    "indices_options",
)  # fmt: skip
UPDATE_FIELDS = tuple(f for f in DATAFEED_FIELDS if f != "datafeed_id")
INDICES_OPTION_PARAMS = (
    "allow_no_indices",
    "expand_wildcards",
    "ignore_throttled",
    "ignore_unavailable",
)


def default_indices_options() -> Json:
    """SearchRequest.DEFAULT_INDICES_OPTIONS as datafeeds render it (es-ml-api.md §2.1)."""
    return {
        "expand_wildcards": ["open"],
        "ignore_unavailable": False,
        "allow_no_indices": True,
        "ignore_throttled": True,
    }


def parse_indices_options(value: Any, params: dict[str, str], raw: str) -> Json:
    """`indices_options` from the body, overridden by query parameters."""
    options = default_indices_options()
    if value is not None:
        given = require_object(value, "datafeed_config", "indices_options", raw)
        for key, item in given.items():
            if key not in options:
                continue
            options[key] = _indices_option(key, item)
    for key in INDICES_OPTION_PARAMS:
        if key in params:
            options[key] = _indices_option(key, params[key])
    return options


def _indices_option(key: str, value: Any) -> Any:
    if key == "expand_wildcards":
        items = value if isinstance(value, list) else str(value).split(",")
        out = []
        for item in items:
            item = str(item).strip().lower()
            if item == "all":
                out += ["open", "closed", "hidden"]
            elif item in ("open", "closed", "hidden", "none"):
                out.append(item)
            else:
                raise illegal_argument(f"No enum constant for expand_wildcards [{item}]")
        return [x for x in ("open", "closed", "hidden") if x in out] if "none" not in out else []
    return parse_bool(value, key)


# Keys of an aggregation object that are not its type (AggregatorFactories.parseAggregators).
_AGG_META_KEYS = ("aggregations", "aggs", "meta")
_CALENDAR_UNITS = {
    "1m": "1m", "minute": "1m", "1h": "1h", "hour": "1h", "1d": "1d", "day": "1d",
}  # fmt: skip


def _agg_type(agg: Any) -> str | None:
    if not isinstance(agg, dict):
        return None
    return next((k for k in agg if k not in _AGG_META_KEYS), None)


def _sub_aggs(agg: Any) -> Json:
    if not isinstance(agg, dict):
        return {}
    nested = agg.get("aggregations") or agg.get("aggs")
    return nested if isinstance(nested, dict) else {}


def _composite_date_source(agg: Json) -> Json | None:
    sources = agg["composite"].get("sources", []) if isinstance(agg["composite"], dict) else []
    for source in sources if isinstance(sources, list) else []:
        for spec in source.values() if isinstance(source, dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("date_histogram"), dict):
                return dict(spec["date_histogram"])
    return None


def _is_histogram(agg: Any) -> bool:
    """DatafeedConfigUtils.isHistogram: (date_)histogram, or composite with a date source."""
    kind = _agg_type(agg)
    if kind in ("date_histogram", "histogram"):
        return True
    return kind == "composite" and _composite_date_source(agg) is not None


def _find_histogram(aggs: Json) -> Json:
    """DatafeedConfigUtils.getHistogramAggregation: one aggregation per level down to it."""
    if not aggs:
        raise illegal_argument("A date_histogram (or histogram) aggregation is required")
    if len(aggs) != 1:
        raise illegal_argument(
            "The date_histogram (or histogram) aggregation cannot have sibling aggregations"
        )
    agg = next(iter(aggs.values()))
    return agg if _is_histogram(agg) else _find_histogram(_sub_aggs(agg))


def _check_no_more_histograms(aggs: Json) -> None:
    """DatafeedConfig.Builder.checkNoMoreHistogramAggregations, at every depth below."""
    for agg in aggs.values():
        if _is_histogram(agg):
            raise illegal_argument(
                "Aggregations can only have 1 date_histogram or histogram aggregation"
            )
        _check_no_more_histograms(_sub_aggs(agg))


def _interval_ms(kind: str, spec: Json) -> int:
    """DatafeedConfigUtils.getHistogramIntervalMillis for the found histogram."""
    for key in ("fixed_interval", "interval", "calendar_interval"):
        if key in spec:
            value = spec[key]
            if kind == "histogram" or isinstance(value, int | float):
                return int(value)
            text = _CALENDAR_UNITS.get(str(value), str(value))
            return int(parse_duration(text, key).ms)
    return 0


def validate_aggregations(aggs: Json) -> tuple[int, bool]:
    """DatafeedConfig.validateAggregations (es-ml-api.md §2.1, §5.5).

    Exactly one aggregation per level down to the date_histogram/histogram (or composite with
    a date_histogram source), no second histogram anywhere below it, a direct `max`
    sub-aggregation on the histogram's own field (checkHistogramAggregationHasChildMaxTimeAgg
    names that field `time_field` in its message), and a positive interval.

    Returns:
        The histogram interval in ms, and whether the histogram is a composite aggregation.
    """
    hist = _find_histogram(aggs)
    below = _sub_aggs(hist)
    _check_no_more_histograms(below)
    kind = str(_agg_type(hist))
    spec = _composite_date_source(hist) if kind == "composite" else hist[kind]
    spec = spec if isinstance(spec, dict) else {}
    time_field = spec.get("field")
    has_max = any(
        _agg_type(child) == "max"
        and isinstance(child["max"], dict)
        and child["max"].get("field") == time_field
        for child in below.values()
    )
    if not has_max or time_field is None:
        # Java's MessageFormat renders a missing field as `null`.
        shown = "null" if time_field is None else time_field
        raise illegal_argument(
            f"Date histogram must have nested max aggregation for time_field [{shown}]"
        )
    interval = _interval_ms(kind, spec)
    if interval <= 0:
        raise illegal_argument("Aggregation interval must be greater than 0")
    return interval, kind == "composite"


def _fmt_ms(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def build_datafeed(
    body: Json,
    raw: str,
    datafeed_id: str,
    job: Json | None,
    params: dict[str, str],
    *,
    update: Json | None = None,
) -> Json:
    """Validate a datafeed body (create, or update when `update` is the current config).

    Args:
        body: PUT body (or update body).
        raw: Raw text for error locations.
        datafeed_id: The datafeed id.
        job: The referenced job config (None: the caller reports the missing job).
        params: Query parameters (indices options overrides).
        update: The current stored config, for `_update`.

    Returns:
        The stored config in Elasticsearch's key order.
    """
    parser = "datafeed_update" if update is not None else "datafeed_config"
    check_fields(body, UPDATE_FIELDS if update is not None else DATAFEED_FIELDS, parser, raw)
    merged: Json = dict(update or {})
    if update is not None:
        merged.pop("query_delay_default", None)
    for key, value in body.items():
        merged[{"indexes": "indices", "aggs": "aggregations"}.get(key, key)] = value
    if "aggs" in body and "aggregations" in body:
        raise illegal_argument("Found two aggregation definitions: [aggs] and [aggregations]")
    if "indexes" in body and "indices" in body:
        raise illegal_argument("Found two index definitions: [indexes] and [indices]")
    if merged.get("job_id") is None:
        # ExceptionsHelper.requireNonNull
        raise illegal_argument("[job_id] must not be null.")
    indices = merged.get("indices")
    if isinstance(indices, str):
        # DatafeedConfig's parser declares `indices` with declareStringArray, which takes a
        # single string as a one-element list and never splits it: "a,b" is stored as ["a,b"]
        # (es-ml-api.md §2.1 "a single string is accepted").
        indices = [indices]
    if not indices or "" in indices:
        # DatafeedConfig.Builder.build: invalidOptionValue (a badRequestException) with the
        # list as Java prints it
        shown = "null" if indices is None else "[" + ", ".join(str(i) for i in indices) + "]"
        raise bad_request(f"Invalid indices value '{shown}' in datafeed configuration")
    out: Json = {"datafeed_id": datafeed_id, "job_id": merged["job_id"]}
    out["authorization"] = {"roles": ["superuser"]}
    job_id = str(merged["job_id"])
    if merged.get("query_delay") is not None:
        out["query_delay"] = str(parse_duration(merged["query_delay"], "query_delay"))
    else:
        # DatafeedConfig.Builder.defaultRandomQueryDelay, es-ml-api.md §2.2
        out["query_delay"] = f"{default_query_delay_ms(job_id)}ms"
    frequency: Duration | None = None
    if merged.get("frequency") is not None:
        frequency = parse_duration(merged["frequency"], "frequency")
        if frequency.ms <= 0:
            raise illegal_argument(f"frequency cannot be less or equal than 0. Value = {frequency}")
        out["frequency"] = str(frequency)
    aggs = merged.get("aggregations")
    interval: int | None = None
    composite = False
    if aggs is not None:
        aggs = require_object(aggs, parser, "aggregations", raw)
        if "aggregations" in body or "aggs" in body:
            query_dsl.refuse_unparsable(
                query_dsl.aggregations_problem(aggs),
                "aggs" if "aggs" in body else "aggregations",
                "Datafeed aggregations are not parsable",
                parser,
                raw,
            )
        if merged.get("script_fields"):
            raise illegal_argument("script_fields cannot be used in combination with aggregations")
        interval, composite = validate_aggregations(aggs)
    chunking_in = merged.get("chunking_config")
    if chunking_in is not None:
        chunking_in = require_object(chunking_in, parser, "chunking_config", raw)
        check_fields(chunking_in, ("mode", "time_span"), "chunking_config", raw)
        mode = str(chunking_in.get("mode", "")).lower()
        if mode not in ("auto", "manual", "off"):
            raise illegal_argument(
                f"No enum constant for chunking mode [{chunking_in.get('mode')}]"
            )
        chunking: Json = {"mode": mode}
        if mode == "manual":
            if chunking_in.get("time_span") is None:
                raise illegal_argument("when chunk mode is manual time_span is required")
            span = parse_duration(chunking_in["time_span"], "time_span")
            if span.ms <= 0:
                raise illegal_argument(
                    f"chunking_config.time_span cannot be less or equal than 0. Value = {span}"
                )
            chunking["time_span"] = str(span)
        elif chunking_in.get("time_span") is not None:
            raise illegal_argument(f"chunking_config.time_span cannot be set in [{mode}] mode")
    elif aggs:
        # ChunkingConfig.newManual(TimeValue.timeValueMillis(1000 x interval)): a millis value
        chunking = (
            {"mode": "off"}
            if composite
            else {"mode": "manual", "time_span": f"{1000 * (interval or 0)}ms"}
        )
    else:
        chunking = {"mode": "auto"}
    out["chunking_config"] = chunking
    out["indices_options"] = parse_indices_options(merged.get("indices_options"), params, raw)
    query = merged.get("query", {"match_all": {}})
    if "query" in body:
        query_dsl.refuse_unparsable(
            query_dsl.query_problem(query), "query", "Datafeed query is not parsable", parser, raw
        )
    out["query"] = query
    out["indices"] = [str(i) for i in indices]
    scroll = body_long(merged.get("scroll_size", 1000), "scroll_size", parser, raw, java_type="int")
    if scroll < 0:
        raise bad_request(f"Invalid scroll_size value '{scroll}' in datafeed configuration")
    out["scroll_size"] = scroll
    if merged.get("max_empty_searches") is not None:
        mes = body_long(
            merged["max_empty_searches"], "max_empty_searches", parser, raw, java_type="int"
        )
        if mes == -1:
            pass  # DatafeedConfig.Builder.setMaxEmptySearches: -1 means unset (PUT and update)
        elif mes <= 0:
            raise bad_request(f"Invalid max_empty_searches value '{mes}' in datafeed configuration")
        else:
            out["max_empty_searches"] = mes
    ddc_in = merged.get("delayed_data_check_config")
    ddc: Json = {"enabled": True}
    if ddc_in is not None:
        ddc_in = require_object(ddc_in, parser, "delayed_data_check_config", raw)
        check_fields(ddc_in, ("enabled", "check_window"), "delayed_data_check_config", raw)
        ddc = {"enabled": bool(ddc_in.get("enabled", True))}
        if ddc_in.get("check_window") is not None:
            ddc["check_window"] = str(parse_duration(ddc_in["check_window"], "check_window"))
    out["delayed_data_check_config"] = ddc
    if aggs:
        out["aggregations"] = aggs
    if merged.get("script_fields"):
        out["script_fields"] = merged["script_fields"]
    if merged.get("runtime_mappings"):
        out["runtime_mappings"] = merged["runtime_mappings"]
    if job is not None:
        validate_against_job(out, job, interval, frequency)
    return out


def validate_against_job(
    df: Json, job: Json, interval: int | None, frequency: Duration | None
) -> None:
    """DatafeedJobValidator rules (es-ml-api.md §2.1, §5.5)."""
    ac = job["analysis_config"]
    span = parse_duration(ac["bucket_span"], "bucket_span")
    if ac.get("latency") and parse_duration(ac["latency"], "latency").ms > 0:
        raise illegal_argument("A job configured with datafeed cannot support latency")
    if "aggregations" in df:
        if not ac.get("summary_count_field_name"):
            raise illegal_argument(
                "A job configured with a datafeed with aggregations must set "
                "summary_count_field_name; use doc_count or suitable alternative"
            )
        assert interval is not None
        if interval > span.ms:
            raise illegal_argument(
                f"Aggregation interval [{_fmt_ms(interval)}] must be less than or equal to the "
                f"bucket_span [{span}]"
            )
        if interval and span.ms % interval != 0:
            raise illegal_argument(
                f"Aggregation interval [{_fmt_ms(interval)}] must be a divisor of the bucket_span "
                f"[{span}]"
            )
        if frequency is not None and interval and frequency.ms % interval != 0:
            raise illegal_argument(
                f"Datafeed frequency [{frequency}] must be a multiple of the aggregation interval "
                f"[{_fmt_ms(interval)}]"
            )
    window = df["delayed_data_check_config"].get("check_window")
    if window is not None:
        w = parse_duration(window, "check_window")
        if w.ms < span.ms:
            raise illegal_argument(
                f"delayed_data_check_config: check_window [{w}] must be greater than the "
                f"bucket_span [{span}]"
            )
        if w.ms > 10_000 * span.ms:
            raise illegal_argument(
                f"delayed_data_check_config: check_window [{w}] must be less than 10,000x the "
                f"bucket_span [{span}]"
            )


def exclude_generated(df: Json) -> Json:
    """DatafeedConfig.toXContent with exclude_generated (es-ml-api.md §2.3)."""
    out = {k: v for k, v in df.items() if k not in ("authorization", "headers")}
    if out.get("query_delay") == f"{default_query_delay_ms(str(df['job_id']))}ms":
        del out["query_delay"]
    if out.get("indices_options") == default_indices_options():
        del out["indices_options"]
    if out.get("chunking_config") == {"mode": "auto"}:
        del out["chunking_config"]
    return out


def reject_headers(body: Json, raw: str) -> None:
    """`headers` is not accepted in a REST body (datafeeds_crud.yml)."""
    if "headers" in body:
        raise parse_error(
            f"[{key_location(raw, 'headers')}] [datafeed_config] unknown field [headers]"
        )
