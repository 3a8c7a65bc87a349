"""Tier 2, running it: the real bridge (`bin/kafka_bridge_run.sh --config-file=...`) started as its image starts it,
in the mount layout of `testbed.bridge.mounts`, and stopped on every exit path.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from testbed.bridge.dist import dist_version, find_bridge_java
from testbed.bridge.errors import BridgeError, redacted_tail, say
from testbed.bridge.mounts import Layout, Mounts, choose_layout, lay_out_rewritten, stage_mounts, stage_parent
from testbed.bridge.pod import STRIMZI_HOME
from testbed.host import port_free
from testbed.lifecycle import Started, die_with_parent, terminate


def read_properties(text: str) -> dict[str, str]:
    """Enough of java.util.Properties to read host/ports (no continuation lines in what we read)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return values


class RealBridge(Started):
    """The real Strimzi HTTP Bridge (tier 2), started as its image starts it and stopped on every exit path.

    Runs `<STRIMZI_HOME>/bin/kafka_bridge_run.sh --config-file=<copy of the rendered properties>` on Java 21+ in a
    private mount namespace where the distribution sits at STRIMZI_HOME (/opt/strimzi: bin/, libs/, config/) and
    the container's volumes at their mount paths. Logging uses the rendered log4j2.properties when the mounts
    hold one at `<STRIMZI_HOME>/custom-config/`, as the image's docker script does.
    """

    def __init__(
        self,
        dist: Path,
        properties_text: str,
        mounts: Mounts,
        *,
        env: Mapping[str, str] | None = None,
        hosts: Mapping[str, str] | None = None,
        java_home: Path | None = None,
        strimzi_home: str = STRIMZI_HOME,
        startup_timeout: float = 90.0,
        layout: Layout = "auto",
    ) -> None:
        self.dist = dist
        self.properties_text = properties_text
        self.mounts = {k.rstrip("/"): dict(v) for k, v in mounts.items()}
        self.env = dict(env or {})
        self.hosts = dict(hosts or {})
        self.java_home = java_home
        self.strimzi_home = strimzi_home
        self.startup_timeout = startup_timeout
        self.layout: Layout = layout
        self.notes: list[str] = []
        props = read_properties(properties_text)
        host = props.get("http.host", "0.0.0.0")
        self.host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.port = int(props.get("http.port", "8080"))
        self.management_port = int(props.get("http.management.port", "8081"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._stage: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    @property
    def log_path(self) -> Path:
        assert self._stage is not None
        return self._stage / "bridge.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return redacted_tail(self.log_path.read_text(errors="replace"), lines)
        except (OSError, AssertionError):
            return "(no log)"

    def _ready_message(self) -> str:
        return f"Strimzi HTTP Bridge ({dist_version(self.dist)}) ready at {self.url} in {self.start_seconds:.1f}s"

    def _announce(self, message: str) -> None:
        say(message)

    def _start(self) -> None:
        java_home = self.java_home
        if java_home is None:
            java_home, why = find_bridge_java()
            if java_home is None:
                raise BridgeError(why)
        for port in (self.port, self.management_port):
            if not port_free(port):
                raise BridgeError(
                    f"port {port} (from the rendered properties) is already in use on this machine"
                )
        chosen, note = choose_layout(self.layout)
        self.layout = chosen
        if note:
            self.notes.append(note)
        self._stage = Path(tempfile.mkdtemp(prefix="bridgedapp-bridge-", dir=stage_parent()))
        self._log = self.log_path.open("ab")
        config = self._stage / "kafka-bridge.properties"
        custom_log4j = f"{self.strimzi_home}/custom-config/log4j2.properties"
        has_log4j = "log4j2.properties" in self.mounts.get(f"{self.strimzi_home}/custom-config", {})
        child_env = {
            **os.environ,
            **self.env,
            "JAVA_HOME": str(java_home),
            "PATH": f"{java_home}/bin:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "STRIMZI_HOME": self.strimzi_home,
        }
        if chosen == "namespace":
            config.write_text(self.properties_text)
            plan = stage_mounts(self.mounts, self._stage)
            for sub in ("bin", "libs", "config"):
                plan.binds[f"{self.strimzi_home}/{sub}"] = self.dist / sub
            plan.hosts.update(self.hosts)
            plan.keep.append(java_home)
            if has_log4j:
                child_env["KAFKA_BRIDGE_LOG4J_OPTS"] = f"-Dlog4j2.configurationFile=file:{custom_log4j}"
            argv = plan.argv([f"{self.strimzi_home}/bin/kafka_bridge_run.sh", f"--config-file={config}"])
        else:
            root = self._stage / "root"
            config.write_text(lay_out_rewritten(self.properties_text, self.mounts, root))
            if has_log4j:
                child_env["KAFKA_BRIDGE_LOG4J_OPTS"] = f"-Dlog4j2.configurationFile=file:{root}{custom_log4j}"
            argv = [str(self.dist / "bin" / "kafka_bridge_run.sh"), f"--config-file={config}"]
        self._proc = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env,
            preexec_fn=die_with_parent,
        )
        atexit.register(self.stop)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        last = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BridgeError(
                    f"the bridge exited with code {self._proc.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.management_url + "/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise BridgeError(
            f"the bridge was not ready at {self.management_url}/ready in {self.startup_timeout:.0f}s ({last}):\n"
            f"{self.log_tail()}"
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exec_probe(self, probe: Mapping[str, Any], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run a container probe against this bridge: `exec` inside its mount namespace (nsenter), or
        `httpGet` from this machine. The return code is the probe's verdict (0 = success)."""
        if "exec" in probe:
            if not self.running:
                raise BridgeError("the bridge is not running")
            cmd = list(probe["exec"]["command"])
            if self.layout != "rewrite" and shutil.which("nsenter"):
                cmd = ["nsenter", "-t", str(self.pid), "-m", "--", *cmd]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = get.get("port", self.management_port)
            url = f"http://{self.host}:{port}{get.get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    code = 0 if 200 <= resp.status < 400 else 1
                    return subprocess.CompletedProcess([url], code, f"HTTP {resp.status}", "")
            except (urllib.error.URLError, OSError) as exc:
                return subprocess.CompletedProcess([url], 1, "", str(exc))
        raise BridgeError(f"unsupported probe {sorted(probe)}")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/vnd.kafka.v2+json",
        accept: str = "application/vnd.kafka.v2+json",
    ) -> tuple[int, Any]:
        """One HTTP call to the bridge's API port; returns (status, parsed JSON body or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text

    # The calls an app makes (the bridge's OpenAPI, v2 content types); each returns (HTTP status, body).

    def produce(self, topic: str, values: Sequence[Any]) -> tuple[int, Any]:
        """POST /topics/<topic> with JSON values; a denied record comes back as HTTP 200 with an error_code."""
        records = {"records": [{"value": v} for v in values]}
        return self.request("POST", f"/topics/{topic}", records, "application/vnd.kafka.json.v2+json")

    def create_consumer(
        self, group: str, name: str, config: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST /consumers/<group> (JSON format); `config` as an app sends it (e.g. auto.offset.reset)."""
        return self.request("POST", f"/consumers/{group}", {"name": name, "format": "json", **(config or {})})

    def subscribe(self, group: str, name: str, topics: Sequence[str]) -> tuple[int, Any]:
        return self.request(
            "POST", f"/consumers/{group}/instances/{name}/subscription", {"topics": list(topics)}
        )

    def poll(self, group: str, name: str, timeout_ms: int = 3000) -> tuple[int, Any]:
        """GET .../records: a list of records, or an error body (e.g. the group's authorization failure)."""
        path = f"/consumers/{group}/instances/{name}/records?timeout={timeout_ms}"
        return self.request("GET", path, accept="application/vnd.kafka.json.v2+json")

    def delete_consumer(self, group: str, name: str) -> tuple[int, Any]:
        return self.request("DELETE", f"/consumers/{group}/instances/{name}")

    def stop(self) -> None:
        """SIGTERM the bridge (the JVM the launch script exec'd into), SIGKILL after 15 s; remove the staging."""
        atexit.unregister(self.stop)
        if self._proc is not None:
            terminate(self._proc, 15)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._stage is not None and os.environ.get("BRIDGEDAPP_KEEP_BRIDGE_DIR") != "1":
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
