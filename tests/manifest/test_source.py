"""reconciler.manifest.source: YAML with positions, duplicate keys, tags and alias limits."""

from __future__ import annotations

from reconciler.manifest.source import MAX_NODES_PER_DOCUMENT, parse_documents


def test_positions_of_values_and_keys() -> None:
    text = "kind: Filter\nid: a\nspec:\n  items:\n    - x\n    - y\n"
    (doc,), problems = parse_documents(text, "f.yaml")
    assert problems == []
    assert doc.data == {"kind": "Filter", "id": "a", "spec": {"items": ["x", "y"]}}
    assert doc.values[("spec", "items", 1)] == (6, 7)
    assert doc.keys[("spec", "items")] == (4, 3)
    assert doc.locate(("spec", "items", 1, "missing")) == (6, 7)
    assert doc.locate(("spec", "items"), key=True) == (4, 3)
    assert (doc.line, doc.column) == (1, 1)


def test_timestamps_stay_strings_and_scalars_keep_types() -> None:
    text = "a: 2024-01-01T00:00:00Z\nb: 2024-01-01\nc: 10\nd: 0.5\ne: true\nf: null\ng: '10'\n"
    (doc,), _ = parse_documents(text, "f.yaml")
    assert doc.data == {
        "a": "2024-01-01T00:00:00Z",
        "b": "2024-01-01",
        "c": 10,
        "d": 0.5,
        "e": True,
        "f": None,
        "g": "10",
    }


def test_multiple_documents_and_empty_ones() -> None:
    text = "---\na: 1\n---\n# only a comment\n---\nb: 2\n"
    docs, problems = parse_documents(text, "f.yaml")
    assert problems == []
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert [d.line for d in docs] == [2, 6]


def test_duplicate_key_points_at_the_second_key() -> None:
    text = "a:\n  b: 1\n  c: 2\n  b: 3\n"
    docs, problems = parse_documents(text, "f.yaml")
    assert docs == []
    assert [(p.line, p.column) for p in problems] == [(4, 3)]
    assert "duplicate key 'b' (first defined on line 2)" in problems[0].message


def test_merge_keys_are_supported_and_explicit_keys_win() -> None:
    text = "base: &base {x: 1, y: 2}\nthing:\n  <<: *base\n  y: 3\n"
    (doc,), problems = parse_documents(text, "f.yaml")
    assert problems == []
    assert doc.data["thing"] == {"x": 1, "y": 3}


def test_unsafe_tags_are_rejected() -> None:
    text = "a: !!python/name:os.system ''\n"
    docs, problems = parse_documents(text, "f.yaml")
    assert docs == []
    assert "is not allowed" in problems[0].message


def test_standard_explicit_tags_are_fine() -> None:
    (doc,), problems = parse_documents("a: !!str 10\nb: !!int '7'\n", "f.yaml")
    assert problems == []
    assert doc.data == {"a": "10", "b": 7}


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    docs, problems = parse_documents("\n".join(lines) + "\n", "bomb.yaml")
    assert docs == []
    assert [(p.line, p.column) for p in problems] == [(1, 1)]
    assert str(MAX_NODES_PER_DOCUMENT) in problems[0].message


def test_recursive_alias_is_rejected_not_looped() -> None:
    docs, problems = parse_documents("a: &a [1, *a]\n", "loop.yaml")
    assert docs == []
    assert problems  # bounded either as an alias bomb or as too deep


def test_syntax_error_keeps_earlier_documents() -> None:
    text = "a: 1\n---\nb: [1, 2\n"
    docs, problems = parse_documents(text, "f.yaml")
    assert [d.data for d in docs] == [{"a": 1}]
    assert len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error:")


def test_non_string_keys_become_strings() -> None:
    (doc,), _ = parse_documents("1: a\ntrue: b\n", "f.yaml")
    assert doc.data == {"1": "a", "true": "b"}


def test_unquoted_template_gets_a_hint() -> None:
    docs, problems = parse_documents("kind: Filter\nid: {{ prefix }}ips\n", "f.yaml")
    assert docs == []
    (problem,) = problems
    assert problem.line == 2
    assert problem.message.startswith("YAML syntax error:")
    assert problem.message.endswith('quote values that contain templates, e.g. id: "{{ x }}-job"')
