"""Tier 1 of the data path on the operator's own output: a BridgedApp made Ready by the real operator on the local
control plane, its ConfigMap, mirrored Secret, KafkaUser ACLs and injected container read back from the API server,
and the bridge's Kafka side (real kafka-clients, split exactly as the bridge splits the properties) run on them
against a real Kafka broker with mTLS and the StandardAuthorizer.

Nothing the operator wrote is changed: the properties text is the ConfigMap's byte for byte (its bootstrap
`<cluster>-kafka-bootstrap.<ns>.svc:9093` resolves to the local broker through the /etc/hosts of a private mount
namespace, and the broker listens on 9093), and the files sit at the container's mount paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pykube
import pytest
from cryptography import x509

from testbed.bridge.kafka_side import KafkaSideResult, run_bridge_kafka_side
from testbed.kafka.acls import tls_principal
from testbed.kafka.broker import KafkaBroker
from testbed.strimzi_sim import StrimziSimulator
from testbed.strimzi_sim.ca import CertificateAuthority, common_name, load_certificates
from tests.datapath.rendered import MIRROR_TIMEOUT, RenderedApp, read_rendered
from tests.datapath.runners import RenderedKafkaSide

CONFIG_HASH = "bridgedapp.io/config-hash"
SSL_AUTH_FAILED = "org.apache.kafka.common.errors.SslAuthenticationException"
TOPIC_DENIED = "org.apache.kafka.common.errors.TopicAuthorizationException"
GROUP_DENIED = "org.apache.kafka.common.errors.GroupAuthorizationException"
CONSUME_TIMEOUT_MS = "30000"
# What an app sends when it creates its consumer over HTTP: the rendered properties leave Kafka's default (latest).
FROM_START = "auto.offset.reset=earliest"


def token() -> str:
    return uuid.uuid4().hex[:8]


def produce_and_consume(
    side: RenderedKafkaSide, app: RenderedApp, broker: KafkaBroker, mounts: Any = None
) -> tuple[list[str], KafkaSideResult]:
    """Produce fresh values to the app's ReadWrite topic, then consume them back in a fresh allowed group."""
    topic = app.topic("ReadWrite")
    values = [f"v-{token()}-{i}" for i in range(3)]
    produced = side(app, broker, ["produce", topic, *values], mounts=mounts)
    assert produced.ok, produced
    first = produced.answer["offsets"][0]["offset"]
    group = f"{app.group_prefix}-{token()}"
    consumed = side(
        app,
        broker,
        ["consume", topic, group, str(first + len(values)), CONSUME_TIMEOUT_MS, FROM_START],
        mounts=mounts,
    )
    assert consumed.ok, consumed
    return values, consumed


def secret_data(api: pykube.HTTPClient, app: RenderedApp) -> dict[str, Any]:
    """The mirrored Secret's data (base64, as served) right now."""
    name = app.secret["metadata"]["name"]
    return dict(pykube.Secret.objects(api, namespace=app.namespace).get(name=name).obj["data"])


def cert_of(pem: bytes) -> x509.Certificate:
    return load_certificates(pem)[0]


# ---- the inputs are the operator's, unchanged ------------------------------------------------------------------


def test_properties_used_are_the_configmap_byte_for_byte(
    api: pykube.HTTPClient,
    rendered: RenderedApp,
    rendered_broker: KafkaBroker,
    rendered_side: RenderedKafkaSide,
) -> None:
    """The text every run here is given is the ConfigMap's application.properties as the API server serves it now,
    with nothing changed, not even the bootstrap line: the broker serves the rendered `host:port` itself."""
    cm_name = rendered.config_map["metadata"]["name"]
    served = pykube.ConfigMap.objects(api, namespace=rendered.namespace).get(name=cm_name).obj
    assert cm_name == f"{rendered.name}-bridge-config"
    assert rendered.properties_text.encode() == served["data"]["application.properties"].encode()

    expected = f"{rendered.cluster}-kafka-bootstrap.{rendered.kafka_namespace}.svc:9093"
    assert rendered.bootstrap == expected == rendered_broker.bootstrap
    assert rendered_broker.hosts_entries == {rendered.bootstrap_host: "127.0.0.1"}

    # The container's entrypoint reads the same bytes from the ConfigMap volume, at its mount path.
    config_dir, config_name = rendered.config_file.rsplit("/", 1)
    assert rendered.mounts[config_dir][config_name] == served["data"]["application.properties"].encode()
    # And the credentials are the mirrored Secret's, at the path the properties reference.
    secret_name = rendered.secret["metadata"]["name"]
    assert secret_name == f"{rendered.name}-bridge-tls"
    assert rendered.mounts[rendered.credentials_path] == {
        k: v for k, v in rendered.credentials.items() if k in ("ca.crt", "user.crt", "user.key")
    }
    assert f"${{strimzidir:{rendered.credentials_path}:user.key}}" in rendered.properties_text

    config = rendered_side(rendered, rendered_broker, ["config"])
    assert config.ok and config.layout == "namespace", config
    for client in ("producer", "consumer", "admin"):
        settings = config.answer["clients"][client]
        assert settings["bootstrap.servers"] == rendered.bootstrap
        assert settings["security.protocol"] == "SSL"
        assert set(config.answer["resolvedByConfigProviders"][client]) >= {
            "ssl.truststore.certificates",
            "ssl.keystore.certificate.chain",
            "ssl.keystore.key",
        }


