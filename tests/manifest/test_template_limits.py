"""Template work is bounded: time, output size, integer size, loops, widths (through the CLI).

Each case would run for minutes or allocate gigabytes without the bounds; with them it is a
`file:line:col: template limit reached: ...` diagnostic and exit 1, with nothing sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from manifest_helpers import run_validate

from reconciler.manifest import template_limits

FILTER = """kind: Filter
id: f
spec:
  description: {value}
  items: [a]
"""

BOUNDED = {
    "huge_power": "{{ 9 ** (9 ** 9) }}",
    "huge_product": "{{ (2 ** 200) * (2 ** 200) }}",
    "string_repetition": "{{ 'x' * 2**30 }}",
    "list_repetition": "{{ [1, 2] * 2**29 }}",
    "joined_strings": "{% set s = 'x' * 900000 %}{{ s + s }}",
    "nested_ranges": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "big_range": "{{ range(10 ** 9) | list }}",
    "replace_growth": "{{ ('x' * 100000) | replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
    "replace_method": "{{ ('x' * 100000).replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
    "percent_width": "{{ '%99999999d' % 1 }}",
    "percent_star": "{{ '%*d' % (99999999, 1) }}",
    "format_width": "{{ '{:>999999999}'.format(1) }}",
    "format_filter_width": "{{ '%999999999s' | format('x') }}",
    "center_width": "{{ 'a' | center(999999999) }}",
    "ljust_width": "{{ 'a'.ljust(999999999) }}",
    "indent_width": "{{ ('a\\n' * 1000) | indent(100000) }}",
    "output_size": "{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
}


def _write(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(FILTER.format(value=json.dumps(value)))
    return path


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_unbounded_template_work_is_refused_with_its_location(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, BOUNDED[name])
    run = run_validate([str(path)])
    assert run.exit_code == 1
    assert run.problems == [
        p for p in run.problems if p.startswith(f"{path}:4:16: template limit reached: ")
    ]
    assert len(run.problems) == 1, run.output
    assert "Traceback" not in run.output


def test_loops_that_call_no_hook_are_stopped_by_the_time_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three nested loops over a string with empty bodies: only the timer can stop them."""
    monkeypatch.setattr(template_limits, "MAX_SECONDS", 0.5)
    value = (
        "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    run = run_validate([str(_write(tmp_path, value))])
    assert run.exit_code == 1
    assert "template work exceeded 0.5 seconds" in run.output


def test_the_time_budget_is_shared_by_all_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template_limits, "MAX_SECONDS", 0.2)
    # Only the timer may stop these values: with the run's range() total in reach (30 x 60,000
    # items), a fast machine would hit that limit first and the test would depend on speed.
    monkeypatch.setattr(template_limits, "MAX_ITERATIONS", 10**9)
    slow = "{% for i in range(60000) %}{% if i is odd %}{% endif %}{% endfor %}ok"
    for n in range(30):
        (tmp_path / f"f{n}.yaml").write_text(
            FILTER.format(value=json.dumps(slow)).replace("id: f", f"id: f{n}")
        )
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 1
    assert "template work exceeded 0.2 seconds for this run" in run.output


def test_includes_are_refused_at_the_value(tmp_path: Path) -> None:
    for tag in ("{% include 'x.yaml' %}", "{% import 'm' as m %}", "{% extends 'base' %}"):
        path = _write(tmp_path, tag)
        run = run_validate([str(path)])
        assert run.exit_code == 1
        assert run.problems == [
            f"{path}:4:16: templates cannot include other files "
            "({% include %}, {% import %} and {% extends %} are not "
            "available); put shared values in the environment file or "
            "pass them with --var"
        ]


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    value = (
        "{% for i in range(3) %}{{ i * 2 }}-{% endfor %}{{ '%05d' % 42 }}"
        "{{ '{:>6}'.format('x') }}{{ 'ab' * 3 }}{{ 2 ** 62 }}{{ 'a-b' | replace('-', '_') }}"
    )
    run = run_validate([str(_write(tmp_path, value))])
    assert run.exit_code == 0, run.output
