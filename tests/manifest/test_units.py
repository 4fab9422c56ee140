"""reconciler.units: Elasticsearch time values, byte sizes and AD memory limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.units import model_memory_limit_mb, parse_byte_size, parse_duration_ms


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("15m", 900_000),
        ("3600s", 3_600_000),
        ("1h", 3_600_000),
        ("1H", 3_600_000),
        (" 2d ", 172_800_000),
        ("250ms", 250),
        ("1500micros", 1),
        ("2000000nanos", 2),
        ("0", 0),
        ("-1", -1),
        ("30S", 30_000),
    ],
)
def test_parse_duration_ms(text: str, millis: int) -> None:
    assert parse_duration_ms(text) == millis


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("15", "unit is missing or unrecognized"),
        ("15w", "unit is missing or unrecognized"),
        ("m", "unit is missing or unrecognized"),
        ("", "unit is missing or unrecognized"),
        ("1.5h", "fractional time values are not supported"),
    ],
)
def test_parse_duration_ms_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration_ms(text)


def test_parse_duration_names_the_setting() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration_ms("15", setting="bucket_span")
    assert str(info.value).startswith(
        "failed to parse setting [bucket_span] with value [15] as a time value"
    )


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("100mb", 100 * 1024**2),
        ("100MB", 100 * 1024**2),
        ("8g", 8 * 1024**3),
        ("1500kb", 1_536_000),
        ("1k", 1024),
        ("512b", 512),
        ("2tb", 2 * 1024**4),
        ("1p", 1024**5),
        ("1.5gb", 1536 * 1024**2),
        (4096, 4096),
        ("0", 0),
        ("-1", -1),
    ],
)
def test_parse_byte_size(value: str | int, size: int) -> None:
    assert parse_byte_size(value) == size


@pytest.mark.parametrize("value", ["100", "100 parsecs", "mb", "-5mb", -2, True])
def test_parse_byte_size_rejects(value: str | int) -> None:
    with pytest.raises(ValueError):
        parse_byte_size(value)


@pytest.mark.parametrize(
    ("value", "mb"),
    [
        # es-ml-api.md §1.5 examples: 2048 -> 2048mb, 11MB -> 11mb, 8g -> 8192mb,
        # 3000g -> 3072000mb, 1500kb -> 1mb (rounded down).
        (2048, 2048),
        ("11MB", 11),
        ("8g", 8192),
        ("3000g", 3_072_000),
        ("1500kb", 1),
        ("100mb", 100),
    ],
)
def test_model_memory_limit_mb(value: str | int, mb: int) -> None:
    assert model_memory_limit_mb(value) == mb


@pytest.mark.parametrize("value", ["512kb", 0, "0"])
def test_model_memory_limit_below_one_mb(value: str | int) -> None:
    with pytest.raises(ValueError, match=r"model_memory_limit must be at least 1 MiB"):
        model_memory_limit_mb(value)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_duration_units_scale(amount: int, unit: str) -> None:
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
    assert parse_duration_ms(f"{amount}{unit}") == amount * factor
    assert parse_duration_ms(f"{amount}{unit.upper()}") == amount * factor


@given(st.integers(min_value=1, max_value=10**6))
def test_memory_limit_string_and_number_agree(megabytes: int) -> None:
    assert model_memory_limit_mb(f"{megabytes}mb") == model_memory_limit_mb(megabytes)
    assert model_memory_limit_mb(f"{megabytes * 1024}kb") == megabytes
