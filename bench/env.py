"""The bench's test bed: one local control plane shared by the cluster benchmarks, and what runs beside it.

A real kube-apiserver/etcd/controller-manager/scheduler (testbed.cluster, nodes simulated by kwok), the
BridgedApp CRD from crds/, Strimzi 1.2.0 installed from the official bundle through the operator's own
StrimziEnsurer, and the Strimzi simulator (testbed.strimzi_sim, a TEST DOUBLE for Strimzi's reconcile
loop). Everything is entered on an ExitStack, so it is torn down on every exit path: normal end, an
exception, Ctrl-C and SIGTERM (which testbed.cluster turns into KeyboardInterrupt). An operator subprocess
also gets SIGTERM from the kernel if this process dies without unwinding (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
import yaml
from bridgedapp.kube import Kube
from bridgedapp.settings import Settings
from bridgedapp.strimzi import StrimziEnsurer, StrimziInfo

from testbed.audit import AuditLog
from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.operator_process import running_operator
from testbed.polling import poll
from testbed.strimzi_bundle import bundle_path, missing_reason
from testbed.strimzi_sim import StrimziSimulator

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "deploy" / "samples"
STRIMZI_VERSION = "1.2.0"
STRIMZI_NS = "kafka"
APP_API = "bridgedapp.io/v1alpha1"
SIM_RESYNC_SECONDS = (
    30.0  # the simulator reacts to watch events; a slow resync keeps it quiet while we measure
)
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def say(message: str) -> None:
    """Progress on stderr, so a long run shows what it is doing."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A benchmark could not reach the state it measures; the message says what it last saw."""


# ---- the sample, reshaped per benchmark --------------------------------------------------------------------


def sample_documents() -> list[dict[str, Any]]:
    """deploy/samples: the BridgedApp and its Deployment, as a user applies them."""
    docs: list[dict[str, Any]] = []
    for name in ("bridgedapp.yaml", "deployment.yaml"):
        docs += [d for d in yaml.safe_load_all((SAMPLES / name).read_text()) if d]
    return docs


def sample_app_spec(cluster: str, deployment: str, topic: str) -> dict[str, Any]:
    """The sample's spec, pointed at a benchmark's Kafka cluster, Deployment and topic."""
    app = next(d for d in sample_documents() if d["kind"] == "BridgedApp")
    spec = json.loads(json.dumps(app["spec"]))
    spec["deploymentName"] = deployment
    spec["kafka"]["clusterName"] = cluster
    spec["kafka"].pop("namespace", None)  # the Strimzi namespace, where the operator installs it
    spec["topics"][0]["name"] = topic
    return spec


def sample_deployment(namespace: str, name: str, replicas: int | None = None) -> dict[str, Any]:
    """The sample's Deployment under another name (the sample's own shape: 2 replicas unless told)."""
    dep = json.loads(json.dumps(next(d for d in sample_documents() if d["kind"] == "Deployment")))
    labels = {"app.kubernetes.io/name": name}
    dep["metadata"] = {"name": name, "namespace": namespace, "labels": labels}
    dep["spec"]["selector"] = {"matchLabels": labels}
    dep["spec"]["template"]["metadata"]["labels"] = labels
    if replicas is not None:
        dep["spec"]["replicas"] = replicas
    return dep


# ---- the environment -----------------------------------------------------------------------------------------


