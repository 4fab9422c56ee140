"""Canonical form: put a desired (manifest) body and a live (GET) body in one comparable shape.

Input: a kind, an Elasticsearch API body and the cluster's `ServerDefaults`.
Output: a new body in canonical form. Pure, no I/O; idempotent (`canonical(canonical(x)) ==
canonical(x)`).

Both sides go through the same rules, so `15m` and `900s`, `1gb` and `1024mb`, a missing field
and its server default all compare equal. Each rule below is a small function whose docstring
says what Elasticsearch does and where that is documented (es-ml-api.md sections). The
rules were written from the reference and the recorded real responses, never from the sandbox.

Two further notions complete the picture:
- *computed* fields (`COMPUTED`): values the server chooses (the job-id-derived `query_delay`,
  a random `randomize_seed`, generated detector descriptions, ...). When the manifest leaves
  one out, the live value is not compared (`drop_unset_computed`).
- *resettable* fields: when a manifest removes an optional field, the canonical "unset" value
  (`""`, `[]`, `{}`) is what the update sends (see `reconciler.plan`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler import ownership
from reconciler.model import Kind
from reconciler.units import model_memory_limit_mb, parse_byte_size, parse_duration_ms
from reconciler.vocabulary import FUNCTION_SHORTCUTS

Body = dict[str, Any]


@dataclass(frozen=True)
class ServerDefaults:
    """Defaults that depend on the cluster (read from `GET /_ml/info`, es-ml-api.md §7)."""

    #: AD job `analysis_limits.model_memory_limit` default in MB: 1024, or the
    #: `xpack.ml.max_model_memory_limit` setting when that is lower (§1.5).
    job_model_memory_limit_mb: int = 1024
    #: DFA `model_memory_limit` default in bytes: 1gb, silently capped to the max (§3.1).
    dfa_model_memory_limit_bytes: int = 1024**3


# ----------------------------------------------------------------------------- units


def canonical_duration(value: Any) -> Any:
    """Durations compare by length: `"15m"`, `"900s"` and `"900000ms"` are equal.

    ES keeps the unit you sent (`TimeValue.getStringRep`, es-ml-api.md §1.2), so a manifest and
    the server may legitimately spell one duration two ways. The canonical spelling uses the
    largest unit that divides the value exactly. Unparsable values are left as they are (the
    manifest validator reports them).
    """
    if not isinstance(value, str):
        return value
    return _canonical_duration(value)


# The planner canonicalizes the same few spellings (`15m`, `1024mb`) thousands of times per
# plan, on both sides: each distinct one is parsed once. The results are immutable strings.
@functools.lru_cache(maxsize=4096)
def _canonical_duration(value: str) -> str:
    try:
        ms = parse_duration_ms(value)
    except ValueError:
        return value
    if ms <= 0:
        return f"{ms}ms" if ms else "0s"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def canonical_job_memory(value: Any) -> Any:
    """AD `model_memory_limit` is stored in whole MB and always returned as `"<N>mb"`.

    es-ml-api.md §1.5: `2048` -> `"2048mb"`, `"11MB"` -> `"11mb"`, `"8g"` -> `"8192mb"`,
    `"1500kb"` -> `"1mb"` (rounded down).
    """
    if not isinstance(value, str | int):
        return value
    return _canonical_job_memory(value)


@functools.lru_cache(maxsize=4096, typed=True)  # typed: `True` is not the number 1
def _canonical_job_memory(value: str | int) -> str | int:
    try:
        return f"{model_memory_limit_mb(value)}mb"
    except (TypeError, ValueError):
        return value


def canonical_bytes(value: Any) -> Any:
    """DFA `model_memory_limit` is echoed as given (§3.1), so compare sizes, not spellings."""
    if not isinstance(value, str | int):
        return value
    return _canonical_bytes(value)


@functools.lru_cache(maxsize=4096, typed=True)
def _canonical_bytes(value: str | int) -> str | int:
    try:
        size = parse_byte_size(value)
    except (TypeError, ValueError):
        return value
    for unit, factor in (("tb", 1024**4), ("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"


def _set_list(values: Any) -> Any:
    """Lists whose order Elasticsearch does not care about: sorted, duplicates removed."""
    if not isinstance(values, list):
        return values
    try:
        return sorted(set(values))
    except TypeError:
        return values


def _copy(value: Any) -> Any:
    """A copy of a JSON-like value (dicts and lists copied, scalars shared).

    Bodies are parsed JSON or YAML: a plain recursive copy does what `copy.deepcopy` did at a
    fraction of its cost, which the planner pays for every resource on both sides.
    """
    # Exact types first, with scalar leaves taken as they are: no call per leaf.
    if type(value) is dict:
        return {k: v if type(v) in _SCALARS else _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [v if type(v) in _SCALARS else _copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _top_without(body: Body, names: frozenset[str]) -> Body:
    """A new top level of `body` without its keys in `names`; the values are `body`'s own.

    The canonical forms build a new container wherever they change one and share the rest with
    the body they read (a deep copy of each body cost a third of the canonical form).
    """
    return {k: v for k, v in body.items() if k not in names}


def copy_body(body: Body) -> Body:
    """A copy of a body that can be changed without touching the original (see `_copy`)."""
    copied: Body = _copy(body)
    return copied


#: The values an optional field may have that mean the same as leaving it out.
_EMPTY: tuple[Any, ...] = ("", [], {}, None)


def _drop_empty(body: Body, *keys: str) -> None:
    """Optional fields whose empty value means the same as absent (`""`, `[]`, `{}`)."""
    for key in keys:
        if key in body and body[key] in _EMPTY:
            del body[key]


def _fill(body: Body, key: str, default: Any) -> None:
    if body.get(key) is None:  # absent, or null
        body[key] = default if type(default) in _SCALARS else _copy(default)


# ----------------------------------------------------------------------------- jobs

#: Fields the server generates on jobs; never part of the configuration (§1.1).
JOB_GENERATED = (
    "job_id",
    "job_type",
    "job_version",
    "create_time",
    "finished_time",
    "model_snapshot_id",
    "model_snapshot_min_version",
    "deleting",
    "blocked",
    "datafeed_config",
)
_JOB_GENERATED = frozenset(JOB_GENERATED)  # a set for the per-key test


#: The stop words of the default categorization analyzer (es-ml-api.md §1.2,
#: CategorizationAnalyzerConfig): day and month names and their abbreviations, GMT, UTC.
CATEGORIZATION_STOPWORDS: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    "GMT", "UTC",
)  # fmt: skip


def default_categorization_analyzer(filters: list[str]) -> Body:
    """The analyzer ES 7.14+ stores when a job categorizes without one (§1.2).

    `categorization_filters` are folded into it as `pattern_replace` char filters and the
    filters themselves are dropped, so a manifest with filters and the server's answer differ
    in shape only (terraform-provider-elasticstack issue #1568 is this perpetual diff).
    """
    char_filter: list[Any] = ["first_non_blank_line"]
    char_filter += [{"type": "pattern_replace", "pattern": f} for f in filters]
    return {
        "char_filter": char_filter,
        "tokenizer": "ml_standard",
        "filter": [{"type": "stop", "stopwords": list(CATEGORIZATION_STOPWORDS)}],
    }


def _canonical_rule(rule: Any) -> Any:
    """Custom rules: `actions` default `["skip_result"]`, `filter_type` `include` (§1.3.1)."""
    if not isinstance(rule, dict):
        return rule
    out = dict(rule)
    _fill(out, "actions", ["skip_result"])
    if isinstance(out.get("scope"), dict):
        out["scope"] = {
            field: {"filter_type": "include", **ref} if isinstance(ref, dict) else ref
            for field, ref in sorted(out["scope"].items())
        }
    if isinstance(out.get("conditions"), list):
        out["conditions"] = [
            {**c, "value": float(c["value"])}
            if isinstance(c, dict) and isinstance(c.get("value"), int | float)
            else c
            for c in out["conditions"]
        ]
    _drop_empty(out, "scope", "conditions")
    return out


def _canonical_detector(detector: Any) -> Any:
    """Detectors: long function names, lowercase `exclude_frequent`, `use_null: false` omitted.

    `detector_index` is positional and reassigned by the server (§1.3), so it is dropped;
    `detector_description` is generated when unset and handled as a computed field.
    """
    if not isinstance(detector, dict):
        return detector
    out = {k: v for k, v in detector.items() if k != "detector_index"}
    if isinstance(out.get("function"), str):
        out["function"] = FUNCTION_SHORTCUTS.get(out["function"], out["function"])
    if isinstance(out.get("exclude_frequent"), str):
        out["exclude_frequent"] = out["exclude_frequent"].lower()
    if out.get("use_null") is False:
        del out["use_null"]
    if isinstance(out.get("custom_rules"), list):
        out["custom_rules"] = [_canonical_rule(r) for r in out["custom_rules"]]
    _drop_empty(out, "custom_rules")
    return out


def _canonical_analysis_config(config: Body) -> Body:
    out = dict(config)
    _fill(out, "bucket_span", "5m")  # §1.2 default
    for key in ("bucket_span", "latency", "model_prune_window"):
        if key in out:
            out[key] = canonical_duration(out[key])
    if isinstance(out.get("detectors"), list):
        out["detectors"] = [_canonical_detector(d) for d in out["detectors"]]
    # Influencers are a set; the server always returns the list, `[]` when none (§1.1).
    out["influencers"] = _set_list(out.get("influencers") or [])
    if out.get("categorization_field_name"):
        filters = out.pop("categorization_filters", None)
        if "categorization_analyzer" not in out:
            out["categorization_analyzer"] = default_categorization_analyzer(filters or [])
        # `per_partition_categorization` is returned as `{"enabled": false}` only when a
        # categorization field is set; `stop_on_warn` only appears when enabled (§1.2).
        ppc = dict(out.get("per_partition_categorization") or {})
        _fill(ppc, "enabled", False)
        if not ppc["enabled"] or ppc.get("stop_on_warn") is False:
            ppc.pop("stop_on_warn", None)
        out["per_partition_categorization"] = ppc
    if out.get("multivariate_by_fields") is False:
        del out["multivariate_by_fields"]
    return out


def canonical_job(body: Body, defaults: ServerDefaults) -> Body:
    """Canonical anomaly detection job configuration (es-ml-api.md §1.1-§1.5)."""
    out = _top_without(body, _JOB_GENERATED)
    out = ownership.without_marker(Kind.JOB, out)
    if isinstance(out.get("custom_settings"), dict):
        # Kibana adds `created_by`; `exclude_generated` strips it too (§1.1).
        out["custom_settings"] = {
            k: v for k, v in out["custom_settings"].items() if k != "created_by"
        }
    if isinstance(out.get("analysis_config"), dict):
        out["analysis_config"] = _canonical_analysis_config(out["analysis_config"])
    limits = dict(out.get("analysis_limits") or {})
    _fill(limits, "model_memory_limit", f"{defaults.job_model_memory_limit_mb}mb")
    limits["model_memory_limit"] = canonical_job_memory(limits["model_memory_limit"])
    _fill(limits, "categorization_examples_limit", 4)
    out["analysis_limits"] = limits
    description = dict(out.get("data_description") or {})
    description.pop("format", None)  # accepted on input, never output (§1.4)
    _fill(description, "time_field", "time")
    _fill(description, "time_format", "epoch_ms")  # code default, not the spec's `epoch` (§0)
    out["data_description"] = description
    # `results_index_name`: default `shared`; a user value X is stored as `custom-X` (§1.1).
    index = out.get("results_index_name") or "shared"
    if index != "shared" and not index.startswith("custom-"):
        index = f"custom-{index}"
    out["results_index_name"] = index
    _fill(out, "model_snapshot_retention_days", 10)
    if "daily_model_snapshot_retention_after_days" not in out:
        # §1.1: 1 when model_snapshot_retention_days > 1, else equal to it.
        days = out["model_snapshot_retention_days"]
        out["daily_model_snapshot_retention_after_days"] = 1 if days > 1 else days
    _fill(out, "allow_lazy_open", False)
    if isinstance(out.get("model_plot_config"), dict):
        plot = dict(out["model_plot_config"])
        # `annotations_enabled` defaults to `enabled` (§1.1); a disabled plot config is the
        # same as none, which is also how a manifest removes it.
        _fill(plot, "annotations_enabled", plot.get("enabled", False))
        out["model_plot_config"] = plot
        if not plot.get("enabled") and not plot.get("annotations_enabled"):
            del out["model_plot_config"]
    if "background_persist_interval" in out:
        out["background_persist_interval"] = canonical_duration(out["background_persist_interval"])
    out["groups"] = _set_list(out.get("groups") or [])
    _drop_empty(out, "groups", "description", "custom_settings")
    return out


# ----------------------------------------------------------------------------- datafeeds

DATAFEED_GENERATED = ("datafeed_id", "authorization", "headers")
_DATAFEED_GENERATED = frozenset(DATAFEED_GENERATED)

#: SearchRequest.DEFAULT_INDICES_OPTIONS, as GET returns it (§2.1).
DEFAULT_INDICES_OPTIONS: Body = {
    "expand_wildcards": ["open"],
    "ignore_unavailable": False,
    "allow_no_indices": True,
    "ignore_throttled": True,
}


def canonical_expand_wildcards(value: Any) -> Any:
    """`expand_wildcards` accepts a comma string or a list; `all` means open, closed, hidden.

    terraform-provider-elasticstack issue #2568 / PR #2572: ES expands `all`, which caused a
    perpetual diff. `none` is the empty set.
    """
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    expanded: set[str] = set()
    for item in items:
        word = str(item).strip().lower()
        if word == "all":
            expanded |= {"open", "closed", "hidden"}
        elif word and word != "none":
            expanded.add(word)
    return sorted(expanded)


def canonical_datafeed(body: Body) -> Body:
    """Canonical datafeed configuration (es-ml-api.md §2.1-§2.4)."""
    out = _top_without(body, _DATAFEED_GENERATED)
    if "indexes" in out:  # alias (§2.1)
        out.setdefault("indices", out.pop("indexes"))
    if "aggs" in out:
        out.setdefault("aggregations", out.pop("aggs"))
    if isinstance(out.get("indices"), str):
        out["indices"] = [out["indices"]]
    out["indices"] = _set_list(out.get("indices") or [])
    _fill(out, "query", {"match_all": {}})  # real output, not the spec's boost:1 (§0)
    _fill(out, "scroll_size", 1000)
    for key in ("query_delay", "frequency"):
        if key in out:
            out[key] = canonical_duration(out[key])
    if "aggregations" not in out:
        _fill(out, "chunking_config", {"mode": "auto"})
    if isinstance(out.get("chunking_config"), dict) and "time_span" in out["chunking_config"]:
        chunking = dict(out["chunking_config"])
        chunking["time_span"] = canonical_duration(chunking["time_span"])
        out["chunking_config"] = chunking
    check = dict(out.get("delayed_data_check_config") or {})
    _fill(check, "enabled", True)
    if "check_window" in check:
        check["check_window"] = canonical_duration(check["check_window"])
    out["delayed_data_check_config"] = check
    options = {**DEFAULT_INDICES_OPTIONS, **(out.get("indices_options") or {})}
    options["expand_wildcards"] = canonical_expand_wildcards(options["expand_wildcards"])
    out["indices_options"] = options
    if out.get("max_empty_searches") == -1:  # `-1` clears it in `_update` (§2.1)
        del out["max_empty_searches"]
    _drop_empty(out, "runtime_mappings", "script_fields")
    return out


# ----------------------------------------------------------------------------- DFA

DFA_GENERATED = ("id", "create_time", "version", "authorization")
_DFA_GENERATED = frozenset(DFA_GENERATED)

#: Analysis defaults as returned by the server (§3.2). Values depending on the
#: dependent variable are filled in `_canonical_analysis`.
OUTLIER_DEFAULTS: Body = {
    "compute_feature_influence": True,
    "outlier_fraction": 0.05,
    "standardization_enabled": True,
}
SUPERVISED_DEFAULTS: Body = {"training_percent": 100.0, "early_stopping_enabled": True}
REGRESSION_DEFAULTS: Body = {"loss_function": "mse"}
CLASSIFICATION_DEFAULTS: Body = {
    "class_assignment_objective": "maximize_minimum_recall",
    "num_top_classes": 2,
}


def _canonical_analysis(analysis: Any) -> Any:
    if not isinstance(analysis, dict) or len(analysis) != 1:
        return analysis
    ((name, params),) = analysis.items()
    if not isinstance(params, dict):
        return analysis
    out = dict(params)
    if name == "outlier_detection":
        for key, value in OUTLIER_DEFAULTS.items():
            _fill(out, key, value)
    elif name in ("regression", "classification"):
        for key, value in SUPERVISED_DEFAULTS.items():
            _fill(out, key, value)
        extra = REGRESSION_DEFAULTS if name == "regression" else CLASSIFICATION_DEFAULTS
        for key, value in extra.items():
            _fill(out, key, value)
        if isinstance(out.get("dependent_variable"), str):
            _fill(out, "prediction_field_name", f"{out['dependent_variable']}_prediction")
        if "max_trees" not in out and "maximum_number_trees" in out:  # deprecated alias (§3.2)
            out["max_trees"] = out.pop("maximum_number_trees")
    for key, value in list(out.items()):
        # 80 and 80.0 are the same number; the server returns doubles for these.
        if key in ("training_percent", "outlier_fraction") and isinstance(value, int | float):
            out[key] = float(value)
    return {name: out}


def _canonical_fields_filter(value: Any) -> Any:
    """`analyzed_fields` / `source._source`: a list means `{"includes": [..], "excludes": []}`."""
    if isinstance(value, list | str):
        value = {"includes": [value] if isinstance(value, str) else value}
    if not isinstance(value, dict):
        return value
    return {
        "includes": _set_list(value.get("includes") or []),
        "excludes": _set_list(value.get("excludes") or []),
    }


def canonical_dfa(body: Body, defaults: ServerDefaults) -> Body:
    """Canonical data frame analytics configuration (es-ml-api.md §3.1-§3.2)."""
    out = _top_without(body, _DFA_GENERATED)
    out = ownership.without_marker(Kind.DFA, out)
    if isinstance(out.get("source"), dict):
        source = dict(out["source"])
        if isinstance(source.get("index"), str):
            source["index"] = [source["index"]]
        source["index"] = _set_list(source.get("index") or [])
        _fill(source, "query", {"match_all": {}})
        if "_source" in source:
            source["_source"] = _canonical_fields_filter(source["_source"])
        _drop_empty(source, "runtime_mappings")
        out["source"] = source
    if isinstance(out.get("dest"), dict):
        dest = dict(out["dest"])
        _fill(dest, "results_field", "ml")
        out["dest"] = dest
    if "analysis" in out:
        out["analysis"] = _canonical_analysis(out["analysis"])
    if "analyzed_fields" in out:
        out["analyzed_fields"] = _canonical_fields_filter(out["analyzed_fields"])
    _fill(out, "model_memory_limit", f"{defaults.dfa_model_memory_limit_bytes}b")
    out["model_memory_limit"] = canonical_bytes(out["model_memory_limit"])
    _fill(out, "allow_lazy_start", False)
    _fill(out, "max_num_threads", 1)
    _drop_empty(out, "description", "_meta")
    return out


# ----------------------------------------------------------------------------- filters, calendars


def canonical_filter(body: Body) -> Body:
    """Filters: items are a sorted set (§4.1: the server sorts and de-duplicates them)."""
    out = {k: _copy(v) for k, v in body.items() if k != "filter_id"}
    out["items"] = _set_list(out.get("items") or [])
    _drop_empty(out, "description")
    return out


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def canonical_event_time(value: Any) -> Any:
    """Event times are accepted as ISO strings or epoch ms and returned as epoch ms (§4.2)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, str) and _ISO_DATE.match(value):
        from datetime import UTC, datetime

        text = value.replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return value


