"""The live side: read every ML resource and its run state in a constant number of requests.

Input: an `MLClient` and the preflight `ClusterInfo`. Output: a `LiveState` (resources in the
same `Resource` type as the manifests, plus the cluster's defaults and a fingerprint).
Does I/O through the client only.

Nine bulk reads, whatever the number of resources (anchors.md §5 item 10; the Terraform
provider makes one to four GETs per resource), so a plan with the preflight's three makes 12:

  GET /_ml/anomaly_detectors                             jobs, each with its datafeed embedded
  GET /_ml/anomaly_detectors/_stats                      job states, model sizes
  GET /_ml/datafeeds/_stats                              datafeed states
  GET /_ml/data_frame/analytics?exclude_generated=true   DFA (paged; one page of 10 000)
  GET /_ml/data_frame/analytics/_stats                   DFA states and progress (paged)
  GET /_ml/filters                                       filters (paged)
  GET /_ml/calendars                                     calendars (paged)
  GET /_ml/calendars/_all/events                         every scheduled event (paged)
  GET /mlsync-registry*/_search                          ownership registry (reconciler.registry)

Datafeeds come from the jobs' answer: since 7.11 Elasticsearch returns a job's datafeed inside
it as `datafeed_config` (TransportGetJobsAction; es-ml-api.md §1.1), the same object GET
datafeeds returns. A datafeed the stats list but no job carries (a version or a proxy that does
not embed them, or one created between the two reads) makes the reader fall back to
`GET /_ml/datafeeds`, one request more.

`exclude_generated=true` is Elasticsearch's own "configuration for export" mode (es-ml-api.md
§1.1, §2.3, §3.5): it drops generated fields so what is read is what a manifest would say. Jobs and
datafeeds are read in full instead (see `read_cluster`); the canonical form drops what the server
generates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from reconciler import ownership, registry
from reconciler.answers import Json, items_of, page_count, unexpected
from reconciler.client import api
from reconciler.client.errors import ApiError
from reconciler.client.response import Page
from reconciler.gc_pause import paused_gc
from reconciler.model import Call, ClusterSummary, Kind, LiveState, Ref, Resource, State
from reconciler.normalize import ServerDefaults, canonical, canonical_event, event_key
from reconciler.plan import resource_fingerprint
from reconciler.plan.fingerprint import combined_fingerprint
from reconciler.units import model_memory_limit_mb, parse_byte_size

#: Largest page Elasticsearch serves: `from + size` must stay within 10 000 (§3, §8).
PAGE = 10_000


class ClientLike(Protocol):
    """What the reader needs from `MLClient`: single calls and its request count."""

    @property
    def request_count(self) -> int: ...  # noqa: D102

    def perform(self, call: Call) -> Any: ...  # noqa: D102


class ClusterInfoLike(Protocol):
    """What the reader needs from the preflight `ClusterInfo` (read-only)."""

    @property
    def cluster_name(self) -> str: ...  # noqa: D102

    @property
    def cluster_uuid(self) -> str: ...  # noqa: D102

    @property
    def version(self) -> str: ...  # noqa: D102

    @property
    def flavor(self) -> str: ...  # noqa: D102

    @property
    def max_model_memory_limit(self) -> str | None: ...  # noqa: D102


def server_defaults(info: ClusterInfoLike | None) -> ServerDefaults:
    """The cluster-dependent defaults: both memory limits are capped by the configured max."""
    job_mb, dfa_bytes = 1024, 1024**3
    limit = info.max_model_memory_limit if info else None
    if limit:
        try:
            job_mb = min(job_mb, model_memory_limit_mb(limit))
            dfa_bytes = min(dfa_bytes, parse_byte_size(limit))
        except ValueError:
            pass
    return ServerDefaults(job_model_memory_limit_mb=job_mb, dfa_model_memory_limit_bytes=dfa_bytes)


def _read(client: ClientLike, call: api.Call, key: str, *, stats: bool = False) -> list[Json]:
    """The checked items of one GET (`answers.items_of`)."""
    return items_of(call.path, client.perform(call).body, key, stats=stats)


def _read_pages(
    client: ClientLike, make: Callable[[int, int], api.Call], key: str, *, stats: bool = False
) -> list[Json]:
    """Every checked item of a paged GET.

    One page of Elasticsearch's maximum size (10 000) holds everything that matters here;
    later pages are read if a cluster ever has more.
    """
    page, out = Page(PAGE), []
    while (asked := page.next_size()) > 0:
        call = make(page.start, asked)
        body = client.perform(call).body
        items = items_of(call.path, body, key, stats=stats)
        out += items
        if not page.advance(len(items), page_count(body)):
            break
    return out


@paused_gc()
def read_cluster(client: ClientLike, info: ClusterInfoLike | None = None) -> LiveState:
    """Read every job, datafeed, DFA, filter and calendar with their run states.

    `LiveState.request_count` is the number of HTTP requests the read sent (retries included).

    Raises:
        UnexpectedAnswerError: an answer lacks a field mlsync reads or has another type there.
    """
    state: State = {}
    before = client.request_count

    job_stats = {
        s["job_id"]: s for s in _read(client, api.get_job_stats("_all"), "jobs", stats=True)
    }
    # Jobs are read in full (not `exclude_generated`): that mode also strips Kibana's
    # `custom_settings.created_by`, which an update must re-send because `_update` replaces
    # `custom_settings` whole. The generated fields are dropped by the canonical form.
    embedded: dict[str, Json] = {}
    for body in _read(client, api.get_jobs("_all"), "jobs"):
        ref = Ref.of(Kind.JOB, body["job_id"])
        if isinstance(body.get("datafeed_config"), dict):
            feed = body["datafeed_config"]
            embedded[feed["datafeed_id"]] = feed
        stats = job_stats.get(ref.id, {})
        state[ref] = _live(
            ref=ref,
            body=body,
            state=stats.get("state", "closed"),
            owned=ownership.is_marked(Kind.JOB, body),
            elastic_managed=ownership.is_elastic_managed(Kind.JOB, body),
            facts={
                "model_bytes": (stats.get("model_size_stats") or {}).get("model_bytes"),
                "failure": _failure(stats),
            },
        )
    feed_stats = {
        s["datafeed_id"]: s
        for s in _read(client, api.get_datafeed_stats("_all"), "datafeeds", stats=True)
    }
    # In full as well (the embedded form is): `exclude_generated` drops a `query_delay` equal to
    # the job-id default and an `auto` chunking_config (§2.3), which a manifest may spell out.
    feeds = list(embedded.values())
    if feed_stats.keys() - embedded.keys():
        feeds = _read(client, api.get_datafeeds("_all"), "datafeeds")
    for body in feeds:
        ref = Ref.of(Kind.DATAFEED, body["datafeed_id"])
        job = state.get(Ref.of(Kind.JOB, str(body.get("job_id"))))
        stats = feed_stats.get(ref.id, {})
        state[ref] = _live(
            ref=ref,
            body=body,
            state=stats.get("state", "stopped"),
            owned=bool(job and job.owned),
            elastic_managed=bool(job and job.elastic_managed),
            # Whether it ever searched: tells a finished look-back from one never run (§6.2).
            facts={"search_count": (stats.get("timing_stats") or {}).get("search_count") or 0},
        )

    dfa_stats = {
        s["id"]: s
        for s in _read_pages(
            client,
            lambda f, n: api.get_data_frame_analytics_stats("_all", from_=f, size=n),
            "data_frame_analytics",
            stats=True,
        )
    }
    for body in _read_pages(
        client,
        lambda f, n: api.get_data_frame_analytics("_all", from_=f, size=n, exclude_generated=True),
        "data_frame_analytics",
    ):
        ref = Ref.of(Kind.DFA, body["id"])
        stats = dfa_stats.get(ref.id, {})
        progress = stats.get("progress") or []
        completed = bool(progress) and all(p.get("progress_percent") == 100 for p in progress)
        # It started at least once: its destination index may hold documents (reindexed ones,
        # results), so a replace must empty it (a first start refuses a non-empty one).
        ran = any(int(p.get("progress_percent") or 0) > 0 for p in progress)
        state[ref] = _live(
            ref=ref,
            body=body,
            state=stats.get("state", "stopped"),
            owned=ownership.is_marked(Kind.DFA, body),
            facts={"completed": completed, "ran": ran, "failure": _failure(stats)},
        )
    for body in _read_pages(client, lambda f, n: api.get_filters(None, f, n), "filters"):
        ref = Ref.of(Kind.FILTER, body["filter_id"])
        state[ref] = _live(ref=ref, body=body)
    events: dict[str, list[dict[str, Any]]] = {}
    for event in _read_pages(client, lambda f, n: api.get_calendar_events("_all", f, n), "events"):
        events.setdefault(str(event.get("calendar_id")), []).append(event)
    for body in _read_pages(client, lambda f, n: api.get_calendars(None, f, n), "calendars"):
        ref = Ref.of(Kind.CALENDAR, body["calendar_id"])
        own_events = events.get(ref.id, [])
        event_ids = {
            event_key(canonical_event(e)): e["event_id"] for e in own_events if "event_id" in e
        }
        state[ref] = _live(
            ref=ref, body={**body, "events": own_events}, facts={"event_ids": event_ids}
        )

    found = _read_registry(client)
    owners = found.owners
    for ref in owners.keys() & state.keys():
        state[ref] = state[ref].model_copy(update={"owner": owners[ref]})

    defaults = server_defaults(info)
    canon = _canonical(state, defaults)
    prints = {
        ref: resource_fingerprint(state[ref], defaults, c) for ref, (_, _, c) in canon.items()
    }
    summary = ClusterSummary(
        name=info.cluster_name if info else "",
        uuid=info.cluster_uuid if info else "",
        version=info.version if info else "",
        flavor=info.flavor if info else "",
    )
    return LiveState(
        resources=state,
        cluster=summary,
        job_model_memory_limit_mb=defaults.job_model_memory_limit_mb,
        dfa_model_memory_limit_bytes=defaults.dfa_model_memory_limit_bytes,
        fingerprint=combined_fingerprint(prints),
        fingerprints=prints,
        canonical=canon,
        request_count=client.request_count - before,
        owners=owners,
        restores=found.restores,
    )


def _read_registry(client: ClientLike) -> registry.Registry:
    """The ownership registry, every member in one search.

    A registry made without mlsync's window (by an earlier mlsync, or by hand) refuses a
    search beyond 10 000 hits: it is read again with that size, one request more, until the
    next apply that writes a member raises the window (`registry.settings_calls`).
    """
    try:
        return registry.parse_registry(client.perform(registry.search_call()).body)
    except ApiError as exc:
        if not registry.is_window_refusal(exc.status, exc.reason):
            raise
    answer = client.perform(registry.search_call(registry.PAGE)).body
    return registry.parse_registry(answer, registry.PAGE)


#: The GET each kind of resource is read from (for the error naming a body mlsync cannot use).
_SOURCE_PATH = {
    Kind.JOB: "/_ml/anomaly_detectors",
    Kind.DATAFEED: "/_ml/datafeeds",
    Kind.DFA: "/_ml/data_frame/analytics",
    Kind.FILTER: "/_ml/filters",
    Kind.CALENDAR: "/_ml/calendars",
}


def _canonical(
    state: State, defaults: ServerDefaults
) -> dict[Ref, tuple[Json, ServerDefaults, Json]]:
    """Each resource's canonical body, with the body and defaults it was computed from.

    It makes the fingerprint, and the planner reuses it. A body the canonical form cannot read
    is an answer error: the shapes in `answers` cover every field mlsync reads, and this is the
    backstop for a value inside a free-form part (a query, an aggregation) that the canonical
    form still walks.
    """
    out = {}
    for ref, res in state.items():
        try:
            out[ref] = (res.body, defaults, canonical(ref.kind, res.body, defaults))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise unexpected(_SOURCE_PATH[ref.kind], f"{ref}: {exc}") from None
    return out


def _live(**fields: Any) -> Resource:
    """A live `Resource` from values the answers' shapes have checked already (`answers`).

    Validated like any other: measured, pydantic's validation of these few fields (a shallow
    copy of `body` and `facts`) costs half of what `model_construct` spends on its defaults.
    """
    return Resource(**fields)


def _failure(stats: dict[str, Any]) -> str | None:
    """Why a failed job or DFA failed, from its stats (None unless its state is `failed`).

    DFA stats carry `failure_reason`; otherwise the task's `reason` or `assignment_explanation`.
    """
    if stats.get("state") != "failed":
        return None
    for key in ("failure_reason", "reason", "assignment_explanation"):
        value = stats.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
