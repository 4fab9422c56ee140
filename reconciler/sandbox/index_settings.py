"""Index settings: `PUT /{index}/_settings` (dynamic settings only) and `GET /{index}/_settings`.

Input: the request and the store's index records. Output: `{"acknowledged": true}` or the
settings view of each index, as Elasticsearch answers them. No I/O beyond the store.

Elasticsearch (MetadataUpdateSettingsService, IndexScopedSettings) takes the body nested
(`{"index": {"max_result_window": 100000}}`) or flat, with or without the `index.` prefix;
refuses a setting it does not know, and a static one (`number_of_shards`) on an open index;
and checks each value against the setting's type and bounds. A `null` value resets the
setting to its default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox import documents
from reconciler.sandbox.context import Ctx, Request
from reconciler.sandbox.exceptions import illegal_argument, index_not_found

Json = dict[str, Any]


def _int_at_least(minimum: int) -> Callable[[str, Any], Any]:
    """A `Setting.intSetting(key, default, minimum)` parser.

    A number or a numeric string; below the minimum, Elasticsearch's bound message.
    """

    def parse(key: str, value: Any) -> Any:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value))
        except ValueError:
            raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from None
        if number < minimum:
            raise illegal_argument(
                f"Failed to parse value [{value}] for setting [{key}] must be >= {minimum}"
            )
        return number

    return parse


def _boolean(key: str, value: Any) -> Any:
    text = str(value).lower()
    if text not in ("true", "false"):
        raise illegal_argument(
            f"Failed to parse value [{value}] as only [true] or [false] are allowed."
        )
    return text == "true"


def _text(key: str, value: Any) -> Any:
    return str(value)


#: Dynamic index settings the sandbox knows (IndexSettings / IndexMetadata / MetadataIndexState).
DYNAMIC: dict[str, Callable[[str, Any], Any]] = {
    "max_result_window": _int_at_least(1),
    "number_of_replicas": _int_at_least(0),
    "refresh_interval": _text,
    "auto_expand_replicas": _text,
    "hidden": _boolean,
    "blocks.write": _boolean,
    "blocks.read_only": _boolean,
}
#: Settings fixed at creation (Property.Final or not Dynamic).
STATIC = ("number_of_shards", "codec", "routing_partition_size", "sort.field", "sort.order")


def _flat(settings: Json, prefix: str = "") -> Json:
    out: Json = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _existing(ctx: Ctx, expression: str) -> list[str]:
    """The concrete indices of the expression; a name with no index is a 404.

    Even with `implicit_indices` (which only lets datafeeds and searches see any source index
    as present): settings belong to an index that was created.
    """
    names = documents.resolve_indices(ctx, expression)
    if not names:  # UpdateSettingsRequest: allow_no_indices false, a wildcard included
        raise index_not_found(expression)
    for name in names:
        if name not in ctx.state["indices"]:
            raise index_not_found(name)
    return names


def put_settings(ctx: Ctx, req: Request) -> Any:
    """PUT /{index}/_settings."""
    names = _existing(ctx, req.path_params["index"])
    body = req.obj()
    wanted = {k.removeprefix("index."): v for k, v in _flat(body.get("settings", body)).items()}
    if not wanted:
        raise illegal_argument("no settings to update")
    for key in wanted:
        if key in STATIC:
            where = ", ".join(f"{n}/{ctx.state['indices'][n]['uuid']}" for n in names)
            raise illegal_argument(
                f"Can't update non dynamic settings [[index.{key}]] for open indices [[{where}]]"
            )
        if key not in DYNAMIC:
            raise illegal_argument(
                f"unknown setting [index.{key}] please check that any required plugins are "
                "installed, or check the breaking changes documentation for removed settings"
            )
    parsed = {
        key: None if value is None else DYNAMIC[key](f"index.{key}", value)
        for key, value in wanted.items()
    }
    for name in names:
        record = ctx.state["indices"][name]
        current = dict((record.get("settings") or {}).get("index", {}))
        for key, value in parsed.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        ctx.state["indices"][name] = {
            **record,
            "settings": {**record.get("settings", {}), "index": current},
        }
    return {"acknowledged": True}


def get_settings(ctx: Ctx, req: Request) -> Any:
    """GET /{index}/_settings."""
    names = _existing(ctx, req.path_params["index"])
    return {
        name: {"settings": documents.settings_view(name, ctx.state["indices"][name])}
        for name in names
    }


_OPTS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards", "master_timeout")
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    ("PUT", ("/{index}/_settings",), put_settings, (*_OPTS, "timeout", "preserve_existing")),
    (
        "GET",
        ("/{index}/_settings",),
        get_settings,
        (*_OPTS, "flat_settings", "include_defaults", "local"),
    ),
]
