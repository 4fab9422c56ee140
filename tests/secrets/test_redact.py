"""The redaction module on its own: every form, whole or cut, and nothing else."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from reconciler.redact import Redactor, control_character


def test_every_form_is_masked() -> None:
    secret = 'tok"en/with#odd\\chars\r'
    redact = Redactor([secret, f"user:{secret}"])
    encoded = base64.b64encode(f"user:{secret}".encode()).decode()
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe="")):
        assert redact(f"a {form} b") == "a *** b", form
    assert redact(f"Basic {encoded}") == "Basic ***"


def test_cut_prefix_and_suffix_are_masked() -> None:
    encoded = base64.b64encode(b"rtkeyid:ApiKeySecretValue").decode()
    redact = Redactor([encoded])
    assert redact(f"ApiKey {encoded[:12]}") == "ApiKey ***"
    assert redact(f"...{encoded[-9:]} tail") == "...*** tail"
    # Shorter than 8 characters: too little to identify the secret, left alone.
    assert redact(f"ApiKey {encoded[:5]}") == f"ApiKey {encoded[:5]}"


def test_structures_and_unrelated_text() -> None:
    redact = Redactor(["s3cret-value"])
    assert redact.value({"k": ["x s3cret-value"], "s3cret-value": 1}) == {"k": ["x ***"], "***": 1}
    assert redact("nothing to hide") == "nothing to hide"
    assert Redactor([None, ""])("same") == "same"


def test_control_characters_are_named() -> None:
    assert control_character("abc\r") == "CR"
    assert control_character("a\nb") == "LF"
    assert control_character("a\x00") == "NUL"
    assert control_character("a\x1b") == "U+001B"
    assert control_character("plain value") is None
