"""Evaluation metrics of `POST /_ml/data_frame/_evaluate`.

Input: the source documents of the evaluated index and the evaluation spec. Output: metric
objects shaped like Elasticsearch's responses (spec evaluate_data_frame examples). No I/O.
"""

from __future__ import annotations

import math
from typing import Any

from reconciler.sandbox.documents import field_value
from reconciler.sandbox.exceptions import illegal_argument

Json = dict[str, Any]


def _auc(scores: list[tuple[float, bool]]) -> float:
    """Area under the ROC curve by the rank-sum formula (ties averaged)."""
    positives = sum(1 for _, p in scores if p)
    negatives = len(scores) - positives
    if positives == 0 or negatives == 0:
        return 0.0
    ordered = sorted(scores, key=lambda s: s[0])
    rank_sum = 0.0
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2
        rank_sum += avg_rank * sum(1 for k in range(i, j) if ordered[k][1])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def outlier_detection(docs: list[Json], spec: Json) -> Json:
    """auc_roc, confusion_matrix, precision and recall at thresholds (defaults 0.25/0.5/0.75)."""
    actual_field = spec.get("actual_field")
    prob_field = spec.get("predicted_probability_field")
    if not actual_field or not prob_field:
        raise illegal_argument("[actual_field] and [predicted_probability_field] must be set")
    pairs = [
        (float(field_value(d, prob_field)), _truthy(field_value(d, actual_field)))
        for d in docs
        if field_value(d, prob_field) is not None and field_value(d, actual_field) is not None
    ]
    metrics = spec.get("metrics") or {
        "auc_roc": {}, "precision": {"at": [0.25, 0.5, 0.75]}, "recall": {"at": [0.25, 0.5, 0.75]},
        "confusion_matrix": {"at": [0.25, 0.5, 0.75]},
    }  # fmt: skip
    out: Json = {}
    if "auc_roc" in metrics:
        out["auc_roc"] = {"value": _auc(pairs)}
    if "confusion_matrix" in metrics:
        out["confusion_matrix"] = {}
        for t in metrics["confusion_matrix"].get("at", [0.25, 0.5, 0.75]):
            out["confusion_matrix"][str(t)] = {
                "tp": sum(1 for s, p in pairs if s >= t and p),
                "fp": sum(1 for s, p in pairs if s >= t and not p),
                "tn": sum(1 for s, p in pairs if s < t and not p),
                "fn": sum(1 for s, p in pairs if s < t and p),
            }
    for name in ("precision", "recall"):
        if name in metrics:
            out[name] = {}
            for t in metrics[name].get("at", [0.25, 0.5, 0.75]):
                tp = sum(1 for s, p in pairs if s >= t and p)
                denom = (
                    sum(1 for s, _ in pairs if s >= t)
                    if name == "precision"
                    else sum(1 for _, p in pairs if p)
                )
                out[name][str(t)] = tp / denom if denom else 0
    return out


def regression(docs: list[Json], spec: Json) -> Json:
    """mse, msle, huber and r_squared (all by default)."""
    actual_field = spec.get("actual_field")
    predicted_field = spec.get("predicted_field")
    if not actual_field or not predicted_field:
        raise illegal_argument("[actual_field] and [predicted_field] must be set")
    pairs = [
        (float(field_value(d, actual_field)), float(field_value(d, predicted_field)))
        for d in docs
        if field_value(d, actual_field) is not None and field_value(d, predicted_field) is not None
    ]
    metrics = spec.get("metrics") or {"mse": {}, "r_squared": {}, "huber": {}, "msle": {}}
    n = len(pairs) or 1
    out: Json = {}
    if "mse" in metrics:
        out["mse"] = {"value": sum((a - p) ** 2 for a, p in pairs) / n}
    if "msle" in metrics:
        offset = float((metrics["msle"] or {}).get("offset", 1.0))
        out["msle"] = {
            "value": sum(
                (math.log(max(a, 0) + offset) - math.log(max(p, 0) + offset)) ** 2 for a, p in pairs
            )
            / n
        }
    if "huber" in metrics:
        delta = float((metrics["huber"] or {}).get("delta", 1.0))
        out["huber"] = {
            "value": sum(delta**2 * (math.sqrt(1 + ((a - p) / delta) ** 2) - 1) for a, p in pairs)
            / n
        }
    if "r_squared" in metrics:
        mean = sum(a for a, _ in pairs) / n
        total = sum((a - mean) ** 2 for a, _ in pairs)
        residual = sum((a - p) ** 2 for a, p in pairs)
        out["r_squared"] = {"value": 1 - residual / total if total else 0.0}
    return out


