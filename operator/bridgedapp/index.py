"""How related objects find their BridgedApps: one typed key, used by the Kopf index and the handlers.

Each BridgedApp is indexed under a key per object it depends on; a watch event on that object looks its key
up and runs a pass for each app found. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from bridgedapp.builders import topics, user
from bridgedapp.scheduling import AppRef
from bridgedapp.world import previous_deployment, spec_or_none


class RefKey(NamedTuple):
    """(kind, namespace, name) of an object some BridgedApp depends on. `Owned` names the app itself (its
    mirrored Secret and ConfigMap carry an ownerReference to it)."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def namespace_key(cls, name: str) -> RefKey:
        """A Namespace: a cluster admin's allowances live on it (tenancy.py)."""
        return cls("Namespace", "", name)


def references(app: Mapping[str, Any], strimzi_namespace: str) -> dict[RefKey, AppRef]:
    """Index keys under which related objects find this BridgedApp (for the Kopf index)."""
    meta = app["metadata"]
    ref: AppRef = (meta["namespace"], meta["name"])
    spec = spec_or_none(app.get("spec"))
    if spec is None:
        return {}
    kafka_ns = spec.kafka_namespace(strimzi_namespace)
    keys: dict[RefKey, AppRef] = {
        RefKey("Deployment", meta["namespace"], spec.deployment_name): ref,
        RefKey("Kafka", kafka_ns, spec.kafka.cluster_name): ref,
        RefKey("KafkaUser", kafka_ns, user.kafka_user_name(meta["namespace"], meta["name"])): ref,
        RefKey("Owned", meta["namespace"], meta["name"]): ref,
        RefKey.namespace_key(meta["namespace"]): ref,
    }
    for topic in spec.topics:  # every app using a topic follows it, whoever created it
        keys[RefKey("KafkaTopic", kafka_ns, topics.topic_object_name(topic.name))] = ref
    previous = previous_deployment(app.get("status") or {})
    if previous:
        keys[RefKey("Deployment", meta["namespace"], previous)] = ref
    return keys
