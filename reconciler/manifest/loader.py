"""Manifest files -> the desired side of a plan (`ManifestSet`), or every problem found.

Input: file and directory paths, the environment name, `--var` values and the process
environment. Output: a `ManifestSet`, or a `ManifestError` carrying every `Diagnostic`.
Reads files (I/O); everything after reading is pure.

Pipeline per document: YAML with positions (`source`) -> Jinja2 rendering of string values
(`template`) -> envelope and body models (`envelope`, `spec_*`) -> Elasticsearch's own
semantic checks (`checks_*`); then across documents (`crosscheck`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from reconciler.errors import Diagnostic, ManifestError
from reconciler.gc_pause import paused_gc
from reconciler.manifest.checks_common import check_body_id, check_id, non_finite_paths
from reconciler.manifest.checks_datafeed import check_datafeed, check_run_window
from reconciler.manifest.checks_job import check_job
from reconciler.manifest.checks_other import check_calendar, check_dfa, check_filter
from reconciler.manifest.crosscheck import Declaration, cross_check
from reconciler.manifest.envelope import (
    MANIFEST_ADAPTER,
    CalendarManifest,
    DatafeedManifest,
    DataFrameAnalyticsManifest,
    FilterManifest,
    JobManifest,
)
from reconciler.manifest.environment import ALLOW_ENV, ENVIRONMENTS_DIR, load_variables
from reconciler.manifest.locate import NOT_FINITE, Problem, problems_from_validation
from reconciler.manifest.manifest_set import ManifestSet
from reconciler.manifest.source import Document, Path, parse_documents
from reconciler.manifest.spec_datafeed import DatafeedSpec
from reconciler.manifest.template import TemplateRenderer
from reconciler.model import Kind, Ref, Resource, SourceLocation

__all__ = ["MANIFEST_SUFFIXES", "find_manifest_files", "load_manifests"]

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Run:
    """Mutable accumulator of one `load_manifests` call."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    declarations: list[Declaration] = field(default_factory=list)
    rendered: list[Any] = field(default_factory=list)
    #: False when the environment file could not be read: undefined variables are expected.
    variables_known: bool = True

    def report(self, doc: Document, problems: Sequence[Problem]) -> None:
        for problem in problems:
            line, column = doc.locate(problem.path, key=problem.at_key)
            self.diagnostics.append(
                Diagnostic(file=doc.file, line=line, column=column, message=problem.message)
            )


