"""Deletion: undo what one BridgedApp added, keep topics and data, and never touch another app's parts.

Works from what the operator recorded (the status) and the raw spec, so a spec that no longer validates
still cleans up; it touches a Deployment only when this app owns its sidecar (`plan.releasable`), and it
deletes a Kafka the operator created only under `deletionPolicy: DeleteWhenUnused` when no other app uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bridgedapp import KIND
from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.builders import bridge, kafka, sidecar, user
from bridgedapp.gather import APP_API, other_apps
from bridgedapp.kube import NAMESPACE_TERMINATING, Kube, KubeError
from bridgedapp.models import BridgedAppSpec
from bridgedapp.strimzi import StrimziEnsurer, StrimziInfo
from bridgedapp.world import Event, previous_deployment, releasable, spec_or_none, uses_kafka

log = logging.getLogger(__name__)


def release(kube: Kube, app: Mapping[str, Any], deployment_name: str) -> bool:
    """Take this app's bridge out of a Deployment, only if this app owns it; True when it did."""
    deployment = kube.get("apps/v1", "Deployment", deployment_name, app["metadata"]["namespace"])
    if deployment is None or not releasable(app, deployment):
        return False
    kube.apply(sidecar.build_removal_patch(deployment))
    return True


def cleanup(kube: Kube, ensurer: StrimziEnsurer, app: Mapping[str, Any]) -> list[Event]:
    """Completes when things are already gone; raises KubeError for the finalizer to retry."""
    meta, status = app["metadata"], app.get("status") or {}
    raw = app.get("spec") or {}
    events: list[Event] = []
    mark_deleting(kube, app)
    targets = {raw.get("deploymentName"), previous_deployment(status)} - {None}
    for name in sorted(str(t) for t in targets if t):
        try:
            removed = release(kube, app, name)
        except KubeError as err:
            if err.reason != NAMESPACE_TERMINATING:
                raise
            removed = False  # the Deployment goes with its namespace: nothing to take back
        if removed:
            events.append(Event("Normal", r.SIDECAR_REMOVED, f"Removed the bridge from Deployment {name}."))
    for kind, name in (
        ("ConfigMap", bridge.bridge_config_name(meta["name"])),
        ("Secret", bridge.credentials_secret_name(meta["name"])),
    ):
        kube.delete("v1", kind, name, meta["namespace"])
    info = ensurer.find()
    if info is None:
        return events
    recorded = str((status.get("kafka") or {}).get("cluster") or "")
    kafka_ns = (
        recorded.split("/", 1)[0]
        if "/" in recorded
        else (raw.get("kafka") or {}).get("namespace") or info.namespace
    )
    if not kube.namespace_exists(kafka_ns):
        return events
    user_name = user.kafka_user_name(meta["namespace"], meta["name"])
    if kube.delete(info.api_version, "KafkaUser", user_name, kafka_ns):
        events.append(Event("Normal", r.USER_DELETED, f"Deleted KafkaUser {kafka_ns}/{user_name}."))
    spec = spec_or_none(raw)
    if spec is not None and spec.kafka.deletion_policy == "DeleteWhenUnused":
        events += _delete_kafka_if_unused(kube, app, spec, info, kafka_ns)
    return events


def mark_deleting(kube: Kube, app: Mapping[str, Any]) -> None:
    """`phase: Deleting` (and Ready False) while the finalizer runs: `kubectl get ba` tells the truth."""
    meta, current = app["metadata"], app.get("status") or {}
    if current.get("phase") == c.PHASE_DELETING:
        return
    status = c.deleting_status(dict(current), generation=meta.get("generation", 1))
    try:
        kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], status)
    except KubeError as err:  # gone already, or its namespace is going: the cleanup itself still runs
        log.debug("could not mark %s/%s as Deleting: %s", meta["namespace"], meta["name"], err)


def _delete_kafka_if_unused(
    kube: Kube, app: Mapping[str, Any], spec: BridgedAppSpec, info: StrimziInfo, kafka_ns: str
) -> list[Event]:
    cluster = spec.kafka.cluster_name
    existing = kube.get(info.api_version, "Kafka", cluster, kafka_ns)
    if existing is None or kafka.creator(existing) is None:
        return []
    me = (app["metadata"]["namespace"], app["metadata"]["name"])
    users = [
        other
        for other in other_apps(kube)
        if (other.namespace, other.name) != me
        and not other.deleting
        and uses_kafka(other, kafka_ns, cluster, info.namespace)
    ]
    if users:
        names = ", ".join(f"{u.namespace}/{u.name}" for u in users)
        return [Event("Normal", r.KAFKA_KEPT, f"Kafka {kafka_ns}/{cluster} is still used by {names}.")]
    kube.delete(info.api_version, "Kafka", cluster, kafka_ns)
    kube.delete(info.api_version, "KafkaNodePool", kafka.node_pool_name(cluster), kafka_ns)
    return [Event("Normal", r.KAFKA_DELETED, f"Deleted Kafka {kafka_ns}/{cluster}: no BridgedApp uses it.")]
