"""YAML text -> plain Python documents that remember the line and column of every node.

Input: the text of one manifest (or environment) file. Output: `Document` values (data plus a
position table) or `YamlProblem`s. No file I/O here (the caller reads the file).

Why not `yaml.safe_load`: PyYAML silently keeps the last of duplicate keys, turns
`2024-01-01` into a `date`, forgets positions, and expands aliases without bound. We let a
`SafeLoader` subclass (the libyaml-backed one when available, for speed) compose the node
graph, then build the values ourselves: duplicate keys are errors, timestamps stay strings,
only the standard YAML tags are accepted, and alias expansion is capped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "MAX_NODES_PER_DOCUMENT",
    "MAX_SCALAR_CHARS",
    "Document",
    "Path",
    "YamlProblem",
    "parse_documents",
]

#: Upper bound on the number of values one document may expand to (aliases included).
#: A real ML manifest has a few hundred; a "billion laughs" document has billions.
MAX_NODES_PER_DOCUMENT = 100_000
#: Longest string value (or key): the template output limit (template_limits.MAX_OUTPUT_CHARS)
#: too, so no value reaches the checks, the request bodies or the plan rendering bigger than
#: that, whether written or rendered. A description or a query is a few kilobytes.
MAX_SCALAR_CHARS = 1_000_000
#: Upper bound on the characters the values of one file expand to (aliases included): a long
#: string aliased many times would otherwise cost its length times the aliases in every later
#: stage. A file is at most 10 MiB, so only aliases reach it.
MAX_DOCUMENT_CHARS = 10 * 1024 * 1024

Path = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_KEY_TAGS = (_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _VALUE)


class PositionLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe YAML loader that only composes nodes; values are built by `_Builder`.

    The timestamp resolver is removed so that `2024-01-01T00:00:00Z` stays the string the
    user wrote (Elasticsearch parses dates itself, and the body must be kept as written).
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


# SafeConstructor's scalar converters only need `construct_scalar`, so one shared
# stateless instance serves every document.
_SCALARS = SafeConstructor()


@dataclass(frozen=True)
class YamlProblem:
    """A YAML-level error at a 1-based line and column."""

    line: int
    column: int
    message: str


@dataclass
class Document:
    """One YAML document: its data and where each value and mapping key was written."""

    file: str
    index: int
    line: int
    column: int
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column for `path`, falling back to the closest enclosing node.

        Args:
            path: Keys and indexes from the document root.
            key: Point at the mapping key of the last element (for "unknown field").

        Returns:
            A 1-based (line, column).
        """
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return (self.line, self.column)


class _TooLarge(Exception):
    pass


class _Recursive(Exception):
    """An alias refers to the anchor it is part of (`&a [*a]`): the value would be infinite."""

    def __init__(self, node: yaml.Node) -> None:
        super().__init__()
        self.node = node


