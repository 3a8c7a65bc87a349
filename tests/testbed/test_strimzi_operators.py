"""Tier 3's pure parts, checked without Java or a cluster (so CI covers them): where the built operators are looked
for, the environment and certificates the test bed gives them as Strimzi's cluster operator would, and the shapes
the simulator copies from the real operators (timestamps, labels)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from testbed.strimzi_operators import (
    DIST_ENV,
    EO_CERT_KEY,
    EO_KEY_KEY,
    KINDS,
    TOPIC_OPERATOR,
    USER_OPERATOR,
    entity_operator_secret,
    find_operators_dist,
    operator_env,
)
from testbed.strimzi_sim.ca import CertificateAuthority, load_certificates
from testbed.strimzi_sim.common import iso_now, label_value, unb64
from testbed.strimzi_sim.user_operator import user_secret_labels

KAFKA: dict[str, Any] = {
    "apiVersion": "kafka.strimzi.io/v1",
    "kind": "Kafka",
    "metadata": {"name": "my-cluster", "namespace": "kafka", "uid": "u-1", "labels": {"team": "shop"}},
}


def lay_out(root: Path, *, skip: str | None = None) -> Path:
    for kind in KINDS:
        if kind.module == skip:
            continue
        kind.lib(root).mkdir(parents=True)
        (kind.lib(root) / "dep.jar").write_bytes(b"PK")
        kind.jar(root).write_bytes(b"PK")
    return root


def test_without_the_variable_the_reason_says_how_to_get_the_operators(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DIST_ENV, raising=False)
    dist, why = find_operators_dist()
    assert dist is None and DIST_ENV in why and "not on Maven Central" in why


def test_an_incomplete_folder_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DIST_ENV, str(lay_out(tmp_path, skip="topic-operator")))
    dist, why = find_operators_dist()
    assert dist is None
    assert "topic-operator/topic-operator-1.2.0.jar" in why and "topic-operator/lib" in why
    assert "user-operator" not in why


def test_the_documented_layout_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DIST_ENV, str(lay_out(tmp_path)))
    assert find_operators_dist() == (tmp_path, "")


def test_the_operators_get_the_environment_strimzis_cluster_operator_gives_them() -> None:
    """EntityUserOperator / EntityTopicOperator.getEnvVars of Strimzi 1.2.0, defaults, for cluster my-cluster."""
    kubeconfig = Path("/k/kubeconfig")
    common = {
        "KUBECONFIG": "/k/kubeconfig",
        "STRIMZI_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9091",
        "STRIMZI_NAMESPACE": "kafka",
        "STRIMZI_GC_LOG_ENABLED": "false",
    }
    assert operator_env(USER_OPERATOR, "kafka", "my-cluster", "127.0.0.1:9091", kubeconfig) == {
        **common,
        "STRIMZI_LABELS": "strimzi.io/cluster=my-cluster",
        "STRIMZI_CA_KEY_NAME": "my-cluster-clients-ca",
        "STRIMZI_CA_CERT_NAME": "my-cluster-clients-ca-cert",
        "STRIMZI_CA_NAMESPACE": "kafka",
        "STRIMZI_CA_VALIDITY": "365",
        "STRIMZI_CA_RENEWAL": "30",
        "STRIMZI_CLUSTER_CA_CERT_SECRET_NAME": "my-cluster-cluster-ca-cert",
        "STRIMZI_EO_KEY_SECRET_NAME": "my-cluster-entity-user-operator-certs",
        "STRIMZI_SECRET_PREFIX": "",
        "STRIMZI_ACLS_ADMIN_API_SUPPORTED": "true",
        "STRIMZI_PKCS12_KEYSTORE_GENERATION": "true",
    }
    assert operator_env(TOPIC_OPERATOR, "kafka", "my-cluster", "127.0.0.1:9091", kubeconfig) == {
        **common,
        "STRIMZI_RESOURCE_LABELS": "strimzi.io/cluster=my-cluster",
        "STRIMZI_CLUSTER_NAMESPACE": "kafka",
        "STRIMZI_SECURITY_PROTOCOL": "SSL",
        "STRIMZI_TLS_TRUSTED_CERTS_SECRET_NAME": "my-cluster-cluster-ca-cert",
        "STRIMZI_TLS_SECRET_NAME": "my-cluster-entity-topic-operator-certs",
        "STRIMZI_TLS_KEY_NAME": "entity-operator.key",
        "STRIMZI_TLS_CERT_NAME": "entity-operator.crt",
    }


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_operator_gets_a_cluster_ca_certificate_whose_principal_is_a_super_user(kind: Any) -> None:
    cluster_ca = CertificateAuthority.create("cluster-ca")
    secret = entity_operator_secret(KAFKA, kind, cluster_ca)
    assert secret["metadata"]["name"] == f"my-cluster-entity-{kind.name}-operator-certs"
    assert secret["metadata"]["namespace"] == "kafka"
    assert sorted(secret["data"]) == sorted([EO_CERT_KEY, EO_KEY_KEY])
    cert = load_certificates(unb64(secret["data"][EO_CERT_KEY]))[0]
    assert cluster_ca.signed(cert)
    assert kind.principal("my-cluster") == f"User:{cert.subject.rfc4514_string()}"
    assert kind.principal("my-cluster") == f"User:CN=my-cluster-entity-{kind.name}-operator,O=io.strimzi"
    assert unb64(secret["data"][EO_KEY_KEY]).startswith(b"-----BEGIN PRIVATE KEY-----")
    labels = secret["metadata"]["labels"]
    assert labels["strimzi.io/cluster"] == "my-cluster" and labels["team"] == "shop"
    assert labels["strimzi.io/component-type"] == "entity-operator"
    assert [o["uid"] for o in secret["metadata"]["ownerReferences"]] == ["u-1"]


def test_timestamps_are_javas_iso_instant() -> None:
    """The fraction of a second comes in groups of three digits, as many as needed (the real operators' shape)."""
    for _ in range(20):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z", iso_now())


def test_user_secret_labels_are_the_user_operators() -> None:
    user = {"kind": "KafkaUser", "metadata": {"name": "shop.orders", "labels": {"strimzi.io/cluster": "c"}}}
    assert user_secret_labels(user) == {
        "strimzi.io/cluster": "c",
        "strimzi.io/kind": "KafkaUser",
        "app.kubernetes.io/name": "strimzi-user-operator",
        "app.kubernetes.io/instance": "shop.orders",
        "app.kubernetes.io/part-of": "strimzi-shop.orders",
        "app.kubernetes.io/managed-by": "strimzi-user-operator",
    }
    # Strimzi's getOrValidInstanceLabelValue: 63 characters at most, no trailing `.`, `-` or `_`.
    assert label_value("a" * 62 + ".b") == "a" * 62
    assert label_value("shop.orders-") == "shop.orders"