def find_manifest_files(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[list[str], list[Diagnostic]]:
    """Resource files under `paths`: `*.yaml`/`*.yml`, sorted, `environments/` excluded.

    Hidden files and directories (names starting with `.`, e.g. `.github/`,
    `.pre-commit-hooks.yaml`) are skipped when a directory is searched; a file named
    explicitly is always read. Missing paths are diagnostics.
    """
    files: list[str] = []
    diagnostics: list[Diagnostic] = []
    for raw in paths:
        path = FsPath(raw)
        if path.is_file():
            files.append(str(path))
        elif path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MANIFEST_SUFFIXES  # b.YAML, c.Yml too
                and p.is_file()
                and ENVIRONMENTS_DIR not in p.relative_to(path).parts[:-1]
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            files.extend(str(p) for p in found)
        else:
            diagnostics.append(
                Diagnostic(
                    file=str(path),
                    line=1,
                    column=1,
                    message="no such file or directory; give a manifest file or directory",
                )
            )
    unique = list(dict.fromkeys(files))
    return unique, diagnostics


@paused_gc()
def load_manifests(
    paths: Sequence[str | os.PathLike[str]],
    *,
    env: str | None = None,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_env: Sequence[str] = (),
) -> ManifestSet:
    """Load, render and validate manifests.

    Args:
        paths: Manifest files and/or directories (searched recursively).
        env: Environment name: variables come from `environments/<env>.yaml` under the
            first directory in `paths`.
        variables: `--var` values; they override the environment file.
        environ: The environment `env_var()` reads from; defaults to `os.environ`.
        allow_env: Environment variable names templates may read (`--allow-env`), besides
            those the environment file lists under `allow_env`; no other name is readable.

    Returns:
        The validated desired resources and the references left for the planner.

    Raises:
        ManifestError: With every diagnostic found, across all files.
    """
    run = _Run()
    values, env_problems = load_variables(paths, env, variables or {})
    run.diagnostics.extend(env_problems)
    files, missing = find_manifest_files(paths)
    run.diagnostics.extend(missing)
    if not files and not missing:
        # A typo'd or wrong directory would otherwise "validate" (and plan to prune) nothing.
        run.diagnostics.extend(
            Diagnostic(
                file=str(path),
                line=1,
                column=1,
                message=f"no manifest files (*.yaml, *.yml) found under {path}; pass the "
                "directory that holds your manifests",
            )
            for path in paths
        )
    declared = values.pop(ALLOW_ENV, None)
    allowed = [*allow_env, *(declared if isinstance(declared, list) else [])]
    renderer = TemplateRenderer(
        values, env, os.environ if environ is None else environ, allowed_env=allowed
    )
    # A bad environment file is reported and the manifests are still checked: a value that
    # names an undefined variable is then left out silently (it is a consequence of the
    # environment file, reported above), so every other problem shows in the same run.
    run.variables_known = not env_problems
    for file in files:
        _load_file(file, renderer, run)
    cross_problems, references = cross_check(run.declarations)
    run.diagnostics.extend(cross_problems)
    if run.diagnostics:
        raise ManifestError(_shortened(d) for d in run.diagnostics)
    digest = hashlib.sha256(
        json.dumps(run.rendered, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return ManifestSet(
        resources=tuple(run.resources),
        references=tuple(references),
        files=tuple(files),
        digest=digest,
        environment=env,
    )


#: Longest message shown: messages quote the value they are about (an id, a field name),
#: and a value can be up to MAX_SCALAR_CHARS long.
MAX_MESSAGE_CHARS = 2_000


def _shortened(diagnostic: Diagnostic) -> Diagnostic:
    """`diagnostic` with the middle of an over-long message left out (its end says what to do)."""
    message = diagnostic.message
    if len(message) <= MAX_MESSAGE_CHARS:
        return diagnostic
    half = MAX_MESSAGE_CHARS // 2
    cut = len(message) - 2 * half
    shown = f"{message[:half]}...({cut} characters left out)...{message[-half:]}"
    return diagnostic.model_copy(update={"message": shown})


#: Largest manifest file read (a larger one is refused before it is read into memory).
MAX_FILE_BYTES = 10 * 1024 * 1024


def _load_file(file: str, renderer: TemplateRenderer, run: _Run) -> None:
    try:
        size = FsPath(file).stat().st_size
        if size > MAX_FILE_BYTES:
            run.diagnostics.append(
                Diagnostic(
                    file=file,
                    line=1,
                    column=1,
                    message=f"file is {size} bytes, more than the {MAX_FILE_BYTES} bytes a "
                    "manifest file may have; split it into several files",
                )
            )
            return
        text = FsPath(file).read_text(encoding="utf-8")
    except MemoryError:
        run.diagnostics.append(
            Diagnostic(file=file, line=1, column=1, message="file does not fit in memory")
        )
        return
    except (OSError, UnicodeDecodeError) as exc:
        run.diagnostics.append(
            Diagnostic(file=file, line=1, column=1, message=f"cannot read file: {exc}")
        )
        return
    documents, problems = parse_documents(text, file)
    for yaml_problem in problems:
        run.diagnostics.append(
            Diagnostic(
                file=file,
                line=yaml_problem.line,
                column=yaml_problem.column,
                message=yaml_problem.message,
            )
        )
    for doc in documents:
        _load_document(doc, renderer, run)


def _load_document(doc: Document, renderer: TemplateRenderer, run: _Run) -> None:
    if not isinstance(doc.data, dict):
        run.report(
            doc,
            [
                Problem(
                    (),
                    "a manifest document must be a mapping with kind, id and spec "
                    f"(got {type(doc.data).__name__})",
                )
            ],
        )
        return
    data, template_problems = renderer.render(doc.data)
    problems = [
        Problem(p.path, p.message)
        for p in template_problems
        if not p.repeated and (run.variables_known or not p.undefined)
    ]
    problems += [Problem(path, NOT_FINITE) for path in non_finite_paths(data)]
    # A value that failed (template error, NaN/inf) is reported once and then treated as
    # absent, so the rest of the document is still checked without a second error for it.
    hidden = {p.path for p in template_problems} | {p.path for p in problems}
    if not hidden:
        run.rendered.append(data)
    data = _without(data, hidden)
    try:
        manifest = MANIFEST_ADAPTER.validate_python(data)
    except ValidationError as exc:
        # The id rules do not depend on the rest of the document: report them too, so one
        # run shows every problem the document has.
        schema = problems_from_validation(data, exc)
        problems += _visible(schema + _id_problems(data), hidden)
        semantic, declarations = _partial_checks(data, doc, hidden, schema, problems)
        problems += semantic
        run.declarations.extend(declarations)
        run.report(doc, problems)
        return
    source = SourceLocation(file=doc.file, line=doc.line, column=doc.column)
    for resource, declaration, declared_problems in _declarations(manifest, data, doc, source):
        problems += _visible(declared_problems, hidden)
        if not hidden:
            run.resources.append(resource)
            run.declarations.append(declaration)
    run.report(doc, problems)


_STAND_IN_ID = "mlsync-unrendered-id"

#: Rounds of leaving out rejected values before a document counts as too broken to check.
_PARTIAL_ROUNDS = 4


def _partial_checks(
    data: dict[str, Any],
    doc: Document,
    hidden: set[Path],
    schema: list[Problem],
    known: list[Problem],
) -> tuple[list[Problem], list[Declaration]]:
    """Elasticsearch's own rules and the cross-checks, on a document the schema rejected.

    Every value the schema rejected (a typo'd key, a wrong type, an object missing a required
    field) is left out, as if absent, until the rest validates; then the semantic checks run
    on the rest, so their problems show in the same run instead of after the schema errors
    are fixed. A check that could depend on a left-out value (one at it, under it, or at the
    mapping that holds it) is not reported: it would be a guess. The declarations are returned
    for the cross-file checks (duplicate ids, datafeed -> job, ...); nothing is planned.
    """
    # A list with a rejected (or unrendered) item is left out whole: without the item it
    # would be a different list (`indices: [a, <bad>]` is not `indices: [a]`).
    rejected = _whole_lists({p.path for p in schema if not _is_missing(p)} | hidden)
    unknown = {p.path for p in schema if p.at_key}
    stripped = data
    for _ in range(_PARTIAL_ROUNDS):
        stripped = _without(data, hidden | rejected)
        if ("id",) in hidden | rejected:
            # An id that did not render (or has the wrong type) is the one required value
            # every check can do without: a stand-in lets the body be checked, and any
            # problem that names the stand-in is dropped.
            stripped = {**stripped, "id": _STAND_IN_ID}
        try:
            manifest = MANIFEST_ADAPTER.validate_python(stripped)
            break
        except ValidationError as exc:
            again = problems_from_validation(stripped, exc)
            # An object missing a required field is left out as a whole, unless it is the
            # document or its spec: then too little is left to check.
            grown = {p.path for p in again if not _is_missing(p) or len(p.path) > 1}
            grown = _whole_lists(grown) - rejected
            if not grown:
                return [], []
            rejected |= grown
    else:
        return [], []
    guessed = hidden | rejected
    near = {path[:-1] for path in rejected - unknown if path}
    source = SourceLocation(file=doc.file, line=doc.line, column=doc.column)
    seen = {(p.path, p.message) for p in known}
    found: list[Problem] = []
    declarations: list[Declaration] = []
    for _, declaration, declared in _declarations(manifest, stripped, doc, source):
        if not hidden and ("id",) not in rejected:
            declarations.append(replace(declaration, partial=True))
        for problem in _visible(declared, guessed):
            if _STAND_IN_ID in problem.message:
                continue
            if problem.path in near or any(g and problem.path[: len(g)] == g for g in guessed):
                continue
            if (problem.path, problem.message) not in seen:
                seen.add((problem.path, problem.message))
                found.append(problem)
    return found, declarations


def _whole_lists(paths: set[Path]) -> set[Path]:
    return {path[:-1] if path and isinstance(path[-1], int) else path for path in paths}


def _is_missing(problem: Problem) -> bool:
    return problem.message.startswith("missing required field")


def _without(data: Any, hidden: set[Path]) -> Any:
    """`data` without the values at `hidden` (mapping keys removed, list items set to null)."""
    if not hidden:
        return data
    by_parent: dict[Path, set[str | int]] = {}
    for path in hidden:
        if path:
            by_parent.setdefault(path[:-1], set()).add(path[-1])

    def walk(value: Any, path: Path) -> Any:
        drop = by_parent.get(path, set())
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [None if i in drop else walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return walk(data, ())


def _visible(problems: list[Problem], hidden: set[Path]) -> list[Problem]:
    """Drop the problems a hidden (already reported) value causes: at it, or it missing."""
    if not hidden:
        return problems
    missing = {(path[:-1], f"missing required field '{path[-1]}'") for path in hidden if path}
    return [
        p
        for p in problems
        if p.path not in hidden
        and not any(p.path == parent and p.message.startswith(m) for parent, m in missing)
    ]


_Item = tuple[Resource, Declaration, list[Problem]]

# The name Elasticsearch uses for each kind's id in its messages (es-ml-api.md §0.3).
_ID_FIELD = {
    "AnomalyDetectionJob": "job_id",
    "Datafeed": "datafeed_id",
    "DataFrameAnalytics": "id",
    "Filter": "filter_id",
    "Calendar": "calendar_id",
}


def _id_problems(data: dict[str, Any]) -> list[Problem]:
    field_name = _ID_FIELD.get(str(data.get("kind")))
    ident = data.get("id")
    if field_name is None or not isinstance(ident, str):
        return []
    return check_id(ident, field_name, ("id",))


def _declarations(
    manifest: Any, data: dict[str, Any], doc: Document, source: SourceLocation
) -> Iterator[_Item]:
    """The resources a valid manifest declares (a job may also declare its datafeed)."""
    spec: dict[str, Any] = es_values(data.get("spec") or {}, _validated(manifest.spec))
    ref = Ref.of(Kind(manifest.kind), manifest.id)

    def declare(**extra: Any) -> Declaration:
        return Declaration(ref=ref, doc=doc, base=(), id_path=("id",), body_path=("spec",), **extra)

    if isinstance(manifest, JobManifest):
        body = {k: v for k, v in spec.items() if k != "datafeed_config"}
        yield (
            Resource(ref=ref, body=body, state=manifest.state, source=source),
            declare(job=manifest.spec, state=manifest.state, state_path=("state",)),
            check_job(manifest),
        )
        if manifest.datafeed is not None:
            yield _inline_datafeed(manifest, data, doc, ("datafeed",))
        elif manifest.spec.datafeed_config is not None:
            yield _inline_datafeed(manifest, data, doc, ("spec", "datafeed_config"))
    elif isinstance(manifest, DatafeedManifest):
        problems = check_id(manifest.id, "datafeed_id", ("id",))
        problems += check_body_id(
            manifest.spec.datafeed_id, manifest.id, "datafeed_id", ("spec", "datafeed_id")
        )
        problems += check_datafeed(manifest.spec, ("spec",))
        problems += check_run_window(manifest.start, manifest.end, ())
        if manifest.spec.job_id is None:
            problems.append(
                Problem(
                    ("spec",),
                    "missing required field 'job_id' in spec; name the job this datafeed feeds",
                )
            )
        yield (
            Resource(
                ref=ref,
                body=spec,
                state=manifest.state,
                source=source,
                facts=_run_window(manifest.start, manifest.end),
            ),
            declare(
                datafeed=manifest.spec,
                job_id=manifest.spec.job_id,
                job_id_path=("spec", "job_id"),
                state=manifest.state,
                state_path=("state",),
            ),
            problems,
        )
    elif isinstance(manifest, DataFrameAnalyticsManifest):
        yield (
            Resource(ref=ref, body=spec, state=manifest.state, source=source),
            declare(),
            check_dfa(manifest),
        )
    elif isinstance(manifest, FilterManifest):
        yield Resource(ref=ref, body=spec, source=source), declare(), check_filter(manifest)
    elif isinstance(manifest, CalendarManifest):
        yield (
            Resource(ref=ref, body=spec, source=source),
            declare(calendar=manifest.spec),
            check_calendar(manifest),
        )


def es_values(raw: Any, validated: Any) -> Any:
    """`raw` with quoted numbers replaced by the numbers they validated to.

    Elasticsearch's parsers coerce `"80"` to `80.0` for numeric fields and return the number,
    so a body that kept the string would differ from the cluster forever. Everything else stays
    exactly as the user wrote it (units, key order, query DSL).
    """
    if isinstance(raw, dict) and isinstance(validated, dict):
        return {k: es_values(v, validated.get(k, v)) for k, v in raw.items()}
    if isinstance(raw, list) and isinstance(validated, list) and len(raw) == len(validated):
        return [es_values(a, b) for a, b in zip(raw, validated, strict=True)]
    if (
        isinstance(raw, str)
        and isinstance(validated, int | float)
        and not isinstance(validated, bool)
    ):
        return validated
    return raw


def _validated(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_unset=True)


def _run_window(start: str | int | None, end: str | int | None) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if start is not None:
        facts["start"] = start
    if end is not None:
        facts["end"] = end
    return facts


def _inline_datafeed(job: JobManifest, data: dict[str, Any], doc: Document, base: Path) -> _Item:
    """A datafeed declared inside its job (`datafeed:` or `spec.datafeed_config`).

    `data` is the rendered job document; `base` says which of the two forms is used.
    """
    problems: list[Problem] = []
    if base == ("datafeed",):
        assert job.datafeed is not None
        spec_model: DatafeedSpec = job.datafeed.spec
        raw: dict[str, Any] = dict(data["datafeed"].get("spec") or {})
        datafeed_id = job.datafeed.id
        id_path: Path = (*base, "id") if datafeed_id is not None else base
        body_path: Path = (*base, "spec")
        state, facts = job.datafeed.state, _run_window(job.datafeed.start, job.datafeed.end)
        body_id = spec_model.datafeed_id
        problems += check_run_window(job.datafeed.start, job.datafeed.end, base)
    else:
        assert job.spec.datafeed_config is not None
        spec_model = job.spec.datafeed_config
        raw = {k: v for k, v in data["spec"]["datafeed_config"].items() if k != "datafeed_id"}
        datafeed_id = spec_model.datafeed_id
        id_path = (*base, "datafeed_id") if datafeed_id is not None else base
        body_path = base
        state, facts, body_id = None, {}, None
    # A `datafeed_config` embedded in a job takes the job's id when it has none, as
    # Elasticsearch's Job.Builder.build does; the `datafeed:` envelope keeps mlsync's
    # `datafeed-<job id>` default.
    default_id = f"datafeed-{job.id}" if base == ("datafeed",) else job.id
    resolved = datafeed_id or default_id
    problems += check_id(resolved, "datafeed_id", id_path)
    problems += check_body_id(body_id, resolved, "datafeed_id", (*body_path, "datafeed_id"))
    if spec_model.job_id is not None and spec_model.job_id != job.id:
        problems.append(
            Problem(
                (*body_path, "job_id"),
                f"datafeed job_id [{spec_model.job_id}] does not equal job id [{job.id}]; "
                "remove job_id from the datafeed (it is implied by the job)",
            )
        )
    problems += check_datafeed(spec_model, body_path)
    ref = Ref.of(Kind.DATAFEED, resolved)
    raw = es_values(raw, _validated(spec_model))
    raw["job_id"] = job.id
    line, column = doc.locate(base, key=True)
    resource = Resource(
        ref=ref,
        body=raw,
        state=state,
        source=SourceLocation(file=doc.file, line=line, column=column),
        facts=facts,
    )
    declaration = Declaration(
        ref=ref,
        doc=doc,
        base=base,
        id_path=id_path,
        body_path=body_path,
        datafeed=spec_model,
        job_id=job.id,
        job_id_path=body_path,
        state=state,
        state_path=(*base, "state"),
    )
    return resource, declaration, problems
