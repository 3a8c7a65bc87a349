"""Data-path fixtures: one real Kafka broker per session (KRaft, mTLS on every listener, StandardAuthorizer),
client identities from Strimzi-shaped CAs, and runners for the bridge's Kafka side (tier 1) and the real bridge
(tier 2, skipped with the precise reason where no distribution can be had).

Below those, the operator-rendered inputs (`rendered`, `rendered_broker`, `rendered_side`, `rendered_bridge`): a
BridgedApp made Ready by the real operator on the session control plane, read back from the API server, and brokers
serving exactly the bootstrap address it rendered.

Every test under tests/datapath is marked `datapath`; one that reads the operator's output also `integration`; one
that uses `bridge_dist` also `bridge`. When Java, the Kafka jars or a private mount namespace cannot be had: in CI
the tests FAIL with the reason, locally they SKIP with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pykube
import pytest

from testbed.bridge.dist import find_bridge_dist, find_bridge_java
from testbed.bridge.mounts import Mounts, namespace_support
from testbed.bridge.process import RealBridge
from testbed.kafka.broker import KafkaBroker
from testbed.kafka.identity import ClientIdentity
from testbed.kafka.jars import KafkaError, ensure_kafka_libs
from testbed.strimzi_sim import StrimziSimulator
from testbed.strimzi_sim.ca import CertificateAuthority
from tests.conftest import in_ci
from tests.datapath.handwritten import bridge_properties as _bridge_properties
from tests.datapath.handwritten import tls_mounts as _tls_mounts
from tests.datapath.rendered import (
    APP_DEPLOYMENT,
    APP_NAME,
    READY_TIMEOUT,
    RenderedApp,
    read_rendered,
    rendered_app_spec,
)
from tests.datapath.runners import KafkaSide, RenderedKafkaSide
from tests.operator_fixtures import condition_is, make_bridgedapp, make_deployment
from tests.operator_fixtures import unique as unique_name

DATAPATH_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything here needs a real broker (`datapath`); whatever reads the operator's output also needs the
    control plane (`integration`); whatever needs the real bridge is also `bridge`, and resolves `bridge_dist`
    first, so that without a distribution it skips before a broker (or a cluster) is started for it."""
    for item in items:
        if DATAPATH_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.datapath)
            names = getattr(item, "fixturenames", None)
            if names is not None and "cluster" in names:  # operator-rendered inputs: the control plane too
                item.add_marker(pytest.mark.integration)
            if names is not None and "bridge_dist" in names:
                item.add_marker(pytest.mark.bridge)
                names.remove("bridge_dist")
                names.insert(0, "bridge_dist")


def _unavailable(reason: str) -> None:
    if in_ci():
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


# ---------------------------------------------------------------------------------------------------------
# Operator-rendered inputs (issue 7): a BridgedApp made Ready by the real operator on the session control plane
# (Strimzi's reconcile loop simulated), everything it wrote read back through pykube, and brokers that serve
# exactly the bootstrap address it rendered (the snapshot: tests/datapath/rendered.py).
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_rendered_app(
    api: pykube.HTTPClient, operator: Any, simulator: StrimziSimulator, wait_until: Callable[..., Any]
) -> Iterator[Callable[[str], RenderedApp]]:
    """`make_rendered_app(label)`: in a fresh namespace, a Deployment and a BridgedApp (rendered_app_spec, its
    own Kafka cluster) made Ready by the real operator; returns what it wrote, read back. Namespaces are
    deleted at the end of the session."""
    made: list[pykube.Namespace] = []

    def make(label: str) -> RenderedApp:
        ns_name = f"datapath-{label}-{uuid.uuid4().hex[:6]}"
        ns = pykube.Namespace(api, {"metadata": {"name": ns_name, "labels": {"bridgedapp.io/test": "true"}}})
        ns.create()
        made.append(ns)
        wait_until(
            lambda: pykube.ServiceAccount.objects(api, namespace=ns_name).get_or_none(name="default"),
            what=f"ServiceAccount default in namespace {ns_name}",
        )
        make_deployment(api, ns_name, APP_DEPLOYMENT)
        make_bridgedapp(api, ns_name, APP_NAME, rendered_app_spec(unique_name(f"dp{label[:6]}"), ns_name))
        wait_until(
            condition_is(api, ns_name, APP_NAME, "Ready"),
            timeout=READY_TIMEOUT,
            what=f"BridgedApp {ns_name}/{APP_NAME} Ready",
        )
        return read_rendered(api, ns_name, APP_NAME)

    yield make
    for ns in made:
        with contextlib.suppress(pykube.exceptions.HTTPError, OSError):
            ns.delete()


