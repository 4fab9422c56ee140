"""The README's promises: a quick start that survives PEP 668, documented flags, a real template."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
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


def test_quick_start_mlsync_commands_run_as_written(tmp_path: Path) -> None:
    """The quick start's mlsync commands, exactly as README.md writes them, in a fresh directory.

    A README edit that breaks one (a renamed flag, a changed default path, a plan that is not
    clean after the apply) fails here. The venv and pip steps are checked by the test above;
    the commands run through the installed `mlsync` console script, as a user runs them.
    """
    first = bash_blocks("## Quick start")[0]
    commands = [shlex.split(c) for c in first.split("&&")]
    mlsync_commands = [c for c in commands if c[0] == "mlsync"]
    assert len(mlsync_commands) >= 2, first
    script = Path(sys.executable).parent / "mlsync"
    assert script.exists(), "pip install -e . installs the mlsync console script"
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    # No connection settings from the developer's shell: the quick start needs none.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLSYNC_", "ELASTICSEARCH_", "ES_"))
    }
    for command in mlsync_commands:
        result = subprocess.run(
            [str(script), *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    # What the README says about it: the embedded cluster keeps its state here.
    assert (tmp_path / ".mlsync" / "sandbox.db").exists()
    assert "No changes" in result.stdout
