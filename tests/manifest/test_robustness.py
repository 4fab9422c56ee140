"""Whatever the input, loading manifests ends in a result or a ManifestError, never a crash."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_helpers import EXAMPLES

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

EXAMPLE_TEXTS = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.yaml"))]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["15m", "x", "{{ nope }}", "{{ 1 }}", "", "AnomalyDetectionJob", "100mb"]),
)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_manifests([path], environ={})
        except ManifestError as exc:
            assert exc.diagnostics
            for diagnostic in exc.diagnostics:
                assert diagnostic.file == str(path)
                assert diagnostic.line >= 1
                assert diagnostic.column >= 1
                assert diagnostic.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLE_TEXTS), st.data())
def test_mutated_examples_never_crash(text: str, data: st.DataObject) -> None:
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        action = data.draw(st.sampled_from(["value", "drop", "indent", "key"]))
        if action == "value" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {data.draw(scalars)!r}".replace("'", '"')
        elif action == "drop":
            del lines[index]
            if not lines:
                lines = ["{}"]
        elif action == "indent":
            lines[index] = "  " + line
        elif action == "key" and ":" in line:
            key, rest = line.split(":", 1)
            lines[index] = f"{key}x:{rest}"
    load_text("\n".join(lines) + "\n")


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "kind",
                        "id",
                        "spec",
                        "state",
                        "analysis_config",
                        "detectors",
                        "function",
                        "datafeed",
                        "indices",
                        "source",
                        "dest",
                        "analysis",
                        "events",
                        "items",
                    ]
                ),
                children,
                max_size=4,
            ),
        ),
        max_leaves=12,
    ),
    st.sampled_from(
        ["AnomalyDetectionJob", "Datafeed", "DataFrameAnalytics", "Filter", "Calendar"]
    ),
)
def test_random_documents_never_crash(body: object, kind: str) -> None:
    document = {"kind": kind, "id": "x", "spec": body}
    load_text(json.dumps(document))
