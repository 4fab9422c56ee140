"""Indices, aliases and documents: the index, document and search APIs the ML APIs rely on.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch-shaped responses for index create
(with mappings, settings, aliases) / get / delete / exists, document create / get / delete with
optimistic concurrency (`op_type=create`, `if_seq_no`/`if_primary_term`), and `_search` /
`_count` with `match_all`, `term(s)`, `range`, `bool`, `exists`, `match`, `ids`, `prefix` and
`sort`; aliases (filtered, write index) resolve wherever an index name is taken. Each document
is one row of the `docs` collection (`<index>/<id>`, listed by index and by index + `job_id`),
so the ML results of one job are found without reading the rest of a shared index. The pure
helpers (`resolve_targets`, `search_docs`, `put_doc`, `flat_fields`, `field_types`) are what
the ML modules call. No I/O.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import re
import uuid
from typing import Any

from reconciler.sandbox import mapping
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import EsError, illegal_argument, index_not_found
from reconciler.sandbox.validation import parse_date_param, parse_int

Json = dict[str, Any]
_SHARDS = {"total": 2, "successful": 1, "failed": 0}
_INVALID_INDEX_CHARS = set('\\/*?"<>| ,#:')


class Reply:
    """A response with a non-200 status (or no body, for HEAD)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


def validate_index_name(name: str) -> None:
    """MetadataCreateIndexService.validateIndexOrAliasName rules (subset)."""
    if name != name.lower():
        raise EsError(
            400,
            "invalid_index_name_exception",
            f"Invalid index name [{name}], must be lowercase",
            extra={"index_uuid": "_na_", "index": name},
        )
    if (
        any(c in _INVALID_INDEX_CHARS for c in name)
        or name.startswith(("_", "-", "+"))
        or name in (".", "..")
    ):
        raise EsError(
            400,
            "invalid_index_name_exception",
            f"Invalid index name [{name}], must not contain the following characters "
            "[' ','\"','*',',','/','<','>','?','\\\\','|']",
            extra={"index_uuid": "_na_", "index": name},
        )


def index_exists(ctx: Ctx, name: str) -> bool:
    """Whether a concrete index or an alias exists (always, with `implicit_indices`)."""
    return (
        name in ctx.state["indices"] or name in ctx.state["aliases"] or ctx.config.implicit_indices
    )


def ensure_index(
    ctx: Ctx, name: str, mappings: Json | None = None, settings: Json | None = None
) -> Json:
    """Create an index record if needed (auto-create on first write)."""
    indices: Json = ctx.state["indices"]
    if name not in indices:
        # a uuid derived from the name and creation time: reproducible states and answers
        digest = hashlib.sha1(f"{name}@{ctx.now_ms}".encode()).digest()
        indices[name] = {
            "uuid": base64.urlsafe_b64encode(digest).decode()[:22],
            "seq_no": -1,
            "mappings": mappings or {},
            "settings": settings or {},
            "created": ctx.now_ms,
        }
    return dict(indices[name])


def doc_key(index: str, doc_id: str) -> str:
    """The `docs` row id of a document (index names cannot contain `/`)."""
    return f"{index}/{doc_id}"


def index_docs(ctx: Ctx, name: str) -> list[Json]:
    """The documents of one concrete index, in write order (as an unsorted search on one shard).

    Each is `{"_index", "_id", "_source", "_seq_no", "_primary_term", "_version"}`.
    """
    docs = ctx.state["docs"]
    found = [docs[key] for key in docs.lookup("index", name)]
    return sorted(found, key=lambda d: int(d["_seq_no"]))


def doc_count(ctx: Ctx, name: str) -> int:
    """How many documents a concrete index holds."""
    return len(ctx.state["docs"].lookup("index", name))


def job_docs(ctx: Ctx, index: str, job_id: str) -> list[Json]:
    """The documents of `index` whose `job_id` is `job_id` (store index `job`), in write order."""
    docs = ctx.state["docs"]
    found = [docs[key] for key in docs.lookup("job", f"{index}/{job_id}")]
    return sorted(found, key=lambda d: int(d["_seq_no"]))


