"""`bridgedapp render`: offline, the objects the operator would write for some BridgedApps, for review in a PR.

The same pure builders the handlers use, fed from files instead of a cluster: Kafka + KafkaNodePool (when
`kafka.create`), KafkaTopics, the KafkaUser, the bridge ConfigMap, the credentials Secret and the app's
Deployment as it would be after injection (`sidecar.apply_patch_locally`, an approximation of server-side
apply). Strimzi's user and cluster-CA Secrets may be given too; then the credentials Secret and the
config hash are exact. The user's private key is never printed: its value is left empty in the output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from bridgedapp import GROUP, KIND, LABEL_PREFIX
from bridgedapp import reasons as r
from bridgedapp.builders import bridge, sidecar
from bridgedapp.builders import user as user_builder
from bridgedapp.builders.kafka import API_V1, cluster_ca_cert_name
from bridgedapp.models import BridgedAppSpec, parse_spec, spec_problems
from bridgedapp.plan import plan
from bridgedapp.strimzi import StrimziInfo
from bridgedapp.world import World

PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
RENDER_NOTE_ANNOTATION = f"{LABEL_PREFIX}render-note"
EXIT_OK = 0
EXIT_INVALID = 2


class RenderError(ValueError):
    """Invalid input (a spec, a file, a missing object): the CLI prints it and exits 2."""


@dataclass
class RenderResult:
    objects: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or "default"), str(meta.get("name"))


def _is_bridged_app(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == KIND and str(obj.get("apiVersion", "")).startswith(f"{GROUP}/")


def _spec_error(app_id: str, error: ValidationError) -> RenderError:
    """One line per problem, each naming the field as it is written in YAML (spec.bridge.http.port)."""
    return RenderError("\n".join(f"BridgedApp {app_id}: {line}" for line in spec_problems(error)))


def _validated(app: dict[str, Any]) -> BridgedAppSpec:
    meta = app.get("metadata") or {}
    app_id = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
    if not meta.get("name"):
        raise RenderError("a BridgedApp without metadata.name")
    try:
        return parse_spec(app.get("spec") or {})
    except ValidationError as exc:
        raise _spec_error(app_id, exc) from None


def _redacted(secret: dict[str, Any]) -> dict[str, Any]:
    shown = {**secret, "metadata": {**secret["metadata"]}, "data": dict(secret["data"])}
    shown["data"][bridge.USER_KEY_KEY] = ""
    shown["metadata"]["annotations"] = {
        RENDER_NOTE_ANNOTATION: f"{bridge.USER_KEY_KEY} redacted by bridgedapp render; the operator writes it"
    }
    return shown


def world_from_files(
    app: dict[str, Any],
    spec: BridgedAppSpec,
    deployment: dict[str, Any] | None,
    secrets: dict[tuple[str, str], Any],
    *,
    strimzi_namespace: str,
    kafka_api_version: str,
    server_version: tuple[int, int],
) -> World:
    """The world `plan` sees for `render`: a Strimzi that watches everything, no Kafka yet (or, with
    `kafka.create: false`, the existing one it names), no topic or user yet, Strimzi's Secrets when given, and
    the Deployment when given (else one with only its name, so the apply patch is planned)."""
    meta = app["metadata"]
    kafka_ns = spec.kafka_namespace(strimzi_namespace)
    cluster = spec.kafka.cluster_name
    existing_kafka = (
        None
        if spec.kafka.create
        else {
            "apiVersion": kafka_api_version,
            "kind": "Kafka",
            "metadata": {"name": cluster, "namespace": kafka_ns},
        }
    )
    strimzi = StrimziInfo(
        namespace=strimzi_namespace,
        version="(render)",
        managed=False,
        api_version=kafka_api_version,
        watched_namespaces="*",
    )
    return World(
        app=app,
        kafka_namespace=kafka_ns,
        strimzi=strimzi,
        kafka=existing_kafka,
        user_secret=secrets.get((kafka_ns, user_builder.kafka_user_name(meta["namespace"], meta["name"]))),
        ca_secret=secrets.get((kafka_ns, cluster_ca_cert_name(cluster))),
        deployment=deployment or {"metadata": {"name": spec.deployment_name, "namespace": meta["namespace"]}},
        server_version=server_version,
        steady=True,
    )


def render_result(
    documents: Iterable[dict[str, Any]],
    *,
    strimzi_namespace: str = "kafka",
    kafka_api_version: str = API_V1,
    server_version: tuple[int, int] = (1, 36),
) -> RenderResult:
    """Objects in apply order plus notes for stderr; raises RenderError on invalid input.

    Each app's objects are the operator's own `plan` over a world read from the files (`world_from_files`),
    so what is rendered cannot drift from what the operator writes.
    """
    docs = [d for d in documents if isinstance(d, dict) and d]
    apps = [d for d in docs if _is_bridged_app(d)]
    if not apps:
        raise RenderError("no BridgedApp (apiVersion bridgedapp.io/v1alpha1, kind BridgedApp) in the input")
    deployments = {
        ((d["metadata"].get("namespace") or None), d["metadata"].get("name")): d
        for d in docs
        if d.get("kind") == "Deployment" and d.get("metadata")
    }
    secrets = {(_key(d)[1], _key(d)[2]): d for d in docs if d.get("kind") == "Secret" and d.get("metadata")}

    result = RenderResult(objects=[])
    seen: set[tuple[str, str, str]] = set()

    def emit(obj: dict[str, Any]) -> None:
        key = _key(obj)
        if key not in seen:  # a shared Kafka appears once; the first app governs it, as in the cluster
            seen.add(key)
            result.objects.append(obj)

    for raw_app in apps:
        spec = _validated(raw_app)
        meta = raw_app["metadata"]
        namespace = meta.get("namespace") or "default"
        app = {
            **raw_app,
            "metadata": {**meta, "namespace": namespace, "uid": meta.get("uid") or PLACEHOLDER_UID},
        }
        app_id = f"{namespace}/{meta['name']}"
        if not meta.get("uid"):
            result.notes.append(
                f"BridgedApp {app_id} has no metadata.uid: ownerReferences use the placeholder {PLACEHOLDER_UID}"
            )
        deployment = deployments.get((namespace, spec.deployment_name))
        if deployment is None and (None, spec.deployment_name) in deployments:
            # a manifest without a namespace lands in the app's namespace when applied there
            unplaced = deployments[(None, spec.deployment_name)]
            deployment = {**unplaced, "metadata": {**unplaced["metadata"], "namespace": namespace}}
        world = world_from_files(
            app,
            spec,
            deployment,
            secrets,
            strimzi_namespace=strimzi_namespace,
            kafka_api_version=kafka_api_version,
            server_version=server_version,
        )
        decided = plan(spec.model_copy(update={"paused": False}), world)  # shown as it would be applied
        for check in decided.checks:  # what stops the operator stops the render (a Strimzi Secret incomplete)
            if check.reason in (r.NATIVE_SIDECAR_UNSUPPORTED, r.WAITING_FOR_CREDENTIALS):
                raise RenderError(f"BridgedApp {app_id}: {check.message}")
        _notes(result, app_id, spec, world, deployment)
        for obj in decided.objects:
            if obj.get("kind") == "Secret" and world.user_secret is not None and world.ca_secret is not None:
                emit(_redacted(obj))
            elif obj.get("kind") == "Deployment" and deployment is not None:
                emit(sidecar.apply_patch_locally(deployment, obj))
            else:
                emit(obj)
    return result


def _notes(
    result: RenderResult,
    app_id: str,
    spec: BridgedAppSpec,
    world: World,
    deployment: dict[str, Any] | None,
) -> None:
    """What a reviewer should know about this app's objects (stderr)."""
    kafka_ns, namespace = world.kafka_namespace, world.namespace
    secret_name = bridge.credentials_secret_name(world.name)
    if world.user_secret is not None and world.ca_secret is not None:
        result.notes.append(
            f"BridgedApp {app_id}: {bridge.USER_KEY_KEY} of Secret {secret_name} is redacted in the output (the "
            "config hash is computed from the real content)"
        )
    else:
        user_name = user_builder.kafka_user_name(namespace, world.name)
        missing = [
            f"{kafka_ns}/{name}"
            for name, found in (
                (user_name, world.user_secret),
                (cluster_ca_cert_name(spec.kafka.cluster_name), world.ca_secret),
            )
            if found is None
        ]
        result.notes.append(
            f"BridgedApp {app_id}: Secret {secret_name} is shown without data: the operator fills it from "
            f"Strimzi's Secrets {', '.join(missing)} (pass them with -f for the exact content and config hash)"
        )
    for ref, _ in sidecar.mounted_config_maps(spec):
        result.notes.append(
            f"BridgedApp {app_id}: the pods mount key {ref.key} of ConfigMap {namespace}/{ref.name}; they do "
            "not start until it exists"
        )
    for ignored in bridge.ignored_client_options(spec):
        result.notes.append(f"BridgedApp {app_id}: {ignored} is ignored (the operator owns that setting)")
    if deployment is None:
        result.notes.append(
            f"BridgedApp {app_id}: Deployment {namespace}/{spec.deployment_name} not given: showing the apply "
            "patch the operator would send instead of the injected Deployment"
        )
        return
    for clash in sidecar.app_container_conflicts(deployment):
        result.notes.append(
            f"BridgedApp {app_id}: conflict: the Deployment already has {clash}; the operator would not inject "
            "until it is renamed"
        )
    for problem in sidecar.pod_conflicts(deployment, spec):
        result.notes.append(f"BridgedApp {app_id}: conflict: {problem}")


