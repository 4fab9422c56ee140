"""The lookups every planning stage needs, built once per plan so that no stage scans.

Input: the desired and live `State`s (whole, before targeting). Output: an `Indexes` value
answering "which datafeeds feed job J", "which live jobs use filter F", "which live calendars
list job J", ... in the order a scan would have found them. Pure, no I/O.

Stages that run after targeting keep only the answers still in the plan (`ref in decisions`):
targeting drops resources but never changes one, so the answers stay exact.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from reconciler.model import Kind, Ref, State
from reconciler.plan.inputs import Body
from reconciler.plan.rules import datafeed_job


def filter_ids(job_body: Body) -> set[str]:
    """The filters a job's custom rules use (opening the job fails without them, §1.3.1)."""
    used: set[str] = set()
    for detector in (job_body.get("analysis_config") or {}).get("detectors") or []:
        for rule in detector.get("custom_rules") or []:
            for scope in (rule.get("scope") or {}).values():
                if isinstance(scope, dict) and isinstance(scope.get("filter_id"), str):
                    used.add(scope["filter_id"])
    return used


def _append(index: dict[str, list[Ref]], keys: Iterable[str], ref: Ref) -> None:
    for key in keys:
        index.setdefault(key, []).append(ref)


@dataclass
class Indexes:
    """Lookups over the whole desired and live states; see `build`."""

    #: Datafeed -> job, from both sides, in plan order (a datafeed may move between jobs).
    datafeeds_by_job: dict[str, list[Ref]] = field(default_factory=dict)
    #: Live datafeeds per job, in the live state's order.
    live_datafeeds_by_job: dict[str, list[Ref]] = field(default_factory=dict)
    #: Live jobs whose custom rules use a filter, in plan order.
    live_jobs_by_filter: dict[str, list[Ref]] = field(default_factory=dict)
    #: Live calendars listing a job, in the live state's order.
    live_calendars_by_job: dict[str, list[Ref]] = field(default_factory=dict)
    #: Position of each live calendar in the live state (to restore that order).
    live_calendar_order: dict[Ref, int] = field(default_factory=dict)
    live_job_ids: set[str] = field(default_factory=set)
    live_groups: set[str] = field(default_factory=set)
    live_filter_ids: set[str] = field(default_factory=set)
    #: Filters used per desired job (the job's body never changes during planning).
    desired_filters_of_job: dict[Ref, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, desired: State, live: State) -> Indexes:
        """Index both states in one pass each, then put the lists in plan order.

        Each list holds refs of one kind, whose plan order is their id order, so sorting a
        list by id gives the order a walk of the whole plan would have found them in.
        """
        idx = cls()
        for ref, res in live.items():
            kind = ref.kind
            if kind is Kind.DATAFEED:
                job = datafeed_job(res)
                if job is not None:
                    idx.live_datafeeds_by_job.setdefault(job, []).append(ref)
                    # A datafeed moving to another job is listed under both jobs.
                    if job != datafeed_job(desired.get(ref)):
                        idx.datafeeds_by_job.setdefault(job, []).append(ref)
            elif kind is Kind.JOB:
                idx.live_job_ids.add(ref.id)
                idx.live_groups.update(res.body.get("groups") or ())
                _append(idx.live_jobs_by_filter, filter_ids(res.body), ref)
            elif kind is Kind.FILTER:
                idx.live_filter_ids.add(ref.id)
            elif kind is Kind.CALENDAR:
                idx.live_calendar_order[ref] = len(idx.live_calendar_order)
                _append(idx.live_calendars_by_job, set(res.body.get("job_ids") or ()), ref)
        for ref, res in desired.items():
            kind = ref.kind
            if kind is Kind.DATAFEED:
                job = datafeed_job(res)
                if job is not None:
                    idx.datafeeds_by_job.setdefault(job, []).append(ref)
            elif kind is Kind.JOB:
                idx.desired_filters_of_job[ref] = filter_ids(res.body)
        for refs in (*idx.datafeeds_by_job.values(), *idx.live_jobs_by_filter.values()):
            refs.sort(key=attrgetter("id"))
        return idx

    def datafeeds_of(self, job_id: str, present: Container[Ref]) -> list[Ref]:
        """Datafeeds naming `job_id` on either side, in plan order; only those in `present`."""
        return [f for f in self.datafeeds_by_job.get(job_id, ()) if f in present]
