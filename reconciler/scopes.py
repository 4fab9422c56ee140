"""Ownership scopes in the planner: who owns a live resource, what a scope may touch and prune.

Input: the run's scope, the registry's owners (`LiveState.owners`), live and desired resources.
Output: ownership answers, refusals (messages naming the resource and what to do) and the
registry steps' calls. Pure, no I/O. The registry itself is described in `reconciler.registry`.

Rules:
- a live resource is a *member* of the scope when the registry names the scope, or when no
  registry entry exists, the resource carries the marker of mlsync versions before scopes
  (`managed_by: mlsync`; a datafeed: its job's), and the scope is `default`: what the old
  global marker owns is the default scope's, without a registry entry (the migration needs no
  write; another scope may still adopt such a resource by declaring it, which registers it);
- it is *foreign* when the registry names another scope: never changed, never pruned, and
  declaring it is a plan error;
- anything else is *unowned*: a declared one is adopted (added to the member set), an
  undeclared one is listed as unmanaged and never pruned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from reconciler.model import Call, Ref, Resource, SourceLocation
from reconciler.registry import DEFAULT_SCOPE, add_member_call, remove_member_call


@dataclass(frozen=True)
class Ownership:
    """The scope of a run and the registry it reads (resource -> owning scope)."""

    scope: str = DEFAULT_SCOPE
    owners: dict[Ref, str] = field(default_factory=dict)

    def owner(self, ref: Ref) -> str | None:
        """The scope the registry names for `ref`, if any."""
        return self.owners.get(ref)

    def is_member(self, res: Resource) -> bool:
        """Does this run's scope own the live resource (registry, or the pre-scope marker)?"""
        owner = self.owners.get(res.ref)
        if owner is not None:
            return owner == self.scope
        return res.owned and self.scope == DEFAULT_SCOPE

    def registered(self, ref: Ref) -> bool:
        """Is `ref` already in this scope's member set?"""
        return self.owners.get(ref) == self.scope

    def foreign(self, ref: Ref) -> str | None:
        """The other scope that owns `ref`, or None."""
        owner = self.owners.get(ref)
        return owner if owner is not None and owner != self.scope else None

    def stale_members(self, live: Collection[Ref], desired: Collection[Ref]) -> list[Ref]:
        """Members whose resource is gone and not declared (left by an interrupted apply)."""
        return sorted(
            (
                ref
                for ref, owner in self.owners.items()
                if owner == self.scope and ref not in live and ref not in desired
            ),
            key=lambda r: r.sort_key,
        )

    def foreign_problem(self, ref: Ref, source: SourceLocation | None) -> str | None:
        """The plan error for a declared resource another scope owns, or None."""
        owner = self.foreign(ref)
        if owner is None:
            return None
        return (
            f"{source or ref}: {ref} belongs to scope '{owner}', not to this run's scope "
            f"'{self.scope}'; remove it from these manifests, or plan with --scope {owner} "
            f"(or have scope '{owner}' give it up with mlsync destroy or by pruning it)"
        )

    def add_call(self, ref: Ref) -> Call:
        """Add `ref` to this scope's member set (before creating or adopting it)."""
        return add_member_call(ref, self.scope)

    @staticmethod
    def remove_call(ref: Ref) -> Call:
        """Remove `ref` from the member set (after deleting it)."""
        return remove_member_call(ref)


def prune_refusal(
    scope: str, desired_count: int, deleted: Collection[Ref], members: Collection[Ref]
) -> str | None:
    """Why a prune needs `--allow-prune-all`, or None (Argo CD's refusal to prune everything).

    A prune from an empty manifest set (a wrong directory, a tree of comment files) or one that
    deletes every member the scope has is almost always a mistake, and it destroys everything.
    """
    if not deleted:
        return None
    count = len(deleted)
    what = f"{count} resource{'s' if count != 1 else ''}"
    if desired_count == 0:
        return (
            f"--prune with no resources in the manifests would delete all {what} of scope "
            f"'{scope}'; check the manifest path, or pass --allow-prune-all to delete them "
            f"(mlsync destroy --scope {scope} does the same); nothing was sent"
        )
    if set(members) and set(members) <= set(deleted):
        return (
            f"--prune would delete every member of scope '{scope}' ({what}); check that the "
            "manifests are the ones of this scope, or pass --allow-prune-all; nothing was sent"
        )
    return None
