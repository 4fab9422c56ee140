"""Generate the endpoint table and the namespace methods from Elastic's API specification.

Input: reconciler/client/spec/es-ml-openapi-serverless.json (the ML part of the OpenAPI document
elastic/elasticsearch-specification publishes) and `spec.supplement` (endpoints and parameters
that document lacks). Output: the source text of `reconciler/client/endpoints.py` (the table)
and `reconciler/client/namespaces.py` (typed methods for editors, each one line that hands
its arguments to the table). I/O: reads the spec; `main` writes (or `--check`s) the modules.

Run `python -m reconciler.client._generate` after changing the spec or the supplement; a test
fails when the committed modules are stale.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.client.spec.supplement import EXTRA, SUPPLEMENT

HERE = Path(__file__).parent
SPEC = HERE / "spec" / "es-ml-openapi-serverless.json"
OUTPUTS = {"endpoints.py": HERE / "endpoints.py", "namespaces.py": HERE / "namespaces.py"}

#: Method preference when a path takes several: a body goes with the first of these it allows.
_METHOD_ORDER = ("PUT", "POST", "GET", "DELETE", "HEAD")
#: Named schemas with a fixed meaning, as annotation text (aliases live in `namespace_base`).
_NAMED = {
    "_types.Id": "str",
    "_types.Ids": "Ids",
    "_types.IndexName": "str",
    "_types.Indices": "Ids",
    "_types.Name": "str",
    "_types.Names": "Ids",
    "_types.Field": "str",
    "_types.Fields": "Ids",
    "_types.Duration": "Duration",
    "_types.DateTime": "DateTime",
    "_types.ExpandWildcards": "Ids",
    "_types.uint": "int",
    "_types.ulong": "int",
    "_types.integer": "int",
    "_types.long": "int",
    "_types.float": "float",
    "_types.double": "float",
    "_types.ByteSize": "str | int",
    "_types.Metadata": "Body",
}
#: The supplement's type codes.
_CODES = {
    "bool": "bool",
    "int": "int",
    "float": "float",
    "num": "int | float",
    "str": "str",
    "ids": "Ids",
    "strs": "Ids",
    "floats": "Sequence[float]",
    "time": "DateTime",
    "duration": "Duration",
    "object": "Body",
    "objects": "Sequence[Body]",
    "any": "Any",
}
COMMON = (
    ("error_trace", "bool", "Return the Java stack trace in error answers."),
    ("filter_path", "Ids", "Keep only these paths of the answer (`hits.hits._id`, ...)."),
    ("human", "bool", "Render sizes and durations for people (`1.2kb`, `5m`)."),
    ("pretty", "bool", "Indent the JSON answer."),
)


# --------------------------------------------------------------------------- reading the spec


class Spec:
    """The OpenAPI document with `$ref` resolution."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            section, name = node["$ref"].split("/")[-2:]
            node = self.doc["components"][section][name]
            seen += 1
        return node

    def annotation(self, schema: Any, depth: int = 0) -> str:
        """Python annotation text for a JSON schema (broad: editors hint, ES validates)."""
        if isinstance(schema, dict) and "$ref" in schema:
            name = schema["$ref"].split("/")[-1]
            if name in _NAMED:
                return _NAMED[name]
            if depth > 4:
                return "Any"
            return self.annotation(self.resolve(schema), depth + 1)
        if not isinstance(schema, dict):
            return "Any"
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return _union([self.annotation(s, depth + 1) for s in schema[key]])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0], depth + 1)
        kind = schema.get("type")
        if kind == "boolean":
            return "bool"
        if kind == "number" or kind == "integer":
            return "int" if kind == "integer" else "int | float"
        if kind == "string":
            return "str"
        if kind == "array":
            return f"Sequence[{self.annotation(schema.get('items'), depth + 1)}]"
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            return "Body"
        return "Any"


