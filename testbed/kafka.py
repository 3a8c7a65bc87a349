"""A real Apache Kafka broker for the data-path tests: jars from Maven Central, KRaft, mTLS, ACLs.

Nothing here is simulated: the broker is `kafka.Kafka` from `org.apache.kafka:kafka_2.13`, TLS client
authentication and the `StandardAuthorizer` are Kafka's own. What is the test bed's choice: one combined
broker+controller node on loopback, certificates from `testbed.strimzi_sim.ca.CertificateAuthority` (the same CA code
the Strimzi simulator uses), and an admin identity that is a super user, as Strimzi's operators are.

`acl_bindings_for_user` translates a KafkaUser's `spec.authorization.acls` into Kafka ACL bindings exactly the way
Strimzi's user operator does (`SimpleAclRule` / `SimpleAclRuleResource`), so a test can give a client the ACLs a
KafkaUser would get.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from testbed.lifecycle import Started, die_with_parent
from testbed.strimzi_sim.ca import CertificateAuthority

KAFKA_VERSION = "4.3.1"
MAVEN_POM = Path(__file__).resolve().parent / "maven" / "kafka-pom.xml"
JAVA_DIR = Path(__file__).resolve().parent / "java"
ADMIN_PROGRAM = JAVA_DIR / "TestbedKafkaAdmin.java"
CLIENT_LOG4J = JAVA_DIR / "log4j2-stderr.properties"
DEFAULT_ADMIN_NAME = "bridgedapp-test-admin"
LOG_TAIL_LINES = 40
# Short-lived JVMs (format, admin, stand-in) start faster with the C1 compiler only and a small serial heap.
TOOL_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx256m")
# The test broker does little work: C1 and the serial collector start it faster on a 2-core machine.
BROKER_JVM_OPTS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


class KafkaError(RuntimeError):
    """The jars could not be had, or the broker or an admin call failed; the message says which and why."""


# --------------------------------------------------------------------------------------------- the jars


def cache_dir() -> Path:
    """$BRIDGEDAPP_CACHE_DIR, else ~/.cache/bridgedapp (the same root the control-plane binaries use)."""
    env = os.environ.get("BRIDGEDAPP_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bridgedapp"


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """Folder of one Kafka version's jars: <cache>/kafka-<version>/libs."""
    return cache_dir() / f"kafka-{version}"


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[testbed.kafka] {message}", file=sys.stderr, flush=True)


