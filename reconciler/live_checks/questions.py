"""Which read-only questions to ask the cluster about a plan's changes (the live checks' stage 1).

Input: a `Plan`, the desired resources and the `LiveState` it was computed from. Output: a
`Survey`: one subject per resource the plan creates or changes (no-ops and deletes ask
nothing), the calls to send in the first round, keyed by what they answer, and the checks that
cannot be made. `previews` gives the second round (a datafeed preview only where its indices
resolved). Pure, no I/O.

Requests are batched: one index resolution and one field-capabilities call per distinct set of
datafeed indices (with its runtime mappings), one `_validate` and at most one
`_estimate_model_memory` per changed job, one `_explain` and at most one `_count` (destination)
per changed DFA. The `_ml/info` limits come from the preflight, which read them already.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.client import api
from reconciler.model import Action, Call, Change, Kind, LiveState, Plan, Ref, Resource
from reconciler.model import SourceLocation as Source

#: Actions that change nothing on the cluster the checks could be about.
_IDLE = (Action.NOOP, Action.DELETE)
#: Run states after which the resource runs (start-time refusals then fail the plan).
_RUNNING = ("started", "starting", "opened", "opening")
#: Detector fields that name an index field (`mlcategory` is the categorizer's, not the data's).
_DETECTOR_FIELDS = ("field_name", "by_field_name", "over_field_name", "partition_field_name")
_SPLIT_FIELDS = ("by_field_name", "over_field_name", "partition_field_name")


@dataclass(frozen=True)
class FeedCheck:
    """A datafeed and its job: do the indices exist, and are the job's fields in them?"""

    ref: Ref
    job: Ref
    source: Source | None
    runs: bool
    group: str
    indices: tuple[str, ...]
    #: (field, where the job names it), e.g. ("bytes", "detectors[0].field_name").
    fields: tuple[tuple[str, str], ...]
    time_field: str
    #: Fields the datafeed itself defines (script_fields; runtime_mappings are in the answer).
    defined: frozenset[str]
    #: With aggregations the job's fields are aggregation names, not index fields.
    aggregated: bool
    ignore_unavailable: bool
    preview: dict[str, Any]


@dataclass(frozen=True)
class JobCheck:
    """An anomaly detection job: would the PUT be accepted, and does its limit fit?"""

    ref: Ref
    source: Source | None
    opens: bool
    lazy: bool
    limit: str | int | None
    estimate: bool


@dataclass(frozen=True)
class DfaCheck:
    """A data frame analytics job: source, analysable fields, memory, destination."""

    ref: Ref
    source: Source | None
    runs: bool
    creates: bool
    limit: str | None
    dest: str | None


@dataclass(frozen=True)
class Survey:
    """What the live checks ask, and about whom."""

    feeds: tuple[FeedCheck, ...] = ()
    jobs: tuple[JobCheck, ...] = ()
    dfas: tuple[DfaCheck, ...] = ()
    #: key -> call of the first round (`resolve:g0`, `caps:g0`, `validate:<job>`, ...).
    questions: dict[str, Call] = field(default_factory=dict)
    #: Check kinds the questions belong to, for the plan's record.
    checks: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _key(kind: str, ref: Ref | str) -> str:
    return f"{kind}:{ref.id if isinstance(ref, Ref) else ref}"


