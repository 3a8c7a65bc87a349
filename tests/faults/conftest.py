"""The fault suite's test bed: one local control plane of its own, the Strimzi simulator (a named test double)
in a process of its own, and the operator as its users run it (`python -m bridgedapp run`), a subprocess the
tests SIGKILL and start again. Its own cluster because the suite restarts and stops the control plane.

`BRIDGEDAPP_FAULTS=full` runs every scenario at full size (20 kills, 200 apps, whole control-plane stop);
by default a fast subset runs. `BRIDGEDAPP_FAULTS_SEED=N` replays one run's random choices.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
import pytest

from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.lifecycle import die_with_parent
from testbed.toolchain import Binaries
from tests.conftest import _wait_until

REPO = Path(__file__).resolve().parents[2]
FAULTS_DIR = Path(__file__).resolve().parent
FULL = os.environ.get("BRIDGEDAPP_FAULTS", "").lower() == "full"


def sized(fast: int, full: int) -> int:
    """A scenario's size: small by default, the issue's size under BRIDGEDAPP_FAULTS=full."""
    return full if FULL else fast


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything here is the fault suite (marker `faults`) and needs the control plane."""
    for item in items:
        if FAULTS_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


def report(scenario: str, **counts: Any) -> None:
    """One greppable line per scenario with its counts, shown with `-s` and copied into docs/reliability.md."""
    fields = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"\n[faults] {scenario}: mode={'full' if FULL else 'fast'} {fields}", file=sys.stderr, flush=True)


@dataclass
class Operator:
    """The operator as a child process; each start logs to a file of its own, all kept for the secret scan."""

    kubeconfig: Path
    log_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"operator-{len(self.logs):03d}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bridgedapp", "run", "--verbose"],
                env={**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                cwd=REPO,
            )
        return self.proc

    def kill(self) -> None:
        """SIGKILL: no handler runs, no finalizer is released, nothing is flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mark(self) -> tuple[int, int]:
        """Where the logs end now: (which log, its size), for `text_since`."""
        if not self.logs:
            return (0, 0)
        last = self.logs[-1]
        return (len(self.logs) - 1, last.stat().st_size if last.exists() else 0)

    def wait_quiet(self, quiet_for: float = 3.0, timeout: float = 60.0) -> None:
        """Until the operator (which logs every pass at DEBUG) has logged nothing for `quiet_for` seconds."""
        deadline = time.monotonic() + timeout
        seen, since = self.mark(), time.monotonic()
        while time.monotonic() - since < quiet_for:
            if time.monotonic() > deadline:
                pytest.fail(f"the operator kept logging for {timeout:.0f}s", pytrace=False)
            time.sleep(0.5)
            if (now := self.mark()) != seen:
                seen, since = now, time.monotonic()

    def text_since(self, mark: tuple[int, int]) -> str:
        """What every run of the operator logged after `mark`."""
        index, offset = mark
        parts = []
        for i, path in enumerate(self.logs[index:], start=index):
            with path.open("rb") as log:
                log.seek(offset if i == index else 0)
                parts.append(log.read().decode(errors="replace"))
        return "".join(parts)


@dataclass
class Bed:
    cluster: LocalCluster
    api: pykube.HTTPClient
    operator: Operator
    rng: random.Random
    seed: int


@pytest.fixture(scope="session")
def faults_seed() -> int:
    seed = int(os.environ.get("BRIDGEDAPP_FAULTS_SEED") or random.SystemRandom().randrange(1, 10**6))
    print(f"\n[faults] seed={seed} (replay with BRIDGEDAPP_FAULTS_SEED={seed})", file=sys.stderr, flush=True)
    return seed


@pytest.fixture(scope="session")
def faults_bed(
    binaries: Binaries,
    strimzi_manifest: Path,
    faults_seed: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Bed]:
    """The cluster, the simulator (own process) and the operator (own process), for the whole suite."""
    work = tmp_path_factory.mktemp("faults")
    local = LocalCluster(f"{os.getpid()}-faults", binaries=binaries, progress=False)
    local.create()
    try:
        local.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        local.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")
        with (work / "simulator.log").open("wb") as sim_log:
            simulator = subprocess.Popen(
                [sys.executable, "-m", "testbed.strimzi_sim", "--kubeconfig", str(local.kubeconfig)],
                stdout=sim_log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                cwd=REPO,
            )
        operator = Operator(local.kubeconfig, work, {"BRIDGEDAPP_STRIMZI_MANIFEST": str(strimzi_manifest)})
        try:
            yield Bed(
                local, pykube_client(local.kubeconfig), operator, random.Random(faults_seed), faults_seed
            )
        finally:
            operator.stop()
            simulator.terminate()
            simulator.wait(timeout=20)
    finally:
        local.delete()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until truthy; fail naming `what` (and what the predicate last explained) on timeout: the
    integration tier's `wait_until`, with the positional arguments these scenarios read best with."""
    return _wait_until(predicate, timeout=timeout, what=what, interval=interval)
