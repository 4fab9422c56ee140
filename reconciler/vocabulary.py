"""Elasticsearch ML vocabulary shared by the manifest validator and the normaliser.

Input/Output: constants. Pure, no I/O. One table per fact, so validation and comparison
cannot disagree about, say, which detector function names are shortcuts.
"""

from __future__ import annotations

#: Detector function shortcuts and the long names Elasticsearch stores and returns
#: (es-ml-api.md §1.3, DetectorFunction).
FUNCTION_SHORTCUTS: dict[str, str] = {
    "nzc": "non_zero_count",
    "low_nzc": "low_non_zero_count",
    "high_nzc": "high_non_zero_count",
    "dc": "distinct_count",
    "low_dc": "low_distinct_count",
    "high_dc": "high_distinct_count",
}
