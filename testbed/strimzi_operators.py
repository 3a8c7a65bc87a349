"""Strimzi's own User Operator and Topic Operator (1.2.0) as local processes, for the third data-path tier.

Nothing here is simulated: the programs are `io.strimzi.operator.user.Main` and `io.strimzi.operator.topic.Main`
built from strimzi-kafka-operator's `user-operator` and `topic-operator` modules (not on Maven Central; built
outside this repository, see README "Tier 3"). What the test bed does is what Strimzi's cluster operator does when
it deploys the entity operator: it issues each operator a certificate from the cluster CA into Strimzi's
`<cluster>-entity-{user,topic}-operator-certs` Secrets, and starts each with the environment Strimzi gives the
container (`EntityUserOperator` / `EntityTopicOperator` in the cluster operator's model), pointed at the local
control plane (KUBECONFIG) and at the broker's cluster-CA listener, where they are super users (as on Strimzi's
port 9091).

The distribution folder, `$BRIDGEDAPP_STRIMZI_OPERATORS_DIST`:

    user-operator/user-operator-1.2.0.jar    user-operator/lib/*.jar     (the module's target/ jar and target/lib)
    topic-operator/topic-operator-1.2.0.jar  topic-operator/lib/*.jar

Both bind fixed health ports on every address (User Operator 8081, Topic Operator 8080), as in their pods.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pykube

from testbed.bridge.dist import find_bridge_java
from testbed.host import listening, tail_file
from testbed.lifecycle import Started, die_with_parent, terminate
from testbed.strimzi_sim.ca import STRIMZI_ORGANIZATION, CertificateAuthority
from testbed.strimzi_sim.common import default_labels, secret_object

DIST_ENV = "BRIDGEDAPP_STRIMZI_OPERATORS_DIST"
STRIMZI_VERSION = "1.2.0"
MIN_JAVA = 21
LOG_TAIL_LINES = 40
# Strimzi's entity-operator certificate keys (Ca.SecretEntry.{CRT,KEY}.asKey("entity-operator")).
EO_CERT_KEY = "entity-operator.crt"
EO_KEY_KEY = "entity-operator.key"
LOG4J = """\
name = TestbedStrimziOperator
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{ISO8601}} %-5p [%t] %c{{1}}:%L - %m%n
rootLogger.level = INFO
rootLogger.appenderRefs = file
rootLogger.appenderRef.file.ref = FILE
"""


@dataclass(frozen=True)
class OperatorKind:
    """One of the two entity operators: its module, main class, health port and certificate Secret."""

    name: str  # user | topic
    module: str
    main_class: str
    health_port: int

    def jar(self, dist: Path) -> Path:
        return dist / self.module / f"{self.module}-{STRIMZI_VERSION}.jar"

    def lib(self, dist: Path) -> Path:
        return dist / self.module / "lib"

    def common_name(self, cluster: str) -> str:
        """CN of its certificate: `<cluster>-entity-<name>-operator` (KafkaResources.entity*OperatorName)."""
        return f"{cluster}-entity-{self.name}-operator"

    def secret_name(self, cluster: str) -> str:
        """`<cluster>-entity-<name>-operator-certs` (KafkaResources.entity*OperatorSecretName)."""
        return f"{self.common_name(cluster)}-certs"

    def principal(self, cluster: str) -> str:
        """Its Kafka principal, one of the super users Strimzi configures on every broker."""
        return f"User:CN={self.common_name(cluster)},O={STRIMZI_ORGANIZATION}"


USER_OPERATOR = OperatorKind("user", "user-operator", "io.strimzi.operator.user.Main", 8081)
TOPIC_OPERATOR = OperatorKind("topic", "topic-operator", "io.strimzi.operator.topic.Main", 8080)
KINDS = (USER_OPERATOR, TOPIC_OPERATOR)


def find_operators_dist() -> tuple[Path | None, str]:
    """The folder holding both built modules (layout in the module docstring), or None and exactly what is missing."""
    env = os.environ.get(DIST_ENV)
    if not env:
        return None, (
            f"{DIST_ENV} is not set: Strimzi's User and Topic Operators are not on Maven Central; build the "
            f"{STRIMZI_VERSION} tag's user-operator and topic-operator modules (README, 'Tier 3') and point "
            f"{DIST_ENV} at a folder with user-operator/ and topic-operator/"
        )
    dist = Path(env).expanduser()
    missing = [
        str(path)
        for kind in KINDS
        for path in (kind.jar(dist), kind.lib(dist))
        if not path.exists() or (path.is_dir() and not any(path.glob("*.jar")))
    ]
    if missing:
        return None, f"{DIST_ENV}={dist} lacks {', '.join(missing)} (a jar, or a lib/ folder of jars)"
    return dist, ""


def find_operators_java() -> tuple[Path | None, str]:
    """A JDK home of Java 21+ (Strimzi 1.2.0's operators need it), as for the real bridge."""
    return find_bridge_java(MIN_JAVA, purpose="Strimzi's entity operators")


def entity_operator_secret(
    kafka: Mapping[str, Any], kind: OperatorKind, cluster_ca: CertificateAuthority
) -> dict[str, Any]:
    """The Secret Strimzi's cluster operator gives an entity operator: a cluster-CA certificate and its PKCS#8 key,
    labelled as the entity operator's and owned by the Kafka."""
    namespace, cluster = kafka["metadata"]["namespace"], kafka["metadata"]["name"]
    issued = cluster_ca.issue_client(kind.common_name(cluster), organization=STRIMZI_ORGANIZATION)
    return secret_object(
        namespace,
        kind.secret_name(cluster),
        {EO_CERT_KEY: issued.cert_pem(), EO_KEY_KEY: issued.key_pem()},
        labels=default_labels(kafka, f"{cluster}-entity-operator", "entity-operator"),
        owner=kafka,
    )


def operator_env(
    kind: OperatorKind, namespace: str, cluster: str, bootstrap: str, kubeconfig: Path
) -> dict[str, str]:
    """The environment Strimzi 1.2.0's cluster operator gives the container (EntityUserOperator.getEnvVars /
    EntityTopicOperator.getEnvVars, default settings), with the broker's cluster-CA listener as bootstrap."""
    common = {
        "KUBECONFIG": str(kubeconfig),
        "STRIMZI_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STRIMZI_NAMESPACE": namespace,
        "STRIMZI_GC_LOG_ENABLED": "false",
    }
    if kind is USER_OPERATOR:
        return {
            **common,
            "STRIMZI_LABELS": f"strimzi.io/cluster={cluster}",
            "STRIMZI_CA_KEY_NAME": f"{cluster}-clients-ca",
            "STRIMZI_CA_CERT_NAME": f"{cluster}-clients-ca-cert",
            "STRIMZI_CA_NAMESPACE": namespace,
            "STRIMZI_CA_VALIDITY": "365",
            "STRIMZI_CA_RENEWAL": "30",
            "STRIMZI_CLUSTER_CA_CERT_SECRET_NAME": f"{cluster}-cluster-ca-cert",
            "STRIMZI_EO_KEY_SECRET_NAME": kind.secret_name(cluster),
            "STRIMZI_SECRET_PREFIX": "",
            "STRIMZI_ACLS_ADMIN_API_SUPPORTED": "true",
            "STRIMZI_PKCS12_KEYSTORE_GENERATION": "true",
        }
    return {
        **common,
        "STRIMZI_RESOURCE_LABELS": f"strimzi.io/cluster={cluster}",
        "STRIMZI_CLUSTER_NAMESPACE": namespace,
        "STRIMZI_SECURITY_PROTOCOL": "SSL",
        "STRIMZI_TLS_TRUSTED_CERTS_SECRET_NAME": f"{cluster}-cluster-ca-cert",
        "STRIMZI_TLS_SECRET_NAME": kind.secret_name(cluster),
        "STRIMZI_TLS_KEY_NAME": EO_KEY_KEY,
        "STRIMZI_TLS_CERT_NAME": EO_CERT_KEY,
    }


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class StrimziOperator(Started):
    """One of Strimzi's entity operators as a child process: started until its /ready answers, stopped on every exit."""

    def __init__(
        self,
        kind: OperatorKind,
        dist: Path,
        java_home: Path,
        env: Mapping[str, str],
        *,
        workdir: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.kind = kind
        self.dist = dist
        self.java_home = java_home
        self.env = dict(env)
        self.startup_timeout = startup_timeout
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"bridgedapp-strimzi-{kind.name}-operator-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "operator.log"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return (
            tail_file(self.log_path, lines)
            + "\n--- stdout/stderr ---\n"
            + tail_file(self.workdir / "stdout.log", 15)
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ready_message(self) -> str:
        return (
            f"Strimzi {STRIMZI_VERSION} {self.kind.name} operator (real) ready in {self.start_seconds:.1f}s"
        )

    def _announce(self, message: str) -> None:
        print(f"[testbed.strimzi_operators] {message}", file=sys.stderr, flush=True)

    def _start(self) -> None:
        if listening(self.kind.health_port):  # they bind it on every address, 127.0.0.1 too
            raise RuntimeError(
                f"port {self.kind.health_port}, the {self.kind.name} operator's fixed health port, is in use"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(LOG4J.format(log=self.log_path))
        self._stdout = (self.workdir / "stdout.log").open("ab")
        classpath = f"{self.kind.jar(self.dist)}{os.pathsep}{self.kind.lib(self.dist)}/*"
        self._proc = subprocess.Popen(
            [
                str(self.java_home / "bin" / "java"),
                "-Xms64m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile=file:{log4j}",
                "-cp",
                classpath,
                self.kind.main_class,
            ],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir), **self.env},
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not _ready(self.kind.health_port):
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the {self.kind.name} operator exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the {self.kind.name} operator was not ready in {self.startup_timeout:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM (its shutdown hook closes its clients), SIGKILL after 20 s; the work dir is kept for its log."""
        if self._proc is not None:
            terminate(self._proc, 20)
            self._proc = None
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None


class EntityOperators:
    """Strimzi's User and Topic Operators for one Kafka, deployed the way the cluster operator deploys them:
    their certificate Secrets written (with the tests' own client), then both processes started."""

    def __init__(
        self,
        api: pykube.HTTPClient,
        kubeconfig: Path,
        kafka: Mapping[str, Any],
        cluster_ca: CertificateAuthority,
        bootstrap: str,
        dist: Path,
        java_home: Path,
        *,
        workdir: Path | None = None,
    ) -> None:
        """`workdir`: where each operator's log goes (`<workdir>/<name>-operator/`); default a fresh temp dir each."""
        namespace, cluster = kafka["metadata"]["namespace"], kafka["metadata"]["name"]
        self.api = api
        self.kafka = kafka
        self.cluster_ca = cluster_ca
        self.operators = {
            kind.name: StrimziOperator(
                kind,
                dist,
                java_home,
                operator_env(kind, namespace, cluster, bootstrap, kubeconfig),
                workdir=workdir / f"{kind.name}-operator" if workdir else None,
            )
            for kind in KINDS
        }

    @property
    def user(self) -> StrimziOperator:
        return self.operators["user"]

    @property
    def topic(self) -> StrimziOperator:
        return self.operators["topic"]

    def start(self) -> None:
        for kind in KINDS:
            secret = pykube.Secret(self.api, entity_operator_secret(self.kafka, kind, self.cluster_ca))
            if not secret.exists():
                secret.create()
        for operator in self.operators.values():
            if not operator.running:
                operator.start()

    def stop(self) -> None:
        for operator in self.operators.values():
            operator.stop()
