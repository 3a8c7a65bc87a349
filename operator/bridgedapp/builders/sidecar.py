"""The `kafka-bridge` sidecar and the server-side-apply patch that adds it to the app's Deployment: pure builders.

The container mirrors how Strimzi 1.2.0 runs its own bridge (`cluster-operator/.../model/KafkaBridgeCluster.java`
`createContainer`, `getEnvVars`, `getVolumes`, `getVolumeMounts`; `VolumeUtils.createTempDirVolume`;
`JvmOptionUtils.heapOptions`; `ProbeUtils.DEFAULT_HEALTHCHECK_OPTIONS`; the restricted security profile of
`RestrictedPodSecurityProvider`) and how the bridge 1.1.0 image starts (`bin/docker/kafka_bridge_run.sh`:
empties /tmp, copies `$STRIMZI_HOME/custom-config/application.properties` to /tmp, logs with
`custom-config/log4j2.properties`, heap from `STRIMZI_DYNAMIC_HEAP_PERCENTAGE`, runs under tini as UID 1001).

JVM options follow `JvmOptionUtils.heapOptions` (KAFKA_HEAP_OPTS, or STRIMZI_DYNAMIC_HEAP_PERCENTAGE when a
memory request or limit is set and neither -Xmx nor MaxRAMPercentage is) and `jvmSystemProperties`
(STRIMZI_JAVA_SYSTEM_PROPERTIES). Strimzi passes the other -XX options as KAFKA_JVM_PERFORMANCE_OPTS, which the
bridge 1.1.0 start scripts never read; here they go into STRIMZI_JAVA_OPTS, which `kafka_bridge_run.sh` appends
to JAVA_OPTS, so they take effect.

Differences from Strimzi, on purpose: the bridge binds 127.0.0.1 (so kubelet `httpGet` probes cannot reach
the management port; the probes are bash `/dev/tcp` requests run inside the container), the credentials come
from a mounted Secret, and there is a startup probe (a native sidecar with one starts before the app).
"""

from __future__ import annotations

import copy
from typing import Any

from bridgedapp import BRIDGED_BY_ANNOTATION, CONFIG_HASH_ANNOTATION, FIELD_MANAGER, SIDECAR_NAME
from bridgedapp.builders.bridge import (
    CONFIG_MOUNT_PATH,
    CREDENTIALS_MOUNT_PATH,
    LOGGING_KEY,
    LOOPBACK,
    METRICS_CONFIG_KEY,
    PROPERTIES_KEY,
    bridge_config_name,
    credentials_secret_name,
    metrics_port,
)
from bridgedapp.builders.common import config_hash
from bridgedapp.models import (
    BRIDGE_MANAGEMENT_PORT,
    BridgedAppSpec,
    ConfigMapKeyRef,
    JvmOptionsSpec,
    LoggingType,
    NativeSidecar,
    ProbeSpec,
)

NATIVE_SIDECAR_MIN_VERSION = (1, 29)  # SidecarContainers: beta and on by default in 1.29, GA in 1.33

ENTRYPOINT = "/opt/strimzi/bin/docker/kafka_bridge_run.sh"  # KafkaBridgeCluster.createContainer
TMP_MOUNT_PATH = "/tmp"  # VolumeUtils.STRIMZI_TMP_DIRECTORY_DEFAULT_MOUNT_PATH
TMP_SIZE_LIMIT = "5Mi"  # VolumeUtils.STRIMZI_TMP_DIRECTORY_DEFAULT_SIZE (medium Memory)
DYNAMIC_HEAP_PERCENTAGE = "75"  # KafkaBridgeCluster.getEnvVars -> JvmOptionUtils.heapOptions(.., 75, ..)
DEFAULT_XMS = "128M"  # JvmOptionUtils.DEFAULT_JVM_XMS, when no memory request or limit is set
SECRET_DEFAULT_MODE = 0o444  # VolumeUtils.createSecretVolume (non-OpenShift)

