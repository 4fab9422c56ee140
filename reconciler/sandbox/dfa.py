"""Data frame analytics endpoints: CRUD, start/stop, stats, explain, preview, evaluate.

Input: a `Ctx` and a routed `Request`. Output: response bodies, state mutations or `EsError`s.
No I/O. References: es-ml-api.md §3, §5.3, §6.3, §7.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from reconciler.sandbox import documents, query_dsl
from reconciler.sandbox.context import NODE_ID, Ctx, Request, node_info, require_no_body_id
from reconciler.sandbox.exceptions import (
    EsError,
    bad_request,
    conflict,
    illegal_argument,
    index_not_found,
    not_found,
    parse_error,
    validation_failed,
)
from reconciler.sandbox.expressions import expand_ids
from reconciler.sandbox.transitions import dfa_progress
from reconciler.sandbox.validation import (
    body_long,
    check_fields,
    format_bytes,
    key_location,
    parse_bytes,
    parse_duration,
    require_object,
    validate_id,
)

Json = dict[str, Any]

DFA_FIELDS = (
    "id", "description", "source", "dest", "analysis", "analyzed_fields", "model_memory_limit",
    "allow_lazy_start", "max_num_threads", "_meta",
)  # fmt: skip
_SUPERVISED_OPTIONAL = (
    "lambda", "gamma", "eta", "max_trees", "feature_bag_fraction", "alpha",
    "eta_growth_rate_per_tree", "soft_tree_depth_limit", "soft_tree_depth_tolerance",
    "downsample_factor", "max_optimization_rounds_per_hyperparameter",
    "num_top_feature_importance_values", "feature_processors", "early_stopping_enabled",
    "randomize_seed", "training_percent", "prediction_field_name", "dependent_variable",
)  # fmt: skip


def missing_dfa(dfa_id: str) -> EsError:
    """404 for unknown analytics (ExceptionsHelper.missingDataFrameAnalytics)."""
    return not_found(f"No known data frame analytics with id [{dfa_id}]")


def get_config(ctx: Ctx, dfa_id: str) -> Json:
    """Stored config or 404."""
    config = ctx.state["dfa"].get(dfa_id)
    if config is None:
        raise missing_dfa(dfa_id)
    return dict(config)


def dfa_state(ctx: Ctx, dfa_id: str) -> str:
    """`stopped` when there is no task (es-ml-api.md §5.3)."""
    task = ctx.state["dfa_tasks"].get(dfa_id)
    return "stopped" if task is None else str(task["state"])


def _analysis(value: Any, raw: str) -> Json:
    """Analysis object with defaults filled (es-ml-api.md §3.2)."""
    analysis = require_object(value, "data_frame_analytics_config", "analysis", raw)
    if len(analysis) != 1:
        raise EsError(
            400,
            "parsing_exception",
            "[analysis] must contain exactly one analysis",
            extra={"line": 1, "col": 1},
        )
    kind, spec = next(iter(analysis.items()))
    spec = require_object(spec, kind, kind, raw)
    if kind == "outlier_detection":
        check_fields(
            spec,
            (
                "n_neighbors",
                "method",
                "feature_influence_threshold",
                "compute_feature_influence",
                "outlier_fraction",
                "standardization_enabled",
            ),
            kind,
            raw,
        )
        out: Json = {}
        if "n_neighbors" in spec:
            if body_long(spec["n_neighbors"], "n_neighbors", kind, raw, java_type="int") <= 0:
                raise illegal_argument(
                    f"[n_neighbors] must be a positive integer; got [{spec['n_neighbors']}]"
                )
            out["n_neighbors"] = spec["n_neighbors"]
        if "method" in spec:
            if spec["method"] not in ("lof", "ldof", "distance_kth_nn", "distance_knn", "ensemble"):
                raise illegal_argument(f"No enum constant for method [{spec['method']}]")
            out["method"] = spec["method"]
        if "feature_influence_threshold" in spec:
            fit = float(spec["feature_influence_threshold"])
            if not 0.0 <= fit <= 1.0:
                raise illegal_argument(
                    f"[feature_influence_threshold] must be in [0, 1]; got [{fit}]"
                )
            out["feature_influence_threshold"] = fit
        out["compute_feature_influence"] = bool(spec.get("compute_feature_influence", True))
        fraction = float(spec.get("outlier_fraction", 0.05))
        if not 0.0 <= fraction <= 1.0:
            raise illegal_argument(f"[outlier_fraction] must be in [0, 1]; got [{fraction}]")
        out["outlier_fraction"] = fraction
        out["standardization_enabled"] = bool(spec.get("standardization_enabled", True))
        return {kind: out}
    if kind not in ("regression", "classification"):
        raise EsError(
            400,
            "x_content_parse_exception",
            f"[{key_location(raw, kind)}] [data_frame_analytics_config] failed to parse field "
            "[analysis]",
            caused_by={
                "type": "named_object_not_found_exception",
                "reason": f"[{key_location(raw, kind)}] unknown field [{kind}]",
            },
        )
    extra = (
        ("loss_function", "loss_function_parameter")
        if kind == "regression"
        else ("class_assignment_objective", "num_top_classes")
    )
    check_fields(spec, _SUPERVISED_OPTIONAL + extra + ("maximum_number_trees",), kind, raw)
    if "dependent_variable" not in spec:
        raise EsError(400, "parse_exception", "[dependent_variable] is required")
    dep = spec["dependent_variable"]
    out = {"dependent_variable": dep}
    for key in (
        "lambda",
        "gamma",
        "eta",
        "max_trees",
        "feature_bag_fraction",
        "alpha",
        "eta_growth_rate_per_tree",
        "soft_tree_depth_limit",
        "soft_tree_depth_tolerance",
        "downsample_factor",
        "max_optimization_rounds_per_hyperparameter",
        "num_top_feature_importance_values",
        "feature_processors",
    ):
        if key in spec:
            out[key] = spec[key]
    if "maximum_number_trees" in spec and "max_trees" not in spec:
        out["max_trees"] = spec["maximum_number_trees"]
    _check_boosted_tree_params(out)
    out["prediction_field_name"] = spec.get("prediction_field_name", f"{dep}_prediction")
    percent = float(spec.get("training_percent", 100.0))
    if not 0 < percent <= 100:
        # Regression / Classification constructors: ExceptionsHelper.badRequestException
        raise bad_request("[training_percent] must be a positive double in (0, 100]")
    out["training_percent"] = percent
    # randomize_seed is generated when absent: a random long (es-ml-api.md §3.2)
    out["randomize_seed"] = spec.get("randomize_seed", random.randint(-(1 << 63), (1 << 63) - 1))
    if kind == "regression":
        loss = spec.get("loss_function", "mse")
        if loss not in ("mse", "msle", "huber"):
            raise illegal_argument(f"No enum constant for loss_function [{loss}]")
        out["loss_function"] = loss
        if "loss_function_parameter" in spec:
            if float(spec["loss_function_parameter"]) <= 0:
                raise illegal_argument("[loss_function_parameter] must be a positive double")
            out["loss_function_parameter"] = spec["loss_function_parameter"]
    else:
        objective = spec.get("class_assignment_objective", "maximize_minimum_recall")
        if objective not in ("maximize_minimum_recall", "maximize_accuracy"):
            raise illegal_argument(f"No enum constant for class_assignment_objective [{objective}]")
        out["class_assignment_objective"] = objective
        top = body_long(
            spec.get("num_top_classes", 2), "num_top_classes", kind, raw, java_type="int"
        )
        if not (top == -1 or 0 <= top <= 1000):
            raise illegal_argument(
                "[num_top_classes] must be an integer in [0, 1000] or a special value -1"
            )
        out["num_top_classes"] = top
    out["early_stopping_enabled"] = bool(spec.get("early_stopping_enabled", True))
    return {kind: out}


# BoostedTreeParams' constructor checks, in its order: (field, lowest, lowest allowed?, highest,
# message). Each failure is ExceptionsHelper.badRequestException (400 status_exception).
_BOOSTED_TREE_RULES: tuple[tuple[str, float, bool, float | None, str], ...] = (
    ("lambda", 0.0, True, None, "must be a non-negative double"),
    ("gamma", 0.0, True, None, "must be a non-negative double"),
    ("eta", 0.001, True, 1.0, "must be a double in [0.001, 1]"),
    ("max_trees", 1, True, 2000, "must be an integer in [1, 2000]"),
    ("feature_bag_fraction", 0.0, False, 1.0, "must be a double in (0, 1]"),
    ("num_top_feature_importance_values", 0, True, None, "must be a non-negative integer"),
    ("alpha", 0.0, True, None, "must be a non-negative double"),
    ("eta_growth_rate_per_tree", 0.5, True, 2.0, "must be a double in [0.5, 2.0]"),
    ("soft_tree_depth_limit", 0.0, True, None, "must be a non-negative double"),
    (
        "soft_tree_depth_tolerance", 0.01, True, None,
        "must be a double greater than or equal to 0.01",
    ),
    ("downsample_factor", 0.0, False, 1.0, "must be a double in (0, 1]"),
    ("max_optimization_rounds_per_hyperparameter", 0, True, 20, "must be an integer in [0, 20]"),
)  # fmt: skip


def _check_boosted_tree_params(params: Json) -> None:
    """BoostedTreeParams(...) range checks for the hyperparameters that are set."""
    for field, low, low_ok, high, message in _BOOSTED_TREE_RULES:
        if field not in params:
            continue
        value = float(params[field])
        too_low = value < low if low_ok else value <= low
        if too_low or (high is not None and value > high):
            raise bad_request(f"[{field}] {message}")


def _source(ctx: Ctx, value: Any, raw: str) -> Json:
    source = require_object(value, "data_frame_analytics_config", "source", raw)
    check_fields(
        source,
        ("index", "query", "_source", "runtime_mappings"),
        "data_frame_analytics_source",
        raw,
    )
    if "index" not in source:
        raise EsError(400, "x_content_parse_exception", "Required [index]")
    index = source["index"]
    indices = [index] if isinstance(index, str) else list(index)
    if not indices:
        raise illegal_argument("source.index must specify at least one index")
    if any(not i for i in indices):
        raise illegal_argument("source.index must contain non-null and non-empty strings")
    if any(":" in i for i in indices):
        raise illegal_argument("remote source indices are not supported")
    if "query" in source:
        query_dsl.refuse_unparsable(
            query_dsl.query_problem(source["query"]),
            "query",
            "Data Frame Analytics config query is not parsable",
            "data_frame_analytics_source",
            raw,
        )
    out: Json = {"index": indices, "query": source.get("query", {"match_all": {}})}
    if "_source" in source:
        src = source["_source"]
        if isinstance(src, list | str):
            src = {"includes": [src] if isinstance(src, str) else src, "excludes": []}
        out["_source"] = src
    if source.get("runtime_mappings"):
        out["runtime_mappings"] = source["runtime_mappings"]
    return out


def _dest(value: Any, source: Json, raw: str) -> Json:
    dest = require_object(value, "data_frame_analytics_config", "dest", raw)
    check_fields(dest, ("index", "results_field"), "data_frame_analytics_dest", raw)
    if not dest.get("index"):
        raise EsError(400, "x_content_parse_exception", "Required [index]")
    index = str(dest["index"])
    if index != index.lower():
        raise validation_failed(f"Destination index [{index}] must be lowercase")
    if any(c in index for c in '\\/*?"<>| ,#:') or index.startswith(("_", "-", "+")):
        raise validation_failed(
            f"Invalid index name [{index}], must not contain the following characters "
            "[' ','\"','*',',','/','<','>','?','\\\\','|']"
        )
    import fnmatch

    for pattern in source["index"]:
        if fnmatch.fnmatchcase(index, pattern):
            raise illegal_argument(
                f"Destination index [{index}] is included in source expression [{pattern}]"
            )
    return {"index": index, "results_field": dest.get("results_field", "ml")}


def build_config(ctx: Ctx, body: Json, raw: str, dfa_id: str, *, check_source: bool = True) -> Json:
    """Validate a PUT body and fill defaults (es-ml-api.md §3.1)."""
    for field in ("headers", "create_time", "version", "authorization"):
        if field in body:
            raise parse_error(
                f"[{key_location(raw, field)}] [data_frame_analytics_config] unknown field "
                f"[{field}]"
            )
    check_fields(body, DFA_FIELDS, "data_frame_analytics_config", raw)
    for field in ("source", "dest", "analysis"):
        if body.get(field) is None:
            raise illegal_argument(f"[{field}] must not be null")
    source = _source(ctx, body["source"], raw)
    if check_source and not ctx.config.implicit_indices:
        missing = [i for i in source["index"] if "*" not in i and i not in ctx.state["indices"]]
        if missing:
            raise validation_failed(f"no such index [{missing[0]}]")
    dest = _dest(body["dest"], source, raw)
    analysis = _analysis(body["analysis"], raw)
    out: Json = {"id": dfa_id}
    if body.get("description") is not None:
        out["description"] = body["description"]
    out["source"] = source
    out["dest"] = dest
    out["analysis"] = analysis
    if body.get("analyzed_fields") is not None:
        fields = body["analyzed_fields"]
        if isinstance(fields, list | str):
            fields = {"includes": [fields] if isinstance(fields, str) else fields, "excludes": []}
        fields = {"includes": fields.get("includes", []), "excludes": fields.get("excludes", [])}
        excluded = source.get("_source", {}).get("excludes", [])
        for field in fields["includes"]:
            if field in excluded:
                raise illegal_argument(
                    f"field [{field}] is included in [analyzed_fields] but not in [source._source]"
                )
        out["analyzed_fields"] = fields
    out["model_memory_limit"] = _memory_limit(ctx, body.get("model_memory_limit"))
    out["create_time"] = ctx.now_ms
    out["version"] = ctx.ml_config_version
    out["authorization"] = {"roles": ["superuser"]}
    out["allow_lazy_start"] = bool(body.get("allow_lazy_start", False))
    threads = body_long(
        body.get("max_num_threads", 1),
        "max_num_threads",
        "data_frame_analytics_config",
        raw,
        java_type="int",
    )
    if threads < 1:
        raise illegal_argument("[max_num_threads] must be a positive integer")
    out["max_num_threads"] = threads
    if body.get("_meta") is not None:
        out["_meta"] = body["_meta"]
    return out


def _memory_limit(ctx: Ctx, value: Any) -> str:
    """DFA `model_memory_limit`: echoed as given, default 1gb capped to the max setting."""
    from reconciler.sandbox.cluster_settings import max_model_memory_limit

    max_setting = max_model_memory_limit(ctx)
    max_bytes = (
        None if max_setting is None else parse_bytes(max_setting, "xpack.ml.max_model_memory_limit")
    )
    if value is None:
        if max_bytes is not None and max_bytes < (1 << 30):
            return str(max_setting).lower()
        return "1gb"
    given = parse_bytes(value, "model_memory_limit")
    if given < (1 << 20):
        raise illegal_argument("[model_memory_limit] must be at least [1mb]")
    if max_bytes is not None and given > max_bytes:
        # DataFrameAnalyticsConfig.Builder: both values as ByteSizeValue.toString (§3.1).
        raise illegal_argument(
            f"model_memory_limit [{format_bytes(given)}] must be less than the value of the "
            f"xpack.ml.max_model_memory_limit setting [{format_bytes(max_bytes)}]"
        )
    return str(value).lower()


def put_dfa(ctx: Ctx, req: Request) -> Json:
    """PUT /_ml/data_frame/analytics/{id}."""
    dfa_id = validate_id(req.path_params["id"], "id")
    body = req.obj()
    require_no_body_id(body, "id", dfa_id)
    if dfa_id in ctx.state["dfa"]:
        raise EsError(
            400,
            "resource_already_exists_exception",
            f"A data frame analytics with id [{dfa_id}] already exists",
        )
    config = build_config(ctx, body, req.raw, dfa_id)
    ctx.state["dfa"][dfa_id] = config
    return config


def _expand(ctx: Ctx, req: Request) -> list[str]:
    return expand_ids(
        req.path_params.get("id"),
        ctx.state["dfa"],
        missing_dfa,
        allow_no_match=req.flag("allow_no_match", True, body_too=False),
    )


def _page(req: Request, items: list[str]) -> list[str]:
    start = req.integer("from", 0, body_too=False)
    size = req.integer("size", 100, body_too=False)
    if start < 0:
        raise illegal_argument("[from] parameter cannot be negative")
    if size < 0:
        raise illegal_argument("[size] parameter cannot be negative")
    if start + size > 10_000:
        raise illegal_argument(
            "The sum of parameters [from] and [size] cannot be higher than 10000."
        )
    return items[start : start + size]


def get_dfa(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/data_frame/analytics[/{id}] (paged, es-ml-api.md §3)."""
    ids = _expand(ctx, req)
    exclude = req.flag("exclude_generated", False, body_too=False)
    items = []
    for dfa_id in _page(req, ids):
        # A new top level (the answer is encoded before anything could change the rest).
        config = {
            k: v
            for k, v in ctx.state["dfa"][dfa_id].items()
            if not (exclude and k in ("create_time", "version", "authorization"))
        }
        items.append(config)
    return {"count": len(ids), "data_frame_analytics": items}


