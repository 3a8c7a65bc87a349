"""Operator-level settings: environment variables, each also a flag of `bridgedapp run`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

STRIMZI_RELEASE_URL = (
    "https://github.com/strimzi/strimzi-kafka-operator/releases/download/{version}/"
    "strimzi-cluster-operator-{version}.yaml"
)
BUNDLED_MANIFEST_DIR = "/opt/bridgedapp/strimzi"  # where the image ships the pinned bundle


@dataclass(frozen=True)
class Settings:
    """What the operator needs to know that is not in any BridgedApp."""

    strimzi_install: Literal["auto", "never"] = "auto"
    strimzi_version: str = "1.2.0"
    strimzi_namespace: str = "kafka"
    strimzi_manifest: str | None = None  # path or URL; None: the image's bundled file, else the release URL
    install_timeout: float = 600.0
    namespaces: tuple[str, ...] = field(default_factory=tuple)  # empty: all namespaces
    single_tenant: bool = False  # true: any BridgedApp may get ACLs on any topic and group (see tenancy.py)
    # How the process runs (not what it reconciles): health, metrics, logs, replicas.
    liveness: str | None = None  # Kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz
    metrics_port: int = 0  # 0: no /metrics endpoint
    log_format: Literal["plain", "json"] = "plain"
    peering: str | None = None  # a ClusterKopfPeering/KopfPeering name: replicas then take turns; None: alone
    priority: int | None = None  # the peering priority; None: a random one (distinct per replica)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        install = env.get("BRIDGEDAPP_STRIMZI_INSTALL", "auto").strip().lower()
        if install not in ("auto", "never"):
            raise ValueError(f"BRIDGEDAPP_STRIMZI_INSTALL must be 'auto' or 'never', not {install!r}")
        namespaces = tuple(n for n in env.get("BRIDGEDAPP_NAMESPACES", "").split(",") if n.strip())
        return cls(
            strimzi_install=install,  # type: ignore[arg-type]
            strimzi_version=env.get("BRIDGEDAPP_STRIMZI_VERSION", cls.strimzi_version),
            strimzi_namespace=env.get("BRIDGEDAPP_STRIMZI_NAMESPACE", cls.strimzi_namespace),
            strimzi_manifest=env.get("BRIDGEDAPP_STRIMZI_MANIFEST") or None,
            install_timeout=float(env.get("BRIDGEDAPP_INSTALL_TIMEOUT", cls.install_timeout)),
            namespaces=namespaces,
            single_tenant=_boolean(env, "BRIDGEDAPP_SINGLE_TENANT"),
            liveness=env.get("BRIDGEDAPP_LIVENESS") or None,
            metrics_port=int(env.get("BRIDGEDAPP_METRICS_PORT") or 0),
            log_format="json" if env.get("BRIDGEDAPP_LOG_FORMAT", "").strip().lower() == "json" else "plain",
            peering=env.get("BRIDGEDAPP_PEERING") or None,
            priority=int(env["BRIDGEDAPP_PRIORITY"]) if env.get("BRIDGEDAPP_PRIORITY") else None,
        )

    def manifest_source(self) -> str:
        """Where the Strimzi bundle comes from: the setting, else the image's copy, else the release URL."""
        if self.strimzi_manifest:
            return self.strimzi_manifest
        bundled = os.path.join(BUNDLED_MANIFEST_DIR, f"strimzi-cluster-operator-{self.strimzi_version}.yaml")
        if os.path.exists(bundled):
            return bundled
        return STRIMZI_RELEASE_URL.format(version=self.strimzi_version)


def _boolean(env: dict[str, str], name: str) -> bool:
    value = env.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value in ("true", "1", "yes")
