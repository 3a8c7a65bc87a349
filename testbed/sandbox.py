"""`make run` without a cluster: the operator on a local sandbox control plane (minimal version).

The control plane is real (kube-apiserver + etcd built from Go modules); nodes are simulated by kwok.
The coordinator extends this module (Strimzi simulator, a sample BridgedApp).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from testbed.cluster import ClusterError, LocalCluster

SANDBOX_NAME = "bridgedapp-sandbox"
REPO_ROOT = Path(__file__).resolve().parent.parent
CRDS_DIR = REPO_ROOT / "crds"


def sandbox_kubeconfig() -> Path:
    """Where `up`/`run` put the sandbox's admin kubeconfig for humans (git-ignored)."""
    return REPO_ROOT / ".sandbox" / "kubeconfig"


def sandbox_cluster(progress: bool = True) -> LocalCluster:
    """The one named sandbox; persistent, so it outlives the command that started it."""
    return LocalCluster(SANDBOX_NAME, persistent=True, progress=progress)


def start_sandbox() -> tuple[LocalCluster, Path]:
    """Start (or reuse) the sandbox and copy its kubeconfig to <repo>/.sandbox/kubeconfig."""
    try:
        cluster = sandbox_cluster().create()
    except ClusterError as err:
        raise ClusterError(f"{err}\n(`python -m testbed down` removes a half-started sandbox)") from err
    target = sandbox_kubeconfig()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(cluster.kubeconfig.read_text())
    tmp.chmod(0o600)
    os.replace(tmp, target)
    return cluster, target


def how_to_connect(
    cluster: LocalCluster, kubeconfig: Path, footer: str = "Delete it with: python -m testbed down"
) -> str:
    """The lines a human needs to kubectl into the sandbox, and what in it is simulated."""
    return (
        f"Sandbox cluster {cluster.name} is up: real kube-apiserver/etcd/controller-manager/scheduler "
        f"(Kubernetes built from Go modules); nodes are SIMULATED by kwok ({cluster.nodes} fake nodes).\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        f"  {cluster.binaries.kubectl} get nodes\n"
        f"Logs (incl. audit.log): {cluster.logs_dir}\n"
        f"{footer}"
    )


def apply_crds(cluster: LocalCluster) -> None:
    """Install the project's CRDs, if any have been generated yet."""
    if not any(CRDS_DIR.glob("*.yaml")):
        print(f"[testbed] no CRDs in {CRDS_DIR} yet; skipping kubectl apply", file=sys.stderr)
        return
    proc = cluster.kubectl("apply", "--server-side", "-f", str(CRDS_DIR), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl apply -f {CRDS_DIR} failed:\n{proc.stderr}")
    print(proc.stdout.strip(), file=sys.stderr)


def run_sandbox(args: argparse.Namespace) -> int:
    """Run `bridgedapp run`: against $KUBECONFIG if set, else on the sandbox (deleted after unless --keep)."""
    operator_cmd = [sys.executable, "-m", "bridgedapp", "run", *getattr(args, "operator_args", [])]
    if os.environ.get("KUBECONFIG"):
        print(f"[testbed] KUBECONFIG is set: running the operator against {os.environ['KUBECONFIG']}")
        sys.stdout.flush()
        os.execv(sys.executable, operator_cmd)
    cluster, kubeconfig = start_sandbox()
    try:
        apply_crds(cluster)
        footer = (
            "The sandbox stays after the operator exits (--keep)."
            if getattr(args, "keep", False)
            else "Ctrl-C stops the operator and deletes the sandbox (--keep leaves it running)."
        )
        print(how_to_connect(cluster, kubeconfig, footer), flush=True)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        try:
            return subprocess.run(operator_cmd, env=env, check=False).returncode
        except KeyboardInterrupt:
            return 130
    finally:
        if getattr(args, "keep", False):
            print(f"[testbed] --keep: sandbox {cluster.name} left running (python -m testbed down)")
        else:
            print(f"[testbed] deleting sandbox {cluster.name}", file=sys.stderr)
            cluster.delete()
            sandbox_kubeconfig().unlink(missing_ok=True)