def canonical_event(event: Any) -> Any:
    """Scheduled events: server ids dropped, times in epoch ms, skip flags default true (§4.2)."""
    if not isinstance(event, dict):
        return event
    out = {k: v for k, v in event.items() if k not in ("event_id", "calendar_id")}
    for key in ("start_time", "end_time"):
        if key in out:
            out[key] = canonical_event_time(out[key])
    _fill(out, "skip_result", True)
    _fill(out, "skip_model_update", True)
    return out


def event_key(event: Body) -> str:
    """Events have no user-facing id: they are a set, keyed by their whole canonical content.

    A change to any field (times, description, skip flags, force_time_shift) is then a delete
    of the old event and an add of the new one, the only way Elasticsearch changes an event.
    """
    main = ("start_time", "end_time", "description")
    rest = sorted((k, v) for k, v in event.items() if k not in main)
    return json.dumps(
        [*(event.get(k) for k in main), *rest],
        sort_keys=True,
        default=str,
    )


def canonical_calendar(body: Body) -> Body:
    """Calendars: `job_ids` a sorted set (`[]` when none), events a sorted list (§4.2)."""
    out = {k: _copy(v) for k, v in body.items() if k != "calendar_id"}
    out["job_ids"] = _set_list(out.get("job_ids") or [])
    events = [canonical_event(e) for e in out.get("events") or []]
    out["events"] = sorted(events, key=lambda e: event_key(e) if isinstance(e, dict) else ("",))
    _drop_empty(out, "description")
    return out