class _Builder:
    """Turns a composed node graph into Python values, recording positions."""

    def __init__(self, doc: Document, chars: int = 0) -> None:
        self.doc = doc
        self.count = 0
        #: Characters of the file's values so far, this document's included.
        self.chars = chars
        self.problems: list[YamlProblem] = []
        #: Collections being built: meeting one again means an alias inside its own anchor.
        self._open: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES_PER_DOCUMENT:
            raise _TooLarge
        mark = node.start_mark
        self.doc.values.setdefault(path, (mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                raise _Recursive(node)
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                if node.tag != _SEQ:
                    self._bad_tag(node)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        return self._scalar(node)

    def _bad_tag(self, node: yaml.Node) -> None:
        mark = node.start_mark
        self.problems.append(
            YamlProblem(
                mark.line + 1,
                mark.column + 1,
                f"YAML tag '{node.tag}' is not allowed; manifests may only use plain YAML "
                "(strings, numbers, booleans, null, lists and mappings)",
            )
        )

    def _scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        if not isinstance(node, yaml.ScalarNode):  # pragma: no cover - callers pass scalars
            return None
        if self._too_long(node):
            return None
        try:
            if tag == _INT:
                return _SCALARS.construct_yaml_int(node)
            if tag == _FLOAT:
                return _SCALARS.construct_yaml_float(node)
            if tag == _BOOL:
                return _SCALARS.construct_yaml_bool(node)
            if tag == _NULL:
                return None
        except (ValueError, ConstructorError):
            pass  # a malformed explicitly-tagged scalar: keep the text
        if tag not in (_STR, _TIMESTAMP, _INT, _FLOAT, _BOOL, _VALUE):
            self._bad_tag(node)
        return str(node.value)

    def _too_long(self, node: yaml.ScalarNode) -> bool:
        """Record a string over MAX_SCALAR_CHARS (at its position); stop past MAX_DOCUMENT_CHARS.

        The length is known before any later stage copies the text.
        """
        length = len(node.value)
        self.chars += length
        if self.chars > MAX_DOCUMENT_CHARS:
            raise _TooLarge
        if length <= MAX_SCALAR_CHARS:
            return False
        mark = node.start_mark
        self.problems.append(
            YamlProblem(
                mark.line + 1,
                mark.column + 1,
                f"value is {length} characters long, more than the {MAX_SCALAR_CHARS} a "
                "manifest value may have; shorten it (Elasticsearch settings, descriptions "
                "and queries are far smaller)",
            )
        )
        return True

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _MAP:
            self._bad_tag(node)
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                mark = key_node.start_mark
                self.problems.append(
                    YamlProblem(
                        mark.line + 1,
                        mark.column + 1,
                        "mapping keys must be plain strings, not lists or mappings",
                    )
                )
                continue
            if key_node.tag not in _KEY_TAGS:
                self._bad_tag(key_node)
            if self._too_long(key_node):
                continue
            key = str(key_node.value)  # keys are text, as Elasticsearch reads them
            key_mark = key_node.start_mark
            if key in explicit:
                first_line, _ = self.doc.keys[(*path, key)]
                self.problems.append(
                    YamlProblem(
                        key_mark.line + 1,
                        key_mark.column + 1,
                        f"duplicate key '{key}' (first defined on line {first_line}); "
                        "YAML keeps only one of them, remove or rename the other",
                    )
                )
                continue
            explicit.add(key)
            self.doc.keys[(*path, key)] = (key_mark.line + 1, key_mark.column + 1)
            result[key] = self.build(value_node, (*path, key))
        # YAML merge keys (`<<: *defaults`): explicit keys win over merged ones.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self._bad_tag(source)
                    continue
                merged = self._mapping(source, path)
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def _tab_indent(mark: yaml.Mark, text: str) -> bool:
    """True when the error is at a tab in a line's leading whitespace (YAML forbids it)."""
    lines = text.split("\n")
    if not 0 <= mark.line < len(lines):
        return False
    before = lines[mark.line][: mark.column + 1]
    return before.endswith("\t") and before.strip(" \t") == ""


def _problem_from_mark(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if mark is not None and _tab_indent(mark, text):
        return YamlProblem(line, column, "tabs are not allowed for indentation in YAML; use spaces")
    context = ""
    if exc.context:
        started = exc.context_mark
        where = f" started on line {started.line + 1}" if started and started != mark else ""
        context = f" ({exc.context}{where})"
    return YamlProblem(line, column, f"YAML syntax error: {problem}{context}")


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> YamlProblem:
    """A control character or NUL byte at its line and column (the reader gives an offset)."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character
    code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
    name = "a NUL byte" if char == 0 else f"the control character {code}"
    return YamlProblem(
        line,
        column,
        f"{name} is not allowed in YAML; remove it (or write it as an escape in a "
        'double-quoted string, e.g. "\\x01")',
    )


def parse_documents(text: str, file: str) -> tuple[list[Document], list[YamlProblem]]:
    """Parse every document of a YAML stream with positions.

    Documents that are empty (only comments, or `---` separators) are skipped. A syntax
    error stops the stream at that point (YAML cannot resynchronise), but documents before
    it are kept so that their own errors are still reported.

    Args:
        text: The file's text.
        file: The name used in `Document.file`.

    Returns:
        The documents and the problems found.
    """
    documents: list[Document] = []
    problems: list[YamlProblem] = []
    loader = PositionLoader(text)
    chars = 0
    try:
        for index, node in enumerate(_nodes(loader)):
            mark = node.start_mark
            doc = Document(file, index, mark.line + 1, mark.column + 1, None)
            builder = _Builder(doc, chars)
            try:
                doc.data = builder.build(node, ())
            except _TooLarge:
                # The refused document's values are dropped: they do not count further.
                what = (
                    f"{MAX_DOCUMENT_CHARS} characters (with the documents before it)"
                    if builder.chars > MAX_DOCUMENT_CHARS
                    else f"{MAX_NODES_PER_DOCUMENT} values"
                )
                problems.append(
                    YamlProblem(
                        doc.line,
                        doc.column,
                        f"document expands to more than {what} through YAML aliases (an "
                        "'alias bomb'); use fewer anchors/aliases",
                    )
                )
                continue
            except _Recursive as exc:
                start = exc.node.start_mark
                problems.append(
                    YamlProblem(
                        start.line + 1,
                        start.column + 1,
                        "recursive YAML alias: an alias refers to the anchor that contains it, "
                        "so the value would never end; remove the alias or anchor something else",
                    )
                )
                continue
            except RecursionError:
                problems.append(YamlProblem(doc.line, doc.column, "document is nested too deeply"))
                continue
            chars = builder.chars
            problems.extend(builder.problems)
            if not builder.problems:
                documents.append(doc)
    except yaml.MarkedYAMLError as exc:
        problem = _problem_from_mark(exc, text)
        lines = text.splitlines()
        if 0 < problem.line <= len(lines) and "{{" in lines[problem.line - 1]:
            # `id: {{ prefix }}x` is a YAML flow mapping, not a template: quote it.
            problem = YamlProblem(
                problem.line,
                problem.column,
                problem.message + '; quote values that contain templates, e.g. id: "{{ x }}-job"',
            )
        problems.append(problem)
    except yaml.reader.ReaderError as exc:  # a control character or NUL byte
        problems.append(_reader_problem(exc, text))
    except yaml.YAMLError as exc:
        problems.append(YamlProblem(1, 1, f"YAML error: {exc}"))
    except MemoryError:
        problems.append(YamlProblem(1, 1, "the YAML does not fit in memory; split the file"))
    except RecursionError:
        problems.append(YamlProblem(1, 1, "YAML is nested too deeply"))
    finally:
        loader.dispose()
    return documents, problems


def _nodes(loader: yaml.SafeLoader) -> Iterator[yaml.Node]:
    while loader.check_node():
        node = loader.get_node()
        if node is None:  # pragma: no cover - check_node() said there is one
            return
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL and node.value == "":
            continue  # an empty document between two `---`
        yield node
