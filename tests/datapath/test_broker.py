"""The data-path bed itself: the broker demands client certificates from its CA, denies without ACLs, and the
ACLs a KafkaUser would get (translated as Strimzi's user operator does) let the bridge's Kafka side produce and
consume in its group prefix, and nowhere else. The bridge side here uses hand-written properties in Strimzi's
shape; the operator-rendered ones are exercised in test_rendered_*.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from testbed.bridge.kafka_side import KafkaSideResult
from testbed.bridge.mounts import Mounts
from testbed.bridge.process import RealBridge
from testbed.kafka.broker import KafkaBroker
from testbed.kafka.identity import ClientIdentity
from testbed.strimzi_sim.ca import CertificateAuthority

SSL_AUTH_FAILED = "org.apache.kafka.common.errors.SslAuthenticationException"


def kafka_user_acls(topic: str, group_prefix: str) -> list[dict[str, object]]:
    """`spec.authorization.acls` of a KafkaUser that may read and write one topic and use one group prefix."""
    return [
        {"resource": {"type": "topic", "name": topic}, "operations": ["Describe", "Read", "Write"]},
        {
            "resource": {"type": "group", "name": group_prefix, "patternType": "prefix"},
            "operations": ["Read"],
        },
    ]


@pytest.fixture
def topic(broker: KafkaBroker, unique: Callable[[str], str]) -> str:
    name = unique("orders")
    assert broker.create_topic(name, partitions=1)
    return name


@pytest.fixture
def allowed_user(
    broker: KafkaBroker,
    topic: str,
    unique: Callable[[str], str],
    make_identity: Callable[..., ClientIdentity],
) -> ClientIdentity:
    """A user whose KafkaUser ACLs allow `topic` and groups prefixed `<topic>-app`."""
    identity = make_identity(unique("app"))
    broker.set_user_acls(identity.name, kafka_user_acls(topic, f"{topic}-app"))
    return identity


def test_foreign_ca_certificate_is_refused_at_handshake(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """Same CN as a user with ACLs, but signed by another CA: TLS refuses it before any authorisation."""
    rogue_ca = CertificateAuthority.create("clients-ca")  # same name, different key
    impostor = broker.client_identity(allowed_user.name, issuer=rogue_ca)
    result = kafka_side(bridge_properties(broker.bootstrap), tls_mounts(impostor), ["produce", topic, "x"])
    assert not result.ok, result
    assert result.error_class == SSL_AUTH_FAILED, result


def test_client_without_certificate_is_refused(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """No keystore at all: the listener requires a client certificate."""
    props = bridge_properties(broker.bootstrap, tls_dir=None)
    result = kafka_side(props, tls_mounts(allowed_user), ["produce", topic, "x"])
    assert not result.ok, result
    assert result.error_class == SSL_AUTH_FAILED, result


def test_valid_certificate_without_acls_is_denied(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    unique: Callable[[str], str],
    make_identity: Callable[..., ClientIdentity],
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """Authenticated but with no ACL: allow.everyone.if.no.acl.found=false means denied."""
    stranger = make_identity(unique("stranger"))
    assert broker.describe_acls(stranger.principal) == []
    result = kafka_side(bridge_properties(broker.bootstrap), tls_mounts(stranger), ["produce", topic, "x"])
    assert not result.ok, result
    assert result.error_class == "org.apache.kafka.common.errors.TopicAuthorizationException", result
    assert topic in (result.error_message or "")


def test_kafkauser_acls_allow_produce_and_consume_in_group_prefix(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """The translated ACLs are in Kafka for User:CN=<name>, and they are enough to produce and consume."""
    in_kafka = broker.describe_acls(allowed_user.principal)
    assert {(b.resource_type, b.resource_name, b.pattern_type, b.operation) for b in in_kafka} == {
        ("TOPIC", topic, "LITERAL", "DESCRIBE"),
        ("TOPIC", topic, "LITERAL", "READ"),
        ("TOPIC", topic, "LITERAL", "WRITE"),
        ("GROUP", f"{topic}-app", "PREFIXED", "READ"),
    }
    props = bridge_properties(broker.bootstrap)
    mounts = tls_mounts(allowed_user)
    produced = kafka_side(props, mounts, ["produce", topic, "first", "second"])
    assert produced.ok, produced
    assert [o["offset"] for o in produced.answer["offsets"]] == [0, 1]
    consumed = kafka_side(props, mounts, ["consume", topic, f"{topic}-app-1", "2", "30000"])
    assert consumed.ok, consumed
    assert [r["value"] for r in consumed.answer["records"]] == ["first", "second"]


def test_group_outside_prefix_is_denied(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    result = kafka_side(
        bridge_properties(broker.bootstrap),
        tls_mounts(allowed_user),
        ["consume", topic, "elsewhere", "1", "20000"],
    )
    assert not result.ok, result
    assert result.error_class == "org.apache.kafka.common.errors.GroupAuthorizationException", result


def test_removed_acl_is_enforced(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """set_user_acls reconciles like the user operator: a Write the KafkaUser no longer lists is gone.

    Which authorization error surfaces depends on the producer (the idempotent one asks for a producer id first,
    which Kafka only allows with Write on some topic: ClusterAuthorizationException), so both are accepted."""
    read_only = [
        {"resource": {"type": "topic", "name": topic}, "operations": ["Describe", "Read"]},
    ]
    broker.set_user_acls(allowed_user.name, read_only)
    assert {b.operation for b in broker.describe_acls(allowed_user.principal)} == {"DESCRIBE", "READ"}
    result = kafka_side(
        bridge_properties(broker.bootstrap), tls_mounts(allowed_user), ["produce", topic, "x"]
    )
    assert not result.ok, result
    assert result.error_class in {
        "org.apache.kafka.common.errors.TopicAuthorizationException",
        "org.apache.kafka.common.errors.ClusterAuthorizationException",
    }, result


def test_broker_advertised_under_a_service_name(
    start_broker: Callable[..., KafkaBroker],
    kafka_side: Callable[..., KafkaSideResult],
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """A broker advertised as a rendered `*.svc` bootstrap name: the name resolves to loopback only inside the
    client's mount namespace (hosts entries), the broker certificate carries it, and the admin uses 127.0.0.1."""
    cluster_ca, clients_ca = (
        CertificateAuthority.create("cluster-ca"),
        CertificateAuthority.create("clients-ca"),
    )
    kafka = start_broker(cluster_ca, clients_ca, advertised_host="my-cluster-kafka-bootstrap.kafka.svc")
    assert kafka.bootstrap.startswith("my-cluster-kafka-bootstrap.kafka.svc:")
    assert kafka.hosts_entries == {"my-cluster-kafka-bootstrap.kafka.svc": "127.0.0.1"}
    assert kafka.create_topic("svc-topic")
    user = kafka.client_identity("svc-app")
    kafka.set_user_acls(
        user.name, [{"resource": {"type": "topic", "name": "svc-topic"}, "operations": ["Write"]}]
    )
    result = kafka_side(
        bridge_properties(kafka.bootstrap),
        tls_mounts(user),
        ["produce", "svc-topic", "v"],
        hosts=kafka.hosts_entries,
    )
    assert result.ok, result
    assert result.answer["offsets"] == [{"partition": 0, "offset": 0}]


