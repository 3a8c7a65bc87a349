"""Hand-written bridge inputs in Strimzi's shape, for the tests that prove the test bed itself (not the operator's
rendering): a user's TLS files as a container mounts them, and bridge properties as Strimzi writes them.
"""

from __future__ import annotations

from collections.abc import Mapping

from testbed.kafka.identity import ClientIdentity

# Where hand-written properties in these tests expect the user's TLS files, as a bridge container would mount them.
TLS_MOUNT = "/opt/strimzi/kafka-tls"


def tls_mounts(identity: ClientIdentity, mount_path: str = TLS_MOUNT) -> dict[str, dict[str, bytes]]:
    """The user's credentials as a bridge container mounts them: ca.crt, user.crt, user.key (PKCS#8)."""
    return {
        mount_path: {
            "ca.crt": identity.trusted_ca_pem,
            "user.crt": identity.cert_pem,
            "user.key": identity.key_pem,
        },
        "/tmp": {},
    }


def bridge_properties(
    bootstrap: str,
    *,
    tls_dir: str | None = TLS_MOUNT,
    producer: Mapping[str, str] | None = None,
    consumer: Mapping[str, str] | None = None,
) -> str:
    """Hand-written bridge properties in the shape Strimzi's KafkaBridgeConfigurationBuilder writes, reading PEM
    files through Kafka's DirectoryConfigProvider. `tls_dir=None` leaves out the client certificate (no keystore).
    The operator renders its own; these only prove the test bed."""
    lines = [
        "bridge.id=testbed-bridge",
        f"kafka.bootstrap.servers={bootstrap}",
        "kafka.security.protocol=SSL",
        "kafka.config.providers=strimzienv,strimzifile,strimzidir",
        "kafka.config.providers.strimzienv.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "kafka.config.providers.strimzienv.param.allowlist.pattern=.*",
        "kafka.config.providers.strimzifile.class=org.apache.kafka.common.config.provider.FileConfigProvider",
        "kafka.config.providers.strimzifile.param.allowed.paths=/opt/strimzi",
        "kafka.config.providers.strimzidir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider",
        "kafka.config.providers.strimzidir.param.allowed.paths=/opt/strimzi",
        "kafka.ssl.truststore.type=PEM",
        f"kafka.ssl.truststore.certificates=${{strimzidir:{tls_dir or TLS_MOUNT}:ca.crt}}",
    ]
    if tls_dir:
        lines += [
            "kafka.ssl.keystore.type=PEM",
            f"kafka.ssl.keystore.certificate.chain=${{strimzidir:{tls_dir}:user.crt}}",
            f"kafka.ssl.keystore.key=${{strimzidir:{tls_dir}:user.key}}",
        ]
    lines += [f"kafka.producer.{k}={v}" for k, v in (producer or {"acks": "all"}).items()]
    lines += [f"kafka.consumer.{k}={v}" for k, v in (consumer or {"auto.offset.reset": "earliest"}).items()]
    lines += ["http.host=127.0.0.1", "http.port=8080", "http.management.port=8081"]
    return "\n".join(lines) + "\n"
