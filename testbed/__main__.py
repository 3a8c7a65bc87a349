"""`python -m testbed build | up | down | status | run`: the local control plane from a shell."""

from __future__ import annotations

import argparse
import sys
import time

from testbed import host, toolchain
from testbed.cluster import ClusterError, LocalCluster, describe, install_signal_handlers, kwok_workdir
from testbed.sandbox import SANDBOX_NAME, how_to_connect, run_sandbox, sandbox_kubeconfig, start_sandbox
from testbed.toolchain import ToolchainError


def cmd_build(args: argparse.Namespace) -> int:
    """Build (or find) every binary and say where they are."""
    started = time.monotonic()
    binaries = toolchain.ensure_binaries(progress=True)
    print(f"control-plane binaries ready ({time.monotonic() - started:.1f}s):")
    for name, path in binaries.all().items():
        print(f"  {name:24} {path}")
    print(f"  {'helm':24} {toolchain.ensure_helm(progress=True)}")
    from testbed.kafka.jars import ensure_kafka_libs

    libs = ensure_kafka_libs(progress=True)
    print(f"Kafka jars ready: {libs}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start (or reuse) the persistent sandbox cluster and print how to reach it."""
    started = time.monotonic()
    cluster, kubeconfig = start_sandbox()
    print(f"ready in {time.monotonic() - started:.1f}s")
    print(how_to_connect(cluster, kubeconfig))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Delete the sandbox (and with --all every bridgedapp-* cluster in our kwok work dir)."""
    names = [row["name"] for row in describe()] if args.all else [SANDBOX_NAME]
    for name in names:
        cluster = LocalCluster(name)
        existed = cluster.exists()
        cluster.delete()
        print(f"deleted {name}" if existed else f"{name}: not present")
    if SANDBOX_NAME in names:
        sandbox_kubeconfig().unlink(missing_ok=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Where the binaries are (or which are missing) and which clusters exist and run."""
    binaries, missing = toolchain.locate()
    print(f"cache: {host.cache_dir()}")
    if binaries:
        for name, path in binaries.all().items():
            print(f"  {name:24} {path}")
    else:
        print(f"  missing binaries: {', '.join(missing)} (run: python -m testbed build)")
    rows = describe()
    print(f"clusters in {kwok_workdir() / 'clusters'}: {len(rows) or 'none'}")
    for row in rows:
        state = f"running ({', '.join(row['running'])})" if row["running"] else "stopped"
        if not row["exists"]:
            state = "no folder (owner record only)"
        owner = row["owner"] if row["owner"] == "persistent" else f"owner pid {row['owner']}"
        alive = "" if row["owner"] == "persistent" else (" alive" if row["owner_alive"] else " DEAD")
        print(f"  {row['name']:32} {state}; {owner}{alive}")
    if any(r["name"] == SANDBOX_NAME and r["exists"] for r in rows):
        print(f"sandbox: export KUBECONFIG={sandbox_kubeconfig()}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator; the sandbox logic lives in testbed/sandbox.py."""
    return run_sandbox(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m testbed",
        description=(
            "Local Kubernetes control plane for bridgedapp's tests and `make run`: etcd, kube-apiserver, "
            "kube-controller-manager, kube-scheduler and kubectl built from their Go modules, started by "
            "kwokctl as local processes. Nodes are simulated by kwok. Binaries are cached under "
            "$BRIDGEDAPP_CACHE_DIR (default ~/.cache/bridgedapp); $KUBEBUILDER_ASSETS binaries are used "
            "when present."
        ),
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "build",
        help="build the control-plane binaries once (minutes cold, seconds after) and print their paths",
        description="Build etcd, Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, "
        "kubectl) and kwok/kwokctl from the Go module proxy into the cache; no-op when present.",
    ).set_defaults(func=cmd_build)
    sub.add_parser(
        "up",
        help=f"start (or reuse) the persistent sandbox cluster {SANDBOX_NAME}",
        description=f"Start {SANDBOX_NAME} with 3 fake nodes, write its kubeconfig to "
        f"{sandbox_kubeconfig()} and print how to use kubectl on it. It keeps running until "
        "`python -m testbed down`.",
    ).set_defaults(func=cmd_up)
    down = sub.add_parser(
        "down",
        help="delete the sandbox cluster",
        description="Delete the sandbox cluster and wait until its processes are gone.",
    )
    down.add_argument(
        "--all",
        action="store_true",
        help="also delete every other bridgedapp-* cluster, including ones a running test session uses",
    )
    down.set_defaults(func=cmd_down)
    sub.add_parser(
        "status",
        help="show the cached binaries and the clusters (running or not, owner alive or not)",
    ).set_defaults(func=cmd_status)
    run = sub.add_parser(
        "run",
        help="run the operator: against $KUBECONFIG if set, else on the sandbox (what `make run` does)",
        description="With KUBECONFIG set, exec `bridgedapp run` against it. Otherwise start the sandbox, "
        "apply crds/, print how to kubectl in and run the operator against it; the sandbox is deleted "
        "on exit unless --keep. Arguments after `--` go to `bridgedapp run`.",
    )
    run.add_argument("--keep", action="store_true", help="leave the sandbox running after the operator exits")
    run.add_argument("operator_args", nargs=argparse.REMAINDER, help="passed on to `bridgedapp run`")
    run.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "operator_args", None) and args.operator_args[0] == "--":
        args.operator_args = args.operator_args[1:]
    install_signal_handlers()
    try:
        return int(args.func(args))
    except (ToolchainError, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
