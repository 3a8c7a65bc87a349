"""The Strimzi simulator (a TEST DOUBLE of Strimzi's operators) on a real control plane with Strimzi's CRDs.

Every object here is validated by the official Strimzi CRDs (1.2.0; 0.48.0 for v1beta2) on a private
control plane (`strimzi_crds`), and observed through pykube-ng. What these tests prove is that the
simulator writes what Strimzi writes, where Strimzi writes it: statuses the CRD schemas accept, Secrets
with real X.509 material that chains, owner references the garbage collector honours, and no writes once
everything has converged.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pykube
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import NameOID

from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.strimzi_sim import StrimziSimulator
from tests.conftest import WaitUntil
from tests.testbed.conftest import StrimziCrds, install_strimzi_crds

GROUP = "kafka.strimzi.io"
CLUSTER = "my-cluster"


# ----- manifests: minimal objects the real CRDs accept -----------------------------------------------------


def kafka_manifest(
    namespace: str, name: str = CLUSTER, *, version: str = "v1", simple_authz: bool = True
) -> dict:
    kafka: dict[str, Any] = {
        "listeners": [
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "tls", "port": 9093, "type": "internal", "tls": True, "authentication": {"type": "tls"}},
        ],
        "config": {"default.replication.factor": 1, "min.insync.replicas": 1},
    }
    if simple_authz:
        kafka["authorization"] = {"type": "simple"}
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "Kafka",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "shop"}},
        "spec": {"kafka": kafka, "entityOperator": {"topicOperator": {}, "userOperator": {}}},
    }


def pool_manifest(namespace: str, cluster: str = CLUSTER, *, replicas: int = 3, version: str = "v1") -> dict:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "KafkaNodePool",
        "metadata": {"name": "dual-role", "namespace": namespace, "labels": {"strimzi.io/cluster": cluster}},
        "spec": {
            "replicas": replicas,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [{"id": 0, "type": "persistent-claim", "size": "1Gi", "deleteClaim": False}],
            },
        },
    }


def user_manifest(namespace: str, name: str, cluster: str = CLUSTER, *, acls: bool = True) -> dict:
    spec: dict[str, Any] = {"authentication": {"type": "tls"}}
    if acls:
        spec["authorization"] = {
            "type": "simple",
            "acls": [
                {
                    "resource": {"type": "topic", "name": "orders", "patternType": "literal"},
                    "operations": ["Read", "Write", "Describe"],
                }
            ],
        }
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "KafkaUser",
        "metadata": {"name": name, "namespace": namespace, "labels": {"strimzi.io/cluster": cluster}},
        "spec": spec,
    }


def topic_manifest(
    namespace: str, name: str, cluster: str = CLUSTER, *, replicas: int = 1, topic_name: str | None = None
) -> dict:
    spec: dict[str, Any] = {"partitions": 3, "replicas": replicas}
    if topic_name:
        spec["topicName"] = topic_name
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": name, "namespace": namespace, "labels": {"strimzi.io/cluster": cluster}},
        "spec": spec,
    }


# ----- observing --------------------------------------------------------------------------------------------


def create(api: pykube.HTTPClient, obj: dict) -> dict:
    resource = pykube.object_factory(api, obj["apiVersion"], obj["kind"])(api, obj)
    resource.create()
    return resource.obj


def get(api: pykube.HTTPClient, kind: str, namespace: str, name: str, version: str = "v1") -> dict | None:
    found = pykube.object_factory(api, f"{GROUP}/{version}", kind).objects(api, namespace=namespace)
    obj = found.get_or_none(name=name)
    return obj.obj if obj is not None else None


def patch_spec(api: pykube.HTTPClient, kind: str, namespace: str, name: str, spec: dict) -> None:
    obj = pykube.object_factory(api, f"{GROUP}/v1", kind).objects(api, namespace=namespace).get(name=name)
    obj.patch({"spec": spec})


def annotate(api: pykube.HTTPClient, kind: str, namespace: str, name: str, annotations: dict) -> None:
    obj = pykube.object_factory(api, f"{GROUP}/v1", kind).objects(api, namespace=namespace).get(name=name)
    obj.patch({"metadata": {"annotations": annotations}})


def delete(api: pykube.HTTPClient, kind: str, namespace: str, name: str) -> None:
    pykube.object_factory(api, f"{GROUP}/v1", kind).objects(api, namespace=namespace).get(name=name).delete()


def secret(api: pykube.HTTPClient, namespace: str, name: str) -> dict | None:
    found = pykube.Secret.objects(api, namespace=namespace).get_or_none(name=name)
    return found.obj if found is not None else None


def data_of(obj: dict) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}


def ready_condition(obj: dict | None) -> dict | None:
    return next(
        (c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), None
    )


def not_ready_condition(obj: dict | None) -> dict | None:
    """The User Operator's failure condition: `NotReady` with status True (there is no Ready then)."""
    return next(
        (c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == "NotReady"),
        None,
    )


