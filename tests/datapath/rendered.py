"""What the operator rendered, read back (issue 7): a BridgedApp made Ready by the real operator on the session
control plane (Strimzi's reconcile loop simulated), everything it wrote read back through pykube, as a snapshot.
Used by test_rendered_tier1.py, test_rendered_tier2.py and the tier 3 tests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pykube

from testbed.bridge.pod import config_file_path, env_from_container, mounts_from_pod
from testbed.strimzi_sim.ca import CertificateAuthority
from tests.operator_fixtures import get_bridgedapp, strimzi_kind

READY_TIMEOUT = 240.0  # first use installs Strimzi from the bundle and waits for the simulated cluster
MIRROR_TIMEOUT = 60.0  # the operator re-mirrors credentials on the Secret watch
APP_NAME = "shop"
APP_DEPLOYMENT = "shop-api"
_BOOTSTRAP_LINE = re.compile(r"^kafka\.bootstrap\.servers=(.*)$", re.MULTILINE)


def rendered_app_spec(cluster: str, namespace: str) -> dict[str, Any]:
    """The BridgedApp under test: its own Kafka cluster, one ReadWrite and one Read topic (names unique per
    cluster, as KafkaTopic names live in the shared Kafka namespace), an explicit consumer-group prefix
    (inside its namespace's own `<namespace>.`, as the many-teams policy asks)."""
    return {
        "deploymentName": APP_DEPLOYMENT,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [
            {"name": f"orders-{cluster}", "partitions": 1, "replicas": 1, "access": "ReadWrite"},
            {"name": f"prices-{cluster}", "partitions": 1, "replicas": 1, "access": "Read"},
        ],
        "consumerGroup": f"{namespace}.shop-{cluster}",
    }


def decoded(secret: Mapping[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def strimzi_ca(api: pykube.HTTPClient, namespace: str, cluster: str, role: str) -> CertificateAuthority:
    """A Strimzi CA (`cluster-ca` / `clients-ca`) from its two Secrets: `<c>-<role>-cert` (ca.crt, plus the
    certificates of replaced keys still trusted during a rotation) and `<c>-<role>` (ca.key)."""
    cert = decoded(pykube.Secret.objects(api, namespace=namespace).get(name=f"{cluster}-{role}-cert").obj)
    key = decoded(pykube.Secret.objects(api, namespace=namespace).get(name=f"{cluster}-{role}").obj)
    previous = [pem for name, pem in sorted(cert.items()) if name.endswith(".crt") and name != "ca.crt"]
    return CertificateAuthority.from_pem(cert["ca.crt"], key["ca.key"], previous_pem=previous)


@dataclass(frozen=True)
class RenderedApp:
    """A snapshot of what the operator wrote for one Ready BridgedApp, as the API server serves it.

    Nothing here is computed from the operator's code: names, paths and data come from the objects themselves
    (the ConfigMap and Secret are the ones the injected container's volumes name). A later snapshot of the same
    app (after a rotation) is taken with `read_rendered`; an older snapshot keeps the credentials it saw.
    """

    namespace: str
    name: str
    app: dict[str, Any]  # the BridgedApp (spec and status)
    container: dict[str, Any]  # the injected `kafka-bridge` container
    template_annotations: dict[str, str]  # the pod template's (the operator's config hash rolls the pods)
    volumes: list[dict[str, Any]]  # the pod template's volumes
    config_maps: dict[str, dict[str, Any]]  # name -> ConfigMap, for the volumes the container mounts
    secrets: dict[str, dict[str, Any]]  # name -> Secret, likewise
    kafka_user: dict[str, Any]
    kafka_topics: list[dict[str, Any]]
    cluster_ca: CertificateAuthority  # from Strimzi's Secrets in the Kafka namespace (with its key)
    clients_ca: CertificateAuthority

    @property
    def cluster(self) -> str:
        return str(self.app["spec"]["kafka"]["clusterName"])

    @property
    def kafka_namespace(self) -> str:
        return str(self.kafka_user["metadata"]["namespace"])

    def _volume_source(self, kind: str) -> tuple[str, str]:
        """(mountPath, object name) of the one container mount backed by a `configMap` or `secret` volume."""
        by_name = {v["name"]: v for v in self.volumes}
        found = [
            (m["mountPath"], by_name[m["name"]][kind].get("name" if kind == "configMap" else "secretName"))
            for m in self.container.get("volumeMounts") or []
            if kind in by_name.get(m["name"], {})
        ]
        assert len(found) == 1, f"expected one {kind} mount in {self.container.get('volumeMounts')}"
        return found[0]

    @property
    def config_map(self) -> dict[str, Any]:
        return self.config_maps[self._volume_source("configMap")[1]]

    @property
    def secret(self) -> dict[str, Any]:
        return self.secrets[self._volume_source("secret")[1]]

    @property
    def credentials_path(self) -> str:
        """Where the container mounts the mirrored credentials Secret."""
        return self._volume_source("secret")[0]

    @property
    def credentials(self) -> dict[str, bytes]:
        """The mirrored Secret's data, decoded (ca.crt, user.crt, user.key)."""
        return decoded(self.secret)

    @property
    def properties_text(self) -> str:
        """The ConfigMap's application.properties, exactly as served: what every run here is given."""
        return str(self.config_map["data"]["application.properties"])

    @property
    def config_file(self) -> str:
        """Where the container's entrypoint reads the properties (`$STRIMZI_HOME/custom-config/...`)."""
        return config_file_path(self.container)

    @property
    def bootstrap(self) -> str:
        found = _BOOTSTRAP_LINE.findall(self.properties_text)
        assert len(found) == 1, f"{len(found)} kafka.bootstrap.servers lines in the rendered properties"
        return str(found[0]).strip()

    @property
    def bootstrap_host(self) -> str:
        return self.bootstrap.rsplit(":", 1)[0]

    @property
    def bootstrap_port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])

    @property
    def username(self) -> str:
        """The KafkaUser's name: Strimzi issues its certificate as CN=<name>, Kafka sees User:CN=<name>."""
        return str(self.kafka_user["metadata"]["name"])

    @property
    def acls(self) -> list[dict[str, Any]]:
        return list(self.kafka_user["spec"]["authorization"]["acls"])

    def topic(self, access: str) -> str:
        """The app's topic with this `access` (ReadWrite, Read, Write)."""
        names = [t["name"] for t in self.app["spec"]["topics"] if t["access"] == access]
        assert len(names) == 1, f"{len(names)} topics with access {access}"
        return str(names[0])

    @property
    def group_prefix(self) -> str:
        meta = self.app["metadata"]
        return str(self.app["spec"].get("consumerGroup") or f"{meta['namespace']}.{meta['name']}")

    @property
    def env(self) -> dict[str, str]:
        return env_from_container(self.container)

    @property
    def mounts(self) -> dict[str, dict[str, bytes]]:
        """The container's volumes as {mountPath: {file: bytes}}, from the objects the volumes name."""
        return mounts_from_pod(
            self.container,
            self.volumes,
            {name: cm.get("data") or {} for name, cm in self.config_maps.items()},
            {name: decoded(s) for name, s in self.secrets.items()},
        )

    def mounts_with_credentials(self, **files: bytes) -> dict[str, dict[str, bytes]]:
        """The same mounts with some credential files replaced (e.g. user_crt=..., user_key=...)."""
        mounts = self.mounts
        replaced = {name.replace("_", "."): content for name, content in files.items()}
        unknown = set(replaced) - set(mounts[self.credentials_path])
        assert not unknown, f"no such credential files: {sorted(unknown)}"
        mounts[self.credentials_path] = {**mounts[self.credentials_path], **replaced}
        return mounts


def read_rendered(api: pykube.HTTPClient, namespace: str, name: str) -> RenderedApp:
    """Read back everything the operator wrote for BridgedApp `namespace/name` (and Strimzi's CAs) right now."""
    app = get_bridgedapp(api, namespace, name)
    assert app is not None, f"BridgedApp {namespace}/{name} is gone"
    deploy = pykube.Deployment.objects(api, namespace=namespace).get(name=app["spec"]["deploymentName"]).obj
    pod = deploy["spec"]["template"]["spec"]
    containers = [c for key in ("initContainers", "containers") for c in pod.get(key) or []]
    bridge = [c for c in containers if c["name"] == "kafka-bridge"]
    assert len(bridge) == 1, (
        f"{len(bridge)} kafka-bridge containers in {namespace}/{deploy['metadata']['name']}"
    )
    volumes = list(pod.get("volumes") or [])
    mounted = {m["name"] for m in bridge[0].get("volumeMounts") or []}
    config_maps: dict[str, dict[str, Any]] = {}
    secrets: dict[str, dict[str, Any]] = {}
    for volume in volumes:
        if volume["name"] not in mounted:
            continue
        if "configMap" in volume:
            cm_name = volume["configMap"]["name"]
            config_maps[cm_name] = pykube.ConfigMap.objects(api, namespace=namespace).get(name=cm_name).obj
        elif "secret" in volume:
            secret_name = volume["secret"]["secretName"]
            secrets[secret_name] = pykube.Secret.objects(api, namespace=namespace).get(name=secret_name).obj
    cluster = app["spec"]["kafka"]["clusterName"]
    kafka_namespace = (app["status"]["kafka"]["cluster"] or "").split("/")[0]
    selector = {"strimzi.io/cluster": cluster}
    users = list(
        strimzi_kind(api, "KafkaUser").objects(api, namespace=kafka_namespace).filter(selector=selector)
    )
    assert len(users) == 1, f"{len(users)} KafkaUsers for cluster {cluster} in {kafka_namespace}"
    topics = strimzi_kind(api, "KafkaTopic").objects(api, namespace=kafka_namespace).filter(selector=selector)
    return RenderedApp(
        namespace=namespace,
        name=name,
        app=app,
        container=bridge[0],
        template_annotations=dict(deploy["spec"]["template"]["metadata"].get("annotations") or {}),
        volumes=volumes,
        config_maps=config_maps,
        secrets=secrets,
        kafka_user=users[0].obj,
        kafka_topics=[t.obj for t in topics],
        cluster_ca=strimzi_ca(api, kafka_namespace, cluster, "cluster-ca"),
        clients_ca=strimzi_ca(api, kafka_namespace, cluster, "clients-ca"),
    )