@dataclass
class Env:
    """What the cluster benchmarks share; created once per run, torn down by the ExitStack that made it."""

    cluster: LocalCluster
    api: pykube.HTTPClient
    simulator: StrimziSimulator
    manifest: Path
    logs: Path
    strimzi: StrimziInfo
    setup_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig

    def settings(self) -> Settings:
        """The operator's settings as the bench runs it: Strimzi from the shared bundle."""
        return Settings(strimzi_manifest=str(self.manifest))

    def kube(self, user_agent: str | None = None) -> Kube:
        """The operator's own client; a distinct User-Agent lets the audit log tell our requests apart."""
        kube = Kube.from_env(str(self.kubeconfig))
        if user_agent:
            kube.api_client.user_agent = user_agent
        return kube

    def namespace(self, name: str) -> None:
        """Create a namespace and wait for its default ServiceAccount (pods cannot be created before it)."""
        ns = pykube.Namespace(self.api, {"metadata": {"name": name}})
        if not ns.exists():
            ns.create()
        wait_until(
            lambda: pykube.ServiceAccount.objects(self.api, namespace=name).get_or_none(name="default"),
            timeout=60,
            what=f"ServiceAccount {name}/default",
        )

    def create(self, obj: dict[str, Any]) -> None:
        """Create any object through pykube (the bench drives the cluster like the tests: not via the operator)."""
        kind = pykube.object_factory(self.api, obj["apiVersion"], obj["kind"])
        kind(self.api, obj).create()

    def app_kind(self) -> type[pykube.objects.NamespacedAPIObject]:
        """BridgedApp as a pykube kind, for observing apps independently of the operator's client."""
        return pykube.object_factory(self.api, APP_API, "BridgedApp")

    def server_version(self) -> str:
        out = self.cluster.kubectl("version", "-o", "json").stdout
        return str(json.loads(out).get("serverVersion", {}).get("gitVersion"))


def open_env(stack: contextlib.ExitStack, logs: Path) -> Env:
    """Start the control plane, the CRD, the simulator and Strimzi; every part is registered on `stack`.

    `logs` receives the operator processes' logs (kept by the caller when something failed).
    """
    manifest = bundle_path(STRIMZI_VERSION)
    if manifest is None:
        raise BenchError(missing_reason(STRIMZI_VERSION))
    timings: dict[str, float] = {}
    started = time.monotonic()
    cluster = LocalCluster(f"bench-{os.getpid()}", progress=True)
    stack.enter_context(cluster)
    timings["cluster"] = time.monotonic() - started

    mark = time.monotonic()
    cluster.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")
    timings["crd"] = time.monotonic() - mark

    say("starting the Strimzi simulator (a TEST DOUBLE for Strimzi's reconcile loop)")
    simulator = StrimziSimulator(str(cluster.kubeconfig), resync_seconds=SIM_RESYNC_SECONDS)
    stack.enter_context(simulator)

    mark = time.monotonic()
    say(f"installing Strimzi {STRIMZI_VERSION} from {manifest} through the operator's StrimziEnsurer")
    kube = Kube.from_env(str(cluster.kubeconfig))
    ensurer = StrimziEnsurer(kube, Settings(strimzi_manifest=str(manifest)))
    info = ensurer.ensure(wait=True)
    timings["strimzi_install"] = time.monotonic() - mark
    say(f"Strimzi {info.version} ready in {info.namespace} after {timings['strimzi_install']:.1f}s")

    api = pykube_client(cluster.kubeconfig)
    return Env(
        cluster=cluster,
        api=api,
        simulator=simulator,
        manifest=manifest,
        logs=logs,
        strimzi=info,
        setup_seconds=timings,
    )


# ---- waiting ---------------------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until `predicate` returns something truthy; BenchError naming `what` when time runs out."""
    value = poll(predicate, timeout=timeout, interval=interval)
    if not value:
        raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
    return value


def watch_until(
    api: pykube.HTTPClient,
    *,
    version: str,
    plural: str,
    namespace: str,
    name: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float,
) -> float:
    """perf_counter() at the moment a watch event shows `predicate` holding for one object.

    A watch opened without a resourceVersion starts with the object as it is now, so nothing that happened
    before it opened is missed. Event-driven, so the bench adds no polling load to what it measures.
    """
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        remaining = max(1, int(deadline - time.monotonic()))
        params = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": str(min(remaining, 60)),
        }
        response = api.get(
            version=version,
            namespace=namespace,
            url=plural,
            params=params,
            stream=True,
            timeout=(10, remaining + 10),
        )
        with contextlib.closing(response):
            response.raise_for_status()
            for line in response.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    break
                obj = event.get("object") or {}
                last = obj
                if event.get("type") in ("ADDED", "MODIFIED") and predicate(obj):
                    return time.perf_counter()
    conditions = [
        f"{c.get('type')}={c.get('status')} {c.get('reason')}"
        for c in (last.get("status") or {}).get("conditions", [])
    ]
    raise BenchError(f"timed out after {timeout:.0f}s watching {plural} {namespace}/{name}: {conditions}")


