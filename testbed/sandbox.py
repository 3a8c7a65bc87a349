"""`make run` without a cluster: the operator on a local sandbox control plane.

The control plane is real (kube-apiserver + etcd built from Go modules). Two things are SIMULATED and the
sandbox says so when it starts: nodes (kwok) and Strimzi's reconcile loop (testbed.strimzi_sim, a test
double). The operator installs the real Strimzi bundle (from ../shared/strimzi, these machines cannot reach
the release URL), and the sample in deploy/samples is applied so its conditions can be watched progressing.
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
SAMPLES_DIR = REPO_ROOT / "deploy" / "samples"


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
    proc = cluster.kubectl("apply", "--server-side", "-k", str(CRDS_DIR), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl apply -k {CRDS_DIR} failed:\n{proc.stderr}")
    cluster.kubectl("wait", "--for=condition=Established", "crd/bridgedapps.bridgedapp.io", "--timeout=60s")
    print(proc.stdout.strip(), file=sys.stderr)


def apply_samples(cluster: LocalCluster) -> None:
    """The sample app and its BridgedApp (namespace `shop`), so there is something to watch."""
    cluster.kubectl("create", "namespace", "shop", check=False)
    for name in ("deployment.yaml", "bridgedapp.yaml"):
        proc = cluster.kubectl("apply", "-f", str(SAMPLES_DIR / name), check=False)
        print(f"[testbed] {(proc.stdout or proc.stderr).strip()}", file=sys.stderr)


def strimzi_manifest_env() -> dict[str, str]:
    """Point the operator at the official bundle in shared/ unless the user chose a manifest."""
    if os.environ.get("BRIDGEDAPP_STRIMZI_MANIFEST"):
        return {}
    from testbed.strimzi_bundle import bundle_path, missing_reason

    version = os.environ.get("BRIDGEDAPP_STRIMZI_VERSION", "1.2.0")
    path = bundle_path(version)
    if path is None:
        print(f"[testbed] {missing_reason(version)}; the operator will try the release URL", file=sys.stderr)
        return {}
    return {"BRIDGEDAPP_STRIMZI_MANIFEST": str(path)}


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
        print(
            "Strimzi's reconcile loop is SIMULATED here (testbed.strimzi_sim): Kafka, topics and users become "
            "Ready and get real certificates, but no broker runs.\n"
            f"  Watch the sample: {cluster.binaries.kubectl} --kubeconfig {kubeconfig} get ba -A -w",
            flush=True,
        )
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), **strimzi_manifest_env()}
        from testbed.strimzi_sim import StrimziSimulator

        with StrimziSimulator(str(kubeconfig)):
            operator = subprocess.Popen(operator_cmd, env=env)
            try:
                apply_samples(cluster)
                return operator.wait()
            except KeyboardInterrupt:  # the operator got the same Ctrl-C (same process group)
                try:
                    operator.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    operator.kill()
                return 130
    finally:
        if getattr(args, "keep", False):
            print(f"[testbed] --keep: sandbox {cluster.name} left running (python -m testbed down)")
        else:
            print(f"[testbed] deleting sandbox {cluster.name}", file=sys.stderr)
            cluster.delete()
            sandbox_kubeconfig().unlink(missing_ok=True)
