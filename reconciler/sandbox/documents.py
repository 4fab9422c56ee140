"""Ordinary indices and documents: the minimal document, index and search APIs.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch-shaped responses for index create /
delete / exists, document create / get / delete with optimistic concurrency (`op_type=create`,
`if_seq_no`/`if_primary_term`), and `_search` / `_count` with `match_all`, `term(s)`, `range`,
`bool`, `exists`, `match` and `sort`. An apply lock needs exactly these; DFA sources and
destinations live here too. No I/O.
"""

from __future__ import annotations

import copy
import fnmatch
import re
import uuid
from typing import Any

from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import EsError, index_not_found
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
    """Whether a concrete index exists (always, with `implicit_indices`)."""
    return name in ctx.state["indices"] or ctx.config.implicit_indices


def ensure_index(ctx: Ctx, name: str, mappings: Json | None = None) -> Json:
    """Create an index record if needed (auto-create on first write)."""
    indices: Json = ctx.state["indices"]
    if name not in indices:
        indices[name] = {
            "uuid": uuid.uuid4().hex[:22],
            "docs": {},
            "seq_no": -1,
            "mappings": mappings or {},
            "created": ctx.now_ms,
        }
    return dict(indices[name])


def resolve_indices(
    ctx: Ctx, expression: str | list[str], *, allow_missing: bool = False
) -> list[str]:
    """Concrete index names of an expression (comma list, wildcards, `_all`)."""
    tokens = expression if isinstance(expression, list) else expression.split(",")
    names: list[str] = []
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if token in ("_all", "*"):
            names += [n for n in ctx.state["indices"] if not n.startswith(".")]
        elif "*" in token:
            names += [n for n in ctx.state["indices"] if fnmatch.fnmatchcase(n, token)]
        elif token in ctx.state["indices"]:
            names.append(token)
        elif not ctx.config.implicit_indices and not allow_missing:
            raise index_not_found(token)
    return sorted(set(names))


def create_index(ctx: Ctx, req: Request) -> Any:
    """PUT /{index}."""
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
    body = req.obj()
    ensure_index(ctx, name, body.get("mappings"))
    return {"acknowledged": True, "shards_acknowledged": True, "index": name}


def head_index(ctx: Ctx, req: Request) -> Any:
    """HEAD /{index}."""
    names = req.path_params["index"]
    ok = all(n in ctx.state["indices"] for n in names.split(","))
    return Reply(200 if ok else 404, None)


def get_index(ctx: Ctx, req: Request) -> Any:
    """GET /{index}."""
    out: Json = {}
    for name in resolve_indices(ctx, req.path_params["index"]):
        index = ctx.state["indices"][name]
        out[name] = {
            "aliases": {},
            "mappings": index["mappings"] or infer_mappings(index),
            "settings": {
                "index": {
                    "number_of_shards": "1",
                    "number_of_replicas": "1",
                    "uuid": index["uuid"],
                    "provided_name": name,
                    "creation_date": str(index["created"]),
                }
            },
        }
    return out


def delete_index(ctx: Ctx, req: Request) -> Any:
    """DELETE /{index}."""
    for name in resolve_indices(ctx, req.path_params["index"]):
        del ctx.state["indices"][name]
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


def write_doc(ctx: Ctx, req: Request) -> Any:
    """PUT|POST /{index}/_doc[/{id}], PUT|POST /{index}/_create/{id}."""
    name = req.path_params["index"]
    validate_index_name(name)
    body = req.body
    if not isinstance(body, dict):
        raise EsError(400, "parse_exception", "request body is required")
    doc_id = req.path_params.get("id") or uuid.uuid4().hex[:20]
    op_type = (
        "create" if req.path.split("/")[2:3] == ["_create"] else req.params.get("op_type", "index")
    )
    if op_type not in ("create", "index"):
        raise EsError(
            400,
            "illegal_argument_exception",
            f"opType must be 'create' or 'index', found: [{op_type}]",
        )
    index = ensure_index(ctx, name)
    docs: Json = ctx.state["indices"][name]["docs"]
    current = docs.get(doc_id)
    if op_type == "create" and current is not None:
        raise _version_conflict(
            name,
            index["uuid"],
            f"[{doc_id}]: version conflict, document already exists (current version "
            f"[{current['_version']}])",
        )
    _check_seq_no(req, name, index["uuid"], doc_id, current)
    seq = int(ctx.state["indices"][name]["seq_no"]) + 1
    ctx.state["indices"][name]["seq_no"] = seq
    version = 1 if current is None else int(current["_version"]) + 1
    docs[doc_id] = {"_source": body, "_seq_no": seq, "_primary_term": 1, "_version": version}
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


