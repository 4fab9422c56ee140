"""ML filters, calendars and scheduled events.

Input: a `Ctx` and a routed `Request`. Output: response bodies, state mutations or `EsError`s.
No I/O. References: es-ml-api.md §4.1, §4.2.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.sandbox.context import Ctx, Request, require_no_body_id
from reconciler.sandbox.exceptions import (
    EsError,
    already_exists,
    bad_request,
    conflict,
    illegal_argument,
    not_found,
    validation_failed,
)
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.validation import check_fields, parse_date_param, parse_int, validate_id

Json = dict[str, Any]
MAX_FILTER_ITEMS = 10_000


def missing_filter(filter_id: str) -> EsError:
    """404 for an unknown filter."""
    return not_found(f"No filter with id [{filter_id}] exists")


def missing_calendar(calendar_id: str) -> EsError:
    """404 for an unknown calendar."""
    return not_found(f"No calendar with id [{calendar_id}]")


def _page(req: Request, default_size: int) -> tuple[int, int]:
    """`from`/`size` from the query or a body `page` object (PageParams)."""
    body = req.obj() if isinstance(req.body, dict) else {}
    page = body.get("page") or {}
    start = parse_int(req.params.get("from", page.get("from", 0)), "from")
    size = parse_int(req.params.get("size", page.get("size", default_size)), "size")
    if start < 0:
        raise illegal_argument("Parameter [from] cannot be < 0")
    if size < 0:
        raise illegal_argument("Parameter [size] cannot be < 0")
    if start + size > 10_000:
        raise illegal_argument(
            "The sum of parameters [from] and [size] cannot be higher than 10000."
        )
    return start, size


def _render_filter(f: Json) -> Json:
    out: Json = {"filter_id": f["filter_id"]}
    if f.get("description") is not None:
        out["description"] = f["description"]
    out["items"] = list(f["items"])
    return out


def _items(filter_id: str, items: Any) -> list[str]:
    if not isinstance(items, list):
        raise illegal_argument("[items] must be an array")
    unique = sorted({str(i) for i in items})
    if len(unique) > MAX_FILTER_ITEMS:
        raise illegal_argument(
            f"Filter [{filter_id}] contains too many items; up to [{MAX_FILTER_ITEMS}] items "
            "are allowed"
        )
    return unique


def put_filter(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/filters/{filter_id}."""
    filter_id = validate_id(req.path_params["filter_id"], "filter_id")
    body = req.obj()
    check_fields(body, ("filter_id", "description", "items"), "filter", req.raw)
    require_no_body_id(body, "filter_id", filter_id)
    items = _items(filter_id, body.get("items", []))
    if filter_id in ctx.state["filters"]:
        raise already_exists(f"A filter with id [{filter_id}] already exists")
    stored: Json = {"filter_id": filter_id, "description": body.get("description"), "items": items}
    ctx.state["filters"][filter_id] = stored
    return _render_filter(stored)


