"""UX review of the manifest layer: --var typing, reserved names, problems after a template
error, hidden files, empty trees, and the forms `start`/`end` accept.

Each test drives `load_manifests` or the real `mlsync validate` command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_helpers import JOB, run_validate

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

Write = Callable[[str, str], Path]

DATAFEED = "kind: Datafeed\nid: feed\nstate: started\n{window}spec:\n  job_id: j\n  indices: [a]\n"


def errors_of(paths: list[Path], **kwargs: object) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(paths, environ={}, **kwargs)  # type: ignore[arg-type]
    return [str(d) for d in info.value.diagnostics]


# --- 3. --var values are YAML scalars ---------------------------------------------------------


def test_var_values_are_yaml_scalars(write: Write, tmp_path: Path) -> None:
    write(
        "job.yaml",
        JOB + "  allow_lazy_open: '{{ lazy }}'\n  results_retention_days: '{{ days }}'\n"
        "  description: '{{ text }}'\n",
    )
    manifests = load_manifests(
        [tmp_path], variables={"lazy": "false", "days": "3", "text": "'3'"}, environ={}
    )
    body = manifests.resources[0].body
    assert body["allow_lazy_open"] is False
    assert body["results_retention_days"] == 3
    assert body["description"] == "3"


def test_var_still_overrides_the_environment_file(write: Write, tmp_path: Path) -> None:
    write("environments/dev.yaml", "lazy: true\n")
    write("job.yaml", JOB + "  allow_lazy_open: '{{ lazy }}'\n")
    manifests = load_manifests([tmp_path], env="dev", variables={"lazy": "no"}, environ={})
    assert manifests.resources[0].body["allow_lazy_open"] is False
    manifests = load_manifests([tmp_path], env="dev", environ={})
    assert manifests.resources[0].body["allow_lazy_open"] is True


def test_var_that_is_not_a_scalar_stays_text(write: Write, tmp_path: Path) -> None:
    write("f.yaml", "kind: Filter\nid: ips\nspec: {description: '{{ d }}'}\n")
    for text in ("[a, b]", "a: b", "", "{{"):
        manifests = load_manifests([tmp_path], variables={"d": text}, environ={})
        assert manifests.resources[0].body == {"description": text}


# --- 4. reserved template names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("env", "it is the environment name, set by --env"),
        ("env_var", "it is the template function env_var()"),
    ],
)
def test_reserved_names_in_var(write: Write, tmp_path: Path, name: str, reason: str) -> None:
    write("f.yaml", "kind: Filter\nid: ips\n")
    run = run_validate([str(tmp_path), "--var", f"{name}=prod"])
    assert run.exit_code == 1
    assert run.problems == [
        f"--var:1:1: variable name '{name}' is reserved: {reason}; rename the variable"
    ]


def test_reserved_name_in_environment_file(write: Write, tmp_path: Path) -> None:
    env_file = write("environments/dev.yaml", "prefix: dev-\nenv: prod\n")
    write("f.yaml", "kind: Filter\nid: ips\n")
    assert errors_of([tmp_path], env="dev") == [
        f"{env_file}:2:1: variable name 'env' is reserved: it is the environment name, set by "
        "--env; rename the variable"
    ]


def test_env_without_env_option_is_undefined(write: Write, tmp_path: Path) -> None:
    path = write("f.yaml", "kind: Filter\nid: ips\nspec: {description: '{{ env }}-x'}\n")
    assert errors_of([tmp_path]) == [
        f"{path}:3:21: undefined template variable 'env': it is the environment name, set by "
        "--env; pass --env NAME (or write {{ env | default('') }})"
    ]
    write("environments/dev.yaml", "{}\n")
    manifests = load_manifests([tmp_path], env="dev", environ={})
    assert manifests.resources[0].body == {"description": "dev-x"}


# --- 5. a template error does not hide the document's other problems --------------------------


def test_template_error_and_schema_error_are_both_reported(write: Write, tmp_path: Path) -> None:
    path = write(
        "f.yaml",
        "kind: Filter\nid: ips\nspec:\n  description: '{{ nope }}'\n  itemz: [a]\n",
    )
    run = run_validate([str(path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{path}:4:16: undefined template variable 'nope'; define it in the environment file "
        "(--env) or pass --var nope=VALUE",
        f"{path}:5:3: unknown field 'itemz' in spec; did you mean 'items'?",
    ]


def test_failed_required_value_is_not_reported_twice(write: Write, tmp_path: Path) -> None:
    path = write(
        "feed.yaml",
        "kind: Datafeed\nid: Feed\nspec:\n  job_id: '{{ job }}'\n  indices: [a]\n"
        "  scroll_size: -1\n",
    )
    assert errors_of([path]) == [
        f"{path}:2:5: Invalid datafeed_id; 'Feed' can contain lowercase alphanumeric (a-z and "
        "0-9), hyphens or underscores; must start and end with alphanumeric",
        f"{path}:4:11: undefined template variable 'job'; define it in the environment file "
        "(--env) or pass --var job=VALUE",
        f"{path}:6:16: Invalid scroll_size value '-1' in datafeed configuration",
    ]


def test_failed_list_item_and_non_finite_number(write: Write, tmp_path: Path) -> None:
    path = write(
        "f.yaml",
        "kind: Filter\nid: ips\nspec:\n  items: ['{{ nope }}', .inf]\n  description: 5\n",
    )
    assert errors_of([path]) == [
        f"{path}:4:11: undefined template variable 'nope'; define it in the environment file "
        "(--env) or pass --var nope=VALUE",
        f"{path}:4:25: not a finite number (NaN or infinity); Elasticsearch's JSON has no such "
        "values, write a finite number",
        f"{path}:5:16: spec.description: expected a string, got the number 5",
    ]


# --- 6. hidden files and trees without manifests ----------------------------------------------


def test_hidden_directories_and_files_are_skipped(write: Write, tmp_path: Path) -> None:
    write(".github/workflows/ci.yaml", "on: push\njobs: {}\n")
    write(".pre-commit-hooks.yaml", "- id: hook\n")
    write(".mlsync/state.yml", "lock: x\n")
    write("sub/.hidden.yaml", "nope: 1\n")
    write("filters/ips.yaml", "kind: Filter\nid: ips\n")
    manifests = load_manifests([tmp_path], environ={})
    assert manifests.files == (str(tmp_path / "filters/ips.yaml"),)
    run = run_validate([str(tmp_path)])
    assert (run.exit_code, run.output) == (0, "1 resource valid\n")


def test_hidden_file_named_explicitly_is_read(write: Write) -> None:
    path = write(".ips.yaml", "kind: Filter\nid: ips\n")
    assert load_manifests([path], environ={}).files == (str(path),)


def test_tree_without_manifests_is_an_error(write: Write, tmp_path: Path) -> None:
    write("README.md", "# manifests\n")
    write(".github/ci.yaml", "on: push\n")
    run = run_validate([str(tmp_path)])
    assert run.exit_code == 1
    assert run.problems == [
        f"{tmp_path}:1:1: no manifest files (*.yaml, *.yml) found under {tmp_path}; pass the "
        "directory that holds your manifests"
    ]


def test_existing_file_without_documents_is_fine(write: Write) -> None:
    path = write("empty.yaml", "# nothing declared yet\n")
    manifests = load_manifests([path], environ={})
    assert manifests.resources == ()


# --- 2b. the forms `start` / `end` accept -----------------------------------------------------


@pytest.mark.parametrize(
    "window",
    [
        "start: 1704067200000\nend: 1706745600000\n",
        "start: '1704067200000'\n",
        "start: 2024-01-01T00:00:00Z\nend: '2024-02-01T00:00:00+01:00'\n",
        "start: '2024-01-01'\n",
        "start: now-1d\nend: now\n",
        "start: now-2w/d\n",
        "start: 2030-01-01T00:00:00Z\nend: now\n",
    ],
)
def test_valid_run_windows(write: Write, window: str) -> None:
    path = write("feed.yaml", DATAFEED.format(window=window))
    assert len(load_manifests([path], environ={}).resources) == 1


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            "end: 5 minutes ago\n",
            "3:6: Query param [end] with value [5 minutes ago] cannot be parsed as a date or "
            "converted to a number (epoch). Use epoch milliseconds, an ISO 8601 date-time "
            "(2024-01-01T00:00:00Z) or date math such as now-1d",
        ),
        (
            "start: now-1x\n",
            "3:8: Query param [start] with value [now-1x] cannot be parsed as a date or converted"
            " to a number (epoch). Use epoch milliseconds, an ISO 8601 date-time "
            "(2024-01-01T00:00:00Z) or date math such as now-1d",
        ),
        (
            "start: 2024-01-01T00:00:00Z\nend: 2024-01-01T00:00:00Z\n",
            "4:6: start [1704067200000] must be earlier than end [1704067200000]. Make end later"
            " than start",
        ),
    ],
)
def test_invalid_run_windows(write: Write, window: str, message: str) -> None:
    text = DATAFEED.format(window=window).replace("state: started\n", "")
    path = write("feed.yaml", text)
    assert errors_of([path]) == [f"{path}:{message}"]


# --- 7. a run state of the other family --------------------------------------------------------


def test_job_with_a_datafeed_state_is_told_which_states_jobs_use(write: Write) -> None:
    path = write("job.yaml", JOB.replace("state: opened", "state: started"))
    assert errors_of([path]) == [
        f"{path}:3:8: invalid value 'started' for state: expected one of 'opened', 'closed'; "
        "anomaly detection jobs use opened|closed (started|stopped is for datafeeds)"
    ]
