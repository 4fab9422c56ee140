"""Field capabilities and index resolution: `_field_caps` and `_resolve/index/{name}`.

Input: a `Ctx` and a routed `Request`. Output: the Elasticsearch bodies of
`GET|POST [/{index}]/_field_caps` (TransportFieldCapabilitiesAction / FieldCapabilitiesResponse:
`{"indices": [...], "fields": {name: {type: {type, metadata_field, searchable, aggregatable,
[indices, non_searchable_indices, non_aggregatable_indices]}}}}`) and `GET /_resolve/index/{name}`
(ResolveIndexAction.Response: `{"indices": [{name, attributes}], "aliases": [], "data_streams":
[]}`). No I/O.

The field map is `documents.field_types` (each index's mappings, dynamic ones included), so these
answers agree with `_mapping`, datafeeds and DFA; aliases resolve as everywhere else. Runtime
fields in the request body are searchable and aggregatable in every index, as the runtime field
types are (RuntimeField). With `implicit_indices`, a concrete index that was never created, or a
pattern that matches no index, stands for data the user has not loaded: it exists (under the name
or pattern given), and every field named (not a pattern) is taken to be a mapped `keyword`, the
type dynamic mapping gives a string.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from reconciler.sandbox import documents
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import EsError, illegal_argument, index_not_found

Json = dict[str, Any]

#: Types that are searchable but have no doc values to aggregate on (TextFieldMapper and the
#: like); `object`/`nested` are neither (ObjectMapper).
_NOT_AGGREGATABLE = frozenset({"text", "match_only_text", "annotated_text"})
_NEITHER = frozenset({"object", "nested"})
#: The runtime field types Elasticsearch knows (RuntimeField parsers, 8.x).
_RUNTIME_TYPES = frozenset(
    {"boolean", "composite", "date", "double", "geo_point", "ip", "keyword", "long", "lookup"}
)
_INDEX_OPTIONS = ("allow_no_indices", "expand_wildcards", "ignore_unavailable")


def _tokens(expression: str) -> list[str]:
    return [t.strip() for t in expression.split(",") if t.strip()]


def _concrete(
    ctx: Ctx, expression: str, *, ignore_unavailable: bool, allow_no_indices: bool
) -> tuple[list[str], list[str]]:
    """(stored indices, implicit ones) an expression names, as IndexNameExpressionResolver does.

    A missing concrete name is a 404 unless `ignore_unavailable`; a pattern (or the whole
    expression) matching nothing is a 404 only with `allow_no_indices=false`.
    """
    stored: set[str] = set()
    implicit: set[str] = set()
    for token in _tokens(expression) or ["_all"]:
        wildcard = token in ("_all", "*") or "*" in token
        found = documents.resolve_indices(ctx, token, allow_missing=True)
        if not wildcard and not found and token not in ctx.state["indices"]:
            if ctx.config.implicit_indices:
                implicit.add(token)
                continue
            if not ignore_unavailable:
                raise index_not_found(token)
        if wildcard and not found and ctx.config.implicit_indices:
            implicit.add(token)  # the user's data that was never loaded matches it too
            continue
        if wildcard and not found and not allow_no_indices:
            raise index_not_found(token)
        stored.update(found)
    if not stored and not implicit and not allow_no_indices:
        raise index_not_found(expression)
    return sorted(stored), sorted(implicit)


def _runtime_fields(body: Json) -> dict[str, str]:
    runtime = body.get("runtime_mappings") or {}
    if not isinstance(runtime, dict):
        raise EsError(400, "x_content_parse_exception", "[runtime_mappings] must be an object")
    out: dict[str, str] = {}
    for name, spec in runtime.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind is None:
            raise EsError(
                400,
                "mapper_parsing_exception",
                f"No type specified for runtime field [{name}]",
            )
        if kind not in _RUNTIME_TYPES:
            raise EsError(
                400,
                "mapper_parsing_exception",
                f"No handler for type [{kind}] declared on runtime field [{name}]",
            )
        out[str(name)] = str(kind)
    return out


def _caps(kind: str) -> tuple[bool, bool]:
    """(searchable, aggregatable) of a mapped type."""
    if kind in _NEITHER:
        return False, False
    return True, kind not in _NOT_AGGREGATABLE


def field_caps(ctx: Ctx, req: Request) -> Json:
    """GET|POST [/{index}]/_field_caps (TransportFieldCapabilitiesAction)."""
    body = req.obj()
    raw_fields = req.value("fields")
    if isinstance(raw_fields, list):
        patterns = [str(f).strip() for f in raw_fields if str(f).strip()]
    else:
        patterns = _tokens(str(raw_fields)) if raw_fields is not None else []
    if not patterns:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: specified fields can't be null or empty;",
        )
    include_unmapped = req.flag("include_unmapped", False)
    runtime = _runtime_fields(body)
    stored, implicit = _concrete(
        ctx,
        req.path_params.get("index", "_all"),
        ignore_unavailable=req.flag("ignore_unavailable", False),
        allow_no_indices=req.flag("allow_no_indices", True),
    )
    named = [p for p in patterns if "*" not in p]

    def wanted(name: str) -> bool:
        return any(p == "*" or fnmatch.fnmatchcase(name, p) for p in patterns)

    # field -> type -> indices holding it with that type
    types: dict[str, dict[str, list[str]]] = {
        field: {kind: list(held) for kind, held in by_kind.items()}
        for field, by_kind in documents.field_types(ctx, stored).items()
        if wanted(field) and field not in runtime
    }
    for name in implicit:
        for field in named:
            if field not in runtime:
                types.setdefault(field, {}).setdefault("keyword", []).append(name)
    indices = sorted({*stored, *implicit})
    for field, kind in runtime.items():  # a runtime field shadows a mapped one everywhere
        if wanted(field) and indices:
            types[field] = {kind: list(indices)}
    out: Json = {}
    for field in sorted(types):
        entry: Json = {}
        holders = {i for held in types[field].values() for i in held}
        by_type = dict(types[field])
        missing = [i for i in indices if i not in holders]
        if include_unmapped and missing:
            by_type["unmapped"] = missing
        for kind, held in sorted(by_type.items()):
            searchable, aggregatable = _caps(kind) if kind != "unmapped" else (False, False)
            if field in runtime:
                searchable = aggregatable = True
            caps: Json = {
                "type": kind,
                "metadata_field": False,
                "searchable": searchable,
                "aggregatable": aggregatable,
            }
            # `indices` is only listed when the field does not have one type everywhere.
            if len(by_type) > 1:
                caps["indices"] = sorted(held)
            entry[kind] = caps
        out[field] = entry
    if include_unmapped:
        for pattern in named:
            if pattern not in out and indices:
                out[pattern] = {
                    "unmapped": {
                        "type": "unmapped",
                        "metadata_field": False,
                        "searchable": False,
                        "aggregatable": False,
                    }
                }
    return {"indices": indices, "fields": out}


def _wildcard_aliases(ctx: Ctx, pattern: str) -> list[str]:
    """Aliases a pattern may match: hidden and dot-prefixed ones only for a dot pattern."""
    aliases = ctx.state["aliases"]
    return list(aliases) if pattern.startswith(".") else list(aliases.lookup("visible", "yes"))


def resolve_index(ctx: Ctx, req: Request) -> Json:
    """GET /_resolve/index/{name} (TransportResolveIndexAction): what an expression names."""
    expression = req.path_params["name"]
    if not _tokens(expression):
        raise illegal_argument("name must not be empty")
    stored, implicit = _concrete(
        ctx,
        expression,
        ignore_unavailable=req.flag("ignore_unavailable", False),
        allow_no_indices=req.flag("allow_no_indices", True),
    )
    aliases = ctx.state["aliases"]
    named_aliases = sorted(
        {
            alias
            for token in _tokens(expression)
            for alias in ([token] if "*" not in token else _wildcard_aliases(ctx, token))
            if alias in aliases and fnmatch.fnmatchcase(alias, token)
        }
    )
    # An index reached only through an alias is listed under the alias, not as an index.
    through_alias = {i for a in named_aliases for i in aliases[a]["indices"]}
    direct = [
        n
        for n in stored
        if n not in through_alias or any(fnmatch.fnmatchcase(n, t) for t in _tokens(expression))
    ]

    def index_entry(name: str) -> Json:
        entry: Json = {"name": name}
        own = sorted(a for a in aliases.lookup("index", name)) if name in stored else []
        if own:
            entry["aliases"] = own
        entry["attributes"] = ["open"]
        return entry

    return {
        "indices": [index_entry(n) for n in sorted({*direct, *implicit})],
        "aliases": [{"name": a, "indices": sorted(aliases[a]["indices"])} for a in named_aliases],
        "data_streams": [],
    }


#: (methods, path templates, handler, accepted query parameters), registered by routes.py.
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    (
        "GET,POST",
        ("/_field_caps", "/{index}/_field_caps"),
        field_caps,
        (
            *_INDEX_OPTIONS,
            "fields",
            "include_unmapped",
            "filters",
            "types",
            "include_empty_fields",
        ),
    ),
    ("GET", ("/_resolve/index/{name}",), resolve_index, _INDEX_OPTIONS),
]
