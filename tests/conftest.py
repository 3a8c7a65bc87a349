"""Shared fixtures: one real local control plane per session, started only when a test asks for it.

Unit tests never touch it. Integration tests get `cluster`, `kubeconfig`, `api` (pykube-ng, the
tests' own client, independent of the operator's) and a fresh `namespace` each; a test that needs a
cluster of its own asks for `binaries` and passes them to `LocalCluster`.
When the binaries cannot be had (no cache, no Go): in CI (CI=true) the tests FAIL with the reason,
locally they are SKIPPED with the reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pykube
import pytest

from testbed.cluster import ClusterError, LocalCluster
from testbed.kubeclient import pykube_client
from testbed.polling import poll
from testbed.toolchain import Binaries, ToolchainError, can_build, ensure_binaries

pytest_plugins = ["tests.operator_fixtures"]  # the operator, simulator and CRD fixtures

T = TypeVar("T")
TESTS_DIR = Path(__file__).resolve().parent
WaitUntil = Callable[..., Any]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs the control plane: mark it `integration`."""
    integration_dir = TESTS_DIR / "integration"
    for item in items:
        if integration_dir in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> NoReturn:
    """CI must not silently skip the control-plane tier; a developer without Go may."""
    if in_ci():
        pytest.fail(f"local control plane unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"local control plane unavailable: {reason}")


@pytest.fixture(scope="session")
def binaries(pytestconfig: pytest.Config) -> Binaries:
    """The control plane's binaries, built on first use (progress shown live: minutes when cold)."""
    if not can_build():
        _unavailable(
            "the binaries are not in the cache and no Go toolchain was found: install Go >= 1.24 "
            "(https://go.dev/dl) and run `python -m testbed build`, or set KUBEBUILDER_ASSETS"
        )
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled():
            return ensure_binaries(progress=True)
    except ToolchainError as err:
        _unavailable(str(err))


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config, binaries: Binaries) -> Iterator[LocalCluster]:
    """The session's control plane (3 kwok nodes): started on first use, deleted at the end."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    local = LocalCluster(f"{os.getpid()}-session", binaries=binaries, progress=True)
    with capture.global_and_fixture_disabled():
        local.create()
    try:
        yield local
    finally:
        local.delete()


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


@pytest.fixture(scope="session")
def kubeconfig(cluster: LocalCluster) -> Path:
    """Admin kubeconfig of the session cluster (client certificate of system:masters)."""
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def api(kubeconfig: Path) -> pykube.HTTPClient:
    """pykube-ng client with admin rights: how tests observe and drive the cluster."""
    return pykube_client(kubeconfig)


def _wait_until(
    predicate: Callable[[], T | None], timeout: float = 60.0, what: str = "condition", interval: float = 0.2
) -> T:
    """Poll until predicate returns something truthy and return it; fail naming `what` on timeout."""
    result = poll(predicate, timeout=timeout, interval=interval)
    if not result:
        explain = getattr(predicate, "explain", None)  # a predicate may say what it last saw
        detail = f"\n{explain()}" if callable(explain) else ""
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{detail}", pytrace=False)
    return result


@pytest.fixture(scope="session")
def wait_until() -> WaitUntil:
    """`wait_until(predicate, timeout=60, what=...)`: eventual conditions without sleeps in tests."""
    return _wait_until


@contextlib.contextmanager
def fresh_namespace(api: pykube.HTTPClient, name: str) -> Iterator[str]:
    """A new namespace, ready for pods; deleted after without waiting."""
    ns = pykube.Namespace(api, {"metadata": {"name": name, "labels": {"bridgedapp.io/test": "true"}}})
    ns.create()
    # Pods are refused until the ServiceAccount controller has made `default` in the namespace.
    _wait_until(
        lambda: pykube.ServiceAccount.objects(api, namespace=name).get_or_none(name="default"),
        what=f"ServiceAccount default in namespace {name}",
    )
    try:
        yield name
    finally:
        with contextlib.suppress(pykube.exceptions.HTTPError, ClusterError, OSError):
            ns.delete()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, api: pykube.HTTPClient) -> Iterator[str]:
    """A fresh namespace (name from the test), ready for pods; deleted after without waiting."""
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    with fresh_namespace(api, f"{base}-{uuid.uuid4().hex[:6]}") as name:
        yield name