def get_filters(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/filters[/{filter_id}] (paged, sorted by id)."""
    ids = expand_ids(req.path_params.get("filter_id"), ctx.state["filters"], missing_filter)
    start, size = _page(req, 100)
    return {
        "count": len(ids),
        "filters": [_render_filter(ctx.state["filters"][i]) for i in ids[start : start + size]],
    }


def update_filter(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/filters/{filter_id}/_update."""
    filter_id = req.path_params["filter_id"]
    current = ctx.state["filters"].get(filter_id)
    if current is None:
        raise missing_filter(filter_id)
    body = req.obj()
    check_fields(
        body, ("filter_id", "description", "add_items", "remove_items"), "filter_update", req.raw
    )
    # UpdateFilterAction.Request.parseRequest: Messages.INCONSISTENT_ID
    require_no_body_id(body, "filter_id", filter_id)
    items = set(current["items"])
    items.update(str(i) for i in body.get("add_items") or [])
    for item in body.get("remove_items") or []:
        if item not in items:
            raise bad_request(
                f"Cannot remove item [{item}] as it is not present in filter [{filter_id}]"
            )
        items.discard(item)
    updated = dict(current, items=_items(filter_id, list(items)))
    if "description" in body:
        updated["description"] = body["description"]
    ctx.state["filters"][filter_id] = updated
    return _render_filter(updated)


def delete_filter(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/filters/{filter_id}: refused while any job's rules reference it."""
    filter_id = req.path_params["filter_id"]
    if filter_id not in ctx.state["filters"]:
        raise not_found(f"Could not delete filter with ID [{filter_id}] because it does not exist")
    users = ctx.state["jobs"].lookup("filters", filter_id)
    if users:
        names = ", ".join(users)
        raise conflict(f"Cannot delete filter [{filter_id}] currently used by jobs [{names}]")
    del ctx.state["filters"][filter_id]
    return {"acknowledged": True}


def _render_calendar(cal: Json) -> Json:
    out: Json = {"calendar_id": cal["calendar_id"], "job_ids": list(cal["job_ids"])}
    if cal.get("description") is not None:
        out["description"] = cal["description"]
    return out


def put_calendar(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/calendars/{calendar_id} (no update API: existing id → 400)."""
    calendar_id = validate_id(req.path_params["calendar_id"], "calendar_id")
    body = req.obj()
    check_fields(body, ("calendar_id", "job_ids", "description"), "calendar", req.raw)
    require_no_body_id(body, "calendar_id", calendar_id)
    if calendar_id in ctx.state["calendars"]:
        raise already_exists(f"A calendar with id [{calendar_id}] already exists")
    job_ids = body.get("job_ids") or []
    if not isinstance(job_ids, list):
        job_ids = [job_ids]
    cal: Json = {
        "calendar_id": calendar_id,
        "job_ids": [str(j) for j in job_ids],
        "description": body.get("description"),
    }
    ctx.state["calendars"][calendar_id] = cal
    return _render_calendar(cal)


def get_calendars(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/calendars[/{calendar_id}]; paging only without an id."""
    calendar_id = req.path_params.get("calendar_id")
    body = req.obj() if isinstance(req.body, dict) else {}
    paged = any(k in req.params for k in ("from", "size")) or "page" in body
    if paged and calendar_id not in (None, "_all", "*"):
        raise validation_failed("Cannot set [from, size] when getting a single calendar")
    ids = expand_ids(calendar_id, ctx.state["calendars"], missing_calendar)
    start, size = _page(req, 10_000)
    return {
        "count": len(ids),
        "calendars": [
            _render_calendar(ctx.state["calendars"][i]) for i in ids[start : start + size]
        ],
    }


def delete_calendar(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/calendars/{calendar_id} (its events go too)."""
    calendar_id = req.path_params["calendar_id"]
    if calendar_id not in ctx.state["calendars"]:
        raise missing_calendar(calendar_id)
    del ctx.state["calendars"][calendar_id]
    events = ctx.state["events"]
    for event_id in events.lookup("calendar_id", calendar_id):
        del events[event_id]
    return {"acknowledged": True}


def put_calendar_jobs(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/calendars/{calendar_id}/jobs/{job_ids}."""
    calendar_id = req.path_params["calendar_id"]
    cal = ctx.state["calendars"].get(calendar_id)
    if cal is None:
        raise missing_calendar(calendar_id)
    for job_id in (j.strip() for j in req.path_params["job_ids"].split(",")):
        if job_id and job_id not in cal["job_ids"]:
            cal["job_ids"].append(job_id)
    return _render_calendar(cal)


def delete_calendar_jobs(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/calendars/{calendar_id}/jobs/{job_ids}."""
    calendar_id = req.path_params["calendar_id"]
    cal = copy.deepcopy(ctx.state["calendars"].get(calendar_id))
    if cal is None:
        raise missing_calendar(calendar_id)
    for job_id in (j.strip() for j in req.path_params["job_ids"].split(",")):
        if job_id not in cal["job_ids"]:
            raise bad_request(
                f"Cannot remove [{job_id}] as it is not present in calendar [{calendar_id}]"
            )
        cal["job_ids"].remove(job_id)
    ctx.state["calendars"][calendar_id] = cal
    return _render_calendar(cal)


def post_events(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/calendars/{calendar_id}/events."""
    calendar_id = req.path_params["calendar_id"]
    body = req.obj()
    check_fields(body, ("events",), "post_calendar_events", req.raw)
    events = body.get("events")
    if not events:
        # PostCalendarEventsAction.Request refuses it while parsing, before the transport
        # action looks the calendar up: ExceptionsHelper.badRequestException.
        raise bad_request("At least 1 event is required")
    created = []
    for event in events:
        check_fields(
            event,
            (
                "description",
                "start_time",
                "end_time",
                "calendar_id",
                "event_id",
                "skip_result",
                "skip_model_update",
                "force_time_shift",
            ),
            "scheduled_event",
            req.raw,
        )
        if event.get("calendar_id", calendar_id) != calendar_id:
            raise illegal_argument(
                f"Inconsistent calendar_id; '{event['calendar_id']}' specified in the body differs "
                f"from '{calendar_id}' specified as a URL argument"
            )
        if not event.get("description"):
            raise illegal_argument("[description] must not be null")
        for key in ("start_time", "end_time"):
            if event.get(key) is None:
                raise illegal_argument(f"[{key}] must not be null")
        start = parse_date_param(event["start_time"], "start_time")
        end = parse_date_param(event["end_time"], "end_time")
        if start >= end:
            raise illegal_argument(f"Event start time [{start}] must come before end time [{end}]")
        stored: Json = {
            "description": event["description"],
            "start_time": start,
            "end_time": end,
            "skip_result": bool(event.get("skip_result", True)),
            "skip_model_update": bool(event.get("skip_model_update", True)),
        }
        if event.get("force_time_shift") is not None:
            stored["force_time_shift"] = int(event["force_time_shift"])
        stored["calendar_id"] = calendar_id
        stored["event_id"] = f"sandbox-event-{ctx.next_counter():08d}"
        created.append(stored)
    # TransportPostCalendarEventsAction reads the calendar once the request has parsed.
    if calendar_id not in ctx.state["calendars"]:
        raise missing_calendar(calendar_id)
    for event in created:
        ctx.state["events"][event["event_id"]] = event
    return {"events": created}


def get_events(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/calendars/{calendar_id}/events (sorted by start_time)."""
    calendar_id = req.path_params["calendar_id"]
    job_id = req.params.get("job_id")
    if job_id is not None and calendar_id not in ("_all", "*"):
        raise validation_failed("If job_id is used calendar_id must be '_all' or '*'")
    ids = expand_ids(calendar_id, ctx.state["calendars"], missing_calendar)
    if job_id is not None:
        job = ctx.state["jobs"].get(job_id)
        members = {job_id, "_all", *(job.get("groups", []) if job else [])}
        listed = {c for m in members for c in ctx.state["calendars"].lookup("job_ids", m)}
        ids = [c for c in ids if c in listed]
    start_ms = parse_date_param(req.params["start"], "start") if "start" in req.params else None
    end_ms = parse_date_param(req.params["end"], "end") if "end" in req.params else None
    all_events = ctx.state["events"]
    events = [
        all_events[event_id]
        for calendar in ids
        for event_id in all_events.lookup("calendar_id", calendar)
    ]
    if start_ms is not None:
        events = [e for e in events if e["end_time"] > start_ms]
    if end_ms is not None:
        events = [e for e in events if e["start_time"] < end_ms]
    events.sort(key=lambda e: (e["start_time"], e["event_id"]))
    start, size = _page(req, 100)
    return {"count": len(events), "events": events[start : start + size]}


def delete_event(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/calendars/{calendar_id}/events/{event_id}."""
    calendar_id = req.path_params["calendar_id"]
    event_id = req.path_params["event_id"]
    if calendar_id not in ctx.state["calendars"]:
        raise missing_calendar(calendar_id)
    event = ctx.state["events"].get(event_id)
    if event is None:
        raise not_found(f"No event with id [{event_id}]")
    if event["calendar_id"] != calendar_id:
        raise bad_request(
            f"Event [{event_id}] has calendar_id [{event['calendar_id']}] which does not match "
            f"the request calendar_id [{calendar_id}]"
        )
    del ctx.state["events"][event_id]
    return {"acknowledged": True}
