"""A real local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler) via kwokctl.

Nodes and kubelets are simulated by kwok; everything an operator talks to is the real API server.
Clusters live under our own kwok work dir (<cache>/kwok-workdir), each named `bridgedapp-...`, and
each records the pid of the process that owns it, so a cluster left behind by a killed run is
deleted by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import yaml

from testbed.host import cache_dir, file_lock, port_free, tail_file
from testbed.toolchain import Binaries, ensure_binaries, locate

PREFIX = "bridgedapp-"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller")
DEFAULT_NODES = 3
READY_TIMEOUT = 120.0  # our own readiness wait (detects a dead component at once)
KWOKCTL_WAIT = "60s"  # kwokctl's --wait: it only logs when this runs out, we then keep waiting
STOP_GRACE = 20.0

# Metadata level: who did what to which object, never request or response bodies (no Secret data).
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


# Options kwokctl cannot take as flags. Loopback only: etcd serves plain HTTP without auth, and
# kwokctl's default bind address is 0.0.0.0. Ports are ours to pick (see _allocate_ports).
PORT_OPTIONS = (
    "etcdPeerPort",
    "etcdPort",
    "kubeApiserverPort",
    "kubeControllerManagerPort",
    "kubeSchedulerPort",
    "kwokControllerPort",
)
PORT_RANGE = range(32767, 20000, -1)  # below Linux's ephemeral range: no client socket takes them

# One controller-manager and one scheduler per cluster: nothing to elect. With leader election on, both exit
# once the API server has been unreachable longer than their lease (~15 s), and kwokctl does not restart
# them, so a test that restarts the API server would go on with no garbage collector or ReplicaSets.
COMPONENTS_PATCHES = [
    {"name": name, "extraArgs": [{"key": "leader-elect", "value": "false"}]}
    for name in ("kube-controller-manager", "kube-scheduler")
]


class ClusterError(RuntimeError):
    """The control plane failed: the message names the component and shows the tail of its log."""


def kwok_workdir() -> Path:
    """Our own KWOK_WORKDIR, so our clusters never mix with (or touch) a user's ~/.kwok."""
    return cache_dir() / "kwok-workdir"


def clusters_dir() -> Path:
    return kwok_workdir() / "clusters"


def owners_dir() -> Path:
    return kwok_workdir() / "owners"


