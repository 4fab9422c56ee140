"""Offline semantic checks of data frame analytics, filters and calendars.

Input: validated manifests. Output: `Problem`s with ES's wording (es-ml-api.md §3.1, §4.1,
§4.2). No I/O.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime

from reconciler.manifest.checks_common import check_body_id, check_id, check_reserved_metadata
from reconciler.manifest.envelope import (
    CalendarManifest,
    DataFrameAnalyticsManifest,
    FilterManifest,
)
from reconciler.manifest.locate import Problem
from reconciler.manifest.query_dsl import check_query
from reconciler.manifest.source import Path
from reconciler.manifest.spec_dfa import AnalyzedFields
from reconciler.units import parse_byte_size

__all__ = ["check_calendar", "check_dfa", "check_filter"]

_MAX_FILTER_ITEMS = 10_000  # MlFilter.MAX_ITEMS (§4.1)
_MB = 1024 * 1024
# MetadataCreateIndexService.validateIndexOrAliasName: forbidden characters in index names.
_INDEX_FORBIDDEN = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",", "#", ":")


def check_dfa(manifest: DataFrameAnalyticsManifest) -> list[Problem]:
    """Checks ES makes when a data frame analytics job is created (§3.1)."""
    spec = manifest.spec
    problems = check_id(manifest.id, "id", ("id",))
    problems += check_body_id(spec.id, manifest.id, "id", ("spec", "id"))
    chosen = [
        name
        for name in ("outlier_detection", "regression", "classification")
        if getattr(spec.analysis, name) is not None
    ]
    if len(chosen) != 1:
        problems.append(
            Problem(
                ("spec", "analysis"),
                "analysis must hold exactly one of outlier_detection, regression or "
                f"classification (found {len(chosen)})",
            )
        )
    indices = [spec.source.index] if isinstance(spec.source.index, str) else spec.source.index
    index_path: Path = ("spec", "source", "index")
    if not indices:
        problems.append(Problem(index_path, "source.index must specify at least one index"))
    elif any(not index for index in indices):
        problems.append(
            Problem(index_path, "source.index must contain non-null and non-empty strings")
        )
    elif any(":" in index for index in indices):
        problems.append(Problem(index_path, "remote source indices are not supported"))
    if spec.source.query is not None:
        # DataFrameAnalyticsSource parses source.query with QueryProvider, as a datafeed does.
        problems += check_query(
            spec.source.query,
            ("spec", "source", "query"),
            "Data Frame Analytics config query is not parsable",
        )
    dest = spec.dest.index
    dest_path: Path = ("spec", "dest", "index")
    if dest != dest.lower():
        problems.append(Problem(dest_path, f"Destination index [{dest}] must be lowercase"))
    elif (
        not dest
        or any(char in dest for char in _INDEX_FORBIDDEN)
        or dest[0] in "-_+"
        or dest in (".", "..")
    ):
        problems.append(
            Problem(
                dest_path,
                f"Invalid index name [{dest}]: index names must not start with '-', '_' or '+' "
                'nor contain \\ / * ? " < > | , # : or spaces',
            )
        )
    else:
        for pattern in indices:
            if pattern and fnmatch.fnmatchcase(dest, pattern):
                problems.append(
                    Problem(
                        dest_path,
                        f"Destination index [{dest}] is included in source expression [{pattern}]",
                    )
                )
                break
    if spec.model_memory_limit is not None:
        try:
            size = parse_byte_size(spec.model_memory_limit)
        except ValueError:
            size = None  # already reported by the field type
        if size is not None and size < _MB:
            problems.append(
                Problem(
                    ("spec", "model_memory_limit"),
                    f"[model_memory_limit] must be at least [1mb]; got [{spec.model_memory_limit}]",
                )
            )
    if spec.max_num_threads is not None and spec.max_num_threads < 1:
        problems.append(
            Problem(("spec", "max_num_threads"), "[max_num_threads] must be a positive integer")
        )
    reserved = ("managed_by", "mlsync_scope")
    problems += check_reserved_metadata(spec.meta, ("spec", "_meta"), reserved)
    problems += _check_analyzed_fields(manifest)
    return problems


def _includes_excludes(
    fields: AnalyzedFields | list[str] | None,
) -> tuple[list[str], list[str]]:
    # The array form means `{includes: [...], excludes: []}` (§3.1).
    if fields is None:
        return [], []
    if isinstance(fields, list):
        return fields, []
    return fields.includes or [], fields.excludes or []


def _check_analyzed_fields(manifest: DataFrameAnalyticsManifest) -> list[Problem]:
    """An analyzed field must not be excluded by `source._source` (§3.1).

    ES: `field [a] is included in [analyzed_fields] but not in [source._source]`; the check
    applies to fields the source filter excludes (wildcards as ES's simple match).
    """
    spec = manifest.spec
    _, source_excludes = _includes_excludes(spec.source.source_filtering)
    includes, _ = _includes_excludes(spec.analyzed_fields)
    if not source_excludes:
        return []
    base: Path = ("spec", "analyzed_fields")
    if not isinstance(spec.analyzed_fields, list):
        base = (*base, "includes")
    return [
        Problem(
            (*base, i),
            f"field [{name}] is included in [analyzed_fields] but not in [source._source]; "
            "remove it from analyzed_fields.includes or from source._source.excludes",
        )
        for i, name in enumerate(includes)
        if any(_simple_match(pattern, name) for pattern in source_excludes)
    ]


def _simple_match(pattern: str, name: str) -> bool:
    """ES's Regex.simpleMatch: `*` is the only wildcard (fnmatch would also read `[` and `?`)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name) is not None


def check_filter(manifest: FilterManifest) -> list[Problem]:
    """Checks ES makes on `PUT _ml/filters/<id>` (§4.1)."""
    problems = check_id(manifest.id, "filter_id", ("id",))
    problems += check_body_id(
        manifest.spec.filter_id, manifest.id, "filter_id", ("spec", "filter_id")
    )
    items = manifest.spec.items or []
    if len(items) > _MAX_FILTER_ITEMS:
        problems.append(
            Problem(
                ("spec", "items"),
                f"Filter [{manifest.id}] contains too many items; up to [{_MAX_FILTER_ITEMS}] "
                "items are allowed",
            )
        )
    return problems


def _epoch_ms(value: str | int) -> int | None:
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000) if parsed.tzinfo else None