def test_credentials_broker_and_acls_come_from_strimzi_and_the_kafkauser(
    rendered: RenderedApp, rendered_broker: KafkaBroker
) -> None:
    """The mirrored ca.crt is the cluster CA that signed the broker's certificate; the user certificate is the
    KafkaUser's (CN=<user>) from the clients CA the broker's client listener trusts; Kafka holds exactly the
    KafkaUser's ACLs, translated as Strimzi's user operator translates them."""
    creds = rendered.credentials
    assert load_certificates(creds["ca.crt"]) == list(rendered.cluster_ca.trusted_certs)
    server = load_certificates((rendered_broker.workdir / "tls" / "broker-keystore.pem").read_bytes())[0]
    assert rendered.cluster_ca.signed(server)
    assert (
        x509.DNSName(rendered.bootstrap_host)
        in server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )

    user = cert_of(creds["user.crt"])
    assert common_name(user) == rendered.username
    assert rendered.kafka_user["status"]["username"] == f"CN={rendered.username}"
    assert rendered.clients_ca.signed(user)
    assert (
        rendered_broker.workdir / "tls" / "clients-ca.crt"
    ).read_bytes() == rendered.clients_ca.bundle_pem()

    rw, ro, group = rendered.topic("ReadWrite"), rendered.topic("Read"), rendered.group_prefix
    in_kafka = rendered_broker.describe_acls(tls_principal(rendered.username))
    assert {
        (b.resource_type, b.resource_name, b.pattern_type, b.operation, b.permission) for b in in_kafka
    } == {
        ("TOPIC", rw, "LITERAL", "DESCRIBE", "ALLOW"),
        ("TOPIC", rw, "LITERAL", "READ", "ALLOW"),
        ("TOPIC", rw, "LITERAL", "WRITE", "ALLOW"),
        ("TOPIC", ro, "LITERAL", "DESCRIBE", "ALLOW"),
        ("TOPIC", ro, "LITERAL", "READ", "ALLOW"),
        ("GROUP", group, "PREFIXED", "READ", "ALLOW"),
    }


# ---- what the ACLs allow and deny ------------------------------------------------------------------------------


def test_produce_and_consume_back_in_the_allowed_group(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_side: RenderedKafkaSide
) -> None:
    """The only writer of the ReadWrite topic on this module's broker: same values, same count, in order."""
    values, consumed = produce_and_consume(rendered_side, rendered, rendered_broker)
    assert [r["value"] for r in consumed.answer["records"]] == values
    assert [r["offset"] for r in consumed.answer["records"]] == [0, 1, 2]


@pytest.mark.parametrize("which", ["read-only topic", "topic without ACL"])
def test_writing_where_no_acl_allows_it_is_denied(
    which: str, rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_side: RenderedKafkaSide
) -> None:
    """Write on the Read topic, or on a topic of the same cluster the BridgedApp does not list: Kafka refuses
    with its topic authorization error, naming the topic."""
    if which == "read-only topic":
        topic = rendered.topic("Read")
    else:
        topic = f"payments-{rendered.cluster}"
        rendered_broker.create_topic(topic)
    result = rendered_side(rendered, rendered_broker, ["produce", topic, "nope"])
    assert not result.ok, result
    assert result.error_class == TOPIC_DENIED, result
    assert topic in (result.error_message or ""), result