def _union(parts: Sequence[str]) -> str:
    out: list[str] = []
    for part in parts:
        for piece in part.split(" | "):
            if piece not in out:
                out.append(piece)
    if "Any" in out:
        return "Any"
    if "str" in out and "Sequence[str]" in out:
        out = ["Ids" if p == "str" else p for p in out if p != "Sequence[str]"]
    return " | ".join(out)


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    if len(sentence) > limit:
        sentence = sentence[: limit - 3].rsplit(" ", 1)[0] + "..."
    return sentence.replace("\\", "\\\\").replace('"""', "'''")


def _py(wire: str) -> str:
    name = wire.lstrip("_")
    return name + "_" if keyword.iskeyword(name) else name


def _op_name(operation_id: str) -> str:
    base = re.sub(r"-\d+$", "", operation_id)
    namespace, _, rest = base.partition("-")
    return f"{namespace}.{rest.replace('-', '_')}"


def from_openapi(spec: Spec) -> dict[str, dict[str, Any]]:
    """Endpoint dicts (the same shape as the supplement's) for every operation in the spec."""
    out: dict[str, dict[str, Any]] = {}
    for path, item in spec.doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "head"):
                continue
            name = _op_name(op["operationId"])
            entry = out.setdefault(
                name,
                {
                    "name": name,
                    "source": f"OpenAPI {re.sub(r'-[0-9]+$', '', op['operationId'])}",
                    "routes": [],
                    "summary": op.get("summary", ""),
                    "path": {},
                    "query": {},
                    "body": {},
                    "both": {},
                    "body_name": None,
                    "body_type": "object",
                    "body_format": "json",
                    "required": (),
                    "docs": {},
                },
            )
            _add_route(entry["routes"], path, method.upper())
            for raw in op.get("parameters", []):
                param = spec.resolve(raw)
                if param.get("deprecated"):
                    continue
                where = "path" if param["in"] == "path" else "query"
                entry[where][param["name"]] = spec.annotation(param.get("schema"))
                entry["docs"][param["name"]] = _first_sentence(param.get("description", ""))
            body = spec.resolve(op.get("requestBody"))
            schema = spec.resolve(
                (body or {}).get("content", {}).get("application/json", {}).get("schema")
            )
            for field, prop in (schema or {}).get("properties", {}).items():
                if isinstance(prop, dict) and prop.get("deprecated"):
                    continue
                entry["body"][field] = spec.annotation(prop)
                entry["docs"].setdefault(field, _first_sentence(prop.get("description", "")))
    for entry in out.values():
        for field in list(entry["body"]):
            if field in entry["query"]:
                entry["both"][field] = entry["query"].pop(field)
                del entry["body"][field]
    return out


def _add_route(routes: list[tuple[str, str]], path: str, method: str) -> None:
    for i, (methods, existing) in enumerate(routes):
        if existing == path:
            ordered = sorted({*methods.split(","), method}, key=_METHOD_ORDER.index)
            routes[i] = (",".join(ordered), path)
            return
    routes.append((method, path))


def _from_supplement(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry, docs={})
    for key in ("path", "query", "body", "both"):
        out[key] = {k: _CODES[v] for k, v in entry[key].items()}
    return out


def endpoints(spec: Spec) -> list[dict[str, Any]]:
    """Every endpoint, merged from the OpenAPI document and the supplement, sorted by name."""
    table = from_openapi(spec)
    for entry in SUPPLEMENT:
        if entry["name"] in table:
            raise SystemExit(f"{entry['name']} is in the spec: remove it from the supplement")
        table[entry["name"]] = _from_supplement(entry)
    for name, extra in EXTRA.items():
        for key, params in extra.items():
            for wire, code in params.items():
                table[name][key].setdefault(wire, _CODES[code])
    for entry in table.values():
        # A field named like a path parameter is that parameter (`job_id` of put_job's body).
        for key in ("query", "body", "both"):
            for wire in [w for w in entry[key] if w in entry["path"]]:
                del entry[key][wire]
        # Most specific path first, so that the builder's exact match is unambiguous.
        entry["routes"].sort(key=lambda r: -r[1].count("{"))
    return [table[k] for k in sorted(table)]


