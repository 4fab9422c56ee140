"""What keeps loading, reading and planning linear: the cyclic collector is paused in the bulk
stages, and each live resource's canonical form is computed once for its fingerprint."""

from __future__ import annotations

import dataclasses
import gc
import importlib
from pathlib import Path
from typing import Any

import pytest

from reconciler.client import MLClient
from reconciler.cluster import read_cluster, server_defaults
from reconciler.gc_pause import paused_gc
from reconciler.manifest import load_manifests
from reconciler.model import Call
from reconciler.plan import PlanOptions, fingerprint, make_plan
from reconciler.sandbox import Sandbox, SandboxTransport

# The module (the package exports a function of the same name).
fingerprint_module = importlib.import_module("reconciler.plan.fingerprint")

JOB = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


def seeded(jobs: int) -> MLClient:
    client = MLClient(
        hosts=["http://sandbox:9200"], transport=SandboxTransport(Sandbox(implicit_indices=True))
    )
    for i in range(jobs):
        body = {**JOB, "custom_settings": {"managed_by": "mlsync"}}
        client.perform(Call(method="PUT", path=f"/_ml/anomaly_detectors/j{i}", body=body))
        feed = {"job_id": f"j{i}", "indices": ["logs"]}
        client.perform(Call(method="PUT", path=f"/_ml/datafeeds/f{i}", body=feed))
    return client


def test_paused_gc_restores_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not turn it back on
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # someone else turned it off: it stays off
    finally:
        gc.enable()


def test_load_read_and_plan_run_with_the_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    original = fingerprint_module.resource_fingerprint

    def spy(*args: Any) -> str:
        seen.append(gc.isenabled())
        return original(*args)

    (tmp_path / "job.yaml").write_text(
        "kind: AnomalyDetectionJob\nid: j0\nspec:\n  analysis_config:\n    bucket_span: 15m\n"
        "    detectors: [{function: count}]\n  data_description: {time_field: '@timestamp'}\n"
    )
    loader = importlib.import_module("reconciler.manifest.loader")
    find_files = loader.find_manifest_files

    def spy_find(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return find_files(*args)

    monkeypatch.setattr(loader, "find_manifest_files", spy_find)
    manifests = load_manifests([tmp_path])
    assert seen == [False]  # inside the load
    assert gc.isenabled()
    seen.clear()
    client = seeded(2)
    monkeypatch.setattr("reconciler.cluster.resource_fingerprint", spy)
    live = read_cluster(client, client.preflight())
    assert seen and not any(seen)  # inside the read
    assert gc.isenabled()
    make = importlib.import_module("reconciler.plan.make")
    decide_all = make.decide_all

    def spy_decide(ctx: Any) -> None:
        seen.append(gc.isenabled())
        decide_all(ctx)

    seen.clear()
    monkeypatch.setattr(make, "decide_all", spy_decide)
    plan = make_plan(manifests.resources, live, options=PlanOptions())
    assert seen == [False]  # inside planning
    assert gc.isenabled()
    assert plan.changes


def test_the_live_fingerprint_is_computed_once_per_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = seeded(3)
    calls: list[str] = []
    original = fingerprint_module.resource_fingerprint

    def counting(res: Any, *args: Any) -> str:
        calls.append(str(res.ref))
        return original(res, *args)

    monkeypatch.setattr("reconciler.cluster.resource_fingerprint", counting)
    monkeypatch.setattr(fingerprint_module, "resource_fingerprint", counting)
    info = client.preflight()
    live = read_cluster(client, info)
    assert sorted(calls) == sorted(str(ref) for ref in live.resources)  # once each
    # ... and the whole-state fingerprint is the same as computing it from the resources
    monkeypatch.setattr(fingerprint_module, "resource_fingerprint", original)
    assert live.fingerprint == fingerprint(live.resources.values(), server_defaults(info))


def test_the_planner_reuses_the_reads_canonical_form_and_plans_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = seeded(3)
    live = read_cluster(client, client.preflight())
    (tmp_path / "jobs.yaml").write_text(
        "".join(
            f"---\nkind: AnomalyDetectionJob\nid: j{i}\nspec:\n  analysis_config:\n"
            f"    bucket_span: {span}\n    detectors: [{{function: count}}]\n"
            "  data_description: {time_field: '@timestamp'}\n"
            f"datafeed: {{id: f{i}, spec: {{indices: [logs]}}}}\n"
            for i, span in enumerate(["15m", "900s", "30m"])
        )
    )
    manifests = load_manifests([tmp_path])
    context = importlib.import_module("reconciler.plan.context")
    computed: list[str] = []
    original = context.canonical

    def counting(kind: Any, body: Any, defaults: Any = None) -> Any:
        computed.append(kind.value)
        return original(kind, body, defaults)

    monkeypatch.setattr(context, "canonical", counting)
    reused = make_plan(manifests.resources, live)
    assert computed == []  # every live side came from the read
    # 15m and 900s are the live 15m; 30m replaces j2 (and so its datafeed)
    actions = sorted(c.action.value for c in reused.changes)
    assert actions == ["no-op"] * 4 + ["replace"] * 2
    # Without the read's canonical forms (or with another body) it is computed, same plan.
    fresh = make_plan(manifests.resources, dataclasses.replace(live, canonical={}))
    assert len(computed) == 6
    assert fresh.model_dump() == reused.model_dump()
    # The planner reads the read's value without changing it (it compares it without the
    # computed fields the manifest leaves out, e.g. detector_description): it is unchanged.
    for ref, (body, defaults, canon) in live.canonical.items():
        assert canon == original(ref.kind, body, defaults)
        assert "detector_description" in str(canon) or ref.kind.value != "AnomalyDetectionJob"
