"""The shipped RBAC profiles, proven on the local control plane: the operator runs as its ServiceAccount (a token
from the API server, a kubeconfig of its own) with exactly the roles of one profile in deploy/, through a full
lifecycle (create, update, delete with DeleteWhenUnused). The API server's audit log then shows no 403, and
every verb x resource the profile grants was used, or is listed below with the reason it is kept. The same
token is refused what the operator never needs.

Each profile gets a control plane of its own: the roles are cluster-wide, and `adopt`/`namespaced` need a
Strimzi installed beforehand by an admin.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykube
import pytest
import yaml
from bridgedapp import MANAGED_BY_LABELS, OWNER_LABEL
from bridgedapp.builders import bridge, kafka, user
from bridgedapp.strimzi import load_bundle

from testbed.audit import requests_of, used_rights
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.operator_process import running_operator
from testbed.service_account import OPERATOR_USER, granted_rights, rendered_profile
from testbed.toolchain import Binaries
from tests.operator_fixtures import (
    WRITE_VERBS,
    bridgedapp_kind,
    condition_is,
    deploy_profile,
    forbidden_requests,
    make_bridgedapp,
    make_deployment,
    simulator_running,
    strimzi_kind,
)

APP_NS, KAFKA_NS, APP, DEPLOY, KAFKA = "shop", "kafka", "orders", "orders-api", "rbac-kc"
READY_TIMEOUT = 240

# Granted but not used by the lifecycle below, each with the reason it is kept. A grant missing from both
# the audit log and this list fails the test; so does an entry here that the lifecycle did use.
NEVER_A_REQUEST = (
    "checked by the API server inside the apply of a ClusterRole or binding, never a request of its own, so "
    "never in the audit log; limited to the bundle's ClusterRoles (test_refused_what_it_never_needs)"
)
# Reads the operator makes only when its watch-fed cache (cache.py) has not seen the object yet: whether the
# lifecycle below needs them depends on timing (a Deployment or BridgedApp is usually delivered by its watch
# before a pass reads it), so they are neither required to be used nor listed as unused.
ON_A_CACHE_MISS = {
    ("get", "apps/deployments"): "the app's Deployment, before its watch reported it",
    ("get", "bridgedapp.io/bridgedapps"): "a BridgedApp, before its watch reported it",
}

KEPT: dict[str, dict[tuple[str, str], str]] = {
    "adopt": {},
    "install": {
        ("escalate", "rbac.authorization.k8s.io/clusterroles"): NEVER_A_REQUEST,
        ("bind", "rbac.authorization.k8s.io/clusterroles"): NEVER_A_REQUEST,
    },
    "namespaced": {},
}


@dataclass
class Lifecycle:
    profile: str
    cluster: LocalCluster
    api: pykube.HTTPClient
    sa_kubeconfig: Path
    log: Path
    objects: list[dict[str, Any]]

    def as_operator(self, *args: str) -> subprocess.CompletedProcess[str]:
        """kubectl with the operator's own token (not the admin certificate)."""
        argv = [str(self.cluster.binaries.kubectl), "--kubeconfig", str(self.sa_kubeconfig), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    def requests(self) -> list[dict[str, Any]]:
        return requests_of(self.cluster.audit_log, OPERATOR_USER)


def _preinstall_strimzi(cluster: LocalCluster, manifest: Path) -> None:
    """Strimzi installed by an admin, not labelled as the operator's: the one `adopt` must only read."""
    objects = load_bundle(str(manifest), namespace=KAFKA_NS)
    for obj in objects:
        for key in MANAGED_BY_LABELS:
            obj["metadata"]["labels"].pop(key, None)
    cluster.kubectl("create", "namespace", KAFKA_NS, check=False)
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(crds))
    names = [f"crd/{o['metadata']['name']}" for o in crds]  # by name: `--all` races the list on a busy server
    cluster.kubectl("wait", "--for=condition=Established", *names, "--timeout=180s", timeout=200)
    rest = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(rest))


def _spec(topics: list[str]) -> dict[str, Any]:
    return {
        "deploymentName": DEPLOY,
        "kafka": {
            "clusterName": KAFKA,
            "namespace": KAFKA_NS,
            "replicas": 1,
            "storage": {"size": "1Gi"},
            "deletionPolicy": "DeleteWhenUnused",
        },
        "topics": [{"name": t, "replicas": 1, "access": "ReadWrite"} for t in topics],
    }


