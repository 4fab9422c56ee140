"""The --allow-destroy gate and the terminal progress display."""

from __future__ import annotations

import io

import pytest
from apply_helpers import JOB_BODY, feed_ref, job_ref, plan_of, seed_job, step
from rich.console import Console

from reconciler.apply import apply_plan, check_destructive, destructive_lines
from reconciler.client import MLClient, api
from reconciler.commands.apply import LiveProgress
from reconciler.errors import DestructiveChangeError
from reconciler.model import Action, Change, Plan, Risk


def test_a_plan_without_destructive_steps_passes_the_gate() -> None:
    plan = plan_of(step(0, job_ref("j"), "create", api.put_job("j", JOB_BODY)))
    check_destructive(plan, allow_destroy=False)
    assert destructive_lines(plan) == []


def test_deletes_and_replaces_are_refused_with_what_they_destroy() -> None:
    replace = Change(
        ref=job_ref("j"),
        action=Action.REPLACE,
        risk=Risk.DESTRUCTIVE,
        destroys="all results and model snapshots of the job",
    )
    plan = Plan(
        changes=(replace,),
        steps=(
            step(0, job_ref("j"), "delete", api.delete_job("j"), destructive=True),
            step(1, job_ref("j"), "create", api.put_job("j", JOB_BODY), depends_on=[0]),
            # A destructive step no change explains is listed too.
            step(2, feed_ref("f"), "delete", api.delete_datafeed("f"), destructive=True),
        ),
    )
    with pytest.raises(DestructiveChangeError) as caught:
        check_destructive(plan, allow_destroy=False)
    text = str(caught.value)
    assert text.startswith("the plan deletes or replaces 2 resources; nothing was changed.")
    assert "--allow-destroy" in text
    assert "  - replace AnomalyDetectionJob/j (all results and model snapshots of the job)" in text
    assert "  - delete Datafeed/f" in text
    check_destructive(plan, allow_destroy=True)


def test_the_terminal_display_shows_each_finished_step(client: MLClient) -> None:
    seed_job(client, "j")
    plan = plan_of(
        step(0, job_ref("j"), "open", api.open_job("j"), wait_for="opened"),
        step(1, job_ref("nope"), "open", api.open_job("nope"), wait_for="opened"),
    )
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    with LiveProgress(console, len(plan.steps)) as live:
        result = apply_plan(plan, client, on_event=live, poll_interval=0.01)
    assert [o.status.value for o in result.outcomes] == ["done", "failed"]
    out = buffer.getvalue()
    assert "done   open AnomalyDetectionJob/j" in out
    assert "failed open AnomalyDetectionJob/nope" in out
    assert "2/2" in out
