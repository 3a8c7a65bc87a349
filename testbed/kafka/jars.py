"""Kafka's jars from Maven Central, cached by version, and the `java` command lines of testbed/java/*.java on them
(compiled once into the cache). The base of the broker, its admin JVM and the bridge's stand-in.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.host import cache_dir, file_lock, tail

KAFKA_VERSION = "4.3.1"
MAVEN_POM = Path(__file__).resolve().parent.parent / "maven" / "kafka-pom.xml"
JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
CLIENT_LOG4J = JAVA_DIR / "log4j2-stderr.properties"
LOG_TAIL_LINES = 40
# Short-lived JVMs (format, admin, stand-in) start faster with the C1 compiler only and a small serial heap.
TOOL_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx256m")


class KafkaError(RuntimeError):
    """The jars could not be had, or the broker or an admin call failed; the message says which and why."""


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """Folder of one Kafka version's jars: <cache>/kafka-<version>/libs."""
    return cache_dir() / f"kafka-{version}"


def say(progress: bool, message: str) -> None:
    """One progress line on stderr (a first download takes minutes)."""
    if progress:
        print(f"[testbed.kafka] {message}", file=sys.stderr, flush=True)


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
    with file_lock(home.parent / f"kafka-{version}.lock", lambda line: say(progress, line)):
        if _libs_complete(libs):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError(
                "Maven (`mvn`) is not on PATH: it is needed once to fetch the Kafka jars from Maven Central"
            )
        started = time.monotonic()
        say(
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
                    f"{tail(done.stdout + done.stderr, LOG_TAIL_LINES)}"
                )
            (staging / ".complete").write_text(f"kafka_2.13:{version}\n")
            if home.exists():  # an incomplete earlier attempt
                shutil.rmtree(home)
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        jars = list(libs.glob("*.jar"))
        size = sum(j.stat().st_size for j in jars) / 1e6
        say(progress, f"{len(jars)} jars ({size:.0f} MB) in {libs} after {time.monotonic() - started:.1f}s")
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
    with file_lock(target.with_name(target.name + ".lock")):
        if (target / f"{program.stem}.class").is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
        try:
            cmd = [str(javac), "-nowarn", "-cp", classpath(libs), "-d", str(staging), str(program)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise KafkaError(
                    f"javac {program.name} failed:\n{tail(done.stdout + done.stderr, LOG_TAIL_LINES)}"
                )
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
