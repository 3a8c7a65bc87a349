"""The bridge sidecar on the local control plane: injection by server-side apply, rollout on kwok nodes,
drift repair, rotation, conflicts, paused, and removal that restores the Deployment exactly.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pykube
import yaml

from tests.operator_fixtures import (
    STRIMZI_NS,
    audit_now,
    bridgedapp_kind,
    condition_is,
    conditions,
    event_posted,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    settle,
    unique,
    writes_about,
)

READY_TIMEOUT = 240


def spec_for(deployment: str, **bridge: Any) -> dict[str, Any]:
    cluster = unique("kc")
    return {
        "deploymentName": deployment,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [{"name": f"orders-{cluster}", "replicas": 1}],
        "bridge": bridge,
    }


def deployment(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = pykube.Deployment.objects(api, namespace=namespace).get_or_none(name=name)
    return found.obj if found is not None else None


def bridge_placement(obj: dict[str, Any] | None) -> str | None:
    pod = (obj or {}).get("spec", {}).get("template", {}).get("spec", {})
    for key in ("initContainers", "containers"):
        if any(c["name"] == "kafka-bridge" for c in pod.get(key) or []):
            return key
    return None


HOLD = "test.bridgedapp.io/hold"


def config_hash(obj: dict[str, Any]) -> str | None:
    return (obj["spec"]["template"]["metadata"].get("annotations") or {}).get("bridgedapp.io/config-hash")


def ready_app(api, namespace: str, name: str, deploy: str, wait_until, **bridge: Any) -> dict[str, Any]:
    make_bridgedapp(api, namespace, name, spec_for(deploy, **bridge))
    wait_until(condition_is(api, namespace, name, "Ready"), timeout=READY_TIMEOUT, what=f"{name} Ready")
    return get_bridgedapp(api, namespace, name)


def test_injected_pods_become_ready_with_a_native_sidecar(
    api, namespace, operator, cluster, wait_until
) -> None:
    make_deployment(api, namespace, "orders-api", replicas=2)
    app = ready_app(api, namespace, "orders", "orders-api", wait_until)
    deploy = deployment(api, namespace, "orders-api")
    assert bridge_placement(deploy) == "initContainers"  # native sidecar on Kubernetes 1.36
    bridge = next(
        c for c in deploy["spec"]["template"]["spec"]["initContainers"] if c["name"] == "kafka-bridge"
    )
    assert bridge["restartPolicy"] == "Always"
    assert app["status"]["bridge"]["url"] == "http://localhost:8080"
    assert app["status"]["bridge"]["configHash"] == config_hash(deploy)
    assert conditions(api, namespace, "orders")["AppAvailable"]["status"] == "True"

    pods = pykube.Pod.objects(api, namespace=namespace).filter(selector={"app": "orders-api"})
    running = [
        p
        for p in pods
        if p.obj["metadata"].get("annotations", {}).get("bridgedapp.io/config-hash") == config_hash(deploy)
    ]
    assert len(running) == 2 and all(p.ready for p in running)
    result = cluster.kubectl("wait", "--for=condition=Ready", "ba/orders", "-n", namespace, "--timeout=30s")
    assert "condition met" in result.stdout


def _leaf_paths(fields: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, sub in fields.items():
        if key == ".":
            continue
        path = f"{prefix}/{key}"
        paths += _leaf_paths(sub, path) if sub else [path]
    return paths


def test_operator_owns_only_what_it_adds(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "web")
    ready_app(api, namespace, "web", "web", wait_until)
    entries = [
        m
        for m in deployment(api, namespace, "web")["metadata"]["managedFields"]
        if m["manager"] == "bridgedapp-operator"
    ]
    assert [e["operation"] for e in entries] == ["Apply"]
    allowed = (
        "/f:metadata/f:annotations/f:bridgedapp.io/bridged-by",  # the one bridge owner of this Deployment
        "/f:spec/f:template/f:metadata/f:annotations/f:bridgedapp.io/config-hash",
        '/f:spec/f:template/f:spec/f:initContainers/k:{"name":"kafka-bridge"}',
        '/f:spec/f:template/f:spec/f:volumes/k:{"name":"kafka-bridge-',
    )
    paths = _leaf_paths(entries[0]["fieldsV1"])
    assert paths and all(p.startswith(allowed) for p in paths), [
        p for p in paths if not p.startswith(allowed)
    ]


def test_gitops_reapply_keeps_the_sidecar_and_replace_gets_it_back(
    api, namespace, operator, cluster, wait_until, tmp_path: Path
) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "synced", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "synced"}},
            "template": {
                "metadata": {"labels": {"app": "synced"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
    }
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(manifest))
    cluster.kubectl("apply", "-f", str(path))  # client-side apply, as kubectl users and older GitOps tools do
    ready_app(api, namespace, "synced", "synced", wait_until)

    cluster.kubectl(
        "apply", "-f", str(path)
    )  # the same manifest again: the sidecar is not in its last-applied
    assert bridge_placement(deployment(api, namespace, "synced")) == "initContainers"

    cluster.kubectl("replace", "-f", str(path))  # a full replace drops the sidecar ...
    wait_until(
        lambda: bridge_placement(deployment(api, namespace, "synced")) == "initContainers",
        timeout=60,
        what="sidecar re-injected after replace",
    )
    wait_until(condition_is(api, namespace, "synced", "Ready"), timeout=60, what="Ready again")


def test_deployment_created_later_is_injected_then(api, namespace, operator, wait_until) -> None:
    make_bridgedapp(api, namespace, "early", spec_for("late"))
    wait_until(
        lambda: (
            conditions(api, namespace, "early").get("SidecarInjected", {}).get("reason")
            == "DeploymentNotFound"
        ),
        timeout=READY_TIMEOUT,
        what="SidecarInjected=False DeploymentNotFound",
    )
    make_deployment(api, namespace, "late")
    wait_until(
        condition_is(api, namespace, "early", "Ready"), timeout=60, what="Ready once the Deployment exists"
    )
    assert bridge_placement(deployment(api, namespace, "late")) == "initContainers"


def test_pointing_at_another_deployment_moves_the_sidecar(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "old")
    make_deployment(api, namespace, "new")
    ready_app(api, namespace, "mover", "old", wait_until)
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="mover")
    app.patch({"spec": {"deploymentName": "new"}})  # a merge patch: no race with status writes
    wait_until(
        lambda: bridge_placement(deployment(api, namespace, "new")) == "initContainers",
        timeout=60,
        what="sidecar on new",
    )
    wait_until(
        lambda: bridge_placement(deployment(api, namespace, "old")) is None,
        timeout=60,
        what="sidecar gone from old",
    )


def test_ca_rotation_rolls_pods_and_an_idle_pass_writes_nothing(
    api, namespace, operator, simulator, cluster, wait_until
) -> None:
    make_deployment(api, namespace, "rot")
    app = ready_app(api, namespace, "rot", "rot", wait_until)
    kc = app["spec"]["kafka"]["clusterName"]
    before = config_hash(deployment(api, namespace, "rot"))

    settle(cluster, namespace, kc)
    mark = audit_now(cluster)
    kafka = (
        pykube.object_factory(api, "kafka.strimzi.io/v1", "Kafka")
        .objects(api, namespace=STRIMZI_NS)
        .get(name=kc)
    )
    kafka.patch({"metadata": {"annotations": {"test.bridgedapp.io/poke": "1"}}})
    settle(cluster, namespace, kc)
    written = writes_about(cluster, mark, namespace, kc)
    assert written == [], [
        (
            e["verb"],
            e["objectRef"].get("resource"),
            e["objectRef"].get("name"),
            e["objectRef"].get("subresource"),
        )
        for e in written
    ]

    simulator.rotate_cluster_ca(STRIMZI_NS, kc)
    wait_until(
        lambda: config_hash(deployment(api, namespace, "rot")) not in (None, before),
        timeout=60,
        what="new config hash",
    )
    secret = pykube.Secret.objects(api, namespace=namespace).get(name="rot-bridge-tls").obj
    assert (
        base64.b64decode(secret["data"]["ca.crt"]).decode().count("BEGIN CERTIFICATE") == 2
    )  # old and new CA trusted
    new_hash = config_hash(deployment(api, namespace, "rot"))

    def ready_with_new_hash() -> bool:
        # The Deployment shows the new hash before the status does: a Ready read in between is the old one's.
        app = get_bridgedapp(api, namespace, "rot") or {}
        bridge_hash = ((app.get("status") or {}).get("bridge") or {}).get("configHash")
        return bridge_hash == new_hash and condition_is(api, namespace, "rot", "Ready")()

    wait_until(ready_with_new_hash, timeout=60, what="Ready after the roll, with the new config hash")
    pods = pykube.Pod.objects(api, namespace=namespace).filter(selector={"app": "rot"})
    assert {p.obj["metadata"]["annotations"]["bridgedapp.io/config-hash"] for p in pods if p.ready} == {
        new_hash
    }


def test_a_field_owned_by_another_manager_is_a_conflict_not_an_overwrite(
    api, namespace, operator, cluster, wait_until, tmp_path: Path
) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "pinned", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "pinned"}},
            "template": {
                "metadata": {
                    "labels": {"app": "pinned"},
                    "annotations": {"bridgedapp.io/config-hash": "pinned-by-gitops"},
                },
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
    }
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(manifest))
    cluster.kubectl("apply", "--server-side", "--field-manager=argocd-controller", "-f", str(path))
    make_bridgedapp(api, namespace, "pinned", spec_for("pinned"))
    conflict = wait_until(
        lambda: (
            (c := conditions(api, namespace, "pinned").get("SidecarInjected"))
            and c["reason"] == "Conflict"
            and c
        ),
        timeout=READY_TIMEOUT,
        what="SidecarInjected=False Conflict",
    )
    assert conflict["status"] == "False" and "argocd-controller" in conflict["message"]
    assert conditions(api, namespace, "pinned")["Stalled"]["status"] == "True"
    assert config_hash(deployment(api, namespace, "pinned")) == "pinned-by-gitops"
    wait_until(
        event_posted(api, namespace, "pinned", "Warning", "Conflict"),
        timeout=60,
        what="a Warning event Conflict on the BridgedApp",
    )


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(obj["spec"])
    return spec


def test_delete_restores_the_deployment_exactly(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "restore", replicas=2)
    original = _comparable(deployment(api, namespace, "restore"))
    ready_app(api, namespace, "restore", "restore", wait_until)
    assert _comparable(deployment(api, namespace, "restore")) != original
    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="restore").delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "restore") is None, timeout=60, what="BridgedApp gone")
    restored = deployment(api, namespace, "restore")
    assert json.dumps(_comparable(restored), sort_keys=True) == json.dumps(original, sort_keys=True)
    assert (
        pykube.ConfigMap.objects(api, namespace=namespace).get_or_none(name="restore-bridge-config") is None
    )
    assert pykube.Secret.objects(api, namespace=namespace).get_or_none(name="restore-bridge-tls") is None
    wait_until(
        lambda: deployment(api, namespace, "restore")["status"].get("availableReplicas") == 2,
        timeout=60,
        what="app still running",
    )


def test_delete_completes_when_the_deployment_is_gone(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "gone")
    ready_app(api, namespace, "gone", "gone", wait_until)
    pykube.Deployment.objects(api, namespace=namespace).get(name="gone").delete()
    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="gone").delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "gone") is None, timeout=60, what="no stuck finalizer")


def test_deleting_the_namespace_completes_cleanup(api, namespace, operator, wait_until) -> None:
    """Deleting the app's namespace deletes the BridgedApp with it: its cleanup still completes, and still
    takes the sidecar back from a Deployment that outlives it (here held by a finalizer)."""
    make_deployment(api, namespace, "doomed")
    ready_app(api, namespace, "doomed", "doomed", wait_until)
    deploy = pykube.Deployment.objects(api, namespace=namespace).get(name="doomed")
    deploy.patch({"metadata": {"finalizers": [HOLD]}})
    pykube.Namespace.objects(api).get(name=namespace).delete()
    try:
        wait_until(
            lambda: get_bridgedapp(api, namespace, "doomed") is None, timeout=60, what="no stuck finalizer"
        )
        assert bridge_placement(deployment(api, namespace, "doomed")) is None
    finally:
        deploy.patch({"metadata": {"finalizers": None}})


def test_regular_container_when_native_sidecar_is_never(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "classic")
    ready_app(api, namespace, "classic", "classic", wait_until, nativeSidecar="Never")
    deploy = deployment(api, namespace, "classic")
    assert bridge_placement(deploy) == "containers"
    assert not deploy["spec"]["template"]["spec"].get("initContainers")
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="classic")
    app.patch({"spec": {"bridge": {"nativeSidecar": "Always"}}})
    wait_until(
        lambda: bridge_placement(deployment(api, namespace, "classic")) == "initContainers",
        timeout=60,
        what="moved to native",
    )
    assert all(
        c["name"] != "kafka-bridge"
        for c in deployment(api, namespace, "classic")["spec"]["template"]["spec"]["containers"]
    )


def test_paused_changes_nothing_and_says_so(api, namespace, operator, wait_until) -> None:
    make_deployment(api, namespace, "still")
    ready_app(api, namespace, "still", "still", wait_until)
    before = deployment(api, namespace, "still")["metadata"]["resourceVersion"]
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="still")
    app.patch({"spec": {"paused": True, "bridge": {"http": {"port": 8090}}}})
    wait_until(
        lambda: get_bridgedapp(api, namespace, "still")["status"].get("phase") == "Paused",
        timeout=60,
        what="phase Paused",
    )
    assert conditions(api, namespace, "still")["Ready"]["reason"] == "Paused"
    assert deployment(api, namespace, "still")["metadata"]["resourceVersion"] == before


def _strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a user would hand it to `bridgedapp render` (as `kubectl get -o yaml` minus status)."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    for key in ("managedFields", "resourceVersion", "generation", "creationTimestamp"):
        out["metadata"].pop(key, None)
    return out


def test_render_prints_what_the_operator_writes(api, namespace, operator, tmp_path: Path, wait_until) -> None:
    from bridgedapp.observe import is_subset

    original = make_deployment(api, namespace, "preview").obj
    app = ready_app(api, namespace, "preview", "preview", wait_until)
    kc = app["spec"]["kafka"]["clusterName"]
    secrets = pykube.Secret.objects(api, namespace=STRIMZI_NS)
    inputs = [
        _strip_server_fields(app),
        _strip_server_fields(original),
        _strip_server_fields(secrets.get(name=f"{namespace}.preview").obj),
        _strip_server_fields(secrets.get(name=f"{kc}-cluster-ca-cert").obj),
    ]
    files = []
    for i, doc in enumerate(inputs):
        path = tmp_path / f"input-{i}.yaml"
        path.write_text(yaml.safe_dump(doc))
        files += ["-f", str(path)]
    result = subprocess.run(
        [sys.executable, "-m", "bridgedapp", "render", *files], capture_output=True, text=True, check=True
    )
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}
    assert "BEGIN PRIVATE KEY" not in result.stdout + result.stderr  # render never prints the key

    live_cm = pykube.ConfigMap.objects(api, namespace=namespace).get(name="preview-bridge-config").obj
    assert rendered[("ConfigMap", "preview-bridge-config")]["data"] == live_cm["data"]
    live_secret = pykube.Secret.objects(api, namespace=namespace).get(name="preview-bridge-tls").obj
    rendered_secret = rendered[("Secret", "preview-bridge-tls")]
    for key in ("ca.crt", "user.crt"):
        assert rendered_secret["data"][key] == live_secret["data"][key]

    live = deployment(api, namespace, "preview")
    shown = rendered[("Deployment", "preview")]
    assert config_hash(shown) == config_hash(live)  # computed from the same credentials, key included
    assert is_subset(shown["spec"]["template"]["spec"], live["spec"]["template"]["spec"])
    for kind, name in rendered:
        if kind in ("Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"):
            live_obj = pykube.object_factory(api, "kafka.strimzi.io/v1", kind).objects(
                api, namespace=STRIMZI_NS
            )
            assert is_subset(rendered[(kind, name)]["spec"], live_obj.get(name=name).obj["spec"]), (
                kind,
                name,
            )


def test_external_logging_projects_the_users_config_map_and_back(
    api, namespace, operator, wait_until
) -> None:
    """The config volume turns from a configMap into a projected volume (the operator's ConfigMap plus the
    user's logging key) and back, by server-side apply of the same volume name: the API server accepts both
    shapes in turn and keeps no stale field of the other."""
    make_deployment(api, namespace, "logs")
    ready_app(api, namespace, "logs", "logs", wait_until)
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="logs")
    external = {
        "type": "external",
        "valueFrom": {"configMapKeyRef": {"name": "logs-log4j2", "key": "log4j2"}},
    }
    app.patch({"spec": {"bridge": {"logging": external}}})

    def config_volume() -> dict[str, Any]:
        volumes = deployment(api, namespace, "logs")["spec"]["template"]["spec"]["volumes"]
        return next(v for v in volumes if v["name"] == "kafka-bridge-config")

    wait_until(lambda: "projected" in config_volume(), timeout=60, what="projected config volume")
    volume = config_volume()
    assert "configMap" not in volume, volume
    sources = [s["configMap"] for s in volume["projected"]["sources"]]
    assert sources[1] == {"name": "logs-log4j2", "items": [{"key": "log4j2", "path": "log4j2.properties"}]}
    assert [i["path"] for i in sources[0]["items"]] == ["application.properties"]

    app.patch({"spec": {"bridge": {"logging": {"type": "inline", "valueFrom": None}}}})
    wait_until(lambda: "configMap" in config_volume(), timeout=60, what="plain configMap volume again")
    assert "projected" not in config_volume()
