"""Offline semantic checks of an anomaly detection job, as Elasticsearch makes them at PUT.

Input: a validated `JobManifest`. Output: `Problem`s with ES's wording (es-ml-api.md §1.1-§1.5,
§5.5; Detector.java, AnalysisConfig.java, Messages.java). No I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reconciler.manifest.checks_common import (
    check_body_id,
    check_id,
    check_reserved_metadata,
    duration_ms,
    is_valid_id,
)
from reconciler.manifest.envelope import JobManifest
from reconciler.manifest.fields import FUNCTION_SHORTCUTS
from reconciler.manifest.locate import Problem
from reconciler.manifest.source import Path
from reconciler.manifest.spec_job import AnalysisConfig, Detector, JobSpec

__all__ = ["check_job", "default_detector_description", "full_function_name"]

# Detector.java function sets (elastic/elasticsearch Detector.java, DetectorFunction.java).
_COUNT_WITHOUT_FIELD = {
    "count", "high_count", "low_count", "non_zero_count", "low_non_zero_count",
    "high_non_zero_count", "time_of_day", "time_of_week",
}  # fmt: skip
_FIELD_NAME_FUNCTIONS = {
    "distinct_count", "low_distinct_count", "high_distinct_count", "info_content",
    "low_info_content", "high_info_content", "metric", "mean", "avg", "high_mean", "high_avg",
    "low_mean", "low_avg", "median", "low_median", "high_median", "min", "max", "sum",
    "low_sum", "high_sum", "non_null_sum", "low_non_null_sum", "high_non_null_sum", "varp",
    "low_varp", "high_varp", "lat_long",
}  # fmt: skip
_BY_FIELD_FUNCTIONS = {"rare", "freq_rare"}
_OVER_FIELD_FUNCTIONS = {"freq_rare"}
_NO_OVER_FIELD_FUNCTIONS = {"non_zero_count", "low_non_zero_count", "high_non_zero_count"}
_NO_RULE_CONDITIONS = {"lat_long", "metric", "rare", "freq_rare"}
_PRESUMMARIZED_FORBIDDEN = {"metric"}

_MLCATEGORY = "mlcategory"
_DEFAULT_BUCKET_SPAN_MS = 5 * 60 * 1000  # AnalysisConfig default "5m" (§1.2)
_DEFAULT_SNAPSHOT_RETENTION_DAYS = 10  # Job default model_snapshot_retention_days (§1.1)
_MIN_BACKGROUND_PERSIST_MS = 3_600_000  # background_persist_interval minimum 1h (§1.1)

# Letters java.time.format.DateTimeFormatter accepts as pattern letters; any other ASCII
# letter outside quotes makes DateTimeFormatter.ofPattern throw (-> "Invalid Time format").
_JAVA_PATTERN_LETTERS = set("GuyDMLdQqYwWEecFahKkHmsSAnNVvzOXxZpgB")


def full_function_name(function: str) -> str:
    """The long form of a detector function (`nzc` -> `non_zero_count`, §1.3)."""
    return FUNCTION_SHORTCUTS.get(function, function)


def _quote(field: str) -> str:
    # DefaultDetectorDescription quotes names that are not plain words.
    if re.fullmatch(r"\w+", field):
        return field
    return '"' + field.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_detector_description(detector: Detector) -> str:
    """The description ES generates when none is given (DefaultDetectorDescription, §1.3)."""
    text = full_function_name(detector.function)
    if detector.field_name:
        text += f"({_quote(detector.field_name)})"
    if detector.by_field_name:
        text += f" by {_quote(detector.by_field_name)}"
    if detector.over_field_name:
        text += f" over {_quote(detector.over_field_name)}"
    if detector.partition_field_name:
        text += f" partitionfield={_quote(detector.partition_field_name)}"
    if detector.use_null:
        text += " usenull=true"
    if detector.exclude_frequent:
        text += f" excludefrequent={detector.exclude_frequent.lower()}"
    return text


def check_job(manifest: JobManifest) -> list[Problem]:
    """All single-document checks of a job manifest (the datafeed is checked separately).

    Args:
        manifest: The validated manifest.

    Returns:
        The problems, paths relative to the document root.
    """
    spec = manifest.spec
    problems = check_id(manifest.id, "job_id", ("id",))
    problems += check_body_id(spec.job_id, manifest.id, "job_id", ("spec", "job_id"))
    problems += _check_job_settings(spec)
    problems += check_reserved_metadata(
        spec.custom_settings,
        ("spec", "custom_settings"),
        ("managed", "managed_by", "mlsync_scope", "mlsync_restore_calendars"),
    )
    problems += _check_analysis_config(spec.analysis_config, spec, ("spec", "analysis_config"))
    problems += _check_data_description(spec)
    if spec.datafeed_config is not None and manifest.datafeed is not None:
        problems.append(
            Problem(
                ("spec", "datafeed_config"),
                "the job declares its datafeed twice (spec.datafeed_config and datafeed:); "
                "keep only the manifest's datafeed: section",
            )
        )
    return problems


def _check_job_settings(spec: JobSpec) -> list[Problem]:
    problems: list[Problem] = []
    for i, group in enumerate(spec.groups or []):
        if not is_valid_id(group):
            problems.append(
                Problem(
                    ("spec", "groups", i),
                    f"Invalid group id '{group}'; must be non-empty string and may contain "
                    "lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start "
                    "and end with alphanumeric",
                )
            )
    if spec.results_index_name is not None and not is_valid_id(spec.results_index_name):
        problems.append(
            Problem(
                ("spec", "results_index_name"),
                f"Invalid results_index_name; '{spec.results_index_name}' can contain lowercase "
                "alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with "
                "alphanumeric",
            )
        )
    # Job.Builder.validateInputFields: retention settings must not be negative.
    for name in (
        "renormalization_window_days",
        "model_snapshot_retention_days",
        "daily_model_snapshot_retention_after_days",
        "results_retention_days",
        "system_annotations_retention_days",
    ):
        value = getattr(spec, name)
        if value is not None and value < 0:
            problems.append(
                Problem(("spec", name), f"{name} cannot be less than 0. Value = {value}")
            )
    daily = spec.daily_model_snapshot_retention_after_days
    retention = spec.model_snapshot_retention_days
    limit = retention if retention is not None else _DEFAULT_SNAPSHOT_RETENTION_DAYS
    if daily is not None and daily >= 0 and daily > limit:
        problems.append(
            Problem(
                ("spec", "daily_model_snapshot_retention_after_days"),
                # Elasticsearch's wording (MessageFormat drops the quotes of the source text).
                f"The value of daily_model_snapshot_retention_after_days [{daily}] cannot be "
                f"greater than model_snapshot_retention_days [{limit}]",
            )
        )
    interval = duration_ms(spec.background_persist_interval)
    if interval is not None and interval < _MIN_BACKGROUND_PERSIST_MS:
        problems.append(
            Problem(
                ("spec", "background_persist_interval"),
                "background_persist_interval cannot be less than 1h. "
                f"Value = {spec.background_persist_interval}",
            )
        )
    limits = spec.analysis_limits
    if (
        limits is not None
        and limits.categorization_examples_limit is not None
        and limits.categorization_examples_limit < 0
    ):
        problems.append(
            Problem(
                ("spec", "analysis_limits", "categorization_examples_limit"),
                "categorization_examples_limit cannot be less than 0. "
                f"Value = {limits.categorization_examples_limit}",
            )
        )
    return problems


def _check_data_description(spec: JobSpec) -> list[Problem]:
    description = spec.data_description
    problems: list[Problem] = []
    base: Path = ("spec", "data_description")
    if description.format is not None and description.format.lower() not in (
        "xcontent",
        "delimited",
    ):
        problems.append(
            Problem(
                (*base, "format"),
                f"Unknown data format '{description.format}'; use xcontent (the default)",
            )
        )
    fmt = description.time_format
    if fmt is not None and fmt not in ("epoch", "epoch_ms") and not _valid_java_pattern(fmt):
        problems.append(
            Problem(
                (*base, "time_format"),
                f"Invalid Time format string '{fmt}'; use epoch, epoch_ms or a Java "
                "DateTimeFormatter pattern such as yyyy-MM-dd'T'HH:mm:ssX",
            )
        )
    return problems


def _valid_java_pattern(pattern: str) -> bool:
    if not pattern.strip():
        return False
    in_quote = False
    depth = 0
    for char in pattern:
        if char == "'":
            in_quote = not in_quote
        elif in_quote:
            continue
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                return False
        elif char in "#{}":
            return False  # reserved by DateTimeFormatterBuilder
        elif char.isascii() and char.isalpha() and char not in _JAVA_PATTERN_LETTERS:
            return False
    return not in_quote and depth == 0


def _analysis_fields(config: AnalysisConfig) -> dict[str, Path]:
    """Every field name analysis_config uses, with the (relative) path of its first use."""
    fields: dict[str, Path] = {}
    for i, detector in enumerate(config.detectors):
        for key in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
            name = getattr(detector, key)
            if name:
                fields.setdefault(name, ("detectors", i, key))
    for i, name in enumerate(config.influencers or []):
        fields.setdefault(name, ("influencers", i))
    for key in ("summary_count_field_name", "categorization_field_name"):
        name = getattr(config, key)
        if name:
            fields.setdefault(name, (key,))
    return fields


def _check_analysis_config(config: AnalysisConfig, spec: JobSpec, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    if not config.detectors:
        problems.append(Problem((*base, "detectors"), "No detectors configured"))
    seen: dict[str, int] = {}
    for i, detector in enumerate(config.detectors):
        path: Path = (*base, "detectors", i)
        problems += _check_detector(detector, path)
        description = detector.detector_description or default_detector_description(detector)
        key = json.dumps(_detector_identity(detector, description), sort_keys=True)
        if key in seen:
            problems.append(Problem(path, f"Duplicate detectors are not allowed: [{description}]"))
        else:
            seen[key] = i
    problems += _check_durations(config, base)
    problems += _check_categorization(config, base)
    if config.summary_count_field_name:
        for i, detector in enumerate(config.detectors):
            function = full_function_name(detector.function)
            if function in _PRESUMMARIZED_FORBIDDEN:
                problems.append(
                    Problem(
                        (*base, "detectors", i, "function"),
                        f"The '{function}' function cannot be used in jobs that will take "
                        "pre-summarized input",
                    )
                )
    time_field = spec.data_description.time_field or "time"
    used_at = _analysis_fields(config).get(time_field)
    if used_at is not None:
        problems.append(
            Problem(
                (*base, *used_at),
                "data_description.time_field may not be used in the analysis_config "
                f"('{time_field}' is the time field)",
            )
        )
    problems += _check_nested_overlap(config, base)
    return problems


def _detector_identity(detector: Detector, description: str) -> dict[str, Any]:
    # AnalysisConfig.verifyNoDuplicateDetectors compares detectors as built (function in
    # long form, description defaulted), ignoring detector_index.
    data = detector.model_dump(exclude={"detector_index"}, exclude_none=True, mode="json")
    data["function"] = full_function_name(detector.function)
    data["detector_description"] = description
    if "exclude_frequent" in data:
        data["exclude_frequent"] = str(data["exclude_frequent"]).lower()
    return data


def _check_detector(detector: Detector, path: Path) -> list[Problem]:
    problems: list[Problem] = []
    function = full_function_name(detector.function)
    field, by, over = detector.field_name, detector.by_field_name, detector.over_field_name
    partition = detector.partition_field_name
    requirement = None
    # Detector.Builder.build(), in the server's order: the first failing rule wins.
    if not field and not by and not over and function not in _COUNT_WITHOUT_FIELD:
        requirement = (
            "Unless a count or temporal function is used one of field_name, by_field_name or "
            "over_field_name must be set"
        )
    elif not field and function in _FIELD_NAME_FUNCTIONS:
        requirement = f"field_name must be set when the '{function}' function is used"
    elif field and function not in _FIELD_NAME_FUNCTIONS:
        requirement = f"field_name cannot be used with function '{function}'"
    elif not by and function in _BY_FIELD_FUNCTIONS:
        requirement = f"by_field_name must be set when the '{function}' function is used"
    elif not over and function in _OVER_FIELD_FUNCTIONS:
        requirement = f"over_field_name must be set when the '{function}' function is used"
    elif over and function in _NO_OVER_FIELD_FUNCTIONS:
        requirement = f"over_field_name cannot be used with function '{function}'"
    if requirement:
        problems.append(Problem(path, requirement))
    for name in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
        value = getattr(detector, name)
        if value is not None and ('"' in value or "\\" in value or _has_control(value)):
            problems.append(
                Problem(
                    (*path, name),
                    f"Invalid field name '{value}'. Field names including over, by and "
                    'partition fields cannot contain any of these characters: ",\\',
                )
            )
    for i, rule in enumerate(detector.custom_rules or []):
        rule_path: Path = (*path, "custom_rules", i)
        if not rule.scope and not rule.conditions:
            problems.append(
                Problem(
                    rule_path, "Invalid detector rule: at least scope or a condition is required"
                )
            )
        if function in _NO_RULE_CONDITIONS and any(
            c.applies_to != "time" for c in rule.conditions or []
        ):
            problems.append(
                Problem(
                    (*rule_path, "conditions"),
                    f"Invalid detector rule: function {function} only supports conditions that "
                    "apply to time",
                )
            )
        valid = sorted(name for name in (by, over, partition) if name)
        for scope_field in rule.scope or {}:
            if scope_field in valid:
                continue
            if not valid:
                message = (
                    f"Invalid detector rule: scope field '{scope_field}' is invalid; detector "
                    "has no available fields for scoping"
                )
            else:
                message = (
                    f"Invalid detector rule: scope field '{scope_field}' is invalid; select "
                    f"from [{', '.join(valid)}]"
                )
            problems.append(Problem((*rule_path, "scope", scope_field), message, at_key=True))
    if partition and partition == by:
        problems.append(
            Problem(path, f"partition_field_name and by_field_name cannot be the same: '{by}'")
        )
    if partition and partition == over:
        problems.append(
            Problem(path, f"partition_field_name and over_field_name cannot be the same: '{over}'")
        )
    if by and by == over:
        problems.append(
            Problem(path, f"by_field_name and over_field_name cannot be the same: '{by}'")
        )
    for name, value in (("by_field_name", by), ("over_field_name", over)):
        if value in ("count", "by", "over"):
            problems.append(
                Problem((*path, name), f"'{value}' is not a permitted value for {name}")
            )
    return problems


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)


def _check_durations(config: AnalysisConfig, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    span = duration_ms(config.bucket_span)
    if span is not None:
        if span <= 0:
            problems.append(
                Problem(
                    (*base, "bucket_span"),
                    f"bucket_span cannot be less or equal than 0. Value = {config.bucket_span}",
                )
            )
        elif span % 1000:
            problems.append(
                Problem(
                    (*base, "bucket_span"),
                    f"bucket_span must be a whole number of seconds; got '{config.bucket_span}'",
                )
            )
    latency = duration_ms(config.latency)
    if latency is not None and latency < 0:
        problems.append(
            Problem((*base, "latency"), f"latency cannot be less than 0. Value = {config.latency}")
        )
    window = duration_ms(config.model_prune_window)
    bucket = span if span is not None and span > 0 else _DEFAULT_BUCKET_SPAN_MS
    span_text = config.bucket_span or "5m"
    if window is not None:
        # AnalysisConfig (8.1+, es-ml-api.md §1.2): a multiple of, and >= 2x, bucket_span.
        if window % bucket:
            problems.append(
                Problem(
                    (*base, "model_prune_window"),
                    f"model_prune_window [{config.model_prune_window}] must be a multiple of "
                    f"bucket_span [{span_text}]",
                )
            )
        elif window < 2 * bucket:
            problems.append(
                Problem(
                    (*base, "model_prune_window"),
                    f"model_prune_window [{config.model_prune_window}] must be at least 2 times "
                    f"greater than bucket_span [{span_text}]",
                )
            )
    return problems


def _uses_mlcategory(detector: Detector) -> bool:
    return _MLCATEGORY in (
        detector.by_field_name,
        detector.over_field_name,
        detector.partition_field_name,
    )


def _check_categorization(config: AnalysisConfig, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    uses = any(_uses_mlcategory(d) for d in config.detectors)
    field = config.categorization_field_name
    if uses and not field:
        first = next(i for i, d in enumerate(config.detectors) if _uses_mlcategory(d))
        problems.append(
            Problem(
                (*base, "detectors", first),
                "categorization_field_name must be set for mlcategory to be available",
            )
        )
    if field and not uses:
        problems.append(
            Problem(
                (*base, "categorization_field_name"),
                "categorization_field_name is set but mlcategory is not used in any detector "
                "by/over/partition field",
            )
        )
    filters = config.categorization_filters
    if filters is not None:
        path: Path = (*base, "categorization_filters")
        if not field:
            problems.append(
                Problem(path, "categorization_filters require setting categorization_field_name")
            )
        if config.categorization_analyzer is not None:
            problems.append(
                Problem(
                    path,
                    "categorization_filters cannot be used with categorization_analyzer - "
                    "instead specify them as pattern_replace char_filters in the analyzer",
                )
            )
        if len(set(filters)) != len(filters):
            problems.append(Problem(path, "categorization_filters contain duplicates"))
        for i, regex in enumerate(filters):
            if not regex:
                problems.append(
                    Problem(
                        (*path, i),
                        "categorization_filters are not allowed to contain empty strings",
                    )
                )
            elif not _compiles(regex):
                problems.append(
                    Problem(
                        (*path, i),
                        f"categorization_filters contains invalid regular expression '{regex}'",
                    )
                )
    if config.categorization_analyzer is not None and not field:
        problems.append(
            Problem(
                (*base, "categorization_analyzer"),
                "categorization_analyzer requires setting categorization_field_name",
            )
        )
    partitioning = config.per_partition_categorization
    if partitioning is not None:
        path = (*base, "per_partition_categorization")
        if partitioning.stop_on_warn and not partitioning.enabled:
            problems.append(
                Problem(
                    (*path, "stop_on_warn"),
                    "stop_on_warn cannot be true in per_partition_categorization when enabled is "
                    "false; set enabled: true or remove stop_on_warn",
                )
            )
        if partitioning.enabled:
            partitions = {d.partition_field_name for d in config.detectors if _uses_mlcategory(d)}
            if None in partitions:
                problems.append(
                    Problem(
                        path,
                        "partition_field_name must be set for detectors that reference "
                        "mlcategory when per-partition categorization is enabled",
                    )
                )
            elif len(partitions) > 1:
                problems.append(
                    Problem(
                        path,
                        "partition_field_name cannot vary for detectors that reference "
                        "mlcategory when per-partition categorization is enabled",
                    )
                )
    return problems


def _compiles(regex: str) -> bool:
    # Python's `re` approximates java.util.regex; Java-only syntax (\p{..}, \Q..\E) that
    # Python rejects as a "bad escape" is given the benefit of the doubt.
    try:
        re.compile(regex)
    except re.error as exc:
        return "bad escape" in str(exc)
    return True


def _check_nested_overlap(config: AnalysisConfig, base: Path) -> list[Problem]:
    # AnalysisConfig.verifyNoInconsistentNestedFieldNames: `a` and `a.b` cannot coexist
    # among the by/over/partition fields and influencers.
    names: set[str] = set(config.influencers or [])
    for detector in config.detectors:
        for name in (
            detector.by_field_name,
            detector.over_field_name,
            detector.partition_field_name,
        ):
            if name:
                names.add(name)
    ordered = sorted(names)
    for i, prefix in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other.startswith(prefix + "."):
                return [
                    Problem(
                        base,
                        f"Fields [{prefix}] and [{other}] cannot both be used in the same "
                        "analysis_config",
                    )
                ]
    return []