def _check_seq_no(req: Request, name: str, uuid_: str, doc_id: str, current: Json | None) -> None:
    seq = req.params.get("if_seq_no")
    term = req.params.get("if_primary_term")
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


def get_doc(ctx: Ctx, req: Request) -> Any:
    """GET /{index}/_doc/{id}."""
    name = req.path_params["index"]
    doc_id = req.path_params["id"]
    if name not in ctx.state["indices"]:
        raise index_not_found(name)
    doc = ctx.state["indices"][name]["docs"].get(doc_id)
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
    name = req.path_params["index"]
    doc_id = req.path_params["id"]
    if name not in ctx.state["indices"]:
        raise index_not_found(name)
    index = ctx.state["indices"][name]
    current = index["docs"].get(doc_id)
    _check_seq_no(req, name, index["uuid"], doc_id, current)
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
    del index["docs"][doc_id]
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


def matches(query: Json, source: Json) -> bool:
    """Evaluate the supported query DSL subset against one document."""
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
        if not all(matches(q, source) for q in must):
            return False
        if any(matches(q, source) for q in as_list(spec.get("must_not", []))):
            return False
        should = as_list(spec.get("should", []))
        minimum = spec.get("minimum_should_match", 0 if must else 1)
        return not should or sum(matches(q, source) for q in should) >= int(minimum)
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
        return False
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
    """Documents of the given indices that match `query`, in index then insertion order."""
    out: list[Json] = []
    for name in resolve_indices(ctx, indices, allow_missing=True):
        for doc_id, doc in ctx.state["indices"][name]["docs"].items():
            if matches(query or {"match_all": {}}, doc["_source"]):
                out.append({"_index": name, "_id": doc_id, **doc})
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
    hits = search_docs(ctx, names, query)
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
            "successful": max(len(names), 1),
            "skipped": 0,
            "failed": 0,
        },
        "hits": {
            "total": {"value": len(hits), "relation": "eq"},
            "max_score": None if specs or not hits else 1.0,
            "hits": rendered,
        },
    }


def count(ctx: Ctx, req: Request) -> Any:
    """GET|POST [/{index}]/_count."""
    body = req.obj()
    names = resolve_indices(ctx, req.path_params.get("index", "_all"))
    total = len(search_docs(ctx, names, body.get("query")))
    return {
        "count": total,
        "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0},
    }


def infer_mappings(index: Json) -> Json:
    """Dynamic mappings inferred from stored documents (long/float/boolean/text+keyword)."""
    props: Json = {}

    def visit(prefix: Json, source: Json) -> None:
        for key, value in source.items():
            if isinstance(value, dict):
                node = prefix.setdefault(key, {"properties": {}})
                visit(node.setdefault("properties", {}), value)
            elif key not in prefix:
                prefix[key] = _mapping_for(value)

    for doc in index["docs"].values():
        visit(props, doc["_source"])
    return {"properties": props} if props else {}


def _mapping_for(value: Any) -> Json:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    if isinstance(value, list) and value:
        return _mapping_for(value[0])
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def flat_fields(ctx: Ctx, indices: list[str]) -> dict[str, str]:
    """Field path → mapping type over indices (explicit mappings win over inferred ones)."""
    out: dict[str, str] = {}

    def walk(props: Json, prefix: str) -> None:
        for key, spec in props.items():
            path = f"{prefix}{key}"
            if "properties" in spec:
                walk(spec["properties"], path + ".")
                continue
            out.setdefault(path, spec.get("type", "object"))
            for sub, sub_spec in spec.get("fields", {}).items():
                out.setdefault(f"{path}.{sub}", sub_spec.get("type", "keyword"))

    for name in resolve_indices(ctx, indices, allow_missing=True):
        index = ctx.state["indices"][name]
        walk((index["mappings"] or {}).get("properties", {}), "")
        walk(infer_mappings(index).get("properties", {}), "")
    return out


def write_dfa_results(ctx: Ctx, config: Json) -> None:
    """Copy source docs into the DFA destination with a results object (after analysis)."""
    dest = config["dest"]["index"]
    field = config["dest"].get("results_field", "ml")
    analysis_type, analysis = next(iter(config["analysis"].items()))
    docs: Json = ctx.state["indices"][dest]["docs"]
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
        seq = int(ctx.state["indices"][dest]["seq_no"]) + 1
        ctx.state["indices"][dest]["seq_no"] = seq
        docs[doc["_id"] if doc["_id"] not in docs else f"{doc['_id']}-{i}"] = {
            "_source": source,
            "_seq_no": seq,
            "_primary_term": 1,
            "_version": 1,
        }
