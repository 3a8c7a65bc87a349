"""Shared fixtures (a pytest plugin, loaded by tests/conftest.py) for the operator's own tests: the real operator
(`python -m bridgedapp run`, the Deployment's entry point, as a child process) against the local control plane, Strimzi installed through the operator's own code path from the official bundle, and the
Strimzi simulator (a named test double) standing in for Strimzi's reconcile loop.

Tests observe everything through pykube-ng (`api`), never through the operator's client.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykube
import pytest

from testbed.audit import AuditLog, requests_of
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.operator_process import running_operator, wait_ready
from testbed.service_account import OPERATOR_USER, apply_profile, rendered_profile, service_account_kubeconfig
from testbed.strimzi_bundle import bundle_path
from testbed.strimzi_sim import StrimziSimulator

STRIMZI_NS = "kafka"
REPO = Path(__file__).resolve().parents[1]


def bridgedapp_kind(api: pykube.HTTPClient) -> type[pykube.objects.NamespacedAPIObject]:
    return pykube.object_factory(api, "bridgedapp.io/v1alpha1", "BridgedApp")


def strimzi_kind(api: pykube.HTTPClient, kind: str, version: str = "v1") -> type[pykube.objects.APIObject]:
    return pykube.object_factory(api, f"kafka.strimzi.io/{version}", kind)


@pytest.fixture(scope="session")
def bridgedapp_crd(cluster: LocalCluster) -> None:
    """The BridgedApp CRD from crds/, Established, before any test here runs."""
    cluster.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")


@pytest.fixture(scope="session")
def strimzi_manifest() -> Path:
    """The official Strimzi 1.2.0 bundle, as the operator's BRIDGEDAPP_STRIMZI_MANIFEST."""
    path = bundle_path("1.2.0")
    if path is None:
        pytest.fail("Strimzi 1.2.0 bundle not found: set BRIDGEDAPP_STRIMZI_BUNDLE_DIR (see shared/strimzi)")
    return path


@contextlib.contextmanager
def simulator_running(kubeconfig: Path, **kwargs: Any) -> Iterator[StrimziSimulator]:
    sim = StrimziSimulator(str(kubeconfig), **kwargs)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def simulator(kubeconfig: Path) -> Iterator[StrimziSimulator]:
    """Strimzi's reconcile loop, simulated for the whole session (it waits for the CRDs to exist)."""
    with simulator_running(kubeconfig) as sim:
        yield sim


def as_operator(local: LocalCluster, workdir: Path, profile: str = "install") -> Path:
    """Deploy a profile's roles (deploy/operator) on `local`; a kubeconfig of the operator's ServiceAccount."""
    apply_profile(local, profile)
    return service_account_kubeconfig(local, workdir / "operator.kubeconfig")


def forbidden_requests(local: LocalCluster, *, rbac_only: bool = False) -> list[str]:
    """What the API server refused the operator's ServiceAccount (403), from its audit log. `rbac_only`:
    only RBAC's refusals, not admission's (e.g. an event posted into a namespace being deleted)."""
    return [
        f"{e['verb']} {e['requestURI']}"
        for e in requests_of(local.audit_log, OPERATOR_USER)
        if (e.get("responseStatus") or {}).get("code") == 403
        and (not rbac_only or (e.get("annotations") or {}).get("authorization.k8s.io/decision") == "forbid")
    ]


