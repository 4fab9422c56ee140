"""mlsync: declarative reconciler for Elasticsearch machine-learning configuration.

The import package is `reconciler`; the distribution and the command are `mlsync`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
