"""ML upgrade mode: the actions Elasticsearch refuses while `set_upgrade_mode` is enabled.

Input: a `Ctx` and the handler a request was routed to. Output: nothing, or the 429 that
MlUpgradeModeActionFilter answers (`Cannot perform <action name> action while upgrade mode is
enabled`). Meanwhile the stats show every ML task unassigned with
`cluster_settings.AWAITING_UPGRADE`. No I/O.

`BLOCKED` maps the handlers of the actions in ACTIONS_DISALLOWED_IN_UPGRADE_MODE to their
transport action names (each action class's `NAME`); reads, resets, closing deployments,
infer and the stats stay allowed, as there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox import (
    cluster,
    datafeeds,
    dfa,
    filters_calendars,
    forecasts,
    jobs,
    ml_extras,
    results,
    trained_models,
)
from reconciler.sandbox.cluster_settings import upgrade_mode_enabled
from reconciler.sandbox.context import Ctx
from reconciler.sandbox.exceptions import EsError

_ML = "cluster:admin/xpack/ml/"

BLOCKED: dict[Callable[..., Any], str] = {
    jobs.put_job: "job/put",
    jobs.update_job: "job/update",
    jobs.delete_job: "job/delete",
    jobs.open_job: "job/open",
    jobs.flush_job: "job/flush",
    jobs.close_job: "job/close",
    ml_extras.post_data: "job/data/post",
    results.revert_snapshot: "job/model_snapshots/revert",
    results.update_snapshot: "job/model_snapshots/update",
    results.delete_snapshot: "job/model_snapshots/delete",
    ml_extras.upgrade_snapshot: "job/model_snapshots/upgrade",
    datafeeds.put_datafeed: "datafeeds/put",
    datafeeds.update_datafeed: "datafeeds/update",
    datafeeds.delete_datafeed: "datafeeds/delete",
    datafeeds.start_datafeed: "datafeed/start",
    datafeeds.stop_datafeed: "datafeed/stop",
    filters_calendars.put_filter: "filters/put",
    filters_calendars.update_filter: "filters/update",
    filters_calendars.delete_filter: "filters/delete",
    filters_calendars.put_calendar: "calendars/put",
    filters_calendars.put_calendar_jobs: "calendars/jobs/update",
    filters_calendars.delete_calendar_jobs: "calendars/jobs/update",
    filters_calendars.post_events: "calendars/events/post",
    filters_calendars.delete_calendar: "calendars/delete",
    filters_calendars.delete_event: "calendars/events/delete",
    cluster.delete_expired_data: "delete_expired_data",
    forecasts.forecast: "job/forecast",
    forecasts.delete_forecast: "job/forecast/delete",
    dfa.put_dfa: "data_frame/analytics/put",
    dfa.delete_dfa: "data_frame/analytics/delete",
    dfa.start_dfa: "data_frame/analytics/start",
    dfa.stop_dfa: "data_frame/analytics/stop",
    dfa.explain_dfa: "data_frame/analytics/explain",
    cluster.put_model_alias: "inference/model_aliases/put",
    cluster.put_trained_model: "inference/put",
    trained_models.put_definition_part: "trained_models/part/put",
    trained_models.put_vocabulary: "trained_models/vocabulary/put",
    trained_models.start_deployment: "trained_models/deployment/start",
    cluster.delete_trained_model: "inference/delete",
    cluster.delete_model_alias: "inference/model_aliases/delete",
}


def check(ctx: Ctx, handler: Callable[..., Any]) -> None:
    """Refuse a blocked action while upgrade mode is enabled (before the handler runs)."""
    action = BLOCKED.get(handler)
    if action is not None and upgrade_mode_enabled(ctx):
        raise EsError(
            429,
            "status_exception",
            f"Cannot perform {_ML}{action} action while upgrade mode is enabled",
        )
