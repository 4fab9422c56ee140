"""The machine-readable plan: one JSON document for `--format json`, saved plans and `mlsync show`.

Input: a `Plan`. Output: a JSON-serialisable dict / string. Pure, no I/O.

Shaped after `terraform show -json`, so its tooling and policy recipes transfer:
`resource_changes[]` with `change.actions` (a replace is `["delete", "create"]`),
`change.before` / `change.after` (the whole resource), every summary counter (zeros included),
and `steps[]` numbered from 1 as apply numbers them. The `plan` member is the plan value itself,
which `mlsync apply --plan` executes and `mlsync show` renders again; `inputs` are the planner's
inputs (desired resources, unresolved references), from which apply computes the plan again and
refuses a file whose steps it would not have planned itself. The other members are the plan's
rendering for readers and tools, never read back.

`--format json`, a saved plan and `mlsync show --format json` print the same document, inputs
included, so any of them can be applied. The inputs hold no secret that the plan does not: they
are the manifests' values, env_var() reads only variables the user allowed, and every output
path passes the redactor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.model import Action, Change, Plan, Step

#: Version of this document's shape (bumped when a member changes meaning or goes away).
FORMAT_VERSION = "1"
#: The document's `kind`, which saved-plan readers check.
DOCUMENT_KIND = "mlsync-plan"


def terraform_actions(action: Action) -> list[str]:
    """Terraform's action vocabulary: restarts and run-state changes are updates."""
    return {
        Action.REPLACE: ["delete", "create"],
        Action.CREATE: ["create"],
        Action.DELETE: ["delete"],
        Action.NOOP: ["no-op"],
    }.get(action, ["update"])


def _resource_change(c: Change) -> dict[str, Any]:
    return {
        "address": str(c.ref),
        "kind": c.ref.kind.value,
        "id": c.ref.id,
        "action": c.action.value,
        "actions": terraform_actions(c.action),
        "risk": c.risk.value,
        "change": {"actions": terraform_actions(c.action), "before": c.before, "after": c.after},
        "state": {"before": c.state_before, "after": c.state_after},
        "state_only": c.state_only,
        "fields": [f.model_dump(mode="json") for f in c.fields],
        "replace_paths": [f.path for f in c.fields if f.forces_replacement],
        "reasons": list(c.reasons),
        "destroys": c.destroys,
        "source": {"file": c.source.file, "line": c.source.line} if c.source else None,
    }


def _step(s: Step) -> dict[str, Any]:
    return {
        "step": s.index + 1,
        "address": str(s.ref),
        "op": s.op,
        "method": s.call.method,
        "path": s.call.path,
        "params": s.call.params,
        "body": s.call.body,
        "wait_for": s.wait_for,
        "depends_on": [d + 1 for d in s.depends_on],
        "destructive": s.destructive,
        "description": s.description,
    }


def plan_document(plan: Plan, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The versioned JSON document of a plan.

    `inputs` is the planner's inputs as JSON (`null` when not known).
    """
    counts: dict[str, int] = {a.value: 0 for a in Action}
    for c in plan.changes:
        counts[c.action.value] += 1
    return {
        "kind": DOCUMENT_KIND,
        "format_version": FORMAT_VERSION,
        "mlsync_version": plan.mlsync_version,
        "environment": plan.environment,
        "scope": plan.scope,
        "cluster": plan.cluster.model_dump(mode="json"),
        "manifest_digest": plan.manifest_digest,
        "live_fingerprint": plan.live_fingerprint,
        "request_count": plan.request_count,
        "has_changes": plan.has_changes,
        "summary": counts,
        "resource_changes": [_resource_change(c) for c in plan.changes],
        "steps": [_step(s) for s in plan.steps],
        "unmanaged": [str(r) for r in plan.unmanaged],
        "other_scopes": dict(sorted(plan.other_scopes.items())),
        "warnings": list(plan.warnings),
        "prune": plan.prune,
        "targets": list(plan.targets),
        "plan": plan.model_dump(mode="json"),
        "inputs": dict(inputs) if inputs is not None else None,
    }


def render_json(plan: Plan, inputs: Mapping[str, Any] | None = None) -> str:
    """The document as indented JSON, members in a stable order."""
    return json.dumps(plan_document(plan, inputs), indent=2, ensure_ascii=False) + "\n"
