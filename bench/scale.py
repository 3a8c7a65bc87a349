"""A thousand apps: the operator against a raw-API floor (bench/floor.py), N apps created at once, same run.

A control plane of its own (30 kwok nodes), the Strimzi simulator (a TEST DOUBLE) in its own process,
Strimzi 1.2.0 installed from its bundle, one shared Kafka made Ready before anything is measured. For each N,
first the floor and then the operator (so the operator meets the fuller cluster) each get a namespace of their
own, run as a process of their own watching it and Strimzi's, and receive N apps, each a 1-replica Deployment
and a BridgedApp naming it (`kafka.create: false`: the Kafka is given), all created at once by 16 threads.

Measured, per subject, from the moment creation starts:
- time to all SidecarInjected: the operator's SidecarInjected=True condition; the floor writes one status
  only at the end, so its injection is the moment its Deployment apply shows up (both are also reported by
  that same Deployment-seen measure), seen through the bench's own watches;
- time to all Ready=True, and per app creation -> injected (p50, p99);
- API requests, writes and Events per app, from the API server's audit log by User-Agent (the operator's
  `kubernetes` client and Kopf; the floor's `bridgedapp-floor`), watches counted apart, counted until the
  subject has made no request for a few seconds;
- full passes per app (the operator's `bridgedapp_passes` metric), CPU seconds (utime+stime in /proc) and
  peak RSS (VmHWM) of the subject's process.
At the largest N both subjects then stay up, idle, for 5 minutes (requests and writes counted), and both are
restarted on their Ready apps: requests and writes per app until quiet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pykube
from bridgedapp.builders.kafka import build_kafka, build_node_pool, cluster_ca_cert_name
from bridgedapp.kube import Kube
from bridgedapp.models import parse_spec
from bridgedapp.settings import Settings
from bridgedapp.strimzi import StrimziEnsurer, StrimziInfo

from bench import floor as floor_module
from bench import simulator as simulator_module
from bench.env import (
    APP_API,
    REPO,
    STRIMZI_NS,
    STRIMZI_VERSION,
    WRITE_VERBS,
    BenchError,
    app_ready,
    condition,
    free_port,
    operator_passes,
    request_key,
    rss_kib,
    sample_app_spec,
    sample_deployment,
    say,
    wait_until,
)
from bench.stats import summary
from testbed.audit import AuditLog
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.lifecycle import die_with_parent
from testbed.operator_process import running_operator
from testbed.strimzi_bundle import bundle_path, missing_reason
from testbed.toolchain import Binaries

NODES = 30
KAFKA = "scale"
SIZES = (100, 300, 1000)
QUICK_SIZES = (20,)
IDLE_SECONDS = 300.0
QUICK_IDLE_SECONDS = 30.0
CREATE_WORKERS = 16
QUIET_SECONDS = 5.0
RESTART_QUIET_SECONDS = 10.0
RESTART_TIMEOUT = 600.0  # for a restarted operator's one pass per app
AUDIT_INTERVAL = 0.5
SUBJECTS = ("floor", "operator")
AGENTS = {"operator": ("OpenAPI-Generator", "kopf"), "floor": (floor_module.USER_AGENT.split("/")[0],)}
HASH_ANNOTATION = floor_module.HASH_ANNOTATION


# ---- counting requests from the audit log ---------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    """One subject's requests over one window (watches apart; Events are writes counted apart)."""

    requests: int = 0
    watches: int = 0
    writes: int = 0
    event_writes: int = 0
    by_request: Counter[str] = dataclasses.field(default_factory=Counter)
    last_seen: float = dataclasses.field(default_factory=time.monotonic)

    def add(self, event: dict[str, Any]) -> None:
        self.last_seen = time.monotonic()
        if event.get("verb") == "watch":
            self.watches += 1
            return
        self.requests += 1
        key = request_key(event)
        self.by_request[key] += 1
        if event.get("verb") in WRITE_VERBS:
            if (event.get("objectRef") or {}).get("resource") == "events":
                self.event_writes += 1
            else:
                self.writes += 1

    def figures(self, apps: int) -> dict[str, Any]:
        per = max(apps, 1)
        return {
            "requests": self.requests,
            "writes": self.writes,
            "event_writes": self.event_writes,
            "watches_ended": self.watches,
            "requests_per_app": self.requests / per,
            "writes_per_app": self.writes / per,
            "events_per_app": self.event_writes / per,
            "by_request_per_app": {k: v / per for k, v in self.by_request.most_common()},
        }


