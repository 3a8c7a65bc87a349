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

import base64
import contextlib
import ipaddress
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykube
import pytest

from testbed.bridge.dist import find_bridge_dist, find_bridge_java
from testbed.bridge.kafka_side import KafkaSideResult, run_bridge_kafka_side
from testbed.bridge.mounts import Mounts, namespace_support
from testbed.bridge.pod import config_file_path, env_from_container, mounts_from_pod
from testbed.bridge.process import RealBridge
from testbed.kafka.broker import KafkaBroker
from testbed.kafka.identity import ClientIdentity
from testbed.kafka.jars import KafkaError, ensure_kafka_libs
from testbed.strimzi_sim import StrimziSimulator
from testbed.strimzi_sim.ca import CertificateAuthority
from tests.conftest import in_ci
from tests.operator_fixtures import (
    condition_is,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    strimzi_kind,
)
from tests.operator_fixtures import unique as unique_name

DATAPATH_DIR = Path(__file__).resolve().parent
# Where hand-written properties in these tests expect the user's TLS files, as a bridge container would mount them.
TLS_MOUNT = "/opt/strimzi/kafka-tls"


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


# ---------------------------------------------------------------------------------------------------------
# Operator-rendered inputs (issue 7): a BridgedApp made Ready by the real operator on the session control plane
# (Strimzi's reconcile loop simulated), everything it wrote read back through pykube, and brokers that serve
# exactly the bootstrap address it rendered. Used by test_rendered_tier1.py and test_rendered_tier2.py.
# ---------------------------------------------------------------------------------------------------------

READY_TIMEOUT = 240.0  # first use installs Strimzi from the bundle and waits for the simulated cluster
MIRROR_TIMEOUT = 60.0  # the operator re-mirrors credentials on the Secret watch
APP_NAME = "shop"
APP_DEPLOYMENT = "shop-api"
_BOOTSTRAP_LINE = re.compile(r"^kafka\.bootstrap\.servers=(.*)$", re.MULTILINE)


def rendered_app_spec(cluster: str, namespace: str) -> dict[str, Any]:
    """The BridgedApp under test: its own Kafka cluster, one ReadWrite and one Read topic (names unique per
    cluster, as KafkaTopic names live in the shared Kafka namespace), an explicit consumer-group prefix
    (inside its namespace's own `<namespace>.`, as the many-teams policy asks)."""
    return {
        "deploymentName": APP_DEPLOYMENT,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [
            {"name": f"orders-{cluster}", "partitions": 1, "replicas": 1, "access": "ReadWrite"},
            {"name": f"prices-{cluster}", "partitions": 1, "replicas": 1, "access": "Read"},
        ],
        "consumerGroup": f"{namespace}.shop-{cluster}",
    }


