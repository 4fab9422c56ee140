"""Jinja2 rendering of the string values of parsed manifests, in a sandbox.

Input: a parsed document (plain data), the template variables and the environment name.
Output: the same data with every templated string rendered, plus `TemplateProblem`s.
No I/O (environment variables are read from the mapping handed in).

Only string *values* are rendered, after YAML parsing: a variable holding `:` or a newline
cannot change the YAML structure (no injection) and every error keeps the exact line of the
value. A value that is exactly one `{{ expression }}` keeps the expression's type, so
`scroll_size: "{{ scroll }}"` can yield a number when `scroll` is a number. Mapping keys
are not rendered (they name Elasticsearch fields); write `{% raw %}...{% endraw %}` for a
literal `{{` in a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.nodes

from reconciler.manifest.source import Path
from reconciler.manifest.template_limits import (
    MAX_OUTPUT_CHARS,
    BoundedEnvironment,
    TemplateLimitError,
)

__all__ = ["RESERVED_PREFIXES", "TemplateProblem", "TemplateRenderer"]

#: mlsync's own connection settings (cluster URL, user, password, API key, CA): a URL may
#: carry credentials, so no variable with these prefixes is readable from templates.
RESERVED_PREFIXES = ("MLSYNC_", "ELASTICSEARCH_")

_MARKERS = ("{{", "{%", "{#")
_SINGLE_EXPRESSION = re.compile(r"\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*", re.DOTALL)


@dataclass(frozen=True)
class TemplateProblem:
    """A rendering error for the value at `path`."""

    path: Path
    message: str
    #: The value names a variable that is not defined (the environment file may be at fault).
    undefined: bool = False
    #: Already reported for an earlier value (the run's total output limit): the value is
    #: left out without a second message.
    repeated: bool = False


class _UserFacingError(Exception):
    """Raised from template helpers; its message is shown as is."""


class _IncludeError(Exception):
    """The template names another template file (there is no loader, by design)."""


#: Tags that read other template files: manifests are rendered value by value, without files.
_FILE_NODES = (
    jinja2.nodes.Include,
    jinja2.nodes.Import,
    jinja2.nodes.FromImport,
    jinja2.nodes.Extends,
)


#: Characters all templated values of one run may produce together (thousands of jobs with
#: templated ids, indices and limits produce a few million).
MAX_TOTAL_OUTPUT_CHARS = 32 * 1024 * 1024


def _bounded(value: Any) -> Any:
    """`value`, unless it is a string or list larger than a template may produce."""
    if isinstance(value, str | list) and len(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(
            f"the value would be {len(value)} long, more than the limit of {MAX_OUTPUT_CHARS}"
        )
    return value


class TemplateRenderer:
    """Renders templated strings with one sandboxed environment and a compile cache.

    Build one per `load_manifests` call: the environment and the compiled templates are
    reused for every document (creating environments per document is slow).
    """

    def __init__(
        self,
        variables: Mapping[str, Any],
        env_name: str | None,
        environ: Mapping[str, str],
        allowed_env: Iterable[str] = (),
    ) -> None:
        # Immutable sandbox + StrictUndefined (Jinja2 >= 3.1.6 fixes the known escapes,
        # CVE-2024-56326 / CVE-2025-27516; ux-conventions.md §3 "Templating"), with bounded
        # time, sizes and loops (template_limits.py).
        self._env = BoundedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._environ = environ
        #: The only environment variables `env_var()` reads: those the user declared
        #: (`--allow-env NAME`, `allow_env:` in the environment file). A name-based deny list
        #: always misses one (DB_PWD, GH_PAT, DATABASE_URL...), and what a template reads
        #: lands in plans and request bodies.
        self._allowed_env = frozenset(allowed_env)
        # `env` exists only with --env: without it `{{ env }}` is an undefined variable, not
        # "None". Variables named env/env_var are refused earlier (environment.py).
        self._context: dict[str, Any] = {**variables, "env_var": self._env_var}
        if env_name is not None:
            self._context["env"] = env_name
        self._templates: dict[str, jinja2.Template] = {}
        #: Characters every templated value produced so far: each is bounded
        #: (MAX_OUTPUT_CHARS), and so is their sum, as a file's own text is.
        self._produced = 0
        self._over_told = False
        self._expressions: dict[str, Callable[..., Any]] = {}

    def _env_var(self, name: str, default: str | None = None) -> str:
        if not isinstance(name, str):
            raise _UserFacingError("env_var() needs the variable name as a string")
        upper = name.upper()
        if upper.startswith(RESERVED_PREFIXES):
            raise _UserFacingError(
                f"env_var('{name}') refused: {', '.join(p + '*' for p in RESERVED_PREFIXES)} "
                "variables are mlsync's connection settings and may carry credentials; pass "
                "non-secret values with --var or the environment file"
            )
        if name not in self._allowed_env:
            raise _UserFacingError(
                f"env_var('{name}') refused: templates read only the environment variables "
                f"you declare; pass --allow-env {name} or list it under allow_env in the "
                "environment file. Never declare a secret: what a template reads ends up in "
                "plans and request bodies"
            )
        if name in self._environ:
            return self._environ[name]
        if default is not None:
            return default
        raise _UserFacingError(
            f"environment variable '{name}' is not set; set it, or give a default: "
            f"env_var('{name}', 'value')"
        )

    def render(self, data: Any) -> tuple[Any, list[TemplateProblem]]:
        """Render every templated string value in `data`.

        Args:
            data: A parsed document.

        Returns:
            The rendered data and the problems (failed values keep their original text).
        """
        problems: list[TemplateProblem] = []
        return self._walk(data, (), problems), problems

    def _walk(self, value: Any, path: Path, problems: list[TemplateProblem]) -> Any:
        if isinstance(value, str):
            if any(marker in value for marker in _MARKERS):
                return self._render_one(value, path, problems)
            return value
        if isinstance(value, dict):
            return {k: self._walk(v, (*path, k), problems) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, (*path, i), problems) for i, v in enumerate(value)]
        return value

    def _render_one(self, text: str, path: Path, problems: list[TemplateProblem]) -> Any:
        try:
            with self._env.budget.running():
                if self._over_told:  # not evaluated: the run is over its output limit
                    raise TemplateLimitError("the run's template output is over its limit")
                return self._counted(_bounded(self._evaluate(text)))
        except TemplateLimitError as exc:
            over = self._produced > MAX_TOTAL_OUTPUT_CHARS
            problems.append(
                TemplateProblem(path, f"template limit reached: {exc}", repeated=self._over_told)
            )
            self._over_told = self._over_told or over
        except MemoryError:
            problems.append(
                TemplateProblem(path, "template limit reached: the value does not fit in memory")
            )
        except _IncludeError:
            problems.append(
                TemplateProblem(
                    path,
                    "templates cannot include other files ({% include %}, {% import %} and "
                    "{% extends %} are not available); put shared values in the environment "
                    "file or pass them with --var",
                )
            )
        except jinja2.exceptions.SecurityError as exc:
            problems.append(
                TemplateProblem(
                    path,
                    f"template blocked by the sandbox: {str(exc).rstrip('.')}; templates may "
                    "only use variables, filters and env_var()",
                )
            )
        except jinja2.UndefinedError as exc:
            problems.append(TemplateProblem(path, _undefined_message(exc), undefined=True))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(TemplateProblem(path, f"template syntax error: {exc.message}"))
        except _UserFacingError as exc:
            problems.append(TemplateProblem(path, str(exc)))
        except Exception as exc:  # any other runtime error inside the user's expression
            problems.append(TemplateProblem(path, f"template error: {type(exc).__name__}: {exc}"))
        return text

    def _counted(self, value: Any) -> Any:
        """`value`, counted against the run's total output (MAX_TOTAL_OUTPUT_CHARS)."""
        size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
        self._produced += size
        if self._produced > MAX_TOTAL_OUTPUT_CHARS:
            raise TemplateLimitError(
                f"templates produced more than {MAX_TOTAL_OUTPUT_CHARS} characters in all, "
                "the most the manifests of one run may hold"
            )
        return value

    def _evaluate(self, text: str) -> Any:
        match = _SINGLE_EXPRESSION.fullmatch(text)
        if match:
            result = self._expression(match["expr"])(**self._context)
            if isinstance(result, jinja2.Undefined):
                str(result)  # StrictUndefined raises UndefinedError here
            if _is_plain_data(result):
                return _as_lists(result)
            return str(result)
        pieces = _interpolation(text)
        if pieces is not None:
            # Text with `{{ expr }}` holes only: evaluate each (cached) expression and
            # join, as Jinja prints them (str()). Compiling one template per distinct
            # string (each id differs) would dominate load time.
            out = []
            for i, piece in enumerate(pieces):
                if i % 2 == 0:
                    out.append(piece)
                    continue
                value = self._expression(piece)(**self._context)
                out.append(str(value))  # StrictUndefined raises UndefinedError here
            return "".join(out)
        template = self._templates.get(text)
        if template is None:
            tree = self._env.parse(text)
            if any(True for _ in tree.find_all(_FILE_NODES)):
                raise _IncludeError
            template = self._templates[text] = self._env.from_string(tree)
        return template.render(self._context)

    def _expression(self, source: str) -> Callable[..., Any]:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self._env.compile_expression(source, undefined_to_none=False)
            self._expressions[source] = compiled
        return compiled


_HOLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _interpolation(text: str) -> list[str] | None:
    """Split `a{{ x }}b` into ["a", " x ", "b"]; None when full Jinja is needed."""
    if "{%" in text or "{#" in text:
        return None
    pieces = _HOLE.split(text)
    for expression in pieces[1::2]:
        if expression.startswith(("-", "+")) or expression.endswith(("-", "+")):
            return None  # whitespace control needs the template engine
    if any("{{" in literal or "}}" in literal for literal in pieces[::2]):
        return None
    return pieces


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    text = exc.message or str(exc)
    match = re.fullmatch(r"'([^']+)' is undefined", text)
    if match and match[1] == "env":
        return (
            "undefined template variable 'env': it is the environment name, set by --env; "
            "pass --env NAME (or write {{ env | default('') }})"
        )
    if match:
        return (
            f"undefined template variable '{match[1]}'; define it in the environment file "
            f"(--env) or pass --var {match[1]}=VALUE"
        )
    return f"template error: {text}"


def _is_plain_data(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain_data(v) for k, v in value.items())
    return False


def _as_lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value
