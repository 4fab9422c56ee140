"""Anomaly detection job configuration: parse, validate and fill server defaults.

Input: a PUT / `_validate` / `_update` body (already JSON-decoded, plus its raw text for error
locations). Output: the job config exactly as Elasticsearch stores and returns it (defaults,
normalised units, generated detector descriptions), or `EsError`s with Elasticsearch's texts.
No I/O. References: es-ml-api.md §1.1-§1.6, §5.5.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.sandbox.exceptions import EsError, illegal_argument, parse_error
from reconciler.sandbox.validation import (
    ID_RE,
    Duration,
    check_fields,
    format_bytes,
    key_location,
    non_negative,
    parse_bytes,
    parse_duration,
    parse_int,
    require_object,
)

Json = dict[str, Any]

JOB_FIELDS = (
    "job_id", "description", "groups", "analysis_config", "analysis_limits", "data_description",
    "model_plot_config", "background_persist_interval", "renormalization_window_days",
    "model_snapshot_retention_days", "daily_model_snapshot_retention_after_days",
    "results_retention_days", "system_annotations_retention_days", "custom_settings",
    "results_index_name", "allow_lazy_open", "datafeed_config",
)  # fmt: skip
GENERATED_JOB_FIELDS = (
    "job_type", "job_version", "create_time", "finished_time", "model_snapshot_id",
    "model_snapshot_min_version", "deleting", "blocked",
)  # fmt: skip
ANALYSIS_FIELDS = (
    "bucket_span", "detectors", "influencers", "summary_count_field_name",
    "categorization_field_name", "categorization_filters", "categorization_analyzer",
    "per_partition_categorization", "latency", "multivariate_by_fields", "model_prune_window",
)  # fmt: skip
DETECTOR_FIELDS = (
    "detector_description", "function", "field_name", "by_field_name", "over_field_name",
    "partition_field_name", "use_null", "exclude_frequent", "custom_rules", "detector_index",
)  # fmt: skip

# DetectorFunction.java @e8b3041e: full names plus shortcuts normalised on output.
FUNCTION_ALIASES = {
    "nzc": "non_zero_count", "low_nzc": "low_non_zero_count",
    "high_nzc": "high_non_zero_count", "dc": "distinct_count", "low_dc": "low_distinct_count",
    "high_dc": "high_distinct_count", "avg": "mean", "low_avg": "low_mean",
    "high_avg": "high_mean",
}  # fmt: skip
COUNT_FUNCTIONS = {
    "count", "low_count", "high_count", "non_zero_count", "low_non_zero_count",
    "high_non_zero_count", "time_of_day", "time_of_week",
}  # fmt: skip
FIELD_FUNCTIONS = {
    "distinct_count", "low_distinct_count", "high_distinct_count", "info_content",
    "low_info_content", "high_info_content", "metric", "mean", "low_mean", "high_mean",
    "median", "low_median", "high_median", "min", "max", "sum", "low_sum", "high_sum",
    "non_null_sum", "low_non_null_sum", "high_non_null_sum", "varp", "low_varp", "high_varp",
    "lat_long",
}  # fmt: skip
BY_FUNCTIONS = {"rare", "freq_rare"}
OVER_FUNCTIONS = {"freq_rare"}
NO_OVER_FUNCTIONS = {"non_zero_count", "low_non_zero_count", "high_non_zero_count"}
ALL_FUNCTIONS = COUNT_FUNCTIONS | FIELD_FUNCTIONS | BY_FUNCTIONS
# Functions refused with summary_count_field_name (es-ml-api.md §1.2; exact set [U]).
NO_SUMMARY_FUNCTIONS = {
    "metric", "rare", "freq_rare", "non_zero_count", "low_non_zero_count",
    "high_non_zero_count", "time_of_day", "time_of_week",
}  # fmt: skip
# Rules on these functions may only use time conditions (DetectionRule / Detector).
TIME_ONLY_RULE_FUNCTIONS = {"lat_long", "rare", "freq_rare", "time_of_day", "time_of_week"}

# CategorizationAnalyzerConfig default (es-ml-api.md §1.2; decision on §10.10 in README).
DEFAULT_STOPWORDS = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Mon", "Tue",
    "Wed", "Thu", "Fri", "Sat", "Sun", "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December", "Jan", "Feb", "Mar", "Apr",
    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "GMT", "UTC",
]  # fmt: skip

MB = 1 << 20
DEFAULT_MODEL_MEMORY_MB = 1024
MLCATEGORY = "mlcategory"
_WORD = re.compile(r"^\w+$")
_JAVA_PATTERN_LETTERS = set("GuyDMLdQqYwWEeFaKkHhmsSAnNVzOXxZpBgv")


def default_detector_description(det: Json) -> str:
    """DefaultDetectorDescription: `fn(field) by X over Y partitionfield=Z ...`."""

    def quote(name: str) -> str:
        return name if _WORD.match(name) else '"' + name.replace('"', '\\"') + '"'

    text = str(det["function"])
    if det.get("field_name"):
        text += f"({quote(det['field_name'])})"
    if det.get("by_field_name"):
        text += f" by {quote(det['by_field_name'])}"
    if det.get("over_field_name"):
        text += f" over {quote(det['over_field_name'])}"
    if det.get("partition_field_name"):
        text += f" partitionfield={quote(det['partition_field_name'])}"
    if det.get("use_null"):
        text += " usenull=true"
    if det.get("exclude_frequent"):
        text += f" excludefrequent={det['exclude_frequent']}"
    return text


def parse_custom_rules(rules: Any, det: Json, raw: str) -> list[Json]:
    """Validate `custom_rules` (DetectionRule.java, es-ml-api.md §1.3.1)."""
    if not isinstance(rules, list):
        raise parse_error(
            f"[{key_location(raw, 'custom_rules')}] [detector] failed to parse field [custom_rules]"
        )
    out: list[Json] = []
    scope_fields = [
        det[f] for f in ("by_field_name", "over_field_name", "partition_field_name") if det.get(f)
    ]
    for rule in rules:
        rule = require_object(rule, "detection_rule", "custom_rules", raw)
        check_fields(rule, ("actions", "scope", "conditions", "params"), "detection_rule", raw)
        actions = rule.get("actions", ["skip_result"])
        for action in actions:
            if action not in ("skip_result", "skip_model_update", "force_time_shift"):
                raise illegal_argument(f"No enum constant for rule action [{action}]")
        scope_in = rule.get("scope") or {}
        conditions_in = rule.get("conditions") or []
        if not scope_in and not conditions_in:
            raise illegal_argument(
                "Invalid detector rule: at least scope or a condition is required"
            )
        scope: Json = {}
        for field, spec in scope_in.items():
            if not scope_fields:
                raise illegal_argument(
                    f"Invalid detector rule: scope field '{field}' is invalid; detector has no "
                    "available fields for scoping"
                )
            if field not in scope_fields:
                raise illegal_argument(
                    f"Invalid detector rule: scope field '{field}' is invalid; select from "
                    f"[{', '.join(sorted(scope_fields))}]"
                )
            spec = require_object(spec, "filter_ref", field, raw)
            check_fields(spec, ("filter_id", "filter_type"), "filter_ref", raw)
            if "filter_id" not in spec:
                raise illegal_argument("[filter_id] must not be null")
            ftype = str(spec.get("filter_type", "include")).lower()
            if ftype not in ("include", "exclude"):
                raise illegal_argument(f"Unknown filter_type [{spec.get('filter_type')}]")
            scope[field] = {"filter_id": spec["filter_id"], "filter_type": ftype}
        conditions: list[Json] = []
        for cond in conditions_in:
            cond = require_object(cond, "rule_condition", "conditions", raw)
            check_fields(cond, ("applies_to", "operator", "value"), "rule_condition", raw)
            applies = str(cond.get("applies_to", "")).lower()
            if applies not in ("actual", "typical", "diff_from_typical", "time"):
                raise illegal_argument(f"Unknown applies_to [{cond.get('applies_to')}]")
            op = str(cond.get("operator", "")).lower()
            if op not in ("gt", "gte", "lt", "lte"):
                raise illegal_argument(f"Unknown operator [{cond.get('operator')}]")
            if "value" not in cond:
                raise illegal_argument("[value] must not be null")
            if det["function"] in TIME_ONLY_RULE_FUNCTIONS and applies != "time":
                raise illegal_argument(
                    f"Invalid detector rule: function {det['function']} only supports "
                    "conditions that apply to time"
                )
            conditions.append(
                {"applies_to": applies, "operator": op, "value": float(cond["value"])}
            )
        out_rule: Json = {"actions": list(actions)}
        if scope:
            out_rule["scope"] = scope
        if conditions:
            out_rule["conditions"] = conditions
        if "params" in rule:
            out_rule["params"] = rule["params"]
        out.append(out_rule)
    return out


def parse_detector(raw_det: Any, raw: str, *, summary: bool) -> Json:
    """One detector, validated, with defaults (Detector.Builder.build)."""
    det_in = require_object(raw_det, "detector", "detectors", raw)
    check_fields(det_in, DETECTOR_FIELDS, "detector", raw)
    if "function" not in det_in or not det_in["function"]:
        raise (
            illegal_argument("Unknown function ''")
            if "function" in det_in
            else illegal_argument("[function] must not be null")
        )
    given = str(det_in["function"])
    fn = FUNCTION_ALIASES.get(given, given)
    if fn not in ALL_FUNCTIONS:
        raise illegal_argument(f"Unknown function '{given}'")
    det: Json = {"function": fn}
    for key in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
        if det_in.get(key) is not None:
            value = str(det_in[key])
            if '"' in value or "\\" in value:
                raise illegal_argument(
                    f"Invalid field name '{value}'. Field names including over, by and partition "
                    'fields cannot contain any of these characters: [", \\]'
                )
            det[key] = value
    if fn in COUNT_FUNCTIONS and "field_name" in det:
        raise illegal_argument(f"field_name cannot be used with function '{fn}'")
    if fn in FIELD_FUNCTIONS and "field_name" not in det:
        raise illegal_argument(f"field_name must be set when the '{fn}' function is used")
    if fn in BY_FUNCTIONS and "by_field_name" not in det:
        raise illegal_argument(f"by_field_name must be set when the '{fn}' function is used")
    if fn in OVER_FUNCTIONS and "over_field_name" not in det:
        raise illegal_argument(f"over_field_name must be set when the '{fn}' function is used")
    if fn in NO_OVER_FUNCTIONS and "over_field_name" in det:
        raise illegal_argument(f"over_field_name cannot be used with function '{fn}'")
    if summary and fn in NO_SUMMARY_FUNCTIONS:
        raise illegal_argument(
            f"The '{fn}' function cannot be used in jobs that will take pre-summarized input"
        )
    for key in ("by_field_name", "over_field_name"):
        if det.get(key) == "count":
            raise illegal_argument(f"'count' is not a permitted value for {key}")
    pairs = [
        ("by_field_name", "over_field_name"),
        ("by_field_name", "partition_field_name"),
        ("over_field_name", "partition_field_name"),
    ]
    for a, b in pairs:
        if a in det and det.get(a) == det.get(b):
            raise illegal_argument(f"{a} and {b} cannot be the same: '{det[a]}'")
    if det_in.get("use_null"):
        det["use_null"] = True
    if det_in.get("exclude_frequent") is not None:
        ef = str(det_in["exclude_frequent"]).lower()
        if ef not in ("all", "none", "by", "over"):
            raise illegal_argument(f"No enum constant for exclude_frequent [{ef}]")
        det["exclude_frequent"] = ef
    rules = parse_custom_rules(det_in.get("custom_rules", []), det, raw)
    description = det_in.get("detector_description") or default_detector_description(det)
    out: Json = {"detector_description": description, **det}
    if rules:
        out["custom_rules"] = rules
    return out


def default_analyzer(filters: list[str] | None) -> Json:
    """The default categorization analyzer stored at PUT (es-ml-api.md §1.2)."""
    char_filter: list[Any] = ["first_non_blank_line"]
    char_filter += [{"type": "pattern_replace", "pattern": f} for f in filters or []]
    return {
        "char_filter": char_filter,
        "tokenizer": "ml_standard",
        "filter": [{"type": "stop", "stopwords": list(DEFAULT_STOPWORDS)}],
    }


def validate_categorization_filters(filters: Any) -> list[str]:
    """Messages.JOB_CONFIG_CATEGORIZATION_FILTERS_* checks."""
    if not isinstance(filters, list):
        raise illegal_argument("categorization_filters must be an array of strings")
    if len(set(filters)) != len(filters):
        raise illegal_argument("categorization_filters contain duplicates")
    for item in filters:
        if not item:
            raise illegal_argument(
                "categorization_filters are not allowed to contain empty strings"
            )
        try:
            re.compile(item)
        except re.error:
            raise illegal_argument(
                f"categorization_filters contains invalid regular expression '{item}'"
            ) from None
    return [str(f) for f in filters]


def prune_window_default(bucket_span: Duration) -> str:
    """`model_prune_window` default: max(30d, 20 x bucket_span) (es-ml-api.md §1.2, §10.4)."""
    thirty_days_ms = 30 * 86_400_000
    if 20 * bucket_span.ms <= thirty_days_ms:
        return "30d"
    return f"{20 * bucket_span.amount}{bucket_span.unit}"


def check_prune_window(window: Duration, bucket_span: Duration) -> None:
    """Model prune window rules (AnalysisConfig.Builder.verifyModelPruneWindow)."""
    if window.ms % bucket_span.ms != 0:
        raise illegal_argument(
            f"model_prune_window [{window}] must be a multiple of bucket_span [{bucket_span}]"
        )
    if window.ms < 2 * bucket_span.ms:
        raise illegal_argument(
            f"model_prune_window [{window}] must be at least 2 times greater than bucket_span "
            f"[{bucket_span}]"
        )


def parse_bucket_span(value: Any) -> Duration:
    """`bucket_span`: positive whole seconds (TimeUtils.checkPositiveMultiple)."""
    span = parse_duration(value, "bucket_span")
    if span.ms <= 0:
        raise illegal_argument(f"bucket_span cannot be less or equal than 0. Value = {span}")
    if span.ms % 1000 != 0:
        raise illegal_argument(f"bucket_span has to be a multiple of 1s; actual was '{span}'")
    return span


def parse_per_partition_categorization(value: Any, raw: str) -> Json:
    """`per_partition_categorization` as stored (PerPartitionCategorizationConfig.java)."""
    ppc_in = require_object(
        value if value is not None else {}, "analysis_config", "per_partition_categorization", raw
    )
    ppc: Json = {"enabled": bool(ppc_in.get("enabled", False))}
    if ppc_in.get("stop_on_warn") and not ppc["enabled"]:
        raise illegal_argument(
            "stop_on_warn cannot be true in per_partition_categorization when enabled is false"
        )
    if ppc["enabled"]:
        ppc["stop_on_warn"] = bool(ppc_in.get("stop_on_warn", False))
    return ppc


def _by_over_partition(det: Json) -> list[str]:
    """Detector.getByOverPartitionTerms: the detector's by, over and partition fields."""
    return [
        det[k] for k in ("by_field_name", "over_field_name", "partition_field_name") if det.get(k)
    ]


