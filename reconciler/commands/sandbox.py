"""`mlsync sandbox serve`: run the Elasticsearch ML emulator as a real HTTP server.

Input: command-line options. Output: a blocking server on host:port until Ctrl-C. Does network
and (with `--state`) file I/O through reconciler.sandbox.
"""

from __future__ import annotations

import json

import click

from reconciler.sandbox import Sandbox, StateFileError
from reconciler.sandbox.server import make_server


def _parse_fault(spec: str) -> dict[str, object]:
    """A fault rule as JSON (`{"path": "...", "status": 503}`) or `key=value,key=value`."""
    text = spec.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"invalid JSON fault rule: {exc}") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("a fault rule must be a JSON object")
        return {str(k): v for k, v in parsed.items()}
    rule: dict[str, object] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise click.BadParameter(f"expected key=value in fault rule, got {part!r}")
        key = key.strip()
        value = value.strip()
        if key in ("status", "times"):
            rule[key] = int(value)
        elif key in ("rate", "latency", "hold"):
            rule[key] = float(value)
        elif key in ("drop", "timeout"):
            rule[key] = value.lower() in ("1", "true", "yes")
        else:
            rule[key] = value
    return rule


@click.group()
def sandbox() -> None:
    """Run the built-in Elasticsearch ML API emulator."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9200, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="State file (SQLite) shared with other processes (default: in memory).",
)
@click.option("--api-key", default=None, help="Require this API key (id:key or encoded).")
@click.option("--username", default=None, help="Require basic auth with this user.")
@click.option("--password", default=None, help="Password for --username.")
@click.option(
    "--latency", type=float, default=0.0, show_default=True, help="Seconds added to every answer."
)
@click.option(
    "--transition-delay",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds each state transition (opening, closing, ...) takes.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help='Fault rule, JSON or key=value list, e.g. "path=^/_ml/.*,status=503,times=2".',
)
@click.option(
    "--version",
    "es_version",
    default="9.1.0",
    show_default=True,
    help="Elasticsearch version to emulate.",
)
def serve_cmd(
    host: str,
    port: int,
    state_file: str | None,
    api_key: str | None,
    username: str | None,
    password: str | None,
    latency: float,
    transition_delay: float,
    faults: tuple[str, ...],
    es_version: str,
) -> None:
    """Serve the emulator over HTTP until Ctrl-C."""
    if (username is None) != (password is None):
        raise click.UsageError("--username and --password go together")
    if not 0 <= port <= 65535:
        raise click.UsageError(f"--port {port}: expected 0-65535")
    rules = [_parse_fault(f) for f in faults] if faults else None
    try:
        emulator = Sandbox(
            state_file,
            version=es_version,
            api_key=api_key,
            username=username,
            password=password,
            transition_delay=transition_delay,
            faults=rules,
            latency=latency,
        )
        server = make_server(emulator, host, port)
    except StateFileError as exc:
        raise click.ClickException(
            f"{state_file}: the sandbox state file is damaged ({exc}); delete it to start afresh"
        ) from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
    bound_port = server.server_address[1]  # --port 0 picks a free port
    click.echo(
        f"mlsync sandbox (Elasticsearch {es_version}) listening on http://{host}:{bound_port}",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


serve_cmd.name = "serve"