CONFIG_VOLUME = f"{SIDECAR_NAME}-config"
CREDENTIALS_VOLUME = f"{SIDECAR_NAME}-tls"
TMP_VOLUME = f"{SIDECAR_NAME}-tmp"
VOLUME_NAMES = (CONFIG_VOLUME, CREDENTIALS_VOLUME, TMP_VOLUME)

HTTP_PORT_NAME = "bridge-http"
MANAGEMENT_PORT_NAME = "bridge-mgmt"
METRICS_PORT_NAME = "bridge-metrics"


class NativeSidecarUnsupportedError(ValueError):
    """nativeSidecar: Always on a server without native sidecars; the handler reports it as a condition."""


def parse_server_version(major: str, minor: str) -> tuple[int, int]:
    """`/version`'s major/minor as numbers; providers append `+` (e.g. minor "29+")."""
    return int("".join(c for c in major if c.isdigit())), int("".join(c for c in minor if c.isdigit()))


def supports_native_sidecar(server_version: tuple[int, int]) -> bool:
    return tuple(server_version) >= NATIVE_SIDECAR_MIN_VERSION


def use_native_sidecar(setting: NativeSidecar | str, server_version: tuple[int, int]) -> bool:
    """Auto follows the server; Always insists (and fails clearly on an old server); Never never."""
    setting = NativeSidecar(setting)
    if setting == NativeSidecar.NEVER:
        return False
    supported = supports_native_sidecar(server_version)
    if setting == NativeSidecar.ALWAYS and not supported:
        major, minor = server_version
        need = ".".join(map(str, NATIVE_SIDECAR_MIN_VERSION))
        raise NativeSidecarUnsupportedError(
            f"spec.bridge.nativeSidecar is Always but the API server is {major}.{minor}; native sidecar "
            f"containers need Kubernetes {need} or newer: upgrade the cluster or set nativeSidecar to Auto or Never"
        )
    return supported


# ---------------------------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------------------------


def probe_command(path: str, port: int = BRIDGE_MANAGEMENT_PORT) -> list[str]:
    """An exec probe: bash's /dev/tcp sends `GET <path>` to 127.0.0.1:<port> and succeeds only on a 200 status
    line. No curl in the image is assumed; bash is (the image's own scripts are bash)."""
    request = f"GET {path} HTTP/1.1\\r\\nHost: {LOOPBACK}:{port}\\r\\nConnection: close\\r\\n\\r\\n"
    script = "\n".join(
        [
            f"exec 3<>/dev/tcp/{LOOPBACK}/{port} || exit 1",
            f"printf '{request}' >&3 || exit 1",
            "IFS= read -r -t 4 status <&3 || exit 1",
            '[[ $status == "HTTP/1."[01]" 200"[[:space:]]* ]]',
        ]
    )
    return ["/bin/bash", "-c", script]


def _probe(path: str, options: ProbeSpec) -> dict[str, Any]:
    # initialDelaySeconds 0 is left out: the API server omits it, and the patch must match what it stores
    delay = {"initialDelaySeconds": options.initial_delay_seconds} if options.initial_delay_seconds else {}
    return {
        "exec": {"command": probe_command(path)},
        **delay,
        "timeoutSeconds": options.timeout_seconds,
        "periodSeconds": options.period_seconds,
        "successThreshold": options.success_threshold,
        "failureThreshold": options.failure_threshold,
    }


def build_probes(spec: BridgedAppSpec) -> dict[str, dict[str, Any]]:
    """Startup gates the rest (and, for a native sidecar, the app's start): up to 3 minutes for the JVM.
    Liveness and readiness then follow spec.bridge.livenessProbe / readinessProbe (Strimzi's StrimziProbe)."""
    return {
        "startupProbe": {
            "exec": {"command": probe_command("/ready")},
            "timeoutSeconds": 5,
            "periodSeconds": 2,
            "failureThreshold": 90,
        },
        "readinessProbe": _probe("/ready", spec.bridge.readiness_probe),
        "livenessProbe": _probe("/healthy", spec.bridge.liveness_probe),
    }