def check_mlcategory_use(detectors: list[Json], cat_field: Any) -> None:
    """AnalysisConfig.Builder.verifyMlCategoryIsUsedWhenCategorizationFieldNameIsSet.

    `mlcategory` needs a categorization field, and a categorization field needs a detector
    that uses `mlcategory` as its by, over or partition field (es-ml-api.md §1.2).
    """
    used = any(MLCATEGORY in _by_over_partition(det) for det in detectors)
    if used and cat_field is None:
        raise illegal_argument(
            "categorization_field_name must be set for mlcategory to be available"
        )
    if cat_field is not None and not used:
        raise illegal_argument(
            "categorization_field_name is set but mlcategory is not used in any detector "
            "by/over/partition field"
        )


def check_per_partition_categorization(ppc: Json, detectors: list[Json], cat_field: Any) -> None:
    """AnalysisConfig.Builder.verifyConfigConsistentWithPerPartitionCategorization."""
    if not ppc["enabled"]:
        return
    if cat_field is None:
        raise illegal_argument(
            "categorization_field_name must be set when per-partition categorization is enabled"
        )
    previous: str | None = None
    for det in detectors:
        partition = det.get("partition_field_name")
        if MLCATEGORY in _by_over_partition(det):
            if partition == MLCATEGORY:
                raise illegal_argument(
                    "mlcategory cannot be used as a partition_field_name when per-partition "
                    "categorization is enabled"
                )
            if partition is None:
                raise illegal_argument(
                    "partition_field_name must be set for detectors that reference mlcategory "
                    "when per-partition categorization is enabled"
                )
        if partition is not None:
            if previous is not None and previous != partition:
                raise illegal_argument(
                    "partition_field_name cannot vary between detectors when per-partition "
                    f"categorization is enabled: [{previous}] and [{partition}] are used"
                )
            previous = partition


