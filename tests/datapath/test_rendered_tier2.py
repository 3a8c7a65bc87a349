"""Tier 2 of the data path on the operator's own output: the real Strimzi HTTP Bridge 1.1.x, started with the
ConfigMap's properties text unchanged, the injected container's mounts (at their paths, in a private mount
namespace) and env, against a real Kafka broker serving the rendered bootstrap address; the app's view over HTTP on
loopback. Skipped, with the precise reason, where no bridge distribution can be had (BRIDGEDAPP_BRIDGE_DIST).

What is not the image's: the container's entrypoint (`bin/docker/kafka_bridge_run.sh`, which needs tini and
cgroup memory limits) is not run; the bridge is started the way that script ends up starting it,
`bin/kafka_bridge_run.sh --config-file=<a copy of the rendered properties>` with the mounted log4j2.properties.
"""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from testbed.bridge.process import RealBridge
from testbed.host import listening_sockets
from testbed.kafka.broker import KafkaBroker
from tests.datapath.rendered import RenderedApp

NOT_AUTHORIZED = "Not authorized to access topics"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def token() -> str:
    return uuid.uuid4().hex[:8]


def poll_values(bridge: RealBridge, group: str, name: str, want: int, attempts: int = 20) -> list[Any]:
    """GET .../records until `want` values came back (the first polls only join the group)."""
    values: list[Any] = []
    for _ in range(attempts):
        status, records = bridge.poll(group, name, timeout_ms=2000)
        assert status == 200, records
        values += [r["value"] for r in records]
        if len(values) >= want:
            break
    return values


def test_produce_then_consume_over_http(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_bridge: RealBridge
) -> None:
    """POST /topics/<ReadWrite topic>, then a consumer in the allowed group, subscribed: GET .../records returns
    the same values, same count, in order (the only writer of that topic on this module's broker)."""
    bridge = rendered_bridge
    topic = rendered.topic("ReadWrite")
    values = [{"order": i, "run": token()} for i in range(3)]
    status, body = bridge.produce(topic, values)
    assert status == 200, body
    assert body["offsets"] == [{"partition": 0, "offset": i} for i in range(3)], body

    group, name = f"{rendered.group_prefix}-{token()}", "c1"
    status, created = bridge.create_consumer(group, name, {"auto.offset.reset": "earliest"})
    assert status == 200 and created["instance_id"] == name, created
    assert bridge.subscribe(group, name, [topic])[0] == 204
    assert poll_values(bridge, group, name, len(values)) == values
    assert bridge.delete_consumer(group, name)[0] == 204


@pytest.mark.parametrize("which", ["read-only topic", "topic without ACL"])
def test_what_the_app_sees_when_a_write_is_denied(
    which: str, rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_bridge: RealBridge
) -> None:
    """The bridge answers HTTP 200 and reports Kafka's refusal per record: error_code 500 and Kafka's
    TopicAuthorizationException message naming the topic (no offset)."""
    if which == "read-only topic":
        topic = rendered.topic("Read")
    else:
        topic = f"refunds-{rendered.cluster}"
        rendered_broker.create_topic(topic)
    bridge = rendered_bridge
    status, body = bridge.produce(topic, ["nope"])
    assert status == 200, body
    assert body == {"offsets": [{"error_code": 500, "message": f"{NOT_AUTHORIZED}: [{topic}]"}]}, body


def test_what_the_app_sees_when_its_group_is_denied(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_bridge: RealBridge
) -> None:
    """A consumer in a group outside the prefix is created and subscribed (nothing reaches Kafka yet); its first
    poll fails with HTTP 500 and Kafka's GroupAuthorizationException."""
    bridge = rendered_bridge
    group = f"not-{rendered.group_prefix}"
    assert bridge.create_consumer(group, "c1", {"auto.offset.reset": "earliest"})[0] == 200
    assert bridge.subscribe(group, "c1", [rendered.topic("ReadWrite")])[0] == 204
    status, body = bridge.poll(group, "c1")
    assert status == 500, body
    assert body["error_code"] == 500 and "GroupAuthorizationException" in body["message"], body
    assert group in body["message"], body
    assert bridge.delete_consumer(group, "c1")[0] == 204


def test_management_endpoints_answer_and_nothing_listens_beyond_loopback(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_bridge: RealBridge
) -> None:
    """/ready and /healthy answer 200 on the management port on 127.0.0.1; the bridge's JVM listens exactly on
    the two ports the container declares, on loopback only (from its own sockets in /proc, not a port scan)."""
    bridge = rendered_bridge
    for path in ("/ready", "/healthy"):
        with urllib.request.urlopen(f"http://127.0.0.1:{bridge.management_port}{path}", timeout=10) as resp:
            assert resp.status == 200, path

    assert bridge.pid is not None
    cmdline = Path(f"/proc/{bridge.pid}/cmdline").read_bytes().split(b"\0")
    assert b"io.strimzi.kafka.bridge.Application" in cmdline  # the pid is the bridge's JVM itself
    listening = listening_sockets(bridge.pid)
    declared = {p["containerPort"] for p in rendered.container["ports"]}
    assert {port for _, port in listening} == declared == {bridge.port, bridge.management_port}, listening
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening


def test_injected_probes_succeed_while_running_and_fail_once_stopped(
    rendered: RenderedApp, rendered_broker: KafkaBroker, rendered_bridge: RealBridge
) -> None:
    """The startup, readiness and liveness probes exactly as the operator wrote them (exec commands), run inside
    the bridge's mount namespace, pass against the running bridge; once it is stopped, each fails."""
    bridge = rendered_bridge
    probes: dict[str, dict[str, Any]] = {name: rendered.container[name] for name in PROBES}
    assert all("exec" in probe for probe in probes.values()), probes
    for name, probe in probes.items():
        done = bridge.exec_probe(probe)
        assert done.returncode == 0, (name, done.stdout, done.stderr)

    bridge.stop()
    for name, probe in probes.items():
        # No mount namespace to enter any more; the probes use only bash and the (shared) network.
        done = subprocess.run(
            probe["exec"]["command"], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode != 0, (name, done.stdout, done.stderr)
