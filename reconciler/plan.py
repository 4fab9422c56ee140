"""The planner: desired resources x live state -> an ordered, side-effect-free `Plan`.

Input: desired `Resource`s (from the manifests), their unresolved references, a `LiveState`
(from the cluster) and `PlanOptions`. Output: a `Plan` value. Pure, no I/O.

Three stages:
1. decide: one action per resource (create, update, restart-update, replace, delete, open,
   close, start, stop, no-op), from the canonical field diff and the per-kind update policy;
2. cascade: a job that is replaced or deleted takes its datafeed with it (Elasticsearch deletes
   a job's datafeed, es-ml-api.md §1.7);
3. order: steps in four phases — stop (datafeeds, then jobs and DFA), delete (children first),
   create/update (parents first: filters, calendars, jobs, datafeeds, DFA), start (open jobs,
   then start datafeeds and DFA) — each step naming the steps it depends on, so the executor
   can run independent resources concurrently and skip the dependents of a failure
   (es-ml-api.md §5.4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler import __version__, ownership
from reconciler.client import api
from reconciler.diff import diff_bodies, dotted
from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Call,
    Change,
    FieldChange,
    Kind,
    LiveState,
    Plan,
    Ref,
    Resource,
    Risk,
    SourceLocation,
    State,
    Step,
)
from reconciler.normalize import (
    SET_LISTS,
    ServerDefaults,
    canonical,
    canonical_event,
    drop_unset_computed,
    event_key,
)
from reconciler.policy import JOB_NEXT_OPEN, FieldClass, classify

Body = dict[str, Any]

RUNNING = frozenset({"opened", "started"})

#: Job fields `_update` can set but never unset (es-ml-api.md §1.6): leaving one out of a
#: manifest keeps the live value, which the plan says in a warning.
UNSETTABLE_JOB_FIELDS = (
    "background_persist_interval",
    "renormalization_window_days",
    "results_retention_days",
    "system_annotations_retention_days",
)


class ReferenceLike(Protocol):
    """A manifest reference the manifests could not satisfy (see reconciler.manifest)."""

    @property
    def source(self) -> SourceLocation: ...  # noqa: D102

    @property
    def from_ref(self) -> Ref: ...  # noqa: D102

    @property
    def target_kind(self) -> str: ...  # noqa: D102

    @property
    def target_id(self) -> str: ...  # noqa: D102


@dataclass(frozen=True)
class PlanOptions:
    """How to plan: pruning, targeting and labels carried into the plan."""

    prune: bool = False
    targets: tuple[Ref, ...] = ()
    environment: str | None = None
    manifest_digest: str = ""


# ----------------------------------------------------------------------------- run state


def run_state(kind: Kind, state: str | None) -> str | None:
    """Fold transitional states into the state they are heading for (or `failed`).

    Jobs: opening -> opened, closing -> closed (§5.1); datafeeds: starting -> started,
    stopping -> stopped (§5.2); DFA: starting/reindexing/analyzing -> started (§5.3).
    """
    if state is None:
        return None
    if kind is Kind.JOB:
        return {"opening": "opened", "closing": "closed"}.get(state, state)
    if kind is Kind.DATAFEED:
        return {"starting": "started", "stopping": "stopped"}.get(state, state)
    if kind is Kind.DFA:
        folded = {"starting": "started", "reindexing": "started", "analyzing": "started"}
        return folded.get(state, {"stopping": "stopped"}.get(state, state))
    return None


ABSENT = "absent"


def resource_fingerprint(res: Resource, defaults: ServerDefaults) -> str:
    """sha256 of one live resource's canonical body, run state and ownership."""
    record = [
        str(res.ref),
        canonical(res.ref.kind, res.body, defaults),
        run_state(res.ref.kind, res.state),
        res.owned,
    ]
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(resources: Iterable[Resource], defaults: ServerDefaults) -> str:
    """sha256 over every live resource's fingerprint."""
    digest = hashlib.sha256()
    for res in sorted(resources, key=lambda r: r.ref.sort_key):
        digest.update(resource_fingerprint(res, defaults).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def stale_resources(plan: Plan, live: LiveState) -> list[str]:
    """The resources the plan acts on whose live state changed since it was made."""
    current = {str(ref): value for ref, value in live.fingerprints.items()}
    return sorted(
        address
        for address, value in plan.resource_fingerprints.items()
        if current.get(address, ABSENT) != value
    )


# ----------------------------------------------------------------------------- decisions


@dataclass
class _Decision:
    ref: Ref
    desired: Resource | None
    live: Resource | None
    action: Action = Action.NOOP
    fields: list[FieldChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    live_state: str | None = None
    want_state: str | None = None
    adopt: bool = False
    #: The live run state already satisfies the desired one.
    state_ok: bool = True
    desired_canon: Body = field(default_factory=dict)
    live_canon: Body = field(default_factory=dict)

    @property
    def running_now(self) -> bool:
        return self.live_state in RUNNING

    @property
    def running_after(self) -> bool:
        return self.want_state in RUNNING


def _datafeed_job(res: Resource | None) -> str | None:
    if res is None:
        return None
    job = res.body.get("job_id")
    return job if isinstance(job, str) else None


class _Planner:
    def __init__(
        self,
        desired: Sequence[Resource],
        references: Sequence[ReferenceLike],
        live: LiveState,
        options: PlanOptions,
    ) -> None:
        self.options = options
        self.live_state = live
        self.defaults = ServerDefaults(
            job_model_memory_limit_mb=live.job_model_memory_limit_mb,
            dfa_model_memory_limit_bytes=live.dfa_model_memory_limit_bytes,
        )
        self.desired: State = {r.ref: r for r in desired}
        self.live: State = dict(live.resources)
        self.references = references
        self.warnings: list[str] = []
        self.decisions: dict[Ref, _Decision] = {}

    # -- checks ------------------------------------------------------------------------

    def check(self) -> None:
        problems: list[str] = []
        live_jobs = {r.id for r in self.live if r.kind is Kind.JOB}
        live_groups = {
            g
            for ref, res in self.live.items()
            if ref.kind is Kind.JOB
            for g in res.body.get("groups") or []
        }
        live_filters = {r.id for r in self.live if r.kind is Kind.FILTER}
        for reference in self.references:
            target = reference.target_id
            if reference.target_kind == "filter":
                ok = target in live_filters
                what = f"filter '{target}'"
            elif reference.target_kind == "job":
                ok = target in live_jobs
                what = f"job '{target}'"
            else:
                ok = target == "_all" or target in live_jobs or target in live_groups
                what = f"job or group '{target}'"
            if not ok:
                problems.append(
                    f"{reference.source}: {reference.from_ref} refers to {what}, which exists "
                    "neither in the manifests nor on the cluster; declare it or fix the reference"
                )
        for ref, res in self.desired.items():
            live = self.live.get(ref)
            if live is not None and live.elastic_managed:
                problems.append(
                    f"{res.source or ref}: {ref} is managed by Elastic (custom_settings.managed: "
                    f"true); mlsync never modifies it — remove it from the manifests"
                )
            if ref.kind is Kind.DATAFEED:
                problems += self._check_datafeed(ref, res)
        if problems:
            raise PlanError("cannot plan:\n  " + "\n  ".join(problems))

    def _check_datafeed(self, ref: Ref, res: Resource) -> list[str]:
        """A desired datafeed must be able to run and to exist next to its job's other datafeeds."""
        problems = []
        where = res.source or ref
        job_id = _datafeed_job(res) or ""
        job_ref = Ref(kind=Kind.JOB, id=job_id)
        job, live_job = self.desired.get(job_ref), self.live.get(job_ref)
        # The job's state once applied: declared, else as it is now, else closed (a new job).
        job_state = job.state if job and job.state else None
        if job_state is None:
            job_state = run_state(Kind.JOB, live_job.state) if live_job else "closed"
        if res.state == "started" and job_state != "opened":
            problems.append(
                f"{where}: {ref} should be started but its job {job_id} will be {job_state}; a "
                "datafeed runs only while its job is open (es-ml-api.md §5.2): add `state: "
                f"opened` to job {job_id}"
            )
        if job is None and live_job is not None and self.options.prune and self._prunable(live_job):
            problems.append(
                f"{where}: {ref} feeds job {job_id}, which --prune would delete because no "
                "manifest declares it; declare the job or remove the datafeed"
            )
        for other_ref, other in self.live.items():
            if (
                other_ref.kind is Kind.DATAFEED
                and other_ref != ref
                and _datafeed_job(other) == job_id
                and other_ref not in self.desired
                and not (self.options.prune and self._prunable(other))
            ):
                # One datafeed per job (es-ml-api.md §2.5): the PUT would be a 409.
                problems.append(
                    f"{where}: job {job_id} already has datafeed {other_ref.id} on the cluster; "
                    "a job has one datafeed: declare that one instead, or remove it (mlsync "
                    "apply --prune removes it when mlsync owns it)"
                )
        return problems

    # -- targeting -----------------------------------------------------------------------

    def apply_targets(self) -> None:
        if not self.options.targets:
            return
        wanted: set[Ref] = set(self.options.targets)
        # A datafeed goes with its job, and a job with its datafeed (replacing a job deletes
        # its datafeed), so targeting either brings the pair.
        for side in (self.desired, self.live):
            for ref, res in side.items():
                if ref.kind is Kind.DATAFEED:
                    job_ref = Ref(kind=Kind.JOB, id=_datafeed_job(res) or "")
                    if ref in wanted or job_ref in wanted:
                        wanted |= {ref, job_ref}
        # A job needs the filters its custom rules use (opening it fails without them, §1.3.1),
        # as Terraform's -target follows dependencies.
        for ref in list(wanted):
            job = self.desired.get(ref)
            if ref.kind is Kind.JOB and job is not None:
                wanted |= {
                    f
                    for f in self.desired
                    if f.kind is Kind.FILTER and _uses_filter(job.body, f.id)
                }
        self.desired = {r: v for r, v in self.desired.items() if r in wanted}
        self.live = {r: v for r, v in self.live.items() if r in wanted}
        self.warnings.append(
            "resource targeting is in effect: the plan covers only "
            + ", ".join(sorted(str(t) for t in self.options.targets))
            + " (and the datafeeds, jobs and filters they need); other changes may be pending"
        )

    # -- decide --------------------------------------------------------------------------

    def decide_all(self) -> None:
        for ref in sorted(self.desired.keys() | self.live.keys(), key=lambda r: r.sort_key):
            self.decisions[ref] = self.decide(ref, self.desired.get(ref), self.live.get(ref))
        self.cascade()

    def decide(self, ref: Ref, desired: Resource | None, live: Resource | None) -> _Decision:
        d = _Decision(ref=ref, desired=desired, live=live)
        d.live_state = run_state(ref.kind, live.state) if live else None
        if desired is None:
            assert live is not None
            if self.options.prune and self._prunable(live):
                d.action = Action.DELETE
                d.reasons.append("not in the manifests (--prune) and owned by mlsync")
            return d
        d.want_state = desired.state
        d.desired_canon = canonical(ref.kind, desired.body, self.defaults)
        if live is None:
            d.action = Action.CREATE
            return d
        if d.want_state is None:
            d.want_state = d.live_state if d.live_state != "failed" else None
            if (
                ref.kind is Kind.DATAFEED
                and d.want_state == "started"
                and not self._job_runs(desired)
            ):
                # A datafeed runs only while its job is open: closing the job stops it
                # (es-ml-api.md §5.1), and restarting it would be a 409.
                d.want_state = "stopped"
        live_canon = canonical(ref.kind, live.body, self.defaults)
        d.live_canon = drop_unset_computed(ref.kind, d.desired_canon, live_canon)
        if ref.kind is Kind.JOB:
            for name in UNSETTABLE_JOB_FIELDS:
                if name in live_canon and name not in d.desired_canon:
                    self.warnings.append(
                        f"{ref}: {name} is {live_canon[name]!r} on the cluster and the manifest "
                        "leaves it out; the job update API cannot unset it, so it stays (set it "
                        "in the manifest to change it)"
                    )
        atomic = SET_LISTS[ref.kind]
        for path, before, after in diff_bodies(d.live_canon, d.desired_canon, atomic):
            klass = classify(ref.kind, path, removed=after is None)
            d.fields.append(
                FieldChange(
                    path=dotted(path),
                    before=before,
                    after=after,
                    forces_replacement=klass is FieldClass.REPLACE,
                    needs_restart=klass is FieldClass.RESTART,
                )
            )
        if ref.kind in ownership.METADATA_FIELD and not live.owned:
            if ref.kind is Kind.JOB:
                d.adopt = True
                d.reasons.append(
                    "exists on the cluster without mlsync's ownership marker: adopted in place "
                    "(custom_settings.managed_by: mlsync is added)"
                )
            else:
                self.warnings.append(
                    f"{ref} exists without mlsync's ownership marker; _meta cannot be updated, "
                    f"so it stays unowned and is never pruned"
                )
        d.state_ok = self._state_satisfied(d)
        self._decide_action(d)
        return d

    def _decide_action(self, d: _Decision) -> None:
        ref, live = d.ref, d.live
        assert live is not None
        replace = [f.path for f in d.fields if f.forces_replacement]
        restart = [f.path for f in d.fields if f.needs_restart]
        if replace:
            d.action = Action.REPLACE
            d.reasons.append(f"{', '.join(replace)} cannot be updated in place")
            return
        if d.fields or d.adopt:
            if restart and d.running_now:
                d.action = Action.RESTART_UPDATE
                verb = "closed" if ref.kind is Kind.JOB else "stopped"
                d.reasons.append(f"{', '.join(restart)} can only change while it is {verb}")
            else:
                d.action = Action.UPDATE
            if ref.kind is Kind.JOB and any(
                f.path.split(".")[0] in JOB_NEXT_OPEN for f in d.fields
            ):
                d.reasons.append(
                    "background_persist_interval, renormalization_window_days and "
                    "allow_lazy_open take effect when the job next opens"
                )
            self._check_memory_decrease(d)
            return
        if not d.state_ok:
            d.action = self._state_action(ref.kind, d.want_state)
            if d.live_state == "failed":
                verb = "force-closed" if ref.kind is Kind.JOB else "force-stopped"
                d.reasons.append(f"it has failed: it is {verb} first (es-ml-api.md §5.1, §5.3)")

    def _job_runs(self, feed: Resource) -> bool:
        """Will the datafeed's job be open once the plan is applied?"""
        job = self.decisions.get(Ref(kind=Kind.JOB, id=_datafeed_job(feed) or ""))
        return job is None or job.want_state in (None, "opened")

    def _check_memory_decrease(self, d: _Decision) -> None:
        if d.ref.kind is not Kind.JOB or d.live is None:
            return
        model_bytes = d.live.facts.get("model_bytes")
        limit = d.desired_canon.get("analysis_limits", {}).get("model_memory_limit", "")
        if isinstance(model_bytes, int) and isinstance(limit, str) and limit.endswith("mb"):
            usage_mb = -(-model_bytes // (1024 * 1024))
            if int(limit[:-2]) < usage_mb:
                self.warnings.append(
                    f"{d.ref}: model_memory_limit {limit} is below the job's current model size "
                    f"({usage_mb}mb); Elasticsearch will reject the update (es-ml-api.md §1.6)"
                )

    def _state_satisfied(self, d: _Decision) -> bool:
        want, now = d.want_state, d.live_state
        if want is None or want == now:
            return True
        live = d.live
        assert live is not None
        if d.ref.kind is Kind.DFA and want == "started" and now == "stopped":
            # A DFA job runs to completion and stops itself (§5.3): that is "started" done.
            return bool(live.facts.get("completed"))
        if d.ref.kind is Kind.DATAFEED and want == "started" and now == "stopped":
            # A look-back datafeed (with `end`) stops itself when it reaches `end`; once it has
            # run (it searched), it is not restarted on every apply (anchors.md §5 item 16).
            ran = int(live.facts.get("search_count") or 0) > 0
            return bool(d.desired and d.desired.facts.get("end")) and ran
        return False

    @staticmethod
    def _state_action(kind: Kind, want: str | None) -> Action:
        if kind is Kind.JOB:
            return Action.OPEN if want == "opened" else Action.CLOSE
        return Action.START if want == "started" else Action.STOP

    def _prunable(self, live: Resource) -> bool:
        if live.elastic_managed:
            return False
        if live.ref.kind is Kind.DATAFEED:
            job = self.live.get(Ref(kind=Kind.JOB, id=_datafeed_job(live) or ""))
            return job is not None and job.owned and not job.elastic_managed
        return live.owned

    def cascade(self) -> None:
        """A replaced or deleted job takes its datafeed along (ES deletes it with the job)."""
        for ref, d in self.decisions.items():
            if ref.kind is not Kind.JOB or d.action not in (Action.REPLACE, Action.DELETE):
                continue
            verb = "replaced" if d.action is Action.REPLACE else "deleted"
            for feed in self._datafeeds_of(ref.id):
                fd = self.decisions[feed]
                if fd.action in (Action.DELETE, Action.REPLACE):
                    continue
                if fd.desired is None:
                    fd.action = Action.DELETE
                    fd.reasons.append(f"its job {ref.id} is deleted")
                elif fd.live is not None:
                    fd.action = Action.REPLACE
                    fd.reasons.append(
                        f"its job {ref.id} is {verb}"
                        " and Elasticsearch deletes a job's datafeed with the job"
                    )

        for cref, jobs in self.memberships_to_restore().items():
            for job_id in jobs:
                self.decisions[Ref(kind=Kind.JOB, id=job_id)].reasons.append(
                    f"deleting it removes it from calendar {cref.id}; it is added back after "
                    "the job is recreated"
                )
        for ref, d in self.decisions.items():
            if ref.kind is Kind.JOB and d.action is Action.RESTART_UPDATE:
                for feed in self._datafeeds_of(ref.id):
                    if self.decisions[feed].running_now:
                        d.reasons.append(
                            f"its datafeed {feed.id} is stopped first and restarted after"
                        )

    def memberships_to_restore(self) -> dict[Ref, list[str]]:
        """Calendars (from the whole live state) that will lose a replaced job, and those jobs.

        Calendars created, replaced or deleted by this plan are skipped (their own steps set
        their jobs), and so are jobs a declared calendar no longer lists.
        """
        replaced = {
            r.id
            for r, d in self.decisions.items()
            if r.kind is Kind.JOB and d.action is Action.REPLACE
        }
        out: dict[Ref, list[str]] = {}
        for cref, cal in self.live_state.resources.items():
            if cref.kind is not Kind.CALENDAR or not replaced:
                continue
            decision = self.decisions.get(cref)
            if decision and decision.action in (Action.CREATE, Action.REPLACE, Action.DELETE):
                continue
            listed = set(cal.body.get("job_ids") or [])
            if decision and decision.desired is not None:
                listed &= set(decision.desired_canon.get("job_ids", []))
            jobs = sorted(replaced & listed)
            if jobs:
                out[cref] = jobs
        return out

    def _datafeeds_of(self, job_id: str) -> list[Ref]:
        return [
            ref
            for ref, d in self.decisions.items()
            if ref.kind is Kind.DATAFEED
            and job_id in (_datafeed_job(d.desired), _datafeed_job(d.live))
        ]

    # -- changes -----------------------------------------------------------------------------

    def changes(self) -> tuple[Change, ...]:
        out = []
        for ref in sorted(self.decisions, key=lambda r: r.sort_key):
            d = self.decisions[ref]
            if d.desired is None and d.action is Action.NOOP:
                continue  # unmanaged: listed separately
            out.append(self._change(d))
        return tuple(out)

    def _change(self, d: _Decision) -> Change:
        action = d.action
        destroys = None
        if action in (Action.REPLACE, Action.DELETE):
            destroys = _destroyed(d.ref)
        risk = {
            Action.NOOP: Risk.NONE,
            Action.CREATE: Risk.SAFE,
            Action.UPDATE: Risk.SAFE,
            Action.OPEN: Risk.SAFE,
            Action.START: Risk.SAFE,
            Action.RESTART_UPDATE: Risk.RESTART,
            Action.CLOSE: Risk.RESTART,
            Action.STOP: Risk.RESTART,
            Action.REPLACE: Risk.DESTRUCTIVE,
            Action.DELETE: Risk.DESTRUCTIVE,
        }[action]
        fields = list(d.fields)
        if d.adopt:
            fields.append(
                FieldChange(
                    path=f"custom_settings.{ownership.MARKER_KEY}",
                    before=None,
                    after=ownership.MARKER_VALUE,
                )
            )
        state_after = d.want_state
        if action is Action.DELETE:
            state_after = None
        return Change(
            ref=d.ref,
            action=action,
            risk=risk,
            fields=tuple(sorted(fields, key=lambda f: f.path)),
            state_before=d.live_state,
            state_after=state_after if d.ref.kind in (Kind.JOB, Kind.DATAFEED, Kind.DFA) else None,
            reasons=tuple(d.reasons),
            destroys=destroys,
            state_only=action in (Action.OPEN, Action.CLOSE, Action.START, Action.STOP),
            source=d.desired.source if d.desired else None,
        )

    def unmanaged(self) -> tuple[Ref, ...]:
        return tuple(
            sorted(
                (
                    r
                    for r, d in self.decisions.items()
                    if d.desired is None and d.action is Action.NOOP
                ),
                key=lambda r: r.sort_key,
            )
        )


def _destroyed(ref: Ref) -> str | None:
    """What deleting `ref` loses for good, for the loud warning in plans."""
    if ref.kind is Kind.JOB:
        return (
            f"job {ref.id}: its model state, model snapshots and all results are deleted; "
            "a recreated job relearns from scratch"
        )
    if ref.kind is Kind.DFA:
        return (
            f"data frame analytics {ref.id}: its configuration, state and progress are deleted "
            "(the destination index is kept)"
        )
    # Datafeeds, filters and calendars are configuration only: deleting one loses no ML data
    # (a replaced calendar gets its events back from the manifest).
    return None


# ----------------------------------------------------------------------------- steps


class _Steps:
    """Collects steps; each new step depends on the previous step of the same resource."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.last: dict[Ref, int] = {}
        self.by_phase: dict[tuple[Ref, str], int] = {}

    def add(
        self,
        ref: Ref,
        op: str,
        call: Call,
        *,
        phase: str,
        wait_for: str | None = None,
        after: Iterable[int | None] = (),
        destructive: bool = False,
        restore: bool = False,
        description: str = "",
    ) -> int:
        deps = {i for i in after if i is not None}
        if ref in self.last:
            deps.add(self.last[ref])
        index = len(self.steps)
        self.steps.append(
            Step(
                index=index,
                ref=ref,
                op=op,
                call=call,
                wait_for=wait_for,
                depends_on=tuple(sorted(deps)),
                destructive=destructive,
                restore=restore,
                description=description or f"{op} {ref}",
            )
        )
        self.last[ref] = index
        self.by_phase[(ref, phase)] = index
        return index

    def get(self, ref: Ref, phase: str) -> int | None:
        return self.by_phase.get((ref, phase))


def _job_update_body(d: _Decision) -> Body:
    """Build the `_update` body of a job from the fields that changed (§1.6)."""
    assert d.desired is not None
    raw = d.desired.body
    canon = d.desired_canon
    body: Body = {}
    detectors: dict[int, Body] = {}
    for change in d.fields:
        top = change.path.split(".")[0].split("[")[0]
        if top == "analysis_config":
            parts = change.path.split(".")
            if parts[1].startswith("detectors["):
                index = int(parts[1][len("detectors[") : -1])
                detector = raw["analysis_config"]["detectors"][index]
                entry = detectors.setdefault(index, {"detector_index": index})
                if "detector_description" in detector:
                    entry["description"] = detector["detector_description"]
                entry["custom_rules"] = detector.get("custom_rules", [])
            elif parts[1] == "model_prune_window":
                body["model_prune_window"] = raw["analysis_config"]["model_prune_window"]
            elif parts[1] == "per_partition_categorization":
                body["per_partition_categorization"] = canon["analysis_config"][
                    "per_partition_categorization"
                ]
        elif top == "analysis_limits":
            # Missing sub-fields are reset to defaults by the server, so send both (§1.5).
            body["analysis_limits"] = canon["analysis_limits"]
        elif top == "model_plot_config":
            body["model_plot_config"] = raw.get("model_plot_config", {"enabled": False})
        elif top in ("description", "groups"):
            body[top] = raw.get(top, "" if top == "description" else [])
        elif top != "custom_settings":
            body[top] = raw.get(top, canon.get(top))
    if detectors:
        body["detectors"] = [detectors[i] for i in sorted(detectors)]
    if d.adopt or any(f.path.startswith("custom_settings") for f in d.fields):
        # `custom_settings` is replaced whole by `_update`: always re-send the marker (§1.6),
        # and keep Kibana's `created_by` (it says which wizard made the job; not compared).
        settings = ownership.with_marker(Kind.JOB, raw)["custom_settings"]
        live_settings = (d.live.body.get("custom_settings") if d.live else None) or {}
        if "created_by" in live_settings and "created_by" not in settings:
            settings = {**settings, "created_by": live_settings["created_by"]}
        body["custom_settings"] = settings
    return body


#: Values a datafeed `_update` sends when the manifest removed an optional field (§2.4).
DATAFEED_RESETS: Body = {"max_empty_searches": -1, "runtime_mappings": {}, "script_fields": {}}


def _top_level_update(d: _Decision, resets: Body | None = None) -> Body:
    assert d.desired is not None
    raw, canon = d.desired.body, d.desired_canon
    body: Body = {}
    for change in d.fields:
        top = change.path.split(".")[0].split("[")[0]
        if top in raw:
            body[top] = raw[top]
        elif top in canon:
            body[top] = canon[top]
        elif resets and top in resets:
            body[top] = resets[top]
        elif top == "description":
            body[top] = ""
    return body


def _build_steps(p: _Planner) -> tuple[Step, ...]:
    s = _Steps()
    dec = p.decisions

    def job_of_feed(ref: Ref) -> Ref:
        d = dec[ref]
        return Ref(kind=Kind.JOB, id=_datafeed_job(d.desired) or _datafeed_job(d.live) or "")

    def stopping(d: _Decision) -> bool:
        """Must this resource be stopped/closed before its other steps?"""
        if not d.running_now:
            return False
        if d.action in (Action.DELETE, Action.REPLACE, Action.RESTART_UPDATE):
            return True
        if d.action in (Action.CLOSE, Action.STOP):
            return True
        if d.desired is not None and d.want_state is not None and not d.running_after:
            # Down is where it should end up, also when its configuration changes too.
            return True
        # A job closed for an update or a replace stops its datafeed first (§5.4).
        if d.ref.kind is Kind.DATAFEED:
            job = dec.get(job_of_feed(d.ref))
            if job and (
                job.action in (Action.REPLACE, Action.RESTART_UPDATE, Action.DELETE, Action.CLOSE)
            ):
                return True
        return False

    stopped: set[Ref] = set()
    # Phase 1: stop datafeeds, then close jobs and stop DFA (children first).
    for kind in (Kind.DATAFEED, Kind.JOB, Kind.DFA):
        for ref, d in dec.items():
            if ref.kind is not kind or not stopping(d):
                continue
            stopped.add(ref)
            if kind is Kind.DATAFEED:
                s.add(ref, "stop", api.stop_datafeed(ref.id), phase="stop", wait_for="stopped")
            elif kind is Kind.JOB:
                s.add(
                    ref,
                    "close",
                    api.close_job(ref.id),
                    phase="stop",
                    wait_for="closed",
                    after=[s.get(feed, "stop") for feed in p._datafeeds_of(ref.id)],
                )
            else:
                s.add(
                    ref,
                    "stop",
                    api.stop_data_frame_analytics(ref.id),
                    phase="stop",
                    wait_for="stopped",
                )
    # A failed job or DFA must be force-closed / force-stopped before anything else (§5.1, §5.3).
    for ref, d in dec.items():
        if d.live_state == "failed" and (d.action is not Action.NOOP or d.want_state is not None):
            if ref.kind is Kind.JOB:
                s.add(
                    ref, "close", api.close_job(ref.id, force=True), phase="stop", wait_for="closed"
                )
            elif ref.kind is Kind.DFA:
                s.add(
                    ref,
                    "stop",
                    api.stop_data_frame_analytics(ref.id, force=True),
                    phase="stop",
                    wait_for="stopped",
                )
            stopped.add(ref)

    def delete(kind: Kind) -> None:
        for ref, d in dec.items():
            if ref.kind is not kind or d.action not in (Action.DELETE, Action.REPLACE):
                continue
            after: list[int | None] = []
            if kind is Kind.JOB:
                after += [s.get(feed, "delete") for feed in p._datafeeds_of(ref.id)]
            if kind is Kind.FILTER:
                # A filter in use cannot be deleted (409, §4.1): after the jobs that used it
                # are deleted or updated.
                after += [
                    _first(s.get(j, "apply"), s.get(j, "delete"))
                    for j, jd in dec.items()
                    if j.kind is Kind.JOB and jd.live and _uses_filter(jd.live.body, ref.id)
                ]
            call = {
                Kind.DATAFEED: lambda i: api.delete_datafeed(i),
                Kind.JOB: lambda i: api.delete_job(i, delete_user_annotations=False),
                Kind.DFA: lambda i: api.delete_data_frame_analytics(i),
                Kind.CALENDAR: lambda i: api.delete_calendar(i),
                Kind.FILTER: lambda i: api.delete_filter(i),
            }[kind](ref.id)
            s.add(ref, "delete", call, phase="delete", after=after, destructive=True)

    # Phase 2: deletes, children first; the delete half of a replace is destructive too.
    for kind in (Kind.DATAFEED, Kind.JOB, Kind.DFA, Kind.CALENDAR):
        delete(kind)

    # Phase 3: creates and updates, parents first.
    for kind in (Kind.FILTER, Kind.CALENDAR, Kind.JOB, Kind.DATAFEED, Kind.DFA):
        for ref, d in dec.items():
            if ref.kind is not kind or d.desired is None:
                continue
            _create_or_update(s, p, d, job_of_feed if kind is Kind.DATAFEED else None)
    # Jobs recreated by a replace lose their calendar memberships (ES removes a deleted job from
    # every calendar, §1.7): put them back in every calendar that listed them, declared or not.
    for cref, job_ids in sorted(p.memberships_to_restore().items(), key=lambda i: i[0].sort_key):
        s.add(
            cref,
            "add-jobs",
            api.put_calendar_job(cref.id, job_ids),
            phase="readd",
            after=[s.get(Ref(kind=Kind.JOB, id=j), "apply") for j in job_ids],
            description=f"re-add replaced jobs {', '.join(job_ids)} to calendar {cref.id}",
        )

    # Filters go last among the deletes: jobs must stop using them first.
    delete(Kind.FILTER)

    # Phase 4: open jobs, then start datafeeds and DFA.
    for kind in (Kind.JOB, Kind.DATAFEED, Kind.DFA):
        for ref, d in dec.items():
            if ref.kind is not kind or d.action is Action.DELETE or not d.running_after:
                continue
            if not (
                ref in stopped or d.action in (Action.CREATE, Action.REPLACE) or not d.state_ok
            ):
                continue
            restore = (
                d.action in (Action.RESTART_UPDATE, Action.UPDATE, Action.NOOP) and d.running_now
            )
            if kind is Kind.JOB:
                s.add(
                    ref,
                    "open",
                    api.open_job(ref.id),
                    phase="start",
                    wait_for="opened",
                    restore=restore,
                )
            elif kind is Kind.DATAFEED:
                facts = d.desired.facts if d.desired else {}
                job = job_of_feed(ref)
                lookback = bool(facts.get("end"))
                s.add(
                    ref,
                    "start",
                    api.start_datafeed(ref.id, start=facts.get("start"), end=facts.get("end")),
                    phase="start",
                    wait_for=None if lookback else "started",
                    after=[_first(s.get(job, "start"), s.get(job, "apply"))],
                    restore=restore,
                )
            else:
                s.add(
                    ref,
                    "start",
                    api.start_data_frame_analytics(ref.id),
                    phase="start",
                    wait_for="started",
                    restore=restore,
                )
    return tuple(s.steps)


def _first(*indices: int | None) -> int | None:
    """The first step index that exists (0 is a valid index, so not `or`)."""
    return next((i for i in indices if i is not None), None)


def _uses_filter(job_body: Body, filter_id: str) -> bool:
    for detector in (job_body.get("analysis_config") or {}).get("detectors") or []:
        for rule in detector.get("custom_rules") or []:
            for scope in (rule.get("scope") or {}).values():
                if isinstance(scope, dict) and scope.get("filter_id") == filter_id:
                    return True
    return False


def _create_or_update(s: _Steps, p: _Planner, d: _Decision, job_of_feed: Any) -> None:
    ref = d.ref
    assert d.desired is not None
    raw = d.desired.body
    after: list[int | None] = []
    if ref.kind is Kind.JOB:
        after = [
            s.get(f, "apply")
            for f in p.decisions
            if f.kind is Kind.FILTER and _uses_filter(raw, f.id)
        ]
    if ref.kind is Kind.DATAFEED:
        job = job_of_feed(ref)
        # One datafeed per job (es-ml-api.md §2.5): a new one waits for the old one's delete.
        after = [s.get(job, "apply")]
        after += [s.get(other, "delete") for other in p._datafeeds_of(job.id) if other != ref]
    if ref.kind is Kind.CALENDAR:
        # Deleting a job removes it from every calendar (es-ml-api.md §1.7): a calendar that
        # lists a job being deleted or replaced is written after that delete.
        after = [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in raw.get("job_ids") or []]
    if d.action in (Action.CREATE, Action.REPLACE):
        if ref.kind is Kind.JOB:
            call = api.put_job(ref.id, ownership.with_marker(Kind.JOB, raw))
        elif ref.kind is Kind.DATAFEED:
            call = api.put_datafeed(ref.id, raw)
        elif ref.kind is Kind.DFA:
            call = api.put_data_frame_analytics(ref.id, ownership.with_marker(Kind.DFA, raw))
        elif ref.kind is Kind.FILTER:
            call = api.put_filter(ref.id, raw)
        else:
            body = {k: v for k, v in raw.items() if k != "events"}
            call = api.put_calendar(ref.id, body)
        s.add(ref, "create", call, phase="apply", after=after)
        if ref.kind is Kind.CALENDAR and raw.get("events"):
            s.add(
                ref,
                "add-events",
                api.post_calendar_events(ref.id, list(raw["events"])),
                phase="apply",
            )
        return
    if d.action not in (Action.UPDATE, Action.RESTART_UPDATE):
        return
    if ref.kind is Kind.JOB:
        s.add(
            ref, "update", api.update_job(ref.id, _job_update_body(d)), phase="apply", after=after
        )
    elif ref.kind is Kind.DATAFEED:
        body = _top_level_update(d, DATAFEED_RESETS)
        s.add(ref, "update", api.update_datafeed(ref.id, body), phase="apply", after=after)
    elif ref.kind is Kind.DFA:
        body = _top_level_update(d)
        s.add(ref, "update", api.update_data_frame_analytics(ref.id, body), phase="apply")
    elif ref.kind is Kind.FILTER:
        live_items = set(d.live_canon.get("items", []))
        want_items = set(d.desired_canon.get("items", []))
        body = {}
        if d.desired_canon.get("description") != d.live_canon.get("description"):
            body["description"] = raw.get("description", "")
        if want_items - live_items:
            body["add_items"] = sorted(want_items - live_items)
        if live_items - want_items:
            body["remove_items"] = sorted(live_items - want_items)
        s.add(ref, "update", api.update_filter(ref.id, body), phase="apply")
    else:
        _calendar_update(s, p, d)


def _calendar_update(s: _Steps, p: _Planner, d: _Decision) -> None:
    ref = d.ref
    assert d.desired is not None and d.live is not None
    live_jobs = set(d.live_canon.get("job_ids", []))
    want_jobs = set(d.desired_canon.get("job_ids", []))
    # Jobs deleted or replaced in this plan leave every calendar on their own (§1.7).
    gone = {
        j.id
        for j, jd in p.decisions.items()
        if j.kind is Kind.JOB and jd.action in (Action.DELETE, Action.REPLACE)
    }
    add = sorted(want_jobs - live_jobs)
    remove = sorted(live_jobs - want_jobs - gone)
    if add:
        after = [s.get(Ref(kind=Kind.JOB, id=j), "apply") for j in add]
        after += [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in add]
        s.add(ref, "add-jobs", api.put_calendar_job(ref.id, add), phase="apply", after=after)
    if remove:
        after = [s.get(Ref(kind=Kind.JOB, id=j), "delete") for j in remove]
        s.add(
            ref, "remove-jobs", api.delete_calendar_job(ref.id, remove), phase="apply", after=after
        )
    live_ids: dict[str, str] = d.live.facts.get("event_ids", {})
    live_events = {event_key(e): e for e in d.live_canon.get("events", [])}
    raw_events = [e for e in d.desired.body.get("events") or [] if isinstance(e, dict)]
    want_events = {event_key(canonical_event(e)): e for e in raw_events}
    for key in sorted(live_events.keys() - want_events.keys()):
        event_id = live_ids.get(key) if isinstance(live_ids, dict) else None
        if event_id:
            s.add(
                ref,
                "delete-event",
                api.delete_calendar_event(ref.id, event_id),
                phase="apply",
                description=f"delete event {live_events[key].get('description')!r} of {ref.id}",
            )
    new = [want_events[k] for k in sorted(want_events.keys() - live_events.keys())]
    if new:
        s.add(ref, "add-events", api.post_calendar_events(ref.id, new), phase="apply")


# ----------------------------------------------------------------------------- entry point


def make_plan(
    desired: Sequence[Resource],
    live: LiveState,
    *,
    references: Sequence[ReferenceLike] = (),
    options: PlanOptions | None = None,
) -> Plan:
    """Compare desired resources with the live state and return an ordered plan.

    Raises:
        PlanError: a reference to nothing, an Elastic-managed resource in the manifests, or
            contradictory run states.
    """
    options = options or PlanOptions()
    planner = _Planner(desired, references, live, options)
    planner.check()
    planner.apply_targets()
    planner.decide_all()
    steps = _build_steps(planner)
    touched = {step.ref for step in steps}
    return Plan(
        resource_fingerprints={
            str(ref): live.fingerprints.get(ref, ABSENT)
            for ref in sorted(touched, key=lambda r: r.sort_key)
        },
        mlsync_version=__version__,
        environment=options.environment,
        cluster=live.cluster,
        manifest_digest=options.manifest_digest,
        live_fingerprint=live.fingerprint,
        changes=planner.changes(),
        steps=steps,
        unmanaged=planner.unmanaged(),
        warnings=tuple(planner.warnings),
        prune=options.prune,
        targets=tuple(str(t) for t in options.targets),
        request_count=live.request_count,
    )
