"""What the fault scenarios make and check: many BridgedApps on one shared Kafka, and the invariants after a
fault (all Ready; exactly one KafkaUser, Secret, ConfigMap and sidecar each; nothing left after delete)."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pykube
from bridgedapp import MANAGED_BY_LABELS, SIDECAR_NAME
from bridgedapp.builders.bridge import bridge_config_name, credentials_secret_name
from bridgedapp.builders.user import kafka_user_name

from tests.faults.conftest import wait_for
from tests.operator_fixtures import STRIMZI_NS, bridgedapp_kind, make_deployment, strimzi_kind

KAFKA = "shared"
MANAGED = ",".join(f"{k}={v}" for k, v in MANAGED_BY_LABELS.items())


def app_spec(namespace: str, name: str) -> dict[str, Any]:
    return {
        "deploymentName": name,
        "kafka": {"clusterName": KAFKA, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [{"name": f"{namespace}.{name}", "replicas": 1}],
    }


def retrying(call: Any, attempts: int = 20) -> Any:
    """429s while a fresh CRD's storage initialises, connection errors while the API server restarts."""
    for attempt in range(attempts):
        try:
            return call()
        except (pykube.exceptions.HTTPError, OSError) as err:
            if attempt == attempts - 1 or getattr(err, "code", 429) not in (429, 500, 503):
                raise
            time.sleep(0.5)
    return None


def make_namespace(api: pykube.HTTPClient, name: str) -> None:
    pykube.Namespace(api, {"metadata": {"name": name}}).create()
    wait_for(
        lambda: pykube.ServiceAccount.objects(api, namespace=name).get_or_none(name="default"),
        60,
        f"ServiceAccount default in {name}",
    )


def create_apps(
    api: pykube.HTTPClient, namespace: str, names: list[str], *, deployments: bool = True
) -> None:
    """Deployments and BridgedApps, several at once (as a GitOps sync would)."""

    def one(name: str) -> None:
        if deployments:
            retrying(lambda: make_deployment(api, namespace, name))
        retrying(
            lambda: bridgedapp_kind(api)(
                api,
                {
                    "apiVersion": "bridgedapp.io/v1alpha1",
                    "kind": "BridgedApp",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": app_spec(namespace, name),
                },
            ).create()
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, names))


def conditions_of(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (app.get("status") or {}).get("conditions") or []}


class AllReady:
    """A `wait_for` predicate: every named BridgedApp has Ready=True for its current generation."""

    def __init__(self, api: pykube.HTTPClient, namespace: str, names: list[str]) -> None:
        self.api, self.namespace, self.names = api, namespace, set(names)
        self.not_ready: dict[str, str] = {}

    def __call__(self) -> bool:
        try:
            apps = {
                a.name: a.obj for a in bridgedapp_kind(self.api).objects(self.api, namespace=self.namespace)
            }
        except (pykube.exceptions.HTTPError, OSError) as err:
            self.not_ready = {"(list)": str(err)[:200]}
            return False
        self.not_ready = {}
        for name in self.names:
            app = apps.get(name)
            ready = conditions_of(app or {}).get("Ready", {})
            observed = (app or {}).get("status", {}).get("observedGeneration")
            if app is None or ready.get("status") != "True" or observed != app["metadata"]["generation"]:
                self.not_ready[name] = f"{ready.get('reason')}: {ready.get('message', '')[:160]}"
        return not self.not_ready

    def explain(self) -> str:
        rows = sorted(self.not_ready.items())
        return f"{len(rows)} not Ready in {self.namespace}:\n" + "\n".join(
            f"  {n}: {r}" for n, r in rows[:20]
        )


def ready_count(api: pykube.HTTPClient, namespace: str) -> int:
    with contextlib.suppress(pykube.exceptions.HTTPError, OSError):
        return sum(
            conditions_of(a.obj).get("Ready", {}).get("status") == "True"
            for a in bridgedapp_kind(api).objects(api, namespace=namespace)
        )
    return -1


def sidecars(deployment: dict[str, Any]) -> int:
    pod = deployment["spec"]["template"]["spec"]
    return sum(
        c["name"] == SIDECAR_NAME for c in [*pod.get("containers", []), *pod.get("initContainers", [])]
    )


def assert_exactly_one_of_each(api: pykube.HTTPClient, namespace: str, names: list[str]) -> dict[str, int]:
    """Per app: one KafkaUser, one credentials Secret, one bridge ConfigMap, one sidecar; none extra."""
    users = {u.name for u in strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS)}
    ours_users = {u for u in users if u.startswith(f"{namespace}.")}
    secrets = [s.name for s in pykube.Secret.objects(api, namespace=namespace).filter(selector=MANAGED)]
    configmaps = [c.name for c in pykube.ConfigMap.objects(api, namespace=namespace).filter(selector=MANAGED)]
    deployments = {d.name: d.obj for d in pykube.Deployment.objects(api, namespace=namespace)}
    assert ours_users == {kafka_user_name(namespace, n) for n in names}, ours_users
    assert sorted(secrets) == sorted(credentials_secret_name(n) for n in names), secrets
    assert sorted(configmaps) == sorted(bridge_config_name(n) for n in names), configmaps
    counts = {n: sidecars(deployments[n]) for n in names}
    assert set(counts.values()) == {1}, counts
    return {"kafkausers": len(ours_users), "secrets": len(secrets), "configmaps": len(configmaps)}


def delete_apps_and_assert_nothing_left(
    api: pykube.HTTPClient, namespace: str, timeout: float, during: Any = None
) -> float:
    """Delete every BridgedApp of the namespace; returns the seconds until all were gone (no stuck
    finalizer), then checks that the operator took back all it made (topics stay, by design)."""
    started = time.monotonic()
    for app in bridgedapp_kind(api).objects(api, namespace=namespace):
        app.delete()
    if during is not None:
        during()
    wait_for(
        lambda: not list(bridgedapp_kind(api).objects(api, namespace=namespace)),
        timeout,
        f"every BridgedApp in {namespace} deleted (no stuck finalizer)",
    )
    took = time.monotonic() - started

    def nothing_left() -> bool:
        users = [
            u.name
            for u in strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS)
            if u.name.startswith(f"{namespace}.")
        ]
        secrets = list(pykube.Secret.objects(api, namespace=namespace).filter(selector=MANAGED))
        configmaps = list(pykube.ConfigMap.objects(api, namespace=namespace).filter(selector=MANAGED))
        bridged = [d.name for d in pykube.Deployment.objects(api, namespace=namespace) if sidecars(d.obj)]
        return not (users or secrets or configmaps or bridged)

    wait_for(nothing_left, 60, f"no KafkaUser, Secret, ConfigMap or sidecar of {namespace} left")
    return took
