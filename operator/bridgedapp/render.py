"""`bridgedapp render`: offline, the objects the operator would write for some BridgedApps, for review in a PR.

The same pure builders the handlers use, fed from files instead of a cluster: Kafka + KafkaNodePool (when
`kafka.create`), KafkaTopics, the KafkaUser, the bridge ConfigMap, the credentials Secret and the app's
Deployment as it would be after injection (`sidecar.apply_patch_locally`, an approximation of server-side
apply). Strimzi's user and cluster-CA Secrets may be given too; then the credentials Secret and the
config hash are exact. The user's private key is never printed: its value is left empty in the output.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from bridgedapp import GROUP, KIND, LABEL_PREFIX
from bridgedapp.builders import bridge, sidecar
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.kafka import build_kafka, build_node_pool, cluster_ca_cert_name
from bridgedapp.builders.topics import build_topics
from bridgedapp.builders.user import build_user
from bridgedapp.models import BridgedAppSpec, parse_spec

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
    """One line per problem, each naming the field as it is written in YAML (spec.bridge.port).

    A cross-field (CEL) rule fails as "Value error, .<field>: <message>" on its parent object: the field
    path is moved into the location, so it reads like the API server's message.
    """
    lines = []
    for problem in error.errors():
        where = ".".join(["spec", *(str(part) for part in problem["loc"])])
        message = str(problem["msg"])
        cel = re.match(r"Value error, (\.[A-Za-z0-9_.]+): (.*)", message, re.DOTALL)
        if cel:
            where, message = where + cel.group(1), cel.group(2)
        lines.append(f"BridgedApp {app_id}: {where}: {message}")
    return RenderError("\n".join(lines))


def _validated(app: dict[str, Any]) -> BridgedAppSpec:
    meta = app.get("metadata") or {}
    app_id = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
    if not meta.get("name"):
        raise RenderError("a BridgedApp without metadata.name")
    try:
        return parse_spec(app.get("spec") or {})
    except ValidationError as exc:
        raise _spec_error(app_id, exc) from None


def _credentials(
    app: dict[str, Any],
    spec: BridgedAppSpec,
    kafka_ns: str,
    user_name: str,
    secrets: dict[tuple[str, str], Any],
) -> tuple[dict[str, Any], str | None]:
    """The credentials Secret, from Strimzi's Secrets when given (key redacted), else keys without data."""
    user_secret = secrets.get((kafka_ns, user_name))
    ca_secret = secrets.get((kafka_ns, cluster_ca_cert_name(spec.kafka.cluster_name)))
    app_id = f"{app['metadata']['namespace']}/{app['metadata']['name']}"
    if user_secret is not None and ca_secret is not None:
        try:
            real = bridge.build_credentials_secret(app, user_secret=user_secret, cluster_ca_secret=ca_secret)
        except bridge.CredentialsError as exc:
            raise RenderError(f"BridgedApp {app_id}: {exc}") from None
        return real, None
    secret = bridge.build_credentials_secret_shell(app)
    missing = [
        f"{kafka_ns}/{name}"
        for name, found in (
            (user_name, user_secret),
            (cluster_ca_cert_name(spec.kafka.cluster_name), ca_secret),
        )
        if found is None
    ]
    note = (
        f"BridgedApp {app_id}: Secret {secret['metadata']['name']} is shown without data: the operator fills it "
        f"from Strimzi's Secrets {', '.join(missing)} (pass them with -f for the exact content and config hash)"
    )
    return secret, note


def _redacted(secret: dict[str, Any]) -> dict[str, Any]:
    shown = {**secret, "metadata": {**secret["metadata"]}, "data": dict(secret["data"])}
    shown["data"][bridge.USER_KEY_KEY] = ""
    shown["metadata"]["annotations"] = {
        RENDER_NOTE_ANNOTATION: f"{bridge.USER_KEY_KEY} redacted by bridgedapp render; the operator writes it"
    }
    return shown


