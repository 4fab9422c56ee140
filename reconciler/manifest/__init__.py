"""The desired side: manifest files -> validated resources (`load_manifests`).

Input: YAML manifest files (optionally Jinja2 templates with per-environment variables).
Output: a `ManifestSet`, or a `ManifestError` listing every problem as file:line:col.
Reads files; everything else in this package is pure.
"""

from __future__ import annotations

from reconciler.manifest.envelope import (
    MANIFEST_ADAPTER,
    AnyManifest,
    CalendarManifest,
    DatafeedManifest,
    DataFrameAnalyticsManifest,
    FilterManifest,
    InlineDatafeed,
    JobManifest,
)
from reconciler.manifest.loader import find_manifest_files, load_manifests
from reconciler.manifest.manifest_set import ManifestSet, Reference
from reconciler.manifest.spec_datafeed import DatafeedSpec
from reconciler.manifest.spec_dfa import DataFrameAnalyticsSpec
from reconciler.manifest.spec_filter_calendar import CalendarSpec, FilterSpec, ScheduledEvent
from reconciler.manifest.spec_job import JobSpec

__all__ = [
    "MANIFEST_ADAPTER",
    "AnyManifest",
    "CalendarManifest",
    "CalendarSpec",
    "DataFrameAnalyticsManifest",
    "DataFrameAnalyticsSpec",
    "DatafeedManifest",
    "DatafeedSpec",
    "FilterManifest",
    "FilterSpec",
    "InlineDatafeed",
    "JobManifest",
    "JobSpec",
    "ManifestSet",
    "Reference",
    "ScheduledEvent",
    "find_manifest_files",
    "load_manifests",
]