def test_kafka_side_splits_properties_like_the_bridge(
    broker: KafkaBroker,
    kafka_side: Callable[..., KafkaSideResult],
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
) -> None:
    """kafka.* goes to every client, kafka.producer./consumer./admin.* only to that one; bridge./http. to none;
    the PEM references stay references until Kafka's DirectoryConfigProvider resolves them from the mount."""
    props = bridge_properties(
        broker.bootstrap,
        producer={"acks": "all", "linger.ms": "7"},
        consumer={"auto.offset.reset": "earliest"},
    )
    props += "kafka.admin.request.timeout.ms=12345\n"
    result = kafka_side(props, tls_mounts(allowed_user), ["config"])
    assert result.ok, result
    clients = result.answer["clients"]
    for name in ("producer", "consumer", "admin"):
        assert clients[name]["bootstrap.servers"] == broker.bootstrap
        assert clients[name]["ssl.keystore.key"] == "${strimzidir:/opt/strimzi/kafka-tls:user.key}"
        assert not any(
            k.startswith(("producer.", "consumer.", "admin.", "http.", "bridge.")) for k in clients[name]
        )
        assert set(result.answer["resolvedByConfigProviders"][name]) >= {
            "ssl.keystore.certificate.chain",
            "ssl.keystore.key",
            "ssl.truststore.certificates",
        }
    assert clients["producer"]["linger.ms"] == "7" and "linger.ms" not in clients["consumer"]
    assert (
        clients["consumer"]["auto.offset.reset"] == "earliest"
        and "auto.offset.reset" not in clients["producer"]
    )
    assert (
        clients["admin"]["request.timeout.ms"] == "12345" and "request.timeout.ms" not in clients["producer"]
    )
    assert "http.port" in result.answer["notForKafkaClients"]


def test_real_bridge_on_the_same_bed(
    broker: KafkaBroker,
    topic: str,
    allowed_user: ClientIdentity,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Mounts],
    start_bridge: Callable[..., RealBridge],
) -> None:
    """Tier 2: the real bridge with the same properties and mounts produces and consumes where the ACLs allow,
    and reports Kafka's refusals the way an app sees them (per-record error_code; HTTP 500 for the group)."""
    bridge = start_bridge(bridge_properties(broker.bootstrap), tls_mounts(allowed_user))
    status, body = bridge.produce(topic, ["hello"])
    assert (status, body["offsets"][0].get("error_code")) == (200, None), body
    status, body = bridge.produce(f"{topic}-not-mine", ["nope"])
    assert status == 200 and body["offsets"][0]["error_code"] == 500, body
    assert "Not authorized to access topics" in body["offsets"][0]["message"]

    group = f"{topic}-app-http"
    assert bridge.create_consumer(group, "c1", {"auto.offset.reset": "earliest"})[0] == 200
    assert bridge.subscribe(group, "c1", [topic])[0] == 204
    values: list[object] = []
    for _ in range(10):  # the first polls only join the group
        status, records = bridge.poll(group, "c1")
        assert status == 200, records
        values += [r["value"] for r in records]
        if values:
            break
    assert values == ["hello"]

    assert bridge.create_consumer("elsewhere", "c2", {"auto.offset.reset": "earliest"})[0] == 200
    assert bridge.subscribe("elsewhere", "c2", [topic])[0] == 204
    status, body = bridge.poll("elsewhere", "c2")
    assert status == 500 and "GroupAuthorizationException" in body["message"], body
