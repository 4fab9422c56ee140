"""The read and the planner share values instead of copying them, and plan exactly the same.

- the planner compares a live resource through `without_unset_computed`, which never changes
  the read's canonical value and shares what it keeps with it: it must answer what dropping the
  computed fields from a copy answers;
- the fingerprint text is the value as JSON with sorted keys: the same text for the same value
  whatever its key order, a different one for a different value;
- `Ref.of` hands out one shared ref per address, equal to a new one;
- the answers' shapes ignore fields they do not name: a newer version's extra fields, at any
  depth, pass the check and are kept in the bodies as received;
- a plan's field changes are the plan's own values, not parts of the read's canonical forms.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.client import MLClient
from reconciler.cluster import read_cluster
from reconciler.model import Call, Kind, Ref, Resource
from reconciler.normalize import (
    COMPUTED,
    DEFAULT_INDICES_OPTIONS,
    canonical,
    drop_unset_computed,
    without_unset_computed,
)
from reconciler.plan import PlanOptions, make_plan
from reconciler.plan.fingerprint import _encode
from reconciler.sandbox import Sandbox, SandboxTransport

# ----------------------------------------------------------------------------- the reference


def _remove_path(live: Any, desired: Any, path: tuple[str, ...]) -> None:
    """The plain algorithm: delete `path` from `live` (in place) where `desired` lacks it."""
    if not path or not isinstance(live, dict | list):
        return
    head, rest = path[0], path[1:]
    if isinstance(live, list):
        if head == "*":
            for i, item in enumerate(live):
                other = desired[i] if isinstance(desired, list) and i < len(desired) else None
                _remove_path(item, other, rest)
        return
    for key in list(live) if head == "*" else [head]:
        if key not in live:
            continue
        other = desired.get(key) if isinstance(desired, dict) else None
        if not rest:
            if not isinstance(desired, dict) or key not in desired:
                del live[key]
        else:
            _remove_path(live[key], other, rest)


def reference_drop(kind: Kind, desired: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(live)
    for path in COMPUTED[kind]:
        _remove_path(out, desired, path)
    if kind is Kind.DATAFEED and isinstance(out.get("indices_options"), dict):
        declared = desired.get("indices_options") or {}
        out["indices_options"] = {
            k: v
            for k, v in out["indices_options"].items()
            if k in declared or k in DEFAULT_INDICES_OPTIONS
        }
    if kind is Kind.JOB:
        config = desired.get("analysis_config") or {}
        live_config = out.get("analysis_config")
        if isinstance(live_config, dict) and not config.get("categorization_field_name"):
            live_config.pop("categorization_analyzer", None)
            live_config.pop("per_partition_categorization", None)
    return out


# ----------------------------------------------------------------------------- generated bodies

#: Every key a computed path names, and a few others, so that the paths are hit often.
KEYS = sorted(
    {segment for paths in COMPUTED.values() for path in paths for segment in path if segment != "*"}
    | {"indices_options", "categorization_analyzer", "per_partition_categorization"}
    | {"categorization_field_name", "expand_wildcards", "ignore_throttled", "regression", "x"}
)
leaves = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "15m", "a"])
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(Kind)), bodies, bodies)
def test_without_unset_computed_answers_what_dropping_from_a_copy_does(
    kind: Kind, desired: dict[str, Any], live: dict[str, Any]
) -> None:
    before = copy.deepcopy(live)
    try:
        expected = reference_drop(kind, desired, before)
    except (TypeError, AttributeError) as exc:  # bodies no canonical form produces
        with pytest.raises(type(exc)):
            without_unset_computed(kind, desired, live)
        return
    kept = without_unset_computed(kind, desired, live)
    assert kept == expected
    assert json.dumps(kept) == json.dumps(expected)  # the same key order too
    assert live == before and json.dumps(live) == json.dumps(before)  # `live` is unchanged
    if expected == before:
        assert kept is live  # nothing dropped: nothing copied
    copied = drop_unset_computed(kind, desired, live)
    assert copied == expected
    assert copied is not live


# ----------------------------------------------------------------------------- fingerprint text

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)  # answers and manifests hold no others
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


def _same_types(a: Any, b: Any) -> bool:
    """Equal and of the same JSON types all the way down (`1 == 1.0` does not count)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    # (repr: 0.0 and -0.0 are equal numbers but not the same JSON text)
    return type(a) is type(b) and a == b and (not isinstance(a, float) or repr(a) == repr(b))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_the_fingerprint_text_is_the_value_as_json_whatever_its_key_order(value: Any) -> None:
    text = _encode(value)
    # It is the value (nothing lost, an integer beyond 64 bits included) ...
    assert _same_types(json.loads(text), value)
    # ... and the same text for the same value, whatever order its keys were built in.
    assert _encode(_reversed_keys(value)) == text


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_different_values_have_different_fingerprint_texts(a: Any, b: Any) -> None:
    assert (_encode(a) == _encode(b)) == _same_types(a, b)


