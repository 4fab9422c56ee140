"""Pydantic models of ML filter and calendar bodies (`PUT _ml/filters/<id>`, `_ml/calendars/<id>`).

Input: a parsed `spec:` mapping. Output: a validated model (checking only). No I/O.
A calendar's manifest also holds its scheduled events (`POST _ml/calendars/<id>/events`
bodies), because users think of a calendar and its events as one thing (es-ml-api.md §4.2).
"""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt, StrictStr

from reconciler.manifest.fields import Spec

__all__ = ["CalendarSpec", "FilterSpec", "ScheduledEvent"]


class FilterSpec(Spec):
    """The body of `PUT _ml/filters/<filter_id>` (MlFilter.java, §4.1)."""

    filter_id: StrictStr | None = Field(None, description="Optional; must equal the manifest id.")
    description: StrictStr | None = None
    items: list[StrictStr] | None = None


class ScheduledEvent(Spec):
    """One scheduled event (ScheduledEvent.java, §4.2); times are ISO 8601 or epoch ms."""

    description: StrictStr
    start_time: StrictStr | StrictInt
    end_time: StrictStr | StrictInt
    calendar_id: StrictStr | None = None
    skip_result: StrictBool | None = None
    skip_model_update: StrictBool | None = None
    force_time_shift: StrictInt | None = None


class CalendarSpec(Spec):
    """A calendar (`PUT _ml/calendars/<calendar_id>` body) plus its scheduled `events`."""

    calendar_id: StrictStr | None = Field(None, description="Optional; must equal the manifest id.")
    description: StrictStr | None = None
    job_ids: list[StrictStr] | None = Field(None, description="Job ids, group names or `_all`.")
    events: list[ScheduledEvent] | None = None