# ---------------------------------------------------------------------------------------------------------
# Container and volumes
# ---------------------------------------------------------------------------------------------------------


_HEAP_XX = ("InitialRAMPercentage", "MaxRAMPercentage")  # JvmOptionUtils.XX_HEAP_OPTIONS
_PRIORITY_XX = ("UnlockDiagnosticVMOptions", "UnlockExperimentalVMOptions")


def _heap_opts(jvm: JvmOptionsSpec) -> list[str]:
    """JvmOptionUtils.appendHeapOpts."""
    opts = [f"-Xms{jvm.xms}"] if jvm.xms else []
    opts += [f"-Xmx{jvm.xmx}"] if jvm.xmx else []
    opts += [f"-XX:{name}={jvm.xx[name]}" for name in _HEAP_XX if name in jvm.xx]
    return opts


def _xx_flag(name: str, value: str) -> str:
    """JvmOptionUtils.toJvmPerformanceFlag."""
    lowered = value.lower()
    if lowered == "true":
        return f"-XX:+{name}"
    if lowered == "false":
        return f"-XX:-{name}"
    return f"-XX:{name}={value}"


def _performance_opts(jvm: JvmOptionsSpec) -> list[str]:
    """JvmOptionUtils.parseJvmPerformanceOptions: the non-heap -XX options, the Unlock* ones first."""
    names = sorted((n for n in jvm.xx if n not in _HEAP_XX), key=lambda n: (n not in _PRIORITY_XX, n))
    return [_xx_flag(name, jvm.xx[name]) for name in names]


def _env(spec: BridgedAppSpec, *, app_name: str) -> list[dict[str, str]]:
    """KafkaBridgeCluster.getEnvVars, through the variables bin/docker/kafka_bridge_run.sh reads."""
    bridge = spec.bridge
    jvm = bridge.jvm_options
    env = [{"name": "STRIMZI_GC_LOG_ENABLED", "value": str(jvm.gc_logging_enabled).lower()}]
    heap = _heap_opts(jvm)
    needs_default_heap = not jvm.xmx and "MaxRAMPercentage" not in jvm.xx
    if needs_default_heap:
        if "memory" in bridge.resources.requests or "memory" in bridge.resources.limits:
            env.append({"name": "STRIMZI_DYNAMIC_HEAP_PERCENTAGE", "value": DYNAMIC_HEAP_PERCENTAGE})
        elif not jvm.xms and "InitialRAMPercentage" not in jvm.xx:
            heap.append(f"-Xms{DEFAULT_XMS}")
    if heap:
        env.append({"name": "KAFKA_HEAP_OPTS", "value": " ".join(heap)})
    performance = _performance_opts(jvm)
    if performance:
        env.append({"name": "STRIMZI_JAVA_OPTS", "value": " ".join(performance)})
    if jvm.java_system_properties:
        properties = " ".join(f"-D{p.name}={p.value}" for p in jvm.java_system_properties)
        env.append({"name": "STRIMZI_JAVA_SYSTEM_PROPERTIES", "value": properties})
    if bridge.tracing is not None:
        otel = {"OTEL_SERVICE_NAME": app_name, **bridge.tracing.env}
        env += [{"name": name, "value": otel[name]} for name in sorted(otel)]
    return env


def _resources(spec: BridgedAppSpec) -> dict[str, dict[str, str]]:
    resources = spec.bridge.resources
    out: dict[str, dict[str, str]] = {}
    if resources.requests:
        out["requests"] = dict(sorted(resources.requests.items()))
    if resources.limits:
        out["limits"] = dict(sorted(resources.limits.items()))
    return out


