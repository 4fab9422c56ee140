"""Redaction: every form a configured secret can take is removed from text before it is shown.

Input: the configured secrets (API key as given or encoded, `id:key`, password,
`user:password`, bearer token) and a text, or a JSON-like value. Output: the same text/value
with each form of each secret replaced by `***`, and checks that refuse unusable credentials.
Pure, no I/O.

One module, used wherever output is produced (client error messages, CLI errors, logs, plan
files, GitHub outputs), so that no output path has its own, weaker idea of what a secret looks
like. A secret can reach the output:
- raw, or with surrounding whitespace stripped (the server trims header values);
- as its Python `repr` (a CR shown as backslash-r), JSON-escaped (an error page that echoes
  the headers as JSON), URL-encoded (`%2F` in a URL or query string), base64 (`Basic
  base64(user:password)`, `ApiKey base64(id:key)`), standard or URL-safe;
- cut: an error page truncated by a proxy or by us keeps a prefix (`ApiKey cnRrZXlpZDpBcG`),
  a window keeps a suffix. Any run of at least `MIN_PARTIAL` characters that starts where a
  form starts, or ends where it ends, is removed too.
Redaction always runs on the whole text, before any truncation.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_PARTIAL", "Redactor", "control_character", "secret_forms"]

MASK = "***"
#: Shortest piece of a cut secret that is still removed. Shorter pieces (a common word, a
#: base64 alphabet run) would mask ordinary text and no longer identify the secret.
MIN_PARTIAL = 8

#: C0 controls (TAB included), DEL and C1 controls: CR, LF and NUL are never valid in an HTTP
#: header value (RFC 9110 §5.5) and none of them is part of a real credential; a trailing CR
#: or LF is a copy-and-paste accident.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(value: str) -> str | None:
    """The first control character in `value`, named (`CR`, `LF`, `NUL`, `U+001B`), or None."""
    match = _CONTROL.search(value)
    if match is None:
        return None
    char = match.group()
    return {"\r": "CR", "\n": "LF", "\x00": "NUL", "\t": "TAB"}.get(char, f"U+{ord(char):04X}")


def _b64(text: str) -> set[str]:
    raw = text.encode("utf-8")
    standard = base64.b64encode(raw).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    return {standard, standard.rstrip("="), urlsafe, urlsafe.rstrip("=")}


def secret_forms(secret: str) -> set[str]:
    """Every spelling of `secret` that may appear in output (see the module docstring)."""
    spellings = {secret, secret.strip()}
    forms: set[str] = set()
    for text in spellings:
        if not text:
            continue
        forms |= {
            text,
            repr(text)[1:-1],
            json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1],
            quote(text, safe=""),
            quote(text),
            quote_plus(text),
        }
        forms |= _b64(text)
    # A JSON document quoted once more (a JSON error page inside a JSON string).
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return {form for form in forms if form}


class Redactor:
    """Replaces every form of every configured secret with `***`.

    Give each secret the way it is configured and each combination that is encoded as a whole
    (`user:password`, `id:key`): their base64 forms are the `Authorization` header values.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        found = {s for s in secrets if s}
        forms: set[str] = set()
        for secret in found:
            forms |= secret_forms(secret)
        self._forms = sorted(forms, key=len, reverse=True)
        self._count = len(found)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """`text` with every form of every secret (whole or cut) replaced by `***`."""
        if not self._forms or not text:
            return text
        spans: list[tuple[int, int]] = []
        for form in self._forms:
            spans.extend(_whole(text, form))
            if len(form) > MIN_PARTIAL:
                spans.extend(_cut(text, form))
        if not spans:
            return text
        out: list[str] = []
        position = 0
        for start, end in _merged(spans):
            out.append(text[position:start])
            out.append(MASK)
            position = end
        out.append(text[position:])
        return "".join(out)

    def value(self, data: Any) -> Any:
        """A JSON-like value with every string (keys included) redacted."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {self.value(k): self.value(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def __repr__(self) -> str:
        return f"Redactor({self._count} secrets)"


def _whole(text: str, form: str) -> Iterable[tuple[int, int]]:
    start = text.find(form)
    while start != -1:
        yield start, start + len(form)
        start = text.find(form, start + 1)


def _cut(text: str, form: str) -> Iterable[tuple[int, int]]:
    """Spans where a prefix or suffix (>= MIN_PARTIAL characters) of `form` appears."""
    head = form[:MIN_PARTIAL]
    start = text.find(head)
    while start != -1:
        n = MIN_PARTIAL
        while n < len(form) and start + n < len(text) and text[start + n] == form[n]:
            n += 1
        yield start, start + n
        start = text.find(head, start + 1)
    tail = form[-MIN_PARTIAL:]
    end = text.find(tail)
    while end != -1:
        stop = end + MIN_PARTIAL
        n = MIN_PARTIAL
        while n < len(form) and stop - n - 1 >= 0 and text[stop - n - 1] == form[-n - 1]:
            n += 1
        yield stop - n, stop
        end = text.find(tail, end + 1)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
