"""The test bed itself, on the real control plane: what every other integration test relies on.

No mocks: kube-apiserver, etcd, controller-manager and scheduler are the real binaries; only the
nodes are kwok's. Observed through pykube-ng.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykube
import pytest
import yaml

from testbed.cluster import COMPONENTS, LocalCluster, clusters_dir, owner_record
from testbed.toolchain import K8S_VERSION, Binaries
from tests.conftest import WaitUntil

REPO_ROOT = Path(__file__).resolve().parents[2]
APPLY = "application/apply-patch+yaml"


# ---- the session cluster ----------------------------------------------------------------------------


def test_apiserver_reports_the_version_it_was_built_as(api: pykube.HTTPClient) -> None:
    r = api.get(version="", base="/version")
    r.raise_for_status()
    assert r.json()["gitVersion"] == K8S_VERSION == "v1.36.1"


def test_deployment_gets_replicaset_and_ready_pods_on_kwok_nodes(
    api: pykube.HTTPClient, namespace: str, wait_until: WaitUntil
) -> None:
    nodes = [
        n
        for n in pykube.Node.objects(api)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n.obj["status"]["conditions"])
    ]
    kwok_nodes = {n.name for n in nodes if n.annotations.get("kwok.x-k8s.io/node") == "fake"}
    assert len(kwok_nodes) >= 3

    labels = {"app": "web"}
    pykube.Deployment(
        api,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "registry.invalid/web:1"}]},
                },
            },
        },
    ).create()

    deployment = pykube.Deployment.objects(api, namespace=namespace).get(name="web")
    rs = wait_until(
        lambda: [
            r
            for r in pykube.ReplicaSet.objects(api, namespace=namespace)
            if any(
                o["uid"] == deployment.obj["metadata"]["uid"] for o in r.metadata.get("ownerReferences", [])
            )
        ],
        what="a ReplicaSet owned by the Deployment",
    )
    assert len(rs) == 1

    def ready_pods() -> list[pykube.Pod]:
        pods = list(pykube.Pod.objects(api, namespace=namespace).filter(selector=labels))
        ready = [p for p in pods if p.ready]
        return ready if len(ready) == 2 else []

    pods = wait_until(ready_pods, what="2 Ready pods")
    assert {p.obj["spec"]["nodeName"] for p in pods} <= kwok_nodes
    assert all(p.obj["metadata"]["ownerReferences"][0]["name"] == rs[0].name for p in pods)
    wait_until(
        lambda: (
            pykube.Deployment.objects(api, namespace=namespace)
            .get(name="web")
            .obj["status"]
            .get("readyReplicas")
            == 2
        ),
        what="Deployment status.readyReplicas == 2",
    )


@pytest.fixture
def widget_crd(api: pykube.HTTPClient) -> Iterator[dict[str, Any]]:
    """A throwaway namespaced CRD with a schema (unique group per test run), removed afterwards."""
    group = f"t{uuid.uuid4().hex[:8]}.testbed.bridgedapp.io"
    crd = pykube.object_factory(api, "apiextensions.k8s.io/v1", "CustomResourceDefinition")(
        api,
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "required": ["replicas"],
                                        "properties": {"replicas": {"type": "integer", "minimum": 1}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        },
    )
    crd.create()
    try:
        yield {"group": group, "version": f"{group}/v1", "crd": crd}
    finally:
        crd.delete()


def test_crd_becomes_established_and_its_schema_is_enforced(
    api: pykube.HTTPClient, namespace: str, widget_crd: dict[str, Any], wait_until: WaitUntil
) -> None:
    crd = widget_crd["crd"]

    def established() -> bool:
        crd.reload()
        conditions = (crd.obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_until(established, what="CRD Established")

    def create(spec: dict[str, Any]) -> Any:
        body = {
            "apiVersion": widget_crd["version"],
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": spec,
        }
        return api.post(
            url="widgets", version=widget_crd["version"], namespace=namespace, data=json.dumps(body)
        )

    def served_response() -> list[Any]:
        # Serving a just-established CRD can lag by a moment: 404 until then.
        r = create({"replicas": 0})
        return [] if r.status_code == 404 else [r]

    bad = wait_until(served_response, what="the CRD's resource to be served")[0]
    assert bad.status_code == 422, bad.text
    assert "spec.replicas" in bad.json()["message"]
    assert "should be greater than or equal to 1" in bad.json()["message"]

    wrong_type = create({"replicas": "three"})
    assert wrong_type.status_code == 422
    assert "spec.replicas" in wrong_type.json()["message"]

    good = create({"replicas": 2})
    assert good.status_code == 201, good.text


def _configmap(api: pykube.HTTPClient, namespace: str, name: str, **extra: Any) -> pykube.ConfigMap:
    cm = pykube.ConfigMap(
        api, {"metadata": {"name": name, "namespace": namespace, **extra}, "data": {"k": "v"}}
    )
    cm.create()
    return cm


def test_deleting_an_owner_garbage_collects_its_dependents(
    api: pykube.HTTPClient, namespace: str, wait_until: WaitUntil
) -> None:
    owner = _configmap(api, namespace, "owner")
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner.name, "uid": owner.obj["metadata"]["uid"]}
    for i in range(2):
        _configmap(api, namespace, f"dependent-{i}", ownerReferences=[ref])
    bystander = _configmap(api, namespace, "bystander")

    objects = pykube.ConfigMap.objects(api, namespace=namespace)
    assert objects.get_or_none(name="dependent-0") is not None
    owner.delete()

    wait_until(
        lambda: all(objects.get_or_none(name=f"dependent-{i}") is None for i in range(2)),
        what="the garbage collector to delete both dependents",
    )
    assert objects.get_or_none(name=bystander.name) is not None


def test_two_field_managers_applying_one_field_conflict(api: pykube.HTTPClient, namespace: str) -> None:
    def apply(manager: str, value: str, force: bool = False) -> Any:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared"},
            "data": {"key": value},
        }
        params = {"fieldManager": manager, **({"force": "true"} if force else {})}
        return api.patch(
            url="configmaps/shared",
            namespace=namespace,
            params=params,
            headers={"Content-Type": APPLY},
            data=yaml.safe_dump(body),
        )

    first = apply("manager-a", "from-a")
    assert first.status_code == 201, first.text

    conflict = apply("manager-b", "from-b")
    assert conflict.status_code == 409, conflict.text
    status = conflict.json()
    assert status["reason"] == "Conflict"
    assert "manager-a" in status["message"]
    assert ".data.key" in status["message"]

    cm = pykube.ConfigMap.objects(api, namespace=namespace).get(name="shared")
    assert cm.obj["data"]["key"] == "from-a"

    forced = apply("manager-b", "from-b", force=True)
    assert forced.status_code == 200, forced.text
    assert forced.json()["data"]["key"] == "from-b"


def _client_with_token(api: pykube.HTTPClient, token_request: Any) -> pykube.HTTPClient:
    """A pykube client for the same server authenticating with the TokenRequest's bearer token only.

    Takes the response, not the token, so a failing test's traceback never shows the token.
    """
    doc = copy.deepcopy(api.config.doc)
    context = api.config.current_context
    user_name = next(c["context"]["user"] for c in doc["contexts"] if c["name"] == context)
    for user in doc["users"]:
        if user["name"] == user_name:
            user["user"] = {"token": token_request.json()["status"]["token"]}
    config = pykube.KubeConfig(doc, current_context=context)
    if hasattr(api.config, "filepath"):
        config.filepath = api.config.filepath  # relative certificate paths resolve as before
    return pykube.HTTPClient(config)


def test_service_account_without_binding_is_forbidden(
    api: pykube.HTTPClient, namespace: str, wait_until: WaitUntil
) -> None:
    pykube.ServiceAccount(api, {"metadata": {"name": "nobody", "namespace": namespace}}).create()
    token_request = api.post(
        url="serviceaccounts/nobody/token",
        namespace=namespace,
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
    )
    assert token_request.status_code == 201, token_request.status_code
    as_sa = _client_with_token(api, token_request)

    denied = as_sa.get(url="configmaps", namespace=namespace)
    assert denied.status_code == 403
    assert f"system:serviceaccount:{namespace}:nobody" in denied.json()["message"]

    # Control: the same token is allowed once RBAC grants it, so the 403 above was RBAC's decision.
    pykube.Role(
        api,
        {
            "metadata": {"name": "read-cm", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    ).create()
    pykube.RoleBinding(
        api,
        {
            "metadata": {"name": "read-cm", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"},
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}],
        },
    ).create()
    wait_until(
        lambda: as_sa.get(url="configmaps", namespace=namespace).status_code == 200,
        what="the RoleBinding to take effect",
    )


def test_audit_log_records_requests(
    cluster: LocalCluster, api: pykube.HTTPClient, namespace: str, wait_until: WaitUntil
) -> None:
    name = f"audited-{uuid.uuid4().hex[:8]}"
    _configmap(api, namespace, name)

    def recorded() -> list[dict[str, Any]]:
        events = [json.loads(line) for line in cluster.audit_log.read_text().splitlines() if line.strip()]
        return [
            e
            for e in events
            if e.get("verb") == "create"
            and e.get("objectRef", {}).get("name") == name
            and e.get("objectRef", {}).get("namespace") == namespace
        ]

    events = wait_until(recorded, what=f"an audit event for creating ConfigMap {name}")
    assert events[0]["objectRef"]["resource"] == "configmaps"
    assert events[0]["level"] == "Metadata"
    assert events[0]["responseStatus"]["code"] == 201
    assert "requestObject" not in events[0]  # Metadata level: no bodies, so no Secret data in the log


# ---- separate small clusters: restart, cleanup, orphans ------------------------------------------


def _not_zombie(pid: int) -> bool:
    """The pid runs (kwok's processes are reparented to init, which may reap them late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pod_phases(c: LocalCluster) -> dict[str, str]:
    pods = json.loads(c.kubectl("get", "pods", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p["status"].get("phase", "") for p in pods}


def _run_pod(c: LocalCluster, name: str, wait_until: WaitUntil) -> None:
    """A pod on the kwok node, Running (created once the ServiceAccount controller made `default`)."""
    wait_until(
        lambda: (
            c.kubectl("run", name, "--image=registry.example/app:1", check=False).returncode == 0
            or name in _pod_phases(c)
        ),
        what=f"pod {name} created",
    )
    wait_until(lambda: _pod_phases(c).get(name) == "Running", timeout=60, what=f"pod {name} Running")


def test_restart_keeps_data_and_nothing_outlives_the_context(
    binaries: Binaries, wait_until: WaitUntil
) -> None:
    with LocalCluster(f"{os.getpid()}-restart", nodes=1, binaries=binaries) as c:
        first = c.running_pids()
        assert set(COMPONENTS) <= set(first)
        c.kubectl("create", "configmap", "survivor", "--from-literal=answer=42")
        _run_pod(c, "before", wait_until)

        c.stop()
        assert c.running_pids() == {}
        assert not any(_not_zombie(p) for p in first.values())
        assert c.kubectl("get", "--raw", "/readyz", check=False, timeout=30).returncode != 0

        c.start()
        got = json.loads(c.kubectl("get", "configmap", "survivor", "-o", "json").stdout)
        assert got["data"] == {"answer": "42"}
        second = c.running_pids()
        assert set(COMPONENTS) <= set(second)
        # The simulated kubelet is back at once: a new pod runs and a deleted one goes. (The kwok-controller
        # comes back as a new lease holder; without the hand-over both waited for the stopped one's 200 s
        # node lease to run out, then up to 50 s more.)
        c.kubectl("delete", "pod", "before", "--wait=false")
        _run_pod(c, "after", wait_until)
        wait_until(lambda: "before" not in _pod_phases(c), timeout=30, what="deleted pod before gone")
        workdir = c.workdir
    # The context ended: the restarted processes (new pids) are gone too, and so is the folder.
    assert not any(_not_zombie(p) for p in second.values())
    assert not workdir.exists()
    assert owner_record(c.name) is None


OUTAGE_SECONDS = 25  # longer than the controller-manager's and scheduler's 15 s lease


def test_an_apiserver_outage_leaves_the_controllers_running_and_stop_kills_only_components(
    binaries: Binaries, tmp_path: Path
) -> None:
    """Restart tests are honest: after the API server was down 25 s the controller-manager still makes
    ReplicaSets and the scheduler still runs; and stop()/delete() leave alone a process that only names the
    cluster's folder (a simulator given its kubeconfig, run from there)."""
    with LocalCluster(f"{os.getpid()}-outage", nodes=0, binaries=binaries) as c:

        def replicaset_made(name: str) -> None:
            c.kubectl("create", "deployment", name, "--image=registry.example/app:1")
            deadline = time.monotonic() + 60
            while not c.kubectl("get", "replicasets", "-l", f"app={name}", "-o", "name").stdout.strip():
                assert time.monotonic() < deadline, "no ReplicaSet: the controller-manager is gone"
                time.sleep(0.5)

        replicaset_made("before-outage")  # the controller-manager is past its start-up
        before = c.pids()
        new_pid = c.restart_component("kube-apiserver", down_for=OUTAGE_SECONDS)
        assert new_pid != before["kube-apiserver"] and c.pids()["kube-apiserver"] == new_pid
        replicaset_made("after-outage")
        for component in ("kube-controller-manager", "kube-scheduler"):
            assert _not_zombie(before[component]), f"{component} exited during the outage"
            assert c.pids()[component] == before[component]
        assert c.revived == []

        bystander = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)", f"--kubeconfig={c.kubeconfig}"],
            cwd=c.workdir,
        )
        try:
            c.stop()
            assert bystander.poll() is None, "stop() killed a process that is not a component"
            c.start()
            c.delete()
            assert bystander.poll() is None, "delete() killed a process that is not a component"
        finally:
            bystander.kill()
            bystander.wait()


