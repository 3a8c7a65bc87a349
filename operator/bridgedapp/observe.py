"""Pure readings of objects the API server returned: does it already hold what we want, is it rolled out.

These let a reconcile pass that finds nothing to change make no write at all: one operator serves a whole
cluster, and idle passes must cost the API server only reads.
"""

from __future__ import annotations

from typing import Any

from bridgedapp import CONFIG_HASH_ANNOTATION, SIDECAR_NAME
from bridgedapp import reasons as r


def is_subset(desired: Any, current: Any) -> bool:
    """True when every field of `desired` is in `current` with the same value.

    The server adds defaults, so extra fields in `current` are fine. Lists of named items (containers,
    volumes) are matched by name; other lists must have the same length and match item by item.
    """
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            k in current and is_subset(v, current[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(current, list):
            return False
        if desired and all(isinstance(d, dict) and "name" in d for d in desired):
            named = {c.get("name"): c for c in current if isinstance(c, dict)}
            return all(d["name"] in named and is_subset(d, named[d["name"]]) for d in desired)
        return len(desired) == len(current) and all(
            is_subset(d, c) for d, c in zip(desired, current, strict=True)
        )
    return desired == current


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment.get("spec", {}).get("template", {}).get("spec", {}) or {}


def bridge_placement(deployment: dict[str, Any]) -> set[str]:
    """Where the kafka-bridge container sits: {'initContainers'}, {'containers'}, both, or neither."""
    spec = _pod_spec(deployment)
    return {
        key
        for key in ("initContainers", "containers")
        if any(c.get("name") == SIDECAR_NAME for c in spec.get(key) or [])
    }


def injection_matches(deployment: dict[str, Any], patch: dict[str, Any]) -> bool:
    """The Deployment already carries exactly the injection `patch` describes (nothing stale besides)."""
    wanted_spec = _pod_spec(patch)
    wanted_place = {k for k in ("initContainers", "containers") if wanted_spec.get(k)}
    wanted_volumes = {v["name"] for v in wanted_spec.get("volumes", [])}
    ours = {
        v.get("name")
        for v in _pod_spec(deployment).get("volumes") or []
        if v.get("name", "").startswith(SIDECAR_NAME)
    }
    return (
        bridge_placement(deployment) == wanted_place
        and ours == wanted_volumes
        and is_subset(patch.get("spec", {}), deployment.get("spec", {}))
        and is_subset(
            patch.get("metadata", {}).get("annotations") or {},
            deployment.get("metadata", {}).get("annotations") or {},
        )
    )


def rollout(deployment: dict[str, Any], config_hash: str) -> tuple[bool, str, str]:
    """Is the injected template rolled out? (ok, reason, message), in the words of `kubectl rollout status`."""
    meta, spec, status = (
        deployment["metadata"],
        deployment.get("spec", {}),
        deployment.get("status", {}) or {},
    )
    name = meta["name"]
    annotations = spec.get("template", {}).get("metadata", {}).get("annotations") or {}
    if annotations.get(CONFIG_HASH_ANNOTATION) != config_hash:
        return (
            False,
            r.NOT_INJECTED,
            f"Deployment {name} does not carry the current bridge configuration yet.",
        )
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return (
            False,
            r.ROLLOUT_PENDING,
            f"Waiting for the Deployment controller to observe {name}'s new template.",
        )
    wanted = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < wanted:
        return False, r.ROLLING_OUT, f"{updated} of {wanted} pods of {name} run the injected template."
    if status.get("replicas", 0) > updated:
        return False, r.ROLLING_OUT, f"Old pods of {name} are still terminating."
    if available < wanted:
        return (
            False,
            r.PODS_NOT_AVAILABLE,
            f"{available} of {wanted} pods of {name} are available; check their events.",
        )
    return True, r.AVAILABLE, f"All {wanted} pods of {name} run with the bridge."
