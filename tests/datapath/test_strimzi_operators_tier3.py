"""Tier 3 of the data path: Strimzi's own User Operator and Topic Operator (1.2.0), run as processes against a
local control plane of this module's own and a real Kafka broker, turn what the operator wrote into certificates,
ACLs and topics. The Strimzi simulator runs only its cluster part there (`parts=("cluster",)`: Kafka and node pool
readiness, the cluster and clients CA Secrets); the broker trusts that clients CA.

Nothing the operator wrote is changed. Runs only when BRIDGEDAPP_STRIMZI_OPERATORS_DIST names the two built modules
(testbed/strimzi_operators.py gives the layout); otherwise, in CI too, it skips saying why: CI cannot build them.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykube
import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from testbed.bridge.process import RealBridge
from testbed.cluster import LocalCluster
from testbed.kafka.acls import acl_bindings_for_user, tls_principal
from testbed.kafka.broker import KafkaBroker
from testbed.kubeclient import pykube_client
from testbed.operator_process import running_operator
from testbed.strimzi_operators import (
    KINDS,
    EntityOperators,
    find_operators_dist,
    find_operators_java,
)
from testbed.strimzi_sim import StrimziSimulator
from testbed.strimzi_sim.ca import common_name, load_certificates
from testbed.strimzi_sim.common import iso_now
from testbed.strimzi_sim.topic_operator import replication_factor_error
from testbed.strimzi_sim.user_operator import MAX_TLS_USERNAME, invalid_resource, user_secret_labels
from testbed.toolchain import Binaries
from tests.datapath.rendered import APP_DEPLOYMENT, APP_NAME, RenderedApp, read_rendered, strimzi_ca
from tests.datapath.runners import RenderedKafkaSide
from tests.datapath.test_rendered_tier1 import (
    FROM_START,
    GROUP_DENIED,
    TOPIC_DENIED,
    config_hash,
    token,
    wait_for_mirror_change,
)
from tests.operator_fixtures import (
    REPO,
    STRIMZI_NS,
    bridgedapp_kind,
    condition_is,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    strimzi_kind,
)

_DIST, _WHY = find_operators_dist()
_JAVA, _WHY_JAVA = find_operators_java() if _DIST is not None else (None, "")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.strimzi_operators,
    pytest.mark.skipif(_DIST is None, reason=f"tier 3 (Strimzi's own operators) skipped: {_WHY}"),
    pytest.mark.skipif(_DIST is not None and _JAVA is None, reason=f"tier 3 skipped: {_WHY_JAVA}"),
]

READY_TIMEOUT = 300.0  # a fresh control plane: Strimzi installed from the bundle, then the real operators
TOPIC_FINALIZER = "strimzi.io/topic-operator"
# Java's DateTimeFormatter.ISO_INSTANT: the fraction in groups of three digits, as many as it needs.
ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$")
FORCE_RENEW = "strimzi.io/force-renew"
# Two topics: one ReadWrite with partitions and config, one Read whose name is no valid object name (`_`, `.`).
RW_CONFIG = {"retention.ms": "3600000", "cleanup.policy": "delete"}


def app_spec(cluster: str, namespace: str) -> dict[str, Any]:
    """An explicit consumer-group prefix inside the namespace's own `<namespace>.` (the many-teams policy)."""
    return {
        "deploymentName": APP_DEPLOYMENT,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [
            {
                "name": f"orders-{cluster}",
                "partitions": 3,
                "replicas": 1,
                "access": "ReadWrite",
                "config": RW_CONFIG,
            },
            {"name": f"shop_prices.v1-{cluster}", "partitions": 2, "replicas": 1, "access": "Read"},
        ],
        "consumerGroup": f"{namespace}.shop-{cluster}",
    }


