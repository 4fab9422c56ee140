"""Per-kind update policy: in place, in place after a stop, or immutable (forces a replace).

Which fields Elasticsearch updates in place, which need a stop first, and which are immutable.

Input: a kind and a field path. Output: a `FieldClass`. Pure, no I/O.

The whitelists come from the update APIs' bodies (es-ml-api.md §1.6 JobUpdate, §2.4
DatafeedUpdate, §3.3 DataFrameAnalyticsConfigUpdate) and §11 "Field classes for plans": any
field that no update API accepts is immutable. This is stricter than Elastic's Terraform provider
where it must be (DFA: only four fields update) and looser where ES allows it (custom rules,
detector descriptions and `model_prune_window` update in place on an open job; the provider
replaces the whole job for any `analysis_config` change, anchors.md §0).
"""

from __future__ import annotations

from enum import StrEnum

from reconciler.model import Kind

Path = tuple[str | int, ...]


class FieldClass(StrEnum):
    """How a change to one field can be applied."""

    UPDATE = "update"  # in place, the resource may keep running
    RESTART = "restart"  # in place, but the job must be closed / the datafeed or DFA stopped
    REPLACE = "replace"  # immutable: delete and recreate


#: Job fields `_update` accepts while the job is open (§1.6).
JOB_IN_PLACE = frozenset(
    {
        "description",
        "groups",
        "custom_settings",
        "model_plot_config",
        "model_snapshot_retention_days",
        "daily_model_snapshot_retention_after_days",
        "results_retention_days",
        "system_annotations_retention_days",
        "renormalization_window_days",
        "background_persist_interval",
        "allow_lazy_open",
    }
)

#: Job fields accepted by `_update` that only take effect when the job next opens (§1.6, [D]).
JOB_NEXT_OPEN = frozenset(
    {"background_persist_interval", "renormalization_window_days", "allow_lazy_open"}
)

#: DFA fields `_update` accepts in any state, and those that need the job stopped (§3.3).
DFA_IN_PLACE = frozenset({"description", "allow_lazy_start"})
DFA_WHEN_STOPPED = frozenset({"model_memory_limit", "max_num_threads"})


def classify(kind: Kind, path: Path, *, removed: bool = False) -> FieldClass:
    """Classify a change at `path` (a path into the canonical body); `removed`: field unset."""
    head = path[0] if path else ""
    if kind is Kind.JOB:
        return _classify_job(path)
    if kind is Kind.DATAFEED:
        # Every datafeed field but `job_id` updates, with the datafeed stopped (§2.4). Removing
        # `aggregations` is the exception: no documented update value clears them, so the
        # datafeed is recreated (configuration only; the job and its results are untouched).
        if head == "job_id" or (head == "aggregations" and removed and len(path) == 1):
            return FieldClass.REPLACE
        return FieldClass.RESTART
    if kind is Kind.DFA:
        if head in DFA_IN_PLACE:
            return FieldClass.UPDATE
        if head in DFA_WHEN_STOPPED:
            return FieldClass.RESTART
        return FieldClass.REPLACE
    if kind is Kind.FILTER:
        # `_update` takes description, add_items and remove_items (§4.1).
        return FieldClass.UPDATE
    # Calendars have no update API; jobs and events have their own endpoints (§4.2).
    return FieldClass.UPDATE if head in ("job_ids", "events") else FieldClass.REPLACE


def _classify_job(path: Path) -> FieldClass:
    head = path[0] if path else ""
    if head in JOB_IN_PLACE:
        return FieldClass.UPDATE
    if head == "analysis_limits":
        # "Cannot update analysis_limits while the job is open" (§1.6).
        return FieldClass.RESTART
    if head == "analysis_config" and len(path) >= 2:
        sub = path[1]
        if sub == "model_prune_window":
            return FieldClass.UPDATE
        if sub == "per_partition_categorization" and path[2:3] == ("stop_on_warn",):
            return FieldClass.UPDATE
        # `detectors[].{description, custom_rules}` by detector_index (§1.6).
        if (
            sub == "detectors"
            and len(path) >= 4
            and isinstance(path[2], int)
            and path[3] in ("detector_description", "custom_rules")
        ):
            return FieldClass.UPDATE
    return FieldClass.REPLACE
