"""KafkaTopics for the topics a BridgedApp lists, with object names Kubernetes accepts.

Kafka topic names may hold upper case, `_` and `.`; object names may not (upper case, `_`) or not
everywhere (`.` only between alphanumerics). A topic whose name is not already a valid object name
gets a sanitised object name plus a hash of the real name (two topics never share an object), and
`spec.topicName` carries the real name to Strimzi's topic operator.
"""

from __future__ import annotations

import re
from typing import Any

from bridgedapp.builders.common import owner_labels, short_hash
from bridgedapp.builders.kafka import CLUSTER_LABEL, check_api_version
from bridgedapp.models import BridgedAppSpec, TopicSpec
from bridgedapp.observe import is_subset
from bridgedapp.tenancy import OWNER_NAMESPACE_ANNOTATION, SHARED_WITH_ANNOTATION

# Object names are DNS subdomains (253), but Strimzi and tools copy resource names into label values,
# so stay within a label's 63 characters.
MAX_OBJECT_NAME = 63
HASH_LENGTH = 8
_INVALID = re.compile(r"[^a-z0-9.-]")
_VALID_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _sanitise(topic: str) -> str:
    """Lower case, `_` to `-`, invalid characters dropped, every dot-separated part alphanumeric-bounded."""
    cleaned = _INVALID.sub("", topic.lower().replace("_", "-"))
    parts = [part.strip("-") for part in cleaned.split(".")]
    return ".".join(part for part in parts if part)


def topic_object_name(topic: str) -> str:
    """The KafkaTopic's metadata.name for Kafka topic `topic`: the topic itself when that is valid."""
    if len(topic) <= MAX_OBJECT_NAME and _VALID_NAME.match(topic):
        return topic
    base = _sanitise(topic)[: MAX_OBJECT_NAME - HASH_LENGTH - 1].rstrip("-.")
    suffix = short_hash(topic, length=HASH_LENGTH)
    return f"{base}-{suffix}" if base else f"topic-{suffix}"


def build_topic(
    topic: TopicSpec, *, cluster: str, namespace: str, api_version: str, owner: str, owner_namespace: str
) -> dict[str, Any]:
    """One KafkaTopic; `spec.topicName` only when the object name is not the topic name.

    It records the namespace that owns it and whom that namespace shares it with (see tenancy.py).
    """
    check_api_version(api_version)
    name = topic_object_name(topic.name)
    spec: dict[str, Any] = {}
    if name != topic.name:
        spec["topicName"] = topic.name
    spec["partitions"] = topic.partitions
    spec["replicas"] = topic.replicas
    if topic.config:
        spec["config"] = dict(topic.config)
    return {
        "apiVersion": api_version,
        "kind": "KafkaTopic",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {CLUSTER_LABEL: cluster, **owner_labels(owner)},
            "annotations": {
                OWNER_NAMESPACE_ANNOTATION: owner_namespace,
                SHARED_WITH_ANNOTATION: ",".join(topic.shared_with),
            },
        },
        "spec": spec,
    }


def build_topics(
    spec: BridgedAppSpec, *, namespace: str, api_version: str, owner: str, owner_namespace: str
) -> list[dict[str, Any]]:
    """A KafkaTopic per listed topic, in the Kafka's namespace, labelled with its cluster."""
    return [
        build_topic(
            topic,
            cluster=spec.kafka.cluster_name,
            namespace=namespace,
            api_version=api_version,
            owner=owner,
            owner_namespace=owner_namespace,
        )
        for topic in spec.topics
    ]


def spec_matches(desired: dict[str, Any], current: dict[str, Any]) -> bool:
    """The KafkaTopic holds what `desired` says, a removed config key included (a subset check misses it)."""
    return is_subset(desired, current) and (current.get("spec") or {}).get("config") == desired["spec"].get(
        "config"
    )


def keep_partitions(desired: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """`desired` without a partition decrease, which Kafka cannot do, and the refusal saying so (or None).

    The rest of the spec (replicas, config) is applied as asked: Strimzi's topic operator reports what it
    cannot change in the KafkaTopic's own condition, which the BridgedApp's TopicsReady message quotes.
    """
    have = (current.get("spec") or {}).get("partitions")
    want = desired["spec"]["partitions"]
    if not isinstance(have, int) or want >= have:
        return desired, None
    kept = {**desired, "spec": {**desired["spec"], "partitions": have}}
    name = desired["spec"].get("topicName") or desired["metadata"]["name"]
    return kept, (
        f"topic {name} has {have} partitions and Kafka cannot decrease them: set partitions to {have} or more"
    )