# ----------------------------------------------------------------------------- dispatch


def canonical(kind: Kind, body: Body, defaults: ServerDefaults | None = None) -> Body:
    """Canonical form of `body` for `kind` (both sides use this).

    `body` is never changed, and the answer shares the parts it does not change with it: read
    the answer, or copy it (`copy_body`) before changing it.
    """
    return CANONICAL[kind](body, defaults or _DEFAULTS)


_DEFAULTS = ServerDefaults()

#: Per kind: its canonical form (the server defaults are used by jobs and DFA only).
CANONICAL: dict[Kind, Callable[[Body, ServerDefaults], Body]] = {
    Kind.JOB: canonical_job,
    Kind.DATAFEED: lambda body, _: canonical_datafeed(body),
    Kind.DFA: canonical_dfa,
    Kind.FILTER: lambda body, _: canonical_filter(body),
    Kind.CALENDAR: lambda body, _: canonical_calendar(body),
}


# ----------------------------------------------------------------------------- set-like lists

#: Lists compared as sets (sorted above); a change is shown as the whole list before and after.
SET_LISTS: dict[Kind, tuple[tuple[str, ...], ...]] = {
    Kind.JOB: (("groups",), ("analysis_config", "influencers")),
    Kind.DATAFEED: (("indices",), ("indices_options", "expand_wildcards")),
    Kind.DFA: (
        ("source", "index"),
        ("analyzed_fields", "includes"),
        ("analyzed_fields", "excludes"),
    ),
    Kind.FILTER: (("items",),),
    Kind.CALENDAR: (("job_ids",), ("events",)),
}


