"""Cluster-level endpoints: product check, license, ML info, upgrade mode, expired data.

Also the trivial trained-model APIs the spec examples exercise. Input: a `Ctx` and a routed
`Request`. Output: Elasticsearch-shaped bodies and state mutations. No I/O.

"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconciler.sandbox.cluster_settings import max_model_memory_limit
from reconciler.sandbox.context import CLUSTER_UUID, NODE_NAME, Ctx, Request
from reconciler.sandbox.exceptions import EsError, bad_request, not_found
from reconciler.sandbox.job_config import DEFAULT_STOPWORDS, max_memory_mb
from reconciler.sandbox.validation import check_fields, parse_bool, parse_duration

Json = dict[str, Any]
BUILD_HASH = "sandbox0000000000000000000000000000000000"


def root(ctx: Ctx, req: Request) -> Json:
    """GET / — the body the official clients' product check accepts (es-ml-api.md §0.1)."""
    major = ctx.config.version.split(".")[0]
    return {
        "name": NODE_NAME,
        "cluster_name": "mlsync-sandbox",
        "cluster_uuid": CLUSTER_UUID,
        "version": {
            "number": ctx.config.version,
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": BUILD_HASH,
            "build_date": "2025-01-01T00:00:00.000Z",
            "build_snapshot": False,
            "lucene_version": "10.2.2" if major >= "9" else "9.12.0",
            "minimum_wire_compatibility_version": "8.19.0" if major >= "9" else "7.17.0",
            "minimum_index_compatibility_version": "8.0.0" if major >= "9" else "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


def license_info(ctx: Ctx, req: Request) -> Json:
    """GET /_license — an active trial (ML needs platinum or trial)."""
    issued = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    expiry = issued + 30 * 86_400_000 * 1000
    return {
        "license": {
            "status": "active",
            "uid": "00000000-0000-4000-8000-000000000000",
            "type": "trial",
            "issue_date": _iso(issued),
            "issue_date_in_millis": issued,
            "expiry_date": _iso(expiry),
            "expiry_date_in_millis": expiry,
            "max_nodes": 1000,
            "max_resource_units": None,
            "issued_to": "mlsync-sandbox",
            "issuer": "elasticsearch",
            "start_date_in_millis": -1,
        }
    }


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ml_info(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/info (es-ml-api.md §7; ml_info.yml)."""
    max_mb = max_memory_mb(max_model_memory_limit(ctx))
    default_mml = "1gb" if max_mb is None or max_mb >= 1024 else f"{max_mb}mb"
    limits: Json = {}
    if max_mb is not None:
        limits["max_model_memory_limit"] = f"{max_mb}mb"
    limits["effective_max_model_memory_limit"] = f"{max_mb}mb" if max_mb is not None else "8gb"
    limits["total_ml_memory"] = "8gb"
    return {
        "defaults": {
            "anomaly_detectors": {
                "categorization_analyzer": {
                    "char_filter": ["first_non_blank_line"],
                    "tokenizer": "ml_standard",
                    "filter": [{"type": "stop", "stopwords": list(DEFAULT_STOPWORDS)}],
                },
                "model_memory_limit": default_mml,
                "categorization_examples_limit": 4,
                "model_snapshot_retention_days": 10,
                "daily_model_snapshot_retention_after_days": 1,
            },
            "datafeeds": {"scroll_size": 1000},
        },
        "upgrade_mode": bool(ctx.state["settings"].get("upgrade_mode", False)),
        "native_code": {"version": ctx.config.version, "build_hash": BUILD_HASH[:12]},
        "limits": limits,
    }


def set_upgrade_mode(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/set_upgrade_mode?enabled=true|false."""
    ctx.state["settings"]["upgrade_mode"] = parse_bool(
        req.params.get("enabled", "false"), "enabled"
    )
    return {"acknowledged": True}


def delete_expired_data(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/_delete_expired_data[/{job_id}] — runs the removers of expired_data.py.

    `requests_per_second` (-1 or > 0) and `timeout` come from the query string or the body
    (DeleteExpiredDataAction.Request); `job_id` takes ids, groups and wildcards.
    """
    from reconciler.sandbox import expired_data
    from reconciler.sandbox.jobs import expand_jobs

    if req.value("timeout") is not None:
        parse_duration(req.value("timeout"), "timeout")
    rate = req.value("requests_per_second")
    if rate is not None:
        value = float(rate)
        if value != -1.0 and value <= 0.0:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: [requests_per_second] must either be -1 or greater than 0;",
            )
    ids = expand_jobs(ctx, req.path_params.get("job_id"), True)
    expired_data.remove(ctx, ids)
    return {"deleted": True}


def put_trained_model(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/trained_models/{model_id} — stores the config (no inference happens)."""
    model_id = req.path_params["model_id"]
    if model_id in ctx.state["trained_models"]:
        raise EsError(
            400,
            "resource_already_exists_exception",
            f"A trained model with id [{model_id}] already exists",
        )
    body = req.obj()
    model: Json = {
        "model_id": model_id,
        "model_type": body.get("model_type", "tree_ensemble"),
        "created_by": "api_user",
        "version": ctx.ml_config_version,
        "create_time": ctx.now_ms,
        **{k: v for k, v in body.items() if k not in ("definition", "compressed_definition")},
        "aliases": [],
    }
    ctx.state["trained_models"][model_id] = model
    return {k: v for k, v in model.items() if k != "aliases"}


def _model(ctx: Ctx, model_id: str) -> Json:
    for model in ctx.state["trained_models"].values():
        if model["model_id"] == model_id or model_id in model.get("aliases", []):
            return dict(model)
    raise not_found(f"Could not find trained model [{model_id}]")


def delete_trained_model(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/trained_models/{model_id}."""
    model = _model(ctx, req.path_params["model_id"])
    if model.get("_sandbox_deployment") and not parse_bool(
        req.params.get("force", "false"), "force"
    ):
        # TransportDeleteTrainedModelAction (force stops the deployment first)
        raise EsError(
            409,
            "status_exception",
            f"Cannot delete model [{model['model_id']}] as it is currently deployed",
        )
    del ctx.state["trained_models"][model["model_id"]]
    return {"acknowledged": True}


def put_model_alias(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/trained_models/{model_id}/model_aliases/{model_alias}.

    TransportPutTrainedModelAliasAction: an alias in use moves only with `reassign=true`, to a
    model of the same model type and inference config type; it cannot be a model id.
    """
    model = _model(ctx, req.path_params["model_id"])
    alias = req.path_params["model_alias"]
    models: Json = ctx.state["trained_models"]
    old = next((m for m in models.values() if alias in m.get("aliases", [])), None)
    if old is not None and not parse_bool(req.params.get("reassign", "false"), "reassign"):
        raise bad_request(
            f"cannot assign model_alias [{alias}] to model_id [{model['model_id']}] as "
            f"model_alias already refers to [{old['model_id']}]. Set parameter [reassign] to "
            "[true] if model_alias should be reassigned."
        )
    if alias in models:
        raise bad_request("model_alias cannot be the same as an existing trained model_id")
    if old is not None:
        new_kind = next(iter(model.get("inference_config") or {}), None)
        old_kind = next(iter(old.get("inference_config") or {}), None)
        if new_kind and old_kind and new_kind != old_kind:
            raise bad_request(
                f"cannot reassign model_alias [{alias}] to model [{model['model_id']}] with "
                f"inference config type [{new_kind}] from model [{old['model_id']}] with type "
                f"[{old_kind}]"
            )
        new_type = model.get("model_type") or "tree_ensemble"
        old_type = old.get("model_type") or "tree_ensemble"
        if new_type != old_type:
            raise bad_request(
                f"cannot reassign model_alias [{alias}] to model [{model['model_id']}] with type "
                f"[{new_type}] from model [{old['model_id']}] with type [{old_type}]"
            )
        models[old["model_id"]] = {
            **old,
            "aliases": [a for a in old["aliases"] if a != alias],
        }
    target = models[model["model_id"]]
    models[model["model_id"]] = {**target, "aliases": [*target.get("aliases", []), alias]}
    return {"acknowledged": True}


def delete_model_alias(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/trained_models/{model_id}/model_aliases/{model_alias}."""
    model = _model(ctx, req.path_params["model_id"])
    alias = req.path_params["model_alias"]
    if alias not in model.get("aliases", []):
        raise not_found(
            f"trained model alias [{alias}] could not be found for model [{model['model_id']}]"
        )
    ctx.state["trained_models"][model["model_id"]]["aliases"].remove(alias)
    return {"acknowledged": True}


def clear_deployment_cache(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/trained_models/{model_id}/deployment/cache/_clear."""
    _model(ctx, req.path_params["model_id"])
    return {"cleared": True}


def validate_body_keys(req: Request, allowed: tuple[str, ...], parser: str) -> None:
    """Shared helper for small endpoints."""
    check_fields(req.obj(), allowed, parser, req.raw)
