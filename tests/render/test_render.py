"""Renderings of hand-built plans: Markdown budget and colours, per-item lists, JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.model import (
    Action,
    Call,
    Change,
    FieldChange,
    Kind,
    Plan,
    Ref,
    Resource,
    Risk,
    Step,
)
from reconciler.planfile import PlanInputs, inputs_document, load_plan, load_saved_plan, save_plan
from reconciler.render import (
    GITHUB_COMMENT_LIMIT,
    plan_document,
    render_json,
    render_markdown,
    render_text,
)
from reconciler.render.lines import as_written, iso_time
from reconciler.render.markdown import TABLE_ROWS


def filter_update(n: int, items: int = 3) -> Change:
    before = [f"host-{n}-{i}" for i in range(items)]
    return Change(
        ref=Ref(kind=Kind.FILTER, id=f"hosts-{n:04d}"),
        action=Action.UPDATE,
        risk=Risk.SAFE,
        fields=(FieldChange(path="items", before=before, after=[*before, f"new-{n}"]),),
    )


def job_replace(name: str) -> Change:
    return Change(
        ref=Ref(kind=Kind.JOB, id=name),
        action=Action.REPLACE,
        risk=Risk.DESTRUCTIVE,
        fields=(
            FieldChange(
                path="analysis_config.bucket_span",
                before="15m",
                after="30m",
                forces_replacement=True,
            ),
        ),
        destroys=f"job {name}: its model state and results are deleted",
    )


def test_markdown_with_1200_changes_shows_the_riskiest_sections_within_the_limit() -> None:
    # The destructive change sorts last by address: it must still come first.
    changes = (*tuple(filter_update(n) for n in range(1200)), job_replace("zz_last"))
    text = render_markdown(Plan(changes=changes))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    sections = text.count("<details>")
    assert sections > 100, "the table must not crowd out the sections"
    first = text.index("<details>")
    assert "<code>AnomalyDetectionJob/zz_last</code>" in text[first : first + 200]
    assert text.count("| safe |") <= TABLE_ROWS
    assert "more change(s) not listed in this table" in text
    assert f"_{1201 - sections} more resource section(s) omitted" in text


def test_markdown_cuts_one_huge_section_rather_than_showing_none() -> None:
    fields = tuple(
        FieldChange(path=f"analysis_config.detectors[{n}].function", before="count", after="sum")
        for n in range(5_000)
    )
    huge = Change(
        ref=Ref(kind=Kind.JOB, id="wide"), action=Action.UPDATE, risk=Risk.SAFE, fields=fields
    )
    text = render_markdown(Plan(changes=(huge,)))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert (
        "<code>AnomalyDetectionJob/wide</code>" in text
        and "see the full plan in the CI log" in text
    )


def test_markdown_diff_blocks_use_marks_github_colours() -> None:
    change = Change(
        ref=Ref(kind=Kind.JOB, id="j"),
        action=Action.UPDATE,
        risk=Risk.SAFE,
        fields=(
            FieldChange(path="description", before="a", after="b"),
            FieldChange(path="groups", before=["x"], after=["y"]),
        ),
    )
    text = render_markdown(Plan(changes=(change,)))
    block = text.split("```diff\n")[1].split("\n```")[0].splitlines()
    assert block == [
        '! description: "a" -> "b"',
        "! groups: 1 removed, 1 added (1 in all)",
        '-   "x"',
        '+   "y"',
    ]
    assert not any(line.startswith("~") for line in block)


def test_two_item_edit_of_a_200_item_filter_shows_two_items() -> None:
    before = [f"m-{i:03d}" for i in range(200)]
    after = [i for i in before if i != "m-007"] + ["m-999"]
    change = Change(
        ref=Ref(kind=Kind.FILTER, id="f"),
        action=Action.UPDATE,
        risk=Risk.SAFE,
        fields=(FieldChange(path="items", before=before, after=after),),
    )
    lines = [line.strip() for line in render_text(Plan(changes=(change,))).splitlines()]
    assert '- "m-007"' in lines and '+ "m-999"' in lines
    assert sum(line.startswith(('- "m-', '+ "m-')) for line in lines) == 2


def test_event_times_are_iso_strings() -> None:
    assert iso_time(1764288000000) == "2025-11-28T00:00:00Z"
    assert iso_time(1764288000123) == "2025-11-28T00:00:00.123Z"
    assert iso_time("2025-11-28") == "2025-11-28"
    assert iso_time(True) is True


def test_create_lists_every_attribute_from_the_steps_when_the_plan_has_no_bodies() -> None:
    ref = Ref(kind=Kind.DFA, id="d")
    body = {"source": {"index": ["a"]}, "dest": {"index": "b"}, "_meta": {"managed_by": "mlsync"}}
    plan = Plan(
        changes=(Change(ref=ref, action=Action.CREATE, risk=Risk.SAFE),),
        steps=(
            Step(
                index=0,
                ref=ref,
                op="create",
                call=Call(method="PUT", path="/_ml/data_frame/analytics/d", body=body),
            ),
        ),
    )
    text = render_text(plan)
    assert '+ source.index: ["a"]' in text and '+ dest.index: "b"' in text
    assert '+ _meta.managed_by: "mlsync"  # added by mlsync: ownership marker' in text


def test_json_document_round_trips_through_a_saved_plan(tmp_path: Path) -> None:
    change = job_replace("j").model_copy(
        update={"before": {"analysis_config": {"bucket_span": "15m"}}, "after": {"x": 1}}
    )
    plan = Plan(
        changes=(change,),
        steps=(
            Step(
                index=0,
                ref=change.ref,
                op="delete",
                call=Call(method="DELETE", path="/_ml/anomaly_detectors/j"),
                destructive=True,
            ),
            Step(
                index=1,
                ref=change.ref,
                op="create",
                call=Call(method="PUT", path="/_ml/anomaly_detectors/j", body={"x": 1}),
                depends_on=(0,),
            ),
        ),
        resource_fingerprints={"AnomalyDetectionJob/j": "abc"},
    )
    desired = [Resource(ref=change.ref, body={"x": 1}, state="opened")]
    save_plan(plan, tmp_path / "p.json", desired=desired)
    assert load_plan(tmp_path / "p.json") == plan
    assert load_saved_plan(tmp_path / "p.json").inputs == PlanInputs(desired=tuple(desired))
    # The saved file is exactly the `--format json` document, the planner's inputs included.
    inputs = inputs_document(desired)
    assert (tmp_path / "p.json").read_text() == render_json(plan, inputs)
    document = json.loads((tmp_path / "p.json").read_text())
    assert document == plan_document(plan, inputs)
    assert document["inputs"]["desired"][0]["ref"] == {"kind": "AnomalyDetectionJob", "id": "j"}
    # The options a plan does not record itself are among the inputs (apply re-derives with them).
    assert document["inputs"]["recover_failed"] is False
    assert document["inputs"]["allow_prune_all"] is False
    [resource] = document["resource_changes"]
    assert resource["change"] == {
        "actions": ["delete", "create"],
        "before": {"analysis_config": {"bucket_span": "15m"}},
        "after": {"x": 1},
    }
    # Steps are numbered from 1, as apply prints them.
    assert [(s["step"], s["depends_on"]) for s in document["steps"]] == [(1, []), (2, [1])]
    assert document["summary"]["replace"] == 1 and document["summary"]["delete"] == 0


def test_updated_values_are_shown_as_written_not_in_canonical_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner compares `2GB` as `2048mb` and `120s` as `2m`; the plan shows what was written.

    Before: the canonical forms (`1024mb -> 2048mb`, `1m -> 2m`); now the cluster's answer on
    the left and the manifest's spelling on the right, through the real plan command.
    """
    from click.testing import CliRunner

    from reconciler.cli import main

    manifest = tmp_path / "ml.yaml"
    job = (
        "kind: AnomalyDetectionJob\nid: tx\nspec:\n"
        "  analysis_config: {{bucket_span: 15m, detectors: [{{function: count}}]}}\n"
        '  data_description: {{time_field: "@timestamp"}}\n'
        "  analysis_limits: {{model_memory_limit: {memory}}}\n"
        "  background_persist_interval: {persist}\n"
        "datafeed:\n  id: tx-feed\n  spec: {{indices: [tx-*], query_delay: {delay}}}\n"
    )
    manifest.write_text(job.format(memory="1gb", persist="3h", delay="60000ms"))
    monkeypatch.chdir(tmp_path)
    state = ["--sandbox", "--sandbox-state", str(tmp_path / "sandbox.db")]
    applied = CliRunner().invoke(main, ["apply", str(manifest), *state, "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    manifest.write_text(job.format(memory="2GB", persist="240m", delay="120s"))
    for output_format in ("text", "markdown"):
        result = CliRunner().invoke(
            main, ["plan", str(manifest), *state, "--format", output_format]
        )
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert 'analysis_limits.model_memory_limit: "1024mb" -> "2GB"' in out, out
        assert 'background_persist_interval: "3h" -> "240m"' in out, out
        assert 'query_delay: "60000ms" -> "120s"' in out, out
        assert "2048mb" not in out and '"4h"' not in out and '"2m"' not in out


def test_as_written_finds_indexed_paths_and_keys_with_dots() -> None:
    body = {
        "analysis_config": {"detectors": [{"function": "count"}, {"function": "nzc"}]},
        "query": {"term": {"items.sku": {"value": "A1"}}},
        "custom_settings": {"a.b": "x"},
    }
    assert as_written(body, "analysis_config.detectors[1].function", "non_zero_count") == "nzc"
    assert as_written(body, "query.term.items.sku.value", "a1") == "A1"
    assert as_written(body, "custom_settings.a.b", "y") == "x"
    # Not in the body (a server default, a derived field): the canonical value stays.
    assert as_written(body, "analysis_config.detectors[5].function", "count") == "count"
    assert as_written(body, "analysis_config.bucket_span", "5m") == "5m"
    assert as_written(None, "query", {"match_all": {}}) == {"match_all": {}}
    # An absent side stays absent.
    assert as_written(body, "custom_settings.a.b", None) is None