# ----------------------------------------------------------------------------- computed fields

#: Fields whose value the server chooses when the manifest leaves them out. Path segments; `*`
#: matches any list index or any analysis name. Compared only when the manifest sets them.
COMPUTED: dict[Kind, tuple[tuple[str, ...], ...]] = {
    Kind.JOB: (
        # Generated from the detector (DefaultDetectorDescription, §1.3).
        ("analysis_config", "detectors", "*", "detector_description"),
        # 30d or 20 x bucket_span (§1.2; the large-bucket rendering is unverified, §10.4).
        ("analysis_config", "model_prune_window"),
        # Cannot be unset through `_update`; only compared when declared.
        ("background_persist_interval",),
        ("renormalization_window_days",),
        ("results_retention_days",),
        ("system_annotations_retention_days",),
    ),
    Kind.DATAFEED: (
        # Random 60-120 s seeded by the job id's hashCode (§2.2).
        ("query_delay",),
        # Runtime default derived from bucket_span; not stored (§2.1).
        ("frequency",),
        # With aggregations the default becomes manual/1000 x interval or off (§2.1).
        ("chunking_config",),
        # 9.x may add keys to indices_options (§10.5): compare only declared keys.
    ),
    Kind.DFA: (
        # A random long generated at PUT when absent (§3.2).
        ("analysis", "*", "randomize_seed"),
    ),
    Kind.FILTER: (),
    Kind.CALENDAR: (),
}