@dataclass
class Tier3:
    """Everything the module's tests share: the control plane, the broker, the real operators, the app."""

    cluster: LocalCluster
    api: pykube.HTTPClient
    simulator: StrimziSimulator
    broker: KafkaBroker
    operators: EntityOperators
    app: RenderedApp
    # Records on the ReadWrite topic so far (it has several partitions: no order across them).
    written: int = 0

    def read(self) -> RenderedApp:
        return read_rendered(self.api, self.app.namespace, self.app.name)

    def produce_and_consume(self, side: RenderedKafkaSide, app: RenderedApp) -> None:
        """Fresh values to the ReadWrite topic, then every record of it from the start in a fresh allowed group:
        ours are among them (several partitions: order holds only within one)."""
        topic = app.topic("ReadWrite")
        values = [f"v-{token()}-{i}" for i in range(3)]
        produced = side(app, self.broker, ["produce", topic, *values])
        assert produced.ok, produced
        self.written += len(values)
        group = f"{app.group_prefix}-{token()}"
        consumed = side(app, self.broker, ["consume", topic, group, str(self.written), "30000", FROM_START])
        assert consumed.ok, consumed
        assert set(values) <= {r["value"] for r in consumed.answer["records"]}, consumed


@pytest.fixture(scope="module")
def tier3(
    pytestconfig: pytest.Config,
    binaries: Binaries,
    kafka_libs: Path,
    mount_namespace: None,
    strimzi_manifest: Path,
    wait_until: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tier3]:
    """A control plane of its own (the session's simulator plays every Strimzi part everywhere), the operator as
    its users run it, the simulator's cluster part only, then, once the CAs exist, the broker serving the rendered
    bootstrap `<cluster>-kafka-bootstrap.kafka.svc:9093` and Strimzi's User and Topic Operators; the app Ready."""
    assert _DIST is not None and _JAVA is not None
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    logs = tmp_path_factory.mktemp("tier3")
    with contextlib.ExitStack() as stack:
        local = LocalCluster(f"{os.getpid()}-tier3", binaries=binaries, progress=True)
        with capture.global_and_fixture_disabled():
            local.create()
        stack.callback(local.delete)
        local.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        local.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")
        api = pykube_client(local.kubeconfig)

        sim = StrimziSimulator(local.kubeconfig, parts=("cluster",))
        sim.start()
        stack.callback(sim.stop)
        stack.enter_context(
            running_operator(
                local.kubeconfig,
                logs / "operator.log",
                args=["--verbose"],
                env={"BRIDGEDAPP_STRIMZI_MANIFEST": str(strimzi_manifest)},
            )
        )

        namespace = f"tier3-{uuid.uuid4().hex[:6]}"
        pykube.Namespace(api, {"metadata": {"name": namespace}}).create()
        wait_until(
            lambda: pykube.ServiceAccount.objects(api, namespace=namespace).get_or_none(name="default"),
            what=f"ServiceAccount default in {namespace}",
        )
        cluster = f"t3-{uuid.uuid4().hex[:5]}"
        make_deployment(api, namespace, APP_DEPLOYMENT)
        make_bridgedapp(api, namespace, APP_NAME, app_spec(cluster, namespace))

        secrets = pykube.Secret.objects(api, namespace=STRIMZI_NS)
        wait_until(
            lambda: all(
                secrets.get_or_none(name=f"{cluster}-{role}") is not None
                for role in ("cluster-ca-cert", "cluster-ca", "clients-ca-cert", "clients-ca")
            ),
            timeout=READY_TIMEOUT,
            what=f"Strimzi installed and the CA Secrets of Kafka {STRIMZI_NS}/{cluster} written (simulated)",
        )
        kafka = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=cluster).obj
        cluster_ca = strimzi_ca(api, STRIMZI_NS, cluster, "cluster-ca")
        clients_ca = strimzi_ca(api, STRIMZI_NS, cluster, "clients-ca")

        broker = KafkaBroker(
            cluster_ca,
            clients_ca,
            advertised_host=f"{cluster}-kafka-bootstrap.{STRIMZI_NS}.svc",
            tls_port=9093,
            extra_super_users=[kind.principal(cluster) for kind in KINDS],
        )
        with capture.global_and_fixture_disabled():
            broker.start()
        stack.callback(broker.stop)

        operators = EntityOperators(
            api, local.kubeconfig, kafka, cluster_ca, broker.replication_bootstrap, _DIST, _JAVA, workdir=logs
        )
        stack.callback(operators.stop)
        with capture.global_and_fixture_disabled():
            operators.start()

        wait_until(
            condition_is(api, namespace, APP_NAME, "Ready"),
            timeout=READY_TIMEOUT,
            what=f"BridgedApp {namespace}/{APP_NAME} Ready with Strimzi's real User and Topic Operators",
        )
        yield Tier3(local, api, sim, broker, operators, read_rendered(api, namespace, APP_NAME))


def ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
    assert len(found) == 1, obj.get("status")
    return found[0]


def strimzi_user_secret(t: Tier3) -> dict[str, Any]:
    user = t.app.kafka_user
    secret = pykube.Secret.objects(t.api, namespace=t.app.kafka_namespace).get(name=user["status"]["secret"])
    return dict(secret.obj)


def decoded(secret: dict[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


# ---- what Strimzi's User Operator made of the KafkaUser ---------------------------------------------------------


def status_managers(obj: dict[str, Any]) -> set[str]:
    """Who wrote the object's status, as the API server recorded it (managedFields of the status subresource)."""
    return {
        m["manager"] for m in obj["metadata"].get("managedFields") or [] if m.get("subresource") == "status"
    }


def test_users_and_topics_are_reconciled_by_strimzis_operators_not_the_simulator(tier3: Tier3) -> None:
    """The switch that hands users and topics to the real operators: the simulator plays the cluster operator only,
    and the API server records Strimzi's own clients, not the simulator's, as the writers of their statuses."""
    assert tier3.simulator.parts == ("cluster",)
    assert tier3.operators.user.running and tier3.operators.topic.running
    kafka = (
        strimzi_kind(tier3.api, "Kafka").objects(tier3.api, namespace=STRIMZI_NS).get(name=tier3.app.cluster)
    )
    simulator = status_managers(kafka.obj)
    assert simulator and not simulator & {"strimzi-user-operator", "strimzi-topic-operator"}
    assert status_managers(tier3.app.kafka_user) == {"strimzi-user-operator"}
    for topic in tier3.app.kafka_topics:
        assert status_managers(topic) == {"strimzi-topic-operator"}, topic["metadata"]["name"]


def test_kafkauser_ready_by_the_user_operator_with_strimzis_secret(tier3: Tier3) -> None:
    """The KafkaUser exactly as the operator wrote it is Ready (set by Strimzi's User Operator, for its generation),
    and its Secret has Strimzi's own layout: five keys, a CN=<user> certificate from the clients CA, a PKCS#8 key, a
    PKCS#12 keystore opened by its 32-character password; Strimzi's labels, owned by the KafkaUser."""
    user = tier3.app.kafka_user
    name = user["metadata"]["name"]
    ready = ready_condition(user)
    assert ready["status"] == "True", ready
    assert user["status"]["observedGeneration"] == user["metadata"]["generation"]
    assert user["status"]["username"] == f"CN={name}" and user["status"]["secret"] == name

    secret = strimzi_user_secret(tier3)
    data = decoded(secret)
    assert sorted(data) == ["ca.crt", "user.crt", "user.key", "user.p12", "user.password"]
    assert data["user.key"].startswith(b"-----BEGIN PRIVATE KEY-----")
    cert = load_certificates(data["user.crt"])[0]
    assert common_name(cert) == name and cert.subject.rfc4514_string() == f"CN={name}"
    assert tier3.app.clients_ca.signed(cert)
    assert load_certificates(data["ca.crt"]) == [tier3.app.clients_ca.cert]
    assert len(data["user.password"]) == 32 and data["user.password"].isalnum()
    store = pkcs12.load_pkcs12(data["user.p12"], data["user.password"])
    assert store.cert is not None and store.cert.certificate == cert
    owners = secret["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"], o["uid"]) for o in owners] == [
        ("KafkaUser", name, user["metadata"]["uid"])
    ]
    # The simulator labels the Secrets it writes exactly like this (the fast tiers tell the same story).
    assert secret["metadata"]["labels"] == user_secret_labels(user)


def test_the_broker_holds_exactly_the_acls_the_bridgedapp_asked_for(tier3: Tier3) -> None:
    """Read back with the Admin API: Strimzi's User Operator created exactly the KafkaUser's ACLs for User:CN=<user>
    (translated as the test bed's acl_bindings_for_user translates them), and nothing else exists in the broker."""
    app, broker = tier3.app, tier3.broker
    everything = broker.describe_acls()
    assert everything == acl_bindings_for_user(app.username, app.acls)
    assert {b.principal for b in everything} == {tls_principal(app.username)}
    rw, ro, group = app.topic("ReadWrite"), app.topic("Read"), app.group_prefix
    assert {(b.resource_type, b.resource_name, b.pattern_type, b.operation) for b in everything} == {
        ("TOPIC", rw, "LITERAL", "DESCRIBE"),
        ("TOPIC", rw, "LITERAL", "READ"),
        ("TOPIC", rw, "LITERAL", "WRITE"),
        ("TOPIC", ro, "LITERAL", "DESCRIBE"),
        ("TOPIC", ro, "LITERAL", "READ"),
        ("GROUP", group, "PREFIXED", "READ"),
    }
    assert {b.permission for b in everything} == {"ALLOW"} and {b.host for b in everything} == {"*"}


