"""Environment selection: `environments/<name>.yaml` variables plus `--var` overrides.

Input: the manifest paths, the `--env` name and the `--var` mapping. Output: the template
variables, or diagnostics. Reads the environment file (file I/O).

The environment file is a YAML mapping of variable names to values (any YAML value, so a
list of indices or a number keeps its type); a `--var` value is read as a YAML scalar the
same way (`--var on=false` is a boolean). `env` and `env_var` are reserved names, and
`allow_env` lists the environment variables templates may read with `env_var()`. The file
lives under the first directory given on the command line (e.g.
`manifests/environments/prod.yaml`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifest.source import parse_documents

__all__ = [
    "ALLOW_ENV",
    "ENVIRONMENTS_DIR",
    "RESERVED_VARIABLES",
    "environment_root",
    "load_variables",
]

ENVIRONMENTS_DIR = "environments"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Names the template context defines itself (reconciler.manifest.template): a variable with
#: one of these names would silently shadow it, so it is an error.
RESERVED_VARIABLES = {
    "env": "it is the environment name, set by --env",
    "env_var": "it is the template function env_var()",
}


#: The environment file key that declares which environment variables `env_var()` may read
#: (a list of names); it is not a template variable.
ALLOW_ENV = "allow_env"


def _allow_env_problem(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and _NAME.fullmatch(v) for v in value):
        return None
    return (
        f"{ALLOW_ENV} must be a list of environment variable names (letters, digits and _), "
        "for example `allow_env: [INDEX_PREFIX, TEAM]`"
    )


def _reserved(name: str) -> str | None:
    reason = RESERVED_VARIABLES.get(name)
    if reason is None:
        return None
    return f"variable name '{name}' is reserved: {reason}; rename the variable"


def _scalar(text: str) -> Any:
    """A `--var` value read as a YAML scalar, as in the environment file.

    `false` -> False, `3` -> 3, `'3'` -> "3"; anything that is not a plain scalar (a list, a
    mapping, a YAML error, an empty value) stays the text given.
    """
    if not text.strip():
        return text
    documents, problems = parse_documents(text, "--var")
    if problems or len(documents) != 1:
        return text
    value = documents[0].data
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return text


def environment_root(paths: Sequence[str | os.PathLike[str]]) -> Path | None:
    """The directory that holds `environments/`: the first directory among `paths`.

    Falls back to the parent of the first file when only files are given.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            return path
    if paths:
        return Path(paths[0]).parent
    return None


def load_variables(
    paths: Sequence[str | os.PathLike[str]],
    env: str | None,
    overrides: Mapping[str, str],
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Build the template variables for one run.

    Args:
        paths: The manifest paths (the first directory holds `environments/`).
        env: The environment name (`--env`), or None for no environment file.
        overrides: `--var` values; they win over the environment file.

    Returns:
        The variables and the diagnostics (a missing or invalid environment file).
    """
    variables: dict[str, Any] = {}
    diagnostics: list[Diagnostic] = []
    if env is not None:
        root = environment_root(paths) or Path(".")
        candidates = [root / ENVIRONMENTS_DIR / f"{env}{ext}" for ext in (".yaml", ".yml")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            available = sorted(
                p.stem
                for p in (root / ENVIRONMENTS_DIR).glob("*.y*ml")
                if p.suffix in (".yaml", ".yml")
            )
            hint = f"; available: {', '.join(available)}" if available else ""
            diagnostics.append(
                Diagnostic(
                    file=str(candidates[0]),
                    line=1,
                    column=1,
                    message=f"environment '{env}' not found: no file {candidates[0]}{hint}",
                )
            )
        else:
            variables, problems = _read_environment_file(found)
            diagnostics.extend(problems)
    for name in overrides:
        if not _NAME.fullmatch(name):
            message = f"invalid variable name '{name}' in --var; use letters, digits and _"
        elif name == ALLOW_ENV:
            message = f"{ALLOW_ENV} cannot be set with --var; use --allow-env NAME"
        else:
            message = _reserved(name) or ""
        if message:
            diagnostics.append(Diagnostic(file="--var", line=1, column=1, message=message))
    variables.update({name: _scalar(value) for name, value in overrides.items()})
    return variables, diagnostics


def _read_environment_file(path: Path) -> tuple[dict[str, Any], list[Diagnostic]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Diagnostic(file=file, line=1, column=1, message=f"cannot read: {exc}")]
    documents, problems = parse_documents(text, file)
    diagnostics = [
        Diagnostic(file=file, line=p.line, column=p.column, message=p.message) for p in problems
    ]
    if diagnostics:
        return {}, diagnostics
    if not documents:
        return {}, []
    if len(documents) > 1:
        doc = documents[1]
        return {}, [
            Diagnostic(
                file=file,
                line=doc.line,
                column=doc.column,
                message="an environment file holds one YAML mapping of variables, not several "
                "documents",
            )
        ]
    doc = documents[0]
    if not isinstance(doc.data, dict):
        return {}, [
            Diagnostic(
                file=file,
                line=doc.line,
                column=doc.column,
                message="an environment file must be a mapping of variable names to values "
                "(for example `prefix: prod-`)",
            )
        ]
    for name in doc.data:
        if not _NAME.fullmatch(name):
            message = f"invalid variable name '{name}'; use letters, digits and _"
        elif name == ALLOW_ENV:
            message = _allow_env_problem(doc.data[name]) or ""
        else:
            message = _reserved(name) or ""
        if message:
            line, column = doc.keys[(name,)]
            diagnostics.append(Diagnostic(file=file, line=line, column=column, message=message))
    return dict(doc.data), diagnostics
