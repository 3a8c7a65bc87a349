"""TEST DOUBLE — simulates Strimzi's cluster operator for Kafka and KafkaNodePool (no pods, no brokers).

What it does, as Strimzi 1.2.0 does it (CaReconciler, InternalCaProvider, KafkaReconciler):
- per Kafka, the cluster CA and clients CA: Secrets `<c>-cluster-ca-cert` / `<c>-clients-ca-cert`
  (`ca.crt`, `ca.p12`, `ca.password`, annotated `strimzi.io/ca-cert-generation`) and `<c>-cluster-ca` /
  `<c>-clients-ca` (`ca.key`, annotated `strimzi.io/ca-key-generation`), labelled with Strimzi's default
  labels and owned by the Kafka; on a CA key replacement the old certificate stays in the cert Secret as
  `ca-<notAfter>.crt` (and in `ca.p12`) until the rotation completes; on Strimzi 1.x also the
  `<c>-trustbundle` Secret with every trusted certificate of both CAs;
- KafkaNodePool status: nodeIds, replicas, roles, clusterId, labelSelector, observedGeneration (Strimzi
  puts no Ready condition on node pools);
- Kafka status: Ready, observedGeneration, listeners, kafkaNodePools, clusterId, versions; Ready=False
  with `InvalidConfigurationException` when no node pool belongs to the cluster, as Strimzi reports it.
What it does not: pods, Services, broker certificates, rolling updates. Those belong to real Strimzi.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from testbed.strimzi_sim.ca import (
    CertificateAuthority,
    certificate_pem,
    java_truststore,
    load_certificates,
    load_private_key,
    old_cert_key,
    random_password,
)
from testbed.strimzi_sim.common import (
    CLUSTER_LABEL,
    DEFAULT_KAFKA_VERSION,
    KIND_LABEL,
    METADATA_VERSIONS,
    OPERATOR_VERSION,
    Context,
    Snapshot,
    Writer,
    condition,
    default_labels,
    kafka_uuid,
    key_of,
    log,
    paused,
    paused_status,
    secret_object,
    skipped_if_terminating,
    unb64,
)

CA_ROLES = ("cluster-ca", "clients-ca")
CERT_GENERATION = "strimzi.io/ca-cert-generation"
KEY_GENERATION = "strimzi.io/ca-key-generation"
CLUSTER_CA_CERT_GENERATION = "strimzi.io/cluster-ca-cert-generation"
CLIENTS_CA_CERT_GENERATION = "strimzi.io/clients-ca-cert-generation"
# Strimzi's pattern for the certificates of replaced CA keys kept in the cert Secret.
OLD_CA_CERT = re.compile(r"^ca-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}(-\d{2})?(\.\d+)?Z\.crt$")
INTERNAL_LISTENER_TYPES = ("internal", "cluster-ip")


def ca_secret_names(cluster: str, role: str) -> tuple[str, str]:
    """(cert Secret, key Secret) of a CA: `<c>-cluster-ca-cert`/`<c>-cluster-ca`, same for clients-ca."""
    return f"{cluster}-{role}-cert", f"{cluster}-{role}"


def trust_bundle_secret_name(cluster: str) -> str:
    return f"{cluster}-trustbundle"


def _annotation_int(secret: Mapping[str, Any] | None, name: str) -> int:
    value = ((secret or {}).get("metadata") or {}).get("annotations", {}).get(name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _data(secret: Mapping[str, Any] | None) -> dict[str, bytes]:
    return {k: unb64(v) for k, v in ((secret or {}).get("data") or {}).items()}


def trusted_certificates(cert_data: Mapping[str, bytes]) -> list[tuple[str, x509.Certificate]]:
    """(key, certificate) of every certificate a CA cert Secret holds: `ca.crt` first, then replaced ones."""
    names = sorted(k for k in cert_data if k.endswith(".crt") and k != "ca.crt")
    result = []
    for name in ["ca.crt", *names]:
        if cert_data.get(name):
            result.extend((name, cert) for cert in load_certificates(cert_data[name])[:1])
    return result


@dataclass(frozen=True)
class CaView:
    """What a reconcile needs to know of a CA once its Secrets are in place."""

    cert_pem: bytes  # the current ca.crt
    trusted_pem: bytes  # every trusted certificate, current first
    cert_generation: int
    key_generation: int


def load_ca(snapshot: Snapshot, namespace: str, cluster: str, role: str) -> CertificateAuthority | None:
    """The CA, with its key, from its two Secrets; None while either is missing or unreadable."""
    cert_name, key_name = ca_secret_names(cluster, role)
    cert_secret, key_secret = snapshot.secret(namespace, cert_name), snapshot.secret(namespace, key_name)
    cert_data, key_data = _data(cert_secret), _data(key_secret)
    if not cert_data.get("ca.crt") or not key_data.get("ca.key"):
        return None
    try:
        return CertificateAuthority.from_pem(
            cert_data["ca.crt"],
            key_data["ca.key"],
            cert_generation=_annotation_int(cert_secret, CERT_GENERATION),
            key_generation=_annotation_int(key_secret, KEY_GENERATION),
            previous_pem=[pem for name, pem in cert_data.items() if OLD_CA_CERT.match(name)],
        )
    except ValueError:
        return None


def _ca_secrets(
    kafka: Mapping[str, Any],
    role: str,
    cert_data: Mapping[str, bytes],
    key_pem: bytes,
    cert_generation: int,
    key_generation: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    namespace, cluster = key_of(kafka)
    cert_name, key_name = ca_secret_names(cluster, role)
    labels = default_labels(kafka, "strimzi", "certificate-authority")
    cert_secret = secret_object(
        namespace,
        cert_name,
        cert_data,
        labels=labels,
        annotations={CERT_GENERATION: str(cert_generation)},
        owner=kafka,
    )
    key_secret = secret_object(
        namespace,
        key_name,
        {"ca.key": key_pem},
        labels=labels,
        annotations={KEY_GENERATION: str(key_generation)},
        owner=kafka,
    )
    return cert_secret, key_secret


def _with_truststore(cert_data: dict[str, bytes], password: str | None = None) -> dict[str, bytes]:
    """`ca.p12` holding every `*.crt` of the Secret under its key as alias, and its `ca.password`."""
    password = password or random_password()
    return {
        **cert_data,
        "ca.p12": java_truststore(trusted_certificates(cert_data), password),
        "ca.password": password.encode(),
    }


def reconcile_ca(ctx: Context, kafka: Mapping[str, Any], role: str) -> CaView:
    """Create the CA when its key is missing, renew its certificate when that is missing, else keep it."""
    namespace, cluster = key_of(kafka)
    cert_name, key_name = ca_secret_names(cluster, role)
    cert_secret, key_secret = (
        ctx.snapshot.secret(namespace, cert_name),
        ctx.snapshot.secret(namespace, key_name),
    )
    cert_data, key_data = _data(cert_secret), _data(key_secret)
    cert_generation = _annotation_int(cert_secret, CERT_GENERATION)
    key_generation = _annotation_int(key_secret, KEY_GENERATION)

    key = None
    if key_data.get("ca.key"):
        try:
            key = load_private_key(key_data["ca.key"])
        except (ValueError, TypeError):
            key = None
    current = None
    if cert_data.get("ca.crt"):
        try:
            current = load_certificates(cert_data["ca.crt"])[0]
        except ValueError:
            current = None

    if key is None:  # Strimzi's CREATE: a new key and certificate, nothing old kept
        ca = CertificateAuthority.create(role, generation=key_generation, key_size=ctx.key_size)
        cert_data = _with_truststore({"ca.crt": ca.cert_pem()})
        key_pem = ca.key_pem()
        log.info("Kafka %s/%s: %s created (%s)", namespace, cluster, role, ca.common_name)
    elif current is None or current.public_key().public_numbers() != key.public_key().public_numbers():
        # Strimzi's RENEW_CERT: a new certificate for the existing key
        cert_generation += 1
        ca = CertificateAuthority.create(role, generation=key_generation, key=key)
        cert_data = _with_truststore({"ca.crt": ca.cert_pem()})
        key_pem = key_data["ca.key"]
        log.info("Kafka %s/%s: %s certificate renewed", namespace, cluster, role)
    else:
        key_pem = key_data["ca.key"]
        if not cert_data.get("ca.p12") or not cert_data.get("ca.password"):
            cert_data = _with_truststore(cert_data)

    cert_secret_obj, key_secret_obj = _ca_secrets(
        kafka, role, cert_data, key_pem, cert_generation, key_generation
    )
    ctx.writer.secret(cert_secret_obj)
    ctx.writer.secret(key_secret_obj)
    trusted = trusted_certificates(cert_data)
    return CaView(
        cert_pem=cert_data["ca.crt"],
        trusted_pem=b"".join(certificate_pem(c) for _, c in trusted),
        cert_generation=cert_generation,
        key_generation=key_generation,
    )


def replace_ca_key(writer: Writer, kafka: Mapping[str, Any], role: str, key_size: int) -> int:
    """Strimzi's REPLACE_KEY (what `strimzi.io/force-replace` triggers): new key and certificate.

    The old certificate moves to `ca-<notAfter>.crt` and stays in `ca.p12`, so clients keep trusting
    both until the rotation is completed. Returns the new certificate generation.
    """
    namespace, cluster = key_of(kafka)
    ca = load_ca(writer.snapshot, namespace, cluster, role)
    if ca is None:
        raise LookupError(f"{role} of Kafka {namespace}/{cluster} does not exist yet")
    cert_name, _ = ca_secret_names(cluster, role)
    cert_data = _data(writer.snapshot.secret(namespace, cert_name))
    rotated = CertificateAuthority.create(
        role,
        generation=ca.key_generation + 1,
        key_size=key_size,
        cert_generation=ca.cert_generation + 1,
    )
    new_data = {k: v for k, v in cert_data.items() if OLD_CA_CERT.match(k)}
    new_data[old_cert_key(ca.cert)] = ca.cert_pem()
    new_data["ca.crt"] = rotated.cert_pem()
    password = cert_data.get("ca.password", b"").decode() or None
    cert_secret, key_secret = _ca_secrets(
        kafka,
        role,
        _with_truststore(new_data, password),
        rotated.key_pem(),
        rotated.cert_generation,
        rotated.key_generation,
    )
    writer.secret(cert_secret)
    writer.secret(key_secret)
    log.info("Kafka %s/%s: %s key replaced (%s)", namespace, cluster, role, rotated.common_name)
    return rotated.cert_generation


def complete_ca_rotation(writer: Writer, kafka: Mapping[str, Any], role: str) -> None:
    """Drop the replaced certificates, as Strimzi does once every component trusts the new CA."""
    namespace, cluster = key_of(kafka)
    cert_name, key_name = ca_secret_names(cluster, role)
    cert_secret = writer.snapshot.secret(namespace, cert_name)
    key_secret = writer.snapshot.secret(namespace, key_name)
    if cert_secret is None or key_secret is None:
        raise LookupError(f"{role} of Kafka {namespace}/{cluster} does not exist yet")
    cert_data = {k: v for k, v in _data(cert_secret).items() if not OLD_CA_CERT.match(k)}
    cert_data.pop("ca.p12", None)
    password = cert_data.pop("ca.password", b"").decode() or None
    cert_secret_obj, _ = _ca_secrets(
        kafka,
        role,
        _with_truststore(cert_data, password),
        _data(key_secret)["ca.key"],
        _annotation_int(cert_secret, CERT_GENERATION),
        _annotation_int(key_secret, KEY_GENERATION),
    )
    writer.secret(cert_secret_obj)


def _trust_bundle(ctx: Context, kafka: Mapping[str, Any], cluster_ca: CaView, clients_ca: CaView) -> None:
    """Strimzi 1.x's `<c>-trustbundle` Secret: all trusted certificates of both CAs (CaReconciler)."""
    namespace, cluster = key_of(kafka)
    ctx.writer.secret(
        secret_object(
            namespace,
            trust_bundle_secret_name(cluster),
            {"cluster-ca.crt": cluster_ca.trusted_pem, "clients-ca.crt": clients_ca.trusted_pem},
            labels=default_labels(kafka, "strimzi", "trust-bundle"),
            annotations={
                CLUSTER_CA_CERT_GENERATION: str(cluster_ca.cert_generation),
                CLIENTS_CA_CERT_GENERATION: str(clients_ca.cert_generation),
            },
            owner=kafka,
        )
    )


