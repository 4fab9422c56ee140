"""Offline semantic checks of a datafeed, alone and against the job it feeds.

Input: a validated `DatafeedSpec` (standalone or a job's inline datafeed) and, when the job
is declared in the manifests too, that job's spec. Output: `Problem`s with ES's wording
(es-ml-api.md §2.1, §5.5; DatafeedConfig.java, DatafeedJobValidator, ExtractorUtils). No I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from reconciler.manifest.checks_common import duration_ms
from reconciler.manifest.locate import Problem
from reconciler.manifest.query_dsl import check_aggregations, check_query
from reconciler.manifest.source import Path
from reconciler.manifest.spec_datafeed import DatafeedSpec
from reconciler.manifest.spec_job import JobSpec

__all__ = ["check_datafeed", "check_datafeed_against_job", "check_run_window"]

# Date math relative to now as `_start` accepts it (DateMathParser): now, now-1d, now/d, ...
_DATE_MATH = re.compile(r"now(?:[+-]\d+[yMwdhHms])*(?:/[yMwdhHms])?")


def _run_time_ms(value: str | int) -> int | str | None:
    """Epoch ms of an absolute `start`/`end`; "now" for date math; None when unparsable."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    if _DATE_MATH.fullmatch(text):
        return "now"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # ES reads a date without zone as UTC
    return int(parsed.timestamp() * 1000)


def check_run_window(start: str | int | None, end: str | int | None, base: Path) -> list[Problem]:
    """Checks `POST _ml/datafeeds/<id>/_start` makes on `start`/`end` (es-ml-api.md §5.2).

    Args:
        start: The envelope's `start` (None when absent).
        end: The envelope's `end` (None when absent).
        base: Path of the mapping that holds them (`()` or `("datafeed",)`).

    Returns:
        The problems, with ES's wording plus a hint.
    """
    problems: list[Problem] = []
    millis: dict[str, int] = {}
    for name, value in (("start", start), ("end", end)):
        if value is None:
            continue
        parsed = _run_time_ms(value)
        if parsed is None:
            problems.append(
                Problem(
                    (*base, name),
                    f"Query param [{name}] with value [{value}] cannot be parsed as a date or "
                    "converted to a number (epoch). Use epoch milliseconds, an ISO 8601 "
                    "date-time (2024-01-01T00:00:00Z) or date math such as now-1d",
                )
            )
        elif isinstance(parsed, int):
            millis[name] = parsed
    if len(millis) == 2 and millis["end"] <= millis["start"]:
        problems.append(
            Problem(
                (*base, "end"),
                # Elasticsearch's StartDatafeedAction.Request validation, in epoch ms
                f"start [{millis['start']}] must be earlier than end [{millis['end']}]. "
                "Make end later than start",
            )
        )
    return problems


_HISTOGRAMS = ("date_histogram", "histogram", "composite")
# Calendar intervals ML accepts for datafeed aggregations (fixed length up to a day).
_CALENDAR_INTERVALS_MS = {
    "1m": 60_000,
    "minute": 60_000,
    "1h": 3_600_000,
    "hour": 3_600_000,
    "1d": 86_400_000,
    "day": 86_400_000,
}


def _aggregations(spec: DatafeedSpec) -> tuple[str, dict[str, Any]] | None:
    if spec.aggregations is not None:
        return "aggregations", spec.aggregations
    if spec.aggs is not None:
        return "aggs", spec.aggs
    return None


