"""The method surface matches the official client, so code ports by changing one import.

elasticsearch-py (a test dependency only) is introspected: every method of its `MlClient`, and
every keyword parameter of each, must exist on mlsync's sync and async `ml` namespaces.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch._sync.client.indices import IndicesClient
from elasticsearch._sync.client.ml import MlClient as OfficialMl

import reconciler
import reconciler.client
from reconciler.client import AsyncMLClient, MLClient
from reconciler.client.endpoints import ENDPOINTS
from reconciler.client.namespaces import IndicesNamespace, MlNamespace, RootMethods

OFFICIAL_ML = sorted(
    name for name, _ in inspect.getmembers(OfficialMl, inspect.isfunction) if name[0] != "_"
)
#: Root and index APIs the ML flows use (issue 17), by official class.
ROOT = ["bulk", "count", "create", "delete", "get", "index", "info", "ping", "search"]
INDICES = ["create", "delete", "exists", "get_mapping", "put_mapping", "refresh"]
#: Parameters elasticsearch-py 9.x has that mlsync leaves out: routing hints for serverless
#: projects (`project_routing`, `route_slice`), not ML-related. The ML namespace has none.
LEFT_OUT = {"project_routing", "route_slice", "stats"}


def keywords(func: Callable[..., Any]) -> set[str]:
    return {
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    }


def test_the_official_ml_client_has_the_74_methods_the_issue_counts() -> None:
    assert len(OFFICIAL_ML) == 74 and "perform_request" in OFFICIAL_ML


@pytest.mark.parametrize("name", OFFICIAL_ML)
def test_every_official_ml_method_and_keyword_exists_in_both_clients(name: str) -> None:
    official = keywords(getattr(OfficialMl, name))
    sync_ml = MLClient().ml
    async_ml = AsyncMLClient().ml
    for namespace in (sync_ml, async_ml):
        ours = getattr(namespace, name)
        missing = official - keywords(ours)
        assert not missing, f"ml.{name} lacks the official keyword(s) {sorted(missing)}"
    if name != "perform_request":
        # Extra keywords only where Elastic's specification has them (no invented names).
        endpoint = ENDPOINTS[f"ml.{name}"]
        table = {p.name for p in endpoint.params} | ({"body"} if endpoint.has_body else set())
        table |= {endpoint.body_name} if endpoint.body_name else set()
        assert keywords(getattr(MlNamespace, name)) == table


@pytest.mark.parametrize(
    ("official", "ours", "names"),
    [(Elasticsearch, RootMethods, ROOT), (IndicesClient, IndicesNamespace, INDICES)],
)
def test_root_and_index_methods_take_the_official_keywords(
    official: type, ours: type, names: list[str]
) -> None:
    for name in names:
        missing = keywords(getattr(official, name)) - keywords(getattr(ours, name)) - LEFT_OUT
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_constructor_and_options_take_the_official_keywords_used_by_ml_code() -> None:
    used = {
        "cloud_id", "api_key", "basic_auth", "bearer_auth", "opaque_id", "headers",
        "verify_certs", "ca_certs", "client_cert", "client_key", "ssl_assert_fingerprint",
        "ssl_context", "ssl_show_warn", "request_timeout", "max_retries", "retry_on_status",
        "retry_on_timeout", "retry_backoff_base", "retry_backoff_cap", "connections_per_node",
    }  # fmt: skip
    for official, ours in ((Elasticsearch, MLClient), (AsyncElasticsearch, AsyncMLClient)):
        assert used <= keywords(official.__init__) & keywords(ours.__init__)
        assert keywords(official.options) <= keywords(ours.options)


def test_the_constructor_defaults_are_the_official_ones() -> None:
    defaults = {k: p.default for k, p in inspect.signature(MLClient.__init__).parameters.items()}
    assert defaults["request_timeout"] == 10.0
    assert defaults["max_retries"] == 3
    assert tuple(defaults["retry_on_status"]) == (429, 502, 503, 504)
    assert defaults["retry_on_timeout"] is False
    assert defaults["verify_certs"] is True


def test_generated_methods_are_typed_and_documented_for_editors() -> None:
    sig = inspect.signature(MlNamespace.close_job)
    assert sig.parameters["job_id"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["job_id"].default is inspect.Parameter.empty  # required
    assert "bool" in str(sig.parameters["force"].annotation)
    doc = inspect.getdoc(MlNamespace.close_job) or ""
    assert "POST /_ml/anomaly_detectors/{job_id}/_close" in doc and "force:" in doc


def test_exported_names() -> None:
    assert reconciler.__all__ == ["AsyncMLClient", "MLClient", "__version__"]
    names = reconciler.client.__all__
    assert len(set(names)) == len(names)  # kept in ruff's RUF022 order
    for name in reconciler.client.__all__:
        assert getattr(reconciler.client, name) is not None
    with pytest.raises(AttributeError):
        reconciler.client.NoSuchThing  # noqa: B018
