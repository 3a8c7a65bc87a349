"""`bridgedapp run | render | status | explain`: the thin entry point. `run` only wires Kopf to the handlers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bridgedapp.settings import Settings

RUN_HELP = """\
Run the operator against the cluster of $KUBECONFIG (or in-cluster credentials).
Every flag has an environment variable; the flag wins."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridgedapp",
        description="A Kubernetes operator that gives an app's Deployment a Strimzi HTTP Bridge sidecar, "
        "a least-privilege KafkaUser and its topics.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the operator", description=RUN_HELP)
    defaults = Settings.from_env()
    run.add_argument(
        "--strimzi-install",
        choices=("auto", "never"),
        default=defaults.strimzi_install,
        help="auto: install Strimzi when none is found; never: only adopt an existing one "
        "[BRIDGEDAPP_STRIMZI_INSTALL, default %(default)s]",
    )
    run.add_argument(
        "--strimzi-version",
        default=defaults.strimzi_version,
        help="Strimzi version to install [BRIDGEDAPP_STRIMZI_VERSION, default %(default)s]",
    )
    run.add_argument(
        "--strimzi-namespace",
        default=defaults.strimzi_namespace,
        help="namespace to install Strimzi into, and the default Kafka namespace "
        "[BRIDGEDAPP_STRIMZI_NAMESPACE, default %(default)s]",
    )
    run.add_argument(
        "--strimzi-manifest",
        default=defaults.strimzi_manifest,
        help="path or URL of the Strimzi install bundle, for air-gapped clusters "
        "[BRIDGEDAPP_STRIMZI_MANIFEST, default: the image's bundled copy, else the release URL]",
    )
    run.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=list(defaults.namespaces),
        help="watch only this namespace for BridgedApps (repeatable) [BRIDGEDAPP_NAMESPACES, comma-separated; "
        "default: all namespaces]",
    )
    run.add_argument("--verbose", "-v", action="store_true", help="debug logging")

    render = sub.add_parser(
        "render",
        help="print, offline, the objects the operator would write",
        description="Print the objects the operator would create for BridgedApps and the Deployments after "
        "injection, as YAML, with no cluster: for review in a pull request (like istioctl kube-inject).",
    )
    render.add_argument(
        "argv", nargs=argparse.REMAINDER, help="arguments of render (see `bridgedapp render -h`)"
    )

    explain = sub.add_parser(
        "explain",
        help="why a BridgedApp is not Ready (exit 0 when Ready, 1 otherwise)",
        description="Why a BridgedApp is not Ready, in a few lines; see `bridgedapp explain -h`.",
    )
    explain.add_argument("argv", nargs=argparse.REMAINDER, help="arguments of explain (NAME [-n NS])")

    status = sub.add_parser("status", help="show BridgedApps and their conditions")
    status.add_argument("--namespace", "-n", default=None, help="only this namespace (default: all)")
    return parser


def _run(args: argparse.Namespace) -> int:
    import kopf

    from bridgedapp import handlers  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose, log_prefix=True)  # each line names its object: [ns/name]
    settings = Settings(
        strimzi_install=args.strimzi_install,
        strimzi_version=args.strimzi_version,
        strimzi_namespace=args.strimzi_namespace,
        strimzi_manifest=args.strimzi_manifest,
        namespaces=tuple(args.namespace or ()),
    )
    memo = kopf.Memo(settings=settings)
    namespaces = list(settings.namespaces)
    asyncio.run(
        kopf.operator(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            memo=memo,
        )
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from bridgedapp.kube import Kube
    from bridgedapp.reconciler import APP_API

    kube = Kube.from_env()
    apps = kube.list(APP_API, "BridgedApp", namespace=args.namespace)
    if not apps:
        print("No BridgedApps.")
        return 0
    for app in apps:
        meta, status = app["metadata"], app.get("status") or {}
        print(f"{meta['namespace']}/{meta['name']}  phase={status.get('phase', '-')}")
        for cond in status.get("conditions", []):
            print(f"  {cond['type']:<16} {cond['status']:<8} {cond['reason']:<24} {cond.get('message', '')}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["render"]:
        from bridgedapp.render import main_render

        sys.exit(main_render(argv[1:]))
    if argv[:1] == ["explain"]:
        from bridgedapp.explain import main_explain

        sys.exit(main_explain(argv[1:]))
    args = _parser().parse_args(argv)
    sys.exit({"run": _run, "status": _status}[args.command](args))