# --------------------------------------------------------------------------- rendering


HEADER = (
    '"""{doc}\n\nGENERATED by `python -m reconciler.client._generate` from {src}; '
    'do not edit.\n"""\n'
)


def _params(entry: dict[str, Any]) -> list[tuple[str, str, str, str, bool]]:
    """(python name, wire name, where, annotation, required) in signature order."""
    routes = entry["routes"]
    out: list[tuple[str, str, str, str, bool]] = []
    in_all = set.intersection(*[set(re.findall(r"{(\w+)}", p)) for _, p in routes])
    order: list[str] = []
    for _, path in sorted(routes, key=lambda r: -r[1].count("{")):
        order += [p for p in re.findall(r"{(\w+)}", path) if p not in order]
    for wire in order:
        annotation = entry["path"].get(wire, "str")
        out.append((_py(wire), wire, "path", annotation, wire in in_all))
    if entry["body_name"]:
        annotation = _CODES.get(entry["body_type"], "Any")
        out.append(
            (entry["body_name"], entry["body_name"], "whole", f"{annotation} | str | bytes", False)
        )
    rest = [(w, "query", a) for w, a in entry["query"].items()]
    rest += [(w, "body", a) for w, a in entry["body"].items()]
    rest += [(w, "both", a) for w, a in entry["both"].items()]
    for wire, where, annotation in sorted(rest, key=lambda r: _py(r[0])):
        out.append((_py(wire), wire, where, annotation, False))
    return out


def render_endpoints(table: list[dict[str, Any]]) -> str:
    """The source of `endpoints.py`."""
    lines = [
        HEADER.format(
            doc="The endpoint table: every API mlsync's client offers, from Elastic's "
            "specification.\n\nInput: none (data). Output: `ENDPOINTS`, name -> `Endpoint`. "
            "No I/O.",
            src="spec/es-ml-openapi-serverless.json and spec/supplement.py",
        ),
        "from __future__ import annotations\n",
        "from reconciler.client.endpoint import Endpoint, Param, Route\n",
        "ENDPOINTS: dict[str, Endpoint] = {",
    ]
    for entry in table:
        lines.append(f"    {entry['name']!r}: Endpoint(")
        lines.append(f"        name={entry['name']!r},")
        lines.append(f"        source={entry['source']!r},")
        lines.append(f"        summary={_first_sentence(entry['summary'])!r},")
        lines.append("        routes=(")
        for methods, path in entry["routes"]:
            methods_t = tuple(sorted(methods.split(","), key=_METHOD_ORDER.index))
            lines.append(f"            Route({path!r}, {methods_t!r}),")
        lines.append("        ),")
        lines.append("        params=(")
        for name, wire, where, annotation, required in _params(entry):
            if where == "whole":
                continue
            lines.append(
                f"            Param({name!r}, {wire!r}, {where!r}, {annotation!r}"
                + (", required=True" if required else "")
                + "),"
            )
        for name, annotation, _doc in COMMON:
            lines.append(f"            Param({name!r}, {name!r}, 'query', {annotation!r}),")
        lines.append("        ),")
        if entry["body_name"]:
            lines.append(f"        body_name={entry['body_name']!r},")
        if entry["body_format"] != "json":
            lines.append(f"        body_format={entry['body_format']!r},")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


_CLASSES = {
    "": ("RootMethods", "The top-level APIs (`client.search(...)`, `client.index(...)`, ...)."),
    "ml": ("MlNamespace", "`client.ml`: the machine learning APIs."),
    "indices": ("IndicesNamespace", "`client.indices`: the index APIs the ML flows use."),
    "license": ("LicenseNamespace", "`client.license`: the licence API."),
}


