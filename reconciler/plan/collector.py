"""The step list under construction: indices, per-phase lookup and same-resource ordering.

Input: steps added one at a time by the order stage. Output: `Step` values whose
`depends_on` always includes the previous step of the same resource. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import Call, Ref, Step


class StepList:
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
        """Append a step after `after` (None entries ignored); its index."""
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
        """The last step of `ref` in `phase`, if any."""
        return self.by_phase.get((ref, phase))


def first(*indices: int | None) -> int | None:
    """The first step index that exists (0 is a valid index, so not `or`)."""
    return next((i for i in indices if i is not None), None)
