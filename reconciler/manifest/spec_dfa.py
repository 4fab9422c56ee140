"""Pydantic model of a data frame analytics create body (`PUT _ml/data_frame/analytics/<id>`).

Input: a parsed DFA `spec:` mapping. Output: a validated model (checking only). No I/O.
Fields follow es-ml-api.md §3.1-§3.2 and the ES specification (`ml._types.DataframeAnalysis*`).
`headers`, `create_time` and `version` are rejected by the server, so they are not fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr

from reconciler.manifest.fields import ByteSize, Int, Long, Spec

__all__ = [
    "Analysis",
    "AnalyzedFields",
    "ClassificationAnalysis",
    "DataFrameAnalyticsSpec",
    "DfaDestination",
    "DfaSource",
    "OutlierDetectionAnalysis",
    "RegressionAnalysis",
]


class AnalyzedFields(Spec):
    """`analyzed_fields` / `source._source` in object form."""

    includes: list[StrictStr] | None = None
    excludes: list[StrictStr] | None = None


class DfaSource(Spec):
    """`source` (DataFrameAnalyticsSource)."""

    index: StrictStr | list[StrictStr]
    query: dict[str, Any] | None = None
    runtime_mappings: dict[str, Any] | None = None
    source_filtering: AnalyzedFields | list[StrictStr] | None = Field(None, alias="_source")


class DfaDestination(Spec):
    """`dest` (DataFrameAnalyticsDest)."""

    index: StrictStr
    results_field: StrictStr | None = None


class OutlierDetectionAnalysis(Spec):
    """`analysis.outlier_detection` (OutlierDetection.java, §3.2)."""

    n_neighbors: Int | None = Field(None, gt=0)
    method: Literal["lof", "ldof", "distance_kth_nn", "distance_knn", "ensemble"] | None = None
    feature_influence_threshold: float | None = Field(None, ge=0.0, le=1.0)
    compute_feature_influence: StrictBool | None = None
    outlier_fraction: float | None = Field(None, ge=0.0, le=1.0)
    standardization_enabled: StrictBool | None = None


class _BoostedTree(Spec):
    """Parameters shared by regression and classification (BoostedTreeParams.java, §3.2)."""

    dependent_variable: StrictStr
    prediction_field_name: StrictStr | None = None
    training_percent: float | None = Field(None, gt=0.0, le=100.0)
    randomize_seed: Long | None = None
    alpha: float | None = Field(None, ge=0.0)
    lambda_: float | None = Field(None, alias="lambda", ge=0.0)
    gamma: float | None = Field(None, ge=0.0)
    eta: float | None = Field(None, ge=0.001, le=1.0)
    eta_growth_rate_per_tree: float | None = Field(None, ge=0.5, le=2.0)
    feature_bag_fraction: float | None = Field(None, gt=0.0, le=1.0)
    max_trees: Int | None = Field(None, ge=1, le=2000)
    maximum_number_trees: Int | None = Field(
        None, ge=1, le=2000, description="Deprecated alias of `max_trees`."
    )
    soft_tree_depth_limit: float | None = Field(None, ge=0.0)
    soft_tree_depth_tolerance: float | None = Field(None, ge=0.01)
    downsample_factor: float | None = Field(None, gt=0.0, le=1.0)
    max_optimization_rounds_per_hyperparameter: Int | None = Field(None, ge=0, le=20)
    num_top_feature_importance_values: Int | None = Field(None, ge=0)
    early_stopping_enabled: StrictBool | None = None
    feature_processors: list[dict[str, Any]] | None = None


class RegressionAnalysis(_BoostedTree):
    """`analysis.regression` (Regression.java)."""

    loss_function: Literal["mse", "msle", "huber"] | None = None
    loss_function_parameter: float | None = Field(None, gt=0.0)


class ClassificationAnalysis(_BoostedTree):
    """`analysis.classification` (Classification.java)."""

    class_assignment_objective: Literal["maximize_accuracy", "maximize_minimum_recall"] | None = (
        None
    )
    num_top_classes: Int | None = Field(None, ge=-1, le=1000)


class Analysis(Spec):
    """`analysis`: exactly one of the three analysis types (§3.1)."""

    outlier_detection: OutlierDetectionAnalysis | None = None
    regression: RegressionAnalysis | None = None
    classification: ClassificationAnalysis | None = None


class DataFrameAnalyticsSpec(Spec):
    """The body of `PUT _ml/data_frame/analytics/<id>` (`data_frame_analytics_config`, §3.1)."""

    id: StrictStr | None = Field(None, description="Optional; must equal the manifest `id`.")
    description: StrictStr | None = None
    source: DfaSource
    dest: DfaDestination
    analysis: Analysis
    analyzed_fields: AnalyzedFields | list[StrictStr] | None = None
    model_memory_limit: ByteSize | None = None
    allow_lazy_start: StrictBool | None = None
    max_num_threads: Int | None = None
    meta: dict[str, Any] | None = Field(None, alias="_meta")
