"""`mlsync apply` and `mlsync force-unlock`: execute exactly the reviewed plan, under a lock.

Input: manifests or a saved plan file, connection options, flags, the terminal.
Output: the plan, live progress and a final done / failed / skipped table on the terminal (plain
lines in CI logs), and an exit code (0 success or nothing to do, 1 refused or failed).
Does I/O through `commands.common`, `reconciler.lock` and `reconciler.apply`.

Order of work (each refusal happens before any mutating request):
1. no terminal and no --auto-approve with a fresh plan: refuse before connecting;
2. obtain the plan: compute it (fresh), or load the saved one (`--plan`) and compute it again
   from the resources the file records and the live state, refusing a file that differs
   (`reconciler.saved_plan`): the destroy check and the executor only see derived steps;
3. the --allow-destroy gate;
4. confirmation on the terminal ("Only 'yes' will be accepted");
5. take the cluster lock (ux-conventions.md §4.2), then re-read the live state and compare its
   fingerprint with the plan's: a saved plan, or a fresh plan that another writer overtook
   while it was being confirmed, is refused as stale;
6. execute; the lock is released on every exit path.

With `--auto-approve` and no saved plan nobody confirms, so the lock is taken right after the
preflight, before the live state is read (Terraform locks before it refreshes): the plan is
then made under the lock and executed at once, and step 5's re-read - a second full read of the
cluster - is not needed. The gate (3) still refuses before any ML request is sent.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from reconciler import lock as cluster_lock
from reconciler.apply import (
    DEFAULT_CONCURRENCY,
    ApplyResult,
    EventKind,
    StepEvent,
    StepOutcome,
    StepStatus,
    apply_plan,
    check_destructive,
    result_document,
)
from reconciler.client import MLClient
from reconciler.client.preflight import ClusterInfo
from reconciler.cluster import read_cluster
from reconciler.commands.common import (
    compute_plan,
    connection_options,
    echo_err,
    echo_plan,
    manifest_options,
    open_client,
    read_live,
    report_errors,
    resolve_scope,
    run_live_checks,
    scope_option,
    selection_options,
)
from reconciler.errors import ApplyError, LockError, StalePlanError, UsageError
from reconciler.lock import DEFAULT_SCOPE, DEFAULT_TTL, ClusterLock, acquire_lock
from reconciler.model import Plan
from reconciler.plan import stale_resources
from reconciler.planfile import load_saved_plan
from reconciler.render import render_text
from reconciler.saved_plan import rederive

CONFIRM_PROMPT = (
    "Do you want to perform these actions?\n"
    "  mlsync will perform the actions described above.\n"
    "  Only 'yes' will be accepted to approve.\n\n"
    "  Enter a value"
)
#: Above this many steps, a successful apply prints counts instead of the full table.
FULL_TABLE_LIMIT = 100


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


# ----------------------------------------------------------------------------- progress


def plain_line(event: StepEvent) -> str:
    """`[3/12] done   close AnomalyDetectionJob/x (1.2s)` (plus the reason when not done).

    `3` is the step's number (from 1), the same in the result table, the JSON documents and
    "depends on step 3" messages; with concurrency, lines come in the order steps finish.
    """
    outcome = event.outcome
    assert outcome is not None
    width = len(str(event.total))
    number = event.step.index + 1
    line = (
        f"[{number:>{width}}/{event.total}] {outcome.status.value:<6} {outcome.label} "
        f"({outcome.elapsed:.1f}s)"
    )
    return f"{line}: {outcome.message}" if outcome.message else line


#: Seconds between two "still waiting" lines in CI logs while a step waits for a run state.
HEARTBEAT_INTERVAL = 10.0
_WAIT_VERB = {"opened": "open", "closed": "close", "started": "start", "stopped": "stop"}


class PlainProgress:
    """Lines for CI logs and pipes: one per finished step, and a steady heartbeat while waiting.

    A step waiting for a job to open or a datafeed to stop may take minutes; every `interval`
    seconds each waiting step gets a `still waiting for ... (20 s)` line, so a CI log never goes
    silent. Use as a context manager (the heartbeat runs in a daemon thread meanwhile).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = HEARTBEAT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.waiting: dict[int, tuple[StepEvent, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _echo(self, line: str) -> None:
        click.echo(line, file=self.stream or sys.stderr)

    def __enter__(self) -> PlainProgress:
        self._thread = threading.Thread(target=self._beat, name="mlsync-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.heartbeat()

    def heartbeat(self) -> None:
        """Print one `still waiting` line per step that is waiting for a run state."""
        now = self.clock()
        with self._lock:
            for event, since in self.waiting.values():
                verb = _WAIT_VERB.get(event.detail, f"be {event.detail}")
                self._echo(
                    f"still waiting for {event.step.ref} to {verb} ({now - since:.0f} s; "
                    f"step {event.step.index + 1}/{event.total})"
                )

    def __call__(self, event: StepEvent) -> None:
        """Print finished steps; remember waiting ones for the heartbeat."""
        with self._lock:
            if event.kind is EventKind.WAITING:
                self.waiting[event.step.index] = (event, self.clock())
            elif event.kind is EventKind.FINISHED:
                self.waiting.pop(event.step.index, None)
                self._echo(plain_line(event))


class LiveProgress:
    """A rich progress bar naming the running steps; finished lines scroll above it."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("applying", total=total)
        self.running: dict[int, str] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: StepEvent) -> None:
        """Update the bar and the list of running steps."""
        with self._lock:
            label = f"{event.step.op} {event.step.ref}"
            if event.kind is EventKind.STARTED:
                self.running[event.step.index] = label
            elif event.kind is EventKind.WAITING:
                self.running[event.step.index] = f"{label} (waiting for {event.detail})"
            else:
                self.running.pop(event.step.index, None)
                style = {"done": "green", "failed": "bold red", "skipped": "yellow"}
                assert event.outcome is not None
                color = style[event.outcome.status.value]
                # Messages quote the server (`no such index [x]`): never read them as markup.
                self.progress.console.print(
                    plain_line(event), style=color, highlight=False, markup=False
                )
                self.progress.advance(self.task)
            shown = list(self.running.values())[:3]
            more = len(self.running) - len(shown)
            text = ", ".join(shown) + (f" +{more}" if more > 0 else "")
            self.progress.update(self.task, description=text or "applying")


# ----------------------------------------------------------------------------- summary


def _outcome_row(outcome: StepOutcome) -> tuple[Text, ...]:
    # Text cells: server messages contain brackets (`no such index [x]`) that Rich would
    # otherwise swallow as markup (ux-conventions.md §2.5).
    cells = (
        str(outcome.step.index + 1),
        outcome.status.value,
        outcome.step.op,
        str(outcome.step.ref),
        f"{outcome.elapsed:.1f}s",
        outcome.message,
    )
    return tuple(Text(cell) for cell in cells)


def summary_table(result: ApplyResult, *, plain: bool = False) -> Table:
    """The done / failed / skipped table (only failed and skipped rows for large applies).

    `plain` draws no box lines (columns separated by spaces), for CI logs.
    """
    table = Table(
        title="Apply result",
        title_justify="left",
        box=box.SIMPLE if plain else box.HEAVY_HEAD,
    )
    for name in ("#", "status", "step", "resource", "time", "detail"):
        table.add_column(name, overflow="fold")
    rows = result.outcomes
    if len(rows) > FULL_TABLE_LIMIT:
        rows = tuple(o for o in rows if o.status is not StepStatus.DONE)
    styles = {StepStatus.DONE: "green", StepStatus.FAILED: "bold red", StepStatus.SKIPPED: "yellow"}
    for outcome in rows:
        table.add_row(*_outcome_row(outcome), style=styles[outcome.status])
    return table


def summary_line(result: ApplyResult) -> str:
    """`Apply complete: 12 done, 0 failed, 0 skipped in 3.4s.`."""
    counts = (
        f"{len(result.done)} done, {len(result.failed)} failed, {len(result.skipped)} skipped "
        f"in {result.elapsed:.1f}s"
    )
    if result.ok:
        return f"Apply complete: {counts}."
    why = f" ({result.aborted})" if result.aborted else ""
    return f"Apply failed{why}: {counts}."


# ----------------------------------------------------------------------------- the command


def _require_approval_possible(options: dict[str, Any]) -> None:
    if options["plan_file"] is None and not options["auto_approve"] and not _stdin_is_tty():
        raise UsageError(
            "apply needs confirmation but there is no terminal: review the plan and pass "
            "--auto-approve, or apply a saved plan with --plan FILE; nothing was changed"
        )


def _check_flags(options: dict[str, Any]) -> None:
    if options["plan_file"] is None:
        return
    clashing = [
        flag
        for flag, value in (
            ("PATH", options.get("paths")),
            ("--env", options.get("env")),
            ("--var", options.get("variables")),
            ("--allow-env", options.get("allow_env")),
            ("--prune", options.get("prune")),
            ("--allow-prune-all", options.get("allow_prune_all")),
            ("--target", options.get("target")),
            ("--recover-failed", options.get("recover_failed")),
        )
        if value
    ]
    if clashing:
        raise UsageError(
            f"--plan applies a saved plan as it is; it cannot be combined with "
            f"{', '.join(clashing)} (make a new plan with mlsync plan --out instead)"
        )


def _stale_check(plan: Plan, client: MLClient, info: ClusterInfo, *, saved: bool) -> None:
    """Refuse when the cluster differs from the one, or the state, the plan was computed from."""
    if plan.cluster.uuid and info.cluster_uuid and plan.cluster.uuid != info.cluster_uuid:
        raise StalePlanError(
            f"the plan was made against cluster {plan.cluster.name or '?'} "
            f"({plan.cluster.uuid}), but this is {info.cluster_name} ({info.cluster_uuid})"
        )
    # Only the resources the plan acts on count: a DFA elsewhere finishing its run, or a
    # look-back datafeed stopping itself, does not make this plan wrong.
    changed = stale_resources(plan, read_cluster(client, info))
    if changed:
        what = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        if saved:
            raise StalePlanError(
                f"plan is stale: {what} changed since the plan was made; run mlsync plan again"
            )
        raise StalePlanError(
            f"plan is stale: {what} changed while the plan was being confirmed (another "
            "writer?); nothing was changed, run mlsync apply again"
        )


def lock_name(options: dict[str, Any], plan: Plan | None = None) -> str:
    """The lock is the scope's: applies in one scope run one at a time (`--lock-scope` is gone).

    Two scopes may run at once; they never act on the same resource, because each resource is
    claimed in the ownership registry by exactly one scope (see `reconciler.registry`).
    """
    scope = resolve_scope(options) if plan is None else plan.scope
    if plan is not None and options.get("scope") not in (None, plan.scope):
        raise UsageError(
            f"the saved plan was made for scope '{plan.scope}', not '{options['scope']}'; "
            f"apply it with --scope {plan.scope} (or make a new plan for that scope)"
        )
    legacy = options.get("lock_scope")
    if legacy not in (None, DEFAULT_SCOPE, scope):
        raise UsageError(
            f"--lock-scope {legacy!r}: the lock now belongs to the ownership scope; pass "
            f"--scope {legacy} instead (it names the lock and the resources it owns)"
        )
    return scope


def _take_lock(client: MLClient, options: dict[str, Any], plan: Plan | None = None) -> ClusterLock:
    lock = acquire_lock(
        client,
        scope=lock_name(options, plan),
        ttl=options["lock_ttl"],
        timeout=options["lock_timeout"],
        retry_interval=min(1.0, max(0.05, options["lock_ttl"] / 10)),
    )
    echo_err(f"Acquired the cluster lock '{lock.scope}' (lock ID {lock.info.lock_id}).")
    return lock


def _execute(
    plan: Plan,
    client: MLClient,
    info: ClusterInfo,
    options: dict[str, Any],
    held: ClusterLock | None = None,
) -> ApplyResult:
    """Run the plan with the progress display that fits the output.

    `held`: the lock the plan was read under (then there is nothing to re-read).
    """
    common: dict[str, Any] = {
        "concurrency": options["concurrency"],
        "wait_timeout": options["wait_timeout"],
        "poll_interval": options["poll_interval"],
    }
    saved = plan if options["plan_file"] is not None else None
    lock = held or _take_lock(client, options, saved)
    with lock:
        if held is None:
            _stale_check(plan, client, info, saved=options["plan_file"] is not None)
        if _stderr_is_tty():
            console = Console(stderr=True)
            with LiveProgress(console, len(plan.steps)) as live:
                result = apply_plan(plan, client, on_event=live, guard=lock.check, **common)
        else:
            with PlainProgress() as plain:
                result = apply_plan(plan, client, on_event=plain, guard=lock.check, **common)
    for warning in result.warnings:
        echo_err(f"Warning: {warning}")
    if lock.release_error:
        echo_err(f"Warning: {lock.release_error}")
    return result


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a cancelled CI job) like Ctrl-C.

    The lock is then released and the table printed instead of the process dying mid-apply.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(result: ApplyResult, fmt: str = "text") -> None:
    down = ", ".join(str(ref) for ref in result.left_stopped)
    if fmt == "json":
        # stdout carries only the document; people still read the summary on stderr.
        click.echo(json.dumps(result_document(result), indent=2, ensure_ascii=False))
        echo_err(summary_line(result))
    else:
        tty = sys.stdout.isatty()
        console = Console(stderr=False, width=None if tty else 160)
        table = summary_table(result, plain=not tty)
        if table.row_count:
            console.print(table)
        click.echo(summary_line(result))
        if down:
            click.echo(
                f"Left stopped by this apply: {down} (re-run mlsync apply to start them again)."
            )
    if not result.ok:
        failed = len(result.failed)
        raise ApplyError(
            f"{failed} step{'s' if failed != 1 else ''} failed, {len(result.skipped)} skipped"
            f"{'; ' + result.aborted if result.aborted else ''}"
            f"{'; left stopped: ' + down if down else ''}. Nothing was rolled back: "
            "re-run mlsync plan/apply to converge"
        )


def _valid_scope(param: click.Parameter, value: str) -> str:
    """A lock scope checked before anything is sent (it becomes a document id in a path)."""
    try:
        return cluster_lock.check_scope(value)
    except LockError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command("apply")
@manifest_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply a plan saved by `mlsync plan --out FILE` (refused if the cluster changed).",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Result format: json prints one machine-readable result document on stdout "
    "(the plan and progress go to stderr).",
)
@click.option(
    "--allow-destroy",
    is_flag=True,
    help="Allow deletes and replaces (a replaced job loses its results and model state).",
)
@selection_options("Apply")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Independent resources changed at the same time, like Terraform's -parallelism "
    "(1: strictly in plan order).",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for each open/close/start/stop to complete.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds between two run-state polls while waiting.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply's lock to be released.",
)
@click.option(
    "--lock-ttl",
    type=click.FloatRange(min=1),
    default=DEFAULT_TTL,
    show_default=True,
    help="Seconds the lock stays valid if this process dies (renewed every TTL/3 meanwhile).",
)
@click.option(
    "--lock-scope",
    default=DEFAULT_SCOPE,
    metavar="NAME",
    callback=lambda ctx, param, value: _valid_scope(param, value),
    help="Replaced by --scope: the lock belongs to the ownership scope (if given, it must "
    "name the same scope).",
)
@scope_option
@connection_options
@report_errors
def apply(**options: Any) -> None:
    """Apply the changes of a plan to the cluster (PATH defaults to manifests/).

    Without --plan, computes the plan, shows it and asks for confirmation. Steps run in
    dependency order, independent resources concurrently. If a step fails, the steps that
    depend on it are skipped and independent steps continue; anything apply stopped for an
    update is restarted when safe. Nothing is rolled back: re-run plan/apply to converge.
    """
    _check_flags(options)
    _require_approval_possible(options)
    if options["plan_file"] is not None:
        saved = load_saved_plan(options["plan_file"])
        if saved.inputs is None:
            raise UsageError(
                f"{options['plan_file']}: this plan file does not record the resources it was "
                "made from, so it cannot be checked before it is applied; make a new one with "
                "mlsync plan --out"
            )
        client = open_client(options)
        try:
            info, live, _ = read_live(client)
            # Never execute the file's calls as such: compute them again and compare.
            plan = rederive(
                saved.plan,
                saved.inputs.desired,
                saved.inputs.references,
                live,
                source=str(options["plan_file"]),
                recover_failed=saved.inputs.recover_failed,
                allow_prune_all=saved.inputs.allow_prune_all,
            )
            # The checks the saved plan recorded are made again on what will be executed: the
            # cluster may have changed since (an index deleted, a limit lowered).
            recorded = saved.plan.live_checks
            if recorded is not None and recorded.enabled:
                plan = run_live_checks(plan, saved.inputs.desired, live, info, client, options)
                for warning in plan.warnings:
                    echo_err(f"Warning: {warning}")
            _apply_loaded(plan, client, info, options, fresh=False)
        finally:
            client.close()
        return
    held: list[ClusterLock] = []

    def lock_first(client: MLClient) -> Callable[[], None]:
        held.append(_take_lock(client, options))
        return held[0].release

    context = compute_plan(options, before_read=lock_first if options["auto_approve"] else None)
    try:
        _apply_loaded(context.plan, context.client, context.info, options, fresh=True, held=held)
    finally:
        for lock in held:  # idempotent: already released when the plan was executed
            lock.release()
        context.client.close()


def _apply_loaded(
    plan: Plan,
    client: MLClient,
    info: ClusterInfo,
    options: dict[str, Any],
    *,
    fresh: bool,
    held: list[ClusterLock] | None = None,
) -> None:
    as_json = options.get("fmt") == "json"
    if fresh and as_json:
        echo_err(render_text(plan).rstrip("\n"))
    elif fresh:
        echo_plan(render_text(plan))
    else:
        say = echo_err if as_json else click.echo
        say(f"Applying the saved plan {options['plan_file']} ({len(plan.steps)} steps).")
    if not plan.has_changes:
        if as_json:
            click.echo(json.dumps(result_document(None), indent=2))
            echo_err("No changes. The cluster matches the manifests; nothing to apply.")
            return
        click.echo("No changes. The cluster matches the manifests; nothing to apply.")
        return
    check_destructive(plan, allow_destroy=options["allow_destroy"])
    if fresh and not options["auto_approve"]:
        answer = click.prompt(CONFIRM_PROMPT, default="", show_default=False, err=True)
        if answer.strip() != "yes":
            raise ApplyError("apply cancelled: only 'yes' is accepted; nothing was changed")
    with _sigterm_as_interrupt():
        result = _execute(plan, client, info, options, held[0] if held else None)
    _report(result, options.get("fmt") or "text")


@click.command("force-unlock")
@click.argument("lock_id")
@scope_option
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@report_errors
def force_unlock(**options: Any) -> None:
    """Remove the cluster lock LOCK_ID left behind by an apply that no longer runs.

    Only the exact lock ID shown in the lock error is accepted. Removing the lock of an apply
    that is still running lets two applies interleave.
    """
    lock_id = options["lock_id"]
    scope = resolve_scope(options)
    if not options["force"]:
        if not _stdin_is_tty():
            raise UsageError("force-unlock needs confirmation: pass --force (no terminal)")
        click.confirm(
            f"Remove the cluster lock '{scope}' with ID {lock_id}?",
            abort=True,
            err=True,
        )
    client = open_client(options)
    try:
        removed = cluster_lock.force_unlock(client, lock_id, scope=scope)
    finally:
        client.close()
    click.echo(f"Removed the cluster lock '{scope}' held by {removed.describe()}.")
