"""Trained model endpoints: read configs and stats, upload definitions, deploy, infer.

Input: a `Ctx` and a routed `Request`. Output: Elasticsearch-shaped bodies and state changes.
No I/O. The model configs live in `state["trained_models"]` (created by
`cluster.put_trained_model`); what only the emulator needs (uploaded parts, vocabulary, the
deployment) is kept on the model under `_sandbox_*` keys and never shown.

Shapes follow the specification's response types (ml.get_trained_models: `count` +
`trained_model_configs`; ml.get_trained_models_stats: `count` + `trained_model_stats`;
start/update deployment: `assignment` with `task_parameters`, `routing_table`,
`assignment_state`) and the server's messages (TrainedModelProvider, TrainedModelAssignment-
NodeService, TransportStartTrainedModelDeploymentAction). The sandbox runs no model: inference
answers carry the documented result fields with fixed placeholder values (a zero score, the
first class), which is enough to exercise the client, not to test a model.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any

from reconciler.sandbox.context import NODE_ID, Ctx, Request
from reconciler.sandbox.exceptions import EsError, not_found

Json = dict[str, Any]
#: Keys of the stored model that are the emulator's bookkeeping, not part of the config.
_INTERNAL = "_sandbox_"


def _visible(model: Json) -> Json:
    return {k: v for k, v in model.items() if not k.startswith(_INTERNAL) and k != "aliases"}


def _stored(ctx: Ctx, model_id: str) -> Json:
    """The stored model for an id or alias (TrainedModelProvider resolves aliases first)."""
    models: Json = ctx.state["trained_models"]
    for key, model in models.items():
        if key == model_id or model_id in model.get("aliases", []):
            return models[key]  # type: ignore[no-any-return]
    raise not_found(f"Could not find trained model [{model_id}]")


def _matching(ctx: Ctx, expression: str | None, allow_no_match: bool) -> list[Json]:
    """Models matching `a,b*` (ids or aliases); `_all`/`*`/absent is every model, by id."""
    models = sorted(ctx.state["trained_models"].values(), key=lambda m: m["model_id"])
    if not expression or expression in ("_all", "*"):
        return list(models)
    found: list[Json] = []
    for token in expression.split(","):
        hits = [
            m
            for m in models
            if fnmatch.fnmatchcase(m["model_id"], token)
            or any(fnmatch.fnmatchcase(a, token) for a in m.get("aliases", []))
        ]
        if not hits and ("*" not in token or not allow_no_match):
            raise not_found(f"Could not find trained model [{token}]")
        found += [m for m in hits if m not in found]
    return sorted(found, key=lambda m: m["model_id"])


def _page(req: Request, items: list[Json]) -> list[Json]:
    start = req.integer("from", 0, body_too=False)
    size = req.integer("size", 100, body_too=False)
    return items[start : start + size]


def get_trained_models(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/trained_models[/{model_id}] (paged, 100 by default; tags filter)."""
    models = _matching(ctx, req.path_params.get("model_id"), req.flag("allow_no_match", True))
    tags = [t for t in (req.params.get("tags") or "").split(",") if t]
    if tags:
        models = [m for m in models if set(tags) <= set(m.get("tags", []))]
    include = req.params.get("include")
    configs = []
    for model in _page(req, models):
        config = {"tags": [], **_visible(model)}
        if include == "definition" and model.get(f"{_INTERNAL}parts"):
            config["definition"] = {}  # the sandbox keeps no weights, only that they exist
        configs.append(config)
    return {"count": len(models), "trained_model_configs": configs}