def _drop_docs(ctx: Ctx, keys: list[str]) -> None:
    docs = ctx.state["docs"]
    for key in keys:
        del docs[key]


def delete_docs(ctx: Ctx, docs: list[Json]) -> int:
    """Delete the given documents (a delete-by-query's effect); returns how many."""
    _drop_docs(ctx, [doc_key(d["_index"], d["_id"]) for d in docs])
    return len(docs)


def drop_index(ctx: Ctx, name: str) -> None:
    """Delete a concrete index with its documents and its aliases."""
    _drop_docs(ctx, ctx.state["docs"].lookup("index", name))
    aliases = ctx.state["aliases"]
    for alias in aliases.lookup("index", name):
        remaining = {k: v for k, v in aliases[alias]["indices"].items() if k != name}
        if remaining:
            aliases[alias] = {"name": alias, "indices": remaining}
        else:
            del aliases[alias]
    del ctx.state["indices"][name]


# --- aliases ------------------------------------------------------------------------------------


def alias_indices(ctx: Ctx, name: str) -> Json | None:
    """`{index: alias properties}` of an alias, or None when `name` is no alias."""
    alias = ctx.state["aliases"].get(name)
    return None if alias is None else dict(alias["indices"])


def index_aliases(ctx: Ctx, index: str) -> Json:
    """`{alias: properties}` of one concrete index, as `GET <index>` shows them."""
    aliases = ctx.state["aliases"]
    return {a: aliases[a]["indices"][index] for a in aliases.lookup("index", index)}


def put_alias(ctx: Ctx, index: str, alias: str, props: Json) -> None:
    """Point `alias` at `index` with the given properties (`filter`, `is_write_index`, ...)."""
    validate_index_name(alias)
    if alias in ctx.state["indices"]:
        # MetadataIndexAliasesService: an alias cannot take the name of an index
        raise EsError(
            400,
            "invalid_alias_name_exception",
            f"Invalid alias name [{alias}]: an index or data stream exists with the same name "
            "as the alias",
        )
    aliases = ctx.state["aliases"]
    current: Json = dict(aliases[alias]["indices"]) if alias in aliases else {}
    current[index] = {k: v for k, v in props.items() if v is not None}
    writers = [i for i, p in current.items() if p.get("is_write_index")]
    if len(writers) > 1:
        raise illegal_argument(
            f"alias [{alias}] has more than one write index [{','.join(sorted(writers))}]"
        )
    aliases[alias] = {"name": alias, "indices": current}


def remove_alias(ctx: Ctx, index: str, alias: str) -> bool:
    """Remove `alias` from `index`; False when it did not point there."""
    aliases = ctx.state["aliases"]
    if alias not in aliases or index not in aliases[alias]["indices"]:
        return False
    remaining = {k: v for k, v in aliases[alias]["indices"].items() if k != index}
    if remaining:
        aliases[alias] = {"name": alias, "indices": remaining}
    else:
        del aliases[alias]
    return True


def write_index(ctx: Ctx, name: str) -> str:
    """The concrete index a write to `name` goes to (an index, or an alias's write index).

    IndexAbstraction.getWriteIndex: an alias with one index writes there; with several, the
    one marked `is_write_index`, else the write is refused.
    """
    targets = alias_indices(ctx, name)
    if targets is None:
        return name
    writers = [i for i, p in targets.items() if p.get("is_write_index")]
    if (
        not writers
        and len(targets) == 1
        and next(iter(targets.values())).get("is_write_index") is not False
    ):
        writers = list(targets)
    if len(writers) != 1:
        raise illegal_argument(
            f"no write index is defined for alias [{name}]. The write index may be explicitly "
            "disabled using is_write_index=false or the alias points to multiple indices "
            "without one being designated as a write index"
        )
    return writers[0]


def _visible(name: str, hidden: bool) -> bool:
    """Whether `*` and `_all` expand to it: neither dot-prefixed nor hidden (ES 8 defaults)."""
    return not name.startswith(".") and not hidden