def check_nested_field_names(detectors: list[Json], influencers: list[str]) -> None:
    """AnalysisConfig.Builder.verifyNoInconsistentNestedFieldNames.

    Over the sorted term fields (by/over/partition fields and influencers), a field may not be
    followed by one nested under it (`a` with `a.b`, `a.b` with `a.b.c`); `a.b` with `a.c` is
    fine. Sorting is Java's String order (UTF-16 code units), the same as Python's for the
    Basic Multilingual Plane.
    """
    terms = sorted({f for det in detectors for f in _by_over_partition(det)} | set(influencers))
    previous: str | None = None
    for term in terms:
        if not term:
            continue
        if previous is not None and term.startswith(previous + "."):
            raise illegal_argument(
                f"Fields [{previous}] and [{term}] cannot both be used in the same analysis_config"
            )
        previous = term


def check_unique_detectors(detectors: list[Json]) -> None:
    """Job.Builder.validateDetectorsAreUnique: Detector.equals minus `detector_index`.

    The comparison includes `detector_description` (given or generated), so two `count`
    detectors with different descriptions are not duplicates (es-ml-api.md §1.2).
    """
    seen: set[str] = set()
    for det in detectors:
        key = repr(sorted((k, v) for k, v in det.items() if k != "detector_index"))
        if key in seen:
            raise illegal_argument(
                f"Duplicate detectors are not allowed: [{det['detector_description']}]"
            )
        seen.add(key)