# ---- what Strimzi's Topic Operator made of the KafkaTopics ------------------------------------------------------


def test_kafkatopics_ready_by_the_topic_operator_with_partitions_and_config(tier3: Tier3) -> None:
    """Each KafkaTopic is Ready for its generation, carries the Topic Operator's finalizer, and exists in the broker
    with the partitions and config the BridgedApp asked for; the topic whose name is no object name (`_`, `.`)
    lives under a sanitised object name and reaches Kafka by `spec.topicName`, its name unchanged."""
    asked = {t["name"]: t for t in tier3.app.app["spec"]["topics"]}
    topics = {(t["spec"].get("topicName") or t["metadata"]["name"]): t for t in tier3.app.kafka_topics}
    assert set(topics) == set(asked)
    for name, topic in topics.items():
        assert ready_condition(topic)["status"] == "True", topic.get("status")
        assert topic["status"]["observedGeneration"] == topic["metadata"]["generation"]
        assert topic["status"]["topicName"] == name and topic["status"].get("topicId")
        assert TOPIC_FINALIZER in topic["metadata"].get("finalizers", [])
        described = tier3.broker.describe_topic(name)
        assert described["partitions"] == asked[name]["partitions"]
        assert described["replicationFactor"] == 1
        assert described["configs"] == {k: str(v) for k, v in (asked[name].get("config") or {}).items()}

    odd = tier3.app.topic("Read")
    assert "_" in odd and "." in odd
    assert topics[odd]["metadata"]["name"] != odd and topics[odd]["spec"]["topicName"] == odd
    assert odd in tier3.broker.list_topics()


# ---- the mirrored credentials on the data path ------------------------------------------------------------------


def test_mirrored_credentials_work_through_the_bridges_kafka_clients(
    tier3: Tier3, rendered_side: RenderedKafkaSide
) -> None:
    """Tier 1's clients on the rendered inputs, unchanged: produce and consume back on the ReadWrite topic; writing
    the Read topic, a topic without ACL, and a group outside the prefix are refused by the broker."""
    app, broker = tier3.app, tier3.broker
    assert app.bootstrap == broker.bootstrap
    assert load_certificates(app.credentials["user.crt"]) == load_certificates(
        decoded(strimzi_user_secret(tier3))["user.crt"]
    )
    tier3.produce_and_consume(rendered_side, app)

    denied_topic = f"payments-{app.cluster}"
    broker.create_topic(denied_topic)
    for topic in (app.topic("Read"), denied_topic):
        result = rendered_side(app, broker, ["produce", topic, "nope"])
        assert not result.ok and result.error_class == TOPIC_DENIED, result
    result = rendered_side(
        app, broker, ["consume", app.topic("ReadWrite"), f"not-{app.group_prefix}", "1", "20000"]
    )
    assert not result.ok and result.error_class == GROUP_DENIED, result


