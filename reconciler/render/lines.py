"""The body of one resource's entry in a plan: attribute and field lines, for text and Markdown.

Input: a `Change` (and the plan's steps, for plans made without full bodies). Output: a list of
`Line`s (a mark and a text). Pure, no I/O.

What a reviewer sees, after Terraform:
- a create lists every attribute, as the manifest wrote it, plus what mlsync adds (the ownership
  marker), one dotted path per line, in the manifest's order;
- an update lists the fields that differ; a set-like list (filter items, job ids, indices,
  calendar events) shows only the items added and removed, so a two-item edit of a 200-item
  filter is two lines;
- values are shown as written (`as_written`), not in the canonical form the planner compares:
  the manifest's spelling after, the cluster's answer before; calendar event times are ISO 8601
  strings (Elasticsearch answers in epoch milliseconds; the manifests write dates);
- `categorization_filters` is shown as that field, not as the analyzer mlsync derives from it
  to compare the two sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler import ownership
from reconciler.diff import dotted
from reconciler.model import Action, Change, FieldChange, Kind, Ref, Step
from reconciler.normalize import SET_LISTS


@dataclass(frozen=True)
class Line:
    """One line of a resource's body.

    `mark` is `+`, `-`, `~` (field lines), `#` (reason), `!!` (data loss) or empty (run state);
    `depth` is 1 for the items of a set-like list.
    """

    mark: str
    text: str
    depth: int = 0


#: The body keys of events, in the order the manifests write them.
_EVENT_ORDER = ("description", "start_time", "end_time")
_EVENT_TIMES = ("start_time", "end_time")
_CATEGORIZATION = "analysis_config.categorization_analyzer"
_CATEGORIZATION_FILTERS = "analysis_config.categorization_filters"


def iso_time(value: Any) -> Any:
    """Epoch milliseconds as an ISO 8601 UTC string (`2025-11-28T00:00:00Z`); others unchanged."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return value
    text = moment.isoformat(timespec="milliseconds" if value % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def readable_event(event: Any) -> Any:
    """A calendar event with ISO times and its keys in the manifests' order."""
    if not isinstance(event, dict):
        return event
    first = {
        k: iso_time(event[k]) if k in _EVENT_TIMES else event[k] for k in _EVENT_ORDER if k in event
    }
    rest = {k: event[k] for k in sorted(event) if k not in _EVENT_ORDER}
    return {**first, **rest}


_SEGMENT = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def as_written(body: dict[str, Any] | None, path: str, canonical: Any) -> Any:
    """The value at dotted `path` (`a.b[0].c`) in `body` as written, else `canonical`.

    The planner compares canonical forms (units.py and normalize.py: durations `90m`/`5400s`,
    byte sizes `1gb`/`1024mb`, casings such as `11MB`, wildcard lists, function shortcuts, ...);
    a reviewer reads the value as the manifest spells it (the `after` side) and as the cluster
    answered it (the `before` side). A path the body lacks (a server default, a field mlsync
    derives) keeps the canonical value. A key holding dots (`items.sku`) is matched whole.
    """
    if canonical is None or body is None:
        return canonical
    segments = [int(i) if i else key for i, key in _SEGMENT.findall(path)]
    value: Any = body
    position = 0
    while position < len(segments):
        segment = segments[position]
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                return canonical
            value = value[segment]
            position += 1
            continue
        if not isinstance(value, dict):
            return canonical
        # The longest run of segments that is one key ("a.b" before "a" then "b").
        for end in range(len(segments), position, -1):
            run = segments[position:end]
            if all(isinstance(part, str) for part in run) and ".".join(map(str, run)) in value:
                value = value[".".join(map(str, run))]
                position = end
                break
        else:
            return canonical
    return canonical if value is None else value


def readable(kind: Kind, path: str, value: Any) -> Any:
    """`value` in the form a manifest writes it (calendar event times as ISO strings)."""
    if kind is not Kind.CALENDAR or not path.startswith("events"):
        return value
    if isinstance(value, list):
        return [readable_event(e) for e in value]
    if path.endswith(_EVENT_TIMES):
        return iso_time(value)
    return readable_event(value)


def show(value: Any) -> str:
    """One value on one line: JSON, key order kept (the manifest's), `(unset)` for absence."""
    if value is None:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _set_paths(kind: Kind) -> frozenset[str]:
    return frozenset(dotted(p) for p in SET_LISTS[kind])


def _note(change: Change, field: FieldChange) -> str:
    if field.forces_replacement:
        return "  # forces replacement"
    if field.needs_restart and change.action is Action.RESTART_UPDATE:
        return (
            "  # requires job close/reopen"
            if change.ref.kind is Kind.JOB
            else "  # requires stop/restart"
        )
    return ""


def _item_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _list_lines(change: Change, field: FieldChange) -> list[Line]:
    """A set-like list: a header with the counts, then only the removed and added items."""
    kind = change.ref.kind
    before = field.before if isinstance(field.before, list) else []
    after = field.after if isinstance(field.after, list) else []
    after_keys = {_item_key(i) for i in after}
    before_keys = {_item_key(i) for i in before}
    removed = [i for i in before if _item_key(i) not in after_keys]
    added = [i for i in after if _item_key(i) not in before_keys]
    mark = "+" if field.before is None else "-" if field.after is None else "~"
    counts = ", ".join(
        part
        for part in (
            f"{len(removed)} removed" if removed else "",
            f"{len(added)} added" if added else "",
        )
        if part
    )
    of = f" ({len(after)} in all)" if field.before is not None and field.after is not None else ""
    lines = [Line(mark, f"{field.path}: {counts or 'reordered'}{of}{_note(change, field)}")]
    lines += [Line("-", show(readable(kind, field.path, i)), 1) for i in removed]
    lines += [Line("+", show(readable(kind, field.path, i)), 1) for i in added]
    return lines


def _lookup(body: dict[str, Any] | None, dotted_path: str) -> Any:
    value: Any = body
    for key in dotted_path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _filters_of(analyzer: Any) -> list[str] | None:
    """The `categorization_filters` an analyzer was derived from.

    Elasticsearch folds each filter into one `pattern_replace` char filter without a replacement.
    """
    if not isinstance(analyzer, dict):
        return None
    patterns = [
        f["pattern"]
        for f in analyzer.get("char_filter") or []
        if isinstance(f, dict)
        and f.get("type") == "pattern_replace"
        and "replacement" not in f
        and isinstance(f.get("pattern"), str)
    ]
    return patterns or None


def _presented(change: Change) -> list[FieldChange]:
    """The plan's field changes in the terms the user wrote.

    mlsync compares categorization by the analyzer Elasticsearch derives from
    `categorization_filters`; when the manifest wrote filters (and no analyzer of its own), the
    analyzer's differences are shown as one change of `categorization_filters`.
    """
    fields = list(change.fields)
    derived = [f for f in fields if f.path.startswith(_CATEGORIZATION)]
    if not derived or change.ref.kind is not Kind.JOB:
        return fields
    written = _lookup(change.after, "analysis_config")
    if not isinstance(written, dict) or "categorization_analyzer" in written:
        return fields
    before = _lookup(change.before, _CATEGORIZATION_FILTERS)
    if before is None:
        before = _filters_of(_lookup(change.before, _CATEGORIZATION))
    after = written.get("categorization_filters")
    if before is None and after is None:
        return fields
    merged = FieldChange(
        path=_CATEGORIZATION_FILTERS,
        before=before,
        after=after,
        forces_replacement=any(f.forces_replacement for f in derived),
        needs_restart=any(f.needs_restart for f in derived),
    )
    kept = [f for f in fields if f not in derived]
    return sorted([*kept, merged], key=lambda f: f.path)


def field_lines(change: Change) -> list[Line]:
    """One line per changed field (set-like lists: per item), values in the manifest's form."""
    kind = change.ref.kind
    sets = _set_paths(kind) | {_CATEGORIZATION_FILTERS}
    lines: list[Line] = []
    for f in _presented(change):
        if f.path in sets and (isinstance(f.before, list) or isinstance(f.after, list)):
            lines += _list_lines(change, f)
            continue
        before = readable(kind, f.path, as_written(change.before, f.path, f.before))
        after = readable(kind, f.path, as_written(change.after, f.path, f.after))
        note = _note(change, f)
        if f.before is None:
            lines.append(Line("+", f"{f.path}: {show(after)}{note}"))
        elif f.after is None:
            lines.append(Line("-", f"{f.path}: {show(before)}{note}"))
        else:
            lines.append(Line("~", f"{f.path}: {show(before)} -> {show(after)}{note}"))
    return lines


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    """Dotted leaf paths of a body: objects are walked, lists of objects indexed, others kept."""
    if isinstance(value, dict) and value:
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out += _leaves(item, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) and i for i in value):
        return [leaf for n, item in enumerate(value) for leaf in _leaves(item, f"{path}[{n}]")]
    return [(path, value)]


