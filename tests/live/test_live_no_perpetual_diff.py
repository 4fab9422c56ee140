"""Against a real Elasticsearch: manifests written in every alternative spelling plan as no change.

For each case of the offline no-perpetual-diff suite, the manifest body is created on the
cluster (the real server fills in defaults and rewrites units), read back with the bulk reader,
and planned. Any change here is a canonical-form rule that disagrees with the real server.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.client import MLClient, api
from reconciler.cluster import read_cluster
from reconciler.model import Action, Kind, Ref, Resource
from reconciler.ownership import with_marker
from reconciler.plan import make_plan

pytestmark = pytest.mark.live

JOB: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}

CASES: dict[str, list[tuple[Kind, str, dict[str, Any]]]] = {
    "job_spellings": [
        (
            Kind.JOB,
            "live-spell",
            {
                "analysis_config": {
                    "bucket_span": "900S",
                    "detectors": [
                        {
                            "function": "high_nzc",
                            "by_field_name": "host",
                            "exclude_frequent": "ALL",
                            "use_null": False,
                        },
                        {
                            "function": "mean",
                            "field_name": "bytes",
                            "custom_rules": [
                                {
                                    "conditions": [
                                        {"applies_to": "actual", "operator": "gt", "value": 10}
                                    ]
                                }
                            ],
                        },
                    ],
                    "influencers": ["host", "bytes"],
                },
                "data_description": {"time_field": "@timestamp", "format": "xcontent"},
                "analysis_limits": {"model_memory_limit": "11MB"},
                "model_plot_config": {"enabled": True},
                "results_index_name": "live-spell",
                "groups": ["b", "a"],
            },
        ),
    ],
    "categorization_filters": [
        (
            Kind.JOB,
            "live-cat",
            {
                "analysis_config": {
                    "categorization_field_name": "message",
                    "categorization_filters": ["\\\\d+"],
                    "detectors": [{"function": "count", "by_field_name": "mlcategory"}],
                },
                "data_description": {"time_field": "@timestamp"},
            },
        ),
    ],
    "datafeed_defaults": [
        (Kind.JOB, "live-feed-job", JOB),
        (
            Kind.DATAFEED,
            "live-feed",
            {
                "job_id": "live-feed-job",
                "indices": "live-src",
                "indices_options": {"expand_wildcards": "all"},
                "query_delay": "1m",
            },
        ),
    ],
    "dfa_defaults": [
        (
            Kind.DFA,
            "live-dfa",
            {
                "source": {"index": "live-src"},
                "dest": {"index": "live-dfa-out"},
                "analysis": {"regression": {"dependent_variable": "y", "training_percent": 80}},
                "analyzed_fields": ["y", "x"],
                "model_memory_limit": "1024mb",
            },
        ),
    ],
    "filter_and_calendar": [
        (Kind.FILTER, "live-filter", {"items": ["b", "a", "b"]}),
        (
            Kind.CALENDAR,
            "live-cal",
            {
                "job_ids": [],
                "events": [
                    {
                        "description": "Sale",
                        "start_time": "2025-01-01T00:00:00Z",
                        "end_time": 1735776000000,
                    }
                ],
            },
        ),
    ],
}


def create(client: MLClient, kind: Kind, ident: str, body: dict[str, Any]) -> None:
    if kind is Kind.JOB:
        client.perform(api.put_job(ident, with_marker(kind, body)))
    elif kind is Kind.DATAFEED:
        client.perform(api.put_datafeed(ident, body))
    elif kind is Kind.DFA:
        client.perform(api.put_data_frame_analytics(ident, with_marker(kind, body)))
    elif kind is Kind.FILTER:
        client.perform(api.put_filter(ident, body))
    else:
        client.perform(api.put_calendar(ident, {k: v for k, v in body.items() if k != "events"}))
        client.perform(api.post_calendar_events(ident, body["events"]))


def delete(client: MLClient, kind: Kind, ident: str) -> None:
    call = {
        Kind.JOB: lambda: api.delete_job(ident, force=True),
        Kind.DATAFEED: lambda: api.delete_datafeed(ident, force=True),
        Kind.DFA: lambda: api.delete_data_frame_analytics(ident, force=True),
        Kind.FILTER: lambda: api.delete_filter(ident),
        Kind.CALENDAR: lambda: api.delete_calendar(ident),
    }[kind]()
    client.perform(call)


@pytest.mark.parametrize("name", sorted(CASES))
def test_manifest_spellings_plan_as_no_change(name: str, live_url: str) -> None:
    client = MLClient(hosts=[live_url])
    client.index(
        index="live-src",
        id="1",
        document={"@timestamp": "2024-01-01T00:00:00Z", "x": 1.0, "y": 2.0},
    )
    created: list[tuple[Kind, str]] = []
    try:
        for kind, ident, body in CASES[name]:
            create(client, kind, ident, body)
            created.append((kind, ident))
        desired = [
            Resource(ref=Ref(kind=kind, id=ident), body=body) for kind, ident, body in CASES[name]
        ]
        live = read_cluster(client, client.preflight())
        plan = make_plan(desired, live)
        changes = [
            (str(c.ref), c.action, f.path, f.before, f.after)
            for c in plan.changes
            for f in c.fields
        ]
        assert not changes, changes
        # Filters and calendars have no place for an ownership marker, so resources made by hand
        # are adopted into the scope (a registry entry); nothing else may change.
        actions = {str(c.ref): c.action for c in plan.changes}
        assert set(actions.values()) <= {Action.NOOP, Action.ADOPT}, actions
        assert all(
            kind in (Kind.FILTER, Kind.CALENDAR) or actions[f"{kind.value}/{ident}"] == Action.NOOP
            for kind, ident, _ in CASES[name]
        ), actions
    finally:
        for kind, ident in reversed(created):
            delete(client, kind, ident)
        client.close()
