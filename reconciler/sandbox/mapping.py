"""Index mappings: explicit mappings, dynamic mapping of indexed documents, and field listing.

Input: mapping bodies (`{"properties": ..., "dynamic": ..., "dynamic_templates": ...}`) and
document sources. Output: new mapping values, flat field → type maps, or `EsError`s. Pure: no
state, no I/O.

Dynamic mapping follows Elasticsearch's rules (DynamicFieldsBuilder, DocumentParser; the
"Dynamic field mapping" reference page): JSON booleans → `boolean`, integers → `long`,
fractions → `float`, objects → `properties`, arrays → the type of their first non-null
element, `null` and empty arrays → no field; strings → `date` when they parse with one of the
default `dynamic_date_formats` (`strict_date_optional_time`, `yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd
Z`) and `date_detection` is not off, a number when `numeric_detection` is on, otherwise `text`
with a `keyword` multi-field (`ignore_above: 256`). `dynamic: false` ignores new fields,
`dynamic: strict` refuses them; `dynamic_templates` with `match`, `unmatch`, `path_match`,
`path_unmatch` and `match_mapping_type` are applied first. A value that does not fit an existing
numeric, boolean or date field is refused with DocumentParser's message.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any

from reconciler.sandbox.exceptions import EsError

Json = dict[str, Any]

#: Field types the sandbox knows; others are stored and listed but not checked.
NUMERIC = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
)
_INTEGER = frozenset({"long", "integer", "short", "byte"})
_KEYWORD_SUBFIELD = {"keyword": {"type": "keyword", "ignore_above": 256}}
_SECOND_DATE_FORMAT = "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"

# strict_date_optional_time: yyyy[-MM[-dd['T'HH[:mm[:ss[.SSS]]][zone]]]] (DateFormatters)
_STRICT_DATE_OPTIONAL_TIME = re.compile(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?"
)
_SLASH_DATE = re.compile(r"\d{4}/\d{2}/\d{2}( \d{2}:\d{2}:\d{2})? [+-]\d{4}")


def _strict_date(value: str) -> bool:
    match = _STRICT_DATE_OPTIONAL_TIME.fullmatch(value)
    if match is None:
        return False
    parts = re.split(r"[-T:.,Z+]", value)
    month = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    day = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    return 1 <= month <= 12 and 1 <= day <= 31


def parse_mappings(body: Json) -> Json:
    """The mappings of `PUT <index>` as stored (`_doc` wrapper removed, objects normalised)."""
    if not isinstance(body, dict):
        raise EsError(400, "mapper_parsing_exception", "Failed to parse mapping: expected a map")
    if set(body) == {"_doc"} and isinstance(body["_doc"], dict):
        body = body["_doc"]
    out = copy.deepcopy(body)
    if "properties" in out:
        out["properties"] = _normalise(out["properties"])
    return out


def _normalise(props: Json) -> Json:
    out: Json = {}
    for name, spec in props.items():
        if not isinstance(spec, dict):
            raise EsError(
                400,
                "mapper_parsing_exception",
                f"Expected map for property [fields] on field [{name}] but got a {type(spec)}",
            )
        spec = dict(spec)
        if "properties" in spec:
            spec["properties"] = _normalise(spec["properties"])
        if "." in name:  # `a.b: {...}` is shorthand for an object `a` with a field `b`
            head, _, rest = name.partition(".")
            inner = out.setdefault(head, {"properties": {}}).setdefault("properties", {})
            inner.update(_normalise({rest: spec}))
            continue
        out[name] = spec
    return out


def merge(current: Json, update: Json) -> Json:
    """`PUT <index>/_mapping`: new fields are added, a field's type cannot change."""
    out = copy.deepcopy(current)
    update = parse_mappings(update)
    for key, value in update.items():
        if key != "properties":
            out[key] = value
    out["properties"] = _merge_props(out.get("properties") or {}, update.get("properties") or {})
    return out


def _merge_props(current: Json, update: Json, prefix: str = "") -> Json:
    out = dict(current)
    for field, spec in update.items():
        old = out.get(field)
        if old is None:
            out[field] = spec
            continue
        old_type = old.get("type", "object" if "properties" in old else None)
        new_type = spec.get("type", "object" if "properties" in spec else None)
        if old_type and new_type and old_type != new_type:
            # MapperService / FieldMapper.checkIncomingMergeType
            raise EsError(
                400,
                "illegal_argument_exception",
                f"mapper [{prefix}{field}] cannot be changed from type [{old_type}] to "
                f"[{new_type}]",
            )
        merged = {**old, **{k: v for k, v in spec.items() if k != "properties"}}
        if "properties" in spec or "properties" in old:
            merged["properties"] = _merge_props(
                old.get("properties") or {}, spec.get("properties") or {}, f"{prefix}{field}."
            )
        out[field] = merged
    return out


# --- dynamic mapping ----------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    """The `match_mapping_type` of a JSON value (DynamicTemplate.XContentFieldType)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "object"
    return "string"


