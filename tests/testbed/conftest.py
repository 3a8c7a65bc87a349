"""The test bed's own tests: which need the local control plane, and Strimzi's CRDs alone on a control plane of
their own (what the Strimzi simulator's tests run against)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pykube
import pytest

from testbed import strimzi_bundle
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client

TESTBED_DIR = Path(__file__).resolve().parent
# A test that needs one of these needs the control plane (built from Go modules): it is `integration`.
CONTROL_PLANE_FIXTURES = ("cluster", "binaries")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test bed's tests on the real control plane are marked `integration` like tests/integration's, so
    `-m "not integration"` keeps the fast ones (pure, or real processes without a cluster)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if TESTBED_DIR in Path(item.path).resolve().parents and any(
            f in names for f in CONTROL_PLANE_FIXTURES
        ):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class StrimziCrds:
    """A private control plane holding only the official Strimzi CRDs (no operator Deployment)."""

    cluster: LocalCluster
    api: pykube.HTTPClient
    version: str
    names: tuple[str, ...]


def install_strimzi_crds(
    api: pykube.HTTPClient, version: str = "1.2.0", timeout: float = 60.0
) -> tuple[str, ...]:
    """Apply only the CustomResourceDefinitions of the official bundle (server-side) and wait until Established."""
    if strimzi_bundle.bundle_path(version) is None:
        pytest.skip(strimzi_bundle.missing_reason(version))
    base = f"{api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    names = []
    for crd in strimzi_bundle.crds(version):
        name = crd["metadata"]["name"]
        response = api.session.request(
            "PATCH",
            f"{base}/{name}",
            params={"fieldManager": "bridgedapp-tests", "force": "true"},
            data=json.dumps(crd),
            headers={"Content-Type": "application/apply-patch+yaml"},
            timeout=60,
        )
        response.raise_for_status()
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = api.session.get(f"{base}/{name}", timeout=30).json()
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"CRD {name} of Strimzi {version} not Established after {timeout:.0f}s", pytrace=False
                )
            time.sleep(0.2)
    return tuple(names)


@pytest.fixture(scope="session")
def strimzi_crds(fresh_cluster: Callable[[str], LocalCluster]) -> StrimziCrds:
    """The Strimzi 1.2.0 CRDs (from $BRIDGEDAPP_STRIMZI_BUNDLE_DIR, default ../shared/strimzi) on a private cluster.

    Private because CRDs are cluster-wide: on the session cluster, CRDs without an operator would make the
    operator's own tests find a foreign, partial Strimzi and refuse to install one.
    """
    local = fresh_cluster("strimzi-crds")
    api = pykube_client(local.kubeconfig)
    return StrimziCrds(cluster=local, api=api, version="1.2.0", names=install_strimzi_crds(api, "1.2.0"))
