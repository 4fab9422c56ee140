"""A failed job: the plan says why it failed, and apply recovers it only with --recover-failed."""

from __future__ import annotations

from pathlib import Path

from reconciler.client import MLClient, api
from reconciler.cluster import _failure, read_cluster
from reconciler.manifest import load_manifests
from reconciler.model import Action, Call, Kind, LiveState, Ref
from reconciler.plan import PlanOptions, make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

JOB = """\
kind: AnomalyDetectionJob
id: tx
state: opened
spec:
  description: {description}
  analysis_config: {{bucket_span: 15m, detectors: [{{function: count}}]}}
  data_description: {{time_field: "@timestamp"}}
datafeed:
  id: tx-feed
  state: started
  spec: {{indices: [tx-*]}}
"""
REASON = "autodetect process crashed: [memory limit reached]"


def failed_live(tmp_path: Path, description: str = "first") -> tuple[list, LiveState]:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "job.yaml").write_text(JOB.format(description=description))
    client = MLClient(
        hosts=["http://sandbox:9200"],
        transport=SandboxTransport(Sandbox(state_file=tmp_path / "s.json", implicit_indices=True)),
    )
    client.perform(
        api.put_job(
            "tx",
            {
                "description": "first",
                "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
                "data_description": {"time_field": "@timestamp"},
                "custom_settings": {"managed_by": "mlsync"},
            },
        )
    )
    client.perform(api.put_datafeed("tx-feed", {"job_id": "tx", "indices": ["tx-*"]}))
    client.perform(api.open_job("tx"))
    client.perform(
        Call(method="PUT", path="/_sandbox/transitions", body={"fail": {"jobs": ["tx"]}})
    )
    live = read_cluster(client, client.preflight())
    client.close()
    job = Ref(kind=Kind.JOB, id="tx")
    assert live.resources[job].state == "failed"
    # The sandbox gives no failure text; Elasticsearch puts one in the job's stats.
    resources = dict(live.resources)
    resources[job] = resources[job].model_copy(
        update={"facts": {**resources[job].facts, "failure": REASON}}
    )
    manifests = load_manifests([tmp_path / "m"])
    return list(manifests.resources), LiveState(resources=resources, fingerprints=live.fingerprints)


def test_failed_job_is_left_alone_and_the_plan_says_why(tmp_path: Path) -> None:
    desired, live = failed_live(tmp_path, description="second")
    plan = make_plan(desired, live)
    assert plan.steps == ()
    [warning] = [w for w in plan.warnings if "has failed" in w]
    assert warning.startswith(
        f"AnomalyDetectionJob/tx has failed ({REASON}); apply leaves it failed"
    )
    assert "its 1 field change(s) wait as well" in warning and "--recover-failed" in warning


def test_recover_failed_force_closes_and_reopens(tmp_path: Path) -> None:
    desired, live = failed_live(tmp_path)
    plan = make_plan(desired, live, options=PlanOptions(recover_failed=True))
    [change] = [c for c in plan.changes if c.ref.kind is Kind.JOB]
    assert change.action is Action.OPEN
    assert change.reasons == (
        f"it has failed ({REASON}): it is force-closed first, then opened again (--recover-failed)",
    )
    ops = [(s.op, str(s.ref)) for s in plan.steps]
    assert ops[0][1] == "AnomalyDetectionJob/tx" and "force" in str(plan.steps[0].call)
    assert ("open", "AnomalyDetectionJob/tx") in ops


def test_failure_text_is_read_from_the_stats() -> None:
    assert _failure({"state": "failed", "assignment_explanation": " boom "}) == "boom"
    assert _failure({"state": "failed", "failure_reason": "oom", "reason": "x"}) == "oom"
    assert _failure({"state": "opened", "assignment_explanation": "awaiting"}) is None
    assert _failure({"state": "failed"}) is None


ADOPTED = """\
kind: AnomalyDetectionJob
id: tx
spec:
  description: first
  analysis_config: {bucket_span: 15m, detectors: [{function: count}]}
  data_description: {time_field: "@timestamp"}
"""


def failed_hand_made(tmp_path: Path) -> tuple[list, LiveState]:
    """A failed job made outside mlsync, and a manifest that adopts it with no `state:`."""
    tmp_path.mkdir()
    _, live = failed_live(tmp_path)
    (tmp_path / "m" / "job.yaml").write_text(ADOPTED)
    job = Ref(kind=Kind.JOB, id="tx")
    resources = {ref: res for ref, res in live.resources.items() if ref.kind is Kind.JOB}
    settings = {k: v for k, v in resources[job].body.items() if k != "custom_settings"}
    resources[job] = resources[job].model_copy(update={"body": settings, "owned": False})
    return list(load_manifests([tmp_path / "m"]).resources), LiveState(resources=resources)


def test_adopting_a_failed_job_touches_nothing_and_leaves_it_failed(tmp_path: Path) -> None:
    # Adoption joins the scope and adds the marker; it does not change the job, so nothing
    # needs the job closed. A force-close here would do what the warning says apply does not.
    for recover in (False, True):
        desired, live = failed_hand_made(tmp_path / str(recover))
        plan = make_plan(desired, live, options=PlanOptions(recover_failed=recover))
        [change] = [c for c in plan.changes if c.ref.kind is Kind.JOB]
        assert change.action is Action.ADOPT, recover
        calls = [str(s.call) for s in plan.steps]
        assert calls and not [c for c in calls if "_close" in c or "force" in c], calls
        assert [w for w in plan.warnings if "has failed" in w and "leaves it failed" in w]