def _decoded(secret: Mapping[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _strimzi_ca(api: pykube.HTTPClient, namespace: str, cluster: str, role: str) -> CertificateAuthority:
    """A Strimzi CA (`cluster-ca` / `clients-ca`) from its two Secrets: `<c>-<role>-cert` (ca.crt, plus the
    certificates of replaced keys still trusted during a rotation) and `<c>-<role>` (ca.key)."""
    cert = _decoded(pykube.Secret.objects(api, namespace=namespace).get(name=f"{cluster}-{role}-cert").obj)
    key = _decoded(pykube.Secret.objects(api, namespace=namespace).get(name=f"{cluster}-{role}").obj)
    previous = [pem for name, pem in sorted(cert.items()) if name.endswith(".crt") and name != "ca.crt"]
    return CertificateAuthority.from_pem(cert["ca.crt"], key["ca.key"], previous_pem=previous)


@dataclass(frozen=True)
class RenderedApp:
    """A snapshot of what the operator wrote for one Ready BridgedApp, as the API server serves it.

    Nothing here is computed from the operator's code: names, paths and data come from the objects themselves
    (the ConfigMap and Secret are the ones the injected container's volumes name). A later snapshot of the same
    app (after a rotation) is taken with `read_rendered`; an older snapshot keeps the credentials it saw.
    """

    namespace: str
    name: str
    app: dict[str, Any]  # the BridgedApp (spec and status)
    container: dict[str, Any]  # the injected `kafka-bridge` container
    template_annotations: dict[str, str]  # the pod template's (the operator's config hash rolls the pods)
    volumes: list[dict[str, Any]]  # the pod template's volumes
    config_maps: dict[str, dict[str, Any]]  # name -> ConfigMap, for the volumes the container mounts
    secrets: dict[str, dict[str, Any]]  # name -> Secret, likewise
    kafka_user: dict[str, Any]
    kafka_topics: list[dict[str, Any]]
    cluster_ca: CertificateAuthority  # from Strimzi's Secrets in the Kafka namespace (with its key)
    clients_ca: CertificateAuthority

    @property
    def cluster(self) -> str:
        return str(self.app["spec"]["kafka"]["clusterName"])

    @property
    def kafka_namespace(self) -> str:
        return str(self.kafka_user["metadata"]["namespace"])

    def _volume_source(self, kind: str) -> tuple[str, str]:
        """(mountPath, object name) of the one container mount backed by a `configMap` or `secret` volume."""
        by_name = {v["name"]: v for v in self.volumes}
        found = [
            (m["mountPath"], by_name[m["name"]][kind].get("name" if kind == "configMap" else "secretName"))
            for m in self.container.get("volumeMounts") or []
            if kind in by_name.get(m["name"], {})
        ]
        assert len(found) == 1, f"expected one {kind} mount in {self.container.get('volumeMounts')}"
        return found[0]

    @property
    def config_map(self) -> dict[str, Any]:
        return self.config_maps[self._volume_source("configMap")[1]]

    @property
    def secret(self) -> dict[str, Any]:
        return self.secrets[self._volume_source("secret")[1]]

    @property
    def credentials_path(self) -> str:
        """Where the container mounts the mirrored credentials Secret."""
        return self._volume_source("secret")[0]

    @property
    def credentials(self) -> dict[str, bytes]:
        """The mirrored Secret's data, decoded (ca.crt, user.crt, user.key)."""
        return _decoded(self.secret)

    @property
    def properties_text(self) -> str:
        """The ConfigMap's application.properties, exactly as served: what every run here is given."""
        return str(self.config_map["data"]["application.properties"])

    @property
    def config_file(self) -> str:
        """Where the container's entrypoint reads the properties (`$STRIMZI_HOME/custom-config/...`)."""
        return config_file_path(self.container)

    @property
    def bootstrap(self) -> str:
        found = _BOOTSTRAP_LINE.findall(self.properties_text)
        assert len(found) == 1, f"{len(found)} kafka.bootstrap.servers lines in the rendered properties"
        return str(found[0]).strip()

    @property
    def bootstrap_host(self) -> str:
        return self.bootstrap.rsplit(":", 1)[0]

    @property
    def bootstrap_port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])

    @property
    def username(self) -> str:
        """The KafkaUser's name: Strimzi issues its certificate as CN=<name>, Kafka sees User:CN=<name>."""
        return str(self.kafka_user["metadata"]["name"])

    @property
    def acls(self) -> list[dict[str, Any]]:
        return list(self.kafka_user["spec"]["authorization"]["acls"])

    def topic(self, access: str) -> str:
        """The app's topic with this `access` (ReadWrite, Read, Write)."""
        names = [t["name"] for t in self.app["spec"]["topics"] if t["access"] == access]
        assert len(names) == 1, f"{len(names)} topics with access {access}"
        return str(names[0])

    @property
    def group_prefix(self) -> str:
        meta = self.app["metadata"]
        return str(self.app["spec"].get("consumerGroup") or f"{meta['namespace']}.{meta['name']}")

    @property
    def env(self) -> dict[str, str]:
        return env_from_container(self.container)

    @property
    def mounts(self) -> dict[str, dict[str, bytes]]:
        """The container's volumes as {mountPath: {file: bytes}}, from the objects the volumes name."""
        return mounts_from_pod(
            self.container,
            self.volumes,
            {name: cm.get("data") or {} for name, cm in self.config_maps.items()},
            {name: _decoded(s) for name, s in self.secrets.items()},
        )

    def mounts_with_credentials(self, **files: bytes) -> dict[str, dict[str, bytes]]:
        """The same mounts with some credential files replaced (e.g. user_crt=..., user_key=...)."""
        mounts = self.mounts
        replaced = {name.replace("_", "."): content for name, content in files.items()}
        unknown = set(replaced) - set(mounts[self.credentials_path])
        assert not unknown, f"no such credential files: {sorted(unknown)}"
        mounts[self.credentials_path] = {**mounts[self.credentials_path], **replaced}
        return mounts