def check_datafeed(spec: DatafeedSpec, base: Path) -> list[Problem]:
    """Checks that need only the datafeed body.

    Args:
        spec: The datafeed body.
        base: Path of the body in the document (`("spec",)` or `("datafeed", "spec")`).

    Returns:
        The problems.
    """
    problems: list[Problem] = []
    if spec.indices is not None and spec.indexes is not None:
        problems.append(
            Problem(
                (*base, "indexes"),
                "Found two index definitions: [indices] and [indexes]; keep only indices",
            )
        )
    indices = spec.indices if spec.indices is not None else spec.indexes
    if indices is None or indices == [] or indices == "":
        problems.append(
            Problem(
                base if indices is None else (*base, "indices"),
                "indices cannot be empty; list the indices or index patterns the datafeed reads",
            )
        )
    elif isinstance(indices, list):
        key = "indices" if spec.indices is not None else "indexes"
        for position, name in enumerate(indices):
            if not name.strip():
                # ES resolves "" to no index and the datafeed fails at start (or PUT, when
                # the index is checked): say it offline, at the item.
                problems.append(
                    Problem(
                        (*base, key, position),
                        "an index name cannot be empty; remove the empty item or name an "
                        "index or index pattern",
                    )
                )
    if spec.aggregations is not None and spec.aggs is not None:
        problems.append(
            Problem((*base, "aggs"), "Found two aggregation definitions: [aggs] and [aggregations]")
        )
    aggs = _aggregations(spec)
    if aggs is not None and spec.script_fields is not None:
        problems.append(
            Problem(
                (*base, "script_fields"),
                "script_fields cannot be used in combination with aggregations",
            )
        )
    if spec.scroll_size is not None and spec.scroll_size < 0:
        problems.append(
            Problem(
                (*base, "scroll_size"),
                f"Invalid scroll_size value '{spec.scroll_size}' in datafeed configuration",
            )
        )
    if spec.max_empty_searches is not None and spec.max_empty_searches <= 0:
        problems.append(
            Problem(
                (*base, "max_empty_searches"),
                f"Invalid max_empty_searches value '{spec.max_empty_searches}' in datafeed "
                "configuration",
            )
        )
    frequency = duration_ms(spec.frequency)
    if frequency is not None and frequency <= 0:
        problems.append(
            Problem(
                (*base, "frequency"),
                f"Invalid frequency value '{spec.frequency}' in datafeed configuration",
            )
        )
    delay = duration_ms(spec.query_delay)
    if delay is not None and delay < 0:
        problems.append(
            Problem(
                (*base, "query_delay"),
                f"Invalid query_delay value '{spec.query_delay}' in datafeed configuration",
            )
        )
    chunking = spec.chunking_config
    if chunking is not None and chunking.mode != "manual" and chunking.time_span is not None:
        # ChunkingConfig: time_span belongs to mode manual only (es-ml-api.md §2.1).
        problems.append(
            Problem(
                (*base, "chunking_config", "time_span"),
                f"chunking_config.time_span is only allowed with mode manual (mode is "
                f"{chunking.mode}); set mode: manual or remove time_span",
                at_key=True,
            )
        )
    if chunking is not None and chunking.mode == "manual":
        span = duration_ms(chunking.time_span)
        if chunking.time_span is None:
            problems.append(
                Problem(
                    (*base, "chunking_config"), "when chunk mode is manual time_span is required"
                )
            )
        elif span is not None and span <= 0:
            problems.append(
                Problem(
                    (*base, "chunking_config", "time_span"),
                    f"chunking_config.time_span must be positive; got '{chunking.time_span}'",
                )
            )
    if spec.query is not None:
        # QueryProvider parses the query at PUT: an unknown type or a malformed clause is a 400.
        problems += check_query(spec.query, (*base, "query"), "Datafeed query is not parsable")
    if aggs is not None:
        name, tree = aggs
        structure = check_aggregations(tree, (*base, name))
        problems += structure
        found = None if structure else _find_histogram(tree, (*base, name))
        if isinstance(found, Problem):
            problems.append(found)
    return problems