def steps_by_ref(steps: Sequence[Step]) -> dict[Ref, list[Step]]:
    """Each resource's steps, in plan order.

    Built once per rendering, so that each change reads its own steps instead of scanning the
    whole plan (which made rendering quadratic).
    """
    out: dict[Ref, list[Step]] = {}
    for step in steps:
        out.setdefault(step.ref, []).append(step)
    return out


def created_body(change: Change, steps: Sequence[Step]) -> dict[str, Any]:
    """The whole body a create writes: `change.after`, else what its steps send.

    `steps`: the plan's steps of this resource (`steps_by_ref`).
    """
    if change.after is not None:
        return change.after
    body: dict[str, Any] = {}
    for step in steps:
        if step.ref != change.ref or not isinstance(step.call.body, dict):
            continue
        if step.op == "create":
            body = {**step.call.body, **body}
        elif step.op == "add-events":
            body["events"] = list(body.get("events") or []) + list(
                step.call.body.get("events") or []
            )
    return body


def attribute_lines(change: Change, steps: Sequence[Step]) -> list[Line]:
    """Every attribute of a created resource, the ownership marker labelled as mlsync's."""
    kind = change.ref.kind
    metadata = ownership.METADATA_FIELD.get(kind)
    marker = f"{metadata}.{ownership.MARKER_KEY}" if metadata else None
    lines = []
    for path, value in _leaves(created_body(change, steps), ""):
        note = "  # added by mlsync: ownership marker" if path == marker else ""
        lines.append(Line("+", f"{path}: {show(readable(kind, path, value))}{note}"))
    return lines


def state_line(change: Change) -> Line | None:
    """`state: closed -> opened` when the run state changes."""
    if change.state_before == change.state_after or change.state_after is None:
        return None
    return Line("", f"state: {change.state_before or '(new)'} -> {change.state_after}")


def body_lines(change: Change, steps: Sequence[Step]) -> list[Line]:
    """Everything shown under a resource's headline, in order (`steps`: the resource's own)."""
    lines = (
        attribute_lines(change, steps) if change.action is Action.CREATE else field_lines(change)
    )
    state = state_line(change)
    if state is not None:
        lines.append(state)
    derived = [f.path for f in change.fields if f.path.startswith(_CATEGORIZATION)]
    for reason in change.reasons:
        if derived and any(f.path == _CATEGORIZATION_FILTERS for f in _presented(change)):
            for path in derived:  # the reasons name what the user wrote, as the fields do
                reason = reason.replace(path, _CATEGORIZATION_FILTERS)
            reason = reason.replace(
                ", ".join([_CATEGORIZATION_FILTERS] * len(derived)), _CATEGORIZATION_FILTERS
            )
        lines.append(Line("#", reason))
    if change.destroys:
        lines.append(Line("!!", f"DATA LOSS: {change.destroys}"))
    return lines
