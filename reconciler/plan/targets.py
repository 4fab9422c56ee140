"""Stage 1, targeting (`--target`): keep only the targeted resources and what they need.

Input: a `Context` with the whole states. Output: the same `Context` with `desired` and `live`
narrowed, and a warning saying so. Pure, no I/O.
"""

from __future__ import annotations

from reconciler.model import Kind, Ref
from reconciler.plan.context import Context
from reconciler.plan.rules import datafeed_job


def apply_targets(ctx: Context) -> None:
    """Narrow the plan to `--target` resources, their datafeed/job pair and job filters."""
    if not ctx.options.targets:
        return
    wanted: set[Ref] = set(ctx.options.targets)
    # A datafeed goes with its job, and a job with its datafeed (replacing a job deletes
    # its datafeed), so targeting either brings the pair.
    for side in (ctx.desired, ctx.live):
        for ref, res in side.items():
            if ref.kind is Kind.DATAFEED:
                job_ref = Ref(kind=Kind.JOB, id=datafeed_job(res) or "")
                if ref in wanted or job_ref in wanted:
                    wanted |= {ref, job_ref}
    # A job needs the filters its custom rules use (opening it fails without them, §1.3.1),
    # as Terraform's -target follows dependencies.
    for ref in list(wanted):
        if ref.kind is Kind.JOB and ref in ctx.desired:
            for filter_id in ctx.index.desired_filters_of_job[ref]:
                filter_ref = Ref(kind=Kind.FILTER, id=filter_id)
                if filter_ref in ctx.desired:
                    wanted.add(filter_ref)
    ctx.desired = {r: v for r, v in ctx.desired.items() if r in wanted}
    ctx.live = {r: v for r, v in ctx.live.items() if r in wanted}
    ctx.warnings.append(
        "resource targeting is in effect: the plan covers only "
        + ", ".join(sorted(str(t) for t in ctx.options.targets))
        + " (and the datafeeds, jobs and filters they need); other changes may be pending"
    )
