"""The floor of the scale benchmark: what an ideal operator must do for each BridgedApp, and nothing more.

`python -m bench.floor --kubeconfig K --namespace NS ...`: a plain `kubernetes`-client program (User-Agent
`bridgedapp-floor`) with a pool of 8 workers, reacting to three watches (the BridgedApps of NS, the
Strimzi-labelled Secrets of the Kafka's namespace, the Deployments of NS) and making exactly six writes per
app, with object bodies from the operator's own builders:

1. server-side apply of the app's KafkaTopic and 2. of its KafkaUser, at once;
3. the mirrored credentials Secret and 4. the bridge ConfigMap, once Strimzi has issued the user's Secret
   (and the cluster CA exists), then 5. one server-side apply of the Deployment with the sidecar;
6. one status patch (SidecarInjected and Ready True) once that Deployment has rolled out.

What it leaves out, because an ideal operator may: re-reading anything its watches deliver, Events, Kopf's
progress annotations, waiting for the KafkaTopic to be Ready (the user's Secret is what injection needs).
An app whose status already says Ready for its generation is done: a restart on Ready apps writes nothing.
Not a product: no error handling beyond retrying a failed step on the next event.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bridgedapp import GROUP, PLURAL, VERSION
from bridgedapp.builders import bridge, sidecar
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.kafka import bootstrap_service_address, cluster_ca_cert_name
from bridgedapp.builders.topics import build_topics
from bridgedapp.builders.user import build_user, kafka_user_name
from bridgedapp.models import BridgedAppSpec, parse_spec
from kubernetes import client as k8s
from kubernetes import config as k8s_config

USER_AGENT = "bridgedapp-floor/1"
FIELD_MANAGER = "bridgedapp-floor"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
WORKERS = 8
HASH_ANNOTATION = "bridgedapp.io/config-hash"
READY_LINE = "floor ready"

Obj = dict[str, Any]


def _stream(call: Callable[..., Any], **kwargs: Any) -> Iterator[Obj]:
    """Watch events of one list call, forever: reconnects from the last resourceVersion it saw."""
    version: str | None = None
    while True:
        params = {"watch": True, "timeout_seconds": 300, "allow_watch_bookmarks": True, **kwargs}
        if version:
            params["resource_version"] = version
        try:
            response = call(**params, _preload_content=False)
        except k8s.ApiException:
            time.sleep(1)
            version = None
            continue
        buffer = b""
        try:
            for chunk in response.stream(65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line:
                        continue
                    event = json.loads(line)
                    if event["type"] == "ERROR":  # 410 Gone: start again from a fresh listing
                        version = None
                        break
                    version = event["object"]["metadata"].get("resourceVersion") or version
                    if event["type"] != "BOOKMARK":
                        yield event
        finally:
            response.release_conn()


def _drain(response: Any) -> None:
    """Read the reply (unparsed: the floor needs none of it) so its connection can serve the next request."""
    response.read()
    response.release_conn()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rolled_out(deployment: Obj, config_hash: str) -> bool:
    """The injected template (our config hash) is rolled out: every replica updated and available."""
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    template = (spec.get("template") or {}).get("metadata") or {}
    wanted = spec.get("replicas", 1)
    return (
        (template.get("annotations") or {}).get(HASH_ANNOTATION) == config_hash
        and status.get("observedGeneration", 0) >= meta.get("generation", 0)
        and status.get("updatedReplicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )


def _done(app: Obj) -> bool:
    status = app.get("status") or {}
    return any(
        c.get("type") == "Ready"
        and c.get("status") == "True"
        and c.get("observedGeneration") == app["metadata"].get("generation")
        for c in status.get("conditions") or []
    )


class Floor:
    """The three watches feed in-memory state; each app moves through its steps on a pool of 8 workers."""

    def __init__(
        self,
        api: k8s.ApiClient,
        *,
        namespace: str,
        kafka_namespace: str,
        kafka_api_version: str,
        server_version: tuple[int, int],
    ) -> None:
        self.api = api
        self.core, self.apps_api, self.custom = (
            k8s.CoreV1Api(api),
            k8s.AppsV1Api(api),
            k8s.CustomObjectsApi(api),
        )
        self.namespace, self.kafka_namespace = namespace, kafka_namespace
        self.kafka_group, self.kafka_version = kafka_api_version.split("/")
        self.kafka_api_version, self.server_version = kafka_api_version, server_version
        self.lock = threading.Lock()
        self.apps: dict[str, Obj] = {}
        self.deployments: dict[str, Obj] = {}
        self.secrets: dict[str, Obj] = {}
        self.stage: dict[str, int] = {}  # 0 nothing written, 1 Kafka side, 2 injected, 3 status written
        self.hashes: dict[str, str] = {}
        self.busy: set[str] = set()
        self.dirty: set[str] = set()
        self.writes = 0
        self.steps = 0
        self.errors = 0
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="floor")

    # ---- events -> work ----------------------------------------------------------------------------------

    def _kick(self, name: str) -> None:
        """Run the app's next step on the pool; an event for an app already being worked on runs it again after."""
        with self.lock:
            if name in self.busy:
                self.dirty.add(name)
                return
            self.busy.add(name)
        self.pool.submit(self._work, name)

    def _work(self, name: str) -> None:
        while True:
            try:
                self._step(name)
            except Exception as exc:  # a refused or failed request: this step runs again in a second
                print(f"floor: {name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                self.errors += 1
                time.sleep(1.0)
                with self.lock:
                    self.dirty.add(name)
            with self.lock:
                if name not in self.dirty:
                    self.busy.discard(name)
                    return
                self.dirty.discard(name)

    def watch_apps(self) -> None:
        for event in _stream(
            self.custom.list_namespaced_custom_object,
            group=GROUP,
            version=VERSION,
            namespace=self.namespace,
            plural=PLURAL,
        ):
            app = event["object"]
            name = app["metadata"]["name"]
            with self.lock:
                if event["type"] == "DELETED":
                    self.apps.pop(name, None)
                    continue
                self.apps[name] = app
                if name not in self.stage:
                    self.stage[name] = 3 if _done(app) else 0
            self._kick(name)

    def watch_deployments(self) -> None:
        for event in _stream(self.apps_api.list_namespaced_deployment, namespace=self.namespace):
            dep = event["object"]
            with self.lock:
                if event["type"] == "DELETED":
                    self.deployments.pop(dep["metadata"]["name"], None)
                    continue
                self.deployments[dep["metadata"]["name"]] = dep
                apps = [
                    n
                    for n, a in self.apps.items()
                    if a["spec"].get("deploymentName") == dep["metadata"]["name"]
                ]
            for name in apps:
                self._kick(name)

    def watch_secrets(self) -> None:
        for event in _stream(
            self.core.list_namespaced_secret, namespace=self.kafka_namespace, label_selector="strimzi.io/kind"
        ):
            secret = event["object"]
            with self.lock:
                if event["type"] == "DELETED":
                    self.secrets.pop(secret["metadata"]["name"], None)
                    continue
                self.secrets[secret["metadata"]["name"]] = secret
                waiting = [n for n, s in self.stage.items() if s == 1]
            if secret["metadata"].get("labels", {}).get("strimzi.io/kind") == "KafkaUser":
                waiting = [
                    n for n in waiting if kafka_user_name(self.namespace, n) == secret["metadata"]["name"]
                ]
            for name in waiting:
                self._kick(name)

    # ---- the steps ---------------------------------------------------------------------------------------

    def _apply_custom(self, obj: Obj, plural: str) -> None:
        _drain(
            self.custom.patch_namespaced_custom_object(
                self.kafka_group,
                self.kafka_version,
                obj["metadata"]["namespace"],
                plural,
                obj["metadata"]["name"],
                obj,
                field_manager=FIELD_MANAGER,
                _content_type=APPLY,
                _preload_content=False,
            )
        )
        self.writes += 1

    def _step(self, name: str) -> None:
        with self.lock:
            app, stage = self.apps.get(name), self.stage.get(name, 0)
        if app is None or stage >= 3:
            return
        self.steps += 1
        spec = parse_spec(app["spec"])
        meta = app["metadata"]
        if stage == 0:
            owner = owner_value(self.namespace, name)
            for topic in build_topics(
                spec,
                namespace=self.kafka_namespace,
                api_version=self.kafka_api_version,
                owner=owner,
                owner_namespace=self.namespace,
            ):
                self._apply_custom(topic, "kafkatopics")
            user = build_user(
                spec,
                app_name=name,
                app_namespace=self.namespace,
                namespace=self.kafka_namespace,
                api_version=self.kafka_api_version,
            )
            self._apply_custom(user, "kafkausers")
            stage = self._advance(name, 1)
        if stage == 1 and not self._inject(name, app, spec):
            return
        with self.lock:
            deployment, config_hash = self.deployments.get(spec.deployment_name), self.hashes.get(name)
        if deployment is None or config_hash is None or not _rolled_out(deployment, config_hash):
            return
        condition = {"status": "True", "observedGeneration": meta["generation"], "lastTransitionTime": _now()}
        status = {
            "observedGeneration": meta["generation"],
            "phase": "Ready",
            "conditions": [
                {"type": "SidecarInjected", "reason": "Injected", "message": "", **condition},
                {"type": "Ready", "reason": "AllReady", "message": "", **condition},
            ],
        }
        _drain(
            self.custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                name,
                {"status": status},
                field_manager=FIELD_MANAGER,
                _content_type=MERGE,
                _preload_content=False,
            )
        )
        self.writes += 1
        self._advance(name, 3)

    def _advance(self, name: str, stage: int) -> int:
        with self.lock:
            self.stage[name] = stage
        return stage

    def _inject(self, name: str, app: Obj, spec: BridgedAppSpec) -> bool:
        """Secret, ConfigMap, then the Deployment: only once Strimzi's Secrets and the Deployment are there."""
        with self.lock:
            user_secret = self.secrets.get(kafka_user_name(self.namespace, name))
            ca_secret = self.secrets.get(cluster_ca_cert_name(spec.kafka.cluster_name))
            deployment = self.deployments.get(spec.deployment_name)
        if user_secret is None or ca_secret is None or deployment is None:
            return False
        config_map = bridge.build_config_map(
            app, spec, bootstrap=bootstrap_service_address(spec.kafka.cluster_name, self.kafka_namespace)
        )
        secret = bridge.build_credentials_secret(app, user_secret=user_secret, cluster_ca_secret=ca_secret)
        for obj, patch in (
            (secret, self.core.patch_namespaced_secret),
            (config_map, self.core.patch_namespaced_config_map),
        ):
            _drain(
                patch(
                    obj["metadata"]["name"],
                    self.namespace,
                    obj,
                    field_manager=FIELD_MANAGER,
                    _content_type=APPLY,
                    _preload_content=False,
                )
            )
            self.writes += 1
        config_hash = sidecar.compute_config_hash(config_map, secret)
        native = sidecar.use_native_sidecar(spec.bridge.native_sidecar, self.server_version)
        body = sidecar.build_deployment_patch(deployment, app, spec, native=native, config_hash=config_hash)
        _drain(
            self.apps_api.patch_namespaced_deployment(
                spec.deployment_name,
                self.namespace,
                body,
                field_manager=FIELD_MANAGER,
                _content_type=APPLY,
                _preload_content=False,
            )
        )
        self.writes += 1
        with self.lock:
            self.hashes[name] = config_hash
            self.stage[name] = 2
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True, help="the BridgedApps' namespace")
    parser.add_argument("--kafka-namespace", default="kafka")
    parser.add_argument("--kafka-api-version", default="kafka.strimzi.io/v1")
    parser.add_argument("--server-version", default="1.36", help="major.minor, for the native-sidecar choice")
    args = parser.parse_args(argv)
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=args.kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = WORKERS + 4  # one connection per worker and watch
    api = k8s.ApiClient(configuration)
    api.user_agent = USER_AGENT
    major, minor = (int(x) for x in args.server_version.split("."))
    floor = Floor(
        api,
        namespace=args.namespace,
        kafka_namespace=args.kafka_namespace,
        kafka_api_version=args.kafka_api_version,
        server_version=(major, minor),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    for target in (floor.watch_secrets, floor.watch_deployments, floor.watch_apps):
        threading.Thread(target=target, name=target.__name__, daemon=True).start()
    print(READY_LINE, flush=True)
    done.wait()
    print(f"floor: {floor.writes} writes, {floor.steps} steps, {floor.errors} errors", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