def _sub_aggregations(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for key in ("aggregations", "aggs"):
        value = body.get(key)
        if isinstance(value, dict):
            return key, value
    return None


def _find_histogram(tree: dict[str, Any], path: Path) -> Problem | tuple[str, dict[str, Any], Path]:
    """Locate the date_histogram/histogram/composite aggregation (ExtractorUtils)."""
    if not tree:
        return Problem(path, "A date_histogram (or histogram) aggregation is required")
    if len(tree) != 1:
        return Problem(path, "Aggregations can only have 1 date_histogram or histogram aggregation")
    name, body = next(iter(tree.items()))
    agg_path: Path = (*path, name)
    if not isinstance(body, dict):
        return Problem(agg_path, "an aggregation must be a mapping such as {date_histogram: ...}")
    for agg_type in _HISTOGRAMS:
        if agg_type in body:
            return agg_type, body, agg_path
    sub = _sub_aggregations(body)
    if sub is None:
        return Problem(path, "A date_histogram (or histogram) aggregation is required")
    return _find_histogram(sub[1], (*agg_path, sub[0]))


def _interval_ms(agg_type: str, body: dict[str, Any]) -> int | None:
    settings = body.get(agg_type)
    if not isinstance(settings, dict):
        return None
    if agg_type == "composite":
        for source in settings.get("sources") or []:
            if isinstance(source, dict):
                for value in source.values():
                    if isinstance(value, dict) and isinstance(value.get("date_histogram"), dict):
                        return _interval_ms("date_histogram", value)
        return None
    if agg_type == "histogram":
        interval = settings.get("interval")
        return int(interval) if isinstance(interval, int | float) else None
    for key in ("fixed_interval", "interval"):
        value = settings.get(key)
        if isinstance(value, str):
            return duration_ms(value)
        if isinstance(value, int):
            return value
    calendar = settings.get("calendar_interval")
    if isinstance(calendar, str):
        return _CALENDAR_INTERVALS_MS.get(calendar)
    return None


def _has_max_on(tree: dict[str, Any], field: str) -> bool:
    for body in tree.values():
        if not isinstance(body, dict):
            continue
        agg = body.get("max")
        if isinstance(agg, dict) and agg.get("field") == field:
            return True
    return False


def check_datafeed_against_job(spec: DatafeedSpec, base: Path, job: JobSpec) -> list[Problem]:
    """Checks ES makes at PUT datafeed against its job (DatafeedJobValidator, §2.1).

    Args:
        spec: The datafeed body.
        base: Path of the body in the datafeed's document.
        job: The job's spec (declared in the manifests).

    Returns:
        The problems (located in the datafeed's document).
    """
    problems: list[Problem] = []
    config = job.analysis_config
    # DatafeedJobValidator rejects only a latency above zero: `latency: 0s` is allowed.
    latency = duration_ms(config.latency) if config.latency is not None else None
    if latency is not None and latency > 0:
        problems.append(Problem(base, "A job configured with datafeed cannot support latency"))
    bucket_text = config.bucket_span or "5m"
    bucket = duration_ms(bucket_text)
    check = spec.delayed_data_check_config
    window = duration_ms(check.check_window) if check is not None else None
    if check is not None and window is not None and bucket:
        path: Path = (*base, "delayed_data_check_config", "check_window")
        if window <= bucket:
            problems.append(
                Problem(
                    path,
                    f"delayed_data_check_config: check_window [{check.check_window}] must be "
                    f"greater than the bucket_span [{bucket_text}]",
                )
            )
        elif window > 10_000 * bucket:
            problems.append(
                Problem(
                    path,
                    f"delayed_data_check_config: check_window [{check.check_window}] must be "
                    f"less than 10,000x the bucket_span [{bucket_text}]",
                )
            )
    aggs = _aggregations(spec)
    if aggs is None or check_aggregations(aggs[1], (*base, aggs[0])):
        return problems  # an unparsable tree is reported by check_datafeed alone
    name, tree = aggs
    if not config.summary_count_field_name:
        problems.append(
            Problem(
                (*base, name),
                "A job configured with a datafeed with aggregations must set "
                "summary_count_field_name; use doc_count or suitable alternative",
            )
        )
    found = _find_histogram(tree, (*base, name))
    if isinstance(found, Problem):
        return problems  # already reported by check_datafeed
    agg_type, body, agg_path = found
    time_field = job.data_description.time_field or "time"
    sub = _sub_aggregations(body)
    if agg_type != "composite" and (sub is None or not _has_max_on(sub[1], time_field)):
        problems.append(
            Problem(
                agg_path,
                f"Date histogram must have nested max aggregation for time_field [{time_field}]",
            )
        )
    interval = _interval_ms(agg_type, body)
    if interval is None or not bucket:
        return problems
    if interval <= 0:
        problems.append(Problem(agg_path, "Aggregation interval must be greater than 0"))
        return problems
    if interval > bucket:
        problems.append(
            Problem(
                agg_path,
                f"Aggregation interval [{interval}ms] must be less than or equal to the "
                f"bucket_span [{bucket_text}]",
            )
        )
    elif bucket % interval:
        problems.append(
            Problem(
                agg_path,
                f"Aggregation interval [{interval}ms] must be a divisor of the bucket_span "
                f"[{bucket_text}]",
            )
        )
    frequency = duration_ms(spec.frequency)
    if frequency and frequency > 0 and frequency % interval:
        problems.append(
            Problem(
                (*base, "frequency"),
                f"Datafeed frequency [{spec.frequency}] must be a multiple of the aggregation "
                f"interval [{interval}ms]",
            )
        )
    return problems