def dfa_stats(ctx: Ctx, req: Request) -> Json:
    """GET /_ml/data_frame/analytics[/{id}]/_stats (es-ml-api.md §6.3)."""
    ids = _expand(ctx, req)
    out = []
    for dfa_id in _page(req, ids):
        config = ctx.state["dfa"][dfa_id]
        run = ctx.state.setdefault("dfa_runs", {}).get(dfa_id)
        task = ctx.state["dfa_tasks"].get(dfa_id)
        entry: Json = {
            "id": dfa_id,
            "state": dfa_state(ctx, dfa_id),
            "progress": dfa_progress(ctx, dfa_id),
        }
        docs = (
            len(
                documents.search_docs(ctx, config["source"]["index"], config["source"].get("query"))
            )
            if run
            else 0
        )
        kind = next(iter(config["analysis"]))
        training = docs
        if kind != "outlier_detection" and run:
            training = int(docs * config["analysis"][kind]["training_percent"] / 100)
        entry["data_counts"] = {
            "training_docs_count": training,
            "test_docs_count": docs - training,
            "skipped_docs_count": 0,
        }
        memory: Json = {"peak_usage_bytes": 0, "status": "ok"}
        if run:
            memory = {
                "timestamp": run["completed_at"],
                "peak_usage_bytes": 1024 * 1024,
                "status": "ok",
            }
        entry["memory_usage"] = memory
        if run:
            stats_key = {
                "outlier_detection": "outlier_detection_stats",
                "regression": "regression_stats",
                "classification": "classification_stats",
            }[kind]
            entry["analysis_stats"] = {
                stats_key: {
                    "timestamp": run["completed_at"],
                    "parameters" if kind == "outlier_detection" else "hyperparameters": dict(
                        config["analysis"][kind]
                    ),
                    "timing_stats": {"elapsed_time": 0},
                }
            }
        if task is not None:
            entry["node"] = node_info()
            entry["assignment_explanation"] = ""
        out.append(entry)
    return {"count": len(ids), "data_frame_analytics": out}


