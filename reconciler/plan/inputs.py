"""What the planner is given besides the two states: options and unresolved references.

Input: nothing (value types). Output: `PlanOptions`, the `ReferenceLike` protocol and the
`Body` alias shared by the stages. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.model import Ref, SourceLocation

Body = dict[str, Any]


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
    #: Force-close / force-stop failed jobs and DFA and start them again. Off by default: a
    #: job fails for a reason (memory, a bad mapping) that restarting it on every merge hides.
    recover_failed: bool = False
    #: The ownership scope: its members are what prune may delete (see reconciler.scopes).
    scope: str = "default"
    #: The explicit yes for a prune that deletes every member, or from an empty manifest set.
    allow_prune_all: bool = False
