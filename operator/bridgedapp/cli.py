"""`bridgedapp run | render | status | explain`: the thin entry point. `run` only wires Kopf to the handlers."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bridgedapp.settings import Settings, default_text, env_name, flags_of

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
    _add_settings(run)
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


def _add_settings(run: argparse.ArgumentParser) -> None:
    """One flag per setting, generated from its declaration; a flag not given leaves the environment's value."""
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("`", "")
        help_text = f"{description} [{env_name(name)}, default: {default_text(field)}]".replace("%", "%%")
        options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        if field.annotation is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(field.annotation) is tuple:
            options.update(action="append", metavar=name.removesuffix("s").upper())
        elif typing.get_origin(field.annotation) is typing.Literal:
            options["metavar"] = "{" + ",".join(typing.get_args(field.annotation)) + "}"
        run.add_argument(*flags_of(name, field), **options)


def load_settings(args: argparse.Namespace) -> Settings:
    """The environment's settings, each overridden by its flag; a bad value is one CliError naming its source."""
    flags = {name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)}
    try:
        return Settings(**flags)
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            field = Settings.model_fields.get(name)
            source = name if field is None else flags_of(name, field)[0] if name in flags else env_name(name)
            problems.append(f"{source}={error['input']!r}: {error['msg']}")
        raise CliError("bad setting: " + "; ".join(problems)) from None


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args)  # before Kopf: a bad value stops the process with one line
    import kopf

    from bridgedapp import handlers  # noqa: F401  (registers the handlers)

    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=args.verbose, log_prefix=True, log_format=log_format)  # lines name [ns/name]
    memo = kopf.Memo(settings=settings)
    namespaces = list(settings.namespaces)
    if settings.metrics_port:
        from bridgedapp import metrics

        metrics.serve(settings.metrics_port)
    kopf_settings = kopf.OperatorSettings()
    kopf_settings.process.ultimate_exiting_timeout = SHUTDOWN_SECONDS
    kopf_settings.peering.lifetime = PEER_LIFETIME_SECONDS
    kopf_settings.peering.mandatory = bool(settings.peering)  # a replica must never fall back to acting alone
    asyncio.run(
        kopf.operator(
            settings=kopf_settings,
            standalone=not settings.peering,
            peering_name=settings.peering,
            # Equal priorities freeze every replica (Kopf's rule); a random one per process never ties.
            priority=settings.priority if settings.priority is not None else secrets.randbelow(2**31 - 1) + 1,
            liveness_endpoint=settings.liveness,
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
