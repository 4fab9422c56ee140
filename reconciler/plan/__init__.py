"""The planner: desired resources x live state -> an ordered, side-effect-free `Plan`.

Input: desired `Resource`s (from the manifests), their unresolved references, a `LiveState`
(from the cluster) and `PlanOptions`. Output: a `Plan` value. Pure, no I/O.

One module per stage, run in this order by `make.make_plan`, all reading the lookups that
`indexes` builds once per plan (so planning is linear in the number of resources):
0. checks: refuse what cannot be applied (references to nothing, Elastic-managed resources,
   datafeeds that cannot run or coexist);
1. targets: `--target` narrows the plan to the targeted resources and what they need;
2. decide: one action per resource (create, update, restart-update, replace, delete, open,
   close, start, stop, no-op), from the canonical field diff and the per-kind update policy;
3. cascade: a job that is replaced or deleted takes its datafeed with it (Elasticsearch deletes
   a job's datafeed, es-ml-api.md §1.7) and leaves its calendars;
4. order: steps in four phases — stop (datafeeds, then jobs and DFA), delete (children first),
   create/update (parents first: filters, calendars, jobs, datafeeds, DFA; `writes`, `bodies`),
   start (open jobs, then start datafeeds and DFA) — each step naming the steps it depends on,
   so the executor can run independent resources concurrently and skip the dependents of a
   failure (es-ml-api.md §5.4);
5. changes: the people's half of the plan (what changes and why, with its risk).
`fingerprint` says which live resources a saved plan acts on changed since it was made.
"""

from reconciler.plan.bodies import DATAFEED_RESETS
from reconciler.plan.decide import UNSETTABLE_JOB_FIELDS
from reconciler.plan.fingerprint import ABSENT, fingerprint, resource_fingerprint, stale_resources
from reconciler.plan.inputs import PlanOptions, ReferenceLike
from reconciler.plan.make import make_plan
from reconciler.plan.rules import RUNNING, run_state

__all__ = [
    "ABSENT",
    "DATAFEED_RESETS",
    "RUNNING",
    "UNSETTABLE_JOB_FIELDS",
    "PlanOptions",
    "ReferenceLike",
    "fingerprint",
    "make_plan",
    "resource_fingerprint",
    "run_state",
    "stale_resources",
]