def _tail_text(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _tail_file(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return _tail_text(path.read_text(errors="replace"), lines)
    except OSError:
        return f"(no {path.name})"


@contextlib.contextmanager
def _file_lock(path: Path, progress: bool) -> Iterator[None]:
    """An exclusive flock, so two test sessions never download into the same folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(progress, f"waiting for another process holding {path} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _libs_complete(libs: Path) -> bool:
    return (libs.parent / ".complete").is_file() and any(libs.glob("kafka-clients-*.jar"))


def ensure_kafka_libs(version: str = KAFKA_VERSION, progress: bool = True) -> Path:
    """The folder of `kafka_2.13:<version>` and its dependencies, downloaded once with Maven.

    $BRIDGEDAPP_KAFKA_LIBS names a ready folder of jars instead (no download). Otherwise the jars land in
    <cache>/kafka-<version>/libs: resolved into a private folder, then moved into place in one rename, under a lock.
    """
    override = os.environ.get("BRIDGEDAPP_KAFKA_LIBS")
    if override:
        libs = Path(override).expanduser()
        if not any(libs.glob("kafka-clients-*.jar")):
            raise KafkaError(f"BRIDGEDAPP_KAFKA_LIBS={libs} holds no kafka-clients jar")
        return libs
    home = kafka_home(version)
    libs = home / "libs"
    if _libs_complete(libs):
        return libs
    with _file_lock(home.parent / f"kafka-{version}.lock", progress):
        if _libs_complete(libs):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError(
                "Maven (`mvn`) is not on PATH: it is needed once to fetch the Kafka jars from Maven Central"
            )
        started = time.monotonic()
        _say(
            progress,
            f"fetching org.apache.kafka:kafka_2.13:{version} and its dependencies from Maven Central ...",
        )
        staging = Path(tempfile.mkdtemp(prefix=f"kafka-{version}.partial-", dir=home.parent))
        try:
            cmd = [
                mvn,
                "-q",
                "-B",
                "-f",
                str(MAVEN_POM),
                "dependency:copy-dependencies",
                f"-Dkafka.version={version}",
                f"-DoutputDirectory={staging / 'libs'}",
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=staging, check=False)
            if done.returncode != 0 or not any((staging / "libs").glob("kafka-clients-*.jar")):
                raise KafkaError(
                    f"`{' '.join(cmd)}` failed (exit {done.returncode}):\n"
                    f"{_tail_text(done.stdout + done.stderr)}"
                )
            (staging / ".complete").write_text(f"kafka_2.13:{version}\n")
            if home.exists():  # an incomplete earlier attempt
                shutil.rmtree(home)
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        jars = list(libs.glob("*.jar"))
        size = sum(j.stat().st_size for j in jars) / 1e6
        _say(progress, f"{len(jars)} jars ({size:.0f} MB) in {libs} after {time.monotonic() - started:.1f}s")
    return libs


def java_binary() -> str:
    """The `java` that runs the broker and the tools: $JAVA_HOME's if set, else PATH's (Java 17 or newer)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaError("no `java` on PATH (Java 17 or newer runs the Kafka broker)")
    return found


def classpath(libs: Path) -> str:
    """The wildcard class path Java expands itself (`libs/*`)."""
    return f"{libs}/*"


def _compiled(program: Path, libs: Path, java: str) -> Path | None:
    """The program compiled once into the cache (keyed by its source and the JDK), or None to use the source
    launcher (no javac beside `java`, or BRIDGEDAPP_JAVA_SOURCE_LAUNCHER=1)."""
    if os.environ.get("BRIDGEDAPP_JAVA_SOURCE_LAUNCHER") == "1":
        return None
    javac = Path(java).resolve().with_name("javac")
    if not javac.is_file():
        return None
    digest = hashlib.sha256(program.read_bytes() + str(javac).encode() + str(libs).encode()).hexdigest()[:16]
    target = cache_dir() / "java-classes" / f"{program.stem}-{digest}"
    if (target / f"{program.stem}.class").is_file():
        return target
    with _file_lock(target.with_name(target.name + ".lock"), progress=False):
        if (target / f"{program.stem}.class").is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
        try:
            cmd = [str(javac), "-nowarn", "-cp", classpath(libs), "-d", str(staging), str(program)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise KafkaError(f"javac {program.name} failed:\n{_tail_text(done.stdout + done.stderr)}")
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def java_program_command(program: Path, libs: Path, java: str | None = None, *jvm_args: str) -> list[str]:
    """The command that runs one of testbed/java/*.java with the Kafka jars.

    Each is a single-file program (`java -cp 'libs/*' Program.java args` works as is); to spare the ~2-3 s the
    source launcher spends compiling on every start, it is compiled once into the cache and run from there.
    """
    java = java or java_binary()
    classes = _compiled(program, libs, java)
    head = [java, *TOOL_JVM_OPTS, *jvm_args]
    if classes is None:
        return [*head, "-cp", classpath(libs), str(program)]
    return [*head, "-cp", f"{classes}{os.pathsep}{classpath(libs)}", program.stem]


# --------------------------------------------------------------------------------------------- ACLs


# Strimzi's AclOperation JSON values -> Kafka's org.apache.kafka.common.acl.AclOperation names.
_OPERATIONS = {
    "Read": "READ",
    "Write": "WRITE",
    "Create": "CREATE",
    "Delete": "DELETE",
    "Alter": "ALTER",
    "Describe": "DESCRIBE",
    "ClusterAction": "CLUSTER_ACTION",
    "AlterConfigs": "ALTER_CONFIGS",
    "DescribeConfigs": "DESCRIBE_CONFIGS",
    "IdempotentWrite": "IDEMPOTENT_WRITE",
    "All": "ALL",
}
# The KafkaUser resource `type` -> Kafka's ResourceType name.
_RESOURCE_TYPES = {
    "topic": "TOPIC",
    "group": "GROUP",
    "cluster": "CLUSTER",
    "transactionalId": "TRANSACTIONAL_ID",
}
_PATTERNS = {"literal": "LITERAL", "prefix": "PREFIXED"}
_RULE_TYPES = {"allow": "ALLOW", "deny": "DENY"}


@dataclass(frozen=True, order=True)
class AclBinding:
    """One Kafka ACL binding, every field in Kafka's enum spelling (as `kafka-acls` and the Admin API show it)."""

    resource_type: str  # TOPIC | GROUP | CLUSTER | TRANSACTIONAL_ID
    resource_name: str
    pattern_type: str  # LITERAL | PREFIXED
    principal: str  # User:CN=<name>
    host: str
    operation: str  # READ | WRITE | ... | CLUSTER_ACTION | ALL
    permission: str  # ALLOW | DENY

    def to_json(self) -> dict[str, str]:
        """The shape TestbedKafkaAdmin.java reads and writes."""
        return {
            "resourceType": self.resource_type,
            "resourceName": self.resource_name,
            "patternType": self.pattern_type,
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation,
            "permission": self.permission,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> AclBinding:
        return cls(
            resource_type=data["resourceType"],
            resource_name=data["resourceName"],
            pattern_type=data["patternType"],
            principal=data["principal"],
            host=data["host"],
            operation=data["operation"],
            permission=data["permission"],
        )


def tls_principal(username: str) -> str:
    """The Kafka principal of a Strimzi TLS user: `User:` + `CN=<name>` (KafkaUserModel.getTlsUserName)."""
    return f"User:CN={username}"


def acl_bindings_for_user(username: str, acls: Iterable[Mapping[str, Any]]) -> list[AclBinding]:
    """Translate a TLS KafkaUser's `spec.authorization.acls` the way Strimzi's user operator does.

    Per rule (SimpleAclRule.fromCrd): `type` defaults to allow, `host` to "*"; `operations` (a list) and the
    deprecated single `operation` are mutually exclusive; one binding per operation. Per resource
    (SimpleAclRuleResource.toKafkaResourcePattern): topic, group and transactionalId keep their name, `patternType`
    defaults to literal and `prefix` becomes PREFIXED; cluster is always the literal `kafka-cluster`. The result is
    a set (Strimzi keeps a Set), returned sorted.
    """
    principal = tls_principal(username)
    result: set[AclBinding] = set()
    for index, rule in enumerate(acls):
        where = f"acls[{index}]"
        if rule.get("operations") is not None and rule.get("operation") is not None:
            raise ValueError(
                f"{where}: both fields `operations` and `operation` cannot be filled in at the same time"
            )
        operations = rule.get("operations")
        if operations is None:
            operations = [rule.get("operation")]
        resource = rule.get("resource") or {}
        resource_type = _RESOURCE_TYPES.get(str(resource.get("type")))
        if resource_type is None:
            raise ValueError(
                f"{where}.resource.type: {resource.get('type')!r} is not one of {sorted(_RESOURCE_TYPES)}"
            )
        if resource_type == "CLUSTER":
            name, pattern = "kafka-cluster", "LITERAL"
        else:
            name = resource.get("name")
            if name is None:
                raise ValueError(f"{where}.resource.name: required for resource type {resource['type']}")
            pattern_value = resource.get("patternType", "literal")
            if pattern_value not in _PATTERNS:
                raise ValueError(f"{where}.resource.patternType: {pattern_value!r} is not literal or prefix")
            pattern = _PATTERNS[pattern_value]
        rule_type = _RULE_TYPES.get(str(rule.get("type", "allow")))
        if rule_type is None:
            raise ValueError(f"{where}.type: {rule.get('type')!r} is not allow or deny")
        host = rule.get("host", "*")
        for operation in operations:
            kafka_operation = _OPERATIONS.get(str(operation))
            if kafka_operation is None:
                raise ValueError(f"{where}.operations: {operation!r} is not one of {sorted(_OPERATIONS)}")
            result.add(
                AclBinding(
                    resource_type, str(name), pattern, principal, str(host), kafka_operation, rule_type
                )
            )
    return sorted(result)


# --------------------------------------------------------------------------------------------- identities


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class ClientIdentity:
    """A TLS client: its certificate and PKCS#8 key (PEM), and the CA bundle it trusts for the broker."""

    name: str  # the CN; the Kafka principal is User:CN=<name>
    cert_pem: bytes
    key_pem: bytes
    trusted_ca_pem: bytes

    @property
    def principal(self) -> str:
        return tls_principal(self.name)

    def write_files(self, directory: Path) -> dict[str, Path]:
        """Write ca.crt / user.crt / user.key (the names of Strimzi's user Secret) and keystore.pem (key + chain)."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "ca.crt": directory / "ca.crt",
            "user.crt": directory / "user.crt",
            "user.key": directory / "user.key",
            "keystore.pem": directory / "keystore.pem",
        }
        paths["ca.crt"].write_bytes(self.trusted_ca_pem)
        paths["user.crt"].write_bytes(self.cert_pem)
        paths["user.key"].write_bytes(self.key_pem)
        paths["keystore.pem"].write_bytes(self.key_pem.rstrip(b"\n") + b"\n" + self.cert_pem)
        for path in paths.values():
            path.chmod(0o600)
        return paths

    def client_properties(self, bootstrap: str, directory: Path) -> dict[str, str]:
        """Plain Kafka client settings (no `kafka.` prefix) for mTLS with PEM files written into `directory`."""
        paths = self.write_files(directory)
        return {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(paths["ca.crt"]),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(paths["keystore.pem"]),
        }


def issue_client_identity(issuer: CertificateAuthority, name: str, trusted_ca_pem: bytes) -> ClientIdentity:
    """A client certificate with subject CN=<name> signed by `issuer` (a Strimzi clients CA in production)."""
    issued = issuer.issue_client(name)
    return ClientIdentity(
        name=name, cert_pem=issued.cert_pem(), key_pem=issued.key_pem(), trusted_ca_pem=trusted_ca_pem
    )


def write_properties(path: Path, values: Mapping[str, str]) -> Path:
    """A .properties file with keys and values escaped the way java.util.Properties reads them back."""

    def esc(text: str, key: bool) -> str:
        out = []
        for i, ch in enumerate(text):
            if ch == "\\":
                out.append("\\\\")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif ch in "=:#!" or (ch == " " and (key or i == 0)):
                out.append("\\" + ch)
            else:
                out.append(ch)
        return "".join(out)

    path.write_text("".join(f"{esc(k, True)}={esc(v, False)}\n" for k, v in values.items()))
    return path


# --------------------------------------------------------------------------------------------- the broker


class _AdminSession:
    """One long-lived TestbedKafkaAdmin JVM: JSON request lines in, JSON answer lines out."""

    def __init__(self, java: str, libs: Path, properties: Path, log: Path) -> None:
        self._log = log
        self._stderr: IO[bytes] = log.open("ab")
        self._proc = subprocess.Popen(
            [
                *java_program_command(
                    ADMIN_PROGRAM, libs, java, f"-Dlog4j2.configurationFile={CLIENT_LOG4J}"
                ),
                str(properties),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
        )
        self._lock = threading.Lock()

    def call(self, request: Mapping[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        """Send one request, return its answer; KafkaError with Kafka's class and message when it failed."""
        with self._lock:
            if self._proc.poll() is not None:
                raise KafkaError(
                    f"the admin client process exited ({self._proc.returncode}):\n{_tail_file(self._log)}"
                )
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            answer_box: list[str] = []
            reader = threading.Thread(
                target=lambda: answer_box.append(self._proc.stdout.readline()), daemon=True
            )  # type: ignore[union-attr]
            reader.start()
            reader.join(timeout)
            if not answer_box or not answer_box[0]:
                raise KafkaError(
                    f"admin call {request.get('op')} got no answer in {timeout:.0f}s:\n{_tail_file(self._log)}"
                )
        answer: dict[str, Any] = json.loads(answer_box[0])
        if not answer.get("ok"):
            error = answer.get("error", {})
            raise KafkaError(
                f"admin {request.get('op')} failed: {error.get('class')}: {error.get('message')}"
            )
        return answer

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        for stream in (self._proc.stdout,):
            if stream is not None:
                stream.close()
        self._stderr.close()


class KafkaBroker(Started):
    """One KRaft node (broker + controller) on 127.0.0.1 whose every listener requires a client certificate.

    Listeners: CLIENTTLS (the one clients use: trusts `clients_ca`, like Strimzi's `tls` listener; advertised as
    `advertised_host`, e.g. a rendered `<cluster>-kafka-bootstrap.<ns>.svc`, with `hosts_entries` mapping it to
    127.0.0.1 for clients in a mount namespace), LOCALTLS (the same on 127.0.0.1, only when the advertised name is
    not an address: the admin identity uses it), REPLICATION (inter-broker) and CONTROLLER (both trust
    `cluster_ca` and use the broker's own certificate, as Strimzi's internal listeners do). `StandardAuthorizer`, `allow.everyone.if.no.acl.found=false`, super users: the broker
    itself and the admin identity. The principal is the certificate's subject DN (Kafka's default mapping), so a
    Strimzi-style certificate with subject `CN=<name>` authenticates as `User:CN=<name>`.

    `listen_address` (a loopback address, default 127.0.0.1) is where CLIENTTLS listens and what `hosts_entries`
    map the advertised name to: two brokers can then both serve a rendered `...svc:9093` at once (e.g. one with
    the old and one with the new cluster CA during a rotation), each reached through its own hosts entry.

    Use as a context manager; `stop()` runs on every exit path (and at interpreter exit as a last resort).
    """

    def __init__(
        self,
        cluster_ca: CertificateAuthority,
        clients_ca: CertificateAuthority | None = None,
        *,
        admin_name: str = DEFAULT_ADMIN_NAME,
        broker_name: str = "bridgedapp-testbed-kafka",
        dns_names: Sequence[str] = (),
        advertised_host: str = "127.0.0.1",
        tls_port: int | None = None,
        listen_address: str = "127.0.0.1",
        extra_config: Mapping[str, str] | None = None,
        extra_trusted_client_cas: Sequence[CertificateAuthority] = (),
        extra_super_users: Sequence[str] = (),
        version: str = KAFKA_VERSION,
        workdir: Path | None = None,
        startup_timeout: float = 120.0,
        progress: bool = True,
    ) -> None:
        self.cluster_ca = cluster_ca
        self.clients_ca = clients_ca or cluster_ca
        self.admin_name = admin_name
        self.broker_name = broker_name
        names = ["localhost", *dns_names, *([] if _is_ip(advertised_host) else [advertised_host])]
        self.dns_names = tuple(dict.fromkeys(names))
        self.advertised_host = advertised_host
        if not (_is_ip(listen_address) and ipaddress.ip_address(listen_address).is_loopback):
            raise ValueError(f"listen_address must be a loopback address, not {listen_address!r}")
        self.listen_address = listen_address
        self.version = version
        self.extra_config = dict(extra_config or {})
        self.extra_trusted_client_cas = tuple(extra_trusted_client_cas)
        self.extra_super_users = tuple(extra_super_users)
        self.startup_timeout = startup_timeout
        self.progress = progress
        self._requested_tls_port = tls_port
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="bridgedapp-kafka-"))
        self.libs: Path | None = None
        self.tls_port = 0
        self.local_port = 0  # a second client listener on 127.0.0.1 when clients use another advertised name
        self.controller_port = 0
        self.replication_port = 0
        self.cluster_id = ""
        self.timings: dict[str, float] = {}  # seconds per start phase: format, listening, ready
        self.admin: ClientIdentity | None = None
        self.broker_principal = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: _AdminSession | None = None
        self._stdout: IO[bytes] | None = None

    # ---- lifecycle

    @property
    def bootstrap(self) -> str:
        """The TLS listener clients use, as `host:port` (the advertised name)."""
        return f"{self.advertised_host}:{self.tls_port}"

    @property
    def local_bootstrap(self) -> str:
        """A TLS listener reachable as 127.0.0.1 from this machine's own namespace (same trust and auth)."""
        return f"127.0.0.1:{self.local_port or self.tls_port}"

    @property
    def replication_bootstrap(self) -> str:
        """The REPLICATION listener (trusts the cluster CA), where Strimzi's entity operators connect, as on
        Strimzi's port 9091: a cluster-CA certificate whose principal is in `extra_super_users` works there."""
        return f"127.0.0.1:{self.replication_port}"

    @property
    def hosts_entries(self) -> dict[str, str]:
        """/etc/hosts entries a client needs for `bootstrap` (e.g. a rendered `*.svc` name -> 127.0.0.1)."""
        return {} if _is_ip(self.advertised_host) else {self.advertised_host: self.listen_address}

    @property
    def log_file(self) -> Path:
        return self.workdir / "logs" / "server.log"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the broker's log (and of its stdout) for error messages."""
        return (
            _tail_file(self.log_file, lines)
            + "\n--- stdout/stderr ---\n"
            + _tail_file(self.workdir / "stdout.log", 15)
        )

    def _ready_message(self) -> str:
        return f"Kafka {self.version} ready at {self.bootstrap} in {self.start_seconds:.1f}s"

    def _announce(self, message: str) -> None:
        _say(self.progress, message)

    def _start(self) -> None:
        """Format the storage, start the broker, wait until an admin call answers; KafkaError otherwise."""
        self.libs = ensure_kafka_libs(self.version, progress=self.progress)
        java = java_binary()
        for sub in ("data", "logs", "tls", "admin"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._write_tls()
        self.tls_port = self._requested_tls_port or _free_port()
        self.controller_port = _free_port()
        self.replication_port = _free_port()
        own_address = _is_ip(self.advertised_host) and self.listen_address == "127.0.0.1"
        self.local_port = 0 if own_address else _free_port()
        for address, port in (
            (self.listen_address, self.tls_port),
            ("127.0.0.1", self.controller_port),
            ("127.0.0.1", self.replication_port),
            ("127.0.0.1", self.local_port or self.tls_port),
        ):
            if _port_open(port, address):
                raise KafkaError(f"port {port} on {address} is already in use")
        properties = self._write_server_properties()
        log4j = self._write_log4j()
        self.cluster_id = _kafka_uuid()
        phase = time.monotonic()
        fmt = subprocess.run(
            [
                java,
                *TOOL_JVM_OPTS,
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                classpath(self.libs),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(properties),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise KafkaError(
                f"formatting the KRaft storage failed (exit {fmt.returncode}):\n{_tail_text(fmt.stdout + fmt.stderr)}"
            )
        self.timings["format"] = time.monotonic() - phase
        self._stdout = (self.workdir / "stdout.log").open("ab")
        self._proc = subprocess.Popen(
            [
                java,
                *BROKER_JVM_OPTS,
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={self.workdir / 'logs'}",
                "-cp",
                classpath(self.libs),
                "kafka.Kafka",
                str(properties),
            ],
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        atexit.register(self.stop)
        self.admin = issue_client_identity(self.clients_ca, self.admin_name, self.cluster_ca.bundle_pem())
        admin_props = self.admin.client_properties(self.local_bootstrap, self.workdir / "admin")
        admin_props["request.timeout.ms"] = "10000"
        admin_props["default.api.timeout.ms"] = "30000"
        self._admin = _AdminSession(
            java,
            self.libs,
            write_properties(self.workdir / "admin" / "admin.properties", admin_props),
            self.workdir / "logs" / "admin.log",
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._admin is not None
        phase = time.monotonic()
        deadline = phase + self.startup_timeout
        while not _port_open(self.tls_port, self.listen_address):
            if self._proc.poll() is not None:
                raise KafkaError(
                    f"the Kafka broker exited with code {self._proc.returncode} while starting:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise KafkaError(
                    f"the Kafka broker did not listen on {self.bootstrap} in {self.startup_timeout:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        self.timings["listening"] = time.monotonic() - phase
        remaining = max(5.0, deadline - time.monotonic())
        try:
            self._admin.call({"op": "wait-ready", "timeoutMs": int(remaining * 1000)}, timeout=remaining + 15)
        except KafkaError as err:
            state = "exited" if self._proc.poll() is not None else "is running but"
            raise KafkaError(
                f"the Kafka broker {state} did not answer the admin identity: {err}\n{self.log_tail()}"
            ) from None
        self.timings["ready"] = time.monotonic() - phase

    def stop(self) -> None:
        """Stop the admin client and the broker (SIGTERM, then SIGKILL after 20 s); remove a private work dir."""
        atexit.unregister(self.stop)
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(20)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(10)
            self._proc = None
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        if self._own_workdir and os.environ.get("BRIDGEDAPP_KEEP_KAFKA_DIR") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ---- configuration

    def _write_tls(self) -> None:
        tls = self.workdir / "tls"
        server = self.cluster_ca.issue_server(
            self.broker_name,
            dns_names=list(self.dns_names),
            ip_addresses=list(dict.fromkeys(["127.0.0.1", self.listen_address])),
        )
        # Kafka's principal for a certificate is its subject DN in RFC 2253 form (what rfc4514_string gives).
        self.broker_principal = f"User:{server.cert.subject.rfc4514_string()}"
        (tls / "broker-keystore.pem").write_bytes(server.key_pem().rstrip(b"\n") + b"\n" + server.chain_pem())
        (tls / "cluster-ca.crt").write_bytes(self.cluster_ca.bundle_pem())
        # Like Strimzi during a CA renewal, the client listener may trust more than one clients CA.
        trusted = [self.clients_ca, *self.extra_trusted_client_cas]
        (tls / "clients-ca.crt").write_bytes(b"".join(ca.bundle_pem() for ca in trusted))
        for path in tls.iterdir():
            path.chmod(0o600)

    def _write_server_properties(self) -> Path:
        tls = self.workdir / "tls"
        clients_trust = tls / "clients-ca.crt"
        keystore = str(tls / "broker-keystore.pem")
        config: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": ",".join(
                [
                    f"CLIENTTLS://{self.listen_address}:{self.tls_port}",
                    *([f"LOCALTLS://127.0.0.1:{self.local_port}"] if self.local_port else []),
                    f"REPLICATION://127.0.0.1:{self.replication_port}",
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                ]
            ),
            "advertised.listeners": ",".join(
                [
                    f"CLIENTTLS://{self.advertised_host}:{self.tls_port}",
                    *([f"LOCALTLS://127.0.0.1:{self.local_port}"] if self.local_port else []),
                    f"REPLICATION://127.0.0.1:{self.replication_port}",
                ]
            ),
            "listener.security.protocol.map": "CLIENTTLS:SSL,LOCALTLS:SSL,REPLICATION:SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "REPLICATION",
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": ";".join(
                [self.broker_principal, tls_principal(self.admin_name), *self.extra_super_users]
            ),
            # The broker's own settings for its internal listeners (and its controller client).
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": keystore,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls / "cluster-ca.crt"),
            "ssl.client.auth": "required",
        }
        for listener, trust in (
            ("clienttls", clients_trust),
            ("localtls", clients_trust),
            ("replication", tls / "cluster-ca.crt"),
            ("controller", tls / "cluster-ca.crt"),
        ):
            prefix = f"listener.name.{listener}."
            config[prefix + "ssl.keystore.type"] = "PEM"
            config[prefix + "ssl.keystore.location"] = keystore
            config[prefix + "ssl.truststore.type"] = "PEM"
            config[prefix + "ssl.truststore.location"] = str(trust)
            config[prefix + "ssl.client.auth"] = "required"
        config.update(self.extra_config)
        return write_properties(self.workdir / "server.properties", config)

    def _write_log4j(self) -> Path:
        path = self.workdir / "log4j2.properties"
        path.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = File",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.log_file}",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.authorizer.name = kafka.authorizer.logger",
                    "logger.authorizer.level = INFO",
                    "",
                ]
            )
        )
        return path

    # ---- admin helpers (all through the admin identity, a super user)

    def _call(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self._admin is None:
            raise KafkaError("the broker is not running")
        return self._admin.call(request)

    def client_identity(self, name: str, issuer: CertificateAuthority | None = None) -> ClientIdentity:
        """A client identity CN=<name>, signed by the clients CA (or by `issuer`, e.g. a foreign CA)."""
        return issue_client_identity(issuer or self.clients_ca, name, self.cluster_ca.bundle_pem())

    def create_topic(self, name: str, partitions: int = 1, configs: Mapping[str, str] | None = None) -> bool:
        """Create a topic (replication factor 1); False when it already existed."""
        answer = self._call(
            {
                "op": "create-topics",
                "ifNotExists": True,
                "topics": [
                    {
                        "name": name,
                        "partitions": partitions,
                        "replicationFactor": 1,
                        "configs": dict(configs or {}),
                    }
                ],
            }
        )
        return name in answer["created"]

    def list_topics(self) -> list[str]:
        return list(self._call({"op": "list-topics"})["topics"])

    def describe_topic(self, name: str) -> dict[str, Any]:
        """A topic as the Admin API describes it: `name`, `partitions` (count), `replicationFactor` and `configs`
        (only those set on the topic itself, DYNAMIC_TOPIC_CONFIG, as strings)."""
        return self._call({"op": "describe-topic", "name": name})

    def describe_acls(self, principal: str | None = None) -> list[AclBinding]:
        answer = self._call({"op": "describe-acls", "principal": principal})
        return sorted(AclBinding.from_json(b) for b in answer["bindings"])

    def create_acls(self, bindings: Iterable[AclBinding]) -> None:
        items = [b.to_json() for b in bindings]
        if items:
            self._call({"op": "create-acls", "bindings": items})

    def delete_acls(self, bindings: Iterable[AclBinding]) -> int:
        items = [b.to_json() for b in bindings]
        return int(self._call({"op": "delete-acls", "bindings": items})["deleted"]) if items else 0

    def set_user_acls(self, username: str, acls: Iterable[Mapping[str, Any]]) -> list[AclBinding]:
        """Make the ACLs of User:CN=<username> exactly those of a KafkaUser's `spec.authorization.acls`.

        As Strimzi's user operator reconciles them: bindings missing in Kafka are created, bindings of that
        principal that the KafkaUser no longer lists are deleted. Returns the desired bindings.
        """
        desired = acl_bindings_for_user(username, acls)
        current = self.describe_acls(tls_principal(username))
        self.delete_acls(b for b in current if b not in set(desired))
        self.create_acls(b for b in desired if b not in set(current))
        return desired


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _kafka_uuid() -> str:
    """A cluster id as Kafka's `Uuid.randomUuid().toString()` makes them (URL-safe base64, never starting with -)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m testbed.kafka [warm]`: fetch the jars; without `warm`, also start a broker once and time it."""
    args = list(argv if argv is not None else sys.argv[1:])
    libs = ensure_kafka_libs(progress=True)
    print(f"Kafka {KAFKA_VERSION} jars: {libs}")
    if args[:1] == ["warm"]:
        return 0
    with KafkaBroker(
        CertificateAuthority.create("cluster-ca"), CertificateAuthority.create("clients-ca")
    ) as broker:
        print(
            f"broker at {broker.bootstrap} (cluster id {broker.cluster_id}) started in {broker.start_seconds:.1f}s "
            f"{ {k: round(v, 1) for k, v in broker.timings.items()} }"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
