"""The generated JSON Schema: fresh, draft-07, accepts the examples, rejects bad manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from manifest_helpers import BAD, EXAMPLES, REPO

from reconciler.manifest.jsonschema import main, render_schemas
from reconciler.manifest.source import parse_documents

SCHEMAS = REPO / "schemas"


def documents(path: Path) -> list[Any]:
    docs, problems = parse_documents(path.read_text(encoding="utf-8"), str(path))
    assert problems == []
    return [doc.data for doc in docs]


def validator(name: str = "mlsync.schema.json") -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def test_committed_schemas_are_up_to_date() -> None:
    rendered = render_schemas()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.glob("*.json")}
    assert committed == rendered, "run: python -m reconciler.manifest.jsonschema"


def test_check_mode_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert "stale JSON schema files" in capsys.readouterr().out
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render_schemas())


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_schemas_are_draft_07_with_definitions(name: str) -> None:
    schema = json.loads(render_schemas()[name])
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    text = json.dumps(schema)
    assert "$defs" not in text
    refs = [part.split('"')[0] for part in text.split('"$ref": "')[1:]]
    assert refs and all(ref.startswith("#/definitions/") for ref in refs)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_schema_accepts_the_examples(path: Path) -> None:
    for document in documents(path):
        errors = [error.message for error in validator().iter_errors(document)]
        assert errors == []


def test_kind_schemas_accept_their_kind() -> None:
    by_kind = {
        "AnomalyDetectionJob": "anomaly-detection-job.schema.json",
        "DataFrameAnalytics": "data-frame-analytics.schema.json",
        "Filter": "filter.schema.json",
        "Calendar": "calendar.schema.json",
    }
    seen = set()
    for path in EXAMPLES.glob("*.yaml"):
        for document in documents(path):
            name = by_kind[document["kind"]]
            assert list(validator(name).iter_errors(document)) == []
            seen.add(name)
    assert seen == set(by_kind.values())
    feed = {"kind": "Datafeed", "id": "f", "spec": {"job_id": "j", "indices": ["x"]}}
    assert list(validator("datafeed.schema.json").iter_errors(feed)) == []
    assert list(validator("filter.schema.json").iter_errors(feed)) != []


SCHEMA_LEVEL_CASES = [
    "unknown_field_envelope",
    "unknown_field_nested",
    "generated_field",
    "filter_state_not_allowed",
    "wrong_type_int",
    "wrong_type_list",
    "wrong_type_bool",
    "missing_required_field",
    "missing_spec",
    "missing_kind",
    "unknown_kind",
    "bad_state",
    "bad_enum_rule_action",
    "unknown_function",
    "bucket_span_missing_unit",
    "bucket_span_fractional",
    "model_memory_limit_unit",
    "calendar_event_missing_description",
    "dfa_missing_dependent_variable",
    "dfa_training_percent_range",
]


@pytest.mark.parametrize("case", SCHEMA_LEVEL_CASES)
def test_schema_rejects_bad_manifests(case: str) -> None:
    (document,) = documents(BAD / f"{case}.yaml")
    assert not validator().is_valid(document)
