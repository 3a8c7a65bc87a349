"""Every documented setting reaches the running operator: `python -m bridgedapp run` (how the Deployment and
the tests start it) with each BRIDGEDAPP_ variable at a value other than its default, on a control plane of
its own, as its ServiceAccount with the `install` profile's roles (plus the peering records' Role, which no
profile ships: the chart's replicas peer cluster-wide). The operator's start-up line must carry every value; where a value changes what the operator does
cheaply enough to see, that behaviour is checked too (JSON logs, /metrics, liveness, peering in each watched
namespace with its priority, no Strimzi install).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykube
from bridgedapp.settings import Settings, env_name

from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.operator_process import READY_LINE, running_operator, wait_ready
from testbed.service_account import OPERATOR_USER
from tests.integration.test_operations import free_port
from tests.operator_fixtures import (
    as_operator,
    condition_is,
    forbidden_requests,
    make_bridgedapp,
    make_deployment,
)

APPS_NS, KAFKA_NS = "settings-apps", "settings-kafka"
PEERING = "settings-peering"
# Kopf's namespaced peering CRD (the project ships only the cluster-wide one, for the chart's replicas).
NAMESPACED_PEERING_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfpeerings.kopf.dev"},
    "spec": {
        "scope": "Namespaced",
        "group": "kopf.dev",
        "names": {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    }
                },
            }
        ],
    },
}


def non_default_settings(metrics_port: int, liveness_port: int) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment to start with, and the effective settings (as JSON) the operator must report."""
    liveness = f"http://127.0.0.1:{liveness_port}/healthz"
    values: dict[str, tuple[str, Any]] = {
        "strimzi_install": ("never", "never"),
        "strimzi_version": ("1.1.0", "1.1.0"),
        "strimzi_namespace": (KAFKA_NS, KAFKA_NS),
        "strimzi_manifest": ("/nowhere/strimzi-bundle.yaml", "/nowhere/strimzi-bundle.yaml"),
        "install_timeout": ("42.5", 42.5),
        "namespaces": (f"{APPS_NS},{KAFKA_NS}", [APPS_NS, KAFKA_NS]),
        "single_tenant": ("true", True),
        "liveness": (liveness, liveness),
        "metrics_port": (str(metrics_port), metrics_port),
        "log_format": ("json", "json"),
        "peering": (PEERING, PEERING),
        "priority": ("4242", 4242),
    }
    declared = Settings.model_fields
    assert set(values) == set(declared), "give every declared (documented) setting a value here"
    for name, (_, effective) in values.items():
        default = declared[name].default
        assert effective != (list(default) if isinstance(default, tuple) else default), (
            f"{name} is its default"
        )
    return {env_name(name): given for name, (given, _) in values.items()}, {
        name: effective for name, (_, effective) in values.items()
    }


def peering_role(namespace: str) -> list[dict[str, Any]]:
    """What the operator's ServiceAccount needs to peer in `namespace` (as the chart grants cluster-wide)."""
    sa_namespace, _, sa_name = OPERATOR_USER.removeprefix("system:serviceaccount:").partition(":")
    meta = {"name": "bridgedapp-operator-peering", "namespace": namespace}
    rules = [{"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": ["list", "watch", "patch"]}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
            "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
        },
    ]


def startup_settings(log: Path) -> dict[str, Any]:
    """The settings the operator logged at start-up; every line of its log must be one JSON object."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # a plain-text line fails here: log_format reached it
    ready = [r["message"] for r in records if READY_LINE in r.get("message", "")]
    assert len(ready) == 1, ready
    return dict(json.loads(ready[0].split("settings: ", 1)[1]))


def peers(api: pykube.HTTPClient, namespace: str) -> dict[str, Any]:
    kind = pykube.object_factory(api, "kopf.dev/v1", "KopfPeering")
    return dict(kind.objects(api, namespace=namespace).get(name=PEERING).obj.get("status") or {})


def test_every_documented_setting_reaches_the_running_operator(
    fresh_cluster: Callable[[str], LocalCluster], tmp_path: Path, wait_until: Any
) -> None:
    local = fresh_cluster("settings")
    api = pykube_client(local.kubeconfig)
    credentials = as_operator(local, tmp_path)  # the install profile: CRD, ServiceAccount, its roles
    local.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(NAMESPACED_PEERING_CRD))
    for crd in ("bridgedapps.bridgedapp.io", "kopfpeerings.kopf.dev"):
        local.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    for ns in (APPS_NS, KAFKA_NS, "settings-unwatched"):
        local.kubectl("create", "namespace", ns)
        peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}}
        local.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(peering))
        for obj in peering_role(ns) if ns != "settings-unwatched" else []:
            local.kubectl("apply", "-f", "-", input=json.dumps(obj))

    metrics_port, liveness_port = free_port(), free_port()
    env, expected = non_default_settings(metrics_port, liveness_port)
    log = tmp_path / "operator.log"
    with running_operator(credentials, log, env=env) as proc:
        wait_ready(proc, log)
        # Peering, its priority and the watched namespaces: a record of priority 4242 in each watched one.
        for ns in (APPS_NS, KAFKA_NS):
            wait_until(
                lambda ns=ns: any(p.get("priority") == 4242 for p in peers(api, ns).values()),
                timeout=60,
                what=f"a peer of priority 4242 in {PEERING} of {ns}",
            )
        assert peers(api, "settings-unwatched") == {}
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            assert b"bridgedapp_" in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=10) as response:
            assert response.status == 200
        # strimzi_install=never: no Strimzi here, and the app is told so instead of an install starting.
        make_deployment(api, APPS_NS, "orders-api")
        make_bridgedapp(
            api, APPS_NS, "orders", {"deploymentName": "orders-api", "topics": [{"name": "orders"}]}
        )
        check = condition_is(api, APPS_NS, "orders", "StrimziReady", "False")
        found = wait_until(check, timeout=60, what="StrimziReady=False on orders")
        assert found["reason"] == "StrimziNotFound", check.explain()
        assert "BRIDGEDAPP_STRIMZI_INSTALL=never" in found["message"]
        assert proc.poll() is None, log.read_text()[-3000:]
    assert startup_settings(log) == expected
    assert not forbidden_requests(local, rbac_only=True)