def _run_lifecycle(api: pykube.HTTPClient, wait_until: Any) -> None:
    """Create, update (a second topic), delete: every handler and every kind of write the operator makes."""
    make_deployment(api, APP_NS, DEPLOY)
    make_bridgedapp(api, APP_NS, APP, _spec(["orders"]))
    wait_until(condition_is(api, APP_NS, APP, "Ready"), timeout=READY_TIMEOUT, what=f"{APP} Ready")
    app = bridgedapp_kind(api).objects(api, namespace=APP_NS).get(name=APP)
    app.obj["spec"] = _spec(["orders", "payments"])
    app.update()
    topics = strimzi_kind(api, "KafkaTopic")
    wait_until(
        lambda: len(list(topics.objects(api, namespace=KAFKA_NS))) >= 2, timeout=120, what="the second topic"
    )
    wait_until(condition_is(api, APP_NS, APP, "Ready"), timeout=READY_TIMEOUT, what=f"{APP} Ready again")
    app.reload()
    app.delete()
    wait_until(
        lambda: bridgedapp_kind(api).objects(api, namespace=APP_NS).get_or_none(name=APP) is None,
        timeout=120,
        what=f"{APP} deleted",
    )
    kafkas = strimzi_kind(api, "Kafka")
    wait_until(
        lambda: kafkas.objects(api, namespace=KAFKA_NS).get_or_none(name=KAFKA) is None,
        timeout=60,
        what="the DeleteWhenUnused Kafka deleted",
    )


@pytest.fixture(scope="module", params=["install", "adopt", "namespaced"])
def lifecycle(
    request: pytest.FixtureRequest,
    binaries: Binaries,
    strimzi_manifest: Path,
    tmp_path_factory: pytest.TempPathFactory,
    wait_until: Any,
) -> Iterator[Lifecycle]:
    profile: str = request.param
    with LocalCluster(f"{os.getpid()}-rbac-{profile}", binaries=binaries) as local:  # deleted after its tests
        yield from _lifecycle(local, profile, strimzi_manifest, tmp_path_factory, wait_until)


def _lifecycle(
    local: LocalCluster,
    profile: str,
    strimzi_manifest: Path,
    tmp_path_factory: pytest.TempPathFactory,
    wait_until: Any,
) -> Iterator[Lifecycle]:
    api = pykube_client(local.kubeconfig)
    if profile != "install":
        _preinstall_strimzi(local, strimzi_manifest)
    work = tmp_path_factory.mktemp(f"rbac-{profile}")
    sa_kubeconfig, env = deploy_profile(local, profile, strimzi_manifest, work)
    local.kubectl("create", "namespace", APP_NS, check=False)
    log = work / "operator.log"
    with (
        simulator_running(local.kubeconfig),
        running_operator(sa_kubeconfig, log, args=["--verbose"], env=env),
    ):
        _run_lifecycle(api, wait_until)
        yield Lifecycle(profile, local, api, sa_kubeconfig, log, rendered_profile(local, profile))


def test_full_lifecycle_runs_without_a_single_forbidden_request(lifecycle: Lifecycle) -> None:
    requests = lifecycle.requests()
    assert len(requests) > 50, f"only {len(requests)} requests by {OPERATOR_USER}: did it run as its SA?"
    forbidden = forbidden_requests(lifecycle.cluster)
    assert not forbidden, f"{lifecycle.profile}: {len(forbidden)} requests refused:\n" + "\n".join(forbidden)


def test_every_granted_right_was_used_or_is_kept_for_a_reason(lifecycle: Lifecycle) -> None:
    granted = granted_rights(lifecycle.objects)
    used = used_rights(lifecycle.requests())
    kept = KEPT[lifecycle.profile]
    print(
        f"\n[rbac] {lifecycle.profile}: {len(granted)} verb x resource granted, {len(granted & used)} used in the "
        f"lifecycle, {len(kept)} kept for a reason; {len(lifecycle.requests())} requests"
    )
    unjustified = sorted(granted - used - kept.keys() - ON_A_CACHE_MISS.keys())
    stale = sorted(kept.keys() & used)
    assert not unjustified, f"{lifecycle.profile}: granted, never used, no reason kept: {unjustified}"
    assert not stale, f"{lifecycle.profile}: listed as unused but used: {stale}"
    assert not (kept.keys() - granted), f"{lifecycle.profile}: kept but not granted: {kept.keys() - granted}"