def classification(docs: list[Json], spec: Json) -> Json:
    """multiclass_confusion_matrix, accuracy, precision, recall, auc_roc."""
    actual_field = spec.get("actual_field")
    if not actual_field:
        raise illegal_argument("[actual_field] must be set")
    predicted_field = spec.get("predicted_field")
    metrics = spec.get("metrics") or {
        "accuracy": {},
        "multiclass_confusion_matrix": {},
        "precision": {},
        "recall": {},
    }
    rows = [
        (
            field_value(d, actual_field),
            field_value(d, predicted_field) if predicted_field else None,
            d,
        )
        for d in docs
        if field_value(d, actual_field) is not None
    ]
    out: Json = {}
    classes = sorted({str(a) for a, _, _ in rows})
    if "multiclass_confusion_matrix" in metrics:
        matrix = []
        for cls in classes:
            actual_rows = [r for r in rows if str(r[0]) == cls]
            counts: dict[str, int] = {}
            for _, predicted, _ in actual_rows:
                counts[str(predicted)] = counts.get(str(predicted), 0) + 1
            ordered = sorted(classes, key=lambda c: (-counts.get(c, 0), c))
            matrix.append(
                {
                    "actual_class": cls,
                    "actual_class_doc_count": len(actual_rows),
                    "predicted_classes": [
                        {"predicted_class": c, "count": counts.get(c, 0)} for c in ordered
                    ],
                    "other_predicted_class_doc_count": sum(
                        v for k, v in counts.items() if k not in classes
                    ),
                }
            )
        out["multiclass_confusion_matrix"] = {
            "confusion_matrix": matrix,
            "other_actual_class_count": 0,
        }
    if "accuracy" in metrics:
        correct = sum(1 for a, p, _ in rows if str(a) == str(p))
        out["accuracy"] = {
            "classes": [
                {
                    "class_name": c,
                    "value": sum(1 for a, p, _ in rows if (str(a) == c) == (str(p) == c))
                    / (len(rows) or 1),
                }
                for c in classes
            ],
            "overall_accuracy": correct / (len(rows) or 1),
        }
    for name in ("precision", "recall"):
        if name in metrics:
            per: list[Json] = []
            for c in classes:
                tp = sum(1 for a, p, _ in rows if str(a) == c and str(p) == c)
                denom = sum(
                    1 for a, p, _ in rows if (str(p) if name == "precision" else str(a)) == c
                )
                per.append({"class_name": c, "value": tp / denom if denom else 0.0})
            out[name] = {
                "classes": per,
                f"avg_{name}": sum(float(x["value"]) for x in per) / (len(per) or 1),
            }
    if "auc_roc" in metrics:
        class_name = str((metrics["auc_roc"] or {}).get("class_name"))
        scores = []
        for a, _, doc in rows:
            top = field_value(doc, "ml.top_classes") or []
            prob = next(
                (
                    float(t.get("class_probability", 0))
                    for t in top
                    if str(t.get("class_name")) == class_name
                ),
                0.0,
            )
            scores.append((prob, str(a) == class_name))
        out["auc_roc"] = {"value": _auc(scores)}
    return out