def resolve_targets(
    ctx: Ctx, expression: str | list[str], *, allow_missing: bool = False
) -> dict[str, list[Json] | None]:
    """Concrete indices of an expression, each with the alias filters that apply to it.

    `{index: None}` when the index is reached unfiltered (directly, or through an alias
    without a filter); otherwise the list of alias filters, any of which selects a document
    (IndexNameExpressionResolver.filteringAliases). Tokens: comma lists, wildcards over
    indices and aliases, `_all`, aliases, `-` exclusions are not supported.
    """
    tokens = expression if isinstance(expression, list) else expression.split(",")
    out: dict[str, list[Json] | None] = {}

    def add(index: str, query: Json | None) -> None:
        if index in out and out[index] is None:
            return
        if query is None:
            out[index] = None
        else:
            existing = out.get(index) or []
            out[index] = [*existing, query]

    def add_alias(alias: str) -> None:
        for index, props in (alias_indices(ctx, alias) or {}).items():
            add(index, props.get("filter"))

    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if token in ("_all", "*") or "*" in token:
            pattern = "*" if token == "_all" else token
            explicit_dot = pattern.startswith(".")
            for name, record in ctx.state["indices"].items():
                hidden = bool((record.get("settings") or {}).get("index", {}).get("hidden"))
                if fnmatch.fnmatchcase(name, pattern) and (explicit_dot or _visible(name, hidden)):
                    add(name, None)
            aliases = ctx.state["aliases"]
            # hidden and dot aliases (every ML job has two) are read only for a dot pattern
            names = list(aliases) if explicit_dot else aliases.lookup("visible", "yes")
            for alias in names:
                hidden = any(p.get("is_hidden") for p in aliases[alias]["indices"].values())
                if fnmatch.fnmatchcase(alias, pattern) and (
                    explicit_dot or _visible(alias, hidden)
                ):
                    add_alias(alias)
        elif token in ctx.state["indices"]:
            add(token, None)
        elif token in ctx.state["aliases"]:
            add_alias(token)
        elif not ctx.config.implicit_indices and not allow_missing:
            raise index_not_found(token)
    return dict(sorted(out.items()))


def resolve_indices(
    ctx: Ctx, expression: str | list[str], *, allow_missing: bool = False
) -> list[str]:
    """Concrete index names of an expression (comma list, wildcards, `_all`, aliases)."""
    return list(resolve_targets(ctx, expression, allow_missing=allow_missing))


def create_index(ctx: Ctx, req: Request) -> Any:
    """PUT /{index} with optional `mappings`, `settings` and `aliases`."""
    name = req.path_params["index"]
    validate_index_name(name)
    if name in ctx.state["indices"]:
        existing = ctx.state["indices"][name]
        raise EsError(
            400,
            "resource_already_exists_exception",
            f"index [{name}/{existing['uuid']}] already exists",
            extra={"index_uuid": existing["uuid"], "index": name},
        )
    if name in ctx.state["aliases"]:
        raise EsError(
            400,
            "invalid_index_name_exception",
            f"Invalid index name [{name}], already exists as alias",
            extra={"index_uuid": "_na_", "index": name},
        )
    body = req.obj()
    mappings = mapping.parse_mappings(body.get("mappings") or {})
    ensure_index(ctx, name, mappings, _index_settings(body.get("settings") or {}))
    for alias, props in (body.get("aliases") or {}).items():
        put_alias(ctx, name, alias, dict(props or {}))
    return {"acknowledged": True, "shards_acknowledged": True, "index": name}


def _index_settings(settings: Json) -> Json:
    """Settings in their nested form (`index.hidden: true` → `{"index": {"hidden": true}}`)."""
    out: Json = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            for sub, inner in _index_settings(value).get("index", {}).items():
                out.setdefault("index", {})[sub] = inner
            if key != "index":
                for sub, inner in value.items():
                    out.setdefault("index", {})[f"{key}.{sub}"] = inner
            continue
        out.setdefault("index", {})[key.removeprefix("index.")] = value
    return out


