"""The Strimzi HTTP Bridge in the data-path tests, in two tiers (see docs: testbed.md, "The bridge").

Tier 1, always: `run_bridge_kafka_side` runs testbed/java/BridgeKafkaSide.java, a TEST DOUBLE for the bridge's HTTP
layer only; its Kafka side is the real `kafka-clients`, configured from the rendered properties exactly as the
bridge 1.1.0 splits them. Tier 2, where a distribution can be had: `RealBridge` runs the real bridge
(`bin/kafka_bridge_run.sh --config-file=...`) on Java 21 or newer; `find_bridge_dist` says precisely what is
missing when it cannot.

Both run in a private mount namespace (`unshare -m`, tmpfs, bind mounts) in which the rendered files sit at exactly
the paths the container spec mounts them at (e.g. /opt/strimzi/...), laid out the way the kubelet lays out
ConfigMap and Secret volumes (`..data` symlinks). Nothing on the host changes. Where a mount namespace cannot be
made (not root, no `unshare`), the files go to a private folder instead and every mount-path prefix in the
properties is rewritten to it; the result then says so in `notes`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from testbed.kafka import JAVA_DIR, cache_dir, ensure_kafka_libs, java_program_command
from testbed.lifecycle import Started, die_with_parent

KAFKA_SIDE_PROGRAM = JAVA_DIR / "BridgeKafkaSide.java"
KAFKA_SIDE_LOG4J = JAVA_DIR / "log4j2-stderr.properties"
BRIDGE_VERSION = "1.1.0"
BRIDGE_RELEASE_URL = (
    "https://github.com/strimzi/strimzi-kafka-bridge/releases/download/{v}/kafka-bridge-{v}.tar.gz"
)
STRIMZI_HOME = "/opt/strimzi"
DOCKER_RUN_SCRIPT = "bin/docker/kafka_bridge_run.sh"
MIN_BRIDGE_JAVA = 21
# Top-level folders a mount path may sit under when it does not exist on the host: the namespace hides them
# behind a tmpfs holding only the mounts. Anything else must already exist as a folder on the host.
OVERLAY_ROOTS = ("/opt", "/tmp", "/mnt", "/srv", "/media", "/var/run/secrets", "/run/secrets")

# {mountPath: {file name: content}}; an empty mapping is an empty writable folder (an emptyDir).
Mounts = Mapping[str, Mapping[str, bytes]]
Layout = Literal["auto", "namespace", "rewrite"]


class BridgeError(RuntimeError):
    """The bridge (or its stand-in) could not be laid out or started; the message says what and why."""


def _say(message: str) -> None:
    print(f"[testbed.bridge] {message}", file=sys.stderr, flush=True)


_PEM_SECRET = re.compile(r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL)
_PASSWORD = re.compile(
    r"((?:password|secret|token)[\w.-]*\s*[=:]\s*)(?!\[hidden\]|\$\{)[^\s,}]+", re.IGNORECASE
)


def _redact(text: str) -> str:
    """Logs and error output may echo configuration: never let a private key or password through."""
    return _PASSWORD.sub(r"\1[hidden]", _PEM_SECRET.sub("[private key hidden]", text))


def _tail(text: str, lines: int = 40) -> str:
    return _redact("\n".join(text.splitlines()[-lines:]))


# --------------------------------------------------------------------------------------------- container spec


def env_from_container(container: Mapping[str, Any]) -> dict[str, str]:
    """The literal `env` values of a container spec; `valueFrom` entries must be resolved by the caller."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif item.get("valueFrom"):
            raise BridgeError(
                f"env {item['name']} uses valueFrom: resolve it and pass it in `env` (the test bed has no kubelet)"
            )
        else:
            env[item["name"]] = ""
    return env


def config_file_path(container: Mapping[str, Any]) -> str:
    """Where the bridge in this container reads its properties: `--config-file=` in command/args, or, for the
    image's docker script, `$STRIMZI_HOME/custom-config/application.properties` (the script copies it to /tmp)."""
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    for i, arg in enumerate(argv):
        if arg.startswith("--config-file="):
            return arg.split("=", 1)[1]
        if arg == "--config-file" and i + 1 < len(argv):
            return argv[i + 1]
    joined = " ".join(argv)
    if not argv or DOCKER_RUN_SCRIPT in joined:
        home = (
            env_from_container(container).get("STRIMZI_HOME", STRIMZI_HOME)
            if container.get("env")
            else STRIMZI_HOME
        )
        return f"{home}/custom-config/application.properties"
    raise BridgeError(f"cannot tell where the bridge reads its properties from command/args {argv!r}")


