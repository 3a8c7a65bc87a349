"""Ordering and external deletes: the Deployment after the BridgedApp, the Deployment deleted and recreated,
the shared Kafka deleted, Strimzi's own Deployment deleted, a namespace deleted with its BridgedApps in it.
Each is reported, repaired where the operator owns the object, and never leaves anything stuck."""

from __future__ import annotations

import time

import pykube

from tests.faults.apps import (
    KAFKA,
    AllReady,
    assert_exactly_one_of_each,
    conditions_of,
    create_apps,
    make_namespace,
)
from tests.faults.conftest import Bed, report, wait_for
from tests.operator_fixtures import STRIMZI_NS, bridgedapp_kind, get_bridgedapp, make_deployment, strimzi_kind

READY_TIMEOUT = 240  # may include the Strimzi install when this file runs alone
REPAIR_TIMEOUT = 120
STRIMZI_REPAIR_TIMEOUT = 20  # the Kafka comes back in about a second


def _started(bed: Bed) -> None:
    if not bed.operator.alive():
        bed.operator.start()


def _not_ready_reason(api: pykube.HTTPClient, namespace: str, name: str) -> str | None:
    ready = conditions_of(get_bridgedapp(api, namespace, name) or {}).get("Ready", {})
    return ready.get("reason") if ready.get("status") == "False" else None


def test_deployment_after_the_app_then_deleted_and_recreated(faults_bed: Bed) -> None:
    api = faults_bed.api
    _started(faults_bed)
    namespace = "order-deploy"
    make_namespace(api, namespace)
    create_apps(api, namespace, ["late"], deployments=False)
    missing = wait_for(
        lambda: _not_ready_reason(api, namespace, "late") == "DeploymentNotFound" and "DeploymentNotFound",
        READY_TIMEOUT,
        "late reported DeploymentNotFound",
    )
    make_deployment(api, namespace, "late")
    wait_for(AllReady(api, namespace, ["late"]), READY_TIMEOUT, "late Ready once its Deployment exists")

    pykube.Deployment.objects(api, namespace=namespace).get(name="late").delete()
    gone = wait_for(
        lambda: _not_ready_reason(api, namespace, "late"), REPAIR_TIMEOUT, "the deleted Deployment reported"
    )
    wait_for(
        lambda: pykube.Deployment.objects(api, namespace=namespace).get_or_none(name="late") is None,
        60,
        "the Deployment gone",
    )
    started = time.monotonic()
    make_deployment(api, namespace, "late")
    wait_for(AllReady(api, namespace, ["late"]), REPAIR_TIMEOUT, "late Ready on the recreated Deployment")
    reinjected = time.monotonic() - started
    assert_exactly_one_of_each(api, namespace, ["late"])
    report(
        "deployment-after-app-deleted-recreated",
        runs=1,
        reason_without_deployment=missing,
        reason_after_delete=gone,
        ready_after_recreate_s=round(reinjected, 1),
    )


def test_kafka_deleted_is_recreated(faults_bed: Bed) -> None:
    api = faults_bed.api
    _started(faults_bed)
    namespace = "order-kafka"
    make_namespace(api, namespace)
    create_apps(api, namespace, ["kf"])
    wait_for(AllReady(api, namespace, ["kf"]), READY_TIMEOUT, "kf Ready")

    kafka = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=KAFKA)
    old_uid = kafka.obj["metadata"]["uid"]
    kafka.delete()
    started = time.monotonic()
    wait_for(
        lambda: (
            (k := strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get_or_none(name=KAFKA))
            is not None
            and k.obj["metadata"]["uid"] != old_uid
        ),
        REPAIR_TIMEOUT,
        "the deleted Kafka recreated",
    )
    kafka_back = time.monotonic() - started
    wait_for(AllReady(api, namespace, ["kf"]), REPAIR_TIMEOUT, "kf Ready on the recreated Kafka")
    report("kafka-deleted", runs=1, kafka_recreated_s=round(kafka_back, 1))


def test_strimzi_deployment_deleted_is_recreated(faults_bed: Bed) -> None:
    api = faults_bed.api
    _started(faults_bed)
    namespace = "order-strimzi"
    make_namespace(api, namespace)
    create_apps(api, namespace, ["sz"])
    wait_for(AllReady(api, namespace, ["sz"]), READY_TIMEOUT, "sz Ready")
    # Deleted while no pass runs: a pass that happens to run re-applies the install, which hides the bug.
    faults_bed.operator.wait_quiet()
    strimzi = pykube.Deployment.objects(api, namespace=STRIMZI_NS).get(name="strimzi-cluster-operator")
    old_uid = strimzi.obj["metadata"]["uid"]
    strimzi.delete()
    started = time.monotonic()
    wait_for(
        lambda: (
            (
                d := pykube.Deployment.objects(api, namespace=STRIMZI_NS).get_or_none(
                    name="strimzi-cluster-operator"
                )
            )
            is not None
            and d.obj["metadata"]["uid"] != old_uid
        ),
        STRIMZI_REPAIR_TIMEOUT,
        "Strimzi's Deployment (installed by the operator) recreated",
    )
    strimzi_back = time.monotonic() - started
    wait_for(AllReady(api, namespace, ["sz"]), REPAIR_TIMEOUT, "sz Ready after Strimzi's Deployment is back")
    report("strimzi-deployment-deleted", runs=1, strimzi_deployment_recreated_s=round(strimzi_back, 1))


def test_namespace_deleted_with_its_apps_in_it_never_sticks(faults_bed: Bed) -> None:
    api = faults_bed.api
    _started(faults_bed)
    namespace = "order-ns"
    make_namespace(api, namespace)
    names = ["ns-0", "ns-1", "ns-2"]
    create_apps(api, namespace, names)
    wait_for(AllReady(api, namespace, names), READY_TIMEOUT, "the namespace's apps Ready")
    started = time.monotonic()
    pykube.Namespace.objects(api).get(name=namespace).delete()
    wait_for(
        lambda: pykube.Namespace.objects(api).get_or_none(name=namespace) is None,
        REPAIR_TIMEOUT,
        f"namespace {namespace} gone (no BridgedApp stuck Terminating)",
    )
    gone = time.monotonic() - started
    users = [
        u.name
        for u in strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS)
        if u.name.startswith(f"{namespace}.")
    ]
    assert users == [], f"KafkaUsers of the deleted namespace left behind: {users}"
    assert not list(bridgedapp_kind(api).objects(api, namespace=namespace))
    report("namespace-deleted", runs=1, apps=len(names), namespace_gone_s=round(gone, 1), kafkausers_left=0)
