"""Everything a command prints passes one redactor that knows every configured secret.

Input: the connection flags and the environment (where the secrets are), the process's
stdout and stderr. Output: the same streams, with every form of every secret replaced by
`***` (`reconciler.redact`). Does I/O: swaps `sys.stdout`/`sys.stderr` while a command runs.

Redacting at the stream, not at each message, means no output path can forget it: plans,
progress lines, error messages, warnings, log records (the logging module writes to
`sys.stderr`) and `--debug` tracebacks all pass here. Files the CLI writes (plan files,
GitHub outputs) use `redactor()` directly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO
from urllib.parse import unquote

from reconciler.redact import Redactor

__all__ = ["add_secrets", "connection_secrets", "redacted_output", "redactor"]

#: Connection settings that are secrets (flag names; environment suffixes upper-cased).
SECRET_SETTINGS = ("api_key", "password", "bearer_token")
_PREFIXES = ("MLSYNC_", "ELASTICSEARCH_")

_secrets: set[str] = set()
_current = Redactor()


def redactor() -> Redactor:
    """The redactor for every secret seen so far in this process."""
    return _current


def add_secrets(values: Iterable[str | None]) -> None:
    """Remember more secrets (idempotent)."""
    global _current
    new = {v for v in values if v} - _secrets
    if new:
        _secrets.update(new)
        _current = Redactor(_secrets)


def connection_secrets(flags: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The secrets among connection flags and environment variables, as given.

    The API key, password and bearer token, and the `user:password` of any URL (raw and
    percent-decoded); decoded and encoded API key forms come from `ConnectionConfig.secrets`.
    """
    out: list[str] = []
    for key in (*SECRET_SETTINGS, "url"):
        values: list[Any] = [flags.get(key)]
        values += [environ.get(prefix + key.upper()) for prefix in _PREFIXES]
        if key == "url":
            values.append(environ.get("ELASTICSEARCH_ENDPOINTS"))
        for value in values:
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if not isinstance(item, str) or not item:
                    continue
                out += _url_secrets(item) if key == "url" else [item, item.strip()]
    return out


def _url_secrets(text: str) -> list[str]:
    out: list[str] = []
    for url in text.split(","):
        _, sep, rest = url.strip().partition("://")
        if not sep or "@" not in rest:
            continue
        userinfo = rest.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        user = userinfo.partition(":")[0]
        out += [userinfo, password, unquote(password), f"{unquote(user)}:{unquote(password)}"]
    return out


class _RedactingStream:
    """A text stream that redacts every write before passing it on."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_current(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # `buffer` is hidden: writing bytes there would bypass the redactor.
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output(environ: Mapping[str, str]) -> Iterator[None]:
    """Redact stdout and stderr while the block runs (secrets from `environ` known at once)."""
    add_secrets(connection_secrets({}, environ))
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, _RedactingStream):
        sys.stdout = _RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, _RedactingStream):
        sys.stderr = _RedactingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