def mounts_from_pod(
    container: Mapping[str, Any],
    volumes: Sequence[Mapping[str, Any]],
    configmaps: Mapping[str, Mapping[str, str | bytes]],
    secrets: Mapping[str, Mapping[str, str | bytes]],
) -> dict[str, dict[str, bytes]]:
    """{mountPath: {file: bytes}} for a container's volumeMounts, from its pod's volumes and the objects' data.

    `configmaps` / `secrets` map object names to their data (Secret values already base64-decoded). Handles
    configMap / secret volumes (with `items` and `optional`), emptyDir, and `subPath` of a single key.
    """
    by_name = {v["name"]: v for v in volumes}
    mounts: dict[str, dict[str, bytes]] = {}
    for vm in container.get("volumeMounts") or []:
        volume = by_name.get(vm["name"])
        if volume is None:
            raise BridgeError(f"volumeMount {vm['name']!r} names no volume of the pod")
        files: dict[str, bytes]
        if "emptyDir" in volume:
            files = {}
        elif "configMap" in volume or "secret" in volume:
            kind = "configMap" if "configMap" in volume else "secret"
            src = volume[kind]
            obj_name = src.get("name") if kind == "configMap" else src.get("secretName")
            store = configmaps if kind == "configMap" else secrets
            data = store.get(obj_name) if obj_name else None
            if data is None:
                if src.get("optional"):
                    data = {}
                else:
                    raise BridgeError(f"volume {vm['name']!r}: {kind} {obj_name!r} was not given")
            data_b = {k: v.encode() if isinstance(v, str) else bytes(v) for k, v in data.items()}
            if src.get("items"):
                files = {}
                for item in src["items"]:
                    if item["key"] not in data_b:
                        raise BridgeError(
                            f"volume {vm['name']!r}: key {item['key']!r} not in {kind} {obj_name}"
                        )
                    files[item["path"]] = data_b[item["key"]]
            else:
                files = data_b
        else:
            raise BridgeError(
                f"volume {vm['name']!r}: only configMap, secret and emptyDir volumes are laid out"
            )
        path = vm["mountPath"].rstrip("/") or "/"
        if vm.get("subPath"):
            # a single file mounted at `path`: lay it out in the parent folder
            parent, fname = path.rsplit("/", 1)
            mounts.setdefault(parent or "/", {})[fname] = files[vm["subPath"]]
        else:
            mounts[path] = files
    return mounts


# --------------------------------------------------------------------------------------------- mount namespace