def test_certificate_renewal_by_the_user_operator_remirrors_and_rolls_the_pods(
    tier3: Tier3, rendered_side: RenderedKafkaSide, wait_until: Callable[..., Any]
) -> None:
    """`strimzi.io/force-renew` on Strimzi's user Secret (where Strimzi reads it): the real User Operator issues a
    new certificate; the operator mirrors it, gives the pod template a new config hash, and the pods roll onto it;
    the new credentials work."""
    old = tier3.read()
    secret = pykube.Secret(tier3.api, strimzi_user_secret(tier3))
    secret.obj["metadata"].setdefault("annotations", {})[FORCE_RENEW] = "true"
    secret.update()
    new = wait_for_mirror_change(
        tier3.api, old, wait_until, "user.crt", "force-renew by Strimzi's User Operator"
    )
    old_cert = load_certificates(old.credentials["user.crt"])[0]
    new_cert = load_certificates(new.credentials["user.crt"])[0]
    assert new_cert.serial_number != old_cert.serial_number
    assert common_name(new_cert) == common_name(old_cert) == old.username
    assert new.clients_ca.signed(new_cert)
    assert new.credentials["user.key"] != old.credentials["user.key"]
    assert FORCE_RENEW not in (strimzi_user_secret(tier3)["metadata"].get("annotations") or {})

    new_hash = config_hash(new)
    assert new_hash != config_hash(old)

    def rolled() -> bool:
        pods = pykube.Pod.objects(tier3.api, namespace=new.namespace).filter(selector={"app": APP_DEPLOYMENT})
        hashes = [(p.obj["metadata"].get("annotations") or {}).get("bridgedapp.io/config-hash") for p in pods]
        return bool(hashes) and all(h == new_hash for h in hashes)

    wait_until(rolled, timeout=120, what="the app's pods rolled onto the renewed credentials' config hash")
    tier3.produce_and_consume(rendered_side, new)
    tier3.app = new


# ---- the real bridge, when it is given too ----------------------------------------------------------------------


@pytest.fixture
def operators_paused(tier3: Tier3) -> Iterator[None]:
    """Strimzi's operators bind their health ports (8080, 8081) on every address, the bridge's rendered ports on
    loopback: in pods they never share a network, here they do. Their work (Secret, ACLs, topics) stays in place
    while they are stopped; they are started again afterwards."""
    tier3.operators.stop()
    try:
        yield
    finally:
        tier3.operators.start()


def test_the_real_bridge_with_what_strimzis_operators_made(
    bridge_dist: Path, tier3: Tier3, operators_paused: None
) -> None:
    """The real Strimzi HTTP Bridge on the rendered inputs: produce and consume over HTTP, and a write to a topic
    without ACL refused by the broker (HTTP 200, per-record error_code 500)."""
    app = tier3.read()
    bridge = RealBridge(
        bridge_dist,
        app.properties_text,
        app.mounts,
        env=app.env,
        hosts=tier3.broker.hosts_entries,
        layout="namespace",
    )
    with bridge:
        topic = app.topic("ReadWrite")
        run = token()
        status, body = bridge.produce(topic, [{"n": i, "run": run} for i in range(2)])
        assert status == 200 and all("offset" in o for o in body["offsets"]), body
        tier3.written += 2
        # Earlier tests wrote plain strings, which the bridge's JSON format cannot decode: read from where ours are.
        starts: dict[int, int] = {}
        for o in body["offsets"]:
            starts[o["partition"]] = min(o["offset"], starts.get(o["partition"], o["offset"]))
        group, name = f"{app.group_prefix}-{run}", "c1"
        assert bridge.create_consumer(group, name)[0] == 200
        instance = f"/consumers/{group}/instances/{name}"
        partitions = [{"topic": topic, "partition": p} for p in sorted(starts)]
        assert bridge.request("POST", f"{instance}/assignments", {"partitions": partitions})[0] == 204
        offsets = [{"topic": topic, "partition": p, "offset": o} for p, o in sorted(starts.items())]
        assert bridge.request("POST", f"{instance}/positions", {"offsets": offsets})[0] == 204
        seen: list[Any] = []
        for _ in range(20):
            status, records = bridge.poll(group, name, timeout_ms=2000)
            assert status == 200, records
            seen += [r["value"] for r in records]
            if len(seen) >= 2:
                break
        assert sorted(seen, key=lambda v: v["n"]) == [{"n": 0, "run": run}, {"n": 1, "run": run}]
        assert bridge.delete_consumer(group, name)[0] == 204

        denied = f"refunds-{app.cluster}"
        tier3.broker.create_topic(denied)
        status, body = bridge.produce(denied, ["nope"])
        assert status == 200, body
        assert body == {
            "offsets": [{"error_code": 500, "message": f"Not authorized to access topics: [{denied}]"}]
        }


# ---- the simulator says what the real operators say -------------------------------------------------------------


