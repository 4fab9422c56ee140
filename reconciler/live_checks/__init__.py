"""Live checks: ask the cluster, read-only, whether a plan's changes would be refused or fail.

Input: a computed `Plan`, the desired resources, the `LiveState` and the preflight's
`ClusterInfo`, and the client. Output: the plan with its live-check record, the extra requests
in its request count and the warnings in its warnings; or `LiveCheckError` listing what
Elasticsearch would refuse. Does I/O through `ask` only; what to ask (`questions`) and what the
answers mean (`findings`) are pure.

A plan without changes asks nothing. Otherwise the checks take at most two rounds of
concurrent requests: the indices, fields, job validation, memory estimates, DFA explain and
destination counts first; then a preview of each datafeed whose indices exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from reconciler.errors import PlanError
from reconciler.live_checks import findings, questions
from reconciler.live_checks.ask import ask
from reconciler.live_checks.findings import Finding
from reconciler.model import Call, LiveCheckRecord, LiveState, Plan, Resource

__all__ = ["Finding", "LiveCheckError", "check", "skipped"]


class ClientLike(Protocol):
    """What the checks need from `MLClient`: calls and the request counter."""

    @property
    def request_count(self) -> int: ...

    def perform(self, call: Call) -> Any: ...


class InfoLike(Protocol):
    """The `_ml/info` limits the preflight read."""

    @property
    def max_model_memory_limit(self) -> str | None: ...

    @property
    def effective_max_model_memory_limit(self) -> str | None: ...


class LiveCheckError(PlanError):
    """Elasticsearch would refuse part of the plan; nothing was changed."""

    def __init__(self, errors: Sequence[Finding], warnings: Sequence[Finding] = ()) -> None:
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        count = len(self.errors)
        lines = [
            f"the live checks found {count} problem{'s' if count != 1 else ''} that would make "
            "Elasticsearch refuse the plan or fail to start what it starts; nothing was changed "
            "(use --no-live-checks to plan anyway):",
            *(f"  - {f}" for f in self.errors),
            *(f"  - warning: {f}" for f in self.warnings),
        ]
        super().__init__("\n".join(lines))


def skipped(plan: Plan) -> Plan:
    """`plan` recorded as computed with `--no-live-checks`."""
    return plan.model_copy(update={"live_checks": LiveCheckRecord(enabled=False)})


def check(
    plan: Plan,
    desired: Sequence[Resource],
    live: LiveState,
    info: InfoLike,
    client: ClientLike,
) -> Plan:
    """Run the live checks of `plan`; return it with their record and warnings.

    Raises:
        LiveCheckError: something Elasticsearch would refuse (a PUT, or a start the plan makes).
        UnexpectedAnswerError: an answer has another shape than Elasticsearch documents.
    """
    cluster = findings.limits(
        info.max_model_memory_limit,
        info.effective_max_model_memory_limit,
        job_default_mb=live.job_model_memory_limit_mb,
        dfa_default_bytes=live.dfa_model_memory_limit_bytes,
    )
    survey = questions.survey(plan, desired, live)
    before = client.request_count
    answers = ask(client, survey.questions)
    rounds = 1 if survey.questions else 0
    second = questions.previews(survey, findings.found_indices(survey, answers))
    if second:
        answers.update(ask(client, second))
        rounds += 1
    items = findings.classify(survey, answers, cluster)
    requests = client.request_count - before
    record = LiveCheckRecord(
        enabled=True,
        checks=tuple(sorted({*survey.checks, *(["datafeed_preview"] if second else [])})),
        skipped=survey.skipped,
        requests=requests,
        round_trips=rounds,
    )
    errors = [f for f in items if f.severity == "error"]
    warnings = [f for f in items if f.severity == "warning"]
    if errors:
        raise LiveCheckError(errors, warnings)
    return plan.model_copy(
        update={
            "live_checks": record,
            "warnings": (*plan.warnings, *(str(w) for w in warnings)),
            "request_count": plan.request_count + requests,
        }
    )
