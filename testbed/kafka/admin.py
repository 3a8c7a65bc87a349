"""The broker's admin client: one long-lived TestbedKafkaAdmin JVM (Kafka's Admin API), spoken to in JSON lines."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from testbed.host import tail_file
from testbed.kafka.jars import CLIENT_LOG4J, JAVA_DIR, LOG_TAIL_LINES, KafkaError, java_program_command
from testbed.lifecycle import die_with_parent

ADMIN_PROGRAM = JAVA_DIR / "TestbedKafkaAdmin.java"


class AdminSession:
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
                    f"the admin client process exited ({self._proc.returncode}):\n{tail_file(self._log, LOG_TAIL_LINES)}"
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
                    f"admin call {request.get('op')} got no answer in {timeout:.0f}s:\n{tail_file(self._log, LOG_TAIL_LINES)}"
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