def deployment_available(obj: dict[str, Any]) -> bool:
    """Rolled out, in the words of `kubectl rollout status`: every replica updated and available."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    wanted = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= meta.get("generation", 0)
        and status.get("updatedReplicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions", []):
        if cond.get("type") == type_:
            return cond
    return None


def app_ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the current generation."""
    cond = condition(obj, "Ready")
    return (
        cond is not None
        and cond.get("status") == "True"
        and cond.get("observedGeneration") == obj["metadata"].get("generation")
    )


# ---- the operator as its users run it --------------------------------------------------------------------------


@contextlib.contextmanager
def operator_process(
    env: Env, log_name: str, namespaces: tuple[str, ...] = (), metrics_port: int | None = None
) -> Iterator[subprocess.Popen]:
    """`python -m bridgedapp run` against the bench's cluster (all namespaces unless told); stopped on exit.

    With `metrics_port`, its Prometheus endpoint there (operator_passes reads the pass count)."""
    args = [arg for ns in namespaces for arg in ("--namespace", ns)]
    variables = {"BRIDGEDAPP_STRIMZI_MANIFEST": str(env.manifest)}
    if metrics_port is not None:
        variables["BRIDGEDAPP_METRICS_PORT"] = str(metrics_port)
    with running_operator(env.kubeconfig, env.logs / f"{log_name}.log", args=args, env=variables) as proc:
        yield proc


def free_port() -> int:
    """A loopback port nothing listens on now (for an operator's metrics endpoint)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def operator_passes(port: int) -> float:
    """Full reconcile passes the operator has run: its bridgedapp_passes_total metric, every trigger and
    outcome (a pass no longer has a request of its own to count it by in the audit log)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("bridgedapp_passes_total{")
    )


def operator_log_tail(env: Env, log_name: str, lines: int = 30) -> str:
    path = env.logs / f"{log_name}.log"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def check_alive(proc: subprocess.Popen, env: Env, log_name: str) -> None:
    """An operator that exited early is an error worth its log tail, not a hang."""
    if proc.poll() is not None:
        raise BenchError(
            f"the operator exited with {proc.returncode}; last lines of its log:\n{operator_log_tail(env, log_name)}"
        )


# ---- the audit log: who asked the API server what ----------------------------------------------------------------


def collect_by_agent(
    log: AuditLog, expected: dict[str, int], timeout: float = 15.0
) -> dict[str, list[dict[str, Any]]]:
    """Events per User-Agent prefix: waits until each has its expected count, then a quiet moment.

    The log lags the responses a little; events of other clients are dropped.
    """
    found: dict[str, list[dict[str, Any]]] = {agent: [] for agent in expected}
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        new = 0
        for event in log.read():
            agent = event.get("userAgent", "")
            for prefix in found:
                if agent.startswith(prefix):
                    found[prefix].append(event)
                    new += 1
        if new:
            quiet_since = time.monotonic()
        elif all(len(found[a]) >= n for a, n in expected.items()) and time.monotonic() - quiet_since > 0.5:
            break
        time.sleep(0.1)
    return found


def request_key(event: dict[str, Any]) -> str:
    """`verb resource` (with subresource), or `verb /path` for a non-resource URL such as /version."""
    ref = event.get("objectRef")
    if not ref:
        return f"{event.get('verb')} {event.get('requestURI', '').split('?')[0]}"
    resource = ref.get("resource", "?")
    if ref.get("subresource"):
        resource += f"/{ref['subresource']}"
    return f"{event.get('verb')} {resource}"


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]
