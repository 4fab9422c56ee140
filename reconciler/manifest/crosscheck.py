"""Checks across all manifests: duplicate ids, datafeed -> job, rule scope -> filter, calendars.

Input: every validated declaration (`Declaration`). Output: located problems for the
conflicts and the `Reference`s that only the cluster can satisfy (checked at plan time).
No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reconciler.errors import Diagnostic
from reconciler.manifest.checks_datafeed import check_datafeed_against_job
from reconciler.manifest.manifest_set import Reference
from reconciler.manifest.source import Document, Path
from reconciler.manifest.spec_datafeed import DatafeedSpec
from reconciler.manifest.spec_filter_calendar import CalendarSpec
from reconciler.manifest.spec_job import JobSpec
from reconciler.model import Kind, Ref, SourceLocation

__all__ = ["Declaration", "cross_check"]


@dataclass(frozen=True)
class Declaration:
    """One resource as declared in a document, with what the cross-checks need."""

    ref: Ref
    doc: Document
    #: Path of the resource's envelope in the document: () or ("datafeed",) for inline ones.
    base: Path
    #: Path of the id (for duplicate-id messages).
    id_path: Path
    #: Path of the Elasticsearch body in the document.
    body_path: Path
    job: JobSpec | None = None
    datafeed: DatafeedSpec | None = None
    #: For datafeeds: the job they feed and where that is written.
    job_id: str | None = None
    job_id_path: Path = ()
    calendar: CalendarSpec | None = None
    #: The declared run state (`state:`), and where it is written.
    state: str | None = None
    state_path: Path = ()
    #: From a document the schema rejected in part: its bodies miss the rejected values, so
    #: checks that read the job's settings would be guesses.
    partial: bool = False


def _diagnostic(doc: Document, path: Path, message: str, *, key: bool = False) -> Diagnostic:
    line, column = doc.locate(path, key=key)
    return Diagnostic(file=doc.file, line=line, column=column, message=message)


def _where(decl: Declaration) -> str:
    line, _ = decl.doc.locate(decl.id_path)
    return f"{decl.doc.file}:{line}"


def _location(decl: Declaration, path: Path) -> SourceLocation:
    line, column = decl.doc.locate(path)
    return SourceLocation(file=decl.doc.file, line=line, column=column)


def cross_check(
    declarations: Sequence[Declaration],
) -> tuple[list[Diagnostic], list[Reference]]:
    """Run every cross-file check.

    Args:
        declarations: All declarations, in file order.

    Returns:
        The diagnostics and the references left for the planner.
    """
    diagnostics: list[Diagnostic] = []
    references: list[Reference] = []
    first: dict[Ref, Declaration] = {}
    for decl in declarations:
        if decl.ref in first:
            other = first[decl.ref]
            diagnostics.append(
                _diagnostic(
                    decl.doc,
                    decl.id_path,
                    f"duplicate {decl.ref.kind.value} id '{decl.ref.id}': already declared at "
                    f"{_where(other)}; ids must be unique",
                )
            )
        else:
            first[decl.ref] = decl
    jobs = {d.ref.id: d for d in first.values() if d.ref.kind is Kind.JOB and d.job is not None}
    groups: set[str] = set()
    for job in jobs.values():
        assert job.job is not None
        for i, group in enumerate(job.job.groups or []):
            groups.add(group)
            if group in jobs:
                diagnostics.append(
                    _diagnostic(
                        job.doc,
                        (*job.body_path, "groups", i),
                        f"job and group names must be unique but job [{group}] and group "
                        f"[{group}] have the same name",
                    )
                )
    feeds: dict[str, Declaration] = {}
    for decl in first.values():
        if decl.ref.kind is Kind.DATAFEED and decl.job_id is not None:
            diagnostics += _check_feed(decl, feeds, jobs, references)
        if decl.job is not None:
            references += _filter_references(decl, first)
        if decl.calendar is not None:
            references += _calendar_references(decl, jobs, groups)
    return diagnostics, references


def _check_feed(
    decl: Declaration,
    feeds: dict[str, Declaration],
    jobs: dict[str, Declaration],
    references: list[Reference],
) -> list[Diagnostic]:
    assert decl.job_id is not None and decl.datafeed is not None
    diagnostics: list[Diagnostic] = []
    job_id = decl.job_id
    if job_id in feeds:
        other = feeds[job_id]
        # PUT of a second datafeed for a job -> 409 (es-ml-api.md §2.5).
        diagnostics.append(
            _diagnostic(
                decl.doc,
                decl.id_path,
                f"A datafeed [{other.ref.id}] already exists for job [{job_id}] (declared at "
                f"{_where(other)}); a job can have only one datafeed",
            )
        )
    else:
        feeds[job_id] = decl
    job = jobs.get(job_id)
    if job is None or job.job is None:
        references.append(
            Reference(
                source=_location(decl, decl.job_id_path),
                from_ref=decl.ref,
                target_kind="job",
                target_id=job_id,
            )
        )
        return diagnostics
    against = (
        []
        if decl.partial or job.partial
        else check_datafeed_against_job(decl.datafeed, decl.body_path, job.job)
    )
    for problem in against:
        diagnostics.append(_diagnostic(decl.doc, problem.path, problem.message, key=problem.at_key))
    if decl.state == "started" and job.state is not None and job.state != "opened":
        # A datafeed runs only while its job is open: starting it is a 409 (the plan would
        # refuse too; here validate and pre-commit see it without a cluster).
        diagnostics.append(
            _diagnostic(
                decl.doc,
                decl.state_path,
                f"datafeed {decl.ref.id} is declared `state: started` but its job {job_id} "
                f"is declared `state: {job.state}` (at {_where(job)}); a datafeed runs only "
                f"while its job is open: declare the job `state: opened` or the datafeed "
                "`state: stopped`",
            )
        )
    return diagnostics


def _filter_references(decl: Declaration, known: dict[Ref, Declaration]) -> list[Reference]:
    assert decl.job is not None
    references: list[Reference] = []
    seen: set[str] = set()
    for i, detector in enumerate(decl.job.analysis_config.detectors):
        for j, rule in enumerate(detector.custom_rules or []):
            for field, ref in (rule.scope or {}).items():
                target = ref.filter_id
                if Ref(kind=Kind.FILTER, id=target) in known or target in seen:
                    continue
                seen.add(target)
                path = (
                    *decl.body_path, "analysis_config", "detectors", i,
                    "custom_rules", j, "scope", field, "filter_id",
                )  # fmt: skip
                references.append(
                    Reference(
                        source=_location(decl, path),
                        from_ref=decl.ref,
                        target_kind="filter",
                        target_id=target,
                    )
                )
    return references


def _calendar_references(
    decl: Declaration, jobs: dict[str, Declaration], groups: set[str]
) -> list[Reference]:
    assert decl.calendar is not None
    references: list[Reference] = []
    kind: Literal["job_or_group"] = "job_or_group"
    for i, job_id in enumerate(decl.calendar.job_ids or []):
        # `_all` applies the calendar to every job (es-ml-api.md §4.2).
        if job_id == "_all" or job_id in jobs or job_id in groups:
            continue
        references.append(
            Reference(
                source=_location(decl, (*decl.body_path, "job_ids", i)),
                from_ref=decl.ref,
                target_kind=kind,
                target_id=job_id,
            )
        )
    return references