def reconciled(api: pykube.HTTPClient, kind: str, namespace: str, name: str, ready: str = "True") -> Callable:
    """Predicate: Ready has status `ready` for the current generation; returns the object. For a KafkaUser,
    ready="False" means the User Operator's NotReady=True."""

    def check() -> dict | None:
        obj = get(api, kind, namespace, name)
        condition = ready_condition(obj)
        if kind == "KafkaUser" and ready == "False":
            condition = not_ready_condition(obj)
            condition = (
                {**condition, "status": "False"} if condition and condition["status"] == "True" else None
            )
        status = (obj or {}).get("status") or {}
        current = obj is not None and status.get("observedGeneration") == obj["metadata"]["generation"]
        return obj if current and condition is not None and condition["status"] == ready else None

    return check


def cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificates(pem)[0]


def cn(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


# ----- fixtures ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def namespaces(api: pykube.HTTPClient) -> Iterator[Callable[[str], str]]:
    """Factory of fresh namespaces, deleted (without waiting) on exit."""
    made: list[pykube.Namespace] = []

    def make(prefix: str = "sim") -> str:
        ns = pykube.Namespace(api, {"metadata": {"name": f"{prefix}-{uuid.uuid4().hex[:6]}"}})
        ns.create()
        made.append(ns)
        return ns.name

    try:
        yield make
    finally:
        for ns in made:
            with contextlib.suppress(pykube.exceptions.HTTPError):
                ns.delete()


@pytest.fixture
def new_namespace(strimzi_crds: StrimziCrds) -> Iterator[Callable[[str], str]]:
    """Factory of fresh namespaces on the Strimzi-CRD cluster, deleted after the test."""
    with namespaces(strimzi_crds.api) as make:
        yield make


@pytest.fixture
def ns(new_namespace: Callable[[str], str]) -> str:
    return new_namespace("sim")


@pytest.fixture
def api(strimzi_crds: StrimziCrds) -> pykube.HTTPClient:
    """Overrides the session `api`: these tests observe the private Strimzi-CRD cluster."""
    return strimzi_crds.api


@pytest.fixture
def sim(strimzi_crds: StrimziCrds) -> Iterator[StrimziSimulator]:
    with StrimziSimulator(strimzi_crds.cluster.kubeconfig, resync_seconds=3) as simulator:
        yield simulator


@pytest.fixture
def ready_cluster(api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, wait_until: WaitUntil) -> dict:
    """A Kafka with a 3-node pool, Ready as the simulator reports it."""
    create(api, kafka_manifest(ns))
    create(api, pool_manifest(ns))
    return wait_until(reconciled(api, "Kafka", ns, CLUSTER), what="Kafka Ready")


# ----- the cluster operator part ----------------------------------------------------------------------------


def test_kafka_and_node_pool_get_strimzis_status(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    status = ready_cluster["status"]
    assert sim.served_version == "v1"
    assert ready_condition(ready_cluster)["lastTransitionTime"].endswith("Z")
    tls = next(listener for listener in status["listeners"] if listener["name"] == "tls")
    assert tls["bootstrapServers"] == f"{CLUSTER}-kafka-bootstrap.{ns}.svc:9093"
    assert tls["addresses"] == [{"host": f"{CLUSTER}-kafka-bootstrap.{ns}.svc", "port": 9093}]
    plain = next(listener for listener in status["listeners"] if listener["name"] == "plain")
    assert "certificates" not in plain
    ca_cert = data_of(secret(api, ns, f"{CLUSTER}-cluster-ca-cert"))["ca.crt"]
    assert cert(tls["certificates"][0].encode()) == cert(ca_cert)
    assert status["kafkaVersion"] == "4.3.1" and status["kafkaMetadataVersion"] == "4.3-IV0"
    assert status["operatorLastSuccessfulVersion"] == "1.2.0"
    assert status["kafkaNodePools"] == [{"name": "dual-role"}]
    assert len(status["clusterId"]) == 22
    assert "kafkaMetadataState" not in status  # not a field of Strimzi 1.x's Kafka status

    pool = get(api, "KafkaNodePool", ns, "dual-role")
    assert pool["status"]["observedGeneration"] == pool["metadata"]["generation"]
    assert pool["status"]["nodeIds"] == [0, 1, 2]
    assert pool["status"]["replicas"] == 3
    assert pool["status"]["roles"] == ["broker", "controller"]
    assert pool["status"]["clusterId"] == status["clusterId"]
    assert "conditions" not in pool["status"]  # Strimzi gives node pools no Ready condition

    patch_spec(api, "KafkaNodePool", ns, "dual-role", {"replicas": 4})

    def scaled() -> dict | None:
        found = get(api, "KafkaNodePool", ns, "dual-role")
        observed = found["status"]["observedGeneration"] == found["metadata"]["generation"] == 2
        return found if observed else None

    assert wait_until(scaled, what="node pool generation 2 observed")["status"]["nodeIds"] == [0, 1, 2, 3]


def test_kafka_without_node_pools_is_not_ready_until_one_exists(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, wait_until: WaitUntil
) -> None:
    create(api, kafka_manifest(ns))
    failed = wait_until(reconciled(api, "Kafka", ns, CLUSTER, ready="False"), what="Kafka Ready=False")
    condition = ready_condition(failed)
    assert condition["reason"] == "InvalidConfigurationException"
    assert condition["message"] == f"No KafkaNodePools found for Kafka cluster {CLUSTER}"
    create(api, pool_manifest(ns, replicas=1))
    wait_until(reconciled(api, "Kafka", ns, CLUSTER), what="Kafka Ready once a pool exists")


def test_ca_secrets_hold_real_x509_and_go_with_their_kafka(
    api: pykube.HTTPClient, ns: str, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    uid = ready_cluster["metadata"]["uid"]
    for role in ("cluster-ca", "clients-ca"):
        cert_secret, key_secret = (
            secret(api, ns, f"{CLUSTER}-{role}-cert"),
            secret(api, ns, f"{CLUSTER}-{role}"),
        )
        data, key_data = data_of(cert_secret), data_of(key_secret)
        ca = cert(data["ca.crt"])
        assert cn(ca) == f"{role} v0"
        ca.verify_directly_issued_by(ca)
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        key = load_pem_private_key(key_data["ca.key"], password=None)
        assert key.public_key().public_numbers() == ca.public_key().public_numbers()
        store = pkcs12.load_pkcs12(data["ca.p12"], data["ca.password"])
        assert [c.certificate for c in store.additional_certs] == [ca]
        for obj in (cert_secret, key_secret):
            labels = obj["metadata"]["labels"]
            assert labels["strimzi.io/cluster"] == CLUSTER and labels["strimzi.io/kind"] == "Kafka"
            assert labels["strimzi.io/name"] == "strimzi"
            assert labels["strimzi.io/component-type"] == "certificate-authority"
            assert labels["app.kubernetes.io/managed-by"] == "strimzi-cluster-operator"
            assert labels["team"] == "shop"  # the Kafka's own labels are inherited, as Strimzi does
            [owner] = obj["metadata"]["ownerReferences"]
            assert (owner["kind"], owner["name"], owner["uid"]) == ("Kafka", CLUSTER, uid)
        assert cert_secret["metadata"]["annotations"]["strimzi.io/ca-cert-generation"] == "0"
        assert key_secret["metadata"]["annotations"]["strimzi.io/ca-key-generation"] == "0"
    bundle = data_of(secret(api, ns, f"{CLUSTER}-trustbundle"))
    assert (
        cn(cert(bundle["cluster-ca.crt"])) == "cluster-ca v0"
        and cn(cert(bundle["clients-ca.crt"])) == "clients-ca v0"
    )

    delete(api, "Kafka", ns, CLUSTER)  # the garbage collector removes what the Kafka owns
    wait_until(
        lambda: (
            secret(api, ns, f"{CLUSTER}-cluster-ca-cert") is None
            and secret(api, ns, f"{CLUSTER}-clients-ca") is None
        ),
        what="CA Secrets garbage-collected with their Kafka",
    )


def test_only_watched_namespaces_are_reconciled(
    strimzi_crds: StrimziCrds, api: pykube.HTTPClient, new_namespace: Callable[[str], str]
) -> None:
    watched, other = new_namespace("watched"), new_namespace("other")
    for namespace in (watched, other):
        create(api, kafka_manifest(namespace))
        create(api, pool_manifest(namespace, replicas=1))
    simulator = StrimziSimulator(strimzi_crds.cluster.kubeconfig, watched_namespaces=[watched])
    assert simulator.reconcile_now() > 0  # a pass in this thread: no waiting, no background thread
    assert ready_condition(get(api, "Kafka", watched, CLUSTER))["status"] == "True"
    assert get(api, "Kafka", other, CLUSTER).get("status") is None
    assert secret(api, other, f"{CLUSTER}-cluster-ca-cert") is None


# ----- the user operator part -------------------------------------------------------------------------------


def test_tls_user_gets_a_secret_chaining_to_the_clients_ca(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    user = create(api, user_manifest(ns, "orders-app"))
    done = wait_until(reconciled(api, "KafkaUser", ns, "orders-app"), what="KafkaUser Ready")
    assert done["status"]["username"] == "CN=orders-app" and done["status"]["secret"] == "orders-app"

    clients_ca = cert(data_of(secret(api, ns, f"{CLUSTER}-clients-ca-cert"))["ca.crt"])
    user_secret = secret(api, ns, "orders-app")
    data = data_of(user_secret)
    assert sorted(data) == ["ca.crt", "user.crt", "user.key", "user.p12", "user.password"]
    assert cert(data["ca.crt"]) == clients_ca
    user_cert = cert(data["user.crt"])
    assert user_cert.subject.rfc4514_string() == "CN=orders-app"
    user_cert.verify_directly_issued_by(clients_ca)
    assert data["user.key"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    key = load_pem_private_key(data["user.key"], password=None)
    assert key.public_key().public_numbers() == user_cert.public_key().public_numbers()
    store = pkcs12.load_pkcs12(data["user.p12"], data["user.password"])
    assert store.cert is not None and store.cert.certificate == user_cert
    labels = user_secret["metadata"]["labels"]
    # What the real User Operator writes (tier 3 checks the simulator's labels against it).
    assert labels == {
        "strimzi.io/cluster": CLUSTER,
        "strimzi.io/kind": "KafkaUser",
        "app.kubernetes.io/name": "strimzi-user-operator",
        "app.kubernetes.io/instance": "orders-app",
        "app.kubernetes.io/part-of": "strimzi-orders-app",
        "app.kubernetes.io/managed-by": "strimzi-user-operator",
    }
    assert len(data["user.password"]) == 32
    [owner] = user_secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("KafkaUser", user["metadata"]["uid"])

    sim.rotate_user(ns, "orders-app")
    renewed = data_of(secret(api, ns, "orders-app"))
    assert renewed["user.crt"] != data["user.crt"] and renewed["user.key"] != data["user.key"]
    cert(renewed["user.crt"]).verify_directly_issued_by(clients_ca)

    # Strimzi's own way: `strimzi.io/force-renew` on the user Secret; the Secret written back no longer has it.
    annotated = pykube.Secret(api, secret(api, ns, "orders-app"))
    annotated.obj["metadata"].setdefault("annotations", {})["strimzi.io/force-renew"] = "true"
    annotated.update()

    def renewed_again() -> dict | None:
        found = secret(api, ns, "orders-app")
        done = found and data_of(found)["user.crt"] != renewed["user.crt"]
        return found if done else None

    again = wait_until(renewed_again, what="user certificate renewed by strimzi.io/force-renew")
    assert "strimzi.io/force-renew" not in (again["metadata"].get("annotations") or {})

    delete(api, "KafkaUser", ns, "orders-app")
    wait_until(lambda: secret(api, ns, "orders-app") is None, what="user Secret garbage-collected")


def test_user_operator_selects_and_rejects_like_strimzis(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, wait_until: WaitUntil
) -> None:
    create(api, kafka_manifest(ns, simple_authz=False))
    create(api, pool_manifest(ns, replicas=1))
    create(api, user_manifest(ns, "with-acls"))
    create(api, user_manifest(ns, "no-acls", acls=False))
    create(api, user_manifest(ns, "orphan", cluster="no-such-cluster"))
    rejected = wait_until(
        reconciled(api, "KafkaUser", ns, "with-acls", ready="False"), what="KafkaUser rejected"
    )
    assert ready_condition(rejected) is None
    assert not_ready_condition(rejected)["reason"] == "ExecutionException"
    assert (
        "InvalidResourceException: Simple authorization ACL rules are configured but not supported"
        in (not_ready_condition(rejected)["message"])
    )
    assert secret(api, ns, "with-acls") is None
    wait_until(reconciled(api, "KafkaUser", ns, "no-acls"), what="KafkaUser without ACLs Ready")
    sim.reconcile_now()  # a full pass in this thread: had any part meant to handle "orphan", it would have
    assert get(api, "KafkaUser", ns, "orphan").get("status") is None  # no User Operator selects it
    assert secret(api, ns, "orphan") is None


def test_rotating_the_clients_ca_reissues_user_certificates(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    create(api, user_manifest(ns, "billing"))
    wait_until(reconciled(api, "KafkaUser", ns, "billing"), what="KafkaUser Ready")
    before = data_of(secret(api, ns, "billing"))
    assert sim.rotate_clients_ca(ns, CLUSTER) == 1
    new_ca = cert(data_of(secret(api, ns, f"{CLUSTER}-clients-ca-cert"))["ca.crt"])
    assert cn(new_ca) == "clients-ca v1"

    def reissued() -> dict[str, bytes] | None:
        data = data_of(secret(api, ns, "billing"))
        return data if cert(data["ca.crt"]) == new_ca else None

    after = wait_until(reissued, what="user Secret re-issued by the new clients CA")
    assert after["user.crt"] != before["user.crt"]
    cert(after["user.crt"]).verify_directly_issued_by(new_ca)


# ----- the topic operator part ------------------------------------------------------------------------------


def test_topics_get_name_and_id_or_kafkas_error(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, wait_until: WaitUntil
) -> None:
    create(api, kafka_manifest(ns))
    create(api, pool_manifest(ns, replicas=1))
    create(api, topic_manifest(ns, "orders-v1", topic_name="orders.v1"))
    create(api, topic_manifest(ns, "too-many-replicas", replicas=3))
    topic = wait_until(reconciled(api, "KafkaTopic", ns, "orders-v1"), what="KafkaTopic Ready")
    assert topic["status"]["topicName"] == "orders.v1"
    assert len(topic["status"]["topicId"]) == 22
    refused = wait_until(
        reconciled(api, "KafkaTopic", ns, "too-many-replicas", ready="False"), what="topic refused"
    )
    assert ready_condition(refused)["reason"] == "KafkaError"
    assert (
        "The target replication factor of 3 cannot be reached because only 1 broker(s) are registered"
        in ready_condition(refused)["message"]
    )


# ----- controls: failures and rotations ---------------------------------------------------------------------


def test_fail_and_recover_flip_ready(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    create(api, user_manifest(ns, "app"))
    wait_until(reconciled(api, "KafkaUser", ns, "app"), what="KafkaUser Ready")
    ready_since = ready_condition(ready_cluster)["lastTransitionTime"]

    sim.fail("Kafka", ns, CLUSTER, "Simulated: brokers cannot reach the controller quorum")
    sim.fail("KafkaUser", ns, "app", "Simulated: ACLs could not be set", reason="AclException")
    failed = wait_until(reconciled(api, "Kafka", ns, CLUSTER, ready="False"), what="Kafka Ready=False")
    condition = ready_condition(failed)
    assert condition["reason"] == "InvalidResourceException"
    assert condition["message"] == "Simulated: brokers cannot reach the controller quorum"
    assert condition["lastTransitionTime"] >= ready_since
    user = wait_until(reconciled(api, "KafkaUser", ns, "app", ready="False"), what="KafkaUser NotReady")
    assert not_ready_condition(user)["reason"] == "AclException" and ready_condition(user) is None

    sim.recover("Kafka", ns, CLUSTER)
    sim.recover("KafkaUser", ns, "app")
    wait_until(reconciled(api, "Kafka", ns, CLUSTER), what="Kafka Ready again")
    wait_until(reconciled(api, "KafkaUser", ns, "app"), what="KafkaUser Ready again")


def test_paused_resources_report_reconciliation_paused(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    create(api, user_manifest(ns, "app"))
    create(api, topic_manifest(ns, "app"))
    wait_until(reconciled(api, "KafkaUser", ns, "app"), what="KafkaUser Ready")
    wait_until(reconciled(api, "KafkaTopic", ns, "app"), what="KafkaTopic Ready")
    objects = (("Kafka", CLUSTER), ("KafkaUser", "app"), ("KafkaTopic", "app"))
    for kind, name in objects:
        annotate(api, kind, ns, name, {"strimzi.io/pause-reconciliation": "true"})

    def paused(kind: str, name: str) -> Callable[[], dict | None]:
        def check() -> dict | None:
            obj = get(api, kind, ns, name)
            types = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
            return obj if types == {"ReconciliationPaused": "True"} else None

        return check

    kafka = wait_until(paused("Kafka", CLUSTER), what="Kafka paused")
    assert kafka["status"]["clusterId"] == ready_cluster["status"]["clusterId"]
    assert kafka["status"]["observedGeneration"] == ready_cluster["status"]["observedGeneration"]
    wait_until(paused("KafkaUser", "app"), what="KafkaUser paused")
    assert "topicId" not in wait_until(paused("KafkaTopic", "app"), what="KafkaTopic paused")["status"]

    annotate(api, "Kafka", ns, CLUSTER, {"strimzi.io/pause-reconciliation": None})
    wait_until(reconciled(api, "Kafka", ns, CLUSTER), what="Kafka Ready once unpaused")


def test_rotating_the_cluster_ca_keeps_old_and_new_certificates_trusted(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    name = f"{CLUSTER}-cluster-ca-cert"
    old = cert(data_of(secret(api, ns, name))["ca.crt"])
    assert sim.rotate_cluster_ca(ns, CLUSTER) == 1

    rotated = secret(api, ns, name)
    data = data_of(rotated)
    new = cert(data["ca.crt"])
    assert cn(new) == "cluster-ca v1" and new != old
    [old_key] = [k for k in data if k.startswith("ca-") and k.endswith("Z.crt")]  # Strimzi: ca-<notAfter>.crt
    assert cert(data[old_key]) == old
    assert rotated["metadata"]["annotations"]["strimzi.io/ca-cert-generation"] == "1"
    key_secret = secret(api, ns, f"{CLUSTER}-cluster-ca")
    assert key_secret["metadata"]["annotations"]["strimzi.io/ca-key-generation"] == "1"
    key = load_pem_private_key(data_of(key_secret)["ca.key"], password=None)
    assert key.public_key().public_numbers() == new.public_key().public_numbers()
    store = pkcs12.load_pkcs12(data["ca.p12"], data["ca.password"])
    assert {c.certificate for c in store.additional_certs} == {new, old}

    def bundle_has_both() -> bool:
        pem = data_of(secret(api, ns, f"{CLUSTER}-trustbundle"))["cluster-ca.crt"]
        return set(x509.load_pem_x509_certificates(pem)) == {new, old}

    wait_until(bundle_has_both, what="trust bundle with old and new cluster CA")

    def listener_has_new() -> bool:
        listeners = get(api, "Kafka", ns, CLUSTER)["status"]["listeners"]
        tls = next(listener for listener in listeners if listener["name"] == "tls")
        return cert(tls["certificates"][0].encode()) == new

    wait_until(listener_has_new, what="tls listener status with the new CA certificate")

    sim.complete_cluster_ca_rotation(ns, CLUSTER)
    done = data_of(secret(api, ns, name))
    assert [k for k in done if k.endswith(".crt")] == ["ca.crt"] and cert(done["ca.crt"]) == new


def test_no_writes_once_converged(
    api: pykube.HTTPClient, ns: str, sim: StrimziSimulator, ready_cluster: dict, wait_until: WaitUntil
) -> None:
    create(api, user_manifest(ns, "quiet"))
    create(api, topic_manifest(ns, "quiet"))
    wait_until(reconciled(api, "KafkaUser", ns, "quiet"), what="KafkaUser Ready")
    wait_until(reconciled(api, "KafkaTopic", ns, "quiet"), what="KafkaTopic Ready")
    wait_until(lambda: sim.reconcile_now() == 0, what="a pass with nothing to write")

    def versions() -> dict[str, str]:
        objs = [get(api, kind, ns, name) for kind, name in (("Kafka", CLUSTER), ("KafkaUser", "quiet"))]
        objs += [s.obj for s in pykube.Secret.objects(api, namespace=ns)]
        return {o["metadata"]["name"] + o.get("kind", ""): o["metadata"]["resourceVersion"] for o in objs}

    before = versions()
    assert sim.reconcile_now() == 0
    assert sim.reconcile_now() == 0
    assert versions() == before


# ----- served API versions and the command line -------------------------------------------------------------


@pytest.fixture(scope="module")
def strimzi_048(fresh_cluster: Callable[[str], LocalCluster]) -> StrimziCrds:
    """A private control plane with the Strimzi 0.48.0 CRDs, which serve kafka.strimzi.io/v1beta2 only."""
    local = fresh_cluster("strimzi-048")
    api = pykube_client(local.kubeconfig)
    return StrimziCrds(cluster=local, api=api, version="0.48.0", names=install_strimzi_crds(api, "0.48.0"))


def test_v1beta2_is_used_where_only_that_is_served(strimzi_048: StrimziCrds, wait_until: WaitUntil) -> None:
    api = strimzi_048.api
    with namespaces(api) as make, StrimziSimulator(strimzi_048.cluster.kubeconfig) as simulator:
        ns = make("beta")
        create(api, kafka_manifest(ns, version="v1beta2"))
        create(api, pool_manifest(ns, replicas=1, version="v1beta2"))

        def ready() -> dict | None:
            kafka = get(api, "Kafka", ns, CLUSTER, version="v1beta2")
            return kafka if (ready_condition(kafka) or {}).get("status") == "True" else None

        status = wait_until(ready, what="v1beta2 Kafka Ready")["status"]
        assert simulator.served_version == "v1beta2"
        assert status["operatorLastSuccessfulVersion"] == "0.48.0" and status["kafkaVersion"] == "4.1.0"
        assert status["kafkaMetadataState"] == "KRaft"  # 0.48's schema has the field, so it is kept
        assert secret(api, ns, f"{CLUSTER}-clients-ca-cert") is not None
        assert secret(api, ns, f"{CLUSTER}-trustbundle") is None  # Strimzi 1.0 introduced it


def test_command_line_says_it_is_a_test_double_and_reconciles(
    strimzi_crds: StrimziCrds, api: pykube.HTTPClient, ns: str, wait_until: WaitUntil
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.strimzi_sim", "--kubeconfig", str(strimzi_crds.cluster.kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith("TEST DOUBLE: simulating Strimzi's cluster, user, topic operator(s)")
        create(api, kafka_manifest(ns))
        create(api, pool_manifest(ns, replicas=1))
        wait_until(reconciled(api, "Kafka", ns, CLUSTER), what="Kafka Ready through the command line")
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "Strimzi simulator stopped" in output