@pytest.fixture(scope="session")
def rendered(make_rendered_app: Callable[[str], RenderedApp]) -> RenderedApp:
    """The session's Ready BridgedApp, read back once; tests only read it (rotations use apps of their own)."""
    return make_rendered_app("main")


@pytest.fixture(scope="session")
def mount_namespace() -> None:
    """The rendered files go at their exact mount paths, and the rendered bootstrap name resolves to the local
    broker, only inside a private mount namespace; without one these tests skip (fail in CI) saying why."""
    ok, why = namespace_support()
    if not ok:
        _unavailable(f"a private mount namespace is needed to lay out the rendered mounts unchanged: {why}")


@pytest.fixture(scope="module")
def rendered_brokers(pytestconfig: pytest.Config, kafka_libs: Path) -> Iterator[Callable[..., KafkaBroker]]:
    """`rendered_brokers(app, listen_address="127.0.0.1")`: a broker for a RenderedApp, started
    now and stopped at the end of the module (so the next module can serve the same fixed port again).

    It is advertised as the rendered bootstrap `host:port` and listens on that port at `listen_address`; its
    hosts entry maps the rendered name there. Its server certificate is signed by the app's cluster CA (its
    current key, as Strimzi signs broker certificates), its client listener trusts the app's clients CA,
    the KafkaUser's ACLs are applied as Strimzi's user operator does, and the KafkaTopics are created."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    started: list[KafkaBroker] = []

    def start(app: RenderedApp, *, listen_address: str = "127.0.0.1") -> KafkaBroker:
        kafka = KafkaBroker(
            app.cluster_ca,
            app.clients_ca,
            advertised_host=app.bootstrap_host,
            tls_port=app.bootstrap_port,
            listen_address=listen_address,
        )
        started.append(kafka)
        with capture.global_and_fixture_disabled():
            kafka.start()
        kafka.set_user_acls(app.username, app.acls)
        for topic in app.kafka_topics:
            spec = topic.get("spec") or {}
            kafka.create_topic(
                spec.get("topicName") or topic["metadata"]["name"],
                partitions=int(spec.get("partitions") or 1),
                configs={k: str(v) for k, v in (spec.get("config") or {}).items()},
            )
        return kafka

    try:
        yield start
    finally:
        for kafka in started:
            kafka.stop()


@pytest.fixture(scope="module")
def rendered_broker(
    rendered: RenderedApp, rendered_brokers: Callable[..., KafkaBroker], mount_namespace: None
) -> KafkaBroker:
    """One broker per module for the session's app, on 127.0.0.1 at the rendered port: fresh topics, so what a
    module's tests consume is exactly what they produced."""
    return rendered_brokers(rendered)


@pytest.fixture(scope="session")
def rendered_side(kafka_libs: Path, mount_namespace: None) -> RenderedKafkaSide:
    """`rendered_side(app, broker, ["produce", topic, *values], mounts=None)` etc. (see run_bridge_kafka_side)."""
    return RenderedKafkaSide(kafka_libs)


@pytest.fixture(scope="module")
def rendered_bridges(
    bridge_dist: Path, mount_namespace: None, rendered: RenderedApp, rendered_broker: KafkaBroker
) -> Iterator[list[RealBridge]]:
    """Every real bridge the module started for the session's app (see `rendered_bridge`); stopped at its end."""
    started: list[RealBridge] = []
    try:
        yield started
    finally:
        for bridge in started:
            bridge.stop()


@pytest.fixture
def rendered_bridge(
    bridge_dist: Path,
    rendered: RenderedApp,
    rendered_broker: KafkaBroker,
    rendered_bridges: list[RealBridge],
) -> RealBridge:
    """The real bridge (tier 2) for the session's app: the ConfigMap's properties text unchanged, the container's
    mounts and env, the rendered bootstrap name resolving to the module's broker; ready (/ready answered).

    One per module, started on first use, and started again for the next test after a test stopped it (the
    rendered ports are fixed, so two cannot run at once)."""
    if not rendered_bridges or not rendered_bridges[-1].running:
        bridge = RealBridge(
            bridge_dist,
            rendered.properties_text,
            rendered.mounts,
            env=rendered.env,
            hosts=rendered_broker.hosts_entries,
            layout="namespace",
        )
        rendered_bridges.append(bridge)
        bridge.start()
    return rendered_bridges[-1]
