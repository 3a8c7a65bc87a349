"""Who may get Kafka rights on what: the many-teams policy, as pure functions (no I/O).

One operator serves every namespace, so it must not be a confused deputy: whoever may create a BridgedApp
in one namespace must not get ACLs on another team's topics or consumer groups through it.

- A topic the operator creates belongs to the namespace of the BridgedApp that created it (recorded on
  the KafkaTopic). Apps of that namespace may use it; another namespace only when the owner shares it
  (`spec.topics[].sharedWith` on the owning BridgedApp, recorded on the KafkaTopic as well) or a cluster
  admin allows it.
- A topic that exists without an owner (not created by this operator) needs a cluster admin's allowance.
- Consumer groups: the default prefix `<namespace>.<name>` is the app's own; an explicit
  `spec.consumerGroup` must stay inside the namespace's own prefix `<namespace>.` unless an admin allows it.
- A cluster admin allows through annotations on the app's Namespace (which tenants cannot usually edit):
  `bridgedapp.io/allowed-topics` and `bridgedapp.io/allowed-consumer-groups`, comma-separated names, where
  an entry ending in `*` is a prefix. `BRIDGEDAPP_SINGLE_TENANT=true` allows everything (one team per
  cluster: the behaviour before this policy existed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridgedapp import LABEL_PREFIX, OWNER_LABEL

OWNER_NAMESPACE_ANNOTATION = f"{LABEL_PREFIX}owner-namespace"
SHARED_WITH_ANNOTATION = f"{LABEL_PREFIX}shared-with"
ALLOWED_TOPICS_ANNOTATION = f"{LABEL_PREFIX}allowed-topics"
ALLOWED_GROUPS_ANNOTATION = f"{LABEL_PREFIX}allowed-consumer-groups"
ANY_NAMESPACE = "*"


@dataclass(frozen=True)
class Allowances:
    """What a cluster admin allows the apps of one namespace beyond their own (from its annotations)."""

    topics: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    everything: bool = False  # single-tenant cluster

    @classmethod
    def of_namespace(cls, namespace: Mapping[str, Any] | None, *, single_tenant: bool = False) -> Allowances:
        annotations = ((namespace or {}).get("metadata") or {}).get("annotations") or {}
        return cls(
            topics=split_list(annotations.get(ALLOWED_TOPICS_ANNOTATION)),
            groups=split_list(annotations.get(ALLOWED_GROUPS_ANNOTATION)),
            everything=single_tenant,
        )

    def allows_topic(self, topic: str) -> bool:
        return self.everything or matches_any(topic, self.topics)

    def allows_group(self, group: str) -> bool:
        return self.everything or matches_any(group, self.groups)


def split_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    """`name` equals a pattern, or starts with a pattern's text before its trailing `*`."""
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def topic_owner_namespace(topic_obj: Mapping[str, Any]) -> str | None:
    """The namespace a KafkaTopic belongs to; None when this operator did not create it.

    Topics written before the owner-namespace annotation existed carry only the owner label
    `<namespace>.<name>`; namespaces hold no dots, so its first part is the namespace.
    """
    meta = topic_obj.get("metadata") or {}
    recorded = (meta.get("annotations") or {}).get(OWNER_NAMESPACE_ANNOTATION)
    if recorded:
        return str(recorded)
    owner = (meta.get("labels") or {}).get(OWNER_LABEL)
    return str(owner).split(".", 1)[0] if owner and "." in str(owner) else None


def shared_with(topic_obj: Mapping[str, Any]) -> tuple[str, ...]:
    annotations = (topic_obj.get("metadata") or {}).get("annotations") or {}
    return split_list(annotations.get(SHARED_WITH_ANNOTATION))


def topic_refusal(
    topic: str, topic_obj: Mapping[str, Any] | None, *, app_namespace: str, allowances: Allowances
) -> str | None:
    """Why the app may not get ACLs on `topic` (one clause naming who can allow it), or None when it may.

    `topic_obj` is the KafkaTopic as it is now (None: absent, so the app creates and owns it).
    """
    if topic_obj is None or allowances.allows_topic(topic):
        return None
    owner_ns = topic_owner_namespace(topic_obj)
    if owner_ns == app_namespace:
        return None
    if owner_ns is None:
        return (
            f"topic {topic} was not created by bridgedapp and has no owner: a cluster admin can allow it "
            f"with the annotation {ALLOWED_TOPICS_ANNOTATION} on namespace {app_namespace}"
        )
    sharing = shared_with(topic_obj)
    if app_namespace in sharing or ANY_NAMESPACE in sharing:
        return None
    return (
        f"topic {topic} belongs to namespace {owner_ns}: its owner can add {app_namespace} to the topic's "
        f"sharedWith in its BridgedApp, or a cluster admin can allow it with the annotation "
        f"{ALLOWED_TOPICS_ANNOTATION} on namespace {app_namespace}"
    )


def own_group_prefix(app_namespace: str) -> str:
    """Consumer groups under `<namespace>.` belong to that namespace (namespaces hold no dots)."""
    return f"{app_namespace}."


def group_refusal(group: str, *, app_namespace: str, allowances: Allowances) -> str | None:
    """Why the app may not read consumer groups under `group`, or None when it may."""
    if group.startswith(own_group_prefix(app_namespace)) or allowances.allows_group(group):
        return None
    return (
        f"consumer group {group} is outside namespace {app_namespace}'s own prefix "
        f"{own_group_prefix(app_namespace)}: choose a spec.consumerGroup starting with it, or a cluster admin "
        f"can allow it with the annotation {ALLOWED_GROUPS_ANNOTATION} on namespace {app_namespace}"
    )


def groups_overlap(one: str, other: str) -> bool:
    """Two prefix ACLs cover a common group name exactly when one prefix starts the other."""
    return one.startswith(other) or other.startswith(one)