#: A tree of paths: per key (or `*`), the tree below it, or None where the path ends.
PathTree = dict[str, "PathTree | None"]


def _path_tree(paths: tuple[tuple[str, ...], ...]) -> PathTree:
    tree: PathTree = {}
    for path in paths:
        node = tree
        for segment in path[:-1]:
            below = node.setdefault(segment, {})
            assert below is not None, f"{path}: a computed path inside another"
            node = below
        assert path[-1] not in node, f"{path}: a computed path inside another"
        node[path[-1]] = None
    return tree


#: `COMPUTED` as one tree per kind, so a body is walked once for all its paths.
_COMPUTED_TREES: dict[Kind, PathTree] = {
    kind: _path_tree(paths) for kind, paths in COMPUTED.items()
}


def _without_paths(live: Any, desired: Any, tree: PathTree) -> Any:
    """`live` without the paths of `tree` wherever `desired` does not have them.

    `live` itself is never changed: what is removed is copied out along its way (a new dict or
    list per level, the rest shared), and with nothing to remove the answer is `live` itself.
    A list takes the tree below `*` for each item, the item at the same index of `desired`
    being its desired side; a dict takes the tree below each key (`*`: every key).
    """
    if type(live) is list or isinstance(live, list):
        below = tree.get("*")
        if below is None:
            return live
        items: list[Any] | None = None
        for i, item in enumerate(live):
            other = desired[i] if isinstance(desired, list) and i < len(desired) else None
            kept = _without_paths(item, other, below)
            if kept is not item:
                items = list(live) if items is None else items
                items[i] = kept
        return live if items is None else items
    if not isinstance(live, dict):
        return live
    wanted = desired if isinstance(desired, dict) else None
    out: Body | None = None
    for key, below in tree.items():
        for name in list(live) if key == "*" else (key,):
            if name not in live:
                continue
            if below is None:
                if wanted is None or name not in wanted:
                    out = dict(live) if out is None else out
                    del out[name]
                continue
            value = live[name]
            kept = _without_paths(value, None if wanted is None else wanted.get(name), below)
            if kept is not value:
                out = dict(live) if out is None else out
                out[name] = kept
    return live if out is None else out