def _detected(value: Any, mappings: Json) -> Json:
    """The mapping a new field gets from its first value (DynamicFieldsBuilder)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    text = str(value)
    if mappings.get("date_detection", True) is not False:
        formats = mappings.get("dynamic_date_formats")
        if formats is None:
            if _strict_date(text):
                return {"type": "date"}
            if _SLASH_DATE.fullmatch(text):
                return {"type": "date", "format": _SECOND_DATE_FORMAT}
    if mappings.get("numeric_detection") is True:
        if re.fullmatch(r"[+-]?\d+", text):
            return {"type": "long"}
        if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", text):
            return {"type": "float"}
    return {"type": "text", "fields": copy.deepcopy(_KEYWORD_SUBFIELD)}


def _template(mappings: Json, name: str, path: str, value: Any) -> Json | None:
    """The mapping of the first matching dynamic template, if any."""
    kind = _json_type(value)
    for entry in mappings.get("dynamic_templates") or []:
        ((_, spec),) = entry.items()
        wanted = spec.get("match_mapping_type")
        if kind == "object" and wanted in (None, "*"):
            continue  # objects keep their properties unless a template names `object`
        if wanted not in (None, "*") and kind not in (
            wanted if isinstance(wanted, list) else [wanted]
        ):
            continue
        checks = (
            ("match", name, True),
            ("unmatch", name, False),
            ("path_match", path, True),
            ("path_unmatch", path, False),
        )
        if any(
            key in spec and fnmatch.fnmatchcase(subject, spec[key]) != positive
            for key, subject, positive in checks
        ):
            continue
        mapped = dict(spec.get("mapping") or {})
        for key, item in list(mapped.items()):
            if isinstance(item, str):
                mapped[key] = item.replace("{name}", name).replace("{dynamic_type}", kind)
        if kind == "object" and "type" not in mapped:
            return {**mapped, "properties": {}}
        return mapped
    return None


def _first_value(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            found = _first_value(item)
            if found is not None:
                return found
        return None
    return value


def _check_value(field: str, spec: Json, value: Any, doc_id: str) -> None:
    """A value that the field's type cannot hold (DocumentParser → document_parsing_exception)."""
    kind = spec.get("type")
    ok = True
    if kind in NUMERIC:
        if isinstance(value, bool):
            ok = False
        elif isinstance(value, str):
            try:
                number = float(value)
                ok = not (kind in _INTEGER and not number.is_integer())
            except ValueError:
                ok = False
        elif isinstance(value, float) and kind in _INTEGER:
            ok = value.is_integer()
    elif kind == "boolean":
        ok = isinstance(value, bool) or value in ("true", "false", "")
    elif kind == "date" and isinstance(value, str):
        ok = bool(
            _strict_date(value)
            or _SLASH_DATE.fullmatch(value)
            or re.fullmatch(r"-?\d+", value)
            or "format" in spec
        )
    if not ok:
        preview = value if isinstance(value, str) else str(value).lower()
        raise EsError(
            400,
            "document_parsing_exception",
            f"[1:2] failed to parse field [{field}] of type [{kind}] in document with id "
            f"'{doc_id}'. Preview of field's value: '{preview}'",
        )


def apply_dynamic(mappings: Json, source: Json, doc_id: str) -> Json:
    """The index's mappings after indexing `source` (unchanged when nothing is new)."""
    out = copy.deepcopy(mappings)
    props = out.setdefault("properties", {})
    changed = _visit(out, props, source, "", out.get("dynamic", True), doc_id)
    if not changed:
        return mappings
    return out


def _visit(root: Json, props: Json, source: Json, prefix: str, dynamic: Any, doc_id: str) -> bool:
    changed = False
    for name, raw in source.items():
        path = f"{prefix}{name}"
        value = _first_value(raw)
        spec = props.get(name)
        if spec is not None:
            if value is None:
                continue
            if "properties" in spec or spec.get("type") in ("object", "nested"):
                if isinstance(value, dict):
                    sub_dynamic = spec.get("dynamic", dynamic)
                    inner = spec.setdefault("properties", {})
                    for item in raw if isinstance(raw, list) else [raw]:
                        if isinstance(item, dict):
                            changed |= _visit(root, inner, item, path + ".", sub_dynamic, doc_id)
                continue
            if spec.get("type") in ("flattened", "object") or spec.get("enabled") is False:
                continue
            for item in raw if isinstance(raw, list) else [raw]:
                if item is not None and not isinstance(item, dict):
                    _check_value(path, spec, item, doc_id)
            continue
        if value is None:
            continue
        if str(dynamic).lower() == "strict":
            parent = prefix[:-1] or "_doc"
            raise EsError(
                400,
                "strict_dynamic_mapping_exception",
                f"[1:2] mapping set to strict, dynamic introduction of [{name}] within "
                f"[{parent}] is not allowed",
            )
        if str(dynamic).lower() == "false":
            continue
        new = _template(root, name, path, value)
        if new is None:
            new = {"properties": {}} if isinstance(value, dict) else _detected(value, root)
        props[name] = new
        changed = True
        if isinstance(value, dict):
            for item in raw if isinstance(raw, list) else [raw]:
                if isinstance(item, dict):
                    _visit(
                        root, new.setdefault("properties", {}), item, path + ".", dynamic, doc_id
                    )
    return changed


# --- listing ------------------------------------------------------------------------------------


def flatten(mappings: Json) -> dict[str, str]:
    """Field path → type: leaves, multi-fields (`a.keyword`), and objects as `object`/`nested`."""
    out: dict[str, str] = {}

    def walk(props: Json, prefix: str) -> None:
        for key, spec in props.items():
            path = f"{prefix}{key}"
            if "properties" in spec or spec.get("type") in ("object", "nested"):
                out[path] = str(spec.get("type", "object"))
                walk(spec.get("properties") or {}, path + ".")
                continue
            out[path] = str(spec.get("type", "object"))
            for sub, sub_spec in (spec.get("fields") or {}).items():
                out[f"{path}.{sub}"] = str(sub_spec.get("type", "keyword"))

    walk(mappings.get("properties") or {}, "")
    return out
