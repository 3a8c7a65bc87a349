"""Tier 2, finding it: a Strimzi HTTP Bridge distribution (a folder or a tarball, unpacked once into the cache) and a
Java new enough to run it; `find_bridge_dist` says precisely what is missing when it cannot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from testbed.bridge.errors import BridgeError
from testbed.host import cache_dir, file_lock

BRIDGE_VERSION = "1.1.0"
BRIDGE_RELEASE_URL = (
    "https://github.com/strimzi/strimzi-kafka-bridge/releases/download/{v}/kafka-bridge-{v}.tar.gz"
)


MIN_BRIDGE_JAVA = 21


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


def _unpack(archive: Path, into: Path) -> Path:
    """Unpack a .tar.gz/.tgz/.zip once into `into` (atomic rename), return the distribution folder in it."""
    with file_lock(into.parent / f"{into.name}.lock"):
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
