"""`mlsync validate` as users and CI run it: output formats, exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_helpers import BAD, EXAMPLES, JOB, REPO, run_validate

from reconciler.commands.validate import github_annotation
from reconciler.errors import Diagnostic

Write = Callable[[str, str], Path]


def test_valid_manifests_exit_zero(write: Write, tmp_path: Path) -> None:
    write("job.yaml", JOB)
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 0
    assert run.output == "1 resource valid\n"


def test_all_problems_of_all_files_then_a_summary(write: Write, tmp_path: Path) -> None:
    write("a.yaml", "kind: Filter\nid: A\n")
    write("b.yaml", "kind: Filter\nid: ok\nspec: {itemz: []}\n---\nkind: Calendar\nid: C\n")
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 1
    lines = run.output.splitlines()
    assert [line.split(": ", 1)[0] for line in lines[:3]] == [
        f"{tmp_path}/a.yaml:2:5",
        f"{tmp_path}/b.yaml:3:8",
        f"{tmp_path}/b.yaml:6:5",
    ]
    assert lines[3] == "3 problems found in the manifests; nothing was sent to Elasticsearch"


def test_path_defaults_to_manifests(write: Write, tmp_path: Path) -> None:
    write("manifests/f.yaml", "kind: Filter\nid: ips\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run = run_validate([])
    finally:
        os.chdir(cwd)
    assert (run.exit_code, run.output) == (0, "1 resource valid\n")


def test_github_annotations_are_escaped() -> None:
    diagnostic = Diagnostic(file="dir,a:b.yaml", line=3, column=7, message="50% bad\nline two")
    assert github_annotation(diagnostic) == (
        "::error file=dir%2Ca%3Ab.yaml,line=3,col=7::50%25 bad%0Aline two"
    )


def test_github_format_caps_annotations(write: Write, tmp_path: Path) -> None:
    docs = "---\n".join(f"kind: Filter\nid: Bad{i}\n" for i in range(12))
    write("many.yaml", docs)
    run = run_validate([str(tmp_path), "--format", "github"])
    assert run.exit_code == 1
    lines = run.output.splitlines()
    annotations = [line for line in lines if line.startswith("::error ")]
    assert len(annotations) == 10
    assert annotations[0].startswith(f"::error file={tmp_path}/many.yaml,line=2,col=5::Invalid")
    plain = [line for line in lines if line.startswith(str(tmp_path))]
    assert len(plain) == 2
    assert "2 more problems listed above without annotations (GitHub shows at most 10)" in lines
    assert lines[-1] == "12 problems found in the manifests; nothing was sent to Elasticsearch"


def test_references_are_warnings_unless_self_contained(write: Write, tmp_path: Path) -> None:
    write("feed.yaml", "kind: Datafeed\nid: f\nspec: {job_id: elsewhere, indices: [x]}\n")
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 0
    assert run.output.splitlines() == [
        f"{tmp_path}/feed.yaml:3:16: warning: Datafeed/f refers to job 'elsewhere', which no "
        "manifest declares; plan will check that it exists in the cluster",
        "1 resource valid",
    ]
    strict = run_validate([str(tmp_path), "--self-contained", "--format", "github"])
    assert strict.exit_code == 1
    assert strict.output.splitlines()[0].startswith(
        f"::error file={tmp_path}/feed.yaml,line=3,col=16::dangling reference: Datafeed/f"
    )


@pytest.mark.parametrize("bad", ["novalue", "=value"])
def test_bad_var_syntax(write: Write, tmp_path: Path, bad: str) -> None:
    write("f.yaml", "kind: Filter\nid: ips\n")
    result = run_validate([str(tmp_path), "--var", bad])
    assert result.exit_code == 1
    assert "expected key=value" in result.output
    assert "Traceback" not in result.output


def test_var_and_env_options(write: Write, tmp_path: Path) -> None:
    write("environments/dev.yaml", "prefix: dev-\n")
    write("f.yaml", "kind: Filter\nid: '{{ prefix }}ips{{ suffix }}'\n")
    run = run_validate([str(tmp_path), "--env", "dev", "--var", "suffix=-1", "--var", "x=a=b"])
    # x is used by no manifest: said, and still valid.
    assert (run.exit_code, run.output) == (
        0,
        "warning: --var x is not used by any manifest (a typo? the templates use: prefix, "
        "suffix)\n1 resource valid (environment dev)\n",
    )


def test_examples_through_the_installed_entry_point() -> None:
    """A real process through `reconciler.cli:main`, as the `mlsync` script runs it."""
    command = [sys.executable, "-c", "from reconciler.cli import main; main()"]
    ok = subprocess.run(
        [*command, "validate", str(EXAMPLES), "--env", "prod"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert (ok.returncode, ok.stdout) == (0, "6 resources valid (environment prod)\n")
    bad = subprocess.run(
        [*command, "validate", str(BAD / "alias_bomb.yaml"), str(BAD / "python_tag.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    assert bad.stdout.splitlines()[-1] == (
        "2 problems found in the manifests; nothing was sent to Elasticsearch"
    )


def test_unexpected_failure_prints_no_traceback(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reconciler.commands.validate as command

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(command, "load_manifests", broken)
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 1
    assert "internal error while validating (RuntimeError: boom)" in run.output
    assert "Traceback" not in run.output