def without_unset_computed(kind: Kind, desired: Body, live: Body) -> Body:
    """`live` without the computed fields that the (canonical) desired body leaves out.

    `live` is never changed, and the answer shares every part it does not change with it
    (`live` itself when nothing is dropped, the common case): read it, do not change it, or
    copy it first (`copy_body`). The planner compares every live resource this way; copying
    each whole body to drop a field or two cost more than the rest of the comparison.
    """
    out: Body = _without_paths(live, desired, _COMPUTED_TREES[kind])
    if kind is Kind.DATAFEED and isinstance(out.get("indices_options"), dict):
        declared = desired.get("indices_options") or {}
        options = out["indices_options"]
        kept = {k: v for k, v in options.items() if k in declared or k in DEFAULT_INDICES_OPTIONS}
        if len(kept) != len(options):
            out = {**out, "indices_options": kept}
    if kind is Kind.JOB:
        config = desired.get("analysis_config") or {}
        live_config = out.get("analysis_config")
        # Without a categorization field there is no analyzer to compare.
        if isinstance(live_config, dict) and not config.get("categorization_field_name"):
            unused = ("categorization_analyzer", "per_partition_categorization")
            if any(key in live_config for key in unused):
                kept = {k: v for k, v in live_config.items() if k not in unused}
                out = {**out, "analysis_config": kept}
    return out


def drop_unset_computed(kind: Kind, desired: Body, live: Body) -> Body:
    """A copy of `live` without the computed fields that the (canonical) desired body leaves out.

    The copy is the caller's own (`without_unset_computed` is the same without the copy).
    """
    return copy_body(without_unset_computed(kind, desired, live))