def _runs(change: Change | None, desired: Resource | None, live: Resource | None) -> bool:
    """Whether the resource runs once the plan is applied (its start-time checks then count)."""
    if change is not None and change.state_after:
        state: str | None = change.state_after
    elif desired is not None and desired.state:
        state = desired.state
    else:
        state = live.state if live is not None else None
    return state in _RUNNING


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def job_fields(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every index field a job body names, with where it names it."""
    analysis = body.get("analysis_config") or {}
    out: list[tuple[str, str]] = []
    for n, detector in enumerate(analysis.get("detectors") or []):
        if not isinstance(detector, dict):
            continue
        for name in _DETECTOR_FIELDS:
            value = detector.get(name)
            if isinstance(value, str) and value and value != "mlcategory":
                out.append((value, f"detectors[{n}].{name}"))
    for value in _strings(analysis.get("influencers")):
        if value != "mlcategory":
            out.append((value, "influencers"))
    for name in ("categorization_field_name", "summary_count_field_name"):
        value = analysis.get(name)
        if isinstance(value, str) and value:
            out.append((value, name))
    return out


def time_field(job: Mapping[str, Any]) -> str:
    """The job's time field (Elasticsearch's default is `time`)."""
    description = job.get("data_description") or {}
    value = description.get("time_field") if isinstance(description, dict) else None
    return value if isinstance(value, str) and value else "time"


def needs_cardinalities(body: Mapping[str, Any]) -> bool:
    """`_estimate_model_memory` needs field cardinalities for split fields and pure influencers."""
    analysis = body.get("analysis_config") or {}
    split: set[str] = set()
    for detector in analysis.get("detectors") or []:
        if isinstance(detector, dict):
            split |= {v for k in _SPLIT_FIELDS if isinstance(v := detector.get(k), str) and v} - {
                "mlcategory"
            }
    influencers = set(_strings(analysis.get("influencers"))) - {"mlcategory"}
    return bool(split or influencers)


def _memory_limit(body: Mapping[str, Any]) -> Any:
    limits = body.get("analysis_limits")
    return limits.get("model_memory_limit") if isinstance(limits, dict) else None


def _deleted_paths(plan: Plan) -> set[tuple[Ref, str]]:
    """Each resource's DELETE calls, by path: what the plan empties itself.

    A DFA replace deletes the old destination first. One pass over the steps, not one per DFA.
    """
    return {(s.ref, s.call.path.strip("/")) for s in plan.steps if s.call.method == "DELETE"}


def survey(plan: Plan, desired: Sequence[Resource], live: LiveState) -> Survey:
    """The subjects and first-round questions for `plan` (empty for a plan without changes)."""
    wanted = {r.ref: r for r in desired}
    changes = {c.ref: c for c in plan.changes if c.action not in _IDLE}
    if not changes:
        return Survey()
    state = live.resources
    # What the plan deletes, computed once: looked up per datafeed and per DFA below.
    deleted, deleted_paths = plan_deletes(plan), _deleted_paths(plan)
    questions: dict[str, Call] = {}
    checks: set[str] = set()
    skipped: list[str] = []

    def body_of(ref: Ref) -> dict[str, Any] | None:
        res = wanted.get(ref) or state.get(ref)
        return dict(res.body) if res is not None else None

    # ------------------------------------------------------------------ datafeeds and fields
    feeds_of_job: dict[Ref, Ref] = {}
    for each in [*state.values(), *desired]:  # desired last: it wins
        if each.ref.kind is Kind.DATAFEED and isinstance(each.body.get("job_id"), str):
            feeds_of_job[Ref(kind=Kind.JOB, id=each.body["job_id"])] = each.ref
    feed_refs = {r for r in changes if r.kind is Kind.DATAFEED}
    feed_refs |= {feeds_of_job[r] for r in changes if r.kind is Kind.JOB and r in feeds_of_job}
    groups: dict[str, str] = {}
    group_fields: dict[str, set[str]] = {}
    group_calls: dict[str, tuple[list[str], Any]] = {}
    feeds: list[FeedCheck] = []
    for ref in sorted(feed_refs, key=lambda r: r.id):
        feed = body_of(ref)
        if feed is None or (ref in changes and changes[ref].action is Action.DELETE):
            continue
        job_ref = Ref(kind=Kind.JOB, id=str(feed.get("job_id")))
        job = body_of(job_ref)
        if job is None or job_ref in deleted:
            continue
        indices = [i for i in _strings(feed.get("indices") or feed.get("indexes")) if i]
        local = [i for i in indices if ":" not in i]  # remote clusters are not resolvable here
        if len(local) < len(indices):
            skipped.append(f"{ref}: indices on remote clusters are not checked")
        if not local:
            continue
        runtime = feed.get("runtime_mappings") or None
        canonical = json.dumps([sorted(local), runtime], sort_keys=True, default=str)
        group = groups.setdefault(canonical, f"g{len(groups)}")
        group_calls[group] = (sorted(local), runtime)
        aggregated = bool(feed.get("aggregations") or feed.get("aggs"))
        fields = [] if aggregated else job_fields(job)
        when = time_field(job)
        group_fields.setdefault(group, set()).update(
            [f for f, _ in fields] + ([] if aggregated else [when])
        )
        options = feed.get("indices_options") or {}
        change = changes.get(ref)
        feed_body = {**feed, "job_id": job_ref.id}
        feed_body.pop("datafeed_id", None)
        feeds.append(
            FeedCheck(
                ref=ref,
                job=job_ref,
                source=_source(wanted.get(ref) or wanted.get(job_ref)),
                runs=_runs(change, wanted.get(ref), state.get(ref)),
                group=group,
                indices=tuple(local),
                fields=tuple(fields),
                time_field=when,
                defined=frozenset((feed.get("script_fields") or {}).keys()),
                aggregated=aggregated,
                ignore_unavailable=bool(
                    isinstance(options, dict) and options.get("ignore_unavailable")
                ),
                preview={
                    "datafeed_config": feed_body,
                    "job_config": {**job, "job_id": job_ref.id},
                },
            )
        )
    for group, (indices, runtime) in group_calls.items():
        questions[_key("resolve", group)] = api.resolve_index(indices)
        checks.add("index_resolution")
        if group_fields.get(group):
            questions[_key("caps", group)] = api.field_caps(
                indices, sorted(group_fields[group]), runtime
            )
            checks.add("field_caps")

    # ------------------------------------------------------------------ jobs
    jobs: list[JobCheck] = []
    for ref in sorted((r for r in changes if r.kind is Kind.JOB), key=lambda r: r.id):
        res = wanted.get(ref)
        if res is None:
            continue
        body = {**res.body, "job_id": ref.id}
        questions[_key("validate", ref)] = api.validate_job(body)
        checks.update(("job_validate", "ml_info_limits"))
        estimate = isinstance(body.get("analysis_config"), dict) and not needs_cardinalities(body)
        if estimate:
            questions[_key("estimate", ref)] = api.estimate_model_memory(
                {"analysis_config": body["analysis_config"]}
            )
            checks.add("estimate_model_memory")
        else:
            skipped.append(
                f"{ref}: model memory estimate not made (it needs the cardinality of the "
                "job's split fields and influencers)"
            )
        jobs.append(
            JobCheck(
                ref=ref,
                source=res.source,
                opens=_runs(changes[ref], res, state.get(ref)),
                lazy=bool(body.get("allow_lazy_open")),
                limit=_memory_limit(body),
                estimate=estimate,
            )
        )

    # ------------------------------------------------------------------ data frame analytics
    dfas: list[DfaCheck] = []
    for ref in sorted((r for r in changes if r.kind is Kind.DFA), key=lambda r: r.id):
        res = wanted.get(ref)
        if res is None:
            continue
        body = dict(res.body)
        explain = {k: v for k, v in body.items() if k not in ("description", "_meta", "headers")}
        questions[_key("explain", ref)] = api.explain_data_frame_analytics(None, explain)
        checks.update(("dfa_explain", "ml_info_limits"))
        dest_body = body.get("dest")
        dest = dest_body.get("index") if isinstance(dest_body, dict) else None
        creates = changes[ref].action in (Action.CREATE, Action.REPLACE)
        if isinstance(dest, str) and dest and creates and (ref, dest) not in deleted_paths:
            questions[_key("dest", ref)] = api.count(dest)
            checks.add("dfa_dest_index")
        limit = body.get("model_memory_limit")
        dfas.append(
            DfaCheck(
                ref=ref,
                source=res.source,
                runs=_runs(changes[ref], res, state.get(ref)),
                creates=creates,
                limit=str(limit) if isinstance(limit, str | int) else None,
                dest=dest if isinstance(dest, str) and _key("dest", ref) in questions else None,
            )
        )
    return Survey(
        feeds=tuple(feeds),
        jobs=tuple(jobs),
        dfas=tuple(dfas),
        questions=questions,
        checks=tuple(sorted(checks)),
        skipped=tuple(skipped),
    )


def plan_deletes(plan: Plan) -> set[Ref]:
    """Resources the plan deletes for good."""
    return {c.ref for c in plan.changes if c.action is Action.DELETE}


def _source(res: Resource | None) -> Source | None:
    return res.source if res is not None else None


def previews(survey: Survey, indices_found: Mapping[str, Iterable[str]]) -> dict[str, Call]:
    """Second round: preview each checked datafeed whose indices resolved to at least one index.

    The preview takes the desired datafeed and job bodies (`datafeed_config` + `job_config`), so
    it works before either exists, and reads what the datafeed's search would return.
    """
    out: dict[str, Call] = {}
    for feed in survey.feeds:
        if list(indices_found.get(feed.group, ())):
            out[_key("preview", feed.ref)] = api.preview_datafeed(None, feed.preview)
    return out
