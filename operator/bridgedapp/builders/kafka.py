"""The Strimzi Kafka and KafkaNodePool a BridgedApp creates when its cluster does not exist yet.

Pure: spec in, dicts out. The cluster is KRaft with one dual-role node pool (controllers and brokers on
the same nodes), mutual TLS on 9093 and simple authorization, so each app's KafkaUser ACLs decide what
it may touch. The creating BridgedApp records the settings it asked for in an annotation on the Kafka;
`settings_differ` compares another app's wishes against that record, so a second app with different
settings gets a Warning instead of a tug-of-war over the object.
"""

from __future__ import annotations

import json
from typing import Any

from bridgedapp import LABEL_PREFIX
from bridgedapp.builders.common import owner_labels, short_hash
from bridgedapp.models import BridgedAppSpec

STRIMZI_GROUP = "kafka.strimzi.io"
API_V1 = f"{STRIMZI_GROUP}/v1"
API_V1BETA2 = f"{STRIMZI_GROUP}/v1beta2"
API_VERSIONS = (API_V1, API_V1BETA2)

SETTINGS_ANNOTATION = f"{LABEL_PREFIX}kafka-settings"
CREATED_BY_ANNOTATION = f"{LABEL_PREFIX}created-by"
CLUSTER_LABEL = "strimzi.io/cluster"

PLAIN_PORT = 9092
TLS_PORT = 9093
EXTERNAL_PORT = 9094

# Strimzi 0.45-0.47 only run a Kafka in KRaft mode with node pools when these are set; 0.48 ignores
# them (KRaft and node pools became the only mode). The v1 API (Strimzi 1.x) has no use for them.
V1BETA2_ANNOTATIONS = {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}


def check_api_version(api_version: str) -> None:
    """Refuse an API version the builders do not know, rather than write an object Strimzi rejects."""
    if api_version not in API_VERSIONS:
        raise ValueError(f"unsupported Strimzi API version {api_version!r}; expected one of {API_VERSIONS}")


def bootstrap_service_address(cluster: str, namespace: str) -> str:
    """The `tls` listener's bootstrap Service, which Strimzi always creates (mutual TLS, client certificates)."""
    return f"{cluster}-kafka-bootstrap.{namespace}.svc:{TLS_PORT}"


def cluster_ca_cert_name(cluster: str) -> str:
    """The Secret where Strimzi publishes the cluster CA certificate(s) clients must trust."""
    return f"{cluster}-cluster-ca-cert"


def node_pool_name(cluster: str) -> str:
    """`dual-role-<hash of the cluster>`: unique per cluster, short enough for the pod names.

    Two Kafka clusters in one namespace must not share a pool name (an apply would move the pool to
    the other cluster), and Strimzi names the pods `<cluster>-<pool>-<id>`, which must stay a DNS label
    (63 chars) for the 40-char cluster names the spec allows, so the cluster name cannot be repeated.
    """
    return f"dual-role-{short_hash(cluster, length=6)}"


def replication_config(replicas: int) -> dict[str, int]:
    """Replication settings that a cluster of `replicas` nodes can satisfy: 3/2 from three nodes up."""
    factor = min(3, replicas)
    min_isr = min(2, replicas)
    return {
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "default.replication.factor": factor,
        "min.insync.replicas": min_isr,
        "transaction.state.log.min.isr": min_isr,
    }


def listeners(spec: BridgedAppSpec) -> list[dict[str, Any]]:
    """`plain` 9092 and mutual-TLS `tls` 9093 inside the cluster; `external` NodePort 9094 on request."""
    result: list[dict[str, Any]] = [
        {"name": "plain", "port": PLAIN_PORT, "type": "internal", "tls": False},
        {"name": "tls", "port": TLS_PORT, "type": "internal", "tls": True, "authentication": {"type": "tls"}},
    ]
    if spec.kafka.external_node_port:
        result.append(
            {
                "name": "external",
                "port": EXTERNAL_PORT,
                "type": "nodeport",
                "tls": True,
                "authentication": {"type": "tls"},
            }
        )
    return result


def governing_settings(spec: BridgedAppSpec) -> dict[str, Any]:
    """The cluster settings a BridgedApp asks for; the creator's copy is recorded on the Kafka."""
    k = spec.kafka
    return {
        "replicas": k.replicas,
        "version": k.version,
        "storage": {
            "size": k.storage.size,
            "class": k.storage.storage_class,
            "deleteClaim": k.storage.delete_claim,
        },
        "externalNodePort": k.external_node_port,
        "deletionPolicy": str(k.deletion_policy),
    }


