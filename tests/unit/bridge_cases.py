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
        "http": {"port": 9090},
        "logging": {
            "type": "inline",
            "loggers": {"rootLogger.level": "DEBUG", "logger.bridge.level": "DEBUG"},
        },
        "nativeSidecar": "Never",
        "resources": {
            "requests": {"cpu": "100m", "memory": "300Mi"},
            "limits": {"memory": "600Mi", "cpu": "1"},
        },
        # deliberately unsorted: the output must not depend on the order keys were written in
        "producer": {"config": {"linger.ms": "5", "acks": "all", "compression.type": "zstd"}},
        "consumer": {"config": {"max.poll.records": "100", "auto.offset.reset": "earliest"}},
    },
}
# Every KafkaBridge option a sidecar takes, each away from its default: one golden file shows them all.
FULL_SPEC: dict[str, Any] = {
    "deploymentName": "orders-api",
    "kafka": {"clusterName": CLUSTER, "namespace": KAFKA_NAMESPACE},
    "topics": [{"name": "orders"}],
    "bridge": {
        "image": "registry.example/strimzi/kafka-bridge:1.1.0-patched",
        "http": {
            "port": 9090,
            "cors": {
                "allowedOrigins": ["https://shop.example", "https://.*\\.shop\\.example"],
                "allowedMethods": ["GET", "POST"],
            },
        },
        "nativeSidecar": "Always",
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
        "producer": {"enabled": False, "config": {"acks": "all"}},
        "consumer": {"enabled": True, "timeoutSeconds": 300, "config": {"auto.offset.reset": "earliest"}},
        "adminClient": {"config": {"request.timeout.ms": "20000"}},
        "jvmOptions": {
            "-Xms": "256m",
            "-Xmx": "512m",
            "-XX": {
                "UseG1GC": "true",
                "UnlockExperimentalVMOptions": "true",
                "MaxGCPauseMillis": "50",
                "UseZGC": "false",
            },
            "gcLoggingEnabled": True,
            "javaSystemProperties": [
                {"name": "javax.net.debug", "value": "ssl"},
                {"name": "user.timezone", "value": "UTC"},
            ],
        },
        "logging": {
            "type": "external",
            "valueFrom": {"configMapKeyRef": {"name": "orders-logging", "key": "log4j2.properties"}},
        },
        "metricsConfig": {
            "type": "strimziMetricsReporter",
            "values": {"allowList": ["kafka_producer_.*", "kafka_consumer_.*"]},
        },
        "tracing": {
            "type": "opentelemetry",
            "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317"},
        },
        "config": {"bridge.executor.pool.size": "8"},
        "livenessProbe": {
            "initialDelaySeconds": 5,
            "timeoutSeconds": 3,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "readinessProbe": {
            "timeoutSeconds": 2,
            "periodSeconds": 5,
            "successThreshold": 2,
            "failureThreshold": 2,
        },
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


def _bridge(fragment: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentName": "a", "bridge": fragment}


# spec.bridge specs both the API server (CEL and schema) and the pydantic models reject:
# (spec, the field the API server names, a needle of the pydantic message)
BRIDGE_INVALID: list[tuple[dict[str, Any], str, str]] = [
    (_bridge({"http": {"port": 9404}}), "spec.bridge.http.port", "metrics port"),
    (
        _bridge({"http": {"cors": {"allowedOrigins": ["*"]}}}),
        "spec.bridge.http.cors.allowedMethods",
        "allowedMethods",
    ),
    (
        _bridge({"http": {"cors": {"allowedOrigins": [], "allowedMethods": ["GET"]}}}),
        "spec.bridge.http.cors.allowedOrigins",
        "allowedOrigins",
    ),
    (_bridge({"consumer": {"timeoutSeconds": -2}}), "spec.bridge.consumer.timeoutSeconds", "timeoutSeconds"),
    (_bridge({"producer": {"config": {"linger.ms": 5}}}), "spec.bridge.producer.config.linger.ms", "string"),
    (
        _bridge({"producer": {"config": {f"k{i}": "v" for i in range(65)}}}),
        "spec.bridge.producer.config",
        "64",
    ),
    (_bridge({"jvmOptions": {"-Xmx": "1 GB"}}), "spec.bridge.jvmOptions.-Xmx", "-Xmx"),
    (
        _bridge({"jvmOptions": {"javaSystemProperties": [{"name": "a", "value": "b c"}]}}),
        "spec.bridge.jvmOptions.javaSystemProperties[0].value",
        "value",
    ),
    (
        _bridge({"logging": {"type": "external"}}),
        "spec.bridge.logging.valueFrom",
        "valueFrom property is required",
    ),
    (
        _bridge({"logging": {"type": "inline", "valueFrom": {"configMapKeyRef": {"name": "l", "key": "k"}}}}),
        "spec.bridge.logging.valueFrom",
        "only for type external",
    ),
    (
        _bridge(
            {
                "logging": {
                    "type": "external",
                    "loggers": {"rootLogger.level": "DEBUG"},
                    "valueFrom": {"configMapKeyRef": {"name": "l", "key": "k"}},
                }
            }
        ),
        "spec.bridge.logging.loggers",
        "only for type inline",
    ),
    (_bridge({"logging": {"type": "file"}}), "spec.bridge.logging.type", "type"),
    (
        _bridge({"metricsConfig": {"type": "jmxPrometheusExporter"}}),
        "spec.bridge.metricsConfig.valueFrom",
        "valueFrom property is required",
    ),
    (
        _bridge(
            {
                "metricsConfig": {
                    "type": "jmxPrometheusExporter",
                    "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}},
                    "values": {"allowList": [".*"]},
                }
            }
        ),
        "spec.bridge.metricsConfig.values",
        "only for type strimziMetricsReporter",
    ),
    (
        _bridge({"metricsConfig": {"type": "strimziMetricsReporter", "values": {"allowList": []}}}),
        "spec.bridge.metricsConfig.values.allowList",
        "allowList",
    ),
    (_bridge({"metricsConfig": {}}), "spec.bridge.metricsConfig.type", "type"),
    (_bridge({"tracing": {"type": "jaeger"}}), "spec.bridge.tracing.type", "type"),
    (
        _bridge({"tracing": {"type": "opentelemetry", "env": {"JAVA_TOOL_OPTIONS": "-javaagent:x"}}}),
        "spec.bridge.tracing.env",
        "OTEL_",
    ),
    (
        _bridge({"livenessProbe": {"successThreshold": 2}}),
        "spec.bridge.livenessProbe.successThreshold",
        "must be 1",
    ),
    (
        _bridge({"readinessProbe": {"periodSeconds": 0}}),
        "spec.bridge.readinessProbe.periodSeconds",
        "periodSeconds",
    ),
]