OWNER_SCRIPT = """
import json, sys, time
from testbed.cluster import LocalCluster
with LocalCluster(sys.argv[1], nodes=0) as c:
    print(json.dumps(c.pids()), flush=True)
    time.sleep(600)
"""


def _cluster_in_subprocess(name: str) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """Another process owning a cluster; returns it and the cluster's component pids once ready."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, name], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()
    if not line:
        owner.kill()
        pytest.fail(f"the owner process exited with {owner.wait()} before its cluster was ready")
    pids: dict[str, int] = json.loads(line)
    assert set(COMPONENTS) <= set(pids)
    assert (clusters_dir() / name).exists()
    return owner, pids


def test_sigterm_to_the_owner_deletes_its_cluster(binaries: Binaries) -> None:
    name = f"bridgedapp-{os.getpid()}-sigterm"
    owner, pids = _cluster_in_subprocess(name)
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=120)
    assert not any(_not_zombie(p) for p in pids.values())
    assert not (clusters_dir() / name).exists()
    assert owner_record(name) is None


def test_a_cluster_whose_owner_was_killed_is_deleted_by_the_next_start(binaries: Binaries) -> None:
    name = f"bridgedapp-{os.getpid()}-orphan"
    owner, pids = _cluster_in_subprocess(name)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert all(_not_zombie(p) for p in pids.values())  # the control plane outlived its owner
    assert owner_record(name)["pid"] == owner.pid

    with LocalCluster(f"{os.getpid()}-next", nodes=0, binaries=binaries):
        assert not (clusters_dir() / name).exists()
        assert not any(_not_zombie(p) for p in pids.values())
        assert owner_record(name) is None