def test_every_write_went_to_the_apps_own_objects_or_the_bundles(
    lifecycle: Lifecycle, strimzi_manifest: Path
) -> None:
    """Writes (events aside) only to: the BridgedApp, the Deployment it names, the objects made for it (named
    by the builders: Kafka, pool, KafkaUser, bridge ConfigMap and Secret, its topics) and, under `install`,
    the bundle's objects."""
    own = {
        ("bridgedapps", APP_NS, APP),
        ("deployments", APP_NS, DEPLOY),
        ("configmaps", APP_NS, bridge.bridge_config_name(APP)),
        ("secrets", APP_NS, bridge.credentials_secret_name(APP)),
        ("kafkas", KAFKA_NS, KAFKA),
        ("kafkanodepools", KAFKA_NS, kafka.node_pool_name(KAFKA)),
        ("kafkausers", KAFKA_NS, user.kafka_user_name(APP_NS, APP)),
    }
    topics = strimzi_kind(lifecycle.api, "KafkaTopic").objects(lifecycle.api, namespace=KAFKA_NS)
    own |= {("kafkatopics", KAFKA_NS, t.name) for t in topics if OWNER_LABEL in t.labels}
    if lifecycle.profile == "install":
        own.add(("namespaces", "", KAFKA_NS))
        own |= {
            (f"{o['kind'].lower()}s", o["metadata"].get("namespace", ""), o["metadata"]["name"])
            for o in load_bundle(str(strimzi_manifest), namespace=KAFKA_NS)
        }
    writes = [
        (ref["resource"], ref.get("namespace", ""), ref.get("name", ""))
        for e in lifecycle.requests()
        if e["verb"] in WRITE_VERBS and (ref := e.get("objectRef") or {}).get("resource") != "events"
    ]
    assert writes, "the lifecycle wrote nothing?"
    strangers = sorted(set(writes) - own)
    assert not strangers, f"{lifecycle.profile}: writes to objects not the app's own: {strangers}"


def _refused(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode != 0 and "forbidden" in (result.stderr + result.stdout).lower()


SA = "--serviceaccount=bridgedapp-system:bridgedapp-operator"
EVERY_PROFILE = {
    "delete a Deployment": ("delete", "deployment", DEPLOY, "-n", APP_NS),
    "bind cluster-admin": (
        "create",
        "clusterrolebinding",
        "bridgedapp-escalation",
        "--clusterrole=cluster-admin",
        SA,
    ),
    "bind cluster-admin under a bundle binding's name": (
        "create",
        "clusterrolebinding",
        "strimzi-cluster-operator-kafka-client-delegation",
        "--clusterrole=cluster-admin",
        SA,
    ),
    "create a ClusterRole not in the bundle": (
        "create",
        "clusterrole",
        "mine",
        "--verb=get",
        "--resource=pods",
    ),
    "create a Role": ("create", "role", "mine", "-n", APP_NS, "--verb=get", "--resource=pods"),
    "create a RoleBinding": ("create", "rolebinding", "mine", "-n", APP_NS, "--clusterrole=view", SA),
    "delete a KafkaTopic": ("delete", "kafkatopics.kafka.strimzi.io", "no-such-topic", "-n", KAFKA_NS),
    "delete a Namespace": ("delete", "namespace", APP_NS, "--wait=false"),
    "read Pods": ("get", "pods", "-n", APP_NS),
    "create a CRD not in the bundle": ("create", "-f", "-"),  # given the Widget CRD below on stdin
}
BY_PROFILE = {
    "install": {},
    "adopt": {},
    "namespaced": {
        "read Secrets outside the watched namespaces": ("get", "secrets", "-n", "default"),
        "list Secrets cluster-wide": ("get", "secrets", "-A"),
        "list Deployments cluster-wide": ("get", "deployments", "-A"),
        "patch a Deployment outside the watched namespaces": (
            "patch",
            "deployment",
            "coredns",
            "-n",
            "kube-system",
            "-p",
            "{}",
        ),
    },
}


def test_refused_what_it_never_needs(lifecycle: Lifecycle) -> None:
    op = lifecycle.as_operator
    control = op("get", "deployment", DEPLOY, "-n", APP_NS)
    assert control.returncode == 0, control.stderr  # the token works: the refusals below are RBAC's
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    allowed = {}
    for what, args in {**EVERY_PROFILE, **BY_PROFILE[lifecycle.profile]}.items():
        argv = [str(lifecycle.cluster.binaries.kubectl), "--kubeconfig", str(lifecycle.sa_kubeconfig), *args]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, input=yaml.safe_dump(crd)
        )
        if not _refused(result):
            allowed[what] = (result.stdout + result.stderr).strip()
        else:
            print(f"[rbac] {lifecycle.profile}: refused to {what}")
    assert not allowed, f"{lifecycle.profile}: allowed (or failed other than Forbidden): {allowed}"