def get_trained_models_stats(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/trained_models[/{model_id}]/_stats."""
    models = _matching(ctx, req.path_params.get("model_id"), req.flag("allow_no_match", True))
    stats = []
    for model in _page(req, models):
        entry: Json = {
            "model_id": model["model_id"],
            "model_size_stats": {
                "model_size_bytes": int(model.get("model_size_bytes", 0)),
                "required_native_memory_bytes": 2 * int(model.get("model_size_bytes", 0)),
            },
            "pipeline_count": 0,
            "inference_stats": {
                "failure_count": 0,
                "inference_count": int(model.get(f"{_INTERNAL}inferences", 0)),
                "cache_miss_count": 0,
                "missing_all_fields_count": 0,
                "timestamp": ctx.now_ms,
            },
        }
        deployment = model.get(f"{_INTERNAL}deployment")
        if deployment:
            entry["deployment_stats"] = {
                "deployment_id": deployment["task_parameters"]["deployment_id"],
                "model_id": model["model_id"],
                "state": deployment["assignment_state"],
                "allocation_status": {
                    "allocation_count": deployment["task_parameters"]["number_of_allocations"],
                    "target_allocation_count": deployment["task_parameters"][
                        "number_of_allocations"
                    ],
                    "state": "fully_allocated",
                },
                "number_of_allocations": deployment["task_parameters"]["number_of_allocations"],
                "threads_per_allocation": deployment["task_parameters"]["threads_per_allocation"],
                "queue_capacity": deployment["task_parameters"]["queue_capacity"],
                "priority": deployment["task_parameters"]["priority"],
                "start_time": deployment["start_time"],
                "nodes": [],
            }
        stats.append(entry)
    return {"count": len(models), "trained_model_stats": stats}


def put_definition_part(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/trained_models/{model_id}/definition/{part}."""
    model = _stored(ctx, req.path_params["model_id"])
    body = req.obj()
    missing = [k for k in ("definition", "total_definition_length", "total_parts") if k not in body]
    if missing:
        raise EsError(400, "x_content_parse_exception", f"Required [{', '.join(missing)}]")
    part = int(req.path_params["part"])
    total = int(body["total_parts"])
    if total <= 0 or part < 0 or part >= total:
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: [part] must be between 0 and total_parts - 1 [{total - 1}];",
        )
    parts = set(model.get(f"{_INTERNAL}parts", []))
    parts.add(part)
    model[f"{_INTERNAL}parts"] = sorted(parts)
    model[f"{_INTERNAL}total_parts"] = total
    return {"acknowledged": True}