@pytest.fixture(scope="session")
def operator(
    cluster: LocalCluster,
    strimzi_manifest: Path,
    simulator: StrimziSimulator,
    bridgedapp_crd: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[subprocess.Popen[bytes]]:
    """The operator as its ServiceAccount with the `install` profile's roles, installing Strimzi 1.2.0 from
    the bundle on first need. At the end of the session, an operator that died or a request RBAC refused it
    fails the run."""
    work = tmp_path_factory.mktemp("operator")
    credentials, log = as_operator(cluster, work), work / "operator.log"
    with running_operator(
        credentials, log, env={"BRIDGEDAPP_STRIMZI_MANIFEST": str(strimzi_manifest)}
    ) as proc:
        wait_ready(proc, log)
        yield proc
        assert proc.poll() is None, f"the operator exited ({proc.returncode}):\n" + log.read_text()[-3000:]
    # Tests delete namespaces while the operator still posts events there: admission refuses those (403).
    forbidden = forbidden_requests(cluster, rbac_only=True)
    assert not forbidden, f"RBAC refused the operator {len(forbidden)} requests:\n" + "\n".join(
        forbidden[:20]
    )


@pytest.fixture
def fresh_cluster_factory() -> Iterator[Callable[[str], LocalCluster]]:
    """A separate, empty control plane for tests that need a cluster of their own (CRDs are cluster-wide)."""
    made: list[LocalCluster] = []

    def make(purpose: str) -> LocalCluster:
        local = LocalCluster(f"{os.getpid()}-{purpose}", progress=False)
        local.create()
        made.append(local)
        return local

    yield make
    for local in made:
        local.delete()


@pytest.fixture
def fresh_operator_cluster(
    fresh_cluster_factory: Callable[[str], LocalCluster],
) -> Callable[..., tuple[LocalCluster, pykube.HTTPClient]]:
    """A cluster of its own with the BridgedApp CRD Established and the given namespaces created."""

    def make(purpose: str, *namespaces: str) -> tuple[LocalCluster, pykube.HTTPClient]:
        local = fresh_cluster_factory(purpose)
        local.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        for ns in namespaces:
            local.kubectl("create", "namespace", ns)
        local.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=30s")
        return local, pykube_client(local.kubeconfig)

    return make


# ---- helpers the tests share ------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def make_deployment(
    api: pykube.HTTPClient, namespace: str, name: str, replicas: int = 1
) -> pykube.Deployment:
    labels = {"app": name}
    obj = pykube.Deployment(
        api,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"team": "shop"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "registry.example/app:1",
                                "ports": [{"containerPort": 9000}],
                            }
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                    },
                },
            },
        },
    )
    obj.create()
    return obj


def make_bridgedapp(api: pykube.HTTPClient, namespace: str, name: str, spec: dict[str, Any]) -> Any:
    obj = bridgedapp_kind(api)(
        api,
        {
            "apiVersion": "bridgedapp.io/v1alpha1",
            "kind": "BridgedApp",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        },
    )
    obj.create()
    return obj


