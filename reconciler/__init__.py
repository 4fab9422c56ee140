"""mlsync: declarative reconciler for Elasticsearch machine-learning configuration.

The import package is `reconciler`; the distribution and the command are `mlsync`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["AsyncMLClient", "MLClient", "__version__"]


def __getattr__(name: str) -> Any:
    # `from reconciler import MLClient` loads the client on first use: pure modules import
    # `reconciler` (for __version__) and must not pull in httpx with it (import contract
    # "pure core does no I/O" in pyproject.toml).
    if name in ("MLClient", "AsyncMLClient"):
        return getattr(importlib.import_module("reconciler.client"), name)
    raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