def security_context() -> dict[str, Any]:
    """Pod Security Standard `restricted`, plus a read-only root (the script writes only to /tmp)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _ports(spec: BridgedAppSpec) -> list[dict[str, Any]]:
    ports = [
        {"name": HTTP_PORT_NAME, "containerPort": spec.bridge.http.port, "protocol": "TCP"},
        {"name": MANAGEMENT_PORT_NAME, "containerPort": BRIDGE_MANAGEMENT_PORT, "protocol": "TCP"},
    ]
    scrape = metrics_port(spec)
    if scrape is not None:
        ports.append({"name": METRICS_PORT_NAME, "containerPort": scrape, "protocol": "TCP"})
    return ports


def build_bridge_container(spec: BridgedAppSpec, *, native: bool, app_name: str) -> dict[str, Any]:
    """The `kafka-bridge` container; `native` makes it an init container with restartPolicy Always."""
    container: dict[str, Any] = {
        "name": SIDECAR_NAME,
        "image": spec.bridge.image,
        "command": [ENTRYPOINT],
        "env": _env(spec, app_name=app_name),
        "ports": _ports(spec),
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": CONFIG_MOUNT_PATH, "readOnly": True},
            {"name": CREDENTIALS_VOLUME, "mountPath": CREDENTIALS_MOUNT_PATH, "readOnly": True},
            {"name": TMP_VOLUME, "mountPath": TMP_MOUNT_PATH},
        ],
        **build_probes(spec),
        "securityContext": security_context(),
    }
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    if native:
        container["restartPolicy"] = "Always"
    return container


def mounted_config_maps(spec: BridgedAppSpec) -> list[tuple[ConfigMapKeyRef, str]]:
    """The user's ConfigMap keys the config volume projects, each with its file name in custom-config/:
    external logging (log4j2.properties) and the JMX exporter's configuration (metrics-config.json)."""
    bridge = spec.bridge
    refs = []
    if bridge.logging.type == LoggingType.EXTERNAL and bridge.logging.value_from is not None:
        refs.append((bridge.logging.value_from.config_map_key_ref, LOGGING_KEY))
    if bridge.metrics_config is not None and bridge.metrics_config.value_from is not None:
        refs.append((bridge.metrics_config.value_from.config_map_key_ref, METRICS_CONFIG_KEY))
    return refs


def _config_volume(spec: BridgedAppSpec, app_name: str) -> dict[str, Any]:
    """The operator's ConfigMap at custom-config/; with external logging or a JMX exporter configuration, a
    projected volume that adds the user's ConfigMap keys under the file names Strimzi would copy them to in
    its own ConfigMap: the operator never reads the user's ConfigMap, and the pod does not start until it
    exists (kubelet reports the missing ConfigMap or key)."""
    own = {"name": bridge_config_name(app_name)}
    extra = [
        {"configMap": {"name": ref.name, "items": [{"key": ref.key, "path": path}]}}
        for ref, path in mounted_config_maps(spec)
    ]
    if not extra:
        return {"name": CONFIG_VOLUME, "configMap": own}
    own_items = [{"key": PROPERTIES_KEY, "path": PROPERTIES_KEY}]
    if spec.bridge.logging.type != LoggingType.EXTERNAL:
        own_items.append({"key": LOGGING_KEY, "path": LOGGING_KEY})
    sources = [{"configMap": {**own, "items": own_items}}, *extra]
    return {"name": CONFIG_VOLUME, "projected": {"sources": sources}}


def build_volumes(app_name: str, spec: BridgedAppSpec) -> list[dict[str, Any]]:
    """The config, the credentials Secret and a memory-backed /tmp (the root filesystem is read-only)."""
    return [
        _config_volume(spec, app_name),
        {
            "name": CREDENTIALS_VOLUME,
            "secret": {"secretName": credentials_secret_name(app_name), "defaultMode": SECRET_DEFAULT_MODE},
        },
        {"name": TMP_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": TMP_SIZE_LIMIT}},
    ]


# ---------------------------------------------------------------------------------------------------------
# The Deployment apply-patch
# ---------------------------------------------------------------------------------------------------------


def _identity(deployment: dict[str, Any]) -> dict[str, Any]:
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }


def build_deployment_patch(
    deployment: dict[str, Any], app: dict[str, Any], spec: BridgedAppSpec, *, native: bool, config_hash: str
) -> dict[str, Any]:
    """The server-side apply object: exactly the fields the operator owns, nothing else (no selector, no
    labels), so applying it with field manager `bridgedapp-operator` never touches the app's own fields.

    It records the BridgedApp that owns the sidecar (`bridgedapp.io/bridged-by`) in the same apply: one
    Deployment has one bridge owner, and no other BridgedApp writes it.
    """
    container_list = "initContainers" if native else "containers"
    patch = _identity(deployment)
    patch["metadata"]["annotations"] = {BRIDGED_BY_ANNOTATION: app["metadata"]["name"]}
    patch["spec"] = {
        "template": {
            "metadata": {"annotations": {CONFIG_HASH_ANNOTATION: config_hash}},
            "spec": {
                container_list: [
                    build_bridge_container(spec, native=native, app_name=app["metadata"]["name"])
                ],
                "volumes": build_volumes(app["metadata"]["name"], spec),
            },
        }
    }
    return patch


def bridged_by(deployment: dict[str, Any]) -> str | None:
    """The name of the BridgedApp (same namespace) that owns this Deployment's sidecar, if any."""
    return (deployment.get("metadata", {}).get("annotations") or {}).get(BRIDGED_BY_ANNOTATION)


def build_removal_patch(deployment: dict[str, Any]) -> dict[str, Any]:
    """Applying this (same field manager) releases, and so removes, every field the operator owned."""
    return _identity(deployment)


def _owned_by_operator(deployment: dict[str, Any], list_name: str, name: str) -> bool:
    """True when managedFields show `bridgedapp-operator` owns the list item `name` (it added it)."""
    key = f'k:{{"name":"{name}"}}'
    for entry in deployment.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != FIELD_MANAGER:
            continue
        fields = entry.get("fieldsV1") or {}
        pod_spec = fields.get("f:spec", {}).get("f:template", {}).get("f:spec", {})
        if key in pod_spec.get(f"f:{list_name}", {}):
            return True
    return False


def app_container_conflicts(deployment: dict[str, Any]) -> list[str]:
    """Items of the app's pod template that carry the sidecar's names, as noun phrases ("a volume named
    kafka-bridge-tmp"); empty when there are none. Items the operator itself added (per managedFields, field
    manager `bridgedapp-operator`) are not conflicts. The policy (refuse, report) is the handler's.
    """
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {}) or {}
    clashes: list[str] = []
    for list_name, noun in (("containers", "a container"), ("initContainers", "an init container")):
        for container in pod.get(list_name) or []:
            if container.get("name") == SIDECAR_NAME and not _owned_by_operator(
                deployment, list_name, SIDECAR_NAME
            ):
                clashes.append(f"{noun} named {SIDECAR_NAME}")
    for volume in pod.get("volumes") or []:
        name = volume.get("name")
        if name in VOLUME_NAMES and not _owned_by_operator(deployment, "volumes", name):
            clashes.append(f"a volume named {name}")
    return clashes