def get_bridgedapp(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = bridgedapp_kind(api).objects(api, namespace=namespace).get_or_none(name=name)
    return found.obj if found is not None else None


def conditions(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    app = get_bridgedapp(api, namespace, name) or {}
    return {c["type"]: c for c in (app.get("status") or {}).get("conditions", [])}


class ConditionCheck:
    """A `wait_until` predicate for one condition; `explain()` shows every condition as last seen."""

    def __init__(self, api: pykube.HTTPClient, namespace: str, name: str, type_: str, status: str) -> None:
        self.api, self.namespace, self.name, self.type, self.status = api, namespace, name, type_, status
        self.last: dict[str, dict[str, Any]] = {}

    def __call__(self) -> Any:
        self.last = conditions(self.api, self.namespace, self.name)
        cond = self.last.get(self.type)
        return cond if cond is not None and cond["status"] == self.status else None

    def explain(self) -> str:
        rows = [
            f"  {c['type']}={c['status']} {c['reason']}: {c.get('message', '')}" for c in self.last.values()
        ]
        return f"conditions of {self.namespace}/{self.name}:\n" + ("\n".join(rows) or "  (none)")


def condition_is(
    api: pykube.HTTPClient, namespace: str, name: str, type_: str, status: str = "True"
) -> ConditionCheck:
    return ConditionCheck(api, namespace, name, type_, status)


def event_posted(
    api: pykube.HTTPClient, namespace: str, involved: str, type_: str, reason: str
) -> Callable[[], bool]:
    """A `wait_until` predicate: an event of `type_` and `reason` about `involved` exists. Kopf posts events
    asynchronously, in batches, so tests wait for one rather than look once."""

    def posted() -> bool:
        events = pykube.Event.objects(api, namespace=namespace).filter(
            field_selector={"involvedObject.name": involved}
        )
        return any(e.obj.get("type") == type_ and e.obj.get("reason") == reason for e in events)

    return posted


def secret_text(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


@contextlib.contextmanager
def operator_process(kubeconfig: Path, log_file: Path, **env: str) -> Iterator[Any]:
    """The operator as its users run it (`bridgedapp run`), for clusters other than the session's."""
    with running_operator(kubeconfig, log_file, args=["--verbose"], env=env) as proc:
        yield proc


# ---- the audit log: what the operator wrote, seen by the API server itself --------------------------------

OPERATOR_AGENTS = ("OpenAPI-Generator", "kopf")  # the operator's two clients: its own and Kopf's
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


_audit_logs: dict[Path, AuditLog] = {}


def audit_events(cluster: LocalCluster) -> list[dict[str, Any]]:
    """Every complete event of the cluster's audit log so far (one reader per log: each line is parsed once)."""
    log = _audit_logs.setdefault(cluster.audit_log, AuditLog(cluster.audit_log))
    return log.events()


def operator_writes(cluster: LocalCluster, after: str = "") -> list[dict[str, Any]]:
    return [
        e
        for e in audit_events(cluster)
        if e["verb"] in WRITE_VERBS
        and any(a in e.get("userAgent", "") for a in OPERATOR_AGENTS)
        and e["requestReceivedTimestamp"] > after
        and e.get("objectRef", {}).get("resource") != "events"
    ]


def writes_about(
    cluster: LocalCluster, after: str, namespace: str, kafka_cluster: str
) -> list[dict[str, Any]]:
    """Operator writes since `after` to one app's objects: those in its namespace, its Kafka's objects and
    its KafkaUser (named after the namespace). Other tests' cleanups may write meanwhile; they don't count."""
    return [
        e
        for e in operator_writes(cluster, after=after)
        if e.get("objectRef", {}).get("namespace") == namespace
        or kafka_cluster in e.get("objectRef", {}).get("name", "")
        or e.get("objectRef", {}).get("name", "").startswith(f"{namespace}.")
    ]


def audit_now(cluster: LocalCluster) -> str:
    """The timestamp of the newest audit event: a mark to compare later events against."""
    events = audit_events(cluster)
    return events[-1]["requestReceivedTimestamp"] if events else ""


def settle(
    cluster: LocalCluster, namespace: str, kafka_cluster: str, quiet_for: float = 3.0, timeout: float = 90.0
) -> None:
    """Wait until the operator has written nothing to one app's objects for `quiet_for` seconds."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = len(writes_about(cluster, "", namespace, kafka_cluster)), time.monotonic()
    while time.monotonic() - quiet_since < quiet_for:
        if time.monotonic() > deadline:
            pytest.fail(f"the operator kept writing for {timeout:.0f}s", pytrace=False)
        time.sleep(0.5)
        now = len(writes_about(cluster, "", namespace, kafka_cluster))
        if now != seen:
            seen, quiet_since = now, time.monotonic()


# ---- the operator as admins deploy it: its ServiceAccount, the roles of one profile in deploy/ -------------


def deploy_profile(
    local: LocalCluster, profile: str, manifest: Path, workdir: Path, *, token: str = "operator"
) -> tuple[Path, dict[str, str]]:
    """Apply a profile of deploy/operator (CRD, namespace, ServiceAccount, RBAC, Deployment: kwok runs nothing
    in its pods) and return a kubeconfig with a fresh token of the operator's ServiceAccount and the
    environment the Deployment gives the operator (the bundle path standing in for the image's copy)."""
    apply_profile(local, profile)
    local.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")
    deployment = next(o for o in rendered_profile(local, profile) if o["kind"] == "Deployment")
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    for process_setting in ("BRIDGEDAPP_LIVENESS", "BRIDGEDAPP_METRICS_PORT"):  # pod ports, not loopback ones
        env.pop(process_setting, None)
    env["BRIDGEDAPP_STRIMZI_MANIFEST"] = str(manifest)
    return service_account_kubeconfig(local, workdir / f"{token}.kubeconfig"), env
