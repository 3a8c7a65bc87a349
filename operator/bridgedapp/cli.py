"""`bridgedapp run | render | status | explain`: the thin entry point. `run` only wires Kopf to the handlers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bridgedapp.settings import Settings

if TYPE_CHECKING:
    from bridgedapp.kube import Kube

# SIGTERM to exit, at most: inside the Deployment's terminationGracePeriodSeconds (30).
SHUTDOWN_SECONDS = 20.0
PEER_LIFETIME_SECONDS = 20  # a replica that stops renewing its peering record is taken over after this

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
    run.add_argument(
        "--single-tenant",
        action="store_true",
        default=defaults.single_tenant,
        help="one team per cluster: any BridgedApp may get ACLs on any topic and consumer group, with no "
        "owner's or admin's allowance [BRIDGEDAPP_SINGLE_TENANT, default false]",
    )
    run.add_argument(
        "--liveness",
        default=defaults.liveness,
        help="serve Kopf's liveness probe at this URL, e.g. http://0.0.0.0:8080/healthz "
        "[BRIDGEDAPP_LIVENESS, default: none]",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=defaults.metrics_port,
        help="serve Prometheus metrics on this port at /metrics [BRIDGEDAPP_METRICS_PORT, default: off]",
    )
    run.add_argument(
        "--log-format",
        choices=("plain", "json"),
        default=defaults.log_format,
        help="json: one JSON object per log line [BRIDGEDAPP_LOG_FORMAT, default %(default)s]",
    )
    run.add_argument(
        "--peering",
        default=defaults.peering,
        help="Kopf peering object to take turns through, so several replicas are safe: only the one of "
        "highest priority acts [BRIDGEDAPP_PEERING, default: none, run alone]",
    )
    run.add_argument(
        "--priority",
        type=int,
        default=defaults.priority,
        help="peering priority [BRIDGEDAPP_PRIORITY, default: random, so replicas never tie]",
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

    status = sub.add_parser(
        "status",
        help="show BridgedApps and their conditions",
        description="List BridgedApps with their phase and every condition (type, status, reason, message), "
        "read from the cluster of $KUBECONFIG (or in-cluster credentials).",
    )
    status.add_argument("--namespace", "-n", default=None, help="only this namespace (default: all)")
    return parser


def _run(args: argparse.Namespace) -> int:
    import kopf

    from bridgedapp import handlers  # noqa: F401  (registers the handlers)

    log_format = kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=args.verbose, log_prefix=True, log_format=log_format)  # lines name [ns/name]
    settings = dataclasses.replace(  # the environment's settings, each overridden by its flag
        Settings.from_env(),
        strimzi_install=args.strimzi_install,
        strimzi_version=args.strimzi_version,
        strimzi_namespace=args.strimzi_namespace,
        strimzi_manifest=args.strimzi_manifest,
        namespaces=tuple(args.namespace or ()),
        single_tenant=args.single_tenant,
    )
    memo = kopf.Memo(settings=settings)
    namespaces = list(settings.namespaces)
    if args.metrics_port:
        from bridgedapp import metrics

        metrics.serve(args.metrics_port)
    kopf_settings = kopf.OperatorSettings()
    kopf_settings.process.ultimate_exiting_timeout = SHUTDOWN_SECONDS
    kopf_settings.peering.lifetime = PEER_LIFETIME_SECONDS
    kopf_settings.peering.mandatory = bool(args.peering)  # a replica must never fall back to acting alone
    asyncio.run(
        kopf.operator(
            settings=kopf_settings,
            standalone=not args.peering,
            peering_name=args.peering,
            # Equal priorities freeze every replica (Kopf's rule); a random one per process never ties.
            priority=args.priority if args.priority is not None else secrets.randbelow(2**31 - 1) + 1,
            liveness_endpoint=args.liveness,
            clusterwide=not namespaces,
            namespaces=namespaces,
            memo=memo,
        )
    )
    return 0


class CliError(Exception):
    """A problem worth one line on stderr and exit code 1, never a traceback."""


def _client() -> Kube:
    """The operator's API client, or CliError naming what is missing (no kubeconfig, a broken one)."""
    from kubernetes.config.config_exception import ConfigException

    from bridgedapp.kube import Kube, KubeError

    try:
        return Kube.from_env()
    except KubeError as err:
        raise CliError(str(err)) from None
    except (ConfigException, OSError, ValueError) as err:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise CliError(f"cannot load a kubeconfig ({where}) or in-cluster credentials: {err}") from None


def _status(args: argparse.Namespace) -> int:
    from bridgedapp.kube import KubeError
    from bridgedapp.reconciler import APP_API

    kube = _client()
    try:
        apps = kube.list(APP_API, "BridgedApp", namespace=args.namespace)
    except KubeError as err:
        raise CliError(str(err)) from None
    if not apps:
        print("No BridgedApps.")
        return 0
    for app in apps:
        meta, status = app["metadata"], app.get("status") or {}
        print(f"{meta['namespace']}/{meta['name']}  phase={status.get('phase', '-')}")
        for cond in status.get("conditions", []):
            print(f"  {cond['type']:<16} {cond['status']:<8} {cond['reason']:<24} {cond.get('message', '')}")
    return 0


def _quietly(command: Callable[[], int]) -> int:
    """Run a command: a CliError is one line on stderr (exit 1); a closed pipe (`| head`) is not an error."""
    try:
        return command()
    except CliError as err:
        print(f"bridgedapp: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away: point stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["render"]:
        from bridgedapp.render import main_render

        sys.exit(_quietly(lambda: main_render(argv[1:])))
    if argv[:1] == ["explain"]:
        from bridgedapp.explain import main_explain

        sys.exit(_quietly(lambda: main_explain(argv[1:])))
    args = _parser().parse_args(argv)
    sys.exit(_quietly(lambda: {"run": _run, "status": _status}[args.command](args)))
