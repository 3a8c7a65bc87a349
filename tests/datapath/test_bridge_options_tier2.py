"""Tier 2, spec.bridge options with the real Strimzi HTTP Bridge 1.1.x: the operator's builders render the
properties, logging and container env for a spec with metrics (strimziMetricsReporter), tracing
(opentelemetry) and inline loggers; the real bridge runs them against the session broker as the app's own
TLS user. Skips, saying why, where no bridge distribution is given (BRIDGEDAPP_BRIDGE_DIST).

Metrics: the bridge's HTTP API and management port stay on 127.0.0.1; the Strimzi metrics reporter's own
listener (port 9404) is the one socket on all interfaces, and answers from a non-loopback address of this
machine while the API does not (connection refused there)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from bridgedapp.builders import bridge as bridge_builder
from bridgedapp.builders import sidecar
from bridgedapp.builders.user import acls, group_prefix
from bridgedapp.models import BRIDGE_METRICS_PORT, parse_spec

from testbed.bridge.process import RealBridge
from testbed.host import listening_sockets
from testbed.kafka.broker import KafkaBroker
from testbed.kafka.identity import ClientIdentity

APP = "orders"


def outside_address() -> str | None:
    """An address of this machine that is not loopback (the one a route to elsewhere would leave from)."""
    for probe in ("10.255.255.255", "192.0.2.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))  # UDP: no packet is sent
            except OSError:
                continue
            address = s.getsockname()[0]
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
    return None


def metric_names(text: str) -> list[str]:
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
    return sorted(n for n in names if not n.startswith(("jvm_", "process_")))


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def options_bridge(
    broker: KafkaBroker,
    make_identity: Callable[..., ClientIdentity],
    tls_mounts: Callable[..., Any],
    start_bridge: Callable[..., RealBridge],
) -> tuple[RealBridge, str, dict[str, str]]:
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    assert broker.create_topic(topic, partitions=1)
    spec = parse_spec(
        {
            "deploymentName": "orders-api",
            "topics": [{"name": topic}],
            "bridge": {
                "metricsConfig": {"type": "strimziMetricsReporter"},
                "http": {
                    "cors": {"allowedOrigins": ["https://shop\\.example"], "allowedMethods": ["GET", "POST"]}
                },
                "tracing": {
                    "type": "opentelemetry",
                    "env": {
                        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                        "OTEL_METRICS_EXPORTER": "none",
                    },
                },
                "logging": {
                    "type": "inline",
                    "loggers": {
                        "logger.tracing.name": "io.strimzi.kafka.bridge.tracing",
                        "logger.tracing.level": "INFO",
                    },
                },
            },
        }
    )
    identity = make_identity(f"shop.{APP}-{uuid.uuid4().hex[:6]}")
    broker.set_user_acls(
        identity.name, acls(spec, group=group_prefix(spec, app_namespace="shop", app_name=APP))
    )
    properties = bridge_builder.build_properties(spec, bridge_id=APP, bootstrap=broker.bootstrap)
    logging = bridge_builder.build_logging(spec)
    assert logging is not None
    mounts = tls_mounts(identity, mount_path=bridge_builder.CREDENTIALS_MOUNT_PATH)
    mounts[bridge_builder.CONFIG_MOUNT_PATH] = {"log4j2.properties": logging.encode()}
    container = sidecar.build_bridge_container(spec, native=True, app_name=APP)
    env = {e["name"]: e["value"] for e in container["env"] if e["name"].startswith("OTEL_")}
    return start_bridge(properties, mounts, env=env), topic, env


def test_metrics_answer_from_outside_loopback_while_the_api_does_not(
    options_bridge: tuple[RealBridge, str, dict[str, str]],
) -> None:
    """A consumer instance keeps its Kafka consumer (and so the reporter's listener) alive; the bridge closes
    an HTTP producer's Kafka producer with its connection, so producer metrics come and go with requests."""
    bridge, topic, _ = options_bridge
    status, body = bridge.produce(topic, ["one"])
    assert status == 200 and "error_code" not in body["offsets"][0], body
    group = f"shop.{APP}-metrics"  # inside the default prefix <namespace>.<name> the fixture's ACL grants
    assert bridge.create_consumer(group, "c1", {"auto.offset.reset": "earliest"})[0] == 200
    assert bridge.subscribe(group, "c1", [topic])[0] == 204
    for _ in range(10):  # the first polls only join the group
        status, records = bridge.poll(group, "c1", timeout_ms=2000)
        assert status == 200, records
        if records:
            break

    assert bridge.pid is not None
    listening = listening_sockets(bridge.pid)
    wildcard = {address for address, port in listening if port == BRIDGE_METRICS_PORT}
    assert wildcard and wildcard <= {"0.0.0.0", "::"}, listening
    others = {(address, port) for address, port in listening if port != BRIDGE_METRICS_PORT}
    assert others == {("127.0.0.1", bridge.port), ("127.0.0.1", bridge.management_port)}, listening

    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    status, text = get(f"http://{address}:{BRIDGE_METRICS_PORT}/metrics")
    assert status == 200
    assert "kafka_consumer_consumer_metrics_" in text, metric_names(text)
    with pytest.raises(OSError):  # ConnectionRefused: the API is not there
        socket.create_connection((address, bridge.port), timeout=5).close()
    with pytest.raises(OSError):
        socket.create_connection((address, bridge.management_port), timeout=5).close()

    # on loopback, the management port's /metrics adds the bridge's own HTTP and JVM metrics
    status, text = get(f"{bridge.management_url}/metrics")
    assert status == 200
    assert "strimzi_bridge_http_server_requests_total" in text, metric_names(text)
    assert "kafka_consumer_consumer_metrics_" in text
    assert bridge.delete_consumer(group, "c1")[0] == 204


def test_tracing_is_initialised_with_the_apps_service_name(
    options_bridge: tuple[RealBridge, str, dict[str, str]],
) -> None:
    bridge, _, env = options_bridge
    assert env["OTEL_SERVICE_NAME"] == APP
    log = bridge.log_path.read_text(errors="replace")
    assert f"Initializing OpenTelemetry tracing config with service name {APP}" in log, bridge.log_tail()


def preflight(bridge: RealBridge, origin: str) -> dict[str, str]:
    request = urllib.request.Request(
        f"{bridge.url}/topics",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as err:
        return {k.lower(): v for k, v in err.headers.items()}


def test_cors_admits_only_the_allowed_origin(options_bridge: tuple[RealBridge, str, dict[str, str]]) -> None:
    """http.cors as rendered: a preflight from the allowed origin is answered with it, another origin is not."""
    bridge, _, _ = options_bridge
    allowed = preflight(bridge, "https://shop.example")
    assert allowed.get("access-control-allow-origin") == "https://shop.example", allowed
    assert "POST" in allowed.get("access-control-allow-methods", ""), allowed
    assert "access-control-allow-origin" not in preflight(bridge, "https://evil.example")
