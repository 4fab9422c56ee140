"""The README's promises: a quick start that survives PEP 668, documented flags, a real template."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from reconciler.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def bash_blocks(section: str) -> list[str]:
    start = README.index(section)
    end = README.index("\n## ", start + 1)
    return re.findall(r"```bash\n(.*?)\n```", README[start:end], re.S)


def test_quick_start_installs_into_a_virtual_environment_first() -> None:
    first, second = bash_blocks("## Quick start")[:2]
    commands = [c.strip() for c in first.split("&&")]
    # A system Python that refuses global installs (PEP 668) never sees the pip install.
    assert commands[:3] == ["python3 -m venv .venv", ". .venv/bin/activate", "pip install -e ."]
    assert commands[3:] == [
        "mlsync apply --sandbox --auto-approve",
        "mlsync plan --sandbox --detailed-exitcode",
    ]
    assert second == 'pip install -e ".[test]" && pytest'


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    # The same command, quieter.
    assert 'pip install --quiet -e ".[test]" && pytest\n' in run


def test_template_example_uses_variables_the_shipped_environments_define() -> None:
    start = README.index("### Environments and templates")
    section = README[start : README.index("\n## ", start)]
    examples = "".join(re.findall(r"```(?:yaml|bash)\n(.*?)\n```", section, re.S))
    used = set(re.findall(r"\{\{\s*(\w+)", examples))
    used |= set(re.findall(r"--var (\w+)=", examples))
    assert used, "the section shows a template"
    shipped = (ROOT / "manifests").rglob("*.yaml")
    manifests_text = "".join(p.read_text() for p in shipped if "environments" not in p.parts)
    for env in ("dev", "prod"):
        variables = yaml.safe_load(
            (ROOT / "manifests" / "environments" / f"{env}.yaml").read_text()
        )
        assert used <= set(variables), (env, used - set(variables))
    for name in used:
        assert f"{{{{ {name}" in manifests_text, name


def test_documented_options_exist_and_are_documented() -> None:
    runner = CliRunner()
    for command, options in {
        "apply": [
            "--concurrency",
            "--wait-timeout",
            "--poll-interval",
            "--lock-timeout",
            "--lock-ttl",
            "--lock-scope",
            "--format",
            "--target",
        ],
        "plan": ["--target", "--format", "--out", "--detailed-exitcode"],
        "show": ["--format"],
        "schema": ["--kind", "--out"],
    }.items():
        help_text = runner.invoke(main, [command, "--help"]).output
        for option in options:
            assert option in help_text, (command, option)
            assert option in README, option
    assert "NO_COLOR" in README
    assert "mlsync show" in README and "mlsync schema" in README
