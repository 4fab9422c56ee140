"""Pydantic model of an anomaly detection job create body (`PUT _ml/anomaly_detectors/<id>`).

Input: a parsed `spec:` mapping. Output: a validated model (used for checking only; the
resource body stays the user's mapping). No I/O.

Fields and types follow es-ml-api.md §1.1-§1.5 and the ES specification (`ml._types.JobConfig`,
`AnalysisConfig`, `Detector`, `DetectionRule`, `DataDescription`, `AnalysisLimits`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr

from reconciler.manifest.fields import (
    DetectorFunctionName,
    Duration,
    ExcludeFrequent,
    Int,
    JobMemoryLimit,
    Long,
    Spec,
)
from reconciler.manifest.spec_datafeed import DatafeedSpec

__all__ = [
    "AnalysisConfig",
    "AnalysisLimits",
    "DataDescription",
    "DetectionRule",
    "Detector",
    "FilterRef",
    "JobSpec",
    "ModelPlotConfig",
    "PerPartitionCategorization",
    "RuleCondition",
]


class FilterRef(Spec):
    """`custom_rules[].scope.<field>`: a reference to an ML filter (§1.3.1)."""

    filter_id: StrictStr
    filter_type: Literal["include", "exclude"] | None = None


class RuleCondition(Spec):
    """A numeric condition of a detection rule (§1.3.1)."""

    applies_to: Literal["actual", "typical", "diff_from_typical", "time"]
    operator: Literal["gt", "gte", "lt", "lte"]
    value: float


class TimeShiftParams(Spec):
    """`params.force_time_shift` of a `force_time_shift` rule action (8.x)."""

    time_shift_amount: Long


class RuleParams(Spec):
    """Parameters of rule actions."""

    force_time_shift: TimeShiftParams | None = None


class DetectionRule(Spec):
    """A detector custom rule (DetectionRule.java, es-ml-api.md §1.3.1)."""

    actions: list[Literal["skip_result", "skip_model_update", "force_time_shift"]] | None = None
    scope: dict[str, FilterRef] | None = None
    conditions: list[RuleCondition] | None = None
    params: RuleParams | None = None


class Detector(Spec):
    """One detector of `analysis_config.detectors` (Detector.java, §1.3)."""

    function: DetectorFunctionName
    field_name: StrictStr | None = None
    by_field_name: StrictStr | None = None
    over_field_name: StrictStr | None = None
    partition_field_name: StrictStr | None = None
    use_null: StrictBool | None = None
    exclude_frequent: ExcludeFrequent | None = None
    custom_rules: list[DetectionRule] | None = None
    detector_description: StrictStr | None = None
    #: Ignored by the server (reassigned 0..n-1), accepted for pasted GET output.
    detector_index: Int | None = None


class PerPartitionCategorization(Spec):
    """`analysis_config.per_partition_categorization` (§1.2)."""

    enabled: StrictBool | None = None
    stop_on_warn: StrictBool | None = None


class AnalysisConfig(Spec):
    """`analysis_config` (AnalysisConfig.java, §1.2)."""

    bucket_span: Duration | None = None
    detectors: list[Detector]
    influencers: list[StrictStr] | None = None
    summary_count_field_name: StrictStr | None = None
    categorization_field_name: StrictStr | None = None
    categorization_filters: list[StrictStr] | None = None
    categorization_analyzer: StrictStr | dict[str, Any] | None = None
    per_partition_categorization: PerPartitionCategorization | None = None
    latency: Duration | None = None
    multivariate_by_fields: StrictBool | None = None
    model_prune_window: Duration | None = None


class DataDescription(Spec):
    """`data_description` (DataDescription.java, §1.4)."""

    format: StrictStr | None = None
    time_field: StrictStr | None = None
    time_format: StrictStr | None = None
    field_delimiter: StrictStr | None = None
    quote_character: StrictStr | None = None


class AnalysisLimits(Spec):
    """`analysis_limits` (AnalysisLimits.java, §1.5)."""

    model_memory_limit: JobMemoryLimit | None = None
    categorization_examples_limit: Long | None = None


class ModelPlotConfig(Spec):
    """`model_plot_config` (§1.1)."""

    enabled: StrictBool
    annotations_enabled: StrictBool | None = None
    terms: StrictStr | None = None


class JobSpec(Spec):
    """The body of `PUT _ml/anomaly_detectors/<job_id>` (parser `job_details`, §1.1)."""

    job_id: StrictStr | None = Field(
        None, description="Optional; must equal the manifest `id` when given."
    )
    description: StrictStr | None = None
    groups: list[StrictStr] | None = None
    analysis_config: AnalysisConfig
    data_description: DataDescription
    analysis_limits: AnalysisLimits | None = None
    model_plot_config: ModelPlotConfig | None = None
    background_persist_interval: Duration | None = None
    renormalization_window_days: Long | None = None
    model_snapshot_retention_days: Long | None = None
    daily_model_snapshot_retention_after_days: Long | None = None
    results_retention_days: Long | None = None
    system_annotations_retention_days: Long | None = None
    custom_settings: dict[str, Any] | None = None
    results_index_name: StrictStr | None = None
    allow_lazy_open: StrictBool | None = None
    datafeed_config: DatafeedSpec | None = Field(
        None,
        description="Embedded datafeed (ES 7.11+); prefer the manifest's `datafeed:` section.",
    )
