"""Data-path fixtures: one real Kafka broker per session (KRaft, mTLS on every listener, StandardAuthorizer),
client identities from Strimzi-shaped CAs, and runners for the bridge's Kafka side (tier 1) and the real bridge
(tier 2, skipped with the precise reason where no distribution can be had).

Every test under tests/datapath is marked `datapath`; a test that uses `bridge_dist` is also marked `bridge`.
When Java or the Kafka jars cannot be had: in CI the tests FAIL with the reason, locally they SKIP with it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testbed.bridge import (
    KafkaSideResult,
    Mounts,
    RealBridge,
    find_bridge_dist,
    find_bridge_java,
    run_bridge_kafka_side,
)
from testbed.kafka import ClientIdentity, KafkaBroker, KafkaError, ensure_kafka_libs
from testbed.strimzi_sim.ca import CertificateAuthority

DATAPATH_DIR = Path(__file__).resolve().parent
# Where hand-written properties in these tests expect the user's TLS files, as a bridge container would mount them.
TLS_MOUNT = "/opt/strimzi/kafka-tls"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything here needs a real broker (`datapath`); whatever needs the real bridge is also `bridge`, and
    resolves `bridge_dist` first, so that without a distribution it skips before a broker is started for it."""
    for item in items:
        if DATAPATH_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.datapath)
            names = getattr(item, "fixturenames", None)
            if names is not None and "bridge_dist" in names:
                item.add_marker(pytest.mark.bridge)
                names.remove("bridge_dist")
                names.insert(0, "bridge_dist")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"data path unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"data path unavailable: {reason}")


@pytest.fixture(scope="session")
def kafka_libs(pytestconfig: pytest.Config) -> Path:
    """The Kafka jars (kafka_2.13 + kafka-clients + deps), fetched with Maven once into the cache."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("no Java (17 or newer) on PATH or in JAVA_HOME")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled():  # show the one-time download's progress
            return ensure_kafka_libs(progress=True)
    except KafkaError as err:
        _unavailable(str(err))
        raise


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    """The cluster CA (Strimzi's `cluster-ca`): signs the broker's certificate; clients trust it."""
    return CertificateAuthority.create("cluster-ca")


@pytest.fixture(scope="session")
def clients_ca() -> CertificateAuthority:
    """The clients CA (Strimzi's `clients-ca`): signs user certificates; the client listener trusts it."""
    return CertificateAuthority.create("clients-ca")


@pytest.fixture(scope="session")
def broker(
    pytestconfig: pytest.Config, kafka_libs: Path, ca: CertificateAuthority, clients_ca: CertificateAuthority
) -> Iterator[KafkaBroker]:
    """The session's broker; its admin identity (`broker.admin`) is a super user, as Strimzi's operators are."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    kafka = KafkaBroker(ca, clients_ca)
    with capture.global_and_fixture_disabled():
        kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def start_broker(pytestconfig: pytest.Config, kafka_libs: Path) -> Iterator[Callable[..., KafkaBroker]]:
    """`start_broker(cluster_ca, clients_ca=None, **kwargs)`: another broker (see KafkaBroker), e.g. one advertised
    as a rendered bootstrap name (`advertised_host="<cluster>-kafka-bootstrap.<ns>.svc", tls_port=9093`) with the
    Strimzi simulator's CAs. Each is started now and stopped at the end of the session."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    started: list[KafkaBroker] = []

    def start(
        cluster_ca: CertificateAuthority, clients_ca: CertificateAuthority | None = None, **kwargs: Any
    ) -> KafkaBroker:
        kafka = KafkaBroker(cluster_ca, clients_ca, **kwargs)
        started.append(kafka)
        with capture.global_and_fixture_disabled():
            kafka.start()
        return kafka

    try:
        yield start
    finally:
        for kafka in started:
            kafka.stop()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to this test (topics, users, groups), so tests sharing the session broker stay independent."""
    token = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{token}"


@pytest.fixture
def make_identity(broker: KafkaBroker) -> Callable[..., ClientIdentity]:
    """`make_identity(name, issuer=None)`: a TLS client CN=<name>, signed by the clients CA unless `issuer`."""
    return broker.client_identity


def _tls_mounts(identity: ClientIdentity, mount_path: str = TLS_MOUNT) -> dict[str, dict[str, bytes]]:
    """The user's credentials as a bridge container mounts them: ca.crt, user.crt, user.key (PKCS#8)."""
    return {
        mount_path: {
            "ca.crt": identity.trusted_ca_pem,
            "user.crt": identity.cert_pem,
            "user.key": identity.key_pem,
        },
        "/tmp": {},
    }


def _bridge_properties(
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


@pytest.fixture(scope="session")
def tls_mounts() -> Callable[..., dict[str, dict[str, bytes]]]:
    """`tls_mounts(identity, mount_path=TLS_MOUNT)`: a user's ca.crt / user.crt / user.key as a container mounts
    them (plus an emptyDir on /tmp)."""
    return _tls_mounts


@pytest.fixture(scope="session")
def bridge_properties() -> Callable[..., str]:
    """`bridge_properties(bootstrap, tls_dir=..., producer=..., consumer=...)`: hand-written bridge properties in
    Strimzi's shape (not the operator's rendering)."""
    return _bridge_properties


@dataclass
class KafkaSide:
    """Tier 1 bound to the session broker: runs BridgeKafkaSide against rendered (or hand-written) inputs."""

    broker: KafkaBroker
    libs: Path

    def __call__(
        self,
        properties_text: str,
        mounts: Mounts,
        op: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        hosts: Mapping[str, str] | None = None,
    ) -> KafkaSideResult:
        """One operation (see testbed.bridge.run_bridge_kafka_side); the broker's /etc/hosts entries are added."""
        all_hosts = {**self.broker.hosts_entries, **(hosts or {})}
        return run_bridge_kafka_side(properties_text, mounts, op, env=env, hosts=all_hosts, libs=self.libs)


@pytest.fixture(scope="session")
def kafka_side(broker: KafkaBroker, kafka_libs: Path) -> KafkaSide:
    """`kafka_side(properties_text, mounts, ["produce", topic, *values])` etc.: the bridge's Kafka side."""
    return KafkaSide(broker, kafka_libs)


@pytest.fixture(scope="session")
def bridge_dist() -> Path:
    """A Strimzi HTTP Bridge 1.1.x distribution and a Java 21+ to run it; skip saying exactly what is missing."""
    dist, why = find_bridge_dist()
    if dist is None:
        pytest.skip(why)
    java, why_java = find_bridge_java()
    if java is None:
        pytest.skip(why_java)
    return dist


@pytest.fixture
def start_bridge(bridge_dist: Path, broker: KafkaBroker) -> Iterator[Callable[..., RealBridge]]:
    """`start_bridge(properties_text, mounts, env=None, hosts=None)`: the real bridge (tier 2) on the session
    broker, ready (/ready answered); every bridge started is stopped when the test ends, however it ends."""
    started: list[RealBridge] = []

    def start(
        properties_text: str,
        mounts: Mounts,
        *,
        env: Mapping[str, str] | None = None,
        hosts: Mapping[str, str] | None = None,
    ) -> RealBridge:
        bridge = RealBridge(
            bridge_dist, properties_text, mounts, env=env, hosts={**broker.hosts_entries, **(hosts or {})}
        )
        started.append(bridge)
        bridge.start()
        return bridge

    try:
        yield start
    finally:
        for bridge in started:
            bridge.stop()