def parse_analysis_config(value: Any, raw: str) -> Json:
    """`analysis_config` with defaults (es-ml-api.md §1.2)."""
    ac_in = require_object(value, "job_details", "analysis_config", raw)
    check_fields(ac_in, ANALYSIS_FIELDS, "analysis_config", raw)
    span = parse_bucket_span(ac_in.get("bucket_span", "5m"))
    detectors_in = ac_in.get("detectors")
    if not detectors_in:
        raise illegal_argument("No detectors configured")
    if not isinstance(detectors_in, list):
        raise parse_error(
            f"[{key_location(raw, 'detectors')}] [analysis_config] failed to parse field "
            "[detectors]"
        )
    summary = ac_in.get("summary_count_field_name")
    detectors = [parse_detector(d, raw, summary=bool(summary)) for d in detectors_in]
    for index, det in enumerate(detectors):
        det["detector_index"] = index
    out: Json = {"bucket_span": str(span)}
    influencers = ac_in.get("influencers", [])
    if not isinstance(influencers, list):
        influencers = [influencers]
    influencers = [str(i) for i in influencers]
    cat_field = ac_in.get("categorization_field_name") or None
    filters = ac_in.get("categorization_filters")
    analyzer = ac_in.get("categorization_analyzer")
    # PerPartitionCategorizationConfig's constructor runs while parsing, before the builder.
    ppc = parse_per_partition_categorization(ac_in.get("per_partition_categorization"), raw)
    # The rest follows AnalysisConfig.Builder.build (AnalysisConfig.java, 8.x), in its order.
    check_mlcategory_use(detectors, cat_field)
    if analyzer is not None and not cat_field:
        raise illegal_argument("categorization_analyzer requires setting categorization_field_name")
    if filters:
        if analyzer is not None:
            raise illegal_argument(
                "categorization_filters cannot be used with categorization_analyzer - instead "
                "specify them as pattern_replace char_filters in the analyzer"
            )
        if not cat_field:
            raise illegal_argument(
                "categorization_filters require setting categorization_field_name"
            )
        filters = validate_categorization_filters(filters)
    check_per_partition_categorization(ppc, detectors, cat_field)
    check_nested_field_names(detectors, influencers)
    # Job.Builder.validateDetectorsAreUnique runs once the analysis_config is built.
    check_unique_detectors(detectors)
    if cat_field:
        out["categorization_field_name"] = cat_field
        # JobManager.validateCategorizationAnalyzerOrSetDefault (7.14+): filters are folded into
        # the stored default analyzer and categorization_filters is dropped.
        out["categorization_analyzer"] = (
            analyzer if analyzer is not None else default_analyzer(filters)
        )
        # AnalysisConfig.toXContent: per_partition_categorization only with a categorization
        # field (es-ml-api.md §1.2).
        out["per_partition_categorization"] = ppc
    out["detectors"] = detectors
    out["influencers"] = influencers
    if summary:
        out["summary_count_field_name"] = summary
    if ac_in.get("latency") is not None:
        out["latency"] = str(parse_duration(ac_in["latency"], "latency"))
    if ac_in.get("multivariate_by_fields") is not None:
        out["multivariate_by_fields"] = bool(ac_in["multivariate_by_fields"])
    if ac_in.get("model_prune_window") is not None:
        window = parse_duration(ac_in["model_prune_window"], "model_prune_window")
        check_prune_window(window, span)
        out["model_prune_window"] = str(window)
    else:
        out["model_prune_window"] = prune_window_default(span)
    # Key order as Elasticsearch renders it (spec put_job response example).
    order = [
        "bucket_span", "categorization_field_name", "categorization_analyzer",
        "per_partition_categorization", "detectors", "influencers", "summary_count_field_name",
        "latency", "multivariate_by_fields", "model_prune_window",
    ]  # fmt: skip
    return {k: out[k] for k in order if k in out}


