"""The method surface matches the official client, so seed code ports by changing one line."""

from __future__ import annotations

import inspect

import pytest
from elasticsearch import Elasticsearch
from elasticsearch._sync.client.ml import MlClient as OfficialMl

import reconciler
import reconciler.client
from reconciler.client.namespaces import MlNamespace, RootMethods

SEED_METHODS = [
    "put_job", "get_jobs", "delete_job", "open_job", "close_job", "update_job", "put_datafeed",
    "get_datafeeds", "start_datafeed", "stop_datafeed", "delete_datafeed", "get_model_snapshots",
    "update_model_snapshot", "delete_model_snapshot", "revert_model_snapshot", "get_buckets",
    "get_records", "get_influencers", "get_categories", "put_data_frame_analytics",
    "get_data_frame_analytics", "start_data_frame_analytics", "stop_data_frame_analytics",
    "delete_data_frame_analytics", "get_data_frame_analytics_stats", "get_job_stats",
    "update_datafeed", "update_data_frame_analytics", "get_datafeed_stats", "put_filter",
    "get_filters", "update_filter", "delete_filter", "put_calendar", "get_calendars",
    "delete_calendar", "put_calendar_job", "delete_calendar_job", "post_calendar_events",
    "get_calendar_events", "delete_calendar_event", "validate", "validate_detector",
    "estimate_model_memory", "preview_datafeed", "explain_data_frame_analytics",
    "preview_data_frame_analytics", "info",
]  # fmt: skip


def named_parameters(func: object) -> set[str]:
    return {
        p.name
        for p in inspect.signature(func).parameters.values()  # type: ignore[arg-type]
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in ("self", "body")
    }


@pytest.mark.parametrize("name", SEED_METHODS)
def test_ml_methods_exist_with_the_official_parameter_names(name: str) -> None:
    ours = getattr(MlNamespace, name)
    official = getattr(OfficialMl, name)
    extra = named_parameters(ours) - named_parameters(official)
    assert not extra, f"ml.{name} takes parameters the official client does not: {extra}"


@pytest.mark.parametrize("name", ["info", "search", "create", "get", "index", "delete"])
def test_root_methods_use_the_official_parameter_names(name: str) -> None:
    extra = named_parameters(getattr(RootMethods, name)) - named_parameters(
        getattr(Elasticsearch, name)
    )
    assert not extra


def test_exported_names() -> None:
    assert reconciler.__all__ == ["AsyncMLClient", "MLClient", "__version__"]
    assert sorted(reconciler.client.__all__) == reconciler.client.__all__
    for name in reconciler.client.__all__:
        assert getattr(reconciler.client, name) is not None
    with pytest.raises(AttributeError):
        reconciler.client.NoSuchThing  # noqa: B018
