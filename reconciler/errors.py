"""Errors of the application layers (manifests, planning, applying).

Input/Output: exception values only. No I/O.

```
MlsyncError
├── ManifestError            user-fixable input; carries every Diagnostic (file:line:col: message)
├── UsageError               bad flags or flag combinations
├── PlanError                cannot build a safe plan (dangling reference, unmanaged clash)
│   ├── DestructiveChangeError   delete/replace present without --allow-destroy
│   └── StalePlanError           the live state changed since the saved plan was made
├── ApplyError               some steps failed; carries the outcome table
└── LockError                another apply holds the cluster lock
```

HTTP-level failures have their own tree in `reconciler.client.errors` (`TransportError`,
`ApiError` and subclasses); the CLI renders both without tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class Diagnostic(BaseModel):
    """One problem in the user's input, located as precisely as possible."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class MlsyncError(Exception):
    """Base class of every error mlsync reports to a user (exit code 1, no traceback)."""


class UsageError(MlsyncError):
    """Bad command-line input (flags, --var syntax, --target)."""


class ManifestError(MlsyncError):
    """The manifests are invalid; `diagnostics` lists every problem found in one run."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.message))
        count = len(self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found in the manifests")


class UnexpectedAnswerError(MlsyncError):
    """An answer from Elasticsearch lacks a field mlsync reads, or has it with another type."""


class PlanError(MlsyncError):
    """A safe plan cannot be built (for example a reference to nothing)."""


class DestructiveChangeError(PlanError):
    """The plan deletes or replaces resources and --allow-destroy was not given."""


class StalePlanError(PlanError):
    """The cluster changed since the saved plan was computed."""


class ApplyError(MlsyncError):
    """One or more apply steps failed; the outcome table was already printed."""


class LockError(MlsyncError):
    """The cluster lock is held by another apply (or was lost mid-apply)."""
