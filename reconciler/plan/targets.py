"""Stage 1, targeting (`--target`): keep only the targeted resources and what they need.

Input: a `Context` with the whole states. Output: the same `Context` with `desired` and `live`
narrowed, and a warning saying so. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

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
                job_ref = Ref.of(Kind.JOB, datafeed_job(res) or "")
                if ref in wanted or job_ref in wanted:
                    wanted |= {ref, job_ref}
    # A job needs the filters its custom rules use (opening it fails without them, §1.3.1),
    # as Terraform's -target follows dependencies.
    for ref in list(wanted):
        needs = NEEDS[ref.kind]
        if needs is not None and ref in ctx.desired:
            wanted |= {r for r in needs(ctx, ref) if r in ctx.desired}
    ctx.desired = {r: v for r, v in ctx.desired.items() if r in wanted}
    ctx.live = {r: v for r, v in ctx.live.items() if r in wanted}
    ctx.order = [r for r in ctx.order if r in wanted]
    named = sorted(str(t) for t in ctx.options.targets)
    # A glob may name hundreds: the warning names a few (the plan lists them all anyway).
    shown = ", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else "")
    ctx.warnings.append(
        f"resource targeting is in effect: the plan covers only {shown} (and the datafeeds, "
        "jobs and filters they need); other changes may be pending"
    )


def _job_filters(ctx: Context, ref: Ref) -> set[Ref]:
    return {Ref.of(Kind.FILTER, f) for f in ctx.index.desired_filters_of_job[ref]}


#: Per kind: the declared resources a targeted one needs to be applied (beyond the
#: datafeed/job pair), or None.
NEEDS: dict[Kind, Callable[[Context, Ref], set[Ref]] | None] = {
    Kind.FILTER: None,
    Kind.CALENDAR: None,
    Kind.JOB: _job_filters,
    Kind.DATAFEED: None,
    Kind.DFA: None,
}