def _proc_start_time(pid: int) -> int | None:
    """Kernel start time of a pid (clock ticks since boot): tells a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie holds no ports, files or memory of note)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _belongs_to(pid: int, cluster_dir: Path) -> bool:
    """True if the process is one of this cluster's components (guards against pid reuse).

    kwokctl runs every component from the cluster's own bin/ folder (symlinks to our binaries), so the
    program itself must be `<cluster>/bin/<component>`: a mere mention of the folder is not enough (a
    simulator or an operator started with the cluster's kubeconfig mentions it too, and is not ours to kill).
    """
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return False
    binary = Path(argv0)
    return binary.parent == cluster_dir / "bin" and binary.name in COMPONENTS


def _processes_of(cluster_dir: Path) -> dict[str, int]:
    """Every live component process of this cluster (its program in the cluster's bin/), found by scanning /proc.

    Catches what the pid files miss, e.g. a component forked by a kwokctl that was killed before
    it wrote the pid file.
    """
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid != os.getpid() and _alive(pid) and _belongs_to(pid, cluster_dir):
            with contextlib.suppress(OSError, IndexError):
                argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                found[f"{Path(argv0).name}#{pid}"] = pid
    return found


@contextlib.contextmanager
def _workdir_lock() -> Iterator[None]:
    """Serialises reaping, owner records and port allocation across processes sharing the work dir."""
    with file_lock(kwok_workdir() / ".create.lock"):
        yield


_LIVE: set[LocalCluster] = set()
_SIGNALS_INSTALLED = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C, so every `with`/finally/pytest teardown deletes its cluster."""
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt (main thread, only where nobody else handles them)."""
    global _SIGNALS_INSTALLED
    if _SIGNALS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_sigterm)
    _SIGNALS_INSTALLED = True


@atexit.register
def _delete_leftovers() -> None:
    """Last line of defence: clusters this process still owns at exit are deleted."""
    for cluster in list(_LIVE):
        with contextlib.suppress(Exception):
            cluster.delete()


class LocalCluster:
    """One kwokctl binary-runtime cluster: real control plane, fake nodes; a context manager.

    `persistent=True` (the sandbox) records no owner pid, so it survives the process that made it.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        nodes: int = DEFAULT_NODES,
        binaries: Binaries | None = None,
        persistent: bool = False,
        progress: bool = False,
    ) -> None:
        if name is None:
            name = f"{PREFIX}{os.getpid()}"
        elif not name.startswith(PREFIX):
            name = PREFIX + name
        self.name = name
        self.nodes = nodes
        self.persistent = persistent
        self.progress = progress
        self._binaries = binaries
        self._pids_seen: dict[str, int] = {}
        self.revived: list[str] = []  # components restart_component() had to start again

    # ---- paths -------------------------------------------------------------------------------------
    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries(progress=True)
        return self._binaries

    @property
    def workdir(self) -> Path:
        """kwokctl's folder for this cluster (config, pki, etcd data, logs/, pids/)."""
        return clusters_dir() / self.name

    @property
    def logs_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def audit_log(self) -> Path:
        return self.logs_dir / "audit.log"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (from `kwokctl get kubeconfig`), inside the cluster folder: gone on delete."""
        return self.workdir / "bridgedapp-admin.kubeconfig"

    @property
    def _owner_file(self) -> Path:
        return owners_dir() / f"{self.name}.json"

    @property
    def _kwokctl_contexts(self) -> Path:
        """kwokctl writes/removes a context here instead of in the user's ~/.kube/config."""
        return owners_dir() / f"{self.name}.contexts.yaml"

    @property
    def _kwokctl_config(self) -> Path:
        """Per-cluster KwokctlConfiguration given to `kwokctl create --config` (ports, bind address)."""
        return owners_dir() / f"{self.name}.kwokctl.yaml"

    def _write_kwokctl_config(self, ports: bool) -> None:
        """An existing cluster keeps the ports in its own kwok.yaml; a new one gets fresh ones."""
        options: dict[str, Any] = {"bindAddress": "127.0.0.1"}
        if ports:
            options.update(zip(PORT_OPTIONS, _allocate_ports(len(PORT_OPTIONS)), strict=True))
        elif self._kwokctl_config.exists():
            return
        doc = {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": options,
            "componentsPatches": COMPONENTS_PATCHES,
        }
        owners_dir().mkdir(parents=True, exist_ok=True)
        self._kwokctl_config.write_text(yaml.safe_dump(doc))

    def __repr__(self) -> str:
        return f"LocalCluster({self.name!r})"

    def _have_kwokctl(self) -> bool:
        """Deleting must never trigger a build: without binaries we kill and remove by hand."""
        if self._binaries is None:
            self._binaries = locate()[0]
        return self._binaries is not None

    # ---- running tools -----------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KWOK_WORKDIR"] = str(kwok_workdir())
        env["KWOK_KUBECTL_BINARY"] = str(self.binaries.kubectl)
        env["PATH"] = os.pathsep.join([*(str(d) for d in self.binaries.path_dirs()), env.get("PATH", "")])
        env.pop("KUBECONFIG", None)
        return env

    def _say(self, message: str) -> None:
        if self.progress:
            print(f"[testbed] {message}", file=sys.stderr, flush=True)

    def kwokctl(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run kwokctl on this cluster, in its own session so a terminal Ctrl-C cannot cut it in half."""
        argv = [str(self.binaries.kwokctl), "--name", self.name, *args]
        proc = subprocess.run(
            argv,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterError(
                f"kwokctl {' '.join(args[:2])} failed for cluster {self.name} (exit {proc.returncode}):\n"
                f"{(proc.stderr or proc.stdout).strip()[-3000:]}\n{self._component_report()}"
            )
        return proc

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's own kubectl with the admin kubeconfig; output captured as text."""
        argv = [str(self.binaries.kubectl), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
        return proc

    # ---- processes and diagnostics -----------------------------------------------------------------
    def pids(self) -> dict[str, int]:
        """Component -> pid, from kwokctl's pids/ folder (empty when stopped or deleted)."""
        result: dict[str, int] = {}
        for pid_file in sorted((self.workdir / "pids").glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                result[pid_file.stem] = int(pid_file.read_text().strip())
        return result

    def running_pids(self) -> dict[str, int]:
        """Every process of this cluster still alive: pid files, pids seen earlier, and a /proc scan."""
        known = {**self._pids_seen, **self.pids()}
        alive = {c: p for c, p in known.items() if _alive(p) and _belongs_to(p, self.workdir)}
        extra = {c: p for c, p in _processes_of(self.workdir).items() if p not in alive.values()}
        return {**alive, **extra}

    def _remember_pids(self) -> None:
        self._pids_seen.update(self.pids())

    def _component_report(self) -> str:
        """Which component is down, with its log tail; else the apiserver's log tail."""
        pids = self.pids()
        lines: list[str] = []
        for component in COMPONENTS:
            pid = pids.get(component)
            if pid is None or not _alive(pid):
                log = self.logs_dir / f"{component}.log"
                if pid is None and not log.exists():
                    continue
                state = "never started" if pid is None else f"exited (pid {pid})"
                lines.append(f"component {component} {state}; last lines of {log}:\n{tail_file(log)}")
        if not lines:
            log = self.logs_dir / "kube-apiserver.log"
            if log.exists():
                lines.append(f"component kube-apiserver; last lines of {log}:\n{tail_file(log)}")
        return "\n".join(lines)

    def _wait_pids_gone(self, pids: dict[str, int], grace: float = STOP_GRACE) -> None:
        """kwokctl returns before its processes exit: wait for them, then SIGKILL what is left."""
        deadline = time.monotonic() + grace
        left = {c: p for c, p in pids.items() if _alive(p) and _belongs_to(p, self.workdir)}
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = {c: p for c, p in left.items() if _alive(p)}
        for pid in left.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in left.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        still = {c: p for c, p in left.items() if _alive(p)}
        if still:
            raise ClusterError(f"cluster {self.name}: processes survived SIGKILL: {still}")

    # ---- readiness -------------------------------------------------------------------------------
    def _wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """The API server answers /readyz with ok and every component process is alive."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            pids = self.pids()
            dead = [c for c in COMPONENTS if c in pids and not _alive(pids[c])]
            if dead:
                raise ClusterError(f"cluster {self.name}: {', '.join(dead)} died\n{self._component_report()}")
            if self.kubeconfig.exists():
                proc = self.kubectl("get", "--raw", "/readyz", check=False, timeout=20)
                if proc.returncode == 0 and proc.stdout.strip() == "ok":
                    return
                last = (proc.stderr or proc.stdout).strip()[-500:]
            time.sleep(0.25)
        raise ClusterError(
            f"cluster {self.name}: kube-apiserver not ready after {timeout:.0f}s ({last})\n"
            f"{self._component_report()}"
        )

    def _wait_nodes(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            proc = self.kubectl("get", "nodes", "-o", "json", check=False)
            if proc.returncode == 0:
                items = json.loads(proc.stdout)["items"]
                ready = sum(
                    1
                    for n in items
                    for c in (n.get("status") or {}).get("conditions") or []
                    if c["type"] == "Ready" and c["status"] == "True"
                )
                if ready >= self.nodes:
                    return
            time.sleep(0.25)
        raise ClusterError(
            f"cluster {self.name}: {ready}/{self.nodes} kwok nodes Ready after {timeout:.0f}s\n"
            f"component kwok-controller; last lines:\n{tail_file(self.logs_dir / 'kwok-controller.log')}"
        )

    def _write_kubeconfig(self) -> None:
        proc = self.kwokctl("get", "kubeconfig")
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(proc.stdout)
        tmp.chmod(0o600)
        os.replace(tmp, self.kubeconfig)

    # ---- lifecycle -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.workdir / "kwok.yaml").exists()

    def is_running(self) -> bool:
        return bool(self.running_pids())

    def create(self) -> LocalCluster:
        """Create (or, if it exists, start and reuse) the cluster; returns when nodes are Ready."""
        binaries = self.binaries
        install_signal_handlers()
        started = time.monotonic()
        kwok_workdir().mkdir(parents=True, exist_ok=True)
        policy = kwok_workdir() / "audit-policy.yaml"
        with _workdir_lock():
            reap_orphans(binaries)
            record = owner_record(self.name)
            mine = record is None or record.get("persistent") or record.get("pid") == os.getpid()
            if not mine and owner_alive(record):
                assert record is not None
                raise ClusterError(f"cluster {self.name} is in use by live process {record['pid']}")
            if not policy.exists() or policy.read_text() != AUDIT_POLICY:
                policy.with_suffix(".tmp").write_text(AUDIT_POLICY)
                os.replace(policy.with_suffix(".tmp"), policy)  # a running create may be copying it
            # kwokctl loads <KWOK_WORKDIR>/kwok.yaml before --config and keeps only the first
            # KwokctlConfiguration: an old one there would silently override ours.
            (kwok_workdir() / "kwok.yaml").unlink(missing_ok=True)
            self._write_kwokctl_config(ports=not self.exists())
            self._write_owner()
            if not self.persistent:
                _LIVE.add(self)
        # Ports are reserved in our config file now, so kwokctl itself runs outside the lock.
        self._say(f"starting cluster {self.name} (kwokctl, binary runtime) in {self.workdir}")
        try:
            self.kwokctl(
                "create",
                "cluster",
                "--runtime",
                "binary",
                "--kubeconfig",
                str(self._kwokctl_contexts),
                "--etcd-binary",
                str(binaries.etcd),
                "--kube-apiserver-binary",
                str(binaries.kube_apiserver),
                "--kube-controller-manager-binary",
                str(binaries.kube_controller_manager),
                "--kube-scheduler-binary",
                str(binaries.kube_scheduler),
                "--kwok-controller-binary",
                str(binaries.kwok),
                "--config",
                str(self._kwokctl_config),
                "--kube-authorization",
                "--kube-admission",
                "--kube-audit-policy",
                str(policy),
                "--wait",
                KWOKCTL_WAIT,
            )
            self._remember_pids()
        except BaseException:
            self._remember_pids()
            self._cleanup_after_failure()
            raise
        try:
            self._write_kubeconfig()
            self._wait_ready()
            if self.nodes:
                self.kwokctl("scale", "node", "--replicas", str(self.nodes))
                self._wait_nodes()
        except BaseException:
            self._cleanup_after_failure()
            raise
        self._say(f"cluster {self.name} ready in {time.monotonic() - started:.1f}s")
        return self

    def _cleanup_after_failure(self) -> None:
        if self.persistent:
            return
        with contextlib.suppress(Exception):
            self.delete()

    def stop(self) -> None:
        """Stop every process (etcd data kept); returns once they have all exited."""
        pids = self.running_pids()
        self.kwokctl("stop", "cluster")
        self._wait_pids_gone(pids)

    def _launch(self, pid: int) -> tuple[list[str], dict[str, str]]:
        """How kwokctl started a live component: its arguments and environment (read from /proc)."""
        argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return argv, dict(item.decode(errors="replace").split("=", 1) for item in environ if b"=" in item)

    def _spawn(self, component: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
        """Start a component exactly as kwokctl does (its folder, log appended, own session, pid file)."""
        (self.workdir / "pids").mkdir(exist_ok=True)
        with (self.logs_dir / f"{component}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd or self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as kwokctl does: not in our process group, not our Ctrl-C
            )
        (self.workdir / "pids" / f"{component}.pid").write_text(str(proc.pid))
        self._remember_pids()
        return proc.pid

    def restart_component(
        self, component: str, down_for: float = 0.0, sig: signal.Signals = signal.SIGTERM
    ) -> int:
        """Stop one component (`sig`, SIGKILL after the grace), keep it down `down_for` seconds, then start
        it again as kwokctl did; returns its new pid. kwokctl itself can only stop everything.

        A component that exited meanwhile (a controller-manager still starting gives up on an API server
        that stays away 10 s) is started again too, and named in `self.revived`.
        """
        launches = {
            c: self._launch(p) for c, p in self.pids().items() if _alive(p) and _belongs_to(p, self.workdir)
        }
        if component not in launches:
            raise ClusterError(f"cluster {self.name}: {component} is not running")
        pid = self.pids()[component]
        os.kill(pid, sig)
        self._wait_pids_gone({component: pid})
        time.sleep(down_for)
        if component == "kwok-controller":
            self._release_node_leases()  # the new one is a new holder (see start())
        new_pid = self._spawn(component, *launches[component])
        if component == "kube-apiserver":
            self._wait_ready()
        for other, launch in launches.items():
            if other != component and not _alive(self.pids()[other]):
                self._say(f"{other} exited while {component} was down: starting it again")
                self._spawn(other, *launch)
                self.revived.append(other)
        return new_pid

    def start(self) -> None:
        """Start a stopped cluster on the same etcd data, one component at a time, each once what it needs
        serves: etcd (healthy), the API server (/readyz), then the controllers; returns once the nodes are
        Ready again.

        `kwokctl start cluster` forks all five at once and does not wait for any. Its kwok-controller then
        comes back under a new holder identity (hostname + a fresh uuid) and leaves every node alone while
        the stopped one's node leases (200 s, renewed every 50 s) have not run out, and after that only
        looks again every 50 s: new pods stayed Pending and deleted ones Terminating for up to ~4 minutes.
        A real kubelet comes back as the same holder (its node name), so the test bed hands the leases
        over (`_release_node_leases`) before the simulated kubelets start again.
        """
        running = {c for c, p in self.pids().items() if _alive(p) and _belongs_to(p, self.workdir)}
        for component in self._components():
            name = component["name"]
            if name not in running:
                if name == "kwok-controller":
                    self._release_node_leases()
                argv = [component["binary"], *component.get("args", [])]
                extra = {e["name"]: e.get("value", "") for e in component.get("envs") or []}
                self._spawn(name, argv, {**self._env(), **extra}, cwd=Path(component["workDir"]))
            if name == "etcd":
                self._wait_etcd(component)
            elif name == "kube-apiserver":
                self._wait_ready()
        self._wait_ready()  # and every component is alive
        if self.nodes:
            self._wait_node_leases()
            self._wait_nodes()

    def _components(self) -> list[dict[str, Any]]:
        """The components as kwokctl resolved them at create (binary, args, envs, folder), in its start
        order (etcd, the API server, then what links to it), from the cluster's own kwok.yaml."""
        for doc in yaml.safe_load_all((self.workdir / "kwok.yaml").read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "KwokctlConfiguration" and doc.get("components"):
                return list(doc["components"])
        raise ClusterError(f"cluster {self.name}: no components in {self.workdir / 'kwok.yaml'}")

    def _wait_etcd(self, component: dict[str, Any], timeout: float = READY_TIMEOUT) -> None:
        """Until etcd's /health says true on its client URL (plain HTTP on loopback, see PORT_OPTIONS)."""
        prefix = "--advertise-client-urls="
        url = next(a[len(prefix) :] for a in component["args"] if a.startswith(prefix)).split(",")[0]
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            pid = self.pids().get("etcd")
            if pid is None or not _alive(pid):
                raise ClusterError(f"cluster {self.name}: etcd died\n{self._component_report()}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    last = response.read().decode(errors="replace")
                if json.loads(last).get("health") == "true":
                    return
            except (OSError, ValueError) as err:
                last = str(err)
            time.sleep(0.25)
        raise ClusterError(f"cluster {self.name}: etcd not healthy after {timeout:.0f}s ({last[-300:]})")

    def _release_node_leases(self) -> None:
        """Delete the node leases a stopped kwok-controller held, so the next one (a new holder identity)
        manages the nodes at once instead of after they run out. Needs the API server; call while no
        kwok-controller runs."""
        self.kubectl("delete", "leases", "--all", "--namespace", "kube-node-lease", "--wait=false")

    def _wait_node_leases(self, timeout: float = 60) -> None:
        """Until the new kwok-controller holds a lease for every node again: it manages their pods."""
        deadline = time.monotonic() + timeout
        held = 0
        while time.monotonic() < deadline:
            proc = self.kubectl("get", "leases", "--namespace", "kube-node-lease", "-o", "json", check=False)
            if proc.returncode == 0:
                items = json.loads(proc.stdout)["items"]
                held = sum(1 for lease in items if (lease.get("spec") or {}).get("holderIdentity"))
                if held >= self.nodes:
                    return
            time.sleep(0.25)
        raise ClusterError(
            f"cluster {self.name}: {held}/{self.nodes} node leases held after {timeout:.0f}s "
            f"(see {self.logs_dir / 'kwok-controller.log'})"
        )

    def delete(self) -> None:
        """Delete the cluster and wait until none of its processes is left; safe to call twice."""
        pids = self.running_pids()
        try:
            if self.workdir.exists() and self._have_kwokctl():
                proc = self.kwokctl(
                    "delete", "cluster", "--kubeconfig", str(self._kwokctl_contexts), check=False
                )
                if proc.returncode != 0:
                    self._say(f"kwokctl delete failed for {self.name}; removing it by hand")
            self._wait_pids_gone(pids)
            if self.workdir.exists():
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            for f in (self._owner_file, self._kwokctl_contexts, self._kwokctl_config):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
            _LIVE.discard(self)
            self._pids_seen.clear()

    def _write_owner(self) -> None:
        owners_dir().mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"name": self.name, "persistent": self.persistent, "created": time.time()}
        if not self.persistent:
            record["pid"] = os.getpid()
            record["pid_start"] = _proc_start_time(os.getpid())
        tmp = self._owner_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._owner_file)

    def __enter__(self) -> LocalCluster:
        return self.create()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()


def _reserved_ports() -> set[int]:
    """Ports of every cluster in our work dir, running or stopped (a stopped one needs them back).

    kwokctl itself only avoids ports that are busy right now, so a stopped cluster's ports could
    be handed to the next cluster and its restart would fail with "address already in use".
    """
    reserved: set[int] = set()
    sources = [*clusters_dir().glob("*/kwok.yaml"), *owners_dir().glob("*.kwokctl.yaml")]
    for path in sources:
        with contextlib.suppress(OSError, yaml.YAMLError):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "KwokctlConfiguration":
                    options = doc.get("options") or {}
                    reserved.update(int(options[k]) for k in PORT_OPTIONS if options.get(k))
    return reserved


def _allocate_ports(count: int) -> list[int]:
    """Free ports that no cluster of ours has claimed (call under _workdir_lock)."""
    reserved = _reserved_ports()
    ports: list[int] = []
    for port in PORT_RANGE:
        if port not in reserved and port_free(port, ("127.0.0.1", "0.0.0.0")):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ClusterError(f"no {count} free ports left in {PORT_RANGE}")


def owner_record(name: str) -> dict[str, Any] | None:
    try:
        return json.loads((owners_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def owner_alive(record: dict[str, Any] | None) -> bool:
    """A persistent cluster always counts as owned; else its owner pid must be the same live process."""
    if record is None:
        return False
    if record.get("persistent"):
        return True
    pid = record.get("pid")
    return isinstance(pid, int) and _alive(pid) and _proc_start_time(pid) == record.get("pid_start")


def list_clusters() -> list[str]:
    """Names of our clusters (kwok folders) and of owner records without a folder yet."""
    names = {p.name for p in clusters_dir().glob(f"{PREFIX}*") if p.is_dir()}
    names |= {p.name[: -len(".json")] for p in owners_dir().glob(f"{PREFIX}*.json")}
    return sorted(names)


def reap_orphans(binaries: Binaries | None = None, *, min_age: float = 600.0) -> list[str]:
    """Delete clusters whose owning process is gone (a killed run); returns their names.

    A folder with no owner record at all is only removed once older than `min_age` seconds.
    """
    reaped: list[str] = []
    for name in list_clusters():
        record = owner_record(name)
        if owner_alive(record):
            continue
        folder = clusters_dir() / name
        if record is None and folder.exists() and time.time() - folder.stat().st_mtime < min_age:
            continue
        print(f"[testbed] deleting cluster {name} left by a dead process", file=sys.stderr, flush=True)
        LocalCluster(name, binaries=binaries).delete()
        reaped.append(name)
    return reaped


def describe(names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Status rows for `python -m testbed status`."""
    rows = []
    for name in names or list_clusters():
        c = LocalCluster(name, binaries=None)
        record = owner_record(name)
        rows.append(
            {
                "name": name,
                "exists": c.exists(),
                "running": {k: v for k, v in c.pids().items() if _alive(v)},
                "owner": "persistent" if record and record.get("persistent") else (record or {}).get("pid"),
                "owner_alive": owner_alive(record),
                "workdir": str(c.workdir),
            }
        )
    return rows
