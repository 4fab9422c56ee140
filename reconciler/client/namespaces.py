"""The official client's method surface (`client.ml.put_job(...)`, `client.search(...)`, ...).

Input: keyword arguments named as in the official `elasticsearch` Python client.
Output: whatever the owning client's `perform(call)` returns: an `ApiResponse` for
`MLClient`, an awaitable of one for `AsyncMLClient`. No I/O here: each method only builds the
`Call` (through `reconciler.client.api`) and hands it to `perform`, so the sync and async
clients share this one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from reconciler.client import api
from reconciler.client.api import Call

R = TypeVar("R")

Ids = str | Sequence[str]
Body = Mapping[str, Any]


def _body(body: Body | None, **fields: Any) -> dict[str, Any]:
    """Merge the keyword fields that were given into an optional raw `body`."""
    out = dict(body or {})
    for key, value in fields.items():
        if value is not None:
            out[key.rstrip("_")] = value
    return out


class _Namespace(Generic[R]):
    def __init__(self, perform: Callable[[Call], R]) -> None:
        self._perform = perform


class MlNamespace(_Namespace[R]):
    """`client.ml`: the machine-learning APIs (es-ml-api.md), named as the official client."""

    # ------------------------------------------------------------- anomaly detection jobs

    def put_job(
        self,
        job_id: str,
        *,
        analysis_config: Body | None = None,
        data_description: Body | None = None,
        description: str | None = None,
        results_index_name: str | None = None,
        groups: Sequence[str] | None = None,
        model_snapshot_retention_days: int | None = None,
        daily_model_snapshot_retention_after_days: int | None = None,
        analysis_limits: Body | None = None,
        background_persist_interval: str | None = None,
        custom_settings: Body | None = None,
        model_plot_config: Body | None = None,
        renormalization_window_days: int | None = None,
        results_retention_days: int | None = None,
        allow_lazy_open: bool | None = None,
        datafeed_config: Body | None = None,
        body: Body | None = None,
    ) -> R:
        """Create an anomaly detection job (`PUT /_ml/anomaly_detectors/{job_id}`)."""
        return self._perform(
            api.put_job(
                job_id,
                _body(
                    body,
                    analysis_config=analysis_config,
                    data_description=data_description,
                    description=description,
                    results_index_name=results_index_name,
                    groups=groups,
                    model_snapshot_retention_days=model_snapshot_retention_days,
                    daily_model_snapshot_retention_after_days=daily_model_snapshot_retention_after_days,
                    analysis_limits=analysis_limits,
                    background_persist_interval=background_persist_interval,
                    custom_settings=custom_settings,
                    model_plot_config=model_plot_config,
                    renormalization_window_days=renormalization_window_days,
                    results_retention_days=results_retention_days,
                    allow_lazy_open=allow_lazy_open,
                    datafeed_config=datafeed_config,
                ),
            )
        )

    def get_jobs(
        self,
        job_id: Ids | None = None,
        *,
        allow_no_match: bool | None = None,
        exclude_generated: bool | None = None,
    ) -> R:
        """Get job configurations (`GET /_ml/anomaly_detectors[/{job_id}]`)."""
        return self._perform(api.get_jobs(job_id, allow_no_match, exclude_generated))

    def get_job_stats(self, job_id: Ids | None = None, *, allow_no_match: bool | None = None) -> R:
        """Get job statistics and run state (`GET .../_stats`)."""
        return self._perform(api.get_job_stats(job_id, allow_no_match))

    def update_job(
        self,
        job_id: str,
        *,
        description: str | None = None,
        analysis_limits: Body | None = None,
        background_persist_interval: str | None = None,
        custom_settings: Body | None = None,
        model_plot_config: Body | None = None,
        model_snapshot_retention_days: int | None = None,
        daily_model_snapshot_retention_after_days: int | None = None,
        groups: Sequence[str] | None = None,
        detectors: Sequence[Body] | None = None,
        renormalization_window_days: int | None = None,
        results_retention_days: int | None = None,
        allow_lazy_open: bool | None = None,
        categorization_filters: Sequence[str] | None = None,
        per_partition_categorization: Body | None = None,
        model_prune_window: str | None = None,
        body: Body | None = None,
    ) -> R:
        """Update a job (`POST /_ml/anomaly_detectors/{job_id}/_update`)."""
        return self._perform(
            api.update_job(
                job_id,
                _body(
                    body,
                    description=description,
                    analysis_limits=analysis_limits,
                    background_persist_interval=background_persist_interval,
                    custom_settings=custom_settings,
                    model_plot_config=model_plot_config,
                    model_snapshot_retention_days=model_snapshot_retention_days,
                    daily_model_snapshot_retention_after_days=daily_model_snapshot_retention_after_days,
                    groups=groups,
                    detectors=detectors,
                    renormalization_window_days=renormalization_window_days,
                    results_retention_days=results_retention_days,
                    allow_lazy_open=allow_lazy_open,
                    categorization_filters=categorization_filters,
                    per_partition_categorization=per_partition_categorization,
                    model_prune_window=model_prune_window,
                ),
            )
        )

    def delete_job(
        self,
        job_id: str,
        *,
        force: bool | None = None,
        wait_for_completion: bool | None = None,
        delete_user_annotations: bool | None = None,
    ) -> R:
        """Delete a job and its datafeed (`DELETE /_ml/anomaly_detectors/{job_id}`)."""
        return self._perform(
            api.delete_job(job_id, force, wait_for_completion, delete_user_annotations)
        )

    def open_job(self, job_id: str, *, timeout: str | None = None) -> R:
        """Open a job (`POST .../_open`)."""
        return self._perform(api.open_job(job_id, timeout))

    def close_job(
        self,
        job_id: Ids,
        *,
        allow_no_match: bool | None = None,
        force: bool | None = None,
        timeout: str | None = None,
    ) -> R:
        """Close a job (`POST .../_close`)."""
        return self._perform(api.close_job(job_id, force, allow_no_match, timeout))

    def reset_job(
        self,
        job_id: str,
        *,
        wait_for_completion: bool | None = None,
        delete_user_annotations: bool | None = None,
    ) -> R:
        """Reset a closed job to a blank state (`POST .../_reset`)."""
        return self._perform(api.reset_job(job_id, wait_for_completion, delete_user_annotations))

    def validate(self, *, body: Body | None = None, **fields: Any) -> R:
        """Validate a job configuration (`POST /_ml/anomaly_detectors/_validate`)."""
        return self._perform(api.validate_job(_body(body, **fields)))

    def validate_detector(self, *, detector: Body | None = None, body: Body | None = None) -> R:
        """Validate one detector (`POST /_ml/anomaly_detectors/_validate/detector`)."""
        return self._perform(api.validate_detector(dict(detector or body or {})))

    def estimate_model_memory(
        self,
        *,
        analysis_config: Body | None = None,
        max_bucket_cardinality: Body | None = None,
        overall_cardinality: Body | None = None,
        body: Body | None = None,
    ) -> R:
        """Estimate a job's model memory (`POST .../_estimate_model_memory`)."""
        return self._perform(
            api.estimate_model_memory(
                _body(
                    body,
                    analysis_config=analysis_config,
                    max_bucket_cardinality=max_bucket_cardinality,
                    overall_cardinality=overall_cardinality,
                )
            )
        )

    # ------------------------------------------------------------- datafeeds

    def put_datafeed(
        self,
        datafeed_id: str,
        *,
        job_id: str | None = None,
        indices: Sequence[str] | str | None = None,
        aggregations: Body | None = None,
        chunking_config: Body | None = None,
        frequency: str | None = None,
        query: Body | None = None,
        query_delay: str | None = None,
        runtime_mappings: Body | None = None,
        script_fields: Body | None = None,
        scroll_size: int | None = None,
        delayed_data_check_config: Body | None = None,
        max_empty_searches: int | None = None,
        indices_options: Body | None = None,
        body: Body | None = None,
    ) -> R:
        """Create a datafeed (`PUT /_ml/datafeeds/{datafeed_id}`)."""
        return self._perform(
            api.put_datafeed(
                datafeed_id,
                _body(
                    body,
                    job_id=job_id,
                    indices=indices,
                    aggregations=aggregations,
                    chunking_config=chunking_config,
                    frequency=frequency,
                    query=query,
                    query_delay=query_delay,
                    runtime_mappings=runtime_mappings,
                    script_fields=script_fields,
                    scroll_size=scroll_size,
                    delayed_data_check_config=delayed_data_check_config,
                    max_empty_searches=max_empty_searches,
                    indices_options=indices_options,
                ),
            )
        )

    def get_datafeeds(
        self,
        datafeed_id: Ids | None = None,
        *,
        allow_no_match: bool | None = None,
        exclude_generated: bool | None = None,
    ) -> R:
        """Get datafeed configurations (`GET /_ml/datafeeds[/{datafeed_id}]`)."""
        return self._perform(api.get_datafeeds(datafeed_id, allow_no_match, exclude_generated))

    def get_datafeed_stats(
        self, datafeed_id: Ids | None = None, *, allow_no_match: bool | None = None
    ) -> R:
        """Get datafeed statistics and run state (`GET /_ml/datafeeds[/{id}]/_stats`)."""
        return self._perform(api.get_datafeed_stats(datafeed_id, allow_no_match))

    def update_datafeed(
        self,
        datafeed_id: str,
        *,
        indices: Sequence[str] | str | None = None,
        aggregations: Body | None = None,
        chunking_config: Body | None = None,
        frequency: str | None = None,
        query: Body | None = None,
        query_delay: str | None = None,
        runtime_mappings: Body | None = None,
        script_fields: Body | None = None,
        scroll_size: int | None = None,
        delayed_data_check_config: Body | None = None,
        max_empty_searches: int | None = None,
        indices_options: Body | None = None,
        job_id: str | None = None,
        body: Body | None = None,
    ) -> R:
        """Update a stopped datafeed (`POST /_ml/datafeeds/{datafeed_id}/_update`)."""
        return self._perform(
            api.update_datafeed(
                datafeed_id,
                _body(
                    body,
                    indices=indices,
                    aggregations=aggregations,
                    chunking_config=chunking_config,
                    frequency=frequency,
                    query=query,
                    query_delay=query_delay,
                    runtime_mappings=runtime_mappings,
                    script_fields=script_fields,
                    scroll_size=scroll_size,
                    delayed_data_check_config=delayed_data_check_config,
                    max_empty_searches=max_empty_searches,
                    indices_options=indices_options,
                    job_id=job_id,
                ),
            )
        )

    def start_datafeed(
        self,
        datafeed_id: str,
        *,
        start: str | int | None = None,
        end: str | int | None = None,
        timeout: str | None = None,
    ) -> R:
        """Start a datafeed (`POST /_ml/datafeeds/{datafeed_id}/_start`)."""
        return self._perform(api.start_datafeed(datafeed_id, start, end, timeout))

    def stop_datafeed(
        self,
        datafeed_id: Ids,
        *,
        allow_no_match: bool | None = None,
        force: bool | None = None,
        timeout: str | None = None,
        close_job: bool | None = None,
    ) -> R:
        """Stop a datafeed (`POST /_ml/datafeeds/{datafeed_id}/_stop`)."""
        return self._perform(
            api.stop_datafeed(datafeed_id, force, allow_no_match, timeout, close_job)
        )

    def delete_datafeed(self, datafeed_id: str, *, force: bool | None = None) -> R:
        """Delete a datafeed (`DELETE /_ml/datafeeds/{datafeed_id}`)."""
        return self._perform(api.delete_datafeed(datafeed_id, force))

    def preview_datafeed(
        self,
        datafeed_id: str | None = None,
        *,
        datafeed_config: Body | None = None,
        job_config: Body | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> R:
        """Preview the documents a datafeed would send (`POST .../_preview`); a list body."""
        body = _body(None, datafeed_config=datafeed_config, job_config=job_config)
        return self._perform(api.preview_datafeed(datafeed_id, body or None, start, end))

    # ------------------------------------------------------------- snapshots

    def get_model_snapshots(
        self,
        job_id: str,
        snapshot_id: str | None = None,
        *,
        from_: int | None = None,
        size: int | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        sort: str | None = None,
        desc: bool | None = None,
    ) -> R:
        """List a job's model snapshots (`GET .../model_snapshots`)."""
        return self._perform(
            api.get_model_snapshots(
                job_id,
                snapshot_id,
                from_=from_,
                size=size,
                start=start,
                end=end,
                sort=sort,
                desc=desc,
            )
        )

    def update_model_snapshot(
        self,
        job_id: str,
        snapshot_id: str,
        *,
        description: str | None = None,
        retain: bool | None = None,
    ) -> R:
        """Update a snapshot's description or retention (`POST .../_update`)."""
        return self._perform(
            api.update_model_snapshot(
                job_id, snapshot_id, _body(None, description=description, retain=retain)
            )
        )

    def delete_model_snapshot(self, job_id: str, snapshot_id: str) -> R:
        """Delete a model snapshot (`DELETE .../model_snapshots/{snapshot_id}`)."""
        return self._perform(api.delete_model_snapshot(job_id, snapshot_id))

    def revert_model_snapshot(
        self, job_id: str, snapshot_id: str, *, delete_intervening_results: bool | None = None
    ) -> R:
        """Revert a closed job to a snapshot (`POST .../_revert`)."""
        return self._perform(
            api.revert_model_snapshot(job_id, snapshot_id, delete_intervening_results)
        )

    # ------------------------------------------------------------- results

    def get_buckets(
        self,
        job_id: str,
        timestamp: str | int | None = None,
        *,
        anomaly_score: float | None = None,
        from_: int | None = None,
        size: int | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        exclude_interim: bool | None = None,
        expand: bool | None = None,
        sort: str | None = None,
        desc: bool | None = None,
    ) -> R:
        """Get result buckets (`GET .../results/buckets[/{timestamp}]`)."""
        return self._perform(
            api.get_buckets(
                job_id,
                None if timestamp is None else str(timestamp),
                anomaly_score=anomaly_score,
                from_=from_,
                size=size,
                start=start,
                end=end,
                exclude_interim=exclude_interim,
                expand=expand,
                sort=sort,
                desc=desc,
            )
        )

    def get_records(
        self,
        job_id: str,
        *,
        from_: int | None = None,
        size: int | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        record_score: float | None = None,
        sort: str | None = None,
        desc: bool | None = None,
        exclude_interim: bool | None = None,
    ) -> R:
        """Get anomaly records (`GET .../results/records`)."""
        return self._perform(
            api.get_records(
                job_id,
                from_=from_,
                size=size,
                start=start,
                end=end,
                record_score=record_score,
                sort=sort,
                desc=desc,
                exclude_interim=exclude_interim,
            )
        )

    def get_influencers(
        self,
        job_id: str,
        *,
        from_: int | None = None,
        size: int | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        influencer_score: float | None = None,
        sort: str | None = None,
        desc: bool | None = None,
        exclude_interim: bool | None = None,
    ) -> R:
        """Get influencers (`GET .../results/influencers`)."""
        return self._perform(
            api.get_influencers(
                job_id,
                from_=from_,
                size=size,
                start=start,
                end=end,
                influencer_score=influencer_score,
                sort=sort,
                desc=desc,
                exclude_interim=exclude_interim,
            )
        )

    def get_categories(
        self,
        job_id: str,
        category_id: str | int | None = None,
        *,
        from_: int | None = None,
        size: int | None = None,
        partition_field_value: str | None = None,
    ) -> R:
        """Get categories (`GET .../results/categories[/{category_id}]`)."""
        return self._perform(
            api.get_categories(
                job_id,
                category_id,
                from_=from_,
                size=size,
                partition_field_value=partition_field_value,
            )
        )

    def get_overall_buckets(self, job_id: Ids, **params: Any) -> R:
        """Get overall buckets across jobs (`GET .../results/overall_buckets`)."""
        return self._perform(api.get_overall_buckets(job_id, **params))

    # ------------------------------------------------------------- data frame analytics

    def put_data_frame_analytics(
        self,
        id: str,
        *,
        source: Body | None = None,
        dest: Body | None = None,
        analysis: Body | None = None,
        description: str | None = None,
        model_memory_limit: str | None = None,
        max_num_threads: int | None = None,
        analyzed_fields: Body | Sequence[str] | None = None,
        allow_lazy_start: bool | None = None,
        meta: Body | None = None,
        body: Body | None = None,
    ) -> R:
        """Create a data frame analytics job (`PUT /_ml/data_frame/analytics/{id}`)."""
        fields = _body(
            body,
            source=source,
            dest=dest,
            analysis=analysis,
            description=description,
            model_memory_limit=model_memory_limit,
            max_num_threads=max_num_threads,
            analyzed_fields=analyzed_fields,
            allow_lazy_start=allow_lazy_start,
        )
        if meta is not None:
            fields["_meta"] = dict(meta)
        return self._perform(api.put_data_frame_analytics(id, fields))

    def get_data_frame_analytics(
        self,
        id: Ids | None = None,
        *,
        allow_no_match: bool | None = None,
        from_: int | None = None,
        size: int | None = None,
        exclude_generated: bool | None = None,
    ) -> R:
        """Get analytics configurations, one page (`GET /_ml/data_frame/analytics[/{id}]`)."""
        return self._perform(
            api.get_data_frame_analytics(id, allow_no_match, from_, size, exclude_generated)
        )

    def get_data_frame_analytics_stats(
        self,
        id: Ids | None = None,
        *,
        allow_no_match: bool | None = None,
        from_: int | None = None,
        size: int | None = None,
        verbose: bool | None = None,
    ) -> R:
        """Get analytics statistics and progress, one page (`GET .../_stats`)."""
        return self._perform(
            api.get_data_frame_analytics_stats(id, allow_no_match, from_, size, verbose)
        )

    def update_data_frame_analytics(
        self,
        id: str,
        *,
        description: str | None = None,
        model_memory_limit: str | None = None,
        max_num_threads: int | None = None,
        allow_lazy_start: bool | None = None,
        body: Body | None = None,
    ) -> R:
        """Update analytics (`POST /_ml/data_frame/analytics/{id}/_update`)."""
        return self._perform(
            api.update_data_frame_analytics(
                id,
                _body(
                    body,
                    description=description,
                    model_memory_limit=model_memory_limit,
                    max_num_threads=max_num_threads,
                    allow_lazy_start=allow_lazy_start,
                ),
            )
        )

    def start_data_frame_analytics(self, id: str, *, timeout: str | None = None) -> R:
        """Start analytics (`POST /_ml/data_frame/analytics/{id}/_start`)."""
        return self._perform(api.start_data_frame_analytics(id, timeout))

    def stop_data_frame_analytics(
        self,
        id: Ids,
        *,
        allow_no_match: bool | None = None,
        force: bool | None = None,
        timeout: str | None = None,
    ) -> R:
        """Stop analytics (`POST /_ml/data_frame/analytics/{id}/_stop`)."""
        return self._perform(api.stop_data_frame_analytics(id, force, allow_no_match, timeout))

    def delete_data_frame_analytics(
        self, id: str, *, force: bool | None = None, timeout: str | None = None
    ) -> R:
        """Delete analytics (`DELETE /_ml/data_frame/analytics/{id}`)."""
        return self._perform(api.delete_data_frame_analytics(id, force, timeout))

    def explain_data_frame_analytics(
        self, id: str | None = None, *, body: Body | None = None, **fields: Any
    ) -> R:
        """Explain field selection and memory (`POST .../_explain`)."""
        return self._perform(api.explain_data_frame_analytics(id, _body(body, **fields) or None))

    def preview_data_frame_analytics(
        self, id: str | None = None, *, config: Body | None = None, body: Body | None = None
    ) -> R:
        """Preview the features analytics would use (`POST .../_preview`)."""
        return self._perform(
            api.preview_data_frame_analytics(id, _body(body, config=config) or None)
        )

    # ------------------------------------------------------------- filters

    def put_filter(
        self,
        filter_id: str,
        *,
        description: str | None = None,
        items: Sequence[str] | None = None,
        body: Body | None = None,
    ) -> R:
        """Create a filter (`PUT /_ml/filters/{filter_id}`)."""
        return self._perform(
            api.put_filter(filter_id, _body(body, description=description, items=items))
        )

    def get_filters(
        self,
        filter_id: Ids | None = None,
        *,
        from_: int | None = None,
        size: int | None = None,
    ) -> R:
        """Get filters, one page (`GET /_ml/filters[/{filter_id}]`)."""
        return self._perform(api.get_filters(filter_id, from_, size))

    def update_filter(
        self,
        filter_id: str,
        *,
        add_items: Sequence[str] | None = None,
        description: str | None = None,
        remove_items: Sequence[str] | None = None,
        body: Body | None = None,
    ) -> R:
        """Update a filter (`POST /_ml/filters/{filter_id}/_update`)."""
        return self._perform(
            api.update_filter(
                filter_id,
                _body(
                    body, add_items=add_items, description=description, remove_items=remove_items
                ),
            )
        )

    def delete_filter(self, filter_id: str) -> R:
        """Delete a filter (`DELETE /_ml/filters/{filter_id}`)."""
        return self._perform(api.delete_filter(filter_id))

    # ------------------------------------------------------------- calendars

    def put_calendar(
        self,
        calendar_id: str,
        *,
        job_ids: Sequence[str] | None = None,
        description: str | None = None,
        body: Body | None = None,
    ) -> R:
        """Create a calendar (`PUT /_ml/calendars/{calendar_id}`)."""
        return self._perform(
            api.put_calendar(calendar_id, _body(body, job_ids=job_ids, description=description))
        )

    def get_calendars(
        self,
        calendar_id: Ids | None = None,
        *,
        from_: int | None = None,
        size: int | None = None,
    ) -> R:
        """Get calendars, one page (`GET /_ml/calendars[/{calendar_id}]`)."""
        return self._perform(api.get_calendars(calendar_id, from_, size))

    def delete_calendar(self, calendar_id: str) -> R:
        """Delete a calendar and its events (`DELETE /_ml/calendars/{calendar_id}`)."""
        return self._perform(api.delete_calendar(calendar_id))

    def put_calendar_job(self, calendar_id: str, job_id: Ids) -> R:
        """Add jobs or groups to a calendar (`PUT .../jobs/{job_id}`)."""
        return self._perform(api.put_calendar_job(calendar_id, job_id))

    def delete_calendar_job(self, calendar_id: str, job_id: Ids) -> R:
        """Remove jobs or groups from a calendar (`DELETE .../jobs/{job_id}`)."""
        return self._perform(api.delete_calendar_job(calendar_id, job_id))

    def post_calendar_events(self, calendar_id: str, *, events: Sequence[Body]) -> R:
        """Add scheduled events (`POST /_ml/calendars/{calendar_id}/events`)."""
        return self._perform(api.post_calendar_events(calendar_id, events))

    def get_calendar_events(
        self,
        calendar_id: str = "_all",
        *,
        from_: int | None = None,
        size: int | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        job_id: str | None = None,
    ) -> R:
        """Get scheduled events, one page (`GET /_ml/calendars/{calendar_id}/events`)."""
        return self._perform(api.get_calendar_events(calendar_id, from_, size, start, end, job_id))

    def delete_calendar_event(self, calendar_id: str, event_id: str) -> R:
        """Delete one scheduled event (`DELETE .../events/{event_id}`)."""
        return self._perform(api.delete_calendar_event(calendar_id, event_id))

    # ------------------------------------------------------------- info

    def info(self) -> R:
        """ML defaults, limits and upgrade mode (`GET /_ml/info`)."""
        return self._perform(api.ml_info())


class LicenseNamespace(_Namespace[R]):
    """`client.license`: the licence API, as in the official client."""

    def get(self) -> R:
        """Licence type and status (`GET /_license`)."""
        return self._perform(api.license())


class RootMethods(Generic[R]):
    """The top-level methods of the official client that mlsync needs (mixin)."""

    def _dispatch(self, call: Call) -> R:  # pragma: no cover - replaced by the clients
        raise NotImplementedError

    def info(self) -> R:
        """Cluster name, uuid and version (`GET /`)."""
        return self._dispatch(api.info())

    def search(
        self,
        *,
        index: Ids | None = None,
        query: Body | None = None,
        size: int | None = None,
        from_: int | None = None,
        sort: Any = None,
        aggs: Body | None = None,
        aggregations: Body | None = None,
        source: Any = None,
        track_total_hits: bool | int | None = None,
        body: Body | None = None,
    ) -> R:
        """Search documents (`POST /{index}/_search`); used to read DFA results."""
        fields = _body(
            body,
            query=query,
            size=size,
            from_=from_,
            sort=sort,
            aggs=aggs,
            aggregations=aggregations,
            track_total_hits=track_total_hits,
        )
        if source is not None:
            fields["_source"] = source
        return self._dispatch(api.search(index, fields))

    def create(self, *, index: str, id: str, document: Body) -> R:
        """Create a document only if absent (`PUT /{index}/_create/{id}`); 409 if it exists."""
        return self._dispatch(api.create_document(index, id, document))

    def get(self, *, index: str, id: str) -> R:
        """Read a document in real time (`GET /{index}/_doc/{id}`)."""
        return self._dispatch(api.get_document(index, id))

    def index(
        self,
        *,
        index: str,
        id: str,
        document: Body,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> R:
        """Write a document, optionally only over a known version (`PUT /{index}/_doc/{id}`)."""
        return self._dispatch(api.index_document(index, id, document, if_seq_no, if_primary_term))

    def delete(
        self,
        *,
        index: str,
        id: str,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> R:
        """Delete a document, optionally only a known version (`DELETE /{index}/_doc/{id}`)."""
        return self._dispatch(api.delete_document(index, id, if_seq_no, if_primary_term))
