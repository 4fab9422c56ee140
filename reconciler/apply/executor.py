"""The executor: run a plan's steps against a cluster, concurrently, in dependency order.

Input: a `Plan` (its `steps`), a client with `perform(call)`, limits and an event callback.
Output: an `ApplyResult` (one outcome per step). I/O: the steps' calls and the stats polls
that follow them, through the client; nothing is printed here.

Policy (summarised for users in `mlsync apply --help`):
- A step runs once every step it `depends_on` has succeeded. Steps on the same resource never
  overlap: each also waits for the previous step on that resource to finish (an ordering-only
  safety net; it does not change which steps are skipped).
- Up to `concurrency` steps are in flight; ready steps start in plan order.
- Ownership-registry writes that are ready at the same time (the claims before the creates,
  the removals after deletes, restore records) go out as one `_bulk` request per group of
  up to `bulk.BULK_LIMIT`, which takes one slot; each step is settled from its own item with
  the outcome the step's single request would have had (`batch.py`). A lone one is sent as
  it is. The plan keeps one step per resource: plans, their files and rendering do not change.
- After a call with `wait_for`, the resource's stats are polled until that run state is
  reported (`waits.py`); a timeout or a `failed` state fails the step. No poll follows an
  answer that already says the state was reached (`{"opened": true, "node": ...}` from `_open`,
  `{"started": true, ...}` from a datafeed `_start`: Elasticsearch answers those once the task
  is in that state), so opening a job costs one request, not two.
- A failure skips every step that depends on it, transitively. Independent work continues
  (Terraform's behaviour; chosen over ux-conventions.md §4.1's stop-everything default so that
  an apply does not stop half-way through unrelated resources); the re-run of plan/apply
  converges from the live state.
- Restore steps (the restart after a stop-for-update, `Step.restore`) still run when the
  update or the stop before them failed or was skipped, so nothing stays stopped that was
  running (ux-conventions.md §4.1) - but only when their own resource is in a safe state:
  it still exists, is not `failed`, and any restore step they depend on succeeded. A restore
  whose resource already runs is done without a call.
- "Already done" answers are success, decided in one place (`reconciler.client.api.
  already_done`): `_open`/`_start` answering 409 "already been opened/started" and a DELETE
  answering 404 (es-ml-api.md §5.1-§5.3, §1.7). Closing a closed job and stopping a stopped
  datafeed are plain 200s in Elasticsearch (§5.1, §5.2). A create whose answer was lost is
  confirmed by reading inside the client (`api.confirmation_read`), so it is not redone here.
- `guard` (the cluster lock's check) runs before every step is started; when it raises, no
  further step starts (a lost lock must not let two applies interleave) and the rest are
  skipped. A `cancel` event or Ctrl-C (SIGTERM in the CLI) does the same and interrupts
  running waits; then the restore steps of what this apply had stopped still run, when safe,
  so that an interrupted restart-update leaves nothing stopped that was running. What stays
  stopped anyway is `ApplyResult.left_stopped`.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from reconciler.apply import batch, bulk
from reconciler.apply.outcome import (
    STOPPING_OPS,
    ApplyResult,
    EventHandler,
    EventKind,
    StepEvent,
    StepOutcome,
    StepStatus,
)
from reconciler.apply.registry_window import widen_registry
from reconciler.apply.waits import (
    TRANSITIONAL,
    Client,
    WaitFailed,
    answer_reached,
    has_run_state,
    reached,
    read_stats,
    send,
    wait_for_state,
)
from reconciler.client import api
from reconciler.client.errors import ApiError, ClientError, NotFoundError, describe_error
from reconciler.errors import MlsyncError, PlanError
from reconciler.model import Plan, Step

Guard = Callable[[], None]
#: What runs in one worker: a single step, or a bulk of registry writes.
Running = dict[Future[list[StepOutcome]], tuple[Step, ...]]

#: Steps in flight by default: Terraform's default `-parallelism`, what users expect. Safe for
#: Elasticsearch because each step is one small REST call on a different resource (never a
#: bulk or search load): the master applies the config changes in cluster-state order anyway,
#: `_open`/`_start` queue on the ML node assignment, and 10 concurrent connections are far
#: below the HTTP thread pool and the client connection pool; a 429 is retried with backoff by
#: the client. Steps on the same resource and dependent steps still run one after the other.
DEFAULT_CONCURRENCY = 10


def apply_plan(
    plan: Plan,
    client: Client,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    wait_timeout: float = 600.0,
    poll_interval: float = 0.5,
    on_event: EventHandler | None = None,
    guard: Guard | None = None,
    cancel: threading.Event | None = None,
) -> ApplyResult:
    """Execute `plan.steps` and report every step's outcome (never raises for a failed step).

    Args:
        plan: the plan to execute, exactly as rendered and confirmed (never re-derived).
        client: the Elasticsearch client (`perform(call) -> ApiResponse`).
        concurrency: maximum steps in flight (1 runs the steps strictly in plan order).
        wait_timeout: seconds to wait for each run-state transition.
        poll_interval: seconds between two stats polls while waiting.
        on_event: progress callback; called from worker threads, one call at a time.
        guard: called before each step starts; raising `MlsyncError` aborts the apply.
        cancel: when set, no further step starts and running waits stop.

    Raises:
        PlanError: the steps are malformed (unknown or forward dependencies).
        ValueError: `concurrency` < 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    warning = widen_registry(client, plan.steps)
    run = _Run(plan, client, wait_timeout, poll_interval, on_event, guard, cancel)
    result = run.execute(concurrency)
    return dataclasses.replace(result, warnings=(warning,)) if warning else result


