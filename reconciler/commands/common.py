"""Shared CLI plumbing: options, opening a client, computing a plan, reporting errors.

Manifest and connection options, the embedded sandbox, and errors printed without tracebacks.

Input: click options and the environment. Output: a `PlanContext` for the plan and apply
commands. Does I/O: reads manifests, talks to the cluster (or the embedded sandbox).

Order of work matters for safety: manifests are loaded and validated before any connection
is made, so bad input never sends anything to the cluster (ARCHITECTURE.md, safety rules).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
import traceback
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import jinja2.meta
import jinja2.sandbox

from reconciler import live_checks, registry
from reconciler.client import (
    MLSYNC_POLICY,
    ClientError,
    ConnectionConfig,
    ConnectionConfigError,
    InsecureConnectionWarning,
    MLClient,
    describe_error,
)
from reconciler.client.connection import SETTINGS
from reconciler.client.errors import ApiError, TransportError, UnsupportedProductError
from reconciler.client.preflight import ClusterInfo
from reconciler.cluster import read_cluster
from reconciler.commands import redacting
from reconciler.errors import ManifestError, MlsyncError, UsageError
from reconciler.gc_pause import keep_until_exit, paused_gc
from reconciler.manifest import ManifestSet, load_manifests
from reconciler.manifest.environment import RESERVED_VARIABLES
from reconciler.manifest.loader import find_manifest_files
from reconciler.model import LiveState, Plan, Resource
from reconciler.plan import PlanOptions, make_plan
from reconciler.snapshots import with_bodies
from reconciler.targets import expand_targets, parse_targets

P = ParamSpec("P")
R = TypeVar("R")

#: Where the embedded sandbox keeps its state, so plan/apply/plan in separate processes agree.
DEFAULT_SANDBOX_STATE = Path(".mlsync") / "sandbox.db"
SANDBOX_URL = "http://sandbox.mlsync.invalid:9200"


def echo_err(message: str) -> None:
    """Print to stderr (diagnostics, banners, progress)."""
    click.echo(message, err=True)


#: Colours by the plan line's leading symbol (Terraform's palette); meaning never rests on colour
#: alone, the symbols are always there (ux-conventions.md §2.5).
_PLAN_COLOURS = (
    ("-/+ ", "red"),
    ("+ ", "green"),
    ("~ ", "yellow"),
    ("- ", "red"),
    ("> ", "cyan"),
    ("< ", "magenta"),
    ("!! ", "red"),
    ("# ", "bright_black"),
)


def echo_plan(text: str) -> None:
    """Print a text plan, coloured on a terminal unless NO_COLOR is set."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        click.echo(text, nl=False)
        return
    for line in text.splitlines():
        stripped = line.lstrip()
        colour = next((c for prefix, c in _PLAN_COLOURS if stripped.startswith(prefix)), None)
        bold = stripped.startswith("!!") or line.startswith("Plan: ")
        click.echo(click.style(line, fg=colour, bold=bold) if colour or bold else line)


#: `--allow-env NAME`: the environment variables templates may read with env_var().
ALLOW_ENV_OPTION = click.option(
    "--allow-env",
    "allow_env",
    multiple=True,
    metavar="NAME",
    help="Let templates read this environment variable with env_var() (never a secret: it "
    "ends up in plans and request bodies). Repeatable.",
)


def manifest_options(func: Callable[P, R]) -> Callable[P, R]:
    """PATH arguments, --env, --var and --allow-env."""
    func = ALLOW_ENV_OPTION(func)
    func = click.option(
        "--var",
        "variables",
        multiple=True,
        metavar="KEY=VALUE",
        help="Template variable; overrides the environment file. Repeatable.",
    )(func)
    func = click.option(
        "--env", "env", metavar="NAME", help="Use environments/NAME.yaml for template variables."
    )(func)
    return click.argument("paths", nargs=-1, type=click.Path(path_type=str))(func)