def head_index(ctx: Ctx, req: Request) -> Any:
    """HEAD /{index} (an alias counts as existing, as in IndicesExistsAction)."""
    names = req.path_params["index"]
    ok = all(n in ctx.state["indices"] or n in ctx.state["aliases"] for n in names.split(","))
    return Reply(200 if ok else 404, None)


def settings_view(name: str, index: Json) -> Json:
    """An index's settings as GET /{index} and GET /{index}/_settings show them (strings)."""
    extra = {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in (index.get("settings") or {}).get("index", {}).items()
    }
    return {
        "index": {
            "number_of_shards": "1",
            "number_of_replicas": "1",
            **extra,
            "uuid": index["uuid"],
            "provided_name": name,
            "creation_date": str(index["created"]),
        }
    }


def get_index(ctx: Ctx, req: Request) -> Any:
    """GET /{index}."""
    out: Json = {}
    for name in resolve_indices(ctx, req.path_params["index"]):
        index = ctx.state["indices"][name]
        out[name] = {
            "aliases": index_aliases(ctx, name),
            "mappings": index["mappings"],
            "settings": settings_view(name, index),
        }
    return out


def delete_index(ctx: Ctx, req: Request) -> Any:
    """DELETE /{index} (by concrete name or wildcard; an alias name is refused, as in ES 8)."""
    expression = req.path_params["index"]
    for token in expression.split(","):
        if token in ctx.state["aliases"] and token not in ctx.state["indices"]:
            raise illegal_argument(
                f"The provided expression [{token}] matches an alias, specify the corresponding "
                "concrete indices instead."
            )
    for name in resolve_indices(ctx, expression):
        drop_index(ctx, name)
    return {"acknowledged": True}


def refresh_index(ctx: Ctx, req: Request) -> Any:
    """POST /{index}/_refresh (documents are visible immediately; accepted for clients)."""
    if "index" in req.path_params:
        resolve_indices(ctx, req.path_params["index"])
    return {"_shards": _SHARDS}


def _version_conflict(index: str, uuid_: str, reason: str) -> EsError:
    return EsError(
        409,
        "version_conflict_engine_exception",
        reason,
        extra={"index_uuid": uuid_, "shard": "0", "index": index},
    )


def put_doc(
    ctx: Ctx,
    target: str,
    doc_id: str | None,
    source: Any,
    *,
    op_type: str = "index",
    params: dict[str, str] | None = None,
) -> Reply:
    """Index one document into an index or through an alias (the index and bulk APIs' core).

    Creates the index on first write, applies dynamic mapping (mapping.py) and optimistic
    concurrency (`if_seq_no` / `if_primary_term` in `params`).
    """
    validate_index_name(target)
    if not isinstance(source, dict):
        raise EsError(400, "parse_exception", "request body is required")
    if op_type not in ("create", "index"):
        raise EsError(
            400,
            "illegal_argument_exception",
            f"opType must be 'create' or 'index', found: [{op_type}]",
        )
    name = write_index(ctx, target)
    doc_id = doc_id or uuid.uuid4().hex[:20]
    index = ensure_index(ctx, name)
    docs = ctx.state["docs"]
    key = doc_key(name, doc_id)
    current = docs.get(key)
    if op_type == "create" and current is not None:
        raise _version_conflict(
            name,
            index["uuid"],
            f"[{doc_id}]: version conflict, document already exists (current version "
            f"[{current['_version']}])",
        )
    _check_seq_no(params or {}, name, index["uuid"], doc_id, current)
    mappings = mapping.apply_dynamic(index["mappings"], source, doc_id)
    record = ctx.state["indices"][name]
    if mappings != index["mappings"]:
        record["mappings"] = mappings
    seq = int(record["seq_no"]) + 1
    record["seq_no"] = seq
    version = 1 if current is None else int(current["_version"]) + 1
    docs[key] = {
        "_index": name,
        "_id": doc_id,
        "_source": source,
        "_seq_no": seq,
        "_primary_term": 1,
        "_version": version,
    }
    out = {
        "_index": name,
        "_id": doc_id,
        "_version": version,
        "result": "created" if current is None else "updated",
        "_shards": _SHARDS,
        "_seq_no": seq,
        "_primary_term": 1,
    }
    return Reply(201 if current is None else 200, out)


