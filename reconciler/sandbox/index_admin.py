"""Index aliases: `POST _aliases`, `PUT|DELETE <index>/_alias/<name>`, `GET|HEAD _alias`.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch-shaped bodies (RestIndicesAliases-
Action, RestIndexPutAliasAction, RestIndexDeleteAliasesAction, RestGetAliasesAction) and alias
changes in documents.py, where aliases resolve in search, mapping, document and index APIs.
No I/O.

`GET _alias` without names lists the aliases of the indices `*` expands to (hidden and
dot-prefixed indices only when named, as ES 8's default `expand_wildcards=open`); a named
alias that does not exist answers 404 with RestGetAliasesAction's `{"error": "alias [x]
missing", "status": 404}` body.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from reconciler.sandbox import documents
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import EsError, index_not_found

Json = dict[str, Any]
_PROPS = ("filter", "is_write_index", "is_hidden", "routing", "index_routing", "search_routing")


def _missing_aliases(names: list[str]) -> EsError:
    """AliasesNotFoundException."""
    return EsError(
        404,
        "aliases_not_found_exception",
        f"aliases [{','.join(names)}] missing",
        extra={"resource.type": "aliases", "resource.id": ",".join(names)},
    )


def _props(spec: Json) -> Json:
    out = {k: spec[k] for k in _PROPS if spec.get(k) is not None}
    if "routing" in out:
        routing = out.pop("routing")
        out.setdefault("index_routing", routing)
        out.setdefault("search_routing", routing)
    if "filter" in out:
        # the filter must be a query the sandbox can evaluate (AliasValidator parses it)
        documents.matches(out["filter"], {})
    return out


def _names(spec: Json, single: str, plural: str) -> list[str]:
    value = spec.get(plural, spec.get(single))
    if value is None:
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: [{single}] is required;",
        )
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def update_aliases(ctx: Ctx, req: Request) -> Any:
    """POST /_aliases {"actions": [{"add"|"remove"|"remove_index": {...}}]} (atomic)."""
    actions = req.obj().get("actions")
    if not isinstance(actions, list) or not actions:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: No action specified;"
        )
    for entry in actions:
        ((kind, spec),) = entry.items()
        if kind == "remove_index":
            for index in documents.resolve_indices(ctx, _names(spec, "index", "indices")):
                documents.drop_index(ctx, index)
            continue
        indices = documents.resolve_indices(ctx, _names(spec, "index", "indices"))
        aliases = _names(spec, "alias", "aliases")
        if kind == "add":
            for index in indices:
                for alias in aliases:
                    documents.put_alias(ctx, index, alias, _props(spec))
        elif kind == "remove":
            removed = [
                alias
                for index in indices
                for alias in _expand(ctx, aliases, index)
                if documents.remove_alias(ctx, index, alias)
            ]
            if not removed and spec.get("must_exist", True) is not False:
                raise _missing_aliases(aliases)
        else:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[1:{len(kind)}] [alias_action] unknown field [{kind}]",
            )
    out: Json = {"acknowledged": True}
    if ctx.version_at_least(8, 14):
        out["errors"] = False
    return out


def _expand(ctx: Ctx, patterns: list[str], index: str) -> list[str]:
    present = list(documents.index_aliases(ctx, index))
    return [a for a in present if any(fnmatch.fnmatchcase(a, p) for p in patterns)]


def put_alias(ctx: Ctx, req: Request) -> Json:
    """PUT|POST /{index}/_alias/{name} (and `_aliases`), body `filter`, `is_write_index`, ..."""
    indices = documents.resolve_indices(ctx, req.path_params["index"])
    if not indices:
        raise index_not_found(req.path_params["index"])
    for index in indices:
        documents.put_alias(ctx, index, req.path_params["name"], _props(req.obj()))
    return {"acknowledged": True}


def delete_alias(ctx: Ctx, req: Request) -> Json:
    """DELETE /{index}/_alias/{name} (names may be comma lists and wildcards)."""
    patterns = req.path_params["name"].split(",")
    removed = [
        alias
        for index in documents.resolve_indices(ctx, req.path_params["index"])
        for alias in _expand(ctx, patterns, index)
        if documents.remove_alias(ctx, index, alias)
    ]
    if not removed:
        raise _missing_aliases(patterns)
    return {"acknowledged": True}


def _listing(ctx: Ctx, req: Request) -> tuple[Json, list[str]]:
    """`{index: {"aliases": {...}}}` for the request, and the named aliases not found."""
    if "index" in req.path_params:
        indices = documents.resolve_indices(ctx, req.path_params["index"])
    else:
        indices = documents.resolve_indices(ctx, "*", allow_missing=True)
    patterns = req.path_params.get("name", "").split(",") if "name" in req.path_params else None
    if patterns is not None and "index" not in req.path_params:
        # named aliases are looked up wherever they point, hidden indices included
        indices = sorted(
            {
                i
                for alias in ctx.state["aliases"]
                if any(fnmatch.fnmatchcase(alias, p) for p in patterns)
                for i in documents.alias_indices(ctx, alias) or {}
            }
            | set(indices)
        )
    out: Json = {}
    found: set[str] = set()
    for index in indices:
        aliases = documents.index_aliases(ctx, index)
        if patterns is not None:
            aliases = {
                a: p for a, p in aliases.items() if any(fnmatch.fnmatchcase(a, q) for q in patterns)
            }
            found.update(aliases)
            if not aliases:
                continue
        out[index] = {"aliases": dict(sorted(aliases.items()))}
    missing = [p for p in (patterns or []) if "*" not in p and p != "_all" and p not in found]
    return out, missing


def get_alias(ctx: Ctx, req: Request) -> Any:
    """GET /_alias[/{name}], /{index}/_alias[/{name}] (`_aliases` too)."""
    out, missing = _listing(ctx, req)
    if missing:
        reason = (
            f"alias [{missing[0]}] missing"
            if len(missing) == 1
            else f"aliases [{','.join(missing)}] missing"
        )
        return documents.Reply(404, {"error": reason, "status": 404, **out})
    return out


def head_alias(ctx: Ctx, req: Request) -> Any:
    """HEAD /_alias/{name}, /{index}/_alias/{name}."""
    out, missing = _listing(ctx, req)
    return documents.Reply(200 if out and not missing else 404, None)


_LOCAL = ("allow_no_indices", "expand_wildcards", "ignore_unavailable", "local", "master_timeout")
_WRITE = ("master_timeout", "timeout")
#: (methods, path templates, handler, accepted query parameters), registered by routes.py.
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    ("POST", ("/_aliases",), update_aliases, _WRITE),
    (
        "PUT,POST",
        ("/{index}/_alias/{name}", "/{index}/_aliases/{name}"),
        put_alias,
        _WRITE,
    ),
    (
        "DELETE",
        ("/{index}/_alias/{name}", "/{index}/_aliases/{name}"),
        delete_alias,
        _WRITE,
    ),
    (
        "GET",
        ("/_alias", "/_alias/{name}", "/{index}/_alias", "/{index}/_alias/{name}", "/_aliases"),
        get_alias,
        _LOCAL,
    ),
    ("HEAD", ("/_alias/{name}", "/{index}/_alias/{name}"), head_alias, _LOCAL),
]
