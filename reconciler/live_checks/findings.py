"""Classify the cluster's answers to the live checks (the checks' stage 3).

Input: a `Survey` (what was asked, about whom), the `Answer`s by key, the cluster's ML limits
(`_ml/info`, read by the preflight) and its default memory limits. Output: `Finding`s, each an
error (Elasticsearch would refuse the PUT, or refuse the start of a resource the plan leaves
running) or a warning (it would work poorly, or a start-time refusal of a resource that stays
stopped/closed, or a check that could not be made). Pure, no I/O.

The answers are untrusted: each is checked against the shape Elasticsearch documents before
it is read (FieldCapabilitiesResponse, ResolveIndexAction.Response, the estimate and explain
responses), and an answer of another shape is an `UnexpectedAnswerError`, never a traceback
or a silently passed check.

What Elasticsearch does, per finding:
- a concrete datafeed index that does not exist, or patterns matching nothing: the start is
  refused (DatafeedNodeSelector; DataExtractorFactory "no index matches");
- a job field with no mapping in the datafeed's indices, or a time field that cannot be
  aggregated: the start is refused (ExtractedFields "cannot retrieve field [f] because it has no
  mappings", TimeBasedExtractedFields);
- `_validate` refusing the job body, or a memory limit above `max_model_memory_limit`: the PUT
  is refused (TransportPutJobAction, AnalysisLimits);
- a limit above `effective_max_model_memory_limit`: no ML node can hold the job, so opening it
  fails unless it may wait for one (`allow_lazy_open`);
- a memory limit below the estimate: the job runs but hits its hard limit (AD) or spills to
  disk (DFA): works poorly;
- a DFA source index that does not exist: the PUT is refused (SourceDestValidator); no
  analysable field, or a destination index with documents: the first start is refused
  (TransportStartDataFrameAnalyticsAction checkDestIndexIsEmptyIfExists).
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from reconciler.answers import unexpected
from reconciler.live_checks.questions import DfaCheck, FeedCheck, JobCheck, Survey
from reconciler.model import Ref, SourceLocation
from reconciler.units import model_memory_limit_mb, parse_byte_size

Severity = Literal["error", "warning"]
MB = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """The answer to one question: `status` 0 when no HTTP answer came back."""

    status: int
    body: Any = None
    error_type: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Finding:
    """One thing Elasticsearch would refuse, or that would work poorly."""

    ref: Ref
    source: SourceLocation | None
    severity: Severity
    what: str
    fix: str

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"{self.ref}{where}: {self.what}; {self.fix}"


@dataclass(frozen=True)
class Limits:
    """The cluster's memory limits (`_ml/info.limits`) and defaults, in bytes."""

    max_bytes: int | None = None
    effective_max_bytes: int | None = None
    job_default_mb: int = 1024
    dfa_default_bytes: int = 1024**3


