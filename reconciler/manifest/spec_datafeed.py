"""Pydantic model of a datafeed create body (`PUT _ml/datafeeds/<datafeed_id>`).

Input: a parsed datafeed `spec:` mapping. Output: a validated model (checking only). No I/O.
Fields follow es-ml-api.md §2.1 and the ES specification (`ml._types.DatafeedConfig`).
`headers` is rejected by the REST parser (datafeeds_crud.yml), so it is not a field here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr

from reconciler.manifest.fields import Duration, Int, Spec

__all__ = ["ChunkingConfig", "DatafeedSpec", "DelayedDataCheckConfig", "IndicesOptions"]

WildcardState = Literal["all", "open", "closed", "hidden", "none"]


class ChunkingConfig(Spec):
    """`chunking_config` (ChunkingConfig.java)."""

    mode: Literal["auto", "manual", "off"]
    time_span: Duration | None = None


class DelayedDataCheckConfig(Spec):
    """`delayed_data_check_config` (DelayedDataCheckConfig.java)."""

    enabled: StrictBool
    check_window: Duration | None = None


class IndicesOptions(Spec):
    """`indices_options` (SearchRequest indices options, §2.1)."""

    expand_wildcards: WildcardState | list[WildcardState] | None = None
    ignore_unavailable: StrictBool | None = None
    allow_no_indices: StrictBool | None = None
    ignore_throttled: StrictBool | None = None


class DatafeedSpec(Spec):
    """The body of `PUT _ml/datafeeds/<datafeed_id>` (parser `datafeed_config`, §2.1)."""

    datafeed_id: StrictStr | None = Field(
        None, description="Optional; must equal the datafeed id when given."
    )
    job_id: StrictStr | None = Field(
        None, description="The job this datafeed feeds (implied for a job's inline datafeed)."
    )
    indices: StrictStr | list[StrictStr] | None = None
    indexes: StrictStr | list[StrictStr] | None = Field(None, description="Alias of `indices`.")
    query: dict[str, Any] | None = None
    aggregations: dict[str, Any] | None = None
    aggs: dict[str, Any] | None = Field(None, description="Alias of `aggregations`.")
    script_fields: dict[str, Any] | None = None
    runtime_mappings: dict[str, Any] | None = None
    scroll_size: Int | None = None
    chunking_config: ChunkingConfig | None = None
    delayed_data_check_config: DelayedDataCheckConfig | None = None
    frequency: Duration | None = None
    query_delay: Duration | None = None
    max_empty_searches: Int | None = None
    indices_options: IndicesOptions | None = None
