"""The shape of one endpoint in the table, and how keyword arguments become a `Call`.

Input: an `Endpoint` from the generated table (`reconciler.client.endpoints`) and the keyword
arguments a namespace method received (named as in the official `elasticsearch` client).
Output: the `Call` to send (method, path, query string, body). No I/O; pure, so the planner
and the sync and async clients share it.

Rules, as the official client and Elasticsearch's REST layer apply them:
- Path parameters pick the path template (the one whose placeholders are exactly the path
  parameters given); a list becomes a comma-separated expression (es-ml-api.md §0.4).
- A parameter Elasticsearch accepts both in the query string and in the body is sent in the
  query string unless the call has a body anyway: Elasticsearch's ML REST handlers read the
  body *instead of* the query parameters when there is one (e.g. RestCloseJobAction,
  RestGetBucketsAction), so mixing both would lose the query ones.
- `body=` is merged with the named body fields; a key given both ways is an error, and a key
  of `body` that is only a query parameter moves to the query string (elasticsearch-py's
  `_rewrite_parameters` behaves the same way).
- An endpoint whose whole body is one value (`document=`, `operations=`, `data=`,
  `detector=`) takes `body=` as an alias for it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from reconciler.client.serializer import query_value
from reconciler.model import Call

Where = Literal["path", "query", "body", "both"]

#: Parameters every Elasticsearch REST endpoint accepts (BaseRestHandler, RestRequest).
COMMON_QUERY = ("error_trace", "filter_path", "human", "pretty")


@dataclass(frozen=True)
class Param:
    """One parameter: its Python keyword, its name on the wire and where it goes."""

    name: str
    wire: str
    where: Where
    annotation: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One path template and the HTTP methods Elasticsearch serves it with."""

    path: str
    methods: tuple[str, ...]

    @functools.cached_property
    def parts(self) -> frozenset[str]:
        """The `{placeholder}` names in the template (computed once: every call matches it)."""
        return frozenset(s[1:-1] for s in self.path.split("/") if s.startswith("{"))


@dataclass(frozen=True)
class Endpoint:
    """One API: `ml.close_job`, `search`, `indices.refresh`, ..."""

    name: str
    routes: tuple[Route, ...]
    params: tuple[Param, ...]
    summary: str = ""
    #: The parameter that is the whole body (`document`, `operations`, ...), if any.
    body_name: str | None = None
    #: `ndjson`: the body is newline-delimited JSON (`bulk`, `ml.post_data`).
    body_format: Literal["json", "ndjson"] = "json"
    #: Where the facts came from (a spec operation or a rest-api-spec file).
    source: str = ""

    @property
    def has_body(self) -> bool:
        """True when the endpoint takes a request body at all."""
        return self.body_name is not None or any(p.where in ("body", "both") for p in self.params)

    def param(self, name: str) -> Param | None:
        """The parameter with this Python keyword, if the endpoint has one."""
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, Param]:
        # Looked up for every argument of every call (a plan builds thousands).
        return {p.name: p for p in self.params}