def check_calendar(manifest: CalendarManifest) -> list[Problem]:
    """Checks ES makes on `PUT _ml/calendars/<id>` and on posting its events (§4.2)."""
    spec = manifest.spec
    problems = check_id(manifest.id, "calendar_id", ("id",))
    problems += check_body_id(spec.calendar_id, manifest.id, "calendar_id", ("spec", "calendar_id"))
    for i, job_id in enumerate(spec.job_ids or []):
        if not job_id:
            problems.append(
                Problem(("spec", "job_ids", i), "job_ids entries must be job ids, groups or _all")
            )
    for i, event in enumerate(spec.events or []):
        path: Path = ("spec", "events", i)
        if event.calendar_id is not None and event.calendar_id != manifest.id:
            problems.append(
                Problem(
                    (*path, "calendar_id"),
                    f"Inconsistent calendar_id; '{event.calendar_id}' specified in the body "
                    f"differs from '{manifest.id}' specified as the manifest id",
                )
            )
        times: dict[str, int] = {}
        for name in ("start_time", "end_time"):
            value = getattr(event, name)
            millis = _epoch_ms(value)
            if millis is None:
                problems.append(
                    Problem(
                        (*path, name),
                        f"failed to parse date field [{value}]: use ISO 8601 with a time zone "
                        "(2024-12-24T00:00:00Z) or epoch milliseconds",
                    )
                )
            else:
                times[name] = millis
        if len(times) == 2 and times["start_time"] >= times["end_time"]:
            problems.append(
                Problem(
                    path,
                    f"Event start time [{event.start_time}] must come before end time "
                    f"[{event.end_time}]",
                )
            )
    return problems
