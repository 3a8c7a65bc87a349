"""Which processes the test bed counts as a cluster's own (and may therefore kill): only its components.

Real processes, no cluster: a program run from a cluster folder's bin/ is a component; a process that
merely names the folder (a simulator given the cluster's kubeconfig, a shell whose cwd is there) is not.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.cluster import _belongs_to, _processes_of


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bridgedapp-1-x"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "kube-scheduler").symlink_to("/bin/sleep")  # kwokctl links our binaries so
    (folder / "bin" / "tool").symlink_to("/bin/sleep")  # a program there that is no component
    return folder


@pytest.fixture
def spawn() -> Iterator:
    started: list[subprocess.Popen[bytes]] = []

    def run(argv: list[str], cwd: Path | None = None) -> int:
        proc = subprocess.Popen(argv, cwd=cwd)
        started.append(proc)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0] != argv[0].encode():
            assert time.monotonic() < deadline, "the child never exec'd"  # fork seen before exec
            time.sleep(0.01)
        return proc.pid

    yield run
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_component_run_from_the_cluster_bin_folder_belongs(cluster_dir: Path, spawn) -> None:
    pid = spawn([str(cluster_dir / "bin" / "kube-scheduler"), "30"])
    assert _belongs_to(pid, cluster_dir)
    assert pid in _processes_of(cluster_dir).values()


def test_a_process_naming_the_folder_does_not_belong(cluster_dir: Path, spawn) -> None:
    """The bug: stop() SIGKILLed a simulator started with the cluster's kubeconfig."""
    kubeconfig = cluster_dir / "bridgedapp-admin.kubeconfig"
    simulator = spawn([sys.executable, "-c", "import time; time.sleep(30)", f"--kubeconfig={kubeconfig}"])
    in_folder = spawn(["/bin/sleep", "30"], cwd=cluster_dir)
    not_a_component = spawn([str(cluster_dir / "bin" / "tool"), "30"])
    sibling = cluster_dir.parent / "bridgedapp-1-xy"  # a cluster whose name extends this one's
    (sibling / "bin").mkdir(parents=True)
    (sibling / "bin" / "kube-scheduler").symlink_to("/bin/sleep")
    neighbour = spawn([str(sibling / "bin" / "kube-scheduler"), "30"])
    strangers = {simulator, in_folder, not_a_component, neighbour}
    assert not any(_belongs_to(pid, cluster_dir) for pid in strangers)
    assert strangers.isdisjoint(_processes_of(cluster_dir).values())
