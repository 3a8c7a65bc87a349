"""Fixtures for the integration tier (real local control plane) beyond the session cluster of tests/conftest.py."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pykube
import pytest
from bridgedapp.kube import Kube

from testbed import strimzi_bundle
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.toolchain import Binaries, ToolchainError, ensure_helm
from tests.conftest import in_ci


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Kube:
    """The operator's own API client on the session cluster (tests still observe through `api`)."""
    return Kube.from_env(str(kubeconfig))


@pytest.fixture(scope="session")
def fresh_cluster(cluster: LocalCluster) -> Iterator[Callable[[str], LocalCluster]]:
    """Factory of private control planes, for tests that change cluster-wide state (CRDs, Strimzi installs).

    `fresh_cluster("purpose")` starts an empty cluster; all are deleted at the end of the session. Depends on
    `cluster` so that a missing toolchain skips (or, in CI, fails) exactly as it does there.
    """
    made: list[LocalCluster] = []

    def make(purpose: str) -> LocalCluster:
        local = LocalCluster(f"{os.getpid()}-{purpose}", binaries=cluster.binaries, progress=False)
        made.append(local)
        local.create()
        return local

    yield make
    for local in made:
        local.delete()


# ---- Strimzi's CRDs alone, on a control plane of their own (added with the Strimzi simulator's tests) ----


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


@pytest.fixture(scope="session")
def helm(pytestconfig: pytest.Config, binaries: Binaries) -> Path:
    """helm, built once from its Go module into the cache like the control plane (skips or fails alike)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled():
            return ensure_helm(progress=True)
    except ToolchainError as err:
        if in_ci():
            pytest.fail(f"helm unavailable in CI: {err}", pytrace=False)
        pytest.skip(f"helm unavailable: {err}")