def write_doc(ctx: Ctx, req: Request) -> Any:
    """PUT|POST /{index}/_doc[/{id}], PUT|POST /{index}/_create/{id}."""
    op_type = (
        "create" if req.path.split("/")[2:3] == ["_create"] else req.params.get("op_type", "index")
    )
    return put_doc(
        ctx,
        req.path_params["index"],
        req.path_params.get("id"),
        req.body,
        op_type=op_type,
        params=req.params,
    )


def _check_seq_no(
    params: dict[str, str], name: str, uuid_: str, doc_id: str, current: Json | None
) -> None:
    seq = params.get("if_seq_no")
    term = params.get("if_primary_term")
    if seq is None and term is None:
        return
    if seq is None or term is None:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: ifSeqNo is set, but primary term is [0];",
        )
    if current is None:
        raise _version_conflict(
            name,
            uuid_,
            f"[{doc_id}]: version conflict, required seqNo [{seq}], primary term [{term}]. "
            "but no document was found",
        )
    if int(str(seq)) != current["_seq_no"] or int(str(term)) != current["_primary_term"]:
        raise _version_conflict(
            name,
            uuid_,
            f"[{doc_id}]: version conflict, required seqNo [{seq}], primary term [{term}]. "
            f"current document has seqNo [{current['_seq_no']}] and primary term "
            f"[{current['_primary_term']}]",
        )


def _read_index(ctx: Ctx, target: str) -> str:
    """The index a GET/DELETE by id reads: an index, or an alias to exactly one index."""
    targets = alias_indices(ctx, target)
    if targets is None:
        if target not in ctx.state["indices"]:
            raise index_not_found(target)
        return target
    if len(targets) != 1:
        raise illegal_argument(
            f"alias [{target}] has more than one index associated with it "
            f"[{', '.join(sorted(targets))}], can't execute a single index op"
        )
    return next(iter(targets))


def get_doc(ctx: Ctx, req: Request) -> Any:
    """GET /{index}/_doc/{id}."""
    name = _read_index(ctx, req.path_params["index"])
    doc_id = req.path_params["id"]
    doc = ctx.state["docs"].get(doc_key(name, doc_id))
    if doc is None:
        return Reply(404, {"_index": name, "_id": doc_id, "found": False})
    return {
        "_index": name,
        "_id": doc_id,
        "_version": doc["_version"],
        "_seq_no": doc["_seq_no"],
        "_primary_term": doc["_primary_term"],
        "found": True,
        "_source": doc["_source"],
    }


def delete_doc(ctx: Ctx, req: Request) -> Any:
    """DELETE /{index}/_doc/{id} with optional if_seq_no/if_primary_term."""
    name = write_index(ctx, req.path_params["index"])
    doc_id = req.path_params["id"]
    if name not in ctx.state["indices"]:
        raise index_not_found(name)
    index = ctx.state["indices"][name]
    key = doc_key(name, doc_id)
    current = ctx.state["docs"].get(key)
    _check_seq_no(req.params, name, index["uuid"], doc_id, current)
    seq = int(index["seq_no"]) + 1
    index["seq_no"] = seq
    if current is None:
        return Reply(
            404,
            {
                "_index": name,
                "_id": doc_id,
                "_version": 1,
                "result": "not_found",
                "_shards": _SHARDS,
                "_seq_no": seq,
                "_primary_term": 1,
            },
        )
    del ctx.state["docs"][key]
    return {
        "_index": name,
        "_id": doc_id,
        "_version": int(current["_version"]) + 1,
        "result": "deleted",
        "_shards": _SHARDS,
        "_seq_no": seq,
        "_primary_term": 1,
    }


# --- search -------------------------------------------------------------------------------------


def field_value(source: Any, path: str) -> Any:
    """Dotted field access into a source document."""
    if isinstance(source, dict) and path in source:
        return source[path]
    head, _, rest = path.partition(".")
    if rest and isinstance(source, dict) and head in source:
        return field_value(source[head], rest)
    return None