def render_result(
    documents: Iterable[dict[str, Any]],
    *,
    strimzi_namespace: str = "kafka",
    kafka_api_version: str = "kafka.strimzi.io/v1",
    server_version: tuple[int, int] = (1, 36),
) -> RenderResult:
    """Objects in apply order plus notes for stderr; raises RenderError on invalid input."""
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
        name = meta["name"]
        app_id = f"{namespace}/{name}"
        if not meta.get("uid"):
            result.notes.append(
                f"BridgedApp {app_id} has no metadata.uid: ownerReferences use the placeholder {PLACEHOLDER_UID}"
            )
        kafka_ns = spec.kafka_namespace(strimzi_namespace)
        owner = owner_value(namespace, name)
        try:
            native = sidecar.use_native_sidecar(spec.bridge.native_sidecar, server_version)
        except sidecar.NativeSidecarUnsupportedError as exc:
            raise RenderError(f"BridgedApp {app_id}: {exc}") from None

        if spec.kafka.create:
            emit(build_kafka(spec, namespace=kafka_ns, api_version=kafka_api_version, owner=owner))
            emit(build_node_pool(spec, namespace=kafka_ns, api_version=kafka_api_version, owner=owner))
        for topic in build_topics(
            spec,
            namespace=kafka_ns,
            api_version=kafka_api_version,
            owner=owner,
            owner_namespace=namespace,
        ):
            emit(topic)
        user = build_user(
            spec, app_name=name, app_namespace=namespace, namespace=kafka_ns, api_version=kafka_api_version
        )
        emit(user)

        config_map = bridge.build_config_map(
            app, spec, bootstrap=bridge.bootstrap_servers(spec.kafka.cluster_name, kafka_ns)
        )
        emit(config_map)
        secret, note = _credentials(app, spec, kafka_ns, user["metadata"]["name"], secrets)
        if note:
            result.notes.append(note)
            emit(secret)
        else:
            emit(_redacted(secret))
            result.notes.append(
                f"BridgedApp {app_id}: {bridge.USER_KEY_KEY} of Secret {secret['metadata']['name']} is redacted "
                "in the output (the config hash is computed from the real content)"
            )
        for ref, _ in sidecar.mounted_config_maps(spec):
            result.notes.append(
                f"BridgedApp {app_id}: the pods mount key {ref.key} of ConfigMap {namespace}/{ref.name}; they do "
                "not start until it exists"
            )
        for ignored in bridge.ignored_client_options(spec):
            result.notes.append(f"BridgedApp {app_id}: {ignored} is ignored (the operator owns that setting)")

        config_hash = sidecar.compute_config_hash(config_map, secret)
        deployment = deployments.get((namespace, spec.deployment_name))
        if deployment is None and (None, spec.deployment_name) in deployments:
            # a manifest without a namespace lands in the app's namespace when applied there
            unplaced = deployments[(None, spec.deployment_name)]
            deployment = {**unplaced, "metadata": {**unplaced["metadata"], "namespace": namespace}}
        target = deployment or {"metadata": {"name": spec.deployment_name, "namespace": namespace}}
        patch = sidecar.build_deployment_patch(target, app, spec, native=native, config_hash=config_hash)
        if deployment is None:
            result.notes.append(
                f"BridgedApp {app_id}: Deployment {namespace}/{spec.deployment_name} not given: showing the "
                "apply patch the operator would send instead of the injected Deployment"
            )
            emit(patch)
            continue
        for clash in sidecar.app_container_conflicts(deployment):
            result.notes.append(
                f"BridgedApp {app_id}: conflict: the Deployment already has {clash}; the operator would not "
                "inject until it is renamed"
            )
        for problem in sidecar.pod_conflicts(deployment, spec):
            result.notes.append(f"BridgedApp {app_id}: conflict: {problem}")
        emit(sidecar.apply_patch_locally(deployment, patch))
    return result


def render(
    documents: list[dict[str, Any]],
    *,
    strimzi_namespace: str = "kafka",
    kafka_api_version: str = "kafka.strimzi.io/v1",
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
        default="kafka.strimzi.io/v1",
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
