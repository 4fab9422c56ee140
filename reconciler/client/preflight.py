"""Preflight: what cluster is this, and can mlsync use machine learning on it?

Input: the bodies of `GET /`, `GET /_license` and `GET /_ml/info` (or why one was missing).
Output: a `ClusterInfo` value, and `require_ml(info)` raising a clear error when ML cannot be
used. No I/O (the clients make the three calls).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.client.errors import MLUnavailableError, UnsupportedProductError

#: Licences that include machine learning (ux-conventions.md §1.7).
ML_LICENSES = frozenset({"trial", "platinum", "enterprise"})
#: REST compatibility reaches one major back, and mlsync targets 8.x/9.x (ux-conventions.md §1.6).
SUPPORTED_MAJORS = range(8, 10)


class ClusterInfo(BaseModel):
    """One line of facts about the cluster, for the banner and for the saved plan."""

    model_config = ConfigDict(frozen=True)

    cluster_name: str
    cluster_uuid: str
    version: str
    major: int | None
    flavor: str
    serverless: bool
    license_type: str | None
    license_status: str | None
    ml_available: bool
    upgrade_mode: bool
    #: `_ml/info.limits.max_model_memory_limit`: only present when the setting is set.
    max_model_memory_limit: str | None = None
    #: `_ml/info.limits.effective_max_model_memory_limit`: what the nodes can actually hold.
    effective_max_model_memory_limit: str | None = None
    #: Why ML is unavailable, when it is.
    ml_unavailable_reason: str | None = None

    def banner(self) -> str:
        """`Connected to prod (es 8.15.3, default flavor, ...)` (ux-conventions.md §1.7)."""
        licence = f"licence {self.license_type} {self.license_status}" if self.license_type else ""
        parts = [
            f"es {self.version}" if not self.serverless else "serverless",
            f"{self.flavor} flavor",
            f"cluster_uuid={self.cluster_uuid}",
            licence,
            "ML enabled" if self.ml_available else "ML unavailable",
            f"upgrade_mode={str(self.upgrade_mode).lower()}",
        ]
        return f"Connected to {self.cluster_name} ({'; '.join(p for p in parts if p)})"


def summarize(
    root: Any, license_body: Any, ml_body: Any, ml_error: str | None = None
) -> ClusterInfo:
    """Combine the three answers; `ml_error` is why `GET /_ml/info` failed, if it did."""
    root = root if isinstance(root, dict) else {}
    version: dict[str, Any] = root["version"] if isinstance(root.get("version"), dict) else {}
    number = str(version.get("number", ""))
    flavor = str(version.get("build_flavor", "default"))
    try:
        major: int | None = int(number.split(".", 1)[0])
    except ValueError:
        major = None
    serverless = flavor == "serverless"

    lic = license_body.get("license") if isinstance(license_body, dict) else None
    lic = lic if isinstance(lic, dict) else {}
    license_type = lic.get("type")
    license_status = lic.get("status")

    ml = ml_body if isinstance(ml_body, dict) else {}
    limits: dict[str, Any] = ml["limits"] if isinstance(ml.get("limits"), dict) else {}
    reason = None
    if ml_error is not None:
        reason = f"the ML info API failed: {ml_error}"
    elif license_type is not None and (
        license_type not in ML_LICENSES or license_status != "active"
    ):
        reason = (
            "machine learning needs a Platinum or Enterprise licence or an active trial; "
            f"current licence: {license_type} ({license_status})"
        )
    return ClusterInfo(
        cluster_name=str(root.get("cluster_name", "")),
        cluster_uuid=str(root.get("cluster_uuid", "")),
        version=number,
        major=major,
        flavor=flavor,
        serverless=serverless,
        license_type=license_type,
        license_status=license_status,
        ml_available=reason is None,
        upgrade_mode=bool(ml.get("upgrade_mode", False)),
        max_model_memory_limit=limits.get("max_model_memory_limit"),
        effective_max_model_memory_limit=limits.get("effective_max_model_memory_limit"),
        ml_unavailable_reason=reason,
    )


def require_ml(info: ClusterInfo) -> None:
    """Raise when mlsync cannot manage ML on this cluster.

    Raises:
        UnsupportedProductError: an Elasticsearch major other than 8 or 9.
        MLUnavailableError: no ML licence, ML disabled, or ML upgrade mode on (all ML tasks
            are paused then, ux-conventions.md §4.7).
    """
    if not info.serverless and info.major is not None and info.major not in SUPPORTED_MAJORS:
        raise UnsupportedProductError(
            f"mlsync supports Elasticsearch 8.x and 9.x; {info.cluster_name} runs {info.version}"
        )
    if not info.ml_available:
        raise MLUnavailableError(
            f"machine learning is not available on {info.cluster_name}: "
            f"{info.ml_unavailable_reason}",
            cluster=info,
        )
    if info.upgrade_mode:
        raise MLUnavailableError(
            f"machine learning on {info.cluster_name} is in upgrade mode (all ML tasks are "
            "paused); wait for the upgrade to finish or turn it off with "
            "POST _ml/set_upgrade_mode?enabled=false",
            cluster=info,
        )