def _compare_value(value: Any) -> Any:
    if isinstance(value, str):
        now_match = re.fullmatch(r"now(?:-(\d+)([smhd]))?", value)
        if now_match:
            import time

            amount = int(now_match.group(1) or 0)
            unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(now_match.group(2) or "s", 1)
            return int((time.time() - amount * unit) * 1000)
        try:
            return parse_date_param(value, "range")
        except EsError:
            return value
    return value


def matches(query: Json, source: Json, doc_id: str | None = None) -> bool:
    """Evaluate the supported query DSL subset against one document (`ids` needs `doc_id`)."""
    if not query:
        return True
    kind, spec = next(iter(query.items()))
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "bool":

        def as_list(v: Any) -> list[Json]:
            return v if isinstance(v, list) else [v]

        must = as_list(spec.get("must", [])) + as_list(spec.get("filter", []))
        if not all(matches(q, source, doc_id) for q in must):
            return False
        if any(matches(q, source, doc_id) for q in as_list(spec.get("must_not", []))):
            return False
        should = as_list(spec.get("should", []))
        minimum = spec.get("minimum_should_match", 0 if must else 1)
        return not should or sum(matches(q, source, doc_id) for q in should) >= int(minimum)
    if kind in ("term", "match", "match_phrase"):
        field, value = next(iter(spec.items()))
        if isinstance(value, dict):
            value = value.get("value", value.get("query"))
        actual = field_value(source, field.removesuffix(".keyword"))
        if isinstance(actual, list):
            return value in actual
        return bool(actual == value or (isinstance(actual, str) and str(value) == actual))
    if kind == "terms":
        field, values = next((k, v) for k, v in spec.items() if k != "boost")
        actual = field_value(source, field.removesuffix(".keyword"))
        return actual in values
    if kind == "exists":
        return field_value(source, spec["field"]) is not None
    if kind == "ids":
        return doc_id is not None and doc_id in [str(v) for v in spec.get("values", [])]
    if kind == "prefix":
        field, value = next(iter(spec.items()))
        if isinstance(value, dict):
            value = value.get("value")
        actual = doc_id if field == "_id" else field_value(source, field.removesuffix(".keyword"))
        return isinstance(actual, str) and actual.startswith(str(value))
    if kind == "range":
        field, bounds = next(iter(spec.items()))
        actual = field_value(source, field)
        if actual is None:
            return False
        actual = _compare_value(actual)
        for op, bound in bounds.items():
            if op not in ("gt", "gte", "lt", "lte"):
                continue
            b = _compare_value(bound)
            try:
                ok = {"gt": actual > b, "gte": actual >= b, "lt": actual < b, "lte": actual <= b}[
                    op
                ]
            except TypeError:
                return False
            if not ok:
                return False
        return True
    raise EsError(400, "parsing_exception", f"unknown query [{kind}]", extra={"line": 1, "col": 1})


def search_docs(ctx: Ctx, indices: str | list[str], query: Json | None) -> list[Json]:
    """Documents of the given indices or aliases that match `query` (and any alias filter).

    In index then write order; each hit is the stored document (`_index`, `_id`, `_source`, ...).
    """
    out: list[Json] = []
    for name, filters in resolve_targets(ctx, indices, allow_missing=True).items():
        if name not in ctx.state["indices"]:
            continue
        for doc in index_docs(ctx, name):
            if filters is not None and not any(
                matches(f, doc["_source"], doc["_id"]) for f in filters
            ):
                continue
            if matches(query or {"match_all": {}}, doc["_source"], doc["_id"]):
                out.append(dict(doc))
    return out


def _sort_specs(sort: Any) -> list[tuple[str, bool]]:
    specs: list[tuple[str, bool]] = []
    for item in sort if isinstance(sort, list) else [sort]:
        if isinstance(item, str):
            field, _, order = item.partition(":")
            specs.append((field, (order or ("desc" if field == "_score" else "asc")) == "desc"))
        elif isinstance(item, dict):
            for field, spec in item.items():
                order = spec.get("order", "asc") if isinstance(spec, dict) else spec
                specs.append((field, order == "desc"))
    return specs