def analysis_fields(ac: Json) -> set[str]:
    """Every field name an analysis_config references."""
    names: set[str] = set()
    for det in ac["detectors"]:
        for key in ("field_name", "by_field_name", "over_field_name", "partition_field_name"):
            if det.get(key):
                names.add(det[key])
    names.update(ac.get("influencers", []))
    for key in ("summary_count_field_name", "categorization_field_name"):
        if ac.get(key):
            names.add(ac[key])
    return names


def parse_data_description(value: Any, raw: str) -> Json:
    """`data_description` (DataDescription.java @511e02f5)."""
    dd_in = require_object(value, "job_details", "data_description", raw)
    check_fields(
        dd_in,
        ("format", "time_field", "time_format", "field_delimiter", "quote_character"),
        "data_description",
        raw,
    )
    data_format = _data_format(dd_in.get("format"), raw)
    time_format = str(dd_in.get("time_format", "epoch_ms"))
    if time_format not in ("epoch", "epoch_ms"):
        validate_time_format(time_format)
    out: Json = {}
    if data_format != "xcontent":
        # DataDescription.toXContent writes `format` only when it is not XCONTENT.
        out["format"] = data_format
    out.update(time_field=str(dd_in.get("time_field", "time")), time_format=time_format)
    for key in ("field_delimiter", "quote_character"):
        if key in dd_in:
            char = str(dd_in[key])
            if len(char) != 1:
                # DataDescription.extractChar, thrown inside the parser's field setter
                raise parse_error(
                    f"[{key_location(raw, key)}] [data_description] failed to parse field [{key}]",
                    cause=illegal_argument(f"String must be a single character, found [{char}]"),
                )
            out[key] = char
    if data_format == "delimited":
        # DataDescription.Builder.build: delimited data gets a tab and a double quote.
        out.setdefault("field_delimiter", "\t")
        out.setdefault("quote_character", '"')
    return out