def put_vocabulary(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/trained_models/{model_id}/vocabulary (NLP models only)."""
    model = _stored(ctx, req.path_params["model_id"])
    body = req.obj()
    if "vocabulary" not in body:
        raise EsError(400, "x_content_parse_exception", "Required [vocabulary]")
    if model.get("model_type") != "pytorch":
        raise EsError(
            400,
            "status_exception",
            f"cannot put vocabulary for model [{model['model_id']}] as it is not an NLP model",
        )
    model[f"{_INTERNAL}vocabulary"] = len(body["vocabulary"])
    return {"acknowledged": True}


def _assignment(ctx: Ctx, model: Json, req: Request, deployment_id: str) -> Json:
    allocations = req.integer("number_of_allocations", 1)
    threads = req.integer("threads_per_allocation", 1)
    size = int(model.get("model_size_bytes", 0))
    return {
        "task_parameters": {
            "model_id": model["model_id"],
            "deployment_id": deployment_id,
            "model_bytes": size,
            "threads_per_allocation": threads,
            "number_of_allocations": allocations,
            "queue_capacity": req.integer("queue_capacity", 1024),
            "cache_size": req.params.get("cache_size", f"{size}b"),
            "priority": req.params.get("priority", "normal"),
            "per_deployment_memory_bytes": 2 * size,
            "per_allocation_memory_bytes": 0,
        },
        "routing_table": {
            NODE_ID: {
                "current_allocations": allocations,
                "target_allocations": allocations,
                "routing_state": "started",
                "reason": "",
            }
        },
        "assignment_state": "started",
        "start_time": _iso(ctx.now_ms),
        "max_assigned_allocations": allocations,
    }


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    )


def start_deployment(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/trained_models/{model_id}/deployment/_start (PyTorch models, complete parts)."""
    model = _stored(ctx, req.path_params["model_id"])
    model_id = model["model_id"]
    if model.get("model_type") != "pytorch":
        raise EsError(
            400,
            "status_exception",
            f"model [{model_id}] of type [{model.get('model_type')}] cannot be deployed; "
            "only PyTorch models can be deployed",
        )
    total = model.get(f"{_INTERNAL}total_parts")
    if not total or len(model.get(f"{_INTERNAL}parts", [])) != total:
        raise EsError(
            400,
            "resource_not_found_exception",
            f"Could not find trained model definition [{model_id}]",
        )
    deployment_id = str(req.params.get("deployment_id") or model_id)
    if model.get(f"{_INTERNAL}deployment"):
        raise EsError(
            409,
            "status_exception",
            "Could not start model deployment because an existing deployment with the same id "
            f"[{deployment_id}] exist",
        )
    assignment = _assignment(ctx, model, req, deployment_id)
    if isinstance(req.body, dict) and "adaptive_allocations" in req.body:
        assignment["adaptive_allocations"] = req.body["adaptive_allocations"]
    model[f"{_INTERNAL}deployment"] = assignment
    return {"assignment": assignment}


def _deployment(ctx: Ctx, req: Request) -> tuple[Json, Json]:
    model = _stored(ctx, req.path_params["model_id"])
    deployment = model.get(f"{_INTERNAL}deployment")
    if not deployment:
        raise EsError(
            404,
            "resource_not_found_exception",
            f"No known trained model with deployment with id [{req.path_params['model_id']}]",
        )
    return model, deployment


def stop_deployment(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/trained_models/{model_id}/deployment/_stop."""
    model = _stored(ctx, req.path_params["model_id"])
    if not model.get(f"{_INTERNAL}deployment"):
        if req.flag("allow_no_match", True):
            return {"stopped": True}
        raise EsError(
            404,
            "resource_not_found_exception",
            f"No known trained model with deployment with id [{model['model_id']}]",
        )
    model[f"{_INTERNAL}deployment"] = None
    return {"stopped": True}


def update_deployment(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/trained_models/{deployment_id}/deployment/_update."""
    model, deployment = _deployment(ctx, req)
    allocations = req.value("number_of_allocations")
    assignment = dict(deployment)
    if allocations is not None:
        count = int(allocations)
        if count < 1:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: [number_of_allocations] must be a positive integer;",
            )
        params = {**deployment["task_parameters"], "number_of_allocations": count}
        assignment["task_parameters"] = params
        assignment["routing_table"] = {
            NODE_ID: {
                "current_allocations": count,
                "target_allocations": count,
                "routing_state": "started",
                "reason": "",
            }
        }
        assignment["max_assigned_allocations"] = max(count, deployment["max_assigned_allocations"])
    if isinstance(req.body, dict) and "adaptive_allocations" in req.body:
        assignment["adaptive_allocations"] = req.body["adaptive_allocations"]
    model[f"{_INTERNAL}deployment"] = assignment
    return {"assignment": assignment}


def infer(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/trained_models/{model_id}/_infer (needs a started deployment)."""
    model = _stored(ctx, req.path_params["model_id"])
    body = req.obj()
    docs = body.get("docs")
    if not isinstance(docs, list) or not docs:
        raise EsError(400, "x_content_parse_exception", "Required [docs]")
    if not model.get(f"{_INTERNAL}deployment"):
        raise EsError(
            409,
            "status_exception",
            f"Trained model [{model['model_id']}] is not deployed",
        )
    model[f"{_INTERNAL}inferences"] = int(model.get(f"{_INTERNAL}inferences", 0)) + len(docs)
    task = next(iter((model.get("inference_config") or {"pass_through": {}}).keys()))
    return {"inference_results": [_placeholder(task) for _ in docs]}


def _placeholder(task: str) -> Json:
    """A result with the fields of the task's documented result type, and neutral values."""
    if task == "text_classification" or task == "zero_shot_classification":
        return {"predicted_value": "", "prediction_probability": 0.0}
    if task == "ner":
        return {"predicted_value": "", "entities": []}
    if task == "fill_mask":
        return {"predicted_value": "", "token": "", "prediction_probability": 0.0}
    if task == "text_embedding":
        return {"predicted_value": []}
    if task == "question_answering":
        return {
            "predicted_value": "",
            "start_offset": 0,
            "end_offset": 0,
            "prediction_probability": 0.0,
        }
    return {"predicted_value": []}


#: (methods, path templates, handler, accepted query parameters), registered by routes.py.
TM = "/_ml/trained_models"
ROUTES: list[tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = [
    (
        "GET",
        (TM, f"{TM}/{{model_id}}"),
        get_trained_models,
        (
            "allow_no_match",
            "decompress_definition",
            "exclude_generated",
            "from",
            "include",
            "size",
            "tags",
            "include_model_definition",
        ),
    ),
    (
        "GET",
        (f"{TM}/_stats", f"{TM}/{{model_id}}/_stats"),
        get_trained_models_stats,
        ("allow_no_match", "from", "size"),
    ),
    ("PUT", (f"{TM}/{{model_id}}/definition/{{part}}",), put_definition_part, ()),
    ("PUT", (f"{TM}/{{model_id}}/vocabulary",), put_vocabulary, ()),
    (
        "POST",
        (f"{TM}/{{model_id}}/deployment/_start",),
        start_deployment,
        (
            "cache_size",
            "deployment_id",
            "number_of_allocations",
            "priority",
            "queue_capacity",
            "threads_per_allocation",
            "timeout",
            "wait_for",
        ),
    ),
    (
        "POST",
        (f"{TM}/{{model_id}}/deployment/_stop",),
        stop_deployment,
        ("allow_no_match", "force"),
    ),
    (
        "POST",
        (f"{TM}/{{model_id}}/deployment/_update",),
        update_deployment,
        ("number_of_allocations",),
    ),
    ("POST", (f"{TM}/{{model_id}}/_infer",), infer, ("timeout",)),
]