def pod_conflicts(deployment: dict[str, Any], spec: BridgedAppSpec) -> list[str]:
    """What would break the sidecar's loopback-only promise or its ports, one sentence each (empty: none):
    the app's containers declaring the bridge's ports (same network namespace), or hostNetwork."""
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {}) or {}
    problems: list[str] = []
    if pod.get("hostNetwork"):
        problems.append(
            "the pod uses hostNetwork, so the bridge's loopback port would be reachable by everything on the "
            "node: turn hostNetwork off"
        )
    taken = {
        spec.bridge.http.port: "spec.bridge.http.port",
        BRIDGE_MANAGEMENT_PORT: "the bridge's management port",
    }
    scrape = metrics_port(spec)
    if scrape is not None:
        taken[scrape] = "the bridge's metrics port"
    for list_name in ("containers", "initContainers"):
        for container in pod.get(list_name) or []:
            if container.get("name") == SIDECAR_NAME:
                continue
            for port in container.get("ports") or []:
                number = port.get("containerPort")
                if number in taken:
                    problems.append(
                        f"container {container.get('name')} declares port {number}, which is "
                        f"{taken[number]}: choose another spec.bridge.http.port or move the app's port"
                    )
    return problems


# ---------------------------------------------------------------------------------------------------------
# Offline merge (for `bridgedapp render`) and the hash
# ---------------------------------------------------------------------------------------------------------

_LIST_MAPS = ("containers", "initContainers", "volumes")


def _merge_maps(live: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    out = dict(live)
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_maps(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_list_map(live: list[dict[str, Any]], applied: list[dict[str, Any]], owned: set[str]) -> list[Any]:
    by_name = {item["name"]: item for item in applied}
    out: list[dict[str, Any]] = []
    for item in live:
        name = item.get("name")
        if name in by_name:
            out.append(copy.deepcopy(by_name.pop(name)))
        elif name not in owned:
            out.append(item)
    out.extend(copy.deepcopy(item) for item in applied if item["name"] in by_name)
    return out


def apply_patch_locally(deployment: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """An approximation of what the API server makes of `patch` applied to `deployment` by this field manager.

    Like server-side apply: maps merge; containers, initContainers and volumes are list-maps keyed by name
    (our item replaces the item of the same name in place, a new one is appended, as structured-merge-diff
    orders them); and what the operator owns (the `kafka-bridge` container, its volumes, the config-hash
    annotation) but no longer applies is removed. Unlike it: no defaulting, no managedFields, and it
    assumes the operator owns every item with its names (true when app_container_conflicts() is empty).
    The integration tests compare it with the real server's result.
    """
    result = copy.deepcopy(deployment)
    meta = result.setdefault("metadata", {})
    meta_annotations = dict(meta.get("annotations") or {})
    meta_annotations.pop(BRIDGED_BY_ANNOTATION, None)
    meta_annotations.update(patch.get("metadata", {}).get("annotations") or {})
    if meta_annotations:
        meta["annotations"] = meta_annotations
    else:
        meta.pop("annotations", None)
    template = result.setdefault("spec", {}).setdefault("template", {})
    applied_template = patch.get("spec", {}).get("template", {})

    annotations = dict(template.get("metadata", {}).get("annotations") or {})
    annotations.pop(CONFIG_HASH_ANNOTATION, None)
    annotations.update(applied_template.get("metadata", {}).get("annotations") or {})
    if annotations:
        template.setdefault("metadata", {})["annotations"] = annotations
    elif "annotations" in template.get("metadata", {}):
        del template["metadata"]["annotations"]

    pod = template.setdefault("spec", {})
    applied_pod = dict(applied_template.get("spec") or {})
    owned = {"containers": {SIDECAR_NAME}, "initContainers": {SIDECAR_NAME}, "volumes": set(VOLUME_NAMES)}
    for list_name in _LIST_MAPS:
        merged = _merge_list_map(pod.get(list_name) or [], applied_pod.pop(list_name, []), owned[list_name])
        if merged:
            pod[list_name] = merged
        else:
            pod.pop(list_name, None)
    template["spec"] = _merge_maps(pod, applied_pod)
    return result


def compute_config_hash(config_map: dict[str, Any], secret: dict[str, Any]) -> str:
    """Changes exactly when the bridge's config or credentials change (e.g. a CA or user cert rotation)."""
    return config_hash(config_map.get("data") or {}, secret.get("data") or {})