def _data_format(value: Any, raw: str) -> str:
    """DataDescription.DataFormat.forString: case-insensitive, `delineated` means delimited."""
    if value is None:
        return "xcontent"
    text = str(value).upper()
    text = "DELIMITED" if text == "DELINEATED" else text
    if text not in ("XCONTENT", "DELIMITED"):
        raise parse_error(
            f"[{key_location(raw, 'format')}] [data_description] failed to parse field [format]",
            cause=illegal_argument(
                "No enum constant org.elasticsearch.xpack.core.ml.job.config."
                f"DataDescription.DataFormat.{text}"
            ),
        )
    return text.lower()


def validate_time_format(fmt: str) -> None:
    """A Java DateTimeFormatter pattern check (unquoted letters must be pattern letters)."""
    in_quote = False
    has_letter = False
    for ch in fmt:
        if ch == "'":
            in_quote = not in_quote
        elif not in_quote and ch.isalpha():
            if ch not in _JAVA_PATTERN_LETTERS:
                raise illegal_argument(f"Invalid Time format string '{fmt}'")
            has_letter = True
    if in_quote or not has_letter:
        raise illegal_argument(f"Invalid Time format string '{fmt}'")


def parse_memory_limit_mb(value: Any) -> int:
    """AD `model_memory_limit` → whole MB (number = MB; string = byte size, floor)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        mb = int(value)
    else:
        mb = parse_bytes(value, "model_memory_limit") // MB
    if mb < 1:
        raise illegal_argument(f"model_memory_limit must be at least 1 MiB. Value = {mb}")
    return mb


def parse_analysis_limits(value: Any, raw: str, max_mb: int | None, parser: str) -> Json:
    """`analysis_limits` with defaults (AnalysisLimits.java @e3819418, es-ml-api.md §1.5)."""
    al_in = require_object(value, parser, "analysis_limits", raw)
    check_fields(
        al_in, ("model_memory_limit", "categorization_examples_limit"), "analysis_limits", raw
    )
    default_mb = DEFAULT_MODEL_MEMORY_MB if max_mb is None else min(max_mb, DEFAULT_MODEL_MEMORY_MB)
    if al_in.get("model_memory_limit") is not None:
        mb = parse_memory_limit_mb(al_in["model_memory_limit"])
        if max_mb is not None and mb > max_mb:
            # AnalysisLimits.validateAndSetDefaults renders both as ByteSizeValue.toString
            # (es-ml-api.md §1.5: `model_memory_limit [10gb] ... setting [9gb]`).
            raise illegal_argument(
                f"model_memory_limit [{format_bytes(mb * MB)}] must be less than the value of "
                f"the xpack.ml.max_model_memory_limit setting [{format_bytes(max_mb * MB)}]"
            )
    else:
        mb = default_mb
    examples = non_negative(
        al_in.get("categorization_examples_limit", 4),
        "categorization_examples_limit",
        "analysis_limits",
        raw,
    )
    return {"model_memory_limit": f"{mb}mb", "categorization_examples_limit": examples}


def parse_model_plot(value: Any, raw: str, parser: str) -> Json:
    """`model_plot_config` (`annotations_enabled` defaults to `enabled`)."""
    mp = require_object(value, parser, "model_plot_config", raw)
    check_fields(mp, ("enabled", "annotations_enabled", "terms"), "model_plot_config", raw)
    if "enabled" not in mp:
        raise illegal_argument("[enabled] must not be null")
    enabled = bool(mp["enabled"])
    out: Json = {
        "enabled": enabled,
        "annotations_enabled": bool(mp.get("annotations_enabled", enabled)),
    }
    if mp.get("terms") is not None:
        out["terms"] = mp["terms"]
    return out


def validate_groups(groups: Any) -> list[str]:
    """Job groups: id syntax (Messages.INVALID_GROUP)."""
    if not isinstance(groups, list):
        groups = [groups]
    out: list[str] = []
    for group in groups:
        if not isinstance(group, str) or not ID_RE.match(group):
            raise illegal_argument(
                f"Invalid group id '{group}'; must be non-empty string and may contain lowercase "
                "alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with "
                "alphanumeric"
            )
        if group not in out:
            out.append(group)
    return out


def _java_number(n: int) -> str:
    """MessageFormat's `{0}` for a Long: grouped with commas (Locale.ROOT)."""
    return f"{n:,}"


