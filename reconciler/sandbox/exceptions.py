"""Elasticsearch error values raised by the emulator's handlers.

Input: a status, an error type and a reason. Output: `EsError` exceptions and the JSON error
envelope Elasticsearch renders for them (es-ml-api.md §0.1/§0.2). No I/O.
"""

from __future__ import annotations

from typing import Any


class EsError(Exception):
    """An error answered in Elasticsearch's envelope.

    Attributes:
        status: HTTP status code.
        type: Elasticsearch exception type (`error.type`).
        reason: Message text (`error.reason`).
        extra: Additional keys for the root cause (e.g. `index`, `header`).
        caused_by: Optional nested cause `{"type", "reason"}`.
        root_cause: The `root_cause` list when it is not this error itself (a search whose
            shards all failed answers `search_phase_execution_exception` over the shards'
            errors).
        commit: Whether the request's state changes stay despite the error.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str,
        *,
        extra: dict[str, Any] | None = None,
        caused_by: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        commit: bool = False,
        root_cause: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.extra = extra or {}
        self.caused_by = caused_by
        self.headers = headers or {}
        # The change took effect before the error (a wait that timed out): keep the state.
        self.commit = commit
        self.root_cause = root_cause

    def body(self) -> dict[str, Any]:
        """The JSON body Elasticsearch answers for this error (es-ml-api.md §0.1)."""
        root: dict[str, Any] = {"type": self.type, "reason": self.reason, **self.extra}
        err: dict[str, Any] = {"root_cause": self.root_cause or [root], **root}
        if self.caused_by is not None:
            err["caused_by"] = self.caused_by
        return {"error": err, "status": self.status}


def not_found(reason: str, **extra: Any) -> EsError:
    """404 `resource_not_found_exception` (ExceptionsHelper.missingJobException & co)."""
    return EsError(404, "resource_not_found_exception", reason, extra=extra)


def already_exists(reason: str) -> EsError:
    """400 `resource_already_exists_exception`."""
    return EsError(400, "resource_already_exists_exception", reason)


def conflict(reason: str) -> EsError:
    """409 `status_exception` (ExceptionsHelper.conflictStatusException)."""
    return EsError(409, "status_exception", reason)


def bad_request(reason: str) -> EsError:
    """400 `status_exception` (ExceptionsHelper.badRequestException)."""
    return EsError(400, "status_exception", reason)


def illegal_argument(reason: str) -> EsError:
    """400 `illegal_argument_exception` (config builder validation)."""
    return EsError(400, "illegal_argument_exception", reason)


def validation_failed(*messages: str) -> EsError:
    """400 `action_request_validation_exception` with ES's numbered message list."""
    text = "Validation Failed: " + "".join(f"{i}: {m};" for i, m in enumerate(messages, 1))
    return EsError(400, "action_request_validation_exception", text)


def parse_error(reason: str, *, cause: EsError | None = None) -> EsError:
    """400 `x_content_parse_exception` (ObjectParser failures)."""
    caused = None if cause is None else {"type": cause.type, "reason": cause.reason}
    return EsError(400, "x_content_parse_exception", reason, caused_by=caused)


def index_not_found(index: str) -> EsError:
    """404 `index_not_found_exception` as the REST layer renders it."""
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{index}]",
        extra={
            "resource.type": "index_or_alias",
            "resource.id": index,
            "index_uuid": "_na_",
            "index": index,
        },
    )