def test_the_fingerprint_text_turns_other_values_into_strings() -> None:
    value = [{"b": Kind.JOB, "a": object.__name__}, Ref(kind=Kind.JOB, id="j")]
    assert json.loads(_encode(value)) == [
        {"a": "object", "b": "AnomalyDetectionJob"},
        "AnomalyDetectionJob/j",
    ]


# ----------------------------------------------------------------------------- shared refs


def test_a_shared_ref_is_the_ref_of_that_address() -> None:
    shared = Ref.of(Kind.DATAFEED, "feed-1")
    assert shared == Ref(kind=Kind.DATAFEED, id="feed-1")
    assert hash(shared) == hash(Ref(kind=Kind.DATAFEED, id="feed-1"))
    assert Ref.of(Kind.DATAFEED, "feed-1") is shared
    assert Ref.of(Kind.JOB, "feed-1") != shared
    assert str(shared) == "Datafeed/feed-1"


# ----------------------------------------------------------------------------- the read and plan

JOB: dict[str, Any] = {
    "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "count"}]},
    "data_description": {"time_field": "@timestamp"},
}


def seeded(transport: httpx.BaseTransport | None = None) -> tuple[Sandbox, MLClient]:
    sandbox = Sandbox(implicit_indices=True)
    client = MLClient(hosts=["http://sandbox:9200"], transport=SandboxTransport(sandbox))
    for i in range(2):
        body = {**JOB, "custom_settings": {"managed_by": "mlsync"}}
        client.perform(Call(method="PUT", path=f"/_ml/anomaly_detectors/j{i}", body=body))
        feed = {"job_id": f"j{i}", "indices": ["logs"]}
        client.perform(Call(method="PUT", path=f"/_ml/datafeeds/f{i}", body=feed))
    client.perform(Call(method="PUT", path="/_ml/filters/f", body={"items": ["a"]}))
    client.perform(Call(method="PUT", path="/_ml/calendars/c", body={"job_ids": ["j0"]}))
    reader = MLClient(
        hosts=["http://sandbox:9200"], transport=transport or SandboxTransport(sandbox)
    )
    return sandbox, reader


def with_extras(value: Any) -> Any:
    """Every object of an answer with one more field (as a newer version might add)."""
    if isinstance(value, dict):
        return {**{k: with_extras(v) for k, v in value.items()}, "added_in_10_0": {"n": 1}}
    if isinstance(value, list):
        return [with_extras(v) for v in value]
    return value


class AddingFields(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.inner.handle_request(request)
        body = answer.read()
        path = request.url.path
        if request.method == "GET" and path.startswith("/_ml/") and body[:1] == b"{":
            body = json.dumps(with_extras(json.loads(body))).encode()
        return httpx.Response(answer.status_code, headers=answer.headers, content=body)


def desired() -> list[Resource]:
    out = [
        Resource(ref=Ref(kind=Kind.JOB, id=f"j{i}"), body={**JOB, "description": f"d{i}"})
        for i in range(2)
    ]
    out.append(Resource(ref=Ref(kind=Kind.FILTER, id="f"), body={"items": ["a", "b"]}))
    return out


def test_fields_the_shapes_do_not_name_pass_and_are_kept() -> None:
    sandbox, plain = seeded()
    live = read_cluster(plain, plain.preflight())
    extra = MLClient(
        hosts=["http://sandbox:9200"], transport=AddingFields(SandboxTransport(sandbox))
    )
    live_extra = read_cluster(extra, extra.preflight())
    assert live_extra.resources.keys() == live.resources.keys()
    for ref, res in live_extra.resources.items():  # kept as received, the rest as before
        assert res.body["added_in_10_0"] == {"n": 1}
        assert res.state == live.resources[ref].state
        assert res.owned == live.resources[ref].owned
    job = live_extra.resources[Ref(kind=Kind.JOB, id="j0")].body
    assert "added_in_10_0" in job["analysis_config"]["detectors"][0]


def test_a_plans_field_changes_are_not_parts_of_the_reads_canonical_forms() -> None:
    _, client = seeded()
    live = read_cluster(client, client.preflight())
    before = copy.deepcopy({ref: canon for ref, (_, _, canon) in live.canonical.items()})
    plan = make_plan(desired(), live, options=PlanOptions())
    changed = [f for c in plan.changes for f in c.fields]
    assert {f.path for f in changed} >= {"description", "items"}
    for field in changed:  # nobody should, but a change to a plan value stays in the plan
        if isinstance(field.before, list):
            field.before.append("changed")
    assert {ref: canon for ref, (_, _, canon) in live.canonical.items()} == before
    for ref, (body, defaults, canon) in live.canonical.items():
        assert canon == canonical(ref.kind, body, defaults)