def namespace_support() -> tuple[bool, str]:
    """Whether a private mount namespace can be made here, and if not, why."""
    if os.geteuid() != 0:
        return False, "not root (a private mount namespace with tmpfs and bind mounts needs CAP_SYS_ADMIN)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "no `unshare` on PATH (util-linux)"
    probe = subprocess.run(
        [unshare, "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return False, f"`unshare -m` failed: {probe.stderr.strip()}"
    return True, ""


def _kubelet_dir(target: Path, files: Mapping[str, bytes], mode: int) -> None:
    """Write a volume the way the kubelet's atomic writer does: ..<timestamp>/ files, ..data -> it, and one
    symlink per key through ..data (so Kafka's DirectoryConfigProvider sees what it sees in a pod)."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = ".." + datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S.%f")
    real = target / stamp
    real.mkdir()
    for name, content in files.items():
        path = real / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    (target / "..data").symlink_to(stamp)
    for name in {n.split("/", 1)[0] for n in files}:
        (target / name).symlink_to(f"..data/{name}")


def _overlay_root(path: str) -> str | None:
    for root in sorted(OVERLAY_ROOTS, key=len, reverse=True):
        if path == root or path.startswith(root + "/"):
            return root
    return None


@dataclass
class MountPlan:
    """Staged files and the shell script that lays them out at their mount paths inside `unshare -m`."""

    stage: Path
    # mountPath -> staged folder (read-only, like ConfigMap and Secret volumes); None: an empty tmpfs (emptyDir)
    mounts: dict[str, Path | None] = field(default_factory=dict)
    # mountPath -> host folder bound read-only there (e.g. the bridge distribution's bin/ and libs/)
    binds: dict[str, Path] = field(default_factory=dict)
    # host paths the command itself needs (JDK, jars, staging); kept visible where a tmpfs would hide them
    keep: list[Path] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # extra /etc/hosts entries: name -> address

    def script(self) -> str:
        """POSIX sh: bind what lies outside the overlay roots, build each overlay root (/opt, /tmp, ...) as a
        tmpfs holding its mounts, move it into place, then exec "$@". Every source is bound before any tmpfs
        hides it, so staging and JDK may live anywhere."""
        hold = self.stage / "hold"
        hold.mkdir(exist_ok=True)
        q = shlex.quote
        lines = ["set -e", f"mount -t tmpfs -o mode=0755 tmpfs {q(str(hold))}"]
        targets: dict[str, Path | None] = {**self.binds, **self.mounts}
        roots: dict[str, str] = {}
        for path in sorted(targets, key=lambda p: (p.count("/"), p)):
            root = _overlay_root(path)
            if root is not None and root not in roots:
                roots[root] = str(hold / f"r{len(roots)}")
        for kept in self.keep:
            path = str(kept.resolve())
            root = _overlay_root(path)
            if root in roots and path != root and path not in targets:
                targets[path] = Path(path)
        if self.hosts:
            hosts_file = self.stage / "hosts"
            base = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else "127.0.0.1 localhost\n"
            extra = "".join(f"{addr} {name}\n" for name, addr in self.hosts.items())
            hosts_file.write_text(base.rstrip("\n") + "\n# bridgedapp test bed\n" + extra)
            lines.append(f"mount --bind {q(str(hosts_file))} /etc/hosts")
        for root, held in roots.items():
            mode = "1777" if root in self.mounts and self.mounts[root] is None else "0755"  # an emptyDir /tmp
            lines += [f"mkdir -p {q(held)}", f"mount -t tmpfs -o mode={mode} tmpfs {q(held)}"]
        for path in sorted(targets, key=lambda p: (p.count("/"), p)):
            src = targets[path]
            root = _overlay_root(path)
            if root is None:
                if not Path(path).is_dir():
                    raise BridgeError(
                        f"mount path {path} does not exist on this machine and is not under {OVERLAY_ROOTS}"
                    )
                where = path
            else:
                where = roots[root] + path[len(root) :]
                if where != roots[root]:
                    lines.append(f"mkdir -p {q(where)}")
            if src is None:
                if where != roots.get(root or ""):  # the overlay root's own tmpfs already is an empty dir
                    lines.append(f"mount -t tmpfs -o mode=1777 tmpfs {q(where)}")
                continue
            lines += [f"mount --bind {q(str(src))} {q(where)}", f"mount -o remount,bind,ro {q(where)}"]
        for root, held in roots.items():
            lines += [f"mkdir -p {q(root)} 2>/dev/null || true", f"mount --move {q(held)} {q(root)}"]
        lines.append('exec "$@"')
        return "\n".join(lines) + "\n"

    def argv(self, command: Sequence[str]) -> list[str]:
        """The full command: unshare, the layout script, then `command` in the new mount namespace."""
        unshare = shutil.which("unshare") or "unshare"
        return [
            unshare,
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            self.script(),
            "bridgedapp-mounts",
            *command,
        ]


def stage_mounts(mounts: Mounts, stage: Path, *, mode: int = 0o644) -> MountPlan:
    """Write every mount's files under `stage` (kubelet layout); empty mappings become writable folders."""
    plan = MountPlan(stage=stage, keep=[stage])
    for index, (path, files) in enumerate(sorted(mounts.items())):
        if not path.startswith("/"):
            raise BridgeError(f"mount path {path!r} is not absolute")
        if files:
            target = stage / "volumes" / f"v{index}"
            _kubelet_dir(target, files, mode)
            plan.mounts[path.rstrip("/") or "/"] = target
        else:
            plan.mounts[path.rstrip("/") or "/"] = None
    return plan


def rewrite_mount_paths(text: str, mounts: Mounts, root: Path) -> str:
    """The fallback without namespaces: prefix every overlay root used by a mount path (e.g. /opt) with `root`."""
    roots = sorted({r for p in mounts for r in [_overlay_root(p)] if r}, key=len, reverse=True)
    for r in roots:
        text = re.sub(
            rf"(?<![\w./-]){re.escape(r)}(?=/|$|[\s,:;}}])", str(root) + r, text, flags=re.MULTILINE
        )
    return text


def _copy_tree_for_rewrite(mounts: Mounts, root: Path) -> None:
    for path, files in mounts.items():
        target = root / path.lstrip("/")
        if files:
            _kubelet_dir(target, files, 0o644)
        else:
            target.mkdir(parents=True, exist_ok=True)


def _choose_layout(layout: Layout) -> tuple[Layout, str]:
    if layout == "rewrite":
        return "rewrite", "mount paths rewritten on request"
    ok, why = namespace_support()
    if ok:
        return "namespace", ""
    if layout == "namespace":
        raise BridgeError(f"a private mount namespace is not possible here: {why}")
    return "rewrite", f"no private mount namespace ({why}): mount paths in the properties were rewritten"


# --------------------------------------------------------------------------------------------- tier 1


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
        return f"exit {self.exit_code} ({self.layout}): {json.dumps(self.answer)}\n{_tail(self.stderr, 15)}"

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
    chosen, note = _choose_layout(layout)
    notes = [note] if note else []
    with tempfile.TemporaryDirectory(prefix="bridgedapp-kafka-side-", dir=_stage_parent()) as tmp:
        stage = Path(tmp)
        text = properties_text
        if chosen == "rewrite":
            rewrite_root = stage / "root"
            _copy_tree_for_rewrite(mounts, rewrite_root)
            text = rewrite_mount_paths(text, mounts, rewrite_root)
        config = stage / "kafka-bridge.properties"
        config.write_text(text)
        java_cmd = [
            *java_program_command(
                KAFKA_SIDE_PROGRAM, libs, None, f"-Dlog4j2.configurationFile={KAFKA_SIDE_LOG4J}"
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
            f"{_tail(done.stdout, 10)}\n{_tail(done.stderr)}"
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


def _stage_parent() -> Path:
    """Staging folders live in the cache, not in /tmp or /opt, which the namespace may cover with a tmpfs."""
    parent = cache_dir() / "run"
    parent.mkdir(parents=True, exist_ok=True)
    if _overlay_root(str(parent.resolve())):
        raise BridgeError(
            f"the cache {parent} lies under {OVERLAY_ROOTS}; set BRIDGEDAPP_CACHE_DIR elsewhere"
        )
    return parent


# --------------------------------------------------------------------------------------------- tier 2: finding it


def _is_dist(path: Path) -> bool:
    return (path / "bin" / "kafka_bridge_run.sh").is_file() and (path / "libs").is_dir()


def dist_version(dist: Path) -> str | None:
    """The bridge version of a distribution, from its io.strimzi.kafka-bridge-<v>.jar."""
    for jar in (dist / "libs").glob("io.strimzi.kafka-bridge-*.jar"):
        return jar.name[len("io.strimzi.kafka-bridge-") : -len(".jar")]
    return None


def _find_dist_in(path: Path) -> Path | None:
    if _is_dist(path):
        return path
    for child in sorted(path.glob("kafka-bridge-*")):
        if child.is_dir() and _is_dist(child):
            return child
    return None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack(archive: Path, into: Path) -> Path:
    """Unpack a .tar.gz/.tgz/.zip once into `into` (atomic rename), return the distribution folder in it."""
    with _lock(into.parent / f"{into.name}.lock"):
        found = _find_dist_in(into) if into.exists() else None
        if found:
            return found
        staging = Path(tempfile.mkdtemp(prefix=into.name + ".partial-", dir=into.parent))
        try:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(staging)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(staging, filter="data")
            for script in staging.rglob("*.sh"):
                script.chmod(0o755)
            if _find_dist_in(staging) is None:
                raise BridgeError(f"{archive} holds no bin/kafka_bridge_run.sh + libs/")
            if into.exists():
                shutil.rmtree(into)
            staging.rename(into)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = _find_dist_in(into)
    assert found is not None
    return found


def find_bridge_dist(version: str = BRIDGE_VERSION, *, try_download: bool = True) -> tuple[Path | None, str]:
    """A Strimzi HTTP Bridge 1.1.x distribution folder, or None and the exact reason.

    Order: $BRIDGEDAPP_BRIDGE_DIST (an unpacked folder, or a .tar.gz/.zip unpacked once into the cache), then
    <cache>/kafka-bridge-<version>, then the GitHub release URL (cached when it works).
    """
    cache = cache_dir() / f"kafka-bridge-{version}"
    tried: list[str] = []
    env = os.environ.get("BRIDGEDAPP_BRIDGE_DIST")
    if env:
        src = Path(env).expanduser()
        if src.is_dir():
            dist = _find_dist_in(src)
            if dist is None:
                return None, f"BRIDGEDAPP_BRIDGE_DIST={src} has no bin/kafka_bridge_run.sh and libs/"
        elif src.is_file():
            stem = re.sub(r"\.(tar\.gz|tgz|zip)$", "", src.name)
            dist = _unpack(src, cache_dir() / f"{stem}-unpacked-{src.stat().st_size}")
        else:
            return None, f"BRIDGEDAPP_BRIDGE_DIST={src} does not exist"
        found = dist_version(dist)
        if not found or not found.startswith(version.rsplit(".", 1)[0] + "."):
            return (
                None,
                f"BRIDGEDAPP_BRIDGE_DIST={src} is bridge {found or 'of unknown version'}, not {version}",
            )
        return dist, ""
    tried.append("BRIDGEDAPP_BRIDGE_DIST is not set")
    if cache.exists():
        dist = _find_dist_in(cache)
        if dist is not None:
            return dist, ""
    tried.append(f"{cache} does not exist")
    if try_download:
        url = BRIDGE_RELEASE_URL.format(v=version)
        archive = cache_dir() / f"kafka-bridge-{version}.tar.gz"
        try:
            partial = archive.with_suffix(".partial")
            with urllib.request.urlopen(url, timeout=10) as resp, partial.open("wb") as out:
                shutil.copyfileobj(resp, out)
            partial.rename(archive)
            return _unpack(archive, cache), ""
        except (urllib.error.URLError, OSError, BridgeError, tarfile.TarError) as exc:
            tried.append(f"{url} could not be fetched ({exc})")
    return None, (
        f"no Strimzi HTTP Bridge {version} distribution: "
        + "; ".join(tried)
        + ". Build one from its source (testbed.md, 'The bridge') and set BRIDGEDAPP_BRIDGE_DIST to "
        "target/kafka-bridge-1.1.0 or its tarball"
    )


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), flags=re.MULTILINE)
        if m:
            return int(m.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False).stderr
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def find_bridge_java(
    minimum: int = MIN_BRIDGE_JAVA, purpose: str = "the real bridge"
) -> tuple[Path | None, str]:
    """A JDK home of Java >= 21 for the real bridge (or Strimzi's operators): $BRIDGEDAPP_BRIDGE_JAVA_HOME,
    /usr/lib/jvm/temurin-*, $JAVA_HOME; else None and why."""
    candidates: list[Path] = []
    if os.environ.get("BRIDGEDAPP_BRIDGE_JAVA_HOME"):
        candidates.append(Path(os.environ["BRIDGEDAPP_BRIDGE_JAVA_HOME"]))
    candidates += sorted(Path("/usr/lib/jvm").glob("temurin-*"), reverse=True)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    seen: list[str] = []
    for home in candidates:
        major = _java_major(home)
        seen.append(f"{home} (Java {major})")
        if major is not None and major >= minimum:
            return home, ""
    return None, f"no Java {minimum}+ for {purpose} (looked at: {', '.join(seen) or 'nothing'}); " + (
        "set BRIDGEDAPP_BRIDGE_JAVA_HOME"
    )


# --------------------------------------------------------------------------------------------- tier 2: running it


def _properties(text: str) -> dict[str, str]:
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


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
        props = _properties(properties_text)
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
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except (OSError, AssertionError):
            return "(no log)"

    def _ready_message(self) -> str:
        return f"Strimzi HTTP Bridge ({dist_version(self.dist)}) ready at {self.url} in {self.start_seconds:.1f}s"

    def _announce(self, message: str) -> None:
        _say(message)

    def _start(self) -> None:
        java_home = self.java_home
        if java_home is None:
            java_home, why = find_bridge_java()
            if java_home is None:
                raise BridgeError(why)
        for port in (self.port, self.management_port):
            if not _port_free(port):
                raise BridgeError(
                    f"port {port} (from the rendered properties) is already in use on this machine"
                )
        chosen, note = _choose_layout(self.layout)
        self.layout = chosen
        if note:
            self.notes.append(note)
        self._stage = Path(tempfile.mkdtemp(prefix="bridgedapp-bridge-", dir=_stage_parent()))
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
            _copy_tree_for_rewrite(self.mounts, root)
            config.write_text(rewrite_mount_paths(self.properties_text, self.mounts, root))
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
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(15)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(10)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._stage is not None and os.environ.get("BRIDGEDAPP_KEEP_BRIDGE_DIR") != "1":
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
