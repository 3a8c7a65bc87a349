"""Small pure helpers every builder shares: names, labels, owner references, hashing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bridgedapp import GROUP, KIND, MANAGED_BY_LABELS, OWNER_LABEL, VERSION

MAX_LABEL_VALUE = 63


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def fit_name(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters, else a truncated prefix plus a stable hash (no collisions)."""
    if len(name) <= limit:
        return name
    suffix = short_hash(name)
    return f"{name[: limit - len(suffix) - 1].rstrip('-.')}-{suffix}"


def app_identity(app_namespace: str, app_name: str, limit: int) -> str:
    """`<namespace>.<name>`, unique across the cluster (namespaces hold no dots), hashed down to `limit`.

    The one spelling of an app's identity: its KafkaUser (and so its certificate's CN), its bridge.id and
    its default consumer-group prefix, each within its own length bound.
    """
    return fit_name(f"{app_namespace}.{app_name}", limit)


def owner_value(app_namespace: str, app_name: str) -> str:
    """The `bridgedapp.io/owner` label value: `<ns>.<name>`, hashed down when it exceeds a label's 63 chars."""
    return app_identity(app_namespace, app_name, MAX_LABEL_VALUE)


def owner_labels(owner: str) -> dict[str, str]:
    """The labels of everything the operator makes for one app: managed-by, and the owner (`owner_value`)."""
    return {**MANAGED_BY_LABELS, OWNER_LABEL: fit_name(owner, MAX_LABEL_VALUE)}


def labels(app_namespace: str, app_name: str) -> dict[str, str]:
    return owner_labels(owner_value(app_namespace, app_name))


def owner_reference(app: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to the BridgedApp, so Kubernetes garbage-collects what lives in its namespace."""
    meta = app["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": False,
    }


def config_hash(*documents: dict[str, Any]) -> str:
    """A stable hash over mappings (ConfigMap/Secret data), for the pod-template annotation."""
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