def test_read_only_topic_is_consumable_in_the_allowed_group(
    rendered: RenderedApp,
    rendered_broker: KafkaBroker,
    rendered_side: RenderedKafkaSide,
    kafka_libs: Path,
    bridge_properties: Callable[..., str],
    tls_mounts: Callable[..., Any],
) -> None:
    """Read access is enough to consume: records another identity (the broker's admin) wrote to the Read topic
    come back to the app in its group."""
    topic = rendered.topic("Read")
    assert rendered_broker.admin is not None
    written = run_bridge_kafka_side(
        bridge_properties(rendered_broker.bootstrap),
        tls_mounts(rendered_broker.admin),
        ["produce", topic, "price-1", "price-2"],
        hosts=rendered_broker.hosts_entries,
        libs=kafka_libs,
        layout="namespace",
    )
    assert written.ok, written
    group = f"{rendered.group_prefix}-{token()}"
    consumed = rendered_side(
        rendered, rendered_broker, ["consume", topic, group, "2", CONSUME_TIMEOUT_MS, FROM_START]
    )
    assert consumed.ok, consumed
    assert [r["value"] for r in consumed.answer["records"]] == ["price-1", "price-2"]


def test_group_outside_the_prefix_is_denied(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_side: RenderedKafkaSide
) -> None:
    result = rendered_side(
        rendered,
        rendered_broker,
        ["consume", rendered.topic("ReadWrite"), f"not-{rendered.group_prefix}", "1", CONSUME_TIMEOUT_MS],
    )
    assert not result.ok, result
    assert result.error_class == GROUP_DENIED, result


def test_certificate_from_another_ca_is_refused_at_the_handshake(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_side: RenderedKafkaSide
) -> None:
    """Same CN as the KafkaUser, same mounts and properties, but signed by a CA of the same name that is not the
    cluster's clients CA: the TLS handshake fails before any authorisation."""
    impostor = CertificateAuthority.create("clients-ca").issue_client(rendered.username)
    mounts = rendered.mounts_with_credentials(user_crt=impostor.cert_pem(), user_key=impostor.key_pem())
    result = rendered_side(
        rendered, rendered_broker, ["produce", rendered.topic("ReadWrite"), "x"], mounts=mounts
    )
    assert not result.ok, result
    assert result.error_class == SSL_AUTH_FAILED, result


# ---- rotations: each on a BridgedApp (and Kafka cluster) of its own -------------------------------------------


@pytest.fixture
def rotating_app(make_rendered_app: Callable[[str], RenderedApp], mount_namespace: None) -> RenderedApp:
    """A fresh Ready BridgedApp whose credentials a test may rotate without touching the shared one."""
    return make_rendered_app("rotation")


def config_hash(app: RenderedApp) -> str:
    return app.template_annotations[CONFIG_HASH]


def wait_for_mirror_change(
    api: pykube.HTTPClient, app: RenderedApp, wait_until: Callable[..., Any], key: str, what: str
) -> RenderedApp:
    """Wait until the operator re-mirrored `key` of the credentials Secret and gave the pod template a new config
    hash (so the pods roll onto it), then read everything back again."""
    before = app.secret["data"][key]

    def changed() -> bool:
        if secret_data(api, app).get(key) in (None, before):
            return False
        return config_hash(read_rendered(api, app.namespace, app.name)) != config_hash(app)

    wait_until(
        changed,
        timeout=MIRROR_TIMEOUT,
        what=f"{key} re-mirrored into {app.namespace}/{app.secret['metadata']['name']} ({what}) and a new config hash",
    )
    return read_rendered(api, app.namespace, app.name)


