"""A real Apache Kafka broker for the data-path tests: KRaft, mTLS, ACLs.

Nothing here is simulated: the broker is `kafka.Kafka` from `org.apache.kafka:kafka_2.13`, TLS client
authentication and the `StandardAuthorizer` are Kafka's own. What is the test bed's choice: one combined
broker+controller node on loopback, certificates from `testbed.strimzi_sim.ca.CertificateAuthority` (the same CA code
the Strimzi simulator uses), and an admin identity that is a super user, as Strimzi's operators are.
"""

from __future__ import annotations

import atexit
import base64
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from testbed.host import free_port, listening, tail, tail_file
from testbed.kafka.acls import AclBinding, acl_bindings_for_user, tls_principal
from testbed.kafka.admin import AdminSession
from testbed.kafka.identity import ClientIdentity, issue_client_identity, write_properties
from testbed.kafka.jars import (
    KAFKA_VERSION,
    LOG_TAIL_LINES,
    TOOL_JVM_OPTS,
    KafkaError,
    classpath,
    ensure_kafka_libs,
    java_binary,
    say,
)
from testbed.lifecycle import Started, die_with_parent, terminate
from testbed.strimzi_sim.ca import CertificateAuthority

DEFAULT_ADMIN_NAME = "bridgedapp-test-admin"
# The test broker does little work: C1 and the serial collector start it faster on a 2-core machine.
BROKER_JVM_OPTS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


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
        self._admin: AdminSession | None = None
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
            tail_file(self.log_file, lines)
            + "\n--- stdout/stderr ---\n"
            + tail_file(self.workdir / "stdout.log", 15)
        )

    def _ready_message(self) -> str:
        return f"Kafka {self.version} ready at {self.bootstrap} in {self.start_seconds:.1f}s"

    def _announce(self, message: str) -> None:
        say(self.progress, message)

    def _start(self) -> None:
        """Format the storage, start the broker, wait until an admin call answers; KafkaError otherwise."""
        self.libs = ensure_kafka_libs(self.version, progress=self.progress)
        java = java_binary()
        for sub in ("data", "logs", "tls", "admin"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._write_tls()
        self.tls_port = self._requested_tls_port or free_port()
        self.controller_port = free_port()
        self.replication_port = free_port()
        own_address = _is_ip(self.advertised_host) and self.listen_address == "127.0.0.1"
        self.local_port = 0 if own_address else free_port()
        for address, port in (
            (self.listen_address, self.tls_port),
            ("127.0.0.1", self.controller_port),
            ("127.0.0.1", self.replication_port),
            ("127.0.0.1", self.local_port or self.tls_port),
        ):
            if listening(port, address):
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
                f"formatting the KRaft storage failed (exit {fmt.returncode}):\n{tail(fmt.stdout + fmt.stderr, LOG_TAIL_LINES)}"
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
        self._admin = AdminSession(
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
        while not listening(self.tls_port, self.listen_address):
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
            terminate(self._proc, 20)
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