def selection_options(verb: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """--prune, --allow-prune-all, --recover-failed and --target, shared by plan and apply.

    `verb` ("Plan" or "Apply") starts the --target help.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        options = [
            click.option(
                "--prune",
                is_flag=True,
                help="Delete owned resources that are not in the manifests.",
            ),
            click.option(
                "--allow-prune-all",
                is_flag=True,
                help="Allow a --prune that deletes every member of the scope, or that comes "
                "from manifests declaring nothing (otherwise refused).",
            ),
            click.option(
                "--recover-failed",
                is_flag=True,
                help="Force-close (DFA: force-stop) failed jobs and start them again. Without it "
                "a failed job is left alone and the plan says why it failed.",
            ),
            click.option(
                "--live-checks/--no-live-checks",
                "live_checks",
                default=True,
                show_default=True,
                help="Ask the cluster (read-only) whether it would refuse or fail to start what "
                "the plan creates or changes: indices, field mappings, job validation, memory "
                "limits and estimates, DFA sources and destinations.",
            ),
            click.option(
                "--target",
                multiple=True,
                metavar="KIND/ID",
                help=f"{verb} only these resources (repeatable). KIND: job, datafeed, dfa, "
                "filter, calendar or the full kind name; ID may be a glob (job/web_*, dfa/*).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def connection_options(func: Callable[P, R]) -> Callable[P, R]:
    """How to reach the cluster: flags first, then MLSYNC_*, then ELASTICSEARCH_* variables."""
    options = [
        click.option("--url", "url", multiple=True, help="Elasticsearch URL (repeatable)."),
        click.option("--api-key", help="API key: the encoded value or id:key."),
        click.option("--username", help="Basic-auth user."),
        click.option("--password", help="Basic-auth password (prefer MLSYNC_PASSWORD)."),
        click.option("--bearer-token", help="Bearer token."),
        click.option("--cloud-id", help="Elastic Cloud ID."),
        click.option("--ca-cert", type=click.Path(dir_okay=False), help="CA certificate file."),
        click.option(
            "--insecure", is_flag=True, help="Do not verify TLS certificates (not recommended)."
        ),
        click.option("--timeout", type=float, help="Request timeout in seconds (default 30)."),
        click.option(
            "--sandbox",
            is_flag=True,
            help="Use the embedded Elasticsearch ML emulator instead of a cluster.",
        ),
        click.option(
            "--sandbox-state",
            type=click.Path(dir_okay=False, path_type=Path),
            default=DEFAULT_SANDBOX_STATE,
            show_default=True,
            help="State file of the embedded sandbox.",
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks for errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def scope_option(func: Callable[P, R]) -> Callable[P, R]:
    """`--scope NAME` (env MLSYNC_SCOPE): whose resources this run owns, prunes and locks."""
    return click.option(
        "--scope",
        "scope",
        envvar="MLSYNC_SCOPE",
        metavar="NAME",
        help="Ownership scope (env MLSYNC_SCOPE; default: the --env name, else 'default'). "
        "A scope prunes only its own members and never touches another scope's.",
    )(func)


def resolve_scope(options: dict[str, Any]) -> str:
    """The scope of this run: --scope / MLSYNC_SCOPE, else the --env name, else `default`."""
    name = options.get("scope")
    if name is None:  # an empty --scope '' is refused below, never the default scope
        name = options.get("env") or registry.DEFAULT_SCOPE
    try:
        return registry.check_scope(str(name))
    except MlsyncError as exc:
        raise UsageError(f"--scope: {exc}") from None


def parse_variables(pairs: Sequence[str]) -> dict[str, str]:
    """`--var key=value` pairs; a pair without `=` is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def load(
    paths: Sequence[str],
    env: str | None,
    variables: Sequence[str],
    allow_env: Sequence[str] = (),
) -> ManifestSet:
    """Load and validate the manifests (no network); warn about `--var`s no manifest uses."""
    values = parse_variables(variables)
    try:
        return load_manifests(
            list(paths) or ["manifests"], env=env, variables=values, allow_env=allow_env
        )
    finally:
        for warning in unused_variable_warnings(list(paths) or ["manifests"], values):
            echo_err(f"Warning: {warning}")


#: The Jinja2 blocks of a manifest file: `{{ ... }}` and `{% ... %}`.
_TEMPLATE_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def template_variables(text: str) -> set[str]:
    """The variable names the templates in one manifest file's text refer to.

    The whole file is parsed as one template when it can be (a `{% if %}` may span values),
    else line by line, else block by block; what does not parse is the loader's to report.
    """
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment()

    def names(source: str) -> set[str] | None:
        try:
            return set(jinja2.meta.find_undeclared_variables(environment.parse(source)))
        except jinja2.TemplateSyntaxError:
            return None

    whole = names(text)
    if whole is not None:
        return whole
    found: set[str] = set()
    for line in text.splitlines():
        if "{{" not in line and "{%" not in line:
            continue
        parsed = names(line)
        if parsed is None:
            parsed = set().union(*(names(b) or set() for b in _TEMPLATE_BLOCK.findall(line)))
        found |= parsed
    return found


def unused_variable_warnings(paths: Sequence[str], variables: Mapping[str, Any]) -> list[str]:
    """One warning per `--var` that no manifest under `paths` uses (most often a typo)."""
    if not variables:
        return []
    files, _ = find_manifest_files(paths)
    used: set[str] = set()
    for file in files:
        try:
            used |= template_variables(Path(file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # reported by the loader
    return [
        f"--var {name} is not used by any manifest (a typo? the templates use: "
        f"{', '.join(sorted(used)) or 'no variables'})"
        for name in variables
        if name not in used and name not in RESERVED_VARIABLES  # those are errors already
    ]


def open_client(options: dict[str, Any]) -> MLClient:
    """The embedded sandbox (`--sandbox`) or a real cluster from flags and environment."""
    if options.get("sandbox"):
        from reconciler.sandbox import Sandbox, SandboxTransport, StateFileError

        state: Path = options.get("sandbox_state") or DEFAULT_SANDBOX_STATE
        try:
            # The embedded sandbox has none of the user's data loaded, so it treats every concrete
            # index as existing (a real cluster has the data; see reconciler/sandbox/README.md).
            sandbox = Sandbox(state_file=state, implicit_indices=True)
        except StateFileError as exc:
            raise UsageError(
                f"{state}: the sandbox state file is damaged ({exc}); delete it to start afresh"
            ) from None
        except OSError as exc:
            raise UsageError(f"{state}: cannot use the sandbox state file ({exc})") from None
        return MLClient(hosts=[SANDBOX_URL], transport=SandboxTransport(sandbox), **MLSYNC_POLICY)
    flags = {key: options.get(key) for key in SETTINGS}
    redacting.add_secrets(redacting.connection_secrets(flags, os.environ))
    try:
        config = ConnectionConfig.resolve(flags, os.environ)
        redacting.add_secrets(config.secrets())
        if not config.hosts and not config.cloud_id:
            raise UsageError(
                "no cluster given: pass --url or --cloud-id, set MLSYNC_URL (or "
                "ELASTICSEARCH_URL), or try the embedded emulator with --sandbox"
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InsecureConnectionWarning)
            client = MLClient.from_config(config)
    except ConnectionConfigError as exc:
        raise UsageError(str(exc)) from None
    for warning in caught:
        # --insecure: say so on every run, loudly (ux-conventions.md §4.5).
        echo_err(f"Warning: {warning.message}")
    _WHERE[client] = describe_connection(config)
    return client


#: What each open client connects to, for error messages.
_WHERE: weakref.WeakKeyDictionary[MLClient, str] = weakref.WeakKeyDictionary()
_AUTH_LABEL = {"api_key": "API key", "basic": "basic auth", "bearer_token": "bearer token"}
_AUTH_KEYS = {
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "bearer_token": ("bearer_token",),
}


def describe_connection(config: ConnectionConfig) -> str:
    """`https://es:9200 (URL from MLSYNC_URL; API key from ELASTICSEARCH_API_KEY)`, no secrets."""
    origins = config.origins
    if config.hosts:
        where = f"URL from {origins.get('url', '--url')}"
    elif config.cloud_id:
        where = f"cloud id from {origins.get('cloud_id', '--cloud-id')}"
    else:
        where = "the default URL"
    methods = config.auth_methods()
    if methods:
        sources = ", ".join(origins[k] for k in _AUTH_KEYS[methods[0]] if k in origins)
        auth = f"{_AUTH_LABEL[methods[0]]} from {sources}" if sources else _AUTH_LABEL[methods[0]]
    else:
        auth = "no credentials"
    return f"{', '.join(config.urls)} ({where}; {auth})"


def preflight(client: MLClient) -> ClusterInfo:
    """The client's preflight, with errors that say which cluster and credentials were used."""
    where = _WHERE.get(client)
    try:
        return client.preflight()
    except (TransportError, UnsupportedProductError) as exc:
        if where is None:
            raise
        raise UsageError(f"cannot use Elasticsearch at {where}: {exc}") from None
    except ApiError as exc:
        if where is None or exc.status not in (301, 302, 303, 307, 308, 401, 403):
            raise
        what = "rejected the credentials" if exc.status in (401, 403) else "answered"
        raise UsageError(f"Elasticsearch at {where} {what}: {describe_error(exc)}") from None


@dataclass
class PlanContext:
    """Everything a plan was computed from, for the commands that print or apply it."""

    plan: Plan
    client: MLClient
    manifests: ManifestSet
    live: LiveState
    info: ClusterInfo


#: Run after the preflight, before the live state is read (apply takes its lock there); returns
#: the undo to run if the plan then fails, before the client is closed.
BeforeRead = Callable[["MLClient"], Callable[[], None]]


def read_live(
    client: MLClient, before_read: BeforeRead | None = None
) -> tuple[ClusterInfo, LiveState, Callable[[], None]]:
    """Preflight (cluster, licence, ML availability) and the bulk read of the live state.

    `before_read` runs between the two; its requests are not the plan's. Returns the info, the
    live state and `before_read`'s undo (a no-op without it).
    """
    before = client.request_count
    info = preflight(client)
    echo_err(info.banner())
    count = client.request_count - before
    undo = before_read(client) if before_read is not None else _nothing
    try:
        before = client.request_count
        live = read_cluster(client, info)
    except BaseException:
        undo()
        raise
    # The plan reports every request it made, the preflight's included.
    live = dataclasses.replace(live, request_count=count + client.request_count - before)
    return info, live, undo


def _nothing() -> None:
    return None


#: What `mlsync destroy` plans against: no resources at all.
NO_MANIFESTS = ManifestSet(resources=(), references=(), files=(), digest="")


@paused_gc()
def compute_plan(
    options: dict[str, Any], before_read: BeforeRead | None = None, *, destroy: bool = False
) -> PlanContext:
    """Load manifests (none for `destroy`), read the cluster, and build the plan.

    `before_read` runs before the read (apply takes its lock there). The collector is paused
    for all of it, not per stage: each stage's objects would otherwise be scanned between the
    stages (they are all young then); what the command keeps until it exits leaves the
    collector's scans once the plan is made (`keep_until_exit`).
    """
    scope = resolve_scope(options)
    manifests = (
        NO_MANIFESTS
        if destroy
        else load(
            options.get("paths") or (),
            options.get("env"),
            options.get("variables") or (),
            options.get("allow_env") or (),
        )
    )
    targets = parse_targets(options.get("target") or ())
    client = open_client(options)
    undo = _nothing
    try:
        info, live, undo = read_live(client, before_read)
        known = [r.ref for r in manifests.resources] + list(live.resources)
        plan = make_plan(
            manifests.resources,
            live,
            references=manifests.references,
            options=PlanOptions(
                prune=bool(options.get("prune")),
                targets=expand_targets(targets, known) if targets else (),
                environment=manifests.environment,
                manifest_digest=manifests.digest,
                recover_failed=bool(options.get("recover_failed")),
                scope=scope,
                allow_prune_all=destroy or bool(options.get("allow_prune_all")),
            ),
        )
        plan = with_bodies(plan, manifests.resources, live.resources)
        plan = run_live_checks(plan, manifests.resources, live, info, client, options)
    except BaseException:
        undo()
        client.close()
        raise
    keep_until_exit()
    return PlanContext(plan=plan, client=client, manifests=manifests, live=live, info=info)


def run_live_checks(
    plan: Plan,
    desired: Sequence[Resource],
    live: LiveState,
    info: ClusterInfo,
    client: MLClient,
    options: Mapping[str, Any],
) -> Plan:
    """The plan with its live checks made, or recorded as skipped with --no-live-checks."""
    if not options.get("live_checks", True):
        return live_checks.skipped(plan)
    return live_checks.check(plan, desired, live, info, client)


def report_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every user-facing error into a message on stderr and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with redacting.redacted_output(os.environ):
            return _reporting(func, *args, **kwargs)

    return wrapper


def _reporting(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    debug = bool(kwargs.get("debug"))
    try:
        return func(*args, **kwargs)
    except ManifestError as exc:
        if debug:
            _print_traceback()
        for diagnostic in exc.diagnostics:
            echo_err(str(diagnostic))
        echo_err(f"Error: {exc}; nothing was sent to the cluster.")
    except (MlsyncError, ClientError, ConnectionConfigError) as exc:
        if debug:
            _print_traceback()
        echo_err(f"Error: {describe_error(exc)}")
    except KeyboardInterrupt:
        echo_err("Interrupted.")
        sys.exit(130)
    except (SystemExit, click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception:
        # A bug in mlsync: the traceback is printed here, while stderr still redacts, not by
        # the interpreter after the command returned.
        _print_traceback()
        echo_err("Error: internal error in mlsync (traceback above); please report it")
    sys.exit(1)


def _print_traceback() -> None:
    traceback.print_exc(file=sys.stderr)