def _sort_key(field: str) -> Any:
    def key(hit: Json) -> Any:
        return field_value(hit["_source"], field)

    return key


def search(ctx: Ctx, req: Request) -> Any:
    """GET|POST [/{index}]/_search."""
    body = req.obj()
    expression = req.path_params.get("index", "_all")
    names = resolve_indices(ctx, expression)
    query = body.get("query") or {"match_all": {}}
    hits = search_docs(ctx, expression, query)
    size = parse_int(req.params.get("size", body.get("size", 10)), "size")
    start = parse_int(req.params.get("from", body.get("from", 0)), "from")
    sort = body.get("sort") or req.params.get("sort")
    specs = _sort_specs(sort) if sort else []
    for field, desc in reversed(specs):
        if field == "_score":
            continue
        present = [h for h in hits if field_value(h["_source"], field) is not None]
        absent = [h for h in hits if field_value(h["_source"], field) is None]
        present.sort(key=_sort_key(field), reverse=desc)
        hits = present + absent  # missing values sort last, as `missing: _last`
    narrow = [n for n in names if start + size > max_result_window(ctx, n)]
    failures: list[Json] = []
    if narrow:
        failures = [_window_failure(ctx, n, start + size) for n in narrow]
        if len(narrow) == len(names):
            raise _all_shards_failed(failures)
        hits = [h for h in hits if h["_index"] not in narrow]
    total = len(hits)
    page = hits[start : start + size]
    rendered = []
    for hit in page:
        item: Json = {
            "_index": hit["_index"],
            "_id": hit["_id"],
            "_score": None if specs else 1.0,
            "_source": copy.deepcopy(hit["_source"]),
        }
        if specs:
            item["sort"] = [field_value(hit["_source"], f) for f, _ in specs]
        rendered.append(item)
    return {
        "took": 1,
        "timed_out": False,
        "_shards": {
            "total": max(len(names), 1),
            "successful": max(len(names), 1) - len(narrow),
            "skipped": 0,
            "failed": len(narrow),
            **({"failures": failures} if narrow else {}),
        },
        "hits": {
            **_total_hits(total, req.value("track_total_hits")),
            "max_score": None if specs or not hits else 1.0,
            "hits": rendered,
        },
    }


#: `index.max_result_window`'s default (IndexSettings.MAX_RESULT_WINDOW_SETTING).
MAX_RESULT_WINDOW = 10_000
#: Hits counted exactly unless `track_total_hits` says otherwise
#: (SearchContext.DEFAULT_TRACK_TOTAL_HITS_UP_TO).
TRACK_TOTAL_HITS_UP_TO = 10_000


def max_result_window(ctx: Ctx, name: str) -> int:
    """The index's `index.max_result_window` (from + size a search of it may reach)."""
    record = ctx.state["indices"].get(name) or {}
    value = (record.get("settings") or {}).get("index", {}).get("max_result_window")
    return MAX_RESULT_WINDOW if value is None else int(value)


def _window_reason(window: int, asked: int) -> str:
    # DefaultSearchContext.preProcess, checked on every shard of the index.
    return (
        f"Result window is too large, from + size must be less than or equal to: [{window}] "
        f"but was [{asked}]. See the scroll api for a more efficient way to request large data "
        "sets. This limit can be set by changing the [index.max_result_window] index level "
        "setting."
    )


def _window_failure(ctx: Ctx, name: str, asked: int) -> Json:
    """One shard's failure in a search answer (ShardSearchFailure)."""
    reason = _window_reason(max_result_window(ctx, name), asked)
    return {
        "shard": 0,
        "index": name,
        "node": "sandbox-node-0",
        "reason": {"type": "illegal_argument_exception", "reason": reason},
    }


def _all_shards_failed(failures: list[Json]) -> EsError:
    """400 `search_phase_execution_exception` over the shards' errors.

    SearchPhaseExecutionException: the status of the shards' cause, its root causes theirs.
    """
    causes = [f["reason"] for f in failures]
    return EsError(
        400,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": "query", "grouped": True, "failed_shards": failures[:1]},
        caused_by=dict(causes[0]),
        root_cause=causes[:1],
    )


