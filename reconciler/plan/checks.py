"""Stage 0, checks: refuse to plan what cannot be applied.

Input: a `Context` (whole desired and live states, references, options). Output: nothing, or
a `PlanError` listing every problem (references to nothing, Elastic-managed resources in the
manifests or their datafeeds, datafeeds that cannot run or cannot coexist; after the
decisions: a pruned job that a declared calendar still lists). Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.errors import PlanError
from reconciler.model import Action, Kind, Ref, Resource
from reconciler.plan.context import Context, Decision
from reconciler.plan.rules import datafeed_job, prunable, run_state


def check(ctx: Context) -> None:
    """Raise `PlanError` with every problem found; return when there are none."""
    problems: list[str] = []
    idx = ctx.index
    for reference in ctx.references:
        target = reference.target_id
        if reference.target_kind == "filter":
            ok = target in idx.live_filter_ids
            what = f"filter '{target}'"
        elif reference.target_kind == "job":
            ok = target in idx.live_job_ids
            what = f"job '{target}'"
        else:
            ok = target == "_all" or target in idx.live_job_ids or target in idx.live_groups
            what = f"job or group '{target}'"
        if not ok:
            problems.append(
                f"{reference.source}: {reference.from_ref} refers to {what}, which exists "
                "neither in the manifests nor on the cluster; declare it or fix the reference"
            )
    for ref, res in ctx.desired.items():
        live = ctx.live.get(ref)
        if live is not None and live.elastic_managed:
            problems.append(
                f"{res.source or ref}: {ref} is managed by Elastic (custom_settings.managed: "
                f"true); mlsync never modifies it — remove it from the manifests"
            )
        foreign = ctx.ownership.foreign_problem(ref, res.source)
        if foreign:
            problems.append(foreign)
        kind_check = CHECKS[ref.kind]
        if kind_check is not None:
            problems += kind_check(ctx, ref, res)
    if problems:
        raise PlanError("cannot plan:\n  " + "\n  ".join(problems))


def _check_datafeed(ctx: Context, ref: Ref, res: Resource) -> list[str]:
    """A desired datafeed must be able to run and to exist next to its job's other datafeeds."""
    problems = []
    where = res.source or ref
    job_id = datafeed_job(res) or ""
    job_ref = Ref.of(Kind.JOB, job_id)
    job, live_job = ctx.desired.get(job_ref), ctx.live.get(job_ref)
    # The job's state once applied: declared, else as it is now, else closed (a new job).
    job_state = job.state if job and job.state else None
    if job_state is None:
        job_state = run_state(Kind.JOB, live_job.state) if live_job else "closed"
    if live_job is not None and live_job.elastic_managed:
        problems.append(
            f"{where}: {ref} feeds job {job_id}, which is managed by Elastic "
            "(custom_settings.managed: true); mlsync never adds to or modifies such a job: "
            "remove the datafeed from the manifests"
        )
    if res.state == "started" and job_state != "opened":
        problems.append(
            f"{where}: {ref} should be started but its job {job_id} will be {job_state}; a "
            "datafeed runs only while its job is open: add `state: "
            f"opened` to job {job_id}"
        )
    prune = ctx.options.prune
    own = ctx.ownership
    if job is None and live_job is not None and prune and prunable(live_job, ctx.live, own):
        problems.append(
            f"{where}: {ref} feeds job {job_id}, which --prune would delete because no "
            "manifest declares it; declare the job or remove the datafeed"
        )
    for other_ref in ctx.index.live_datafeeds_by_job.get(job_id, ()):
        # A live datafeed of the job that no manifest declares (so never `ref` itself).
        if other_ref not in ctx.desired and not (
            prune and prunable(ctx.live[other_ref], ctx.live, own)
        ):
            # One datafeed per job (es-ml-api.md §2.5): the PUT would be a 409.
            problems.append(
                f"{where}: job {job_id} already has datafeed {other_ref.id} on the cluster; "
                "a job has one datafeed: declare that one instead, or remove it (mlsync "
                "apply --prune removes it when this scope owns it)"
            )
    return problems


#: Per kind: the problems a desired resource of that kind can have on its own, or None.
CHECKS: dict[Kind, Callable[[Context, Ref, Resource], list[str]] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: None,
    Kind.DATAFEED: _check_datafeed,
    Kind.DFA: None,
}


def check_decisions(ctx: Context) -> None:
    """Refuse decisions whose outcome the next plan would reject (after decide and cascade).

    Raises `PlanError` listing every problem `DECISION_CHECKS` finds.
    """
    problems: list[str] = []
    for ref, d in ctx.decisions.items():
        kind_check = DECISION_CHECKS[ref.kind]
        if kind_check is not None:
            problems += kind_check(ctx, d)
    if problems:
        raise PlanError("cannot plan:\n  " + "\n  ".join(problems))


def _check_calendar_decision(ctx: Context, d: Decision) -> list[str]:
    """A declared calendar must not list a job --prune deletes.

    Deleting a job removes it from every calendar (es-ml-api.md §1.7): on the next plan the
    calendar would list a job that exists nowhere.
    """
    if d.desired is None:
        return []
    problems = []
    for job_id in d.desired.body.get("job_ids") or []:
        job = ctx.decisions.get(Ref.of(Kind.JOB, str(job_id)))
        if job is not None and job.action is Action.DELETE and job.desired is None:
            problems.append(
                f"{d.desired.source or d.ref}: calendar {d.ref.id} lists job {job_id}, which "
                "--prune would delete; remove it from the calendar's job_ids (or declare "
                "the job)"
            )
    return problems


#: Per kind: the problems a decided resource of that kind can have once every resource is
#: decided (and cascaded), or None.
DECISION_CHECKS: dict[Kind, Callable[[Context, Decision], list[str]] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: _check_calendar_decision,
    Kind.JOB: None,
    Kind.DATAFEED: None,
    Kind.DFA: None,
}
