"""Inputs for the bridge/sidecar/render tests: BridgedApp objects and Strimzi-shaped Secrets.

Two kinds of Secrets: `fake_*` hold fixed, clearly fake PEM blocks (deterministic, for golden files);
`StrimziSecrets` holds real certificates from the test bed's CA (testbed.strimzi_sim.ca, the same CA code
the Strimzi simulator uses), laid out as Strimzi 1.2.0 lays out `<cluster>-cluster-ca-cert` (old
certificates under `ca-<notAfter>.crt` during a key replacement) and the KafkaUser's Secret.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bridgedapp.models import BridgedAppSpec, parse_spec

from testbed.strimzi_sim.ca import CertificateAuthority, certificate_pem, old_cert_key

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "deploy" / "samples"
APP_NAMESPACE = "shop"
APP_NAME = "orders"
APP_UID = "7b0c4f7e-2b1e-4c53-9a43-0f3f4c5d6e7f"
KAFKA_NAMESPACE = "kafka"
CLUSTER = "my-cluster"
USER_NAME = f"{APP_NAMESPACE}.{APP_NAME}"  # builders.user.kafka_user_name
BOOTSTRAP = f"{CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:9093"

DEFAULT_SPEC: dict[str, Any] = {"deploymentName": "orders-api"}
CUSTOM_SPEC: dict[str, Any] = {
    "deploymentName": "orders-api",
    "kafka": {"clusterName": CLUSTER, "namespace": KAFKA_NAMESPACE},
    "topics": [{"name": "orders"}],
    "bridge": {
        "port": 9090,
        "logLevel": "DEBUG",
        "nativeSidecar": "Never",
        "resources": {
            "requests": {"cpu": "100m", "memory": "300Mi"},
            "limits": {"memory": "600Mi", "cpu": "1"},
        },
        # deliberately unsorted: the output must not depend on the order keys were written in
        "producer": {"linger.ms": "5", "acks": "all", "compression.type": "zstd"},
        "consumer": {"max.poll.records": "100", "auto.offset.reset": "earliest"},
    },
}

FAKE_CA_NEW = "-----BEGIN CERTIFICATE-----\nRkFLRSBjbHVzdGVyLWNhIHYx\n-----END CERTIFICATE-----\n"
FAKE_CA_OLD = "-----BEGIN CERTIFICATE-----\nRkFLRSBjbHVzdGVyLWNhIHYw\n-----END CERTIFICATE-----\n"
FAKE_USER_CRT = "-----BEGIN CERTIFICATE-----\nRkFLRSB1c2VyIGNlcnQ=\n-----END CERTIFICATE-----\n"
FAKE_USER_KEY = "-----BEGIN PRIVATE KEY-----\nRkFLRSB1c2VyIGtleQ==\n-----END PRIVATE KEY-----\n"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def spec_of(raw: dict[str, Any]) -> BridgedAppSpec:
    return parse_spec(copy.deepcopy(raw))


def app_object(spec: dict[str, Any] | None = None, *, uid: str | None = APP_UID) -> dict[str, Any]:
    """A BridgedApp as the API server returns it (uid set) or as a user writes it (uid=None)."""
    meta: dict[str, Any] = {"name": APP_NAME, "namespace": APP_NAMESPACE}
    if uid:
        meta["uid"] = uid
    return {
        "apiVersion": "bridgedapp.io/v1alpha1",
        "kind": "BridgedApp",
        "metadata": meta,
        "spec": copy.deepcopy(spec if spec is not None else DEFAULT_SPEC),
    }


def secret(name: str, data: dict[str, str], namespace: str = KAFKA_NAMESPACE) -> dict[str, Any]:
    """A Secret as Strimzi writes it: base64 `data`, labelled with its cluster."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": {"strimzi.io/cluster": CLUSTER}},
        "data": {key: b64(value) for key, value in data.items()},
    }


def fake_cluster_ca_secret(*, rotating: bool = False) -> dict[str, Any]:
    data = {"ca.crt": FAKE_CA_NEW, "ca.password": "not-a-real-password"}
    if rotating:
        data["ca-2027-01-01T00-00-00Z.crt"] = FAKE_CA_OLD
    return secret(f"{CLUSTER}-cluster-ca-cert", data)


def fake_user_secret() -> dict[str, Any]:
    return secret(USER_NAME, {"ca.crt": FAKE_CA_NEW, "user.crt": FAKE_USER_CRT, "user.key": FAKE_USER_KEY})


@dataclass(frozen=True)
class StrimziSecrets:
    """Real certificates: a cluster CA (optionally mid-rotation) and a TLS user issued by the clients CA."""

    cluster_ca: CertificateAuthority
    clients_ca: CertificateAuthority
    user_cert_pem: str
    user_key_pem: str

    def cluster_ca_secret(self) -> dict[str, Any]:
        data = {"ca.crt": certificate_pem(self.cluster_ca.cert).decode()}
        for old in self.cluster_ca.previous:
            data[old_cert_key(old)] = certificate_pem(old).decode()
        return secret(f"{CLUSTER}-cluster-ca-cert", data)

    def user_secret(self) -> dict[str, Any]:
        return secret(
            USER_NAME,
            {
                "ca.crt": certificate_pem(self.clients_ca.cert).decode(),
                "user.crt": self.user_cert_pem,
                "user.key": self.user_key_pem,
            },
        )

    def rotated(self) -> StrimziSecrets:
        """Strimzi replaced the cluster CA key: new ca.crt, the old one kept as ca-<date>.crt."""
        return StrimziSecrets(
            self.cluster_ca.rotate(), self.clients_ca, self.user_cert_pem, self.user_key_pem
        )


@cache
def strimzi_secrets() -> StrimziSecrets:
    """Generated once per session: RSA key generation is the slow part."""
    cluster_ca = CertificateAuthority.create("cluster-ca")
    clients_ca = CertificateAuthority.create("clients-ca")
    user = clients_ca.issue_client(USER_NAME)
    return StrimziSecrets(cluster_ca, clients_ca, user.cert_pem().decode(), user.key_pem().decode())
