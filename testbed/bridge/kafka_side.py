"""Tier 1: testbed/java/BridgeKafkaSide.java, a TEST DOUBLE for the bridge's HTTP layer only; its Kafka side is the
real `kafka-clients`, configured from the rendered properties exactly as the bridge 1.1.0 splits them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.bridge.errors import BridgeError, redacted_tail
from testbed.bridge.mounts import Layout, Mounts, choose_layout, lay_out_rewritten, stage_mounts, stage_parent
from testbed.kafka.jars import CLIENT_LOG4J, JAVA_DIR, ensure_kafka_libs, java_program_command
from testbed.lifecycle import die_with_parent

KAFKA_SIDE_PROGRAM = JAVA_DIR / "BridgeKafkaSide.java"


@dataclass(repr=False)
class KafkaSideResult:
    """What BridgeKafkaSide printed (its JSON answer), how it exited, and how it was laid out."""

    exit_code: int
    answer: dict[str, Any]
    stderr: str
    layout: str
    notes: list[str]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.answer.get("ok"))

    @property
    def error_class(self) -> str | None:
        error = self.answer.get("error") or {}
        return error.get("class")

    @property
    def error_message(self) -> str | None:
        error = self.answer.get("error") or {}
        return error.get("message")

    def __str__(self) -> str:
        return f"exit {self.exit_code} ({self.layout}): {json.dumps(self.answer)}\n{redacted_tail(self.stderr, 15)}"

    __repr__ = __str__


def run_bridge_kafka_side(
    properties_text: str,
    mounts: Mounts,
    op: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    hosts: Mapping[str, str] | None = None,
    libs: Path | None = None,
    layout: Layout = "auto",
    timeout: float = 180.0,
) -> KafkaSideResult:
    """Run one operation of the bridge's Kafka side (tier 1) against rendered inputs.

    `properties_text` is the rendered application.properties (the bridge's docker script also reads a copy of it);
    `mounts` the container's volumes as {mountPath: {file: bytes}} (see `mounts_from_pod`), laid out at exactly
    those paths; `env` the container's environment (the bridge lets it override properties, and Kafka's
    EnvVarConfigProvider reads it); `hosts` extra /etc/hosts entries inside the namespace (e.g. the rendered
    bootstrap host -> 127.0.0.1). `op`: ["config"], ["produce", topic, *values],
    ["consume", topic, group, count, timeout_ms, *("key=value")], ["list-topics"].
    """
    libs = libs or ensure_kafka_libs(progress=True)
    chosen, note = choose_layout(layout)
    notes = [note] if note else []
    with tempfile.TemporaryDirectory(prefix="bridgedapp-kafka-side-", dir=stage_parent()) as tmp:
        stage = Path(tmp)
        text = properties_text
        if chosen == "rewrite":
            text = lay_out_rewritten(text, mounts, stage / "root")
        config = stage / "kafka-bridge.properties"
        config.write_text(text)
        java_cmd = [
            *java_program_command(
                KAFKA_SIDE_PROGRAM, libs, None, f"-Dlog4j2.configurationFile={CLIENT_LOG4J}"
            ),
            f"--config-file={config}",
            *[str(a) for a in op],
        ]
        if chosen == "namespace":
            plan = stage_mounts(mounts, stage)
            plan.hosts.update(hosts or {})
            plan.keep += _host_paths(java_cmd)
            argv = plan.argv(java_cmd)
        else:
            if hosts:
                notes.append(f"hosts entries {dict(hosts)} cannot be applied without a mount namespace")
            argv = java_cmd
        child_env = {**os.environ, **(env or {})}
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=child_env,
                timeout=timeout,
                check=False,
                preexec_fn=die_with_parent,
            )
        except subprocess.TimeoutExpired as exc:
            raise BridgeError(
                f"BridgeKafkaSide {' '.join(map(str, op))} did not finish in {timeout:.0f}s"
            ) from exc
    answer: dict[str, Any] = {}
    last_line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    try:
        answer = json.loads(last_line) if last_line else {}
    except json.JSONDecodeError:
        answer = {}
    if not answer:
        raise BridgeError(
            f"BridgeKafkaSide printed no JSON answer (exit {done.returncode}):\n"
            f"{redacted_tail(done.stdout, 10)}\n{redacted_tail(done.stderr)}"
        )
    notes += answer.get("notes", [])
    return KafkaSideResult(done.returncode, answer, done.stderr, chosen, notes)


def _host_paths(java_cmd: Sequence[str]) -> list[Path]:
    """Host paths a Java command reads: its JDK, class path entries, and absolute -D values."""
    paths = [Path(java_cmd[0]).resolve().parent.parent]
    for i, arg in enumerate(java_cmd):
        if i > 0 and java_cmd[i - 1] in ("-cp", "-classpath"):
            paths += [Path(p.removesuffix("/*")) for p in arg.split(os.pathsep) if p.startswith("/")]
        elif arg.startswith("-D") and "=/" in arg:
            paths.append(Path(arg.split("=", 1)[1]).parent)
    return paths
