"""`bridgedapp explain`, the pure part: facts in, lines out (the integration tests read real clusters)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

from bridgedapp.explain import BRIDGED_BY_ANNOTATION, Facts, explain, main_explain, sidecar_failures

NS, NAME = "shop", "orders"


def cond(type_: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def app(conditions: list[dict[str, str]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": NAME, "namespace": NS, "generation": 1},
        "spec": {"deploymentName": "orders-api", "topics": [{"name": "orders", "access": "Read"}], **spec},
        "status": {"observedGeneration": 1, "phase": "Degraded", "conditions": conditions},
    }


def ready_kafka(kind: str = "Kafka") -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "x", "namespace": "kafka", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [cond("Ready", "True", "Ready")]},
    }


def test_ready_shows_the_url_and_the_topics() -> None:
    ready = app([cond("Ready", "True", "AllReady")])
    ready["status"]["bridge"] = {"url": "http://localhost:9090"}
    report = explain(Facts(NS, NAME, ready))
    assert report.ready
    assert report.lines == [
        "BridgedApp shop/orders is Ready.",
        "  the app calls the bridge at http://localhost:9090",
        "  topics:",
        "    orders: Read",
    ]


def test_not_found() -> None:
    report = explain(Facts(NS, NAME, None))
    assert not report.ready and report.lines == ["BridgedApp shop/orders not found."]


def test_a_false_condition_comes_with_what_to_do() -> None:
    facts = Facts(
        NS,
        NAME,
        app(
            [
                cond("Ready", "False", "DeploymentNotFound", "Deployment shop/orders-api does not exist"),
                cond(
                    "SidecarInjected",
                    "False",
                    "DeploymentNotFound",
                    "Deployment shop/orders-api does not exist",
                ),
                cond("StrimziReady", "True", "Adopted", "Strimzi 1.2.0 in kafka"),
            ]
        ),
        kafka_namespace="kafka",
    )
    text = "\n".join(explain(facts).lines)
    assert "X SidecarInjected False DeploymentNotFound: Deployment shop/orders-api does not exist" in text
    assert "-> create the Deployment, or set spec.deploymentName to an existing one" in text
    assert "ok StrimziReady: Strimzi 1.2.0 in kafka" in text
    assert "X Deployment shop/orders-api does not exist" in text
    assert "X Kafka kafka/my-cluster: NotFound" in text  # Strimzi's objects, absent ones too


def test_strimzi_objects_speak_for_themselves() -> None:
    topic = {
        "kind": "KafkaTopic",
        "metadata": {"name": "orders", "namespace": "kafka", "generation": 2},
        "status": {
            "observedGeneration": 2,
            "conditions": [
                cond("Ready", "False", "KafkaError", "Replication factor: 3 larger than brokers: 1")
            ],
        },
    }
    facts = Facts(NS, NAME, app([cond("Ready", "False", "KafkaError")]), kafka_namespace="kafka")
    facts.kafka, facts.node_pool, facts.topics = ready_kafka(), None, [("orders", topic)]
    text = "\n".join(explain(facts).lines)
    assert "ok Kafka kafka/my-cluster" in text
    assert "X KafkaTopic kafka/orders: KafkaError: Replication factor: 3 larger than brokers: 1" in text
    assert "X KafkaUser kafka/shop.orders: NotFound" in text


def deployment(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "orders-api", "namespace": NS, "uid": "d", "annotations": annotations or {}},
        "spec": {"replicas": 2},
        "status": {
            "updatedReplicas": 0,
            "availableReplicas": 0,
            "conditions": [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": 'pods "orders-api-1" is forbidden: violates PodSecurity "restricted:latest"',
                }
            ],
        },
    }


def test_rollout_events_and_a_crash_looping_sidecar_with_its_log() -> None:
    pod = {
        "metadata": {"name": "orders-api-1-abc"},
        "status": {
            "initContainerStatuses": [
                {
                    "name": "kafka-bridge",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                    "lastState": {"terminated": {"exitCode": 1}},
                }
            ],
            "containerStatuses": [{"name": "app", "state": {"running": {}}}],
        },
    }
    facts = Facts(NS, NAME, app([cond("AppAvailable", "False", "PodsNotAvailable", "0 of 2 pods")]))
    facts.deployment = deployment()
    facts.replica_set = {
        "metadata": {"name": "orders-api-1", "annotations": {"deployment.kubernetes.io/revision": "2"}}
    }
    facts.events = [
        {
            "type": "Warning",
            "reason": "FailedCreate",
            "count": count,
            "involvedObject": {"kind": "ReplicaSet", "name": "orders-api-1"},
            "message": f'Error creating: pods "{pod}" is forbidden: violates PodSecurity "restricted:latest"',
        }
        for pod, count in (("x", 1), ("y", 1), ("z", 3))
    ]
    facts.pods = [pod]
    facts.logs = {"orders-api-1-abc": "".join(f"line {i}\n" for i in range(20))}
    text = "\n".join(explain(facts).lines)
    assert "ReplicaFailure True FailedCreate" in text
    assert "newest ReplicaSet orders-api-1 (revision 2):" in text
    assert (
        'FailedCreate on ReplicaSet orders-api-1 (x3) [and 2 more like it]: Error creating: pods "z"' in text
    )
    assert text.count("Error creating") == 1  # the same refusal for each pod name is said once
    assert (
        "X pod orders-api-1-abc container kafka-bridge: CrashLoopBackOff, last exit code 1: back-off 40s"
        in text
    )
    assert "| line 19" in text and "| line 9" not in text  # the last 10 lines
    assert "-> read the pod and ReplicaSet events below" in text


def test_image_pull_failure_is_named() -> None:
    pod = {
        "status": {
            "initContainerStatuses": [
                {
                    "name": "kafka-bridge",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}},
                }
            ],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}],
        }
    }
    assert sidecar_failures(pod) == [("kafka-bridge", "ImagePullBackOff: no such image")]


def test_another_bridgedapp_owns_the_sidecar() -> None:
    facts = Facts(NS, NAME, app([cond("SidecarInjected", "False", "DeploymentAlreadyBridged", "taken")]))
    facts.deployment = deployment({BRIDGED_BY_ANNOTATION: "billing"})
    text = "\n".join(explain(facts).lines)
    assert "belongs to another BridgedApp: shop/billing" in text
    mine = Facts(NS, NAME, app([cond("Ready", "False", "RollingOut")]))
    mine.deployment = deployment({BRIDGED_BY_ANNOTATION: NAME})
    assert "another BridgedApp" not in "\n".join(explain(mine).lines)


class _Kube:
    """Answers gather's reads from dicts: enough for the CLI's exit code, not a stand-in for a server."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        return self.objects.get((kind, name))

    def served_versions(self, group: str, *, refresh: bool = False) -> list[str]:
        return ["v1"]

    def list(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def test_exit_code_is_0_only_when_ready() -> None:
    ready = app([cond("Ready", "True", "AllReady")])
    for obj, code in ((ready, 0), (app([cond("Ready", "False", "RollingOut")]), 1)):
        out = io.StringIO()
        with redirect_stdout(out):
            assert main_explain([NAME, "-n", NS], kube=_Kube({("BridgedApp", NAME): obj})) == code
        assert out.getvalue().startswith(f"BridgedApp {NS}/{NAME} is")
    with redirect_stdout(io.StringIO()):
        assert main_explain(["absent", "-n", NS], kube=_Kube({})) == 1


def test_never_ready_while_another_bridgedapp_owns_the_sidecar() -> None:
    facts = Facts(NS, NAME, app([cond("Ready", "True", "AllReady")]))
    facts.deployment = deployment({BRIDGED_BY_ANNOTATION: "billing"})
    report = explain(facts)
    assert not report.ready
    assert any("belongs to another BridgedApp: shop/billing" in line for line in report.lines)


def test_without_strimzi_installed_it_says_so_once() -> None:
    facts = Facts(NS, NAME, app([cond("StrimziReady", "False", "Installing", "installing Strimzi 1.2.0")]))
    facts.strimzi_served = False
    text = "\n".join(explain(facts).lines)
    assert "serves no kafka.strimzi.io resources: Strimzi is not installed" in text
    assert "KafkaUser" not in text
    assert "... StrimziReady False Installing: installing Strimzi 1.2.0" in text
