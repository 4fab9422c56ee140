"""Answers and paths: the fast paths give what the standard library gives, or defer to it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.client.endpoint import _segment
from reconciler.client.response import decode_body

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_an_answer_decodes_to_the_values_the_standard_parser_reads(value: Any) -> None:
    content = json.dumps(value, ensure_ascii=False).encode()
    decoded = decode_body(content, "application/json")
    # The same text again: same types (1 is not 1.0), same digits, same key order.
    assert json.dumps(decoded) == json.dumps(value)


def test_what_the_fast_parser_refuses_the_standard_one_decides() -> None:
    assert decode_body(b'{"s": "\\ud800"}', "application/json") == {"s": "\ud800"}
    assert decode_body(b'{"n": 123456789012345678901234567890}', "application/json") == {
        "n": 123456789012345678901234567890
    }


def test_numbers_json_cannot_hold_and_non_json_stay_text() -> None:
    assert decode_body(b'{"a": NaN}', "application/json") == '{"a": NaN}'
    assert decode_body(b"<html>proxy</html>", "text/html") == "<html>proxy</html>"
    assert decode_body(b"\xff{", "application/json") == "\ufffd{"
    assert decode_body(b' {"a": 1}', "text/plain") == {"a": 1}
    assert decode_body(b"", "application/json") is None


@settings(max_examples=1000, deadline=None)
@given(st.text(min_size=1).filter(lambda text: text not in (".", "..")))
def test_a_path_segment_is_encoded_as_quote_encodes_it(text: str) -> None:
    # The shortcut for ids with nothing to encode gives what the full encoding gives.
    assert _segment("id", text) == quote(text, safe=",*")
