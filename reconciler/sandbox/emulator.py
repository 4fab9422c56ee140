"""The `Sandbox`: one request in, one Elasticsearch-shaped response out.

Input: method, target (path + query), headers and body bytes of one HTTP request. Output: a
`SandboxResponse` (status, headers, body, plus fault-injection signals the transports act on).
Does file I/O through `Store` when a state file is configured; otherwise none. Thread-safe: every
request runs inside one store transaction (a process lock plus a SQLite write transaction).

Order per request: admin (`/_sandbox/...`, never logged) or: settle due transitions → fault
rules → media type → authentication → routing and query-parameter checks → handler (on a copy of
the state, committed only on success) → request log.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox import admin, routes, upgrade_mode
from reconciler.sandbox.context import Config, Ctx, Request
from reconciler.sandbox.documents import Reply
from reconciler.sandbox.encoding import dumps
from reconciler.sandbox.exceptions import EsError
from reconciler.sandbox.faults import FaultDecision, evaluate, validate_rules
from reconciler.sandbox.filter_path import apply_filter_path
from reconciler.sandbox.overlay import Overlay
from reconciler.sandbox.store import State, Store
from reconciler.sandbox.transitions import settle

Json = dict[str, Any]
LOG_LIMIT = 10_000
_ANON_DENIED = (
    "unable to authenticate with provided credentials and anonymous access is not allowed for "
    "this request"
)
_READ_ONLY = frozenset({"GET", "HEAD"})
_COMPAT_RE = re.compile(r"compatible-with\s*=\s*(\d+)")
_JSON_TYPES = (
    "application/json",
    "application/vnd.elasticsearch+json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+x-ndjson",
)


@dataclass
class SandboxResponse:
    """An answer, or a fault signal.

    Attributes:
        status: HTTP status.
        headers: Response headers (always `X-Elastic-Product: Elasticsearch` for ES routes).
        body: Encoded body (empty for HEAD).
        drop: Close the connection without answering (request NOT applied).
        timeout: The request WAS applied, but the answer is lost (transports raise ReadTimeout).
        latency: Seconds the transport sleeps before answering.
        hold: Seconds the HTTP server keeps a timed-out connection open before closing it.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    drop: bool = False
    timeout: bool = False
    latency: float = 0.0
    hold: float = 0.0
    meta: Json = field(default_factory=dict)

    def json(self) -> Any:
        """Decode the body (tests)."""
        return json.loads(self.body) if self.body else None