def check_retention(model_days: int, daily_days: int) -> None:
    """daily_model_snapshot_retention_after_days ≤ model_snapshot_retention_days."""
    if daily_days > model_days:
        raise illegal_argument(
            # Messages.JOB_CONFIG_MODEL_SNAPSHOT_RETENTION_SETTINGS_INCONSISTENT puts the names
            # in single quotes, which MessageFormat treats as quoting: they vanish from the text.
            f"The value of daily_model_snapshot_retention_after_days [{_java_number(daily_days)}] "
            f"cannot be greater than model_snapshot_retention_days [{_java_number(model_days)}]"
        )


def background_persist(value: Any) -> str:
    """`background_persist_interval`: a time value of at least 1h."""
    interval = parse_duration(value, "background_persist_interval")
    if interval.ms < 3_600_000:
        raise illegal_argument(
            f"background_persist_interval cannot be less than 1h. Value = {interval}"
        )
    return str(interval)


def build_job(body: Json, raw: str, job_id: str, *, max_mb: int | None) -> Json:
    """Validate a PUT body and return the stored config (without generated fields).

    Args:
        body: Decoded request body.
        raw: Raw body text (for parse error locations).
        job_id: The job id from the URL.
        max_mb: `xpack.ml.max_model_memory_limit` in MB, if set.

    Returns:
        The job config in Elasticsearch's key order; the caller adds generated fields.
    """
    if body.get("analysis_config") is None:
        raise illegal_argument("An analysis_config must be set")
    ac = parse_analysis_config(body["analysis_config"], raw)
    if body.get("data_description") is None:
        raise illegal_argument("A data_description must be set")
    dd = parse_data_description(body["data_description"], raw)
    if dd["time_field"] in analysis_fields(ac):
        raise illegal_argument("data_description.time_field may not be used in the analysis_config")
    job: Json = {"job_id": job_id}
    if body.get("groups"):
        job["groups"] = validate_groups(body["groups"])
    if body.get("description") is not None:
        job["description"] = str(body["description"])
    if body.get("custom_settings") is not None:
        job["custom_settings"] = require_object(
            body["custom_settings"], "job_details", "custom_settings", raw
        )
    job["analysis_config"] = ac
    job["analysis_limits"] = parse_analysis_limits(
        body.get("analysis_limits") or {}, raw, max_mb, "job_details"
    )
    job["data_description"] = dd
    if body.get("model_plot_config") is not None:
        job["model_plot_config"] = parse_model_plot(body["model_plot_config"], raw, "job_details")
    if body.get("renormalization_window_days") is not None:
        job["renormalization_window_days"] = non_negative(
            body["renormalization_window_days"], "renormalization_window_days", raw=raw
        )
    if body.get("background_persist_interval") is not None:
        job["background_persist_interval"] = background_persist(body["background_persist_interval"])
    model_days = non_negative(
        body.get("model_snapshot_retention_days", 10), "model_snapshot_retention_days", raw=raw
    )
    if body.get("daily_model_snapshot_retention_after_days") is not None:
        daily = non_negative(
            body["daily_model_snapshot_retention_after_days"],
            "daily_model_snapshot_retention_after_days",
            raw=raw,
        )
    else:
        daily = 1 if model_days > 1 else model_days
    check_retention(model_days, daily)
    job["model_snapshot_retention_days"] = model_days
    job["daily_model_snapshot_retention_after_days"] = daily
    for key in ("results_retention_days", "system_annotations_retention_days"):
        if body.get(key) is not None:
            job[key] = non_negative(body[key], key, raw=raw)
    index_name = str(body.get("results_index_name") or "shared")
    if index_name != "shared" and not index_name.startswith("custom-"):
        index_name = "custom-" + index_name
    job["results_index_name"] = index_name
    job["allow_lazy_open"] = bool(body.get("allow_lazy_open", False))
    return job


