"""End to end on kind: the sample BridgedApp on real nodes with real Strimzi, a real Kafka and the real bridge.

Nothing is simulated. The operator (its image built from this checkout) installs Strimzi 1.2.0 from the
release bundle baked into that image at build time from the release URL, creates the 3-node Kafka with
required anti-affinity (one node each on the 3 kind workers), the topic and the user, and injects
quay.io/strimzi/kafka-bridge into the sample Deployment. The sample's own app image is a placeholder
(registry.example.com), so the app container here is curl, kept alive with `sleep`: it talks to the bridge
on http://localhost:8080 from inside the app's pod, exactly as the app would.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridgedapp import CONFIG_HASH_ANNOTATION, SIDECAR_NAME

from tests.e2e.conftest import KindCluster, load_json

pytestmark = pytest.mark.timeout(3600)  # cluster, image build, Strimzi install and a 3-node Kafka: minutes

SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "samples"
APP_IMAGE = "curlimages/curl:8.11.1"
IDLE = "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"  # idle, but stop at once on SIGTERM
APP_UID = 100  # curl_user in that image; numeric so runAsNonRoot can be verified by the kubelet
READY_TIMEOUT = 1800  # first Strimzi install + Kafka startup on a laptop-sized Docker host
BRIDGE_JSON = "application/vnd.kafka.json.v2+json"
BRIDGE_V2 = "application/vnd.kafka.v2+json"


def sample(name: str) -> dict[str, Any]:
    return yaml.safe_load((SAMPLES / name).read_text())


def app_deployment() -> dict[str, Any]:
    """deploy/samples/deployment.yaml with a real image in the app container (curl, idling)."""
    deployment = copy.deepcopy(sample("deployment.yaml"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = APP_IMAGE
    container["command"] = ["sh", "-c", IDLE]
    container["securityContext"]["runAsUser"] = APP_UID
    return deployment


class App:
    """The sample app in the cluster: its BridgedApp, Deployment, and curl inside its pod."""

    def __init__(self, cluster: KindCluster) -> None:
        self.cluster = cluster
        self.ba = sample("bridgedapp.yaml")
        self.namespace = self.ba["metadata"]["namespace"]
        self.name = self.ba["metadata"]["name"]
        self.deployment_name = self.ba["spec"]["deploymentName"]
        self.topic = self.ba["spec"]["topics"][0]["name"]
        self.group_prefix = self.ba["spec"]["consumerGroup"]

    def bridged_app(self) -> dict[str, Any]:
        found = self.cluster.get("bridgedapp.io/v1alpha1", "BridgedApp", self.name, self.namespace)
        assert found is not None, f"BridgedApp {self.namespace}/{self.name} is gone"
        return found

    def deployment(self) -> dict[str, Any]:
        found = self.cluster.get("apps/v1", "Deployment", self.deployment_name, self.namespace)
        assert found is not None, f"Deployment {self.namespace}/{self.deployment_name} is gone"
        return found

    def wait_ready(self) -> None:
        self.cluster.kubectl_wait(
            "--for=condition=Ready", f"bridgedapp/{self.name}", "-n", self.namespace,
            timeout=READY_TIMEOUT, what=f"BridgedApp {self.namespace}/{self.name} did not become Ready",
        )  # fmt: skip
        self.cluster.kubectl(
            "-n", self.namespace, "rollout", "status", f"deployment/{self.deployment_name}", "--timeout=600s",
            timeout=660,
        )  # fmt: skip

    def curl(self, path: str, *args: str) -> str:
        """curl http://localhost:<port><path> in the app container; the response body (fails on HTTP errors)."""
        url = f"http://localhost:{self.ba['spec']['bridge']['http']['port']}{path}"
        done = self.cluster.kubectl(
            "-n", self.namespace, "exec", f"deployment/{self.deployment_name}", "-c", "app", "--",
            "curl", "-sS", "--fail-with-body", "--max-time", "30", *args, url,
            timeout=90, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"curl {path} from the app container failed: {done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def app(kind_cluster: KindCluster) -> Iterator[App]:
    """The sample BridgedApp and its Deployment applied to the kind cluster, Ready, and rolled out."""
    handle = App(kind_cluster)
    kind_cluster.kubectl("create", "namespace", handle.namespace)
    documents = [app_deployment(), handle.ba]
    kind_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    handle.wait_ready()
    yield handle


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def injected(deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The kafka-bridge container of the pod template, wherever it is (native sidecar or regular)."""
    pod = deployment["spec"]["template"]["spec"]
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        if container["name"] == SIDECAR_NAME:
            return container
    return None


def test_the_sample_becomes_ready_on_real_strimzi_and_kafka(app: App) -> None:
    ba = app.bridged_app()
    conds = conditions(ba)
    not_true = {
        t: c["message"]
        for t, c in conds.items()
        if t not in ("Reconciling", "Stalled") and c["status"] != "True"
    }
    assert not not_true, f"conditions not True: {not_true}"
    assert ba["status"]["phase"] == "Ready"
    assert ba["status"]["observedGeneration"] == ba["metadata"]["generation"]
    assert ba["status"]["strimzi"]["managed"] is True, "the operator should have installed Strimzi itself"
    assert ba["status"]["strimzi"]["version"] == "1.2.0"
    strimzi = app.cluster.get(
        "apps/v1", "Deployment", "strimzi-cluster-operator", ba["status"]["strimzi"]["namespace"]
    )
    assert strimzi is not None and strimzi["status"].get("availableReplicas", 0) >= 1

    # The sidecar is a native one on Kubernetes 1.36, and the pod template carries the config hash.
    deployment = app.deployment()
    container = injected(deployment)
    assert container is not None and container.get("restartPolicy") == "Always"
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]] == [SIDECAR_NAME]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations[CONFIG_HASH_ANNOTATION] == ba["status"]["bridge"]["configHash"]


def test_kafka_nodes_are_spread_over_the_three_workers(app: App) -> None:
    kafka_ns = app.ba["spec"]["kafka"]["namespace"]
    cluster_name = app.ba["spec"]["kafka"]["clusterName"]
    pods = load_json(
        app.cluster.kubectl(
            "-n", kafka_ns, "get", "pods", "-l", f"strimzi.io/cluster={cluster_name},strimzi.io/pool-name",
            "-o", "json",
        ).stdout
    )["items"]  # fmt: skip
    nodes = {pod["spec"]["nodeName"] for pod in pods}
    assert len(pods) == app.ba["spec"]["kafka"]["replicas"] == len(nodes), [
        (p["metadata"]["name"], p["spec"]["nodeName"]) for p in pods
    ]


def test_the_app_lists_its_topic_through_the_bridge_on_localhost(app: App) -> None:
    topics = load_json(app.curl("/topics"))
    assert app.topic in topics


def test_a_record_produced_through_the_bridge_is_consumed_back(app: App) -> None:
    marker = uuid.uuid4().hex
    sent = load_json(
        app.curl(
            f"/topics/{app.topic}",
            "-X", "POST", "-H", f"Content-Type: {BRIDGE_JSON}",
            "--data", json.dumps({"records": [{"key": marker, "value": {"marker": marker}}]}),
        )
    )  # fmt: skip
    assert len(sent["offsets"]) == 1 and "error_code" not in sent["offsets"][0], sent

    group, consumer = f"{app.group_prefix}-e2e-{marker[:8]}", "c1"
    base = f"/consumers/{group}/instances/{consumer}"
    v2 = ("-H", f"Content-Type: {BRIDGE_V2}")
    app.curl(
        f"/consumers/{group}", "-X", "POST", *v2,
        "--data", json.dumps({"name": consumer, "format": "json", "auto.offset.reset": "earliest"}),
    )  # fmt: skip
    try:
        app.curl(f"{base}/subscription", "-X", "POST", *v2, "--data", json.dumps({"topics": [app.topic]}))

        def received() -> list[dict[str, Any]]:
            records = load_json(app.curl(f"{base}/records?timeout=3000", "-H", f"Accept: {BRIDGE_JSON}"))
            return [r for r in records if r.get("key") == marker]

        records = app.cluster.wait_for(
            received, timeout=180, what=f"record {marker} to come back", interval=1
        )
        assert records[0]["value"] == {"marker": marker} and records[0]["topic"] == app.topic
    finally:
        app.curl(base, "-X", "DELETE", *v2)


def test_a_deployment_replaced_without_the_sidecar_gets_it_back(app: App) -> None:
    """What a GitOps sync with Replace=true (or a person's `kubectl replace`) does; the operator repairs it."""
    app.cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(app_deployment()))
    app.cluster.wait_for(
        lambda: injected(app.deployment()), timeout=300, what="the operator to inject the sidecar again"
    )
    app.wait_ready()
    assert conditions(app.bridged_app())["Ready"]["status"] == "True"