def build_call(endpoint: Endpoint, arguments: Mapping[str, Any]) -> Call:
    """The `Call` for `endpoint` with these keyword arguments (None means "not given").

    Raises:
        ValueError: a path parameter is empty, no path template fits the path parameters
            given, or a body field is given both as a keyword and inside `body=`.
        TypeError: `body=` and the endpoint's own body parameter are both given.
    """
    given = {k: v for k, v in arguments.items() if v is not None and k != "self"}
    raw_body = given.pop("body", None)
    path_args: dict[str, Any] = {}
    query: dict[str, str] = {}
    body_fields: dict[str, Any] = {}
    dual: dict[str, Any] = {}
    whole: Any = None

    if endpoint.body_name is not None:
        if raw_body is not None and endpoint.body_name in given:
            raise TypeError(
                f"Can't use '{endpoint.body_name}' and 'body' together: 'body' is an alias "
                f"for '{endpoint.body_name}'"
            )
        whole = given.pop(endpoint.body_name, raw_body)
        raw_body = None
    elif raw_body is not None:
        if not isinstance(raw_body, Mapping):
            whole = raw_body  # a prepared body (string or bytes) is sent as it is
            raw_body = None
        else:
            raw_body = dict(raw_body)
            for key in list(raw_body):
                p = _by_wire(endpoint, key)
                if p is not None and p.name in given:
                    raise ValueError(
                        f"Received multiple values for '{p.name}', specify parameters using "
                        "either body or parameters, not both"
                    )
                if p is not None and p.where == "query":
                    given[p.name] = raw_body.pop(key)

    for name, value in given.items():
        p = endpoint.param(name)
        if p is None:
            raise TypeError(f"{endpoint.name}() got an unexpected keyword argument '{name}'")
        if p.where == "path":
            path_args[p.wire] = value
        elif p.where == "query":
            query[p.wire] = query_value(value)
        elif p.where == "body":
            body_fields[p.wire] = value
        else:
            dual[p.wire] = value

    has_body = bool(raw_body) or bool(body_fields) or whole is not None
    body: Any = None
    if has_body and whole is None:
        body = {**(raw_body or {}), **body_fields, **dual}
    else:
        body = whole
        query.update({k: query_value(v) for k, v in dual.items()})
    if raw_body is not None and not raw_body and body is None and endpoint.has_body:
        body = {}  # `body={}` was asked for explicitly: send it

    route = _route(endpoint, path_args)
    path = route.path
    for part, value in path_args.items():
        path = path.replace("{" + part + "}", _segment(part, value))
    method = _method(route, body is not None)
    return Call(method=method, path=path, params=query, body=body)


def _by_wire(endpoint: Endpoint, wire: str) -> Param | None:
    for p in endpoint.params:
        if p.wire == wire and p.where != "path":
            return p
    return None


def _route(endpoint: Endpoint, path_args: Mapping[str, Any]) -> Route:
    wanted = frozenset(path_args)
    for route in endpoint.routes:
        if route.parts == wanted:
            return route
    needed = " or ".join(
        "(" + ", ".join(sorted(r.parts)) + ")" if r.parts else "no path parameters"
        for r in endpoint.routes
    )
    raise ValueError(
        f"{endpoint.name}: no path takes the parameters ({', '.join(sorted(wanted))}); "
        f"it needs {needed}"
    )


def _segment(name: str, value: Any) -> str:
    text = query_value(value)
    if not text:
        raise ValueError(
            f"Empty value passed for a required argument '{name}': a path segment must be a "
            "non-empty string"
        )
    if text in (".", ".."):
        # Encoding leaves dot segments as they are and every HTTP stack removes them
        # (RFC 3986 §5.2.4): `/mlsync-locks/_doc/..` would be sent as `/mlsync-locks`.
        raise ValueError(
            f"'{text}' passed for the argument '{name}': a path segment must be a non-empty "
            "string other than '.' and '..'"
        )
    if _PLAIN.fullmatch(text):  # nothing to encode (ids mostly): `quote` would return it
        return text
    # `,` and `*` stay readable: multi-id expressions use them (es-ml-api.md §0.4).
    return quote(text, safe=",*")


#: What `quote(text, safe=",*")` leaves as it is: letters, digits, `_.-~` and `,*`.
_PLAIN = re.compile(r"[A-Za-z0-9_.\-~,*]+")


_BODY_METHODS = ("PUT", "POST", "DELETE")


def _method(route: Route, with_body: bool) -> str:
    if len(route.methods) == 1:
        return route.methods[0]
    if with_body:
        return next(m for m in route.methods if m in _BODY_METHODS)
    return "GET" if "GET" in route.methods else route.methods[0]


__all__ = ["COMMON_QUERY", "Endpoint", "Param", "Route", "build_call"]