def _total_hits(total: int, track: Any) -> Json:
    """`hits.total` as `track_total_hits` asks (SearchSourceBuilder).

    Counted up to 10 000 by default, exactly with `true`, up to N with an integer, left out with
    `false` or -1.
    """
    if track is None:
        limit: int | None = TRACK_TOTAL_HITS_UP_TO
    elif isinstance(track, bool) or str(track).lower() in ("true", "false"):
        if str(track).lower() == "false":
            return {}
        limit = None
    else:
        limit = parse_int(track, "track_total_hits")
        if limit == -1:  # SearchContext.TRACK_TOTAL_HITS_DISABLED
            return {}
        if limit < 0:
            raise illegal_argument(
                f"[track_total_hits] parameter must be positive or equals to -1, got {limit}"
            )
    if limit is not None and total > limit:
        return {"total": {"value": limit, "relation": "gte"}}
    return {"total": {"value": total, "relation": "eq"}}


def count(ctx: Ctx, req: Request) -> Any:
    """GET|POST [/{index}]/_count."""
    body = req.obj()
    expression = req.path_params.get("index", "_all")
    names = resolve_indices(ctx, expression)
    total = len(search_docs(ctx, expression, body.get("query")))
    return {
        "count": total,
        "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0},
    }


def flat_fields(ctx: Ctx, indices: str | list[str]) -> dict[str, str]:
    """Leaf field path → mapping type over concrete indices or aliases (pure, no I/O).

    Multi-fields appear as `field.sub`; object fields are left out (they hold no values).
    Where indices disagree the first index in name order wins; `field_types` has every type.
    """
    out: dict[str, str] = {}
    for field, types in field_types(ctx, indices).items():
        leaf = [t for t in types if t not in ("object", "nested")]
        if leaf:
            out[field] = leaf[0]
    return out


def field_types(ctx: Ctx, indices: str | list[str]) -> dict[str, dict[str, list[str]]]:
    """Field path → mapping type → the concrete indices mapping it so (what `_field_caps` needs).

    Object and nested fields are listed with type `object` / `nested`; multi-fields as
    `field.sub`. Missing indices are skipped (the caller decides about `ignore_unavailable`).
    """
    out: dict[str, dict[str, list[str]]] = {}
    for name in resolve_indices(ctx, indices, allow_missing=True):
        if name not in ctx.state["indices"]:
            continue
        for field, kind in mapping.flatten(ctx.state["indices"][name]["mappings"]).items():
            out.setdefault(field, {}).setdefault(kind, []).append(name)
    return dict(sorted(out.items()))


def write_dfa_results(ctx: Ctx, config: Json) -> None:
    """Copy source docs into the DFA destination with a results object (after analysis)."""
    dest = config["dest"]["index"]
    field = config["dest"].get("results_field", "ml")
    analysis_type, analysis = next(iter(config["analysis"].items()))
    taken = {d["_id"] for d in index_docs(ctx, dest)}
    for i, doc in enumerate(
        search_docs(ctx, config["source"]["index"], config["source"].get("query"))
    ):
        source = copy.deepcopy(doc["_source"])
        if analysis_type == "outlier_detection":
            result: Json = {"outlier_score": 0.0}
        else:
            dep = analysis["dependent_variable"]
            prediction = analysis.get("prediction_field_name", f"{dep}_prediction")
            result = {prediction: field_value(source, dep), "is_training": True}
            if analysis_type == "classification":
                result[f"{prediction}_probability"] = 1.0
                result["prediction_score"] = 1.0
        source[field] = result
        doc_id = doc["_id"] if doc["_id"] not in taken else f"{doc['_id']}-{i}"
        taken.add(doc_id)
        try:
            put_doc(ctx, dest, doc_id, source)
        except EsError:
            # a document the destination's mappings refuse is skipped (this runs while settling
            # transitions, where an error would fail an unrelated request)
            continue