def test_a_replication_factor_refusal_is_worded_as_the_simulator_words_it(
    tier3: Tier3, wait_until: Callable[..., Any]
) -> None:
    """A KafkaTopic asking for more replicas than there are brokers: the real Topic Operator relays Kafka's refusal
    with the reason and message the simulator uses, and on deletion takes its finalizer off again."""
    topics = strimzi_kind(tier3.api, "KafkaTopic")
    manifest = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {
            "name": f"too-many-{token()}",
            "namespace": STRIMZI_NS,
            "labels": {"strimzi.io/cluster": tier3.app.cluster},
        },
        "spec": {"partitions": 1, "replicas": 3},
    }
    topic = topics(tier3.api, manifest)
    topic.create()

    def refused() -> dict[str, Any] | None:
        topic.reload()
        conditions = (topic.obj.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Ready" and c["status"] == "False"), None)

    condition = wait_until(refused, timeout=60, what="the Topic Operator refusing 3 replicas on 1 broker")
    assert (condition["reason"], condition["message"]) == replication_factor_error(3, 1)
    assert ISO_INSTANT.match(condition["lastTransitionTime"]) and ISO_INSTANT.match(iso_now())
    assert TOPIC_FINALIZER in topic.obj["metadata"]["finalizers"]
    topic.delete()
    wait_until(
        lambda: topics.objects(tier3.api, namespace=STRIMZI_NS).get_or_none(name=topic.name) is None,
        timeout=60,
        what="the refused KafkaTopic gone (the Topic Operator took its finalizer off)",
    )


def test_a_rejected_kafkauser_is_reported_as_the_simulator_reports_it(
    tier3: Tier3, wait_until: Callable[..., Any]
) -> None:
    """A TLS KafkaUser whose name is longer than a certificate's CN allows: the real User Operator reports
    NotReady=True (no Ready condition, no Secret) with the reason and message the simulator uses."""
    users = strimzi_kind(tier3.api, "KafkaUser")
    name = "u" * (MAX_TLS_USERNAME + 1)
    user = users(
        tier3.api,
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaUser",
            "metadata": {
                "name": name,
                "namespace": STRIMZI_NS,
                "labels": {"strimzi.io/cluster": tier3.app.cluster},
            },
            "spec": {"authentication": {"type": "tls"}},
        },
    )
    user.create()
    try:

        def reported() -> dict[str, Any] | None:
            user.reload()
            return (user.obj.get("status") or {}).get("conditions") or None

        conditions = wait_until(reported, timeout=60, what="the User Operator reporting the long name")
        assert [c["type"] for c in conditions] == ["NotReady"] and conditions[0]["status"] == "True"
        assert (conditions[0]["reason"], conditions[0]["message"]) == invalid_resource(
            "Users with TLS client authentication can have a username (name of the KafkaUser custom resource) "
            "only up to 64 characters long."
        )
        assert pykube.Secret.objects(tier3.api, namespace=STRIMZI_NS).get_or_none(name=name) is None
    finally:
        user.delete()


# ---- last: deleting the BridgedApp -------------------------------------------------------------------------------


def test_deleting_the_bridgedapp_lets_strimzi_remove_the_user_and_its_acls_and_keeps_the_topics(
    tier3: Tier3, wait_until: Callable[..., Any]
) -> None:
    """The operator deletes its KafkaUser; Strimzi's User Operator then removes its ACLs from the broker and the
    user Secret goes with it; the KafkaTopics and the topics in Kafka stay, as the operator promises."""
    app, api, broker = tier3.app, tier3.api, tier3.broker
    bridgedapp_kind(api).objects(api, namespace=app.namespace).get(name=app.name).delete()
    wait_until(lambda: get_bridgedapp(api, app.namespace, app.name) is None, what="BridgedApp gone")
    users = strimzi_kind(api, "KafkaUser").objects(api, namespace=app.kafka_namespace)
    wait_until(lambda: users.get_or_none(name=app.username) is None, what="KafkaUser deleted by the operator")
    wait_until(
        lambda: not broker.describe_acls(tls_principal(app.username)),
        timeout=60,
        what="the User Operator removing the user's ACLs from the broker",
    )
    secrets = pykube.Secret.objects(api, namespace=app.kafka_namespace)
    wait_until(
        lambda: secrets.get_or_none(name=app.username) is None, what="the user Secret garbage-collected"
    )

    topics = strimzi_kind(api, "KafkaTopic").objects(api, namespace=app.kafka_namespace)
    for topic in app.kafka_topics:
        assert topics.get_or_none(name=topic["metadata"]["name"]) is not None
    kept = {t["status"]["topicName"] for t in app.kafka_topics}
    assert kept <= set(broker.list_topics())