def read_rendered(api: pykube.HTTPClient, namespace: str, name: str) -> RenderedApp:
    """Read back everything the operator wrote for BridgedApp `namespace/name` (and Strimzi's CAs) right now."""
    app = get_bridgedapp(api, namespace, name)
    assert app is not None, f"BridgedApp {namespace}/{name} is gone"
    deploy = pykube.Deployment.objects(api, namespace=namespace).get(name=app["spec"]["deploymentName"]).obj
    pod = deploy["spec"]["template"]["spec"]
    containers = [c for key in ("initContainers", "containers") for c in pod.get(key) or []]
    bridge = [c for c in containers if c["name"] == "kafka-bridge"]
    assert len(bridge) == 1, (
        f"{len(bridge)} kafka-bridge containers in {namespace}/{deploy['metadata']['name']}"
    )
    volumes = list(pod.get("volumes") or [])
    mounted = {m["name"] for m in bridge[0].get("volumeMounts") or []}
    config_maps: dict[str, dict[str, Any]] = {}
    secrets: dict[str, dict[str, Any]] = {}
    for volume in volumes:
        if volume["name"] not in mounted:
            continue
        if "configMap" in volume:
            cm_name = volume["configMap"]["name"]
            config_maps[cm_name] = pykube.ConfigMap.objects(api, namespace=namespace).get(name=cm_name).obj
        elif "secret" in volume:
            secret_name = volume["secret"]["secretName"]
            secrets[secret_name] = pykube.Secret.objects(api, namespace=namespace).get(name=secret_name).obj
    cluster = app["spec"]["kafka"]["clusterName"]
    kafka_namespace = (app["status"]["kafka"]["cluster"] or "").split("/")[0]
    selector = {"strimzi.io/cluster": cluster}
    users = list(
        strimzi_kind(api, "KafkaUser").objects(api, namespace=kafka_namespace).filter(selector=selector)
    )
    assert len(users) == 1, f"{len(users)} KafkaUsers for cluster {cluster} in {kafka_namespace}"
    topics = strimzi_kind(api, "KafkaTopic").objects(api, namespace=kafka_namespace).filter(selector=selector)
    return RenderedApp(
        namespace=namespace,
        name=name,
        app=app,
        container=bridge[0],
        template_annotations=dict(deploy["spec"]["template"]["metadata"].get("annotations") or {}),
        volumes=volumes,
        config_maps=config_maps,
        secrets=secrets,
        kafka_user=users[0].obj,
        kafka_topics=[t.obj for t in topics],
        cluster_ca=_strimzi_ca(api, kafka_namespace, cluster, "cluster-ca"),
        clients_ca=_strimzi_ca(api, kafka_namespace, cluster, "clients-ca"),
    )


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


@dataclass
class RenderedKafkaSide:
    """Tier 1 on rendered inputs: the bridge's Kafka side given the ConfigMap's properties text unchanged, the
    container's mounts at their paths and its env, with the rendered bootstrap name resolving to `broker`."""

    libs: Path

    def __call__(
        self,
        app: RenderedApp,
        broker: KafkaBroker,
        op: Sequence[str],
        *,
        mounts: Mounts | None = None,
    ) -> KafkaSideResult:
        return run_bridge_kafka_side(
            app.properties_text,
            app.mounts if mounts is None else mounts,
            op,
            env=app.env,
            hosts=broker.hosts_entries,
            libs=self.libs,
            layout="namespace",
        )


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


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state held by process `pid`: its socket inodes (from
    /proc/<pid>/fd) matched against /proc/<pid>/net/tcp and tcp6 (addresses there are little-endian hex);
    IPv4-mapped IPv6 addresses are given as IPv4."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if match:
                inodes.add(match.group(1))
    found: set[tuple[str, int]] = set()
    for family in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{family}").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A" or fields[9] not in inodes:  # 0A: TCP_LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(raw)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped  # a Java socket bound to 127.0.0.1 shows as ::ffff:127.0.0.1
            found.add((str(address), int(hex_port, 16)))
    return found
