"""`bridgedapp explain` on the local control plane, in each failure these tests can produce: the real API
server (admission, Pod Security, the Deployment and ReplicaSet controllers), kwok nodes, Strimzi simulated."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pykube
import pytest
from bridgedapp.explain import BRIDGED_BY_ANNOTATION, main_explain
from bridgedapp.kube import Kube

from tests.integration.reconcile.test_sidecar import READY_TIMEOUT, spec_for
from tests.operator_fixtures import condition_is, conditions, make_bridgedapp, make_deployment, unique


@pytest.fixture(scope="module")
def kube(kubeconfig: Path) -> Kube:
    return Kube.from_env(str(kubeconfig))


def run_explain(kube: Kube, namespace: str, name: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main_explain([name, "-n", namespace], kube=kube)
    return code, out.getvalue()


def reason_is(api: pykube.HTTPClient, namespace: str, name: str, type_: str, reason: str) -> Any:
    return lambda: conditions(api, namespace, name).get(type_, {}).get("reason") == reason


def test_ready_app_shows_url_and_topics_and_exits_0(api, namespace, operator, kube, wait_until) -> None:
    make_deployment(api, namespace, "web")
    spec = spec_for("web", http={"port": 9090})
    make_bridgedapp(api, namespace, "web", spec)
    wait_until(condition_is(api, namespace, "web", "Ready"), timeout=READY_TIMEOUT, what="web Ready")
    code, text = run_explain(kube, namespace, "web")
    assert code == 0, text
    assert f"BridgedApp {namespace}/web is Ready." in text
    assert "the app calls the bridge at http://localhost:9090" in text
    assert f"    {spec['topics'][0]['name']}: ReadWrite" in text


def test_missing_deployment_and_missing_kafka(api, namespace, operator, kube, wait_until) -> None:
    absent = unique("nokafka")
    make_bridgedapp(
        api,
        namespace,
        "lost",
        {"deploymentName": "nowhere", "kafka": {"clusterName": absent, "create": False}},
    )
    wait_until(
        reason_is(api, namespace, "lost", "KafkaReady", "KafkaNotFound"),
        timeout=READY_TIMEOUT,
        what="KafkaReady KafkaNotFound",
    )
    code, text = run_explain(kube, namespace, "lost")
    assert code == 1, text
    assert "is not Ready" in text
    assert "X KafkaReady False KafkaNotFound" in text
    assert "create it or set create: true" in text  # the operator's own message says what to do
    assert f"X Kafka kafka/{absent}: NotFound" in text
    assert f"X Deployment {namespace}/nowhere does not exist" in text


def test_unknown_app_exits_1(namespace, kube) -> None:
    code, text = run_explain(kube, namespace, "nobody")
    assert (code, text) == (1, f"BridgedApp {namespace}/nobody not found.\n")


def test_pod_security_refusal_is_shown_from_the_replica_set(
    api, namespace, operator, kube, wait_until
) -> None:
    ns = pykube.Namespace.objects(api).get(name=namespace)
    ns.obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    ns.update()
    make_deployment(api, namespace, "strict")  # its app container is not restricted-compliant
    make_bridgedapp(api, namespace, "strict", spec_for("strict"))
    wait_until(
        reason_is(api, namespace, "strict", "SidecarInjected", "Injected"),
        timeout=READY_TIMEOUT,
        what="injected",
    )

    def refused() -> str | None:
        code, text = run_explain(kube, namespace, "strict")
        return (
            text
            if code == 1 and "violates PodSecurity" in text and "FailedCreate on ReplicaSet" in text
            else None
        )

    text = wait_until(refused, timeout=60, what="explain names the Pod Security refusal")
    assert "newest ReplicaSet strict-" in text
    assert "AppAvailable False" in text


def test_another_bridgedapp_owning_the_sidecar_is_named(api, namespace, operator, kube, wait_until) -> None:
    dep = make_deployment(api, namespace, "shared")
    dep.patch({"metadata": {"annotations": {BRIDGED_BY_ANNOTATION: "first"}}})  # a merge patch: no race
    make_bridgedapp(api, namespace, "second", spec_for("shared"))
    wait_until(
        lambda: conditions(api, namespace, "second").get("SidecarInjected"),
        timeout=READY_TIMEOUT,
        what="reported",
    )
    code, text = run_explain(kube, namespace, "second")
    assert code == 1, text  # never Ready while another BridgedApp owns the sidecar
    assert f"belongs to another BridgedApp: {namespace}/first (annotation {BRIDGED_BY_ANNOTATION})" in text
    assert "-> one BridgedApp per Deployment" in text