class _Run:
    """The mutable bookkeeping of one apply (scheduler state lives in the calling thread)."""

    def __init__(
        self,
        plan: Plan,
        client: Client,
        wait_timeout: float,
        poll_interval: float,
        on_event: EventHandler | None,
        guard: Guard | None,
        cancel: threading.Event | None,
    ) -> None:
        self.steps = list(plan.steps)
        self.client = client
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.on_event = on_event
        self.guard = guard
        self.cancel = cancel or threading.Event()
        self.by_index: dict[int, Step] = {}
        self.outcomes: dict[int, StepOutcome] = {}
        self.aborted = ""
        #: Ctrl-C was pressed again while winding down: restart nothing more.
        self._hurry = False
        self._event_lock = threading.Lock()
        self._order_deps = self._validate()
        self._dependents: dict[int, list[int]] = {s.index: [] for s in self.steps}
        self._unfinished: dict[int, int] = {}
        for step in self.steps:
            deps = self._order_deps[step.index]
            self._unfinished[step.index] = len(deps)
            for dep in deps:
                self._dependents[dep].append(step.index)
        self._position = {s.index: pos for pos, s in enumerate(self.steps)}
        self._ready: list[tuple[int, int]] = [
            (self._position[i], i) for i, n in self._unfinished.items() if n == 0
        ]
        heapq.heapify(self._ready)

    # ------------------------------------------------------------------ validation

    def _validate(self) -> dict[int, set[int]]:
        """Check the steps and return each one's ordering dependencies (explicit + same-ref)."""
        seen: dict[int, Step] = {}
        last_on_ref: dict[str, int] = {}
        order: dict[int, set[int]] = {}
        for step in self.steps:
            if step.index in seen:
                raise PlanError(f"the plan has two steps numbered {step.index}")
            for dep in step.depends_on:
                if dep not in seen:
                    raise PlanError(
                        f"step {step.index} ({step.op} {step.ref}) depends on step {dep}, "
                        "which does not come before it in the plan"
                    )
            deps = set(step.depends_on)
            previous = last_on_ref.get(str(step.ref))
            if previous is not None:
                deps.add(previous)
            order[step.index] = deps
            seen[step.index] = step
            last_on_ref[str(step.ref)] = step.index
        self.by_index = seen
        return order

    # ------------------------------------------------------------------ scheduling

    def execute(self, concurrency: int) -> ApplyResult:
        """Run the scheduler loop until every step has an outcome."""
        started = time.monotonic()
        running: Running = {}
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mlsync-apply") as pool:
            try:
                while len(self.outcomes) < len(self.steps):
                    if self.cancel.is_set():
                        self.aborted = self.aborted or "interrupted"
                        break
                    self._start_ready(pool, running, concurrency)
                    if not running:
                        if len(self.outcomes) < len(self.steps) and not self._ready:
                            # Unreachable for validated plans; never loop forever.
                            self._skip_rest("not started: unresolved dependencies")
                        continue
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        # Recorded before it leaves `running`: an interrupt between the two
                        # lines must not lose the outcome (`_finish` is idempotent).
                        for outcome in _results_of(future, running[future]):
                            self._finish(outcome)
                        del running[future]
            except KeyboardInterrupt:
                self.aborted = self.aborted or "interrupted"
                self.cancel.set()
            self._drain(running)
            self._wind_down()
        outcomes = tuple(self.outcomes[s.index] for s in self.steps)
        return ApplyResult(outcomes, time.monotonic() - started, self.aborted)

    def _drain(self, running: Running) -> None:
        """Collect the steps in flight at an interrupt (their waits stop at once: `cancel`)."""
        while running:
            try:
                for future, steps in list(running.items()):
                    for outcome in _results_of(future, steps):
                        self._finish(outcome)
                    del running[future]
            except KeyboardInterrupt:  # pressed again: no restarts, but keep every outcome
                self._hurry = True

    def _wind_down(self) -> None:
        """After an interrupt: skip what had not started, and restart what apply stopped.

        Once this apply has tried to stop or close anything, every restore step not yet run
        runs here, in plan order, one at a time, with the same safety check as a restore after
        a failure (what still runs is "already" there: one stats read, no call), and waits
        without the interrupt's `cancel`
        (a restart must not be abandoned half-way); pressing Ctrl-C again stops this too. A
        lost lock restores nothing: another apply may own the cluster by now.
        """
        if len(self.outcomes) == len(self.steps):
            return
        restoring = self.aborted == "interrupted" and not self._hurry and self._stopped_anything()
        self.cancel = threading.Event()
        for step in self.steps:
            if step.index in self.outcomes:
                continue
            if not (restoring and step.restore):
                self._finish(_skipped(step, f"not started: apply {self.aborted}"))
                continue
            try:
                self._finish(self._restore_now(step))
            except KeyboardInterrupt:
                restoring = False
                self._finish(_skipped(step, "not restored: apply interrupted again"))
        self._ready.clear()

    def _stopped_anything(self) -> bool:
        """Did this apply try to stop or close anything (a call that may have landed)?"""
        return any(
            self.by_index[i].op in STOPPING_OPS and o.status is not StepStatus.SKIPPED
            for i, o in self.outcomes.items()
        )

    def _restore_now(self, step: Step) -> StepOutcome:
        verdict = self._verdict(step)
        if isinstance(verdict, StepOutcome):
            return verdict
        if self.guard is not None:
            try:
                self.guard()
            except MlsyncError as exc:
                return _skipped(step, f"not restored: {exc}")
        result = self._run_step(step, True)
        if result.status is StepStatus.DONE:
            note = _join(result.message, "restarted after the interrupt")
            result = StepOutcome(step, result.status, note, result.elapsed)
        return result

    def _start_ready(self, pool: ThreadPoolExecutor, running: Running, concurrency: int) -> None:
        """Start ready steps in plan order; registry writes ready together share a bulk."""
        batches: dict[str, list[Step]] = {}
        while self._ready:
            if self.cancel.is_set():
                break  # interrupted: `_wind_down` decides what still runs
            step = self.by_index[self._ready[0][1]]
            group = bulk.group_of(step.call)
            if group not in batches and len(running) + len(batches) >= concurrency:
                break  # a step that needs a slot of its own, and none is free
            heapq.heappop(self._ready)
            if self.aborted:
                self._finish(_skipped(step, f"not started: apply {self.aborted}"))
                continue
            verdict = self._verdict(step)
            if isinstance(verdict, StepOutcome):
                self._finish(verdict)
                continue
            if self.guard is not None:
                try:
                    self.guard()
                except MlsyncError as exc:
                    self.aborted = f"aborted: {exc}"
                    self._finish(_skipped(step, f"not started: apply {self.aborted}"))
                    continue
            if group is None or verdict:
                running[pool.submit(self._run_one, step, verdict)] = (step,)
                continue
            batches.setdefault(group, []).append(step)
            if len(batches[group]) == bulk.BULK_LIMIT:
                self._submit_batch(pool, running, batches.pop(group))
        for steps in batches.values():
            if self.aborted:  # the lock was lost while collecting: none of them is sent
                for step in steps:
                    self._finish(_skipped(step, f"not started: apply {self.aborted}"))
            elif self.cancel.is_set():  # back in the queue, for `_wind_down` to decide
                for step in steps:
                    heapq.heappush(self._ready, (self._position[step.index], step.index))
            else:
                self._submit_batch(pool, running, steps)

    def _submit_batch(self, pool: ThreadPoolExecutor, running: Running, steps: list[Step]) -> None:
        if len(steps) == 1:  # a lone registry write is sent as it is: one request either way
            running[pool.submit(self._run_one, steps[0], False)] = (steps[0],)
        else:
            running[pool.submit(self._run_batch, steps)] = tuple(steps)

    def _run_one(self, step: Step, restore_after_failure: bool) -> list[StepOutcome]:
        return [self._run_step(step, restore_after_failure)]

    def _verdict(self, step: Step) -> StepOutcome | bool:
        """Whether `step` may run (its dependencies have all finished).

        Returns:
            A skipped outcome, or the restore flag: True when the step runs as a restore
            after a failure (its resource's state is checked first).
        """
        bad = [d for d in step.depends_on if self.outcomes[d].status is not StepStatus.DONE]
        if not bad:
            return False
        if step.restore:
            for dep in bad:
                if self.by_index[dep].restore:
                    return _skipped(step, f"restore step {_describe(self.outcomes[dep])}")
            return True
        return _skipped(step, f"depends on step {_describe(self.outcomes[bad[0]])}")

    def _finish(self, outcome: StepOutcome) -> None:
        if outcome.step.index in self.outcomes:
            return
        self.outcomes[outcome.step.index] = outcome
        for dependent in self._dependents[outcome.step.index]:
            self._unfinished[dependent] -= 1
            if self._unfinished[dependent] == 0:
                heapq.heappush(self._ready, (self._position[dependent], dependent))
        self._emit(EventKind.FINISHED, outcome.step, outcome=outcome)

    def _skip_rest(self, reason: str) -> None:
        for step in self.steps:
            if step.index not in self.outcomes:
                self.outcomes[step.index] = _skipped(step, reason)
                self._emit(EventKind.FINISHED, step, outcome=self.outcomes[step.index])
        self._ready.clear()

    def _emit(
        self, kind: EventKind, step: Step, *, outcome: StepOutcome | None = None, detail: str = ""
    ) -> None:
        if self.on_event is None:
            return
        with self._event_lock:
            event = StepEvent(kind, step, len(self.outcomes), len(self.steps), outcome, detail)
            self.on_event(event)

    # ------------------------------------------------------------------ one step (worker thread)

    def _run_step(self, step: Step, restore_after_failure: bool) -> StepOutcome:
        started = time.monotonic()

        def outcome(status: StepStatus, message: str = "") -> StepOutcome:
            return StepOutcome(step, status, message, time.monotonic() - started)

        try:
            if restore_after_failure:
                check = self._restore_check(step)
                if check is not None:
                    return outcome(*check)
            self._emit(EventKind.STARTED, step)
            answer, note, substituted = self._call(step)
            if self._must_wait(step, answer, substituted):
                assert step.wait_for is not None
                self._emit(EventKind.WAITING, step, detail=step.wait_for)
                lazy = isinstance(answer, dict) and answer.get("node") == ""
                wait_for_state(
                    self.client,
                    step.ref,
                    step.wait_for,
                    timeout=self.wait_timeout,
                    poll_interval=self.poll_interval,
                    lazy=lazy,
                    cancel=self.cancel,
                )
                if lazy:
                    note = _join(note, "assigned lazily, waiting for ML capacity")
            return outcome(StepStatus.DONE, note)
        except (ClientError, WaitFailed) as exc:
            return outcome(StepStatus.FAILED, describe_error(exc))
        except Exception as exc:  # a bug must not leave the lock held or the table unprinted
            return outcome(StepStatus.FAILED, f"internal error: {exc!r}")

    def _run_batch(self, steps: list[Step]) -> list[StepOutcome]:
        """Run registry-write steps as one bulk request (`batch.py`); one outcome per step."""
        started = time.monotonic()
        for step in steps:
            self._emit(EventKind.STARTED, step)
        try:
            results = batch.run_batch(self.client, steps, lambda s: self._call(s)[1])
        except Exception as exc:  # a bug must not leave the lock held or the table unprinted
            results = [(StepStatus.FAILED, f"internal error: {exc!r}")] * len(steps)
        elapsed = time.monotonic() - started
        return [
            StepOutcome(step, status, message, elapsed)
            for step, (status, message) in zip(steps, results, strict=True)
        ]

    @staticmethod
    def _must_wait(step: Step, answer: Any, substituted: bool) -> bool:
        """A transition is polled unless its own (real) answer says the state was reached."""
        if not (step.wait_for and has_run_state(step.ref.kind)):
            return False
        return substituted or not answer_reached(step.ref, step.wait_for, answer)

    def _call(self, step: Step) -> tuple[Any, str, bool]:
        """Send the step's call; map "already done" answers to success (module docstring).

        Returns:
            The answer's body, a note for the outcome, and whether the body is a substitute
            for an "already done" error (which never proves that a transition completed).
        """
        try:
            answer = send(self.client, step.call)
        except ApiError as exc:
            request = api.Call.model_validate(step.call.model_dump())
            substitute = api.already_done(request, exc.status, exc.reason)
            if substitute is None:
                raise
            what = "deleted" if step.call.method == "DELETE" else _transition_word(step)
            return substitute, f"already {what}", True
        meta = getattr(answer, "meta", None)
        # A retry's "already opened" or a read-back stands in for a lost answer (client.base).
        confirmed = bool(getattr(meta, "confirmed", 0))
        note = "confirmed by reading after a lost answer" if confirmed else ""
        return getattr(answer, "body", None), note, confirmed

    def _restore_check(self, step: Step) -> tuple[StepStatus, str] | None:
        """Decide whether a restore after a failure is safe; None means send the call."""
        if not (step.wait_for and has_run_state(step.ref.kind)):
            return None
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                entry = read_stats(self.client, step.ref)
            except NotFoundError:
                return StepStatus.SKIPPED, f"not restored: {step.ref} no longer exists"
            state = str(entry.get("state", ""))
            # Let an in-flight transition settle before deciding (es-ml-api.md §5).
            if state not in TRANSITIONAL or time.monotonic() >= deadline:
                break
            if self.cancel.wait(self.poll_interval):
                raise WaitFailed(f"interrupted while checking {step.ref}")
        try:
            if reached(step.ref, step.wait_for, entry):
                return StepStatus.DONE, f"already {state}"
        except WaitFailed:
            return StepStatus.SKIPPED, f"not restored: {step.ref} is in state {state}"
        if state in TRANSITIONAL:
            return StepStatus.SKIPPED, f"not restored: {step.ref} is still {state}"
        return None


def _transition_word(step: Step) -> str:
    return "opened" if step.call.path.endswith("/_open") else "started"


def _join(note: str, extra: str) -> str:
    return f"{note}; {extra}" if note else extra


def _describe(outcome: StepOutcome) -> str:
    verb = "failed" if outcome.status is StepStatus.FAILED else "was skipped"
    # Steps are numbered from 1 wherever a person reads them (progress, table, JSON).
    return f"{outcome.step.index + 1} ({outcome.label}), which {verb}"


def _skipped(step: Step, reason: str) -> StepOutcome:
    return StepOutcome(step, StepStatus.SKIPPED, reason)


def _results_of(future: Future[list[StepOutcome]], steps: tuple[Step, ...]) -> list[StepOutcome]:
    try:
        return future.result()
    except BaseException as exc:  # the runners catch Exception; this is KeyboardInterrupt etc.
        return [StepOutcome(step, StepStatus.FAILED, f"interrupted: {exc!r}") for step in steps]