def node_pools_of(snapshot: Snapshot, kafka: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The KafkaNodePools of a Kafka: same namespace, labelled strimzi.io/cluster=<kafka name>."""
    namespace, cluster = key_of(kafka)
    return list(snapshot.in_namespace("KafkaNodePool", namespace, cluster))


def broker_count(snapshot: Snapshot, kafka: Mapping[str, Any]) -> int:
    """How many broker nodes the cluster's node pools ask for."""
    return sum(
        int((p.get("spec") or {}).get("replicas") or 0)
        for p in node_pools_of(snapshot, kafka)
        if "broker" in ((p.get("spec") or {}).get("roles") or [])
    )


def assign_node_ids(pools: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Node IDs per pool: each keeps its IDs, scale-down drops the highest, new nodes take the lowest free."""
    ordered = sorted(pools, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
    kept: dict[str, list[int]] = {}
    used: set[int] = set()
    for pool in ordered:
        want = int((pool.get("spec") or {}).get("replicas") or 0)
        previous = [i for i in (pool.get("status") or {}).get("nodeIds") or [] if i not in used]
        kept[pool["metadata"]["name"]] = sorted(previous)[:want]
        used.update(kept[pool["metadata"]["name"]])
    for pool in ordered:
        ids = kept[pool["metadata"]["name"]]
        want = int((pool.get("spec") or {}).get("replicas") or 0)
        candidate = 0
        while len(ids) < want:
            if candidate not in used:
                ids.append(candidate)
                used.add(candidate)
            candidate += 1
        ids.sort()
    return kept


def _listener_statuses(ctx: Context, kafka: Mapping[str, Any], cluster_ca: CaView) -> list[dict[str, Any]]:
    """One status per listener, as KafkaListenersReconciler reports them (addresses, bootstrap, CA cert)."""
    namespace, cluster = key_of(kafka)
    result = []
    listeners = ((kafka.get("spec") or {}).get("kafka") or {}).get("listeners") or []
    for index, listener in enumerate(listeners):
        kind = listener.get("type", "internal")
        name = listener.get("name", f"listener{index}")
        port = int(listener.get("port", 9092))
        if kind == "internal":
            host, out_port = f"{cluster}-kafka-bootstrap.{namespace}.svc", port
        elif kind == "cluster-ip":
            host, out_port = f"{cluster}-kafka-{name}-bootstrap.{namespace}.svc", port
        elif kind == "nodeport":
            # Simulated: a stable port in the NodePort range on a loopback node address.
            host, out_port = "127.0.0.1", 30000 + zlib.crc32(f"{namespace}/{cluster}/{name}".encode()) % 2767
        else:  # loadbalancer, route, ingress: real Strimzi waits for an address nothing here provides
            continue
        status: dict[str, Any] = {
            "name": name,
            "addresses": [{"host": host, "port": out_port}],
            "bootstrapServers": f"{host}:{out_port}",
        }
        if listener.get("tls"):
            status["certificates"] = [cluster_ca.cert_pem.decode()]
        result.append(status)
    return result


def reconcile_kafka(ctx: Context, kafka: dict[str, Any]) -> None:
    """One Kafka: its CAs, its node pools' status, then its own status (nothing but that while paused)."""
    namespace, cluster = key_of(kafka)
    if paused(kafka):
        ctx.writer.status(kafka, paused_status(kafka, clusterId=(kafka.get("status") or {}).get("clusterId")))
        return
    cluster_ca = reconcile_ca(ctx, kafka, "cluster-ca")
    clients_ca = reconcile_ca(ctx, kafka, "clients-ca")
    if ctx.version == "v1":
        _trust_bundle(ctx, kafka, cluster_ca, clients_ca)

    spec = kafka.get("spec") or {}
    kafka_spec = spec.get("kafka") or {}
    cluster_id = kafka_uuid("cluster", namespace, cluster, kafka["metadata"].get("uid", ""))
    previous = (kafka.get("status") or {}).get("conditions")

    problem: tuple[str, str] | None = None
    pools = node_pools_of(ctx.snapshot, kafka)
    if not pools:
        problem = ("InvalidConfigurationException", f"No KafkaNodePools found for Kafka cluster {cluster}")
    node_ids = assign_node_ids(pools)
    for pool in pools:
        pool_failure = ctx.failure(pool)
        if pool_failure is not None:
            # Strimzi reports a broken pool on the Kafka and leaves the pool's status as it was.
            problem = problem or (pool_failure.reason, pool_failure.message)
            continue
        pool_name = pool["metadata"]["name"]
        roles = sorted((pool.get("spec") or {}).get("roles") or [])
        ctx.writer.status(
            pool,
            {
                **{k: v for k, v in (pool.get("status") or {}).items() if k == "conditions"},
                "observedGeneration": pool["metadata"].get("generation"),
                "nodeIds": node_ids[pool_name],
                "clusterId": cluster_id,
                "roles": roles,
                "replicas": len(node_ids[pool_name]),
                "labelSelector": ",".join(
                    f"{k}={v}"
                    for k, v in {
                        CLUSTER_LABEL: cluster,
                        "strimzi.io/name": f"{cluster}-kafka",
                        KIND_LABEL: "Kafka",
                        "strimzi.io/pool-name": pool_name,
                    }.items()
                ),
            },
        )

    failure = ctx.failure(kafka)
    if failure is not None:
        problem = (failure.reason, failure.message)
    version = kafka_spec.get("version") or DEFAULT_KAFKA_VERSION[ctx.version]
    metadata_version = kafka_spec.get("metadataVersion") or METADATA_VERSIONS.get(
        version, ".".join(version.split(".")[:2])
    )
    old_status = kafka.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": kafka["metadata"].get("generation"),
        "listeners": _listener_statuses(ctx, kafka, cluster_ca) or None,
        "kafkaNodePools": [
            {"name": p["metadata"]["name"]} for p in sorted(pools, key=lambda p: p["metadata"]["name"])
        ]
        or None,
        "clusterId": cluster_id,
        "kafkaVersion": version,
        "kafkaMetadataVersion": metadata_version,
        "kafkaMetadataState": "KRaft",  # v1beta2 (0.4x) only: pruned where the CRD has no such field
    }
    if problem is None:
        status["conditions"] = [condition("Ready", "True", previous)]
        status["operatorLastSuccessfulVersion"] = OPERATOR_VERSION[ctx.version]
    else:  # Strimzi learns the cluster id from the running brokers: a failed first pass has none
        reason, message = problem
        status["conditions"] = [condition("Ready", "False", previous, reason=reason, message=message)]
        status["operatorLastSuccessfulVersion"] = old_status.get("operatorLastSuccessfulVersion")
        status["clusterId"] = old_status.get("clusterId")
    ctx.writer.status(kafka, status)


class ClusterOperator:
    """The Kafka / KafkaNodePool half of Strimzi's cluster operator, for the namespaces it watches."""

    name = "cluster"
    kinds = ("Kafka", "KafkaNodePool")

    def reconcile(self, ctx: Context) -> None:
        for (namespace, _), kafka in sorted(ctx.snapshot.of("Kafka").items()):
            if ctx.watched(namespace) and not kafka["metadata"].get("deletionTimestamp"):
                with skipped_if_terminating():
                    reconcile_kafka(ctx, kafka)
