"""Fixtures for the integration tier (real local control plane) beyond the session cluster of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from bridgedapp.kube import Kube

from testbed.toolchain import Binaries, ToolchainError, ensure_helm
from tests.conftest import in_ci


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Kube:
    """The operator's own API client on the session cluster (tests still observe through `api`)."""
    return Kube.from_env(str(kubeconfig))


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
