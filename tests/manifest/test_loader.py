"""load_manifests: files and trees, environments, --var, references, digest, inline datafeeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from manifest_helpers import JOB

from reconciler.errors import ManifestError
from reconciler.manifest import ManifestSet, Reference, load_manifests
from reconciler.model import Kind, Ref, SourceLocation

Write = Callable[[str, str], Path]


def errors_of(paths: list[Path], **kwargs: object) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(paths, environ={}, **kwargs)  # type: ignore[arg-type]
    return [str(d) for d in info.value.diagnostics]


def test_directory_tree_is_read_sorted_and_recursively(write: Write, tmp_path: Path) -> None:
    write("b/filters.yml", "kind: Filter\nid: f2\n")
    write("a/deep/filters.yaml", "kind: Filter\nid: f1\n---\nkind: Filter\nid: f0\n")
    write("notes.txt", "not yaml: [")
    write("environments/dev.yaml", "prefix: dev-\n")
    manifests = load_manifests([tmp_path], environ={})
    assert manifests.files == (
        str(tmp_path / "a/deep/filters.yaml"),
        str(tmp_path / "b/filters.yml"),
    )
    assert [r.ref.id for r in manifests.resources] == ["f1", "f0", "f2"]
    assert manifests.resources[1].source == SourceLocation(
        file=str(tmp_path / "a/deep/filters.yaml"), line=4, column=1
    )
    assert manifests.resources[0].body == {}


def test_every_error_in_every_file_is_reported(write: Write, tmp_path: Path) -> None:
    write("one.yaml", "kind: Filter\nid: Bad\n---\nkind: Filter\nid: ok\nspec: {itemz: []}\n")
    write("two.yaml", "kind: Calendar\nid: c\nspec: {job_ids: 5}\n")
    assert errors_of([tmp_path]) == [
        f"{tmp_path}/one.yaml:2:5: Invalid filter_id; 'Bad' can contain lowercase alphanumeric "
        "(a-z and 0-9), hyphens or underscores; must start and end with alphanumeric",
        f"{tmp_path}/one.yaml:6:8: unknown field 'itemz' in spec; did you mean 'items'?",
        f"{tmp_path}/two.yaml:3:17: spec.job_ids: expected a list, got the number 5",
    ]


def test_missing_path_is_a_diagnostic(tmp_path: Path) -> None:
    (message,) = errors_of([tmp_path / "nope"])
    assert message.endswith("no such file or directory; give a manifest file or directory")


def test_inline_datafeed_becomes_its_own_resource(write: Write) -> None:
    path = write(
        "job.yaml",
        JOB + "datafeed:\n  state: started\n  end: now\n  spec:\n    indices: [pay-*]\n",
    )
    manifests = load_manifests([path], environ={})
    job, feed = manifests.resources
    assert job.ref == Ref(kind=Kind.JOB, id="payments")
    assert "datafeed" not in job.body
    assert feed.ref == Ref(kind=Kind.DATAFEED, id="datafeed-payments")
    assert feed.body == {"indices": ["pay-*"], "job_id": "payments"}
    assert feed.state == "started"
    assert feed.facts == {"end": "now"}
    assert feed.source == SourceLocation(file=str(path), line=13, column=1)


def test_embedded_datafeed_config_is_split_out(write: Write) -> None:
    path = write(
        "job.yaml",
        JOB + "  datafeed_config:\n    datafeed_id: pay-feed\n    indices: [pay-*]\n",
    )
    job, feed = load_manifests([path], environ={}).resources
    assert "datafeed_config" not in job.body
    assert feed.ref.id == "pay-feed"
    assert feed.body == {"indices": ["pay-*"], "job_id": "payments"}


def test_embedded_datafeed_config_without_id_takes_the_job_id(write: Write) -> None:
    # Elasticsearch's Job.Builder.build gives an embedded datafeed the job's id; the reconciler
    # must expect the same id, or the next plan would see a different datafeed.
    path = write("job.yaml", JOB + "  datafeed_config:\n    indices: [pay-*]\n")
    _job, feed = load_manifests([path], environ={}).resources
    assert feed.ref == Ref(kind=Kind.DATAFEED, id="payments")


def test_datafeed_for_a_job_elsewhere_is_a_reference(write: Write) -> None:
    path = write(
        "feed.yaml",
        "kind: Datafeed\nid: feed\nstate: started\nstart: '2024-01-01T00:00:00Z'\n"
        "spec:\n  job_id: other\n  indices: [x]\n",
    )
    manifests = load_manifests([path], environ={})
    assert manifests.resources[0].facts == {"start": "2024-01-01T00:00:00Z"}
    assert manifests.references == (
        Reference(
            source=SourceLocation(file=str(path), line=6, column=11),
            from_ref=Ref(kind=Kind.DATAFEED, id="feed"),
            target_kind="job",
            target_id="other",
        ),
    )


def test_references_to_filters_and_calendar_targets(write: Write) -> None:
    job = JOB.replace(
        "        by_field_name: user\n",
        "        by_field_name: user\n        custom_rules:\n"
        "          - scope: {user: {filter_id: vip}}\n"
        "          - scope: {user: {filter_id: staff}}\n",
    ).replace("spec:\n", "spec:\n  groups: [finance]\n", 1)
    path = write(
        "all.yaml",
        job + "---\nkind: Filter\nid: staff\n---\nkind: Calendar\nid: cal\n"
        "spec: {job_ids: [payments, finance, _all, ghost]}\n",
    )
    manifests = load_manifests([path], environ={})
    assert [(r.target_kind, r.target_id) for r in manifests.references] == [
        ("filter", "vip"),
        ("job_or_group", "ghost"),
    ]


def test_environment_variables_and_var_overrides(write: Write, tmp_path: Path) -> None:
    write("environments/prod.yaml", "prefix: prod-\nitems: [a, b]\n")
    write("filters.yaml", "kind: Filter\nid: '{{ prefix }}ips'\nspec:\n  items: '{{ items }}'\n")
    manifests = load_manifests([tmp_path], env="prod", environ={})
    (resource,) = manifests.resources
    assert resource.ref.id == "prod-ips"
    assert resource.body == {"items": ["a", "b"]}
    overridden = load_manifests([tmp_path], env="prod", variables={"prefix": "x-"}, environ={})
    assert overridden.resources[0].ref.id == "x-ips"
    # --var values are strings: a list-typed field cannot come from --var alone.
    (message,) = errors_of([tmp_path], variables={"prefix": "v-", "items": "c"})
    assert message.endswith("filters.yaml:4:10: spec.items: expected a list, got the string 'c'")


def test_unknown_environment_names_the_path(write: Write, tmp_path: Path) -> None:
    write("environments/dev.yaml", "prefix: dev-\n")
    write("filters.yaml", "kind: Filter\nid: ips\n")
    (message,) = errors_of([tmp_path], env="staging")
    expected = tmp_path / "environments" / "staging.yaml"
    assert message == (
        f"{expected}:1:1: environment 'staging' not found: no file {expected}; available: dev"
    )


def test_invalid_environment_file(write: Write, tmp_path: Path) -> None:
    write("environments/dev.yaml", "- not\n- a mapping\n")
    write("filters.yaml", "kind: Filter\nid: ips\n")
    (message,) = errors_of([tmp_path], env="dev")
    assert message.endswith(
        "an environment file must be a mapping of variable names to values "
        "(for example `prefix: prod-`)"
    )


def test_environ_is_readable_from_templates(write: Write) -> None:
    path = write(
        "f.yaml", "kind: Filter\nid: ips\nspec: {description: \"{{ env_var('TEAM') }}\"}\n"
    )
    manifests = load_manifests([path], environ={"TEAM": "fraud"}, allow_env=["TEAM"])
    assert manifests.resources[0].body == {"description": "fraud"}


def test_digest_is_stable_and_tracks_rendered_content(write: Write, tmp_path: Path) -> None:
    write("f.yaml", "kind: Filter\nid: '{{ name }}'\n")
    first = load_manifests([tmp_path], variables={"name": "a"}, environ={})
    again = load_manifests([tmp_path], variables={"name": "a"}, environ={})
    other = load_manifests([tmp_path], variables={"name": "b"}, environ={})
    assert first.digest == again.digest
    assert first.digest != other.digest
    assert len(first.digest) == 64


def test_manifest_set_is_frozen(write: Write) -> None:
    path = write("f.yaml", "kind: Filter\nid: ips\n")
    manifests = load_manifests([path], environ={})
    assert isinstance(manifests, ManifestSet)
    with pytest.raises(ValueError):
        manifests.digest = "x"  # type: ignore[misc]


def test_body_keeps_values_as_written(write: Write) -> None:
    path = write(
        "job.yaml",
        JOB.replace("bucket_span: 15m", "bucket_span: 900S")
        + "  analysis_limits: {model_memory_limit: 2048}\n",
    )
    (job,) = load_manifests([path], environ={}).resources
    assert job.body["analysis_config"]["bucket_span"] == "900S"
    assert job.body["analysis_limits"] == {"model_memory_limit": 2048}
    assert set(job.body) == {"analysis_config", "data_description", "analysis_limits"}


def test_public_names_exist() -> None:
    import reconciler.manifest as package

    assert {"load_manifests", "ManifestSet", "Reference", "JobSpec"} <= set(package.__all__)
    for name in package.__all__:
        assert hasattr(package, name), name


def test_id_problems_are_reported_with_schema_problems(write: Write) -> None:
    path = write("f.yaml", "kind: Filter\nid: Bad_Id\nspec: {itemz: []}\n")
    assert errors_of([path]) == [
        f"{path}:2:5: Invalid filter_id; 'Bad_Id' can contain lowercase alphanumeric (a-z and "
        "0-9), hyphens or underscores; must start and end with alphanumeric",
        f"{path}:3:8: unknown field 'itemz' in spec; did you mean 'items'?",
    ]