def _method_source(entry: dict[str, Any]) -> str:
    method = entry["name"].rpartition(".")[2]
    params = _params(entry)
    sig = ["        self,", "        *,"]
    docs: list[str] = []
    for name, _wire, _where, annotation, required in params:
        if required:
            sig.append(f"        {name}: {annotation},")
    for name, wire, _where, annotation, required in params:
        if not required:
            sig.append(f"        {name}: {annotation} | None = None,")
        doc = entry["docs"].get(wire, "") if _where != "whole" else "The request body."
        docs.append(f"{name}: {doc}" if doc else f"{name}: `{wire}`.")
    for name, annotation, _doc in COMMON:
        sig.append(f"        {name}: {annotation} | None = None,")
    has_body = bool(entry["body_name"] or entry["body"] or entry["both"])
    if has_body:
        sig.append("        body: Any = None,")
    routes = "; ".join(
        f"`{'|'.join(sorted(m.split(','), key=_METHOD_ORDER.index))} {p}`"
        for m, p in entry["routes"]
    )
    summary = _first_sentence(entry["summary"]) or entry["name"]
    if not summary.endswith("."):
        summary += "."
    if has_body:
        docs.append(
            f"body: another name for `{entry['body_name']}`."
            if entry["body_name"]
            else "body: the raw request body, merged with the named body fields."
        )
    body_lines = [summary, "", textwrap.fill(routes, 88, break_on_hyphens=False)]
    if docs:
        body_lines += ["", "Args:"]
        for d in docs:
            body_lines += textwrap.wrap(
                d, 88, initial_indent="    ", subsequent_indent="        ", break_on_hyphens=False
            )
    docstring = "\n".join(("        " + line) if line else "" for line in body_lines)
    return (
        f"    def {method}(\n" + "\n".join(sig) + "\n    ) -> R:\n"
        f'        """{docstring.lstrip()}\n        """\n'
        f"        return self._call({entry['name']!r}, locals())\n"
    )


def render_namespaces(table: list[dict[str, Any]]) -> str:
    """The source of `namespaces.py`."""
    out = [
        HEADER.format(
            doc="The official client's method surface (`client.ml.put_job(...)`, "
            "`client.search(...)`).\n\nInput: keyword arguments named as in the official "
            "`elasticsearch` client.\nOutput: whatever the owning client's dispatch returns (an "
            "`ApiResponse` for `MLClient`,\nan awaitable of one for `AsyncMLClient`). No I/O: "
            "every "
            "method hands `locals()` to\n`Namespace._call`, which builds the `Call` from the "
            "endpoint table; the sync and async\nclients share these classes.",
            src="the endpoint table",
        ),
        "from __future__ import annotations\n",
        "from collections.abc import Sequence\nfrom typing import Any\n",
        "from reconciler.client.namespace_base import (  # noqa: F401 - names the signatures use",
        "    Body,\n    DateTime,\n    Duration,\n    Ids,\n    Namespace,\n    R,\n)\n",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in table:
        prefix = entry["name"].rpartition(".")[0]
        groups.setdefault(prefix, []).append(entry)
    for prefix in ("ml", "indices", "license", ""):
        cls, doc = _CLASSES[prefix]
        out.append(f'\nclass {cls}(Namespace[R]):\n    """{doc}"""\n')
        for entry in groups.get(prefix, []):
            out.append(_method_source(entry))
    out.append(
        '\n__all__ = ["IndicesNamespace", "LicenseNamespace", "MlNamespace", "RootMethods"]\n'
    )
    return "\n".join(out)


def render() -> dict[str, str]:
    """The generated modules' source, by file name."""
    spec = Spec(json.loads(SPEC.read_text(encoding="utf-8")))
    table = endpoints(spec)
    return {"endpoints.py": render_endpoints(table), "namespaces.py": render_namespaces(table)}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated modules (or, with `--check`, report stale ones: exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    sources = render()
    stale = [
        name
        for name, text in sources.items()
        if not OUTPUTS[name].exists() or OUTPUTS[name].read_text(encoding="utf-8") != text
    ]
    if args.check:
        if stale:
            print(f"stale generated client modules: {', '.join(stale)}")
            return 1
        return 0
    for name in stale:
        OUTPUTS[name].write_text(sources[name], encoding="utf-8")
        print(f"wrote {OUTPUTS[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