class Sandbox:
    """A faithful Elasticsearch ML REST API emulator (see README.md in this package)."""

    def __init__(
        self,
        state_file: str | os.PathLike[str] | None = None,
        *,
        version: str = "9.1.0",
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        implicit_indices: bool = False,
        transition_delay: float = 0.0,
        faults: list[dict[str, Any]] | None = None,
        latency: float = 0.0,
        datafeed_lookback: float = 0.0,
        dfa_duration: float | None = None,
        max_model_memory_limit: str | None = None,
        ml_config_version: str | None = None,
        fault_seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create an emulator.

        Args:
            state_file: SQLite state database shared by processes; None keeps the state in
                memory. A file that is not a sandbox state raises `StateFileError`.
            version: Elasticsearch version to emulate (`GET /`, version-dependent behaviour).
            api_key: Accepted API key (`id:key` or its base64 encoding); enables security.
            username: Accepted basic-auth user (with `password`); enables security.
            password: Password for `username`.
            implicit_indices: Every concrete index name counts as existing.
            transition_delay: Seconds each state transition takes (opening, closing, …).
            faults: Fault rules installed at start (see faults.py).
            latency: Seconds added to every answer.
            datafeed_lookback: Seconds a datafeed started with `end` runs before stopping itself.
            dfa_duration: Seconds a DFA analysis runs before completing; None = until stopped.
            max_model_memory_limit: `xpack.ml.max_model_memory_limit`, e.g. `"2gb"`.
            ml_config_version: `job_version`/DFA `version` override.
            fault_seed: Seed of the random source used by `rate` fault rules.
            clock: Time source in epoch seconds (tests).
        """
        self.config = Config(
            version=version,
            implicit_indices=implicit_indices,
            transition_delay=transition_delay,
            datafeed_lookback=datafeed_lookback,
            dfa_duration=dfa_duration,
            latency=latency,
            max_model_memory_limit=max_model_memory_limit,
            ml_config_version=ml_config_version,
            fault_seed=fault_seed,
        )
        self.api_key = api_key
        self.username = username
        self.password = password
        self.clock = clock
        self.store = Store(state_file)
        self._rng = random.Random(fault_seed)
        if faults is not None:
            rules = validate_rules(faults)
            with self.store.transaction() as state:
                state["faults"] = rules
        # Explicit start-up settings win over what a shared state file carries from earlier runs.
        start_settings = {
            k: v
            for k, v in (
                ("transition_delay", transition_delay),
                ("latency", latency),
                ("datafeed_lookback", datafeed_lookback),
                ("dfa_duration", dfa_duration),
            )
            if v not in (None, 0.0)
        }
        if start_settings:
            with self.store.transaction() as state:
                state["settings"].update(start_settings)

    @property
    def security_enabled(self) -> bool:
        """Whether credentials are required."""
        return self.api_key is not None or self.username is not None

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> SandboxResponse:
        """Answer one request (thread-safe; see module docstring for the order of steps)."""
        method = method.upper()
        parsed = urllib.parse.urlsplit(target)
        raw_path = parsed.path or "/"
        segments = [urllib.parse.unquote(s) for s in raw_path.split("/") if s]
        path = "/" + "/".join(segments)
        params = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        lower = {k.lower(): v for k, v in headers.items()}
        with self.store.transaction() as state:
            ctx = Ctx(state, self.config, self.clock())
            settle(ctx)
            if segments[:1] == ["_sandbox"]:
                return self._admin(ctx, method, segments, params, body)
            decision = evaluate(state["faults"], method, path, self._rng)
            decision.latency += float(ctx.setting("latency") or 0.0)
            response, template = self._serve(
                ctx, method, path, segments, params, lower, body, decision
            )
            self._log(state, method, path, template, response)
            return response

    # --- internals --------------------------------------------------------------------------

    def _serve(
        self,
        ctx: Ctx,
        method: str,
        path: str,
        segments: list[str],
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        decision: FaultDecision,
    ) -> tuple[SandboxResponse, str | None]:
        if decision.drop:
            return SandboxResponse(0, {}, b"", drop=True, latency=decision.latency), None
        if decision.status is not None:
            return self._json(
                decision.status, decision.body, headers, latency=decision.latency
            ), None
        route, path_params, allowed = routes.match(method, segments)
        template = route.template if route else None
        try:
            compat = self._media_type(headers, body)
            self._authenticate(headers, path)
            if route is None:
                if allowed:
                    msg = (
                        f"Incorrect HTTP method for uri [{path}] and method [{method}], "
                        f"allowed: [{', '.join(allowed)}]"
                    )
                    resp = self._raw_json(405, {"error": msg, "status": 405}, compat)
                    resp.headers["Allow"] = ",".join(allowed)
                    return resp, None
                msg = f"no handler found for uri [{path}] and method [{method}]"
                return self._raw_json(400, {"error": msg, "status": 400}, compat), None
            self._check_params(route, params, path)
            raw = body.decode("utf-8") if body else ""
            # NDJSON bodies (bulk, post data) are read line by line by their handlers.
            ndjson = "ndjson" in headers.get("content-type", "")
            parsed_body = None if ndjson else self._parse_body(raw)
            request = Request(method, path, params, raw, headers, path_params, parsed_body)
            upgrade_mode.check(ctx, route.handler)
            # Handlers work on a copy-on-write overlay: an error leaves the state untouched, and a
            # request costs what it touches, not the size of the whole state.
            # GET and HEAD change nothing in Elasticsearch: their handlers read shared values.
            work = Overlay(ctx.state, shared_reads=method in _READ_ONLY)
            work_ctx = Ctx(work, ctx.config, ctx.now)  # type: ignore[arg-type]
            try:
                result = route.handler(work_ctx, request)
            except EsError as err:
                if err.commit:
                    work.commit()
                raise
            except Exception as exc:  # an emulator bug must still answer like a server would
                raise EsError(500, "exception", f"sandbox internal error: {exc!r}") from exc
            work.commit()
        except EsError as err:
            resp = self._raw_json(err.status, err.body(), headers_compat(headers))
            resp.headers.update(err.headers)
            resp.latency = decision.latency
            return resp, template
        status, payload = (
            (result.status, result.body) if isinstance(result, Reply) else (200, result)
        )
        if params.get("filter_path") and payload is not None:
            payload = apply_filter_path(payload, params["filter_path"])
        resp = self._raw_json(status, payload, compat)
        if method == "HEAD":
            resp.body = b""
        resp.latency = decision.latency
        if decision.timeout:
            resp.timeout = True
            resp.hold = decision.hold
        return resp, template

    def _json(
        self, status: int, payload: Any, headers: dict[str, str], latency: float = 0.0
    ) -> SandboxResponse:
        resp = self._raw_json(status, payload, headers_compat(headers))
        resp.latency = latency
        return resp

    @staticmethod
    def _raw_json(status: int, payload: Any, compat: int | None) -> SandboxResponse:
        content_type = (
            f"application/vnd.elasticsearch+json;compatible-with={compat}"
            if compat is not None
            else "application/json"
        )
        body = b"" if payload is None else dumps(payload)
        return SandboxResponse(
            status, {"X-Elastic-Product": "Elasticsearch", "Content-Type": content_type}, body
        )

    @staticmethod
    def _media_type(headers: dict[str, str], body: bytes) -> int | None:
        """Accept JSON and the compatibility media types for majors 7, 8, 9 (es-ml-api.md §0.1)."""
        compat = headers_compat(headers)
        for name in ("accept", "content-type"):
            match = _COMPAT_RE.search(headers.get(name, ""))
            if match and int(match.group(1)) not in (7, 8, 9):
                raise EsError(
                    400,
                    "media_type_header_exception",
                    f"Invalid media-type value on headers [{name.title()}]",
                    caused_by={
                        "type": "status_exception",
                        "reason": f"Content-Type version must be either version 8 or 9, "
                        f"but found {match.group(1)}",
                    },
                )
        content_type = headers.get("content-type", "")
        if (
            body
            and content_type
            and not content_type.split(";")[0].strip().lower().startswith(_JSON_TYPES)
        ):
            raise EsError(
                406,
                "media_type_header_exception",
                f"Content-Type header [{content_type}] is not supported",
            )
        return compat

    def _authenticate(self, headers: dict[str, str], path: str) -> None:
        """Optional API-key / basic credentials; 401 in Elasticsearch's shape when wrong."""
        if not self.security_enabled:
            return
        challenge = {"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"', "ApiKey"]}
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        scheme = scheme.lower()
        if scheme == "apikey" and self.api_key is not None:
            expected = {self.api_key, base64.b64encode(self.api_key.encode()).decode()}
            if any(hmac.compare_digest(token.strip(), e) for e in expected):
                return
            reason = _ANON_DENIED
        elif scheme == "basic" and self.username is not None:
            try:
                user, _, pwd = base64.b64decode(token.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, pwd = "", ""
            if hmac.compare_digest(user, self.username) and hmac.compare_digest(
                pwd, self.password or ""
            ):
                return
            reason = f"unable to authenticate user [{user}] for REST request [{path}]"
        elif auth:
            reason = _ANON_DENIED
        else:
            reason = f"missing authentication credentials for REST request [{path}]"
        raise EsError(
            401,
            "security_exception",
            reason,
            extra={"header": challenge},
            headers={"WWW-Authenticate": 'Basic realm="security", charset="UTF-8", ApiKey'},
        )

    @staticmethod
    def _check_params(route: routes.Route, params: dict[str, str], path: str) -> None:
        unknown = sorted(
            p for p in params if p not in route.params and p not in routes.COMMON_PARAMS
        )
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            names = ", ".join(f"[{p}]" for p in unknown)
            raise EsError(
                400,
                "illegal_argument_exception",
                f"request [{path}] contains unrecognized parameter{plural}: {names}",
            )

    @staticmethod
    def _parse_body(raw: str) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{exc.lineno}:{exc.colno}] Unexpected character: {exc.msg}",
            ) from None

    @staticmethod
    def _log(
        state: State, method: str, path: str, template: str | None, response: SandboxResponse
    ) -> None:
        entry: Json = {
            "method": method,
            "path": path,
            "status": None if response.drop else response.status,
        }
        if response.drop:
            entry["fault"] = "drop"
        elif response.timeout:
            entry["fault"] = "timeout"
        state.log_request(f"{method} {template or path}", entry, LOG_LIMIT)

    def _admin(
        self, ctx: Ctx, method: str, segments: list[str], params: dict[str, str], body: bytes
    ) -> SandboxResponse:
        try:
            payload = json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return self._raw_json(
                400, EsError(400, "parse_exception", "invalid JSON body").body(), None
            )
        try:
            status, result = admin.handle(self, ctx, method, segments[1:], params, payload)
        except EsError as err:
            return self._raw_json(err.status, err.body(), None)
        return self._raw_json(status, result, None)

    def reset(self) -> None:
        """Wipe all state (same as `POST /_sandbox/_reset`)."""
        self.handle("POST", "/_sandbox/_reset", {}, b"")

    def request_log(self) -> Json:
        """The request counter (same as `GET /_sandbox/requests`)."""
        result: Json = self.handle("GET", "/_sandbox/requests", {}, b"").json()
        return result


def headers_compat(headers: Mapping[str, str]) -> int | None:
    """The `compatible-with` major requested in Accept (or Content-Type), if any."""
    for name in ("accept", "content-type"):
        match = _COMPAT_RE.search(headers.get(name, ""))
        if match:
            return int(match.group(1))
    return None