def render(
    documents: list[dict[str, Any]],
    *,
    strimzi_namespace: str = "kafka",
    kafka_api_version: str = API_V1,
    server_version: tuple[int, int] = (1, 36),
) -> list[dict[str, Any]]:
    """The objects the operator would write, in apply order (see render_result for the notes)."""
    return render_result(
        documents,
        strimzi_namespace=strimzi_namespace,
        kafka_api_version=kafka_api_version,
        server_version=server_version,
    ).objects


# ---------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------


class _ReviewDumper(yaml.SafeDumper):
    """Multi-line strings (the properties files) as literal blocks, so they read as files in a review."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ReviewDumper.add_representer(str, _str_representer)


def dump_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML in the builders' key order."""
    return yaml.dump_all(objects, Dumper=_ReviewDumper, sort_keys=False, explicit_start=True, width=110)


def _read_documents(paths: Sequence[str], stdin: TextIO) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        try:
            text = stdin.read() if path == "-" else Path(path).read_text()
            loaded = list(yaml.safe_load_all(text))
        except OSError as exc:
            raise RenderError(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise RenderError(f"{path} is not valid YAML: {exc}") from None
        for doc in loaded:
            if isinstance(doc, dict) and doc.get("kind") == "List":
                docs.extend(item for item in doc.get("items") or [] if isinstance(item, dict))
            elif isinstance(doc, dict):
                docs.append(doc)
    return docs


def _server_version(text: str) -> tuple[int, int]:
    try:
        major, minor = text.split(".")[:2]
        return sidecar.parse_server_version(major, minor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MAJOR.MINOR such as 1.36, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridgedapp render",
        description="Print, offline, the objects the operator would create for BridgedApps, and the app's "
        "Deployment as it would be after injection. Input: BridgedApps, their Deployments and optionally "
        "Strimzi's user and cluster-CA Secrets (for the exact credentials Secret and config hash).",
    )
    parser.add_argument("-f", "--filename", action="append", required=True, help="YAML file ('-' = stdin)")
    parser.add_argument("-o", "--output", choices=["yaml"], default="yaml", help="output format")
    parser.add_argument("--strimzi-namespace", default="kafka", help="the Kafka namespace when spec omits it")
    parser.add_argument(
        "--kafka-api-version",
        default=API_V1,
        help="Strimzi API version (kafka.strimzi.io/v1beta2 for Strimzi 0.45-0.48)",
    )
    parser.add_argument(
        "--server-version",
        type=_server_version,
        default=(1, 36),
        help="Kubernetes version to assume (native sidecars need 1.29+)",
    )
    return parser


def main_render(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`bridgedapp render -f a.yaml -f b.yaml [-o yaml]`: objects on stdout, notes on stderr; 2 on bad input."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        documents = _read_documents(args.filename, stdin)
        result = render_result(
            documents,
            strimzi_namespace=args.strimzi_namespace,
            kafka_api_version=args.kafka_api_version,
            server_version=args.server_version,
        )
    except (RenderError, ValueError) as exc:
        for line in str(exc).splitlines():
            print(f"bridgedapp render: error: {line}", file=stderr)
        return EXIT_INVALID
    for note in result.notes:
        print(f"bridgedapp render: {note}", file=stderr)
    stdout.write(dump_yaml(result.objects))
    return EXIT_OK
