"""Update bodies: what `_update` must send for the fields that changed.

Input: one `Decision` (desired raw and canonical bodies, live body, changed fields). Output:
the JSON body of the job, datafeed, DFA or filter update. Pure, no I/O.
"""

from __future__ import annotations

from reconciler import ownership
from reconciler.model import Kind
from reconciler.plan.context import Decision
from reconciler.plan.inputs import Body

#: Values a datafeed `_update` sends when the manifest removed an optional field (§2.4).
DATAFEED_RESETS: Body = {"max_empty_searches": -1, "runtime_mappings": {}, "script_fields": {}}


def job_update_body(d: Decision, scope: str | None = None) -> Body:
    """Build the `_update` body of a job from the fields that changed (§1.6)."""
    assert d.desired is not None
    raw = d.desired.body
    canon = d.desired_canon
    body: Body = {}
    detectors: dict[int, Body] = {}
    for change in d.fields:
        top = change.path.split(".")[0].split("[")[0]
        if top == "analysis_config":
            parts = change.path.split(".")
            if parts[1].startswith("detectors["):
                index = int(parts[1][len("detectors[") : -1])
                detector = raw["analysis_config"]["detectors"][index]
                entry = detectors.setdefault(index, {"detector_index": index})
                if "detector_description" in detector:
                    entry["description"] = detector["detector_description"]
                entry["custom_rules"] = detector.get("custom_rules", [])
            elif parts[1] == "model_prune_window":
                body["model_prune_window"] = raw["analysis_config"]["model_prune_window"]
            elif parts[1] == "per_partition_categorization":
                body["per_partition_categorization"] = canon["analysis_config"][
                    "per_partition_categorization"
                ]
        elif top == "analysis_limits":
            # Missing sub-fields are reset to defaults by the server, so send both (§1.5).
            body["analysis_limits"] = canon["analysis_limits"]
        elif top == "model_plot_config":
            body["model_plot_config"] = raw.get("model_plot_config", {"enabled": False})
        elif top in ("description", "groups"):
            body[top] = raw.get(top, "" if top == "description" else [])
        elif top != "custom_settings":
            body[top] = raw.get(top, canon.get(top))
    if detectors:
        body["detectors"] = [detectors[i] for i in sorted(detectors)]
    if d.mark or any(f.path.startswith("custom_settings") for f in d.fields):
        body["custom_settings"] = settings_after(d, scope=scope)
    return body


def settings_after(
    d: Decision, record: list[str] | None = None, *, scope: str | None = None
) -> Body:
    """A job's whole `custom_settings` for an `_update` or a create (replaced whole, §1.6).

    The manifest's settings with the ownership marker; Kibana's `created_by` kept (it says
    which wizard made the job; not compared); the ownership scope when given; and the calendar
    restore record: `record` when given (empty: none), else the live one, kept until its
    re-adds are done.
    """
    live_body = d.live.body if d.live else {}
    raw = d.desired.body if d.desired else ownership.without_marker(Kind.JOB, live_body)
    settings = dict(ownership.with_marker(Kind.JOB, raw, scope)["custom_settings"])
    live_settings = live_body.get("custom_settings") or {}
    if "created_by" in live_settings and "created_by" not in settings:
        settings["created_by"] = live_settings["created_by"]
    if record is None:
        record = ownership.pending_calendars(live_body)
    if record:
        settings[ownership.RESTORE_KEY] = record
    return settings


def top_level_update(d: Decision, resets: Body | None = None) -> Body:
    """The changed top-level fields, as declared (or canonical, or reset when removed)."""
    assert d.desired is not None
    raw, canon = d.desired.body, d.desired_canon
    body: Body = {}
    for change in d.fields:
        top = change.path.split(".")[0].split("[")[0]
        if top in raw:
            body[top] = raw[top]
        elif top in canon:
            body[top] = canon[top]
        elif resets and top in resets:
            body[top] = resets[top]
        elif top == "description":
            body[top] = ""
    return body


def filter_update_body(d: Decision) -> Body:
    """A filter update: the description if it changed, items added and removed (§4.1)."""
    assert d.desired is not None
    live_items = set(d.live_canon.get("items", []))
    want_items = set(d.desired_canon.get("items", []))
    body: Body = {}
    if d.desired_canon.get("description") != d.live_canon.get("description"):
        body["description"] = d.desired.body.get("description", "")
    if want_items - live_items:
        body["add_items"] = sorted(want_items - live_items)
    if live_items - want_items:
        body["remove_items"] = sorted(live_items - want_items)
    return body
