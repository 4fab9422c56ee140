"""Fault injection rules and their evaluation for one request.

Input: the list of rules stored in the state and a request's method and path. Output: a
`FaultDecision` (added latency, an error status to answer instead, a dropped connection, or a
"timeout": apply the request then lose the answer). No I/O; the random source is injected.

Rule keys: `method` (optional, exact), `path` (optional regex, searched in the path),
`status` (+ optional `error` `{type, reason}` or full `body`), `rate` (0..1, default 1),
`times` (apply N times, then the rule is removed), `drop`, `timeout`, `latency` (seconds),
`hold` (seconds the HTTP server keeps a "timeout" connection open before closing it).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.exceptions import EsError

Json = dict[str, Any]
RULE_KEYS = {
    "method",
    "path",
    "status",
    "error",
    "body",
    "rate",
    "times",
    "drop",
    "timeout",
    "latency",
    "hold",
}


@dataclass
class FaultDecision:
    """What the matching rules ask for."""

    latency: float = 0.0
    status: int | None = None
    body: Json | None = None
    drop: bool = False
    timeout: bool = False
    hold: float = 1.0


def validate_rules(rules: Any) -> list[Json]:
    """Check a rule list (`PUT /_sandbox/faults`), raising 400 on a malformed rule."""
    if isinstance(rules, dict):
        rules = rules.get("faults", rules.get("rules", [rules]))
    if not isinstance(rules, list):
        raise EsError(400, "illegal_argument_exception", "faults must be a list of rules")
    out = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise EsError(400, "illegal_argument_exception", "a fault rule must be an object")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise EsError(
                400, "illegal_argument_exception", f"unknown fault rule keys {sorted(unknown)}"
            )
        if "path" in rule:
            try:
                re.compile(rule["path"])
            except re.error as exc:
                raise EsError(
                    400, "illegal_argument_exception", f"invalid path regex: {exc}"
                ) from None
        rate = float(rule.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise EsError(400, "illegal_argument_exception", "rate must be within [0, 1]")
        if not any(k in rule for k in ("status", "drop", "timeout", "latency")):
            raise EsError(
                400,
                "illegal_argument_exception",
                "a fault rule needs one of status, drop, timeout, latency",
            )
        out.append(dict(rule))
    return out


def evaluate(rules: list[Json], method: str, path: str, rng: random.Random) -> FaultDecision:
    """Apply matching rules in order; consumes `times` (mutates `rules`)."""
    decision = FaultDecision()
    for rule in list(rules):
        if "method" in rule and str(rule["method"]).upper() != method.upper():
            continue
        if "path" in rule and not re.search(rule["path"], path):
            continue
        if rng.random() >= float(rule.get("rate", 1.0)):
            continue
        if "times" in rule:
            rule["times"] = int(rule["times"]) - 1
            if rule["times"] <= 0:
                rules.remove(rule)
        decision.latency += float(rule.get("latency", 0.0))
        if decision.status is not None or decision.drop or decision.timeout:
            continue
        if rule.get("drop"):
            decision.drop = True
        elif rule.get("timeout"):
            decision.timeout = True
            decision.hold = float(rule.get("hold", 1.0))
        elif "status" in rule:
            decision.status = int(rule["status"])
            decision.body = rule.get("body") or _error_body(decision.status, rule.get("error"))
    return decision


def _error_body(status: int, error: Json | None) -> Json:
    defaults = {
        429: ("es_rejected_execution_exception", "rejected execution (injected fault)"),
        500: ("exception", "injected fault"),
        502: ("exception", "bad gateway (injected fault)"),
        503: (
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/2/no master]; (injected fault)",
        ),
        504: ("timeout_exception", "timed out (injected fault)"),
    }
    etype, reason = defaults.get(status, ("status_exception", "injected fault"))
    if error:
        etype = error.get("type", etype)
        reason = error.get("reason", reason)
    return EsError(status, etype, reason).body()
