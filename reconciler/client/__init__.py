"""mlsync's Elasticsearch client: the ML REST API over httpx, sync and async.

Input/Output: see the modules. `api` (the pure request catalogue), `errors`, `response`,
`retry`, `connection`, `preflight`, `endpoint`, `endpoints` (the generated table),
`namespaces` (the generated methods), `options`, `serializer` and `base` do no I/O; `sync`,
`async_` and `transport`
do the HTTP and are loaded on first use of `MLClient`/`AsyncMLClient`, so that importing
`reconciler.client.api` from the pure planner does not load httpx.

```python
from reconciler import MLClient
client = MLClient(hosts=["http://localhost:9200"], api_key="id:key")
client.ml.get_jobs(job_id="transaction_anomalies")
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconciler.client.api import Call, describe
from reconciler.client.connection import (
    ConnectionConfig,
    ConnectionConfigError,
    InsecureConnectionWarning,
    Redactor,
)
from reconciler.client.errors import (
    ApiError,
    AuthenticationError,
    AuthenticationException,
    AuthorizationError,
    AuthorizationException,
    BadRequestError,
    ClientError,
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    MLUnavailableError,
    NotFoundError,
    RequestError,
    SerializationError,
    ServerError,
    SSLError,
    TooManyRequestsError,
    TransportError,
    UnsupportedProductError,
    describe_error,
)
from reconciler.client.options import MLSYNC_POLICY
from reconciler.client.preflight import ClusterInfo
from reconciler.client.response import (
    ApiResponse,
    ApiResponseMeta,
    HeadApiResponse,
    HttpHeaders,
    ListApiResponse,
    ObjectApiResponse,
    TextApiResponse,
)
from reconciler.client.retry import RetryPolicy

__all__ = [
    "MLSYNC_POLICY",
    "ApiError",
    "ApiResponse",
    "ApiResponseMeta",
    "AsyncMLClient",
    "AuthenticationError",
    "AuthenticationException",
    "AuthorizationError",
    "AuthorizationException",
    "BadRequestError",
    "Call",
    "ClientError",
    "ClusterInfo",
    "ConflictError",
    "ConnectionConfig",
    "ConnectionConfigError",
    "ConnectionError",
    "ConnectionTimeout",
    "HeadApiResponse",
    "HttpHeaders",
    "InsecureConnectionWarning",
    "ListApiResponse",
    "MLClient",
    "MLUnavailableError",
    "NotFoundError",
    "ObjectApiResponse",
    "Redactor",
    "RequestError",
    "RetryPolicy",
    "SSLError",
    "SerializationError",
    "ServerError",
    "TextApiResponse",
    "TooManyRequestsError",
    "TransportError",
    "UnsupportedProductError",
    "describe",
    "describe_error",
]


if TYPE_CHECKING:  # the real classes for type checkers; loaded lazily at run time
    from reconciler.client.async_ import AsyncMLClient
    from reconciler.client.sync import MLClient

_LAZY = {"MLClient": "reconciler.client.sync", "AsyncMLClient": "reconciler.client.async_"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reconciler.client' has no attribute {name!r}")
