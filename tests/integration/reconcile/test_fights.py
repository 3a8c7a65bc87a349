"""Fights and drift on the local control plane: GitOps re-applies without the sidecar (server-side and
server-side forced here; client-side apply and replace in test_sidecar.py), another manager changing the app's containers, another manager taking a
sidecar field, and hand edits of the operator's own objects. The user's changes survive, the operator's own
objects are restored, a taken sidecar field is reported (never forced back on the user's Deployment), and
nothing loops: the Deployment's generation stays flat for a minute at the end.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pykube
import yaml

from tests.operator_fixtures import (
    STRIMZI_NS,
    condition_is,
    conditions,
    event_posted,
    make_bridgedapp,
    strimzi_kind,
    unique,
)

READY_TIMEOUT = 240
FLAT_SECONDS = 60


def manifest(namespace: str, image: str = "registry.example/app:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gitops", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "gitops"}},
            "template": {
                "metadata": {"labels": {"app": "gitops"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def deployment(api: pykube.HTTPClient, namespace: str) -> dict[str, Any]:
    return pykube.Deployment.objects(api, namespace=namespace).get(name="gitops").obj


def containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = obj["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*(pod.get("initContainers") or []), *pod["containers"]]}


def has_bridge(api: pykube.HTTPClient, namespace: str) -> bool:
    return "kafka-bridge" in containers(deployment(api, namespace))


def test_gitops_and_other_managers_never_fight_the_operator(
    api, namespace, operator, cluster, wait_until, tmp_path: Path
) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(manifest(namespace)))
    cluster.kubectl("apply", "--server-side", "--field-manager=argocd", "-f", str(path))
    kc = unique("kc")
    make_bridgedapp(
        api,
        namespace,
        "gitops",
        {
            "deploymentName": "gitops",
            "kafka": {"clusterName": kc, "replicas": 1, "storage": {"size": "1Gi"}},
            "topics": [{"name": f"g-{kc}", "replicas": 1}],
        },
    )
    wait_until(condition_is(api, namespace, "gitops", "Ready"), timeout=READY_TIMEOUT, what="Ready")

    # GitOps re-applies its manifest, which has no sidecar: server-side, then forced, then client-side
    for extra in ([], ["--force-conflicts"]):
        cluster.kubectl("apply", "--server-side", "--field-manager=argocd", *extra, "-f", str(path))
        assert has_bridge(api, namespace), f"server-side apply {extra} dropped the sidecar"
    # a new image in Git: the user's change survives, the sidecar stays
    path.write_text(yaml.safe_dump(manifest(namespace, image="registry.example/app:2")))
    cluster.kubectl("apply", "--server-side", "--field-manager=argocd", "-f", str(path))
    wait_until(condition_is(api, namespace, "gitops", "Ready"), timeout=120, what="Ready after the new image")
    now = containers(deployment(api, namespace))
    assert now["app"]["image"] == "registry.example/app:2" and "kafka-bridge" in now

    # another manager changes the app's own container: no conflict, nothing reverted
    cluster.kubectl("set", "env", "deployment/gitops", "-n", namespace, "-c", "app", "FEATURE=on")
    wait_until(condition_is(api, namespace, "gitops", "Ready"), timeout=120, what="Ready after set env")
    assert {"name": "FEATURE", "value": "on"} in containers(deployment(api, namespace))["app"]["env"]

    # hand edits of the operator's own objects are taken back, with a Warning
    config = pykube.ConfigMap.objects(api, namespace=namespace).get(name="gitops-bridge-config")
    wanted = config.obj["data"]["application.properties"]
    config.patch({"data": {"application.properties": wanted + "kafka.ssl.keystore.location=/etc/passwd\n"}})
    secret = pykube.Secret.objects(api, namespace=namespace).get(name="gitops-bridge-tls")
    key = secret.obj["data"]["user.key"]
    secret.patch({"data": {"user.key": base64.b64encode(b"not a key").decode()}})
    wait_until(
        lambda: (config.reload() or True) and config.obj["data"]["application.properties"] == wanted,
        timeout=60,
        what="bridge config restored",
    )
    wait_until(
        lambda: (secret.reload() or True) and secret.obj["data"]["user.key"] == key,
        timeout=60,
        what="credentials restored",
    )
    wait_until(event_posted(api, namespace, "gitops", "Warning", "Reverted"), what="Reverted Warning")
    user = strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS).get(name=f"{namespace}.gitops")
    assert user.obj["spec"]["authorization"]["acls"]  # untouched by the above

    # another manager takes a field of the sidecar: reported, not forced back on the user's Deployment
    taken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gitops", "namespace": namespace},
        "spec": {
            "template": {
                "spec": {"initContainers": [{"name": "kafka-bridge", "image": "registry.example/intruder:1"}]}
            }
        },
    }
    taker = tmp_path / "taker.yaml"
    taker.write_text(yaml.safe_dump(taken))
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", str(taker)
    )
    # the next pass (the Deployment watch) finds its image changed and may not apply over another manager
    conflict = wait_until(
        condition_is(api, namespace, "gitops", "SidecarInjected", "False"), timeout=60, what="Conflict"
    )
    assert conflict["reason"] == "Conflict" and "intruder" in conflict["message"]
    assert containers(deployment(api, namespace))["kafka-bridge"]["image"] == "registry.example/intruder:1"

    # and nothing loops: a minute with the Deployment's generation flat
    generation = deployment(api, namespace)["metadata"]["generation"]
    time.sleep(FLAT_SECONDS)
    assert deployment(api, namespace)["metadata"]["generation"] == generation
    assert conditions(api, namespace, "gitops")["Stalled"]["status"] == "True"
