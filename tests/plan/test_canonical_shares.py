"""The canonical forms read their body and never change it, though they share parts with it.

A canonical form builds a new container wherever it changes one and keeps the body's own values
elsewhere (no deep copy of every body, on both sides of every plan). So it must never write
into the body, at any depth, whatever the body holds; and the answer must be the same as for a
private copy of the body.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import Kind
from reconciler.normalize import ServerDefaults, canonical

# The field names the canonical forms look at (and a few others), so that generated bodies
# reach every rule: nested where the APIs nest them, with any JSON value below.
NAMES = [
    "analysis_config", "detectors", "custom_rules", "scope", "conditions", "actions",
    "filter_id", "filter_type", "value", "function", "exclude_frequent", "use_null",
    "detector_index", "bucket_span", "latency", "model_prune_window", "influencers",
    "categorization_field_name", "categorization_filters", "categorization_analyzer",
    "per_partition_categorization", "enabled", "stop_on_warn", "multivariate_by_fields",
    "analysis_limits", "model_memory_limit", "data_description", "format", "time_field",
    "custom_settings", "created_by", "managed_by", "model_plot_config", "annotations_enabled",
    "groups", "description", "indices", "indexes", "aggs", "aggregations", "query",
    "chunking_config", "time_span", "mode", "delayed_data_check_config", "check_window",
    "indices_options", "expand_wildcards", "max_empty_searches", "runtime_mappings",
    "script_fields", "source", "index", "_source", "includes", "excludes", "dest",
    "results_field", "analysis", "outlier_detection", "regression", "classification",
    "dependent_variable", "training_percent", "maximum_number_trees", "analyzed_fields",
    "_meta", "items", "job_ids", "events", "start_time", "end_time", "query_delay", "x",
]  # fmt: skip

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "5m", "15m", "1h", "100mb", "all", "open,hidden", "skip_result"])
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)
    ),
    max_leaves=25,
)
bodies = st.dictionaries(st.sampled_from(NAMES), values, max_size=8)


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(list(Kind)), bodies)
def test_a_canonical_form_never_changes_its_body(kind: Kind, body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    try:
        answer = canonical(kind, body, ServerDefaults())
    except (TypeError, ValueError, KeyError, AttributeError, IndexError):
        # A body of the wrong shape may be refused (the reader names it); unchanged all the same.
        assert body == before
        return
    assert body == before
    assert answer == canonical(kind, copy.deepcopy(before), ServerDefaults())
