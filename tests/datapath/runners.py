"""Tier 1 runners: the bridge's Kafka side (testbed.bridge.kafka_side) bound to a broker and the cached jars, on
hand-written inputs (`KafkaSide`) or on what the operator rendered (`RenderedKafkaSide`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from testbed.bridge.kafka_side import KafkaSideResult, run_bridge_kafka_side
from testbed.bridge.mounts import Mounts
from testbed.kafka.broker import KafkaBroker
from tests.datapath.rendered import RenderedApp


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
