"""The manifest envelope (`kind`, `id`, `state`, `spec`, ...) for each resource kind.

Input: one parsed YAML document. Output: a validated envelope model, chosen by `kind`.
No I/O. Format: ARCHITECTURE.md "Manifest format".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, TypeAdapter

from reconciler.manifest.fields import Spec
from reconciler.manifest.spec_datafeed import DatafeedSpec
from reconciler.manifest.spec_dfa import DataFrameAnalyticsSpec
from reconciler.manifest.spec_filter_calendar import CalendarSpec, FilterSpec
from reconciler.manifest.spec_job import JobSpec

__all__ = [
    "MANIFEST_ADAPTER",
    "AnyManifest",
    "CalendarManifest",
    "DataFrameAnalyticsManifest",
    "DatafeedManifest",
    "FilterManifest",
    "InlineDatafeed",
    "JobManifest",
]

_ID = "The resource id (job_id / datafeed_id / id / filter_id / calendar_id)."
_TIME = "`_start` parameter: ISO 8601 date, epoch milliseconds or e.g. now-1d."


class InlineDatafeed(Spec):
    """A job's datafeed declared inside the job manifest (`datafeed:`)."""

    id: StrictStr | None = Field(None, description="Default: datafeed-<job id>, as ES does.")
    state: Literal["started", "stopped"] | None = None
    start: StrictStr | StrictInt | None = Field(None, description=_TIME)
    end: StrictStr | StrictInt | None = Field(None, description=_TIME)
    spec: DatafeedSpec


class JobManifest(Spec):
    """`kind: AnomalyDetectionJob`."""

    kind: Literal["AnomalyDetectionJob"]
    id: StrictStr = Field(description=_ID)
    state: Literal["opened", "closed"] | None = Field(
        None, description="Desired run state; omitted = leave it alone."
    )
    spec: JobSpec
    datafeed: InlineDatafeed | None = None


class DatafeedManifest(Spec):
    """`kind: Datafeed`."""

    kind: Literal["Datafeed"]
    id: StrictStr = Field(description=_ID)
    state: Literal["started", "stopped"] | None = None
    start: StrictStr | StrictInt | None = Field(None, description=_TIME)
    end: StrictStr | StrictInt | None = Field(None, description=_TIME)
    spec: DatafeedSpec


class DataFrameAnalyticsManifest(Spec):
    """`kind: DataFrameAnalytics`."""

    kind: Literal["DataFrameAnalytics"]
    id: StrictStr = Field(description=_ID)
    state: Literal["started", "stopped"] | None = None
    spec: DataFrameAnalyticsSpec


class FilterManifest(Spec):
    """`kind: Filter` (filters have no run state)."""

    kind: Literal["Filter"]
    id: StrictStr = Field(description=_ID)
    spec: FilterSpec = FilterSpec()


class CalendarManifest(Spec):
    """`kind: Calendar` (calendars have no run state; `spec.events` are its events)."""

    kind: Literal["Calendar"]
    id: StrictStr = Field(description=_ID)
    spec: CalendarSpec = CalendarSpec()


AnyManifest = Annotated[
    JobManifest | DatafeedManifest | DataFrameAnalyticsManifest | FilterManifest | CalendarManifest,
    Field(discriminator="kind"),
]

#: Built once at import: validating thousands of documents reuses the same core schema.
MANIFEST_ADAPTER: TypeAdapter[AnyManifest] = TypeAdapter(AnyManifest)

#: Model class per kind name (for error messages that list a model's fields).
MODEL_BY_KIND: dict[str, type[Spec]] = {
    "AnomalyDetectionJob": JobManifest,
    "Datafeed": DatafeedManifest,
    "DataFrameAnalytics": DataFrameAnalyticsManifest,
    "Filter": FilterManifest,
    "Calendar": CalendarManifest,
}
