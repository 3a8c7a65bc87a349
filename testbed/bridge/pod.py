"""Read a pod's container spec the way the kubelet and the bridge image do: literal env, the config file's path, and
the files each volume mount shows (ConfigMap, Secret, projected, emptyDir).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from testbed.bridge.errors import BridgeError

STRIMZI_HOME = "/opt/strimzi"
DOCKER_RUN_SCRIPT = "bin/docker/kafka_bridge_run.sh"


def env_from_container(container: Mapping[str, Any]) -> dict[str, str]:
    """The literal `env` values of a container spec; `valueFrom` entries must be resolved by the caller."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif item.get("valueFrom"):
            raise BridgeError(
                f"env {item['name']} uses valueFrom: resolve it and pass it in `env` (the test bed has no kubelet)"
            )
        else:
            env[item["name"]] = ""
    return env


def config_file_path(container: Mapping[str, Any]) -> str:
    """Where the bridge in this container reads its properties: `--config-file=` in command/args, or, for the
    image's docker script, `$STRIMZI_HOME/custom-config/application.properties` (the script copies it to /tmp)."""
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    for i, arg in enumerate(argv):
        if arg.startswith("--config-file="):
            return arg.split("=", 1)[1]
        if arg == "--config-file" and i + 1 < len(argv):
            return argv[i + 1]
    joined = " ".join(argv)
    if not argv or DOCKER_RUN_SCRIPT in joined:
        home = (
            env_from_container(container).get("STRIMZI_HOME", STRIMZI_HOME)
            if container.get("env")
            else STRIMZI_HOME
        )
        return f"{home}/custom-config/application.properties"
    raise BridgeError(f"cannot tell where the bridge reads its properties from command/args {argv!r}")


def mounts_from_pod(
    container: Mapping[str, Any],
    volumes: Sequence[Mapping[str, Any]],
    configmaps: Mapping[str, Mapping[str, str | bytes]],
    secrets: Mapping[str, Mapping[str, str | bytes]],
) -> dict[str, dict[str, bytes]]:
    """{mountPath: {file: bytes}} for a container's volumeMounts, from its pod's volumes and the objects' data.

    `configmaps` / `secrets` map object names to their data (Secret values already base64-decoded). Handles
    configMap / secret volumes (with `items` and `optional`), emptyDir, and `subPath` of a single key.
    """
    by_name = {v["name"]: v for v in volumes}
    mounts: dict[str, dict[str, bytes]] = {}
    for vm in container.get("volumeMounts") or []:
        volume = by_name.get(vm["name"])
        if volume is None:
            raise BridgeError(f"volumeMount {vm['name']!r} names no volume of the pod")
        files: dict[str, bytes]
        if "emptyDir" in volume:
            files = {}
        elif "configMap" in volume or "secret" in volume:
            kind = "configMap" if "configMap" in volume else "secret"
            src = volume[kind]
            obj_name = src.get("name") if kind == "configMap" else src.get("secretName")
            store = configmaps if kind == "configMap" else secrets
            data = store.get(obj_name) if obj_name else None
            if data is None:
                if src.get("optional"):
                    data = {}
                else:
                    raise BridgeError(f"volume {vm['name']!r}: {kind} {obj_name!r} was not given")
            data_b = {k: v.encode() if isinstance(v, str) else bytes(v) for k, v in data.items()}
            if src.get("items"):
                files = {}
                for item in src["items"]:
                    if item["key"] not in data_b:
                        raise BridgeError(
                            f"volume {vm['name']!r}: key {item['key']!r} not in {kind} {obj_name}"
                        )
                    files[item["path"]] = data_b[item["key"]]
            else:
                files = data_b
        else:
            raise BridgeError(
                f"volume {vm['name']!r}: only configMap, secret and emptyDir volumes are laid out"
            )
        path = vm["mountPath"].rstrip("/") or "/"
        if vm.get("subPath"):
            # a single file mounted at `path`: lay it out in the parent folder
            parent, fname = path.rsplit("/", 1)
            mounts.setdefault(parent or "/", {})[fname] = files[vm["subPath"]]
        else:
            mounts[path] = files
    return mounts