class AuditCounter:
    """Reads the audit log in the background (often enough to follow its rotations) into each subject's Tally."""

    def __init__(self, path: Path) -> None:
        self.log = AuditLog(path, keep=False)
        self.log.skip()
        self.tallies: dict[str, Tally] = {}
        self.agents_seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="audit", daemon=True)
        self.thread.start()

    def _subject(self, agent: str) -> str | None:
        return next((s for s, prefixes in AGENTS.items() if agent.startswith(prefixes)), None)

    def _run(self) -> None:
        while not self.stop.wait(AUDIT_INTERVAL):
            self.drain()

    def drain(self) -> None:
        for event in self.log.read():
            agent = str(event.get("userAgent", ""))
            subject = self._subject(agent)
            with self.lock:
                self.agents_seen[agent.split("/")[0]] += 1
                if subject in self.tallies:
                    self.tallies[subject].add(event)

    def start(self, subject: str) -> Tally:
        """A fresh window for `subject`: what it requests from now on (the log's lag is drained first)."""
        time.sleep(1.0)
        self.drain()
        tally = Tally()
        with self.lock:
            self.tallies[subject] = tally
        return tally

    def wait_quiet(self, tally: Tally, quiet: float, timeout: float, alive: Callable[[], None]) -> float:
        """Until the subject has made no request for `quiet` seconds; returns when its last one was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - tally.last_seen < quiet:
            alive()
            if time.monotonic() > deadline:
                raise BenchError(f"still busy after {timeout:.0f}s ({tally.requests} requests)")
            time.sleep(0.5)
        return tally.last_seen

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.log.close()


# ---- watching the apps and their Deployments -------------------------------------------------------------------


def _watch(
    api: pykube.HTTPClient,
    version: str,
    plural: str,
    namespace: str,
    on: Callable[[dict[str, Any]], None],
    stop: threading.Event,
) -> None:
    """Feed every ADDED/MODIFIED object of one namespace to `on`, reconnecting, until `stop`."""
    resource_version: str | None = None
    while not stop.is_set():
        params = {"watch": "true", "timeoutSeconds": "60", "allowWatchBookmarks": "true"}
        if resource_version:
            params["resourceVersion"] = resource_version
        try:
            response = api.get(
                version=version, namespace=namespace, url=plural, params=params, stream=True, timeout=(10, 90)
            )
            with contextlib.closing(response):
                response.raise_for_status()
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if not line:
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        resource_version = None
                        break
                    obj = event.get("object") or {}
                    resource_version = (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        on(obj)
        except Exception:  # the API server is busy: reconnect
            if not stop.is_set():
                time.sleep(1)


class Tracker:
    """When each app was created, injected (condition; Deployment seen with the sidecar's hash) and Ready."""

    def __init__(self, api: pykube.HTTPClient, namespace: str) -> None:
        self.created: dict[str, float] = {}
        self.injected: dict[str, float] = {}  # SidecarInjected=True on the BridgedApp
        self.deployment_injected: dict[str, float] = {}  # the Deployment's template carries the config hash
        self.ready: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(
                target=_watch,
                args=(api, APP_API, "bridgedapps", namespace, self._app, self.stop),
                daemon=True,
            ),
            threading.Thread(
                target=_watch,
                args=(api, "apps/v1", "deployments", namespace, self._deployment, self.stop),
                daemon=True,
            ),
        ]
        for thread in self.threads:
            thread.start()

    def _app(self, obj: dict[str, Any]) -> None:
        now, name = time.monotonic(), obj["metadata"]["name"]
        cond = condition(obj, "SidecarInjected")
        with self.lock:
            if cond is not None and cond.get("status") == "True":
                self.injected.setdefault(name, now)
            if app_ready(obj):
                self.ready.setdefault(name, now)

    def _deployment(self, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        annotations = ((obj["spec"]["template"].get("metadata") or {}).get("annotations")) or {}
        if HASH_ANNOTATION in annotations:
            with self.lock:
                self.deployment_injected.setdefault(obj["metadata"]["name"].removesuffix("-api"), now)

    def close(self) -> None:
        self.stop.set()


# ---- processes ---------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_line(proc: subprocess.Popen[bytes], log: Path, line: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in (log.read_text(errors="replace") if log.exists() else ""):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            raise BenchError(f"{log.name}: no '{line}' (exit {proc.poll()}); last lines:\n{tail}")
        time.sleep(0.2)


@contextlib.contextmanager
def _child(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A Python child process of the bench, logging to `log`, stopped on every exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclasses.dataclass
class Subject:
    """A running operator or floor: its process, and how to read its passes (the operator's metric)."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int | None = None

    def alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
            raise BenchError(f"the {self.name} exited with {self.proc.returncode}; last lines:\n{tail}")

    def passes(self) -> float | None:
        """bridgedapp_passes_total summed over triggers and outcomes; None for the floor."""
        return None if self.metrics_port is None else operator_passes(self.metrics_port)


@dataclasses.dataclass
class Bed:
    """The scale benchmark's control plane and what runs beside it."""

    cluster: LocalCluster
    api: pykube.HTTPClient
    strimzi: StrimziInfo
    manifest: Path
    logs: Path
    audit: AuditCounter
    server_version: tuple[int, int]
    setup_seconds: dict[str, float]

    @contextlib.contextmanager
    def subject(self, name: str, namespace: str, tag: str) -> Iterator[Subject]:
        log = self.logs / f"scale-{name}-{tag}.log"
        if name == "operator":
            port = free_port()
            with running_operator(
                self.cluster.kubeconfig,
                log,
                args=["--namespace", namespace, "--namespace", STRIMZI_NS],
                env={"BRIDGEDAPP_STRIMZI_MANIFEST": str(self.manifest), "BRIDGEDAPP_METRICS_PORT": str(port)},
            ) as proc:
                _wait_line(proc, log, "bridgedapp operator ready")
                yield Subject(name, proc, log, port)
            return
        argv = [
            "-m",
            "bench.floor",
            "--kubeconfig",
            str(self.cluster.kubeconfig),
            "--namespace",
            namespace,
            "--kafka-namespace",
            STRIMZI_NS,
            "--kafka-api-version",
            self.strimzi.api_version,
            "--server-version",
            ".".join(map(str, self.server_version)),
        ]
        with _child(argv, log) as proc:
            _wait_line(proc, log, floor_module.READY_LINE)
            yield Subject(name, proc, log)

    def namespace(self, name: str) -> None:
        pykube.Namespace(self.api, {"metadata": {"name": name}}).create()
        wait_until(
            lambda: pykube.ServiceAccount.objects(self.api, namespace=name).get_or_none(name="default"),
            timeout=60,
            what=f"ServiceAccount {name}/default",
        )


@contextlib.contextmanager
def open_bed(logs: Path, *, nodes: int = NODES, binaries: Binaries | None = None) -> Iterator[Bed]:
    manifest = bundle_path(STRIMZI_VERSION)
    if manifest is None:
        raise BenchError(missing_reason(STRIMZI_VERSION))
    timings: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        mark = time.monotonic()
        cluster = LocalCluster(f"bench-scale-{os.getpid()}", nodes=nodes, binaries=binaries, progress=True)
        stack.enter_context(cluster)
        timings["cluster"] = time.monotonic() - mark
        cluster.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s"
        )
        say("scale: starting the Strimzi simulator (a TEST DOUBLE) in its own process")
        sim_log = logs / "scale-simulator.log"
        sim = stack.enter_context(
            _child(["-m", "bench.simulator", "--kubeconfig", str(cluster.kubeconfig)], sim_log)
        )
        _wait_line(sim, sim_log, simulator_module.READY_LINE)
        mark = time.monotonic()
        kube = Kube.from_env(str(cluster.kubeconfig))
        kube.api_client.user_agent = "bench-setup"
        info = StrimziEnsurer(kube, Settings(strimzi_manifest=str(manifest))).ensure(wait=True)
        timings["strimzi_install"] = time.monotonic() - mark
        mark = time.monotonic()
        api = pykube_client(cluster.kubeconfig)
        _shared_kafka(kube, api, info)
        timings["kafka"] = time.monotonic() - mark
        audit = AuditCounter(cluster.audit_log)
        stack.callback(audit.close)
        say(f"scale: Strimzi {info.version} and Kafka {STRIMZI_NS}/{KAFKA} ready")
        yield Bed(cluster, api, info, manifest, logs, audit, kube.server_version(), timings)


def _app_spec(name: str, namespace: str) -> dict[str, Any]:
    spec = sample_app_spec(KAFKA, f"{name}-api", f"{namespace}.{name}")
    spec["kafka"]["create"] = False  # the shared Kafka is given; neither subject writes it
    spec.pop("consumerGroup", None)  # the default, <namespace>.<name>
    return spec


def _shared_kafka(kube: Kube, api: pykube.HTTPClient, info: StrimziInfo) -> None:
    """The one Kafka every app uses, from the operator's builders, Ready (the simulator) before any app."""
    spec = parse_spec(sample_app_spec(KAFKA, "x", "x"))  # the sample's Kafka: 3 brokers, created
    for obj in (
        build_kafka(spec, namespace=STRIMZI_NS, api_version=info.api_version, owner="bench"),
        build_node_pool(spec, namespace=STRIMZI_NS, api_version=info.api_version, owner="bench"),
    ):
        kube.apply(obj, field_manager="bench-setup")
    kafka_kind = pykube.object_factory(api, info.api_version, "Kafka")

    def ready() -> bool:
        kafka = kafka_kind.objects(api, namespace=STRIMZI_NS).get_or_none(name=KAFKA)
        ca = pykube.Secret.objects(api, namespace=STRIMZI_NS).get_or_none(name=cluster_ca_cert_name(KAFKA))
        return bool(kafka and ca and (condition(kafka.obj, "Ready") or {}).get("status") == "True")

    wait_until(ready, timeout=180, what=f"Kafka {STRIMZI_NS}/{KAFKA} Ready", interval=1.0)


# ---- one subject, N apps -----------------------------------------------------------------------------------------


def _create_all(bed: Bed, namespace: str, names: list[str], tracker: Tracker) -> None:
    """Each app's Deployment and BridgedApp, 16 threads, all at once; an app's clock starts at its POST."""

    def one(name: str) -> None:
        pykube.Deployment(bed.api, sample_deployment(namespace, f"{name}-api", replicas=1)).create()
        app = {
            "apiVersion": APP_API,
            "kind": "BridgedApp",
            "metadata": {"name": name, "namespace": namespace},
            "spec": _app_spec(name, namespace),
        }
        with tracker.lock:
            tracker.created[name] = time.monotonic()
        pykube.object_factory(bed.api, APP_API, "BridgedApp")(bed.api, app).create()

    with ThreadPoolExecutor(CREATE_WORKERS) as pool:
        list(pool.map(one, names))


def _spread(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    if not ordered:
        return {}
    return {**summary(ordered), "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]}


def run_subject(
    bed: Bed, subject: Subject, namespace: str, n: int, cap: float | None = None
) -> dict[str, Any]:
    """Create N apps; wait until all are Ready and the subject has gone quiet; every figure of the table.

    With `cap`, the phase ends after that many seconds even if not all apps got there: the record then says
    how many had (`complete` false), and the figures that need every app are None."""
    names = [f"a{i:04d}" for i in range(n)]
    tracker = Tracker(bed.api, namespace)
    try:
        time.sleep(2.0)  # the subject's start-up listings are not part of its work on the apps
        tally = bed.audit.start(subject.name)
        cpu0, passes0, load0 = cpu_seconds(subject.proc.pid), subject.passes(), os.getloadavg()
        t0 = time.monotonic()
        say(f"scale: {subject.name}: creating {n} apps")
        _create_all(bed, namespace, names, tracker)
        created_s = time.monotonic() - t0
        timeout = cap if cap is not None else 300 + 1.2 * n
        last_say = time.monotonic()
        complete = True
        while len(tracker.ready) < n:
            subject.alive()
            if time.monotonic() - t0 > timeout:
                if cap is not None:
                    complete = False
                    break
                raise BenchError(
                    f"{subject.name}: {len(tracker.ready)}/{n} Ready, {len(tracker.injected)} injected after "
                    f"{timeout:.0f}s"
                )
            if time.monotonic() - last_say > 20:
                last_say = time.monotonic()
                say(
                    f"scale: {subject.name} N={n}: {len(tracker.injected)} SidecarInjected, "
                    f"{len(tracker.deployment_injected)} Deployments injected, {len(tracker.ready)} Ready after "
                    f"{time.monotonic() - t0:.0f}s"
                )
            time.sleep(0.5)
        if complete:
            quiet_at = bed.audit.wait_quiet(tally, QUIET_SECONDS, timeout=300, alive=subject.alive)
        else:
            bed.audit.drain()
            quiet_at = time.monotonic()
        cpu1, load1 = cpu_seconds(subject.proc.pid), os.getloadavg()
        _, peak_kib = rss_kib(subject.proc.pid)
        passes = subject.passes()
    finally:
        tracker.close()
    with tracker.lock:
        created, ready = dict(tracker.created), dict(tracker.ready)
        dep = dict(tracker.deployment_injected)
        injected = dict(tracker.injected) if subject.name == "operator" else dep
    latency = [injected[a] - created[a] for a in names if a in injected]

    def last(times: dict[str, float]) -> float | None:
        return max(times.values()) - t0 if len(times) == n else None

    result = {
        "apps": n,
        "namespace": namespace,
        "complete": complete,
        "cap_seconds": cap,
        "injected_count": len(injected),
        "deployment_injected_count": len(dep),
        "ready_count": len(ready),
        "create_seconds": created_s,
        "all_injected_seconds": last(injected),
        "all_deployments_injected_seconds": last(dep),
        "all_ready_seconds": last(ready),
        "quiet_after_seconds": quiet_at - t0,
        "injected_latency": _spread(latency) if complete else {},
        "injected_latency_seconds": sorted(latency),
        "deployment_injected_latency": _spread([dep[a] - created[a] for a in names if a in dep])
        if complete
        else {},
        "ready_latency": _spread([ready[a] - created[a] for a in names if a in ready]) if complete else {},
        "cpu_seconds": cpu1 - cpu0,
        "peak_rss_mib": peak_kib / 1024,
        "passes_per_app": None if passes is None or passes0 is None else (passes - passes0) / n,
        "load_before": list(load0),
        "load_after": list(load1),
        **tally.figures(n),
    }
    if complete:
        say(
            f"scale: {subject.name} N={n}: all injected {result['all_injected_seconds']:.1f}s (p99 "
            f"{result['injected_latency']['p99']:.1f}s), all Ready {result['all_ready_seconds']:.1f}s, "
            f"{result['requests_per_app']:.1f} requests/app, {result['writes_per_app']:.1f} writes/app "
            f"+ {result['events_per_app']:.1f} Events, CPU {result['cpu_seconds']:.1f}s, "
            f"peak {result['peak_rss_mib']:.0f} MiB"
        )
    else:
        say(
            f"scale: {subject.name} N={n}: capped at {cap:.0f}s with {len(injected)} injected, {len(ready)} Ready; "
            f"{result['requests']} requests, {result['writes']} writes + {result['event_writes']} Events, "
            f"CPU {result['cpu_seconds']:.1f}s, peak {result['peak_rss_mib']:.0f} MiB"
        )
    return result


def _idle(bed: Bed, subjects: dict[str, Subject], seconds: float, n: int) -> dict[str, Any]:
    say(f"scale: both subjects idle on {n} Ready apps each for {seconds:.0f}s")
    tallies = {name: bed.audit.start(name) for name in subjects}
    cpu0 = {name: cpu_seconds(s.proc.pid) for name, s in subjects.items()}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in subjects.values():
            s.alive()
        time.sleep(1.0)
    bed.audit.drain()
    return {
        name: {
            "apps": n,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds(s.proc.pid) - cpu0[name],
            **tallies[name].figures(n),
        }
        for name, s in subjects.items()
    }


def _restart(bed: Bed, name: str, namespace: str, n: int, tag: str) -> dict[str, Any]:
    say(f"scale: a fresh {name} process on {n} Ready apps")
    tally = bed.audit.start(name)
    started = time.monotonic()
    with bed.subject(name, namespace, tag) as subject:
        passes0 = 0.0 if subject.metrics_port is not None else None
        time.sleep(RESTART_QUIET_SECONDS)
        # A pass that reads memory asks the API server nothing: quiet requests alone do not say the operator
        # is done, its one pass per app does.
        deadline = started + RESTART_TIMEOUT
        while (subject.passes() or 0.0) < (0 if passes0 is None else n) and time.monotonic() < deadline:
            subject.alive()  # raises with the log's tail if it exited
            time.sleep(1.0)
        quiet_at = bed.audit.wait_quiet(tally, RESTART_QUIET_SECONDS, timeout=600, alive=subject.alive)
        passes = subject.passes()
        cpu = cpu_seconds(subject.proc.pid)
        _, peak_kib = rss_kib(subject.proc.pid)
    return {
        "apps": n,
        "quiet_after_seconds": max(0.0, quiet_at - started),
        "cpu_seconds": cpu,
        "peak_rss_mib": peak_kib / 1024,
        "passes_per_app": None if passes is None or passes0 is None else passes / n,
        **tally.figures(n),
    }


def ratios(operator: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """operator / floor for every figure both have (None where the floor's is 0)."""
    keys = (
        "all_injected_seconds",
        "all_deployments_injected_seconds",
        "all_ready_seconds",
        "requests_per_app",
        "writes_per_app",
        "cpu_seconds",
        "peak_rss_mib",
    )
    out: dict[str, float | None] = {
        k: (operator[k] / floor[k] if operator[k] is not None and floor[k] else None) for k in keys
    }
    op_p99, floor_p99 = operator["injected_latency"].get("p99"), floor["injected_latency"].get("p99")
    out["injected_p99"] = op_p99 / floor_p99 if op_p99 is not None and floor_p99 else None
    if not (operator["complete"] and floor["complete"]):  # per-app figures of unequal work do not compare
        out = {k: v for k, v in out.items() if k in ("cpu_seconds", "peak_rss_mib")}
        out["injected_count"] = (
            operator["injected_count"] / floor["injected_count"] if floor["injected_count"] else None
        )
    return out


def run(
    *,
    sizes: tuple[int, ...],
    idle_seconds: float,
    logs: Path,
    nodes: int = NODES,
    binaries: Binaries | None = None,
    cap_seconds: float | None = None,
    settle_at: int | None = None,
) -> dict[str, Any]:
    """Every size in turn. The idle window and the restart are measured after size `settle_at` (default the
    last); sizes above it are capped at `cap_seconds` per subject when given (a shared 2-core machine may not
    converge a thousand apps in the time a run has)."""
    settle_at = sizes[-1] if settle_at is None else settle_at
    results: dict[str, Any] = {
        "sizes": {},
        "nodes": nodes,
        "subjects_order": list(SUBJECTS),
        "settle_at": settle_at,
        "cap_seconds": cap_seconds,
    }
    with open_bed(logs, nodes=nodes, binaries=binaries) as bed:
        results["setup_seconds"] = bed.setup_seconds
        results["strimzi"] = bed.strimzi.version
        results["kubernetes_server"] = ".".join(map(str, bed.server_version))
        for n in sizes:
            last = n == settle_at
            cap = cap_seconds if n > settle_at else None
            per: dict[str, Any] = {}
            with contextlib.ExitStack() as keep:
                running: dict[str, Subject] = {}
                for name in SUBJECTS:
                    namespace = f"scale-{name}-{n}"
                    bed.namespace(namespace)
                    with contextlib.ExitStack() as own:
                        subject = own.enter_context(bed.subject(name, namespace, f"{n}"))
                        per[name] = run_subject(bed, subject, namespace, n, cap)
                        if last:  # kept up, idle, while the other runs, then for the idle window
                            running[name] = subject
                            keep.enter_context(own.pop_all())
                per["ratio"] = ratios(per["operator"], per["floor"])
                if last:
                    per["idle"] = _idle(bed, running, idle_seconds, n)
            if last:
                per["restart"] = {
                    name: _restart(bed, name, f"scale-{name}-{n}", n, f"{n}-restart") for name in SUBJECTS
                }
            results["sizes"][str(n)] = per
        bed.audit.drain()
        results["audit_rotations"] = bed.audit.log.rotations
        results["user_agents"] = dict(bed.audit.agents_seen.most_common())
    return results