def limits(
    max_limit: str | None,
    effective_max: str | None,
    *,
    job_default_mb: int = 1024,
    dfa_default_bytes: int = 1024**3,
) -> Limits:
    """`Limits` from the `_ml/info` strings (untrusted: a non-size value is an answer error)."""

    def size(name: str, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return parse_byte_size(value)
        except (TypeError, ValueError):
            raise unexpected("/_ml/info", f"limits.{name} is {value!r}, not a byte size") from None

    return Limits(
        size("max_model_memory_limit", max_limit),
        size("effective_max_model_memory_limit", effective_max),
        job_default_mb,
        dfa_default_bytes,
    )


# ----------------------------------------------------------------------------- answer shapes


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Named(_Shape):
    name: StrictStr


class _Resolved(_Shape):
    indices: list[_Named] = []
    aliases: list[_Named] = []
    data_streams: list[_Named] = []


class _Cap(_Shape):
    type: StrictStr
    searchable: StrictBool = False
    aggregatable: StrictBool = False


class _Caps(_Shape):
    indices: list[StrictStr]
    fields: dict[str, dict[str, _Cap]]


class _Estimate(_Shape):
    model_memory_estimate: StrictStr


class _Selected(_Shape):
    field: StrictStr
    is_included: StrictBool


class _Memory(_Shape):
    expected_memory_without_disk: StrictStr


class _Explain(_Shape):
    field_selection: list[_Selected]
    memory_estimation: _Memory


class _Count(_Shape):
    count: StrictInt


def _read(shape: type[_Shape], answer: Answer, what: str) -> Any:
    try:
        return shape.model_validate(answer.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise unexpected(what, f"{where}: {first['msg']}") from None


def _size(value: str, what: str) -> int:
    try:
        return parse_byte_size(value)
    except (TypeError, ValueError):
        raise unexpected(what, f"{value!r} is not a byte size") from None


def _mb(size: int) -> str:
    return f"{-(-size // MB)}mb"


# ----------------------------------------------------------------------------- classifying


class _Out:
    """Collects findings; `start` is an error only for what the plan leaves running."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def put(self, ref: Ref, source: SourceLocation | None, what: str, fix: str) -> None:
        self.items.append(Finding(ref, source, "error", what, fix))

    def poor(self, ref: Ref, source: SourceLocation | None, what: str, fix: str) -> None:
        self.items.append(Finding(ref, source, "warning", what, fix))

    def start(
        self, ref: Ref, source: SourceLocation | None, runs: bool, what: str, fix: str
    ) -> None:
        if runs:
            self.put(ref, source, what, fix)
        else:
            self.poor(ref, source, f"{what} (it stays stopped, so this only warns)", fix)

    def unanswered(self, ref: Ref, source: SourceLocation | None, check: str, a: Answer) -> None:
        why = f"{a.status} {a.error_type}: {a.reason}" if a.status else a.reason
        self.poor(ref, source, f"the {check} check could not be made ({why})", "check by hand")


def classify(survey: Survey, answers: Mapping[str, Answer], cluster: Limits) -> list[Finding]:
    """Every finding of the live checks, in subject order."""
    out = _Out()
    for feed in survey.feeds:
        before = len(out.items)
        _feed(out, feed, answers)
        if len(out.items) == before:  # a preview fails for the same reasons: say it once
            _preview(out, feed, answers)
    for job in survey.jobs:
        _job(out, job, answers, cluster)
    for dfa in survey.dfas:
        _dfa(out, dfa, answers, cluster)
    return out.items


def found_indices(survey: Survey, answers: Mapping[str, Answer]) -> dict[str, list[str]]:
    """Per index group, the names its resolution found (a group that failed maps to [])."""
    out: dict[str, list[str]] = {}
    for group in {f.group for f in survey.feeds}:
        answer = answers.get(f"resolve:{group}")
        if answer is None or not answer.ok:
            out[group] = []
            continue
        out[group] = sorted(_names(_read(_Resolved, answer, _GROUP_CALLS["resolve"])))
    return out


#: What each batched question of a datafeed's index set reads (for answer errors).
_GROUP_CALLS = {"resolve": "GET /_resolve/index", "caps": "GET /_field_caps"}


def _answered(
    out: _Out,
    feed: FeedCheck,
    answers: Mapping[str, Answer],
    kind: str,
    check: str,
    shape: type[_Shape],
) -> Any:
    """The checked body of the feed's `kind` answer; None (and a warning) when there is none."""
    answer = answers.get(f"{kind}:{feed.group}")
    if answer is None:
        return None
    if not answer.ok:
        out.unanswered(feed.ref, feed.source, check, answer)
        return None
    return _read(shape, answer, _GROUP_CALLS[kind])


def _names(resolved: _Resolved) -> set[str]:
    return {n.name for n in [*resolved.indices, *resolved.aliases, *resolved.data_streams]}


def _feed(out: _Out, feed: FeedCheck, answers: Mapping[str, Answer]) -> None:
    ref, source, runs = feed.ref, feed.source, feed.runs
    resolved = _answered(out, feed, answers, "resolve", "index resolution", _Resolved)
    if resolved is None:
        return
    names = _names(resolved)
    concrete = [i for i in feed.indices if "*" not in i and not i.startswith("-")]
    missing = [i for i in concrete if i not in names]
    if missing and not feed.ignore_unavailable:
        listed = ", ".join(missing)
        noun = "index" if len(missing) == 1 else "indices"
        verb = "does" if len(missing) == 1 else "do"
        out.start(
            ref,
            source,
            runs,
            f"{noun} {listed} {verb} not exist, so Elasticsearch would refuse to start the "
            "datafeed",
            "create the index (or load its data) first, or correct the datafeed's indices",
        )
        return
    matched = [
        i
        for i in feed.indices
        if not i.startswith("-") and any(fnmatch.fnmatchcase(n, i) for n in names)
    ]
    if not matched:
        out.start(
            ref,
            source,
            runs,
            f"no index matches {', '.join(feed.indices)}, so the datafeed could not retrieve "
            "any data and Elasticsearch would refuse to start it",
            "create a matching index first, or correct the datafeed's indices",
        )
        return
    if feed.aggregated:
        return
    caps = _answered(out, feed, answers, "caps", "field mapping", _Caps)
    if caps is None:
        return
    where = ", ".join(feed.indices)

    def mapped(name: str) -> dict[str, _Cap]:
        return {t: c for t, c in caps.fields.get(name, {}).items() if t != "unmapped"}

    for name, role in feed.fields:
        if name in feed.defined or mapped(name):
            continue
        out.start(
            ref,
            source,
            runs,
            f"field {name} ({role} of job {feed.job.id}) has no mapping in {where}, so "
            "Elasticsearch would refuse to start the datafeed",
            "map the field in the indices, define it in the datafeed's runtime_mappings or "
            "script_fields, or correct the job",
        )
    if feed.time_field in feed.defined:
        return
    time_caps = mapped(feed.time_field)
    if not time_caps:
        out.start(
            ref,
            source,
            runs,
            f"time field {feed.time_field} (data_description.time_field of job {feed.job.id}) "
            f"has no mapping in {where}, so Elasticsearch would refuse to start the datafeed",
            "map it as a date in the indices, or set the job's time_field to the field that "
            "holds the event time",
        )
    elif not all(c.aggregatable for c in time_caps.values()):
        out.start(
            ref,
            source,
            runs,
            f"time field {feed.time_field} of job {feed.job.id} is not aggregatable in "
            f"{where}, so Elasticsearch would refuse to start the datafeed",
            "map it as a date (a field with doc values)",
        )


def _preview(out: _Out, feed: FeedCheck, answers: Mapping[str, Answer]) -> None:
    ref, source, runs = feed.ref, feed.source, feed.runs
    preview = answers.get(f"preview:{ref.id}")
    if preview is not None and not preview.ok:
        if 400 <= preview.status < 500:
            out.start(
                ref,
                source,
                runs,
                f"previewing the datafeed fails ({preview.error_type}: {preview.reason})",
                "correct the datafeed's query, scripts or aggregations",
            )
        else:
            out.unanswered(ref, source, "datafeed preview", preview)
    elif preview is not None and not isinstance(preview.body, list):
        raise unexpected("POST /_ml/datafeeds/_preview", "the answer is not a list")


def _job(out: _Out, job: JobCheck, answers: Mapping[str, Answer], cluster: Limits) -> None:
    ref, source = job.ref, job.source
    limit_mb = cluster.job_default_mb
    if job.limit is not None:
        # A bad value is the offline validation's to report (and `_validate`'s).
        with contextlib.suppress(TypeError, ValueError):
            limit_mb = model_memory_limit_mb(job.limit)
    over_max = cluster.max_bytes is not None and limit_mb * MB > cluster.max_bytes
    if over_max and cluster.max_bytes is not None:
        out.put(
            ref,
            source,
            f"model_memory_limit {limit_mb}mb is above the cluster's maximum "
            f"{_mb(cluster.max_bytes)} (xpack.ml.max_model_memory_limit), so Elasticsearch "
            "would refuse to create or update the job",
            f"lower analysis_limits.model_memory_limit to at most {_mb(cluster.max_bytes)}",
        )
    elif cluster.effective_max_bytes is not None and limit_mb * MB > cluster.effective_max_bytes:
        what = (
            f"model_memory_limit {limit_mb}mb is more than any ML node can hold "
            f"({_mb(cluster.effective_max_bytes)}, effective_max_model_memory_limit)"
        )
        fix = (
            f"lower analysis_limits.model_memory_limit to at most "
            f"{_mb(cluster.effective_max_bytes)}, or add ML capacity"
        )
        if job.lazy:
            out.poor(ref, source, f"{what}; the job would wait for a larger node", fix)
        else:
            out.start(ref, source, job.opens, f"{what}, so opening the job would fail", fix)
    validate = answers.get(f"validate:{ref.id}")
    if validate is not None and not validate.ok:
        if validate.status == 400:
            if not (over_max and "model_memory_limit" in validate.reason):
                out.put(
                    ref,
                    source,
                    f"Elasticsearch would refuse the job: {validate.reason}",
                    "correct the job's spec",
                )
        else:
            out.unanswered(ref, source, "job validation", validate)
    estimate = answers.get(f"estimate:{ref.id}")
    if estimate is None:
        return
    if not estimate.ok:
        if estimate.status != 400:  # a 400 repeats what `_validate` says about the body
            out.unanswered(ref, source, "model memory estimate", estimate)
        return
    what = "POST /_ml/anomaly_detectors/_estimate_model_memory"
    needed = _size(_read(_Estimate, estimate, what).model_memory_estimate, what)
    if limit_mb * MB < needed:
        out.poor(
            ref,
            source,
            f"model_memory_limit {limit_mb}mb is below the estimated {_mb(needed)}: the job "
            "would reach its hard limit and stop modelling new entities",
            f"raise analysis_limits.model_memory_limit to at least {_mb(needed)}",
        )


def _dfa(out: _Out, dfa: DfaCheck, answers: Mapping[str, Answer], cluster: Limits) -> None:
    ref, source, runs = dfa.ref, dfa.source, dfa.runs
    limit = cluster.dfa_default_bytes
    if dfa.limit is not None:
        with contextlib.suppress(TypeError, ValueError):  # the offline validation reports it
            limit = parse_byte_size(dfa.limit)
    if cluster.max_bytes is not None and limit > cluster.max_bytes:
        out.put(
            ref,
            source,
            f"model_memory_limit {_mb(limit)} is above the cluster's maximum "
            f"{_mb(cluster.max_bytes)} (xpack.ml.max_model_memory_limit), so Elasticsearch "
            "would refuse the job",
            f"lower model_memory_limit to at most {_mb(cluster.max_bytes)}",
        )
    explain = answers.get(f"explain:{ref.id}")
    if explain is not None and not explain.ok:
        # A missing source is a 404 `index_not_found_exception`, or the 400 validation failure
        # "no such index [x]" of SourceDestValidator (which PUT runs as well).
        if explain.status == 404 or "no such index" in explain.reason:
            what = f"its source index does not exist ({explain.reason})"
            fix = "create the source index (or load its data) first, or correct source.index"
            if dfa.creates:
                out.put(ref, source, f"{what}, so Elasticsearch would refuse to create it", fix)
            else:
                out.start(ref, source, runs, f"{what}, so it could not start", fix)
        elif explain.status == 400:
            out.start(
                ref,
                source,
                runs,
                f"Elasticsearch could not analyse its source: {explain.reason}",
                "correct source, analysis or analyzed_fields",
            )
        else:
            out.unanswered(ref, source, "data frame analytics explain", explain)
    elif explain is not None:
        what = "POST /_ml/data_frame/analytics/_explain"
        body = _read(_Explain, explain, what)
        needed = _size(body.memory_estimation.expected_memory_without_disk, what)
        if limit < needed:
            out.poor(
                ref,
                source,
                f"model_memory_limit {_mb(limit)} is below the expected memory usage "
                f"{_mb(needed)}: the analysis would be slow (spilling to disk) or fail",
                f"raise model_memory_limit to at least {_mb(needed)}",
            )
    count = answers.get(f"dest:{ref.id}")
    if count is None or dfa.dest is None:
        return
    if count.ok:
        documents = _read(_Count, count, f"GET /{dfa.dest}/_count").count
        if documents > 0:
            out.start(
                ref,
                source,
                runs,
                f"its destination index {dfa.dest} already holds {documents} documents, and "
                "Elasticsearch refuses the first start of a job whose destination is not empty",
                "delete the destination index or choose another dest.index",
            )
    elif count.status != 404:
        out.unanswered(ref, source, "destination index", count)