def update_dfa(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/data_frame/analytics/{id}/_update (es-ml-api.md §3.3)."""
    dfa_id = req.path_params["id"]
    body = req.obj()
    check_fields(
        body,
        ("id", "description", "model_memory_limit", "allow_lazy_start", "max_num_threads"),
        "data_frame_analytics_config_update",
        req.raw,
    )
    require_no_body_id(body, "id", dfa_id)
    config = copy.deepcopy(get_config(ctx, dfa_id))
    # TransportUpdateDataFrameAnalyticsAction: only a real change of the memory limit (compared
    # as a byte size: "1024mb" == "1gb") or of the thread count needs a stopped job (§3.3).
    needs_stop = "max_num_threads" in body and body["max_num_threads"] != config.get(
        "max_num_threads"
    )
    if "model_memory_limit" in body:
        new_limit = parse_bytes(body["model_memory_limit"], "model_memory_limit")
        needs_stop = needs_stop or new_limit != parse_bytes(
            config["model_memory_limit"], "model_memory_limit"
        )
    if needs_stop and dfa_state(ctx, dfa_id) != "stopped":
        raise conflict(f"Cannot update analytics [{dfa_id}] unless it's stopped")
    if "description" in body:
        config["description"] = body["description"]
    if "model_memory_limit" in body:
        config["model_memory_limit"] = _memory_limit(ctx, body["model_memory_limit"])
    if "allow_lazy_start" in body:
        config["allow_lazy_start"] = bool(body["allow_lazy_start"])
    if "max_num_threads" in body:
        threads = body_long(
            body["max_num_threads"],
            "max_num_threads",
            "data_frame_analytics_config_update",
            req.raw,
            java_type="int",
        )
        if threads < 1:
            raise illegal_argument("[max_num_threads] must be a positive integer")
        config["max_num_threads"] = threads
    ctx.state["dfa"][dfa_id] = config
    return config


def delete_dfa(ctx: Ctx, req: Request) -> Json:
    """DELETE /_ml/data_frame/analytics/{id} (destination index is kept)."""
    dfa_id = req.path_params["id"]
    get_config(ctx, dfa_id)
    if req.value("timeout", body_too=False) is not None:
        parse_duration(req.params["timeout"], "timeout")
    state = dfa_state(ctx, dfa_id)
    if state != "stopped" and not req.flag("force", False, body_too=False):
        raise conflict(
            f"Cannot delete data frame analytics [{dfa_id}] while its status is [{state}]"
        )
    ctx.state["dfa_tasks"].pop(dfa_id, None)
    ctx.state.setdefault("dfa_runs", {}).pop(dfa_id, None)
    del ctx.state["dfa"][dfa_id]
    return {"acknowledged": True}


def start_dfa(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/data_frame/analytics/{id}/_start (es-ml-api.md §5.3)."""
    dfa_id = req.path_params["id"]
    # StartDataFrameAnalyticsAction.Request.parseRequest: Messages.INCONSISTENT_ID
    require_no_body_id(req.obj(), "id", dfa_id)
    config = get_config(ctx, dfa_id)
    if req.value("timeout") is not None:
        parse_duration(req.value("timeout"), "timeout")
    state = dfa_state(ctx, dfa_id)
    if state == "failed":
        raise conflict(
            f"Cannot start data frame analytics [{dfa_id}] as it is in state [failed]; "
            "force stop it first"
        )
    if state != "stopped":
        raise conflict(
            f"Cannot open data frame analytics [{dfa_id}] because it has already been opened"
        )
    sources = documents.resolve_indices(ctx, config["source"]["index"], allow_missing=True)
    docs = documents.search_docs(ctx, sources, config["source"].get("query"))
    if not ctx.config.implicit_indices and not sources:
        raise index_not_found(config["source"]["index"][0])
    if dfa_state(ctx, dfa_id) == "stopped" and not _finished(ctx, dfa_id):
        _check_extraction(ctx, config)
    _check_starting_state(ctx, dfa_id, config)
    if not ctx.config.implicit_indices and not docs:
        raise bad_request_empty(dfa_id, sources)
    ctx.state.setdefault("dfa_runs", {}).pop(dfa_id, None)
    documents.ensure_index(ctx, config["dest"]["index"])
    ctx.state["dfa_tasks"][dfa_id] = {"state": "starting", "since": ctx.now}
    return {"acknowledged": True, "node": NODE_ID}


def _finished(ctx: Ctx, dfa_id: str) -> bool:
    progress = dfa_progress(ctx, dfa_id)
    return bool(progress) and all(p["progress_percent"] >= 100 for p in progress)


def _check_starting_state(ctx: Ctx, dfa_id: str, config: Json) -> None:
    """Refuse a start that Elasticsearch refuses for the job's starting state.

    TransportStartDataFrameAnalyticsAction (step 5 of getStartContext) derives the starting
    state from the stored progress (DataFrameAnalyticsTask.determineStartingState): every phase
    at 100 is FINISHED, refused; `reindexing` at 0 is FIRST_TIME, when the destination index,
    if it exists, must hold no documents (checkDestIndexIsEmptyIfExists); otherwise it resumes.
    """
    progress = dfa_progress(ctx, dfa_id)
    if progress and all(p["progress_percent"] >= 100 for p in progress):
        raise EsError(400, "status_exception", "Cannot start because the job has already finished")
    if progress and progress[0]["progress_percent"] == 0:
        dest = config["dest"]["index"]
        if dest in ctx.state["indices"] and documents.doc_count(ctx, dest):
            raise EsError(400, "status_exception", f"dest index [{dest}] must be empty")


def bad_request_empty(dfa_id: str, sources: list[str]) -> EsError:
    """Starting on a source without documents (start_data_frame_analytics.yml)."""
    return EsError(
        400,
        "status_exception",
        f"Unable to start {dfa_id} as no documents in the source indices "
        f"[{','.join(sources)}] contained all the fields selected for analysis. "
        "If you are relying on automatic field selection then there are currently "
        "mapped fields that do not exist in any indexed documents, and you will have "
        "to switch to explicit field selection and include only fields that exist in "
        "indexed documents.",
    )


def stop_dfa(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/data_frame/analytics/{id}/_stop."""
    # StopDataFrameAnalyticsAction.Request.parseRequest: Messages.INCONSISTENT_ID
    require_no_body_id(req.obj(), "id", req.path_params["id"])
    ids = expand_ids(
        req.path_params["id"],
        ctx.state["dfa"],
        missing_dfa,
        allow_no_match=req.flag("allow_no_match", True),
    )
    force = req.flag("force", False)
    for dfa_id in ids:
        task = ctx.state["dfa_tasks"].get(dfa_id)
        if task is None:
            continue
        if force or task["state"] == "starting":
            del ctx.state["dfa_tasks"][dfa_id]
        elif task["state"] == "failed":
            raise conflict(
                f"cannot close data frame analytics [{dfa_id}] because it failed, use force "
                "stop instead"
            )
        else:
            task.update(state="stopping", since=ctx.now)
    return {"stopped": True}


def explain_dfa(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/data_frame/analytics[/{id}]/_explain (field selection + memory estimate)."""
    if "id" in req.path_params:
        config = get_config(ctx, req.path_params["id"])
    else:
        body = dict(req.obj())
        body.setdefault("dest", {"index": "explain-dest-placeholder"})
        config = build_config(ctx, body, req.raw, "explain")
    # TransportExplainDataFrameAnalyticsAction runs the same ExtractedFieldsDetector as a start.
    _check_extraction(ctx, config)
    selection = _field_selection(ctx, config)
    docs = documents.search_docs(ctx, config["source"]["index"], config["source"].get("query"))
    included = sum(1 for s in selection if s["is_included"])
    # A coarse model of the native estimate: a 128MB floor for the process plus the data frame
    # (8 bytes per included value and row, doubled for the working copy); disk halves it twice.
    without_disk = 128 + (len(docs) * max(included, 1) * 16) // (1 << 20)
    with_disk = max(1, without_disk // 4)
    return {
        "field_selection": selection,
        "memory_estimation": {
            "expected_memory_without_disk": f"{without_disk}MB",
            "expected_memory_with_disk": f"{with_disk}MB",
        },
    }


def _field_selection(ctx: Ctx, config: Json) -> list[Json]:
    """ExtractedFieldsDetector's field selection over the source indices' mappings."""
    analysis_kind, analysis = next(iter(config["analysis"].items()))
    required = analysis.get("dependent_variable")
    fields = documents.flat_fields(ctx, config["source"]["index"])
    includes = config.get("analyzed_fields", {}).get("includes") or []
    excludes = config.get("analyzed_fields", {}).get("excludes") or []
    selection = []
    for field in sorted(fields):
        kind = fields[field]
        entry: Json = {"field": field, "mappings_types": [kind]}
        numeric = kind in (
            "long",
            "integer",
            "short",
            "byte",
            "double",
            "float",
            "half_float",
            "scaled_float",
        )
        categorical = kind in ("keyword", "boolean", "ip")
        is_required = field == required
        reason = None
        if kind == "text":
            if f"{field}.keyword" in fields:
                reason = f"[{field}.keyword] is preferred because it is aggregatable"
            else:
                reason = f"unsupported type; supported types are {_supported_types()}"
        elif not (numeric or categorical):
            reason = f"unsupported type; supported types are {_supported_types()}"
        elif analysis_kind == "outlier_detection" and not numeric:
            reason = (
                "unsupported type; supported types are [boolean, byte, double, float, "
                "half_float, integer, long, scaled_float, short, unsigned_long]"
            )
        elif includes and field not in includes and not is_required:
            reason = "field not in includes list"
        elif field in excludes:
            reason = "field in excludes list"
        entry["is_included"] = reason is None
        entry["is_required"] = is_required
        if reason is None:
            entry["feature_type"] = "numerical" if numeric else "categorical"
        else:
            entry["reason"] = reason
        selection.append(entry)
    return selection


# Types.numerical(), Types.categorical(), Types.discreteNumerical(), Types.bool() (8.x), in the
# order their Stream.of(...) sources list them (the order a HashSet's insertion sees).
_NUMERICAL = (
    "half_float", "float", "double", "byte", "short", "integer", "long", "scaled_float",
    "unsigned_long",
)  # fmt: skip
_CLASSIFICATION_TYPES = ("text", "keyword", "ip", "long", "integer", "short", "byte", "boolean")
# Classification.MAX_DEPENDENT_VARIABLE_CARDINALITY and its lower bound of two classes.
_CLASSES = (2, 100)


def java_hash_set(items: tuple[str, ...]) -> str:
    """How a java.util.HashSet of these strings prints (AbstractCollection.toString).

    Iteration follows the bucket index `(h ^ (h >>> 16)) & (capacity - 1)` of String.hashCode,
    then insertion order within a bucket; the capacity is the smallest power of two, at least
    16, whose 0.75 load factor holds every element.
    """
    capacity = 16
    while len(items) > capacity * 0.75:
        capacity *= 2

    def bucket(text: str) -> int:
        h = 0
        for ch in text:
            h = (31 * h + ord(ch)) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    ordered = sorted(enumerate(items), key=lambda pair: (bucket(pair[1]), pair[0]))
    return "[" + ", ".join(item for _, item in ordered) + "]"


def _check_extraction(ctx: Ctx, config: Json) -> None:
    """ExtractedFieldsDetector.detect at start (TransportStartDataFrameAnalyticsAction, step 4).

    The dependent variable must be mapped with a type its analysis takes (`required field [x]
    is missing; analysis requires fields [x]`, `invalid types [t] for required field [x];
    expected types are [...]`), some field must be analysable (`No compatible fields could be
    detected in index [i]. Supported types are [...].`), and a classification's dependent
    variable needs between 2 and 100 distinct values among the documents the source query
    selects (FieldCardinalityConstraint). Each is a 400 badRequestException.
    """
    if ctx.config.implicit_indices:
        return
    kind, analysis = next(iter(config["analysis"].items()))
    fields = documents.flat_fields(ctx, config["source"]["index"])
    required = analysis.get("dependent_variable")
    if required is not None:
        if required not in fields:
            raise bad_request(
                f"required field [{required}] is missing; analysis requires fields [{required}]"
            )
        allowed = _NUMERICAL if kind == "regression" else _CLASSIFICATION_TYPES
        if fields[required] not in allowed:
            raise bad_request(
                f"invalid types [{fields[required]}] for required field [{required}]; expected "
                f"types are {java_hash_set(allowed)}"
            )
    if not any(entry["is_included"] for entry in _field_selection(ctx, config)):
        supported = (
            "[boolean, byte, double, float, half_float, integer, long, scaled_float, short, "
            "unsigned_long]"
            if kind == "outlier_detection"
            else _supported_types()
        )
        index = ", ".join(config["source"]["index"])
        raise bad_request(
            f"No compatible fields could be detected in index [{index}]. Supported types are "
            f"{supported}."
        )
    if kind == "classification":
        docs = documents.search_docs(ctx, config["source"]["index"], config["source"].get("query"))
        # A multi-field (`label.keyword`) takes its values from its parent field's source.
        parent = required.rsplit(".", 1)[0]
        path = parent if "." in required and fields.get(parent) == "text" else required
        values = {
            json.dumps(documents.field_value(d["_source"], path), sort_keys=True)
            for d in docs
            if documents.field_value(d["_source"], path) is not None
        }
        low, high = _CLASSES
        if len(values) < low:
            raise bad_request(
                f"Field [{required}] must have at least [{low}] distinct values but there were "
                f"[{len(values)}]"
            )
        if len(values) > high:
            raise bad_request(
                f"Field [{required}] must have at most [{high}] distinct values but there were "
                f"at least [{len(values)}]"
            )


def _supported_types() -> str:
    return (
        "[boolean, byte, double, float, half_float, integer, ip, keyword, long, scaled_float, "
        "short, text, unsigned_long]"
    )


def preview_dfa(ctx: Ctx, req: Request) -> Json:
    """GET|POST /_ml/data_frame/analytics[/{id}]/_preview: feature values of source docs."""
    if "id" in req.path_params:
        config = get_config(ctx, req.path_params["id"])
    else:
        body = req.obj()
        check_fields(body, ("config",), "preview_data_frame_analytics", req.raw)
        if body.get("config") is None:
            raise illegal_argument("[config] must be provided when there is no id")
        cfg = dict(body["config"])
        cfg.setdefault("dest", {"index": "preview-dest-placeholder"})
        config = build_config(ctx, cfg, req.raw, "preview")
    fields = documents.flat_fields(ctx, config["source"]["index"])
    includes = config.get("analyzed_fields", {}).get("includes") or []
    wanted = [f for f in sorted(fields) if fields[f] != "text" and (not includes or f in includes)]
    values = []
    for doc in documents.search_docs(ctx, config["source"]["index"], config["source"].get("query"))[
        :100
    ]:
        row = {}
        for field in wanted:
            value = documents.field_value(doc["_source"], field.removesuffix(".keyword"))
            if value is not None:
                row[field] = str(value) if not isinstance(value, str) else value
        values.append(row)
    return {"feature_values": values}


def evaluate(ctx: Ctx, req: Request) -> Json:
    """POST /_ml/data_frame/_evaluate over the documents of an index."""
    body = req.obj()
    check_fields(body, ("index", "query", "evaluation"), "evaluate_data_frame", req.raw)
    if not body.get("index"):
        raise illegal_argument("[index] must not be null")
    if not body.get("evaluation"):
        raise illegal_argument("[evaluation] must not be null")
    names = documents.resolve_indices(ctx, body["index"])
    docs = [d["_source"] for d in documents.search_docs(ctx, names, body.get("query"))]
    kind, spec = next(iter(body["evaluation"].items()))
    from reconciler.sandbox import evaluation

    if kind == "outlier_detection":
        return {kind: evaluation.outlier_detection(docs, spec)}
    if kind == "regression":
        return {kind: evaluation.regression(docs, spec)}
    if kind == "classification":
        return {kind: evaluation.classification(docs, spec)}
    raise EsError(400, "x_content_parse_exception", f"[1:1] unknown evaluation [{kind}]")