def test_user_certificate_rotation(
    api: pykube.HTTPClient,
    rotating_app: RenderedApp,
    rendered_brokers: Callable[..., KafkaBroker],
    rendered_side: RenderedKafkaSide,
    simulator: StrimziSimulator,
    wait_until: Callable[..., Any],
) -> None:
    """After a forced renewal of the user certificate the operator mirrors the new certificate and key, and they
    work. The old ones keep working too, until they expire: the clients CA did not change, so the broker still
    trusts their issuer, and Kafka checks no revocation (a renewal revokes nothing). Both are the same principal
    User:CN=<user>, so the ACLs are the same."""
    old = rotating_app
    broker = rendered_brokers(old, listen_address="127.0.0.2")
    simulator.rotate_user(old.kafka_namespace, old.username)
    new = wait_for_mirror_change(api, old, wait_until, "user.crt", "user certificate renewed")

    old_cert, new_cert = cert_of(old.credentials["user.crt"]), cert_of(new.credentials["user.crt"])
    assert new_cert.serial_number != old_cert.serial_number
    assert new.credentials["user.key"] != old.credentials["user.key"]
    assert new.credentials["ca.crt"] == old.credentials["ca.crt"]  # the cluster CA is untouched
    assert common_name(new_cert) == common_name(old_cert) == old.username
    assert new.clients_ca.cert == old.clients_ca.cert and new.clients_ca.signed(old_cert)

    values, consumed = produce_and_consume(rendered_side, new, broker)
    assert [r["value"] for r in consumed.answer["records"]][-3:] == values

    assert old_cert.not_valid_after_utc > datetime.now(UTC)  # not expired, and nothing revokes it
    values, consumed = produce_and_consume(rendered_side, new, broker, mounts=old.mounts)
    assert [r["value"] for r in consumed.answer["records"]][-3:] == values
    broker.stop()


def test_cluster_ca_rotation(
    api: pykube.HTTPClient,
    rotating_app: RenderedApp,
    rendered_brokers: Callable[..., KafkaBroker],
    rendered_side: RenderedKafkaSide,
    simulator: StrimziSimulator,
    wait_until: Callable[..., Any],
) -> None:
    """A cluster CA key replacement, step by step as Strimzi rolls it, with two brokers serving the same rendered
    `...svc:9093` at once (on 127.0.0.3 and 127.0.0.4, each reached through the mount namespace's /etc/hosts):
    one still presenting a certificate from the old CA key, one already re-certified by the new key.

    - The operator mirrors ca.crt = new CA + old CA (Strimzi's rotation window); user.crt/user.key are unchanged
      (the clients CA did not change). The new credentials work against both brokers.
    - The OLD mirrored credentials (ca.crt = old CA only) still work against a broker not yet re-certified, and
      are refused at the TLS handshake by one that is: that is why the operator rolls the pods (config hash)
      before Strimzi rolls the brokers.
    - Once the rotation completes the operator mirrors ca.crt = new CA only: those credentials work against the
      re-certified broker and are refused by one still presenting an old-CA certificate.
    """
    v0 = rotating_app
    old_broker = rendered_brokers(v0, listen_address="127.0.0.3")
    assert len(load_certificates(v0.credentials["ca.crt"])) == 1

    simulator.rotate_cluster_ca(v0.kafka_namespace, v0.cluster)
    v1 = wait_for_mirror_change(api, v0, wait_until, "ca.crt", "cluster CA key replaced")
    assert load_certificates(v1.credentials["ca.crt"]) == [v1.cluster_ca.cert, v0.cluster_ca.cert]
    assert v1.cluster_ca.key.public_key().public_numbers() != v0.cluster_ca.key.public_key().public_numbers()
    assert (v1.credentials["user.crt"], v1.credentials["user.key"]) == (
        v0.credentials["user.crt"],
        v0.credentials["user.key"],
    )
    new_broker = rendered_brokers(v1, listen_address="127.0.0.4")  # certified by the new key

    def produce(app: RenderedApp, broker: KafkaBroker, mounts: Any = None) -> KafkaSideResult:
        return rendered_side(app, broker, ["produce", app.topic("ReadWrite"), f"x-{token()}"], mounts=mounts)

    assert produce(v1, old_broker).ok
    assert produce(v1, new_broker).ok
    assert produce(v1, old_broker, mounts=v0.mounts).ok
    refused = produce(v1, new_broker, mounts=v0.mounts)
    assert not refused.ok and refused.error_class == SSL_AUTH_FAILED, refused

    simulator.complete_cluster_ca_rotation(v1.kafka_namespace, v1.cluster)
    v2 = wait_for_mirror_change(api, v1, wait_until, "ca.crt", "rotation completed")
    assert load_certificates(v2.credentials["ca.crt"]) == [v1.cluster_ca.cert]
    assert produce(v2, new_broker).ok
    refused = produce(v2, old_broker)
    assert not refused.ok and refused.error_class == SSL_AUTH_FAILED, refused
    old_broker.stop()
    new_broker.stop()
