"""The result of loading manifests: desired resources plus what the cluster must provide.

Input/Output: immutable values only (`ManifestSet`, `Reference`). No I/O.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from reconciler.model import Ref, Resource, SourceLocation, State

__all__ = ["ManifestSet", "Reference"]


class Reference(BaseModel):
    """A reference from a manifest to something NOT declared in the manifests.

    The planner checks these against the live cluster (e.g. a custom rule naming a filter
    created outside mlsync). Elasticsearch itself lets jobs reference missing filters at PUT
    and calendars name groups that do not exist yet (es-ml-api.md §1.3.1, §4.2), so these are
    not errors offline.
    """

    model_config = ConfigDict(frozen=True)

    #: Where the reference is written.
    source: SourceLocation
    #: The resource that holds the reference.
    from_ref: Ref
    #: `job` (datafeed -> job), `job_or_group` (calendar job_ids), `filter` (rule scope).
    target_kind: Literal["job", "job_or_group", "filter"]
    target_id: str


class ManifestSet(BaseModel):
    """Every desired resource declared by a set of manifest files, validated."""

    model_config = ConfigDict(frozen=True)

    #: One per resource, in file order; a job's inline datafeed follows its job.
    resources: tuple[Resource, ...]
    #: References that the manifests themselves do not satisfy.
    references: tuple[Reference, ...]
    #: The resource files read (environment files excluded), sorted.
    files: tuple[str, ...]
    #: sha256 of the rendered documents (stable for the same input and variables).
    digest: str
    #: The `--env` name used, if any.
    environment: str | None = None

    def state(self) -> State:
        """The desired `State` (ref -> resource) for the planner."""
        return {resource.ref: resource for resource in self.resources}