def settings_annotation(spec: BridgedAppSpec) -> str:
    """`governing_settings` as canonical JSON, so equal settings give an equal annotation."""
    return json.dumps(governing_settings(spec), sort_keys=True, separators=(",", ":"))


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def creator(kafka_obj: dict[str, Any]) -> str | None:
    """The owner value of the BridgedApp that created this Kafka; None when no BridgedApp did."""
    annotations = (kafka_obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(CREATED_BY_ANNOTATION)


def settings_differ(kafka_obj: dict[str, Any], spec: BridgedAppSpec) -> list[str]:
    """What `spec` asks for that differs from the settings recorded by the Kafka's creator.

    Empty when they agree, when the app does not ask to create the cluster (it then takes it as it
    is), or when the Kafka carries no record (it was not created by a BridgedApp: nobody governs it).
    """
    if not spec.kafka.create:
        return []
    annotations = (kafka_obj.get("metadata") or {}).get("annotations") or {}
    recorded_raw = annotations.get(SETTINGS_ANNOTATION)
    if recorded_raw is None:
        return []
    created_by = creator(kafka_obj) or "its creator"
    try:
        recorded = json.loads(recorded_raw)
    except ValueError:
        return [f"annotation {SETTINGS_ANNOTATION} is not valid JSON, so the settings cannot be compared"]
    if not isinstance(recorded, dict):
        return [f"annotation {SETTINGS_ANNOTATION} is not a JSON object, so the settings cannot be compared"]
    theirs = _flatten(recorded)
    ours = _flatten(governing_settings(spec))
    return [
        f"kafka.{key}: {json.dumps(theirs.get(key))} (set by {created_by}), this BridgedApp asks for "
        f"{json.dumps(ours.get(key))}"
        for key in sorted(set(theirs) | set(ours))
        if theirs.get(key) != ours.get(key)
    ]


def build_kafka(spec: BridgedAppSpec, *, namespace: str, api_version: str, owner: str) -> dict[str, Any]:
    """The Kafka: listeners, simple authorization, replication settings, entity operator.

    Node count, storage and scheduling live in the KafkaNodePool (`build_node_pool`); the v1 API
    no longer has `spec.kafka.replicas`/`storage`, and v1beta2 ignores them when node pools are on.
    """
    check_api_version(api_version)
    k = spec.kafka
    kafka: dict[str, Any] = {"listeners": listeners(spec), "authorization": {"type": "simple"}}
    if k.version:
        kafka = {"version": k.version, **kafka}
    kafka["config"] = replication_config(k.replicas)
    annotations = {SETTINGS_ANNOTATION: settings_annotation(spec), CREATED_BY_ANNOTATION: owner}
    if api_version == API_V1BETA2:
        annotations.update(V1BETA2_ANNOTATIONS)
    return {
        "apiVersion": api_version,
        "kind": "Kafka",
        "metadata": {
            "name": k.cluster_name,
            "namespace": namespace,
            "labels": owner_labels(owner),
            "annotations": annotations,
        },
        "spec": {
            "kafka": kafka,
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def storage(spec: BridgedAppSpec) -> dict[str, Any]:
    """JBOD with one persistent-claim volume that also holds the KRaft metadata log."""
    s = spec.kafka.storage
    volume: dict[str, Any] = {"id": 0, "type": "persistent-claim", "size": s.size}
    if s.storage_class:
        volume["class"] = s.storage_class
    volume["deleteClaim"] = s.delete_claim
    volume["kraftMetadata"] = "shared"
    return {"type": "jbod", "volumes": [volume]}


def anti_affinity(cluster: str) -> dict[str, Any]:
    """At most one node of this cluster per host: a lost host costs one replica, not a quorum.

    Selects the labels Strimzi puts on every Kafka pod of the cluster, whatever its pool
    (`strimzi.io/name` is `<cluster>-kafka` for node-pool pods too).
    """
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {
                        "matchLabels": {CLUSTER_LABEL: cluster, "strimzi.io/name": f"{cluster}-kafka"}
                    },
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }


def build_node_pool(spec: BridgedAppSpec, *, namespace: str, api_version: str, owner: str) -> dict[str, Any]:
    """The one KafkaNodePool: `replicas` nodes, each both KRaft controller and broker."""
    check_api_version(api_version)
    cluster = spec.kafka.cluster_name
    return {
        "apiVersion": api_version,
        "kind": "KafkaNodePool",
        "metadata": {
            "name": node_pool_name(cluster),
            "namespace": namespace,
            "labels": {CLUSTER_LABEL: cluster, **owner_labels(owner)},
        },
        "spec": {
            "replicas": spec.kafka.replicas,
            "roles": ["controller", "broker"],
            "storage": storage(spec),
            "template": {"pod": {"affinity": anti_affinity(cluster)}},
        },
    }