def max_memory_mb(setting: str | None) -> int | None:
    """`xpack.ml.max_model_memory_limit` in MB."""
    return (
        None if setting is None else parse_bytes(setting, "xpack.ml.max_model_memory_limit") // MB
    )


def detector_update(job: Json, updates: Any, raw: str) -> None:
    """Apply `detectors` of a JobUpdate (description and custom_rules only)."""
    if not isinstance(updates, list):
        raise parse_error(
            f"[{key_location(raw, 'detectors')}] [job_update] failed to parse field [detectors]"
        )
    detectors = job["analysis_config"]["detectors"]
    for upd in updates:
        upd = require_object(upd, "job_update", "detectors", raw)
        check_fields(upd, ("detector_index", "description", "custom_rules"), "detector_update", raw)
        if "detector_index" not in upd:
            raise illegal_argument("[detector_index] must not be null")
        index = parse_int(upd["detector_index"], "detector_index")
        if index < 0 or index >= len(detectors):
            raise illegal_argument(
                f"Supplied detector_index [{index}] is >= the number of detectors "
                f"[{len(detectors)}]"
            )
        det = detectors[index]
        if upd.get("description") is not None:
            det["detector_description"] = upd["description"]
        if "custom_rules" in upd:
            rules = parse_custom_rules(upd["custom_rules"] or [], det, raw)
            det.pop("custom_rules", None)
            if rules:
                det["custom_rules"] = rules


def reject_generated(body: Json, raw: str, parser: str, strict: bool) -> None:
    """Generated fields in a PUT body (es-ml-api.md §1.1; decision on §10.3 in README)."""
    present = [k for k in GENERATED_JOB_FIELDS if k in body]
    if not present:
        return
    if strict:
        # Job.REST_REQUEST_PARSER declares model_snapshot_id (a revert sets it), so it parses
        # and JobManager.putJob refuses it with JOB_CONFIG_INVALID_CREATE_SETTINGS; the
        # internal fields are not declared at all: unknown fields.
        unknown = [k for k in present if k != "model_snapshot_id"]
        if unknown:
            raise parse_error(
                f"[{key_location(raw, unknown[0])}] [{parser}] unknown field [{unknown[0]}]"
            )
        if body["model_snapshot_id"] is None:
            return
        present = ["model_snapshot_id"]
    raise EsError(
        400,
        "illegal_argument_exception",
        f"The job is configured with fields [{', '.join(present)}] that are illegal to set at "
        "job creation",
    )
