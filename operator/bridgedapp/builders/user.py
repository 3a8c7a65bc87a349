"""The KafkaUser of a BridgedApp: a TLS client identity and the least ACLs its topics need.

One user per BridgedApp, named `<namespace>.<name>` so apps in different namespaces never share an
identity. Strimzi issues its certificate with that name as CN (at most 64 characters), and the
simple authorizer grants only what `topics[].access` and the consumer-group prefix say.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bridgedapp.builders.common import app_identity, labels
from bridgedapp.builders.kafka import CLUSTER_LABEL, check_api_version
from bridgedapp.models import MAX_CONSUMER_GROUP, Access, BridgedAppSpec

MAX_CN = 64  # X.509 upper bound for a commonName, which Strimzi sets to the user's name

# Read and Write imply Describe in Kafka's authorizer; Describe is listed for topics anyway, as
# Strimzi's own examples do, so the ACL reads the same in `kafka-acls --list`.
TOPIC_OPERATIONS: dict[str, list[str]] = {
    Access.READ: ["Describe", "Read"],
    Access.WRITE: ["Describe", "Write"],
    Access.READ_WRITE: ["Describe", "Read", "Write"],
}
# Join, sync, heartbeat, offset commit and fetch all need Read on the group (Read implies the Describe
# that FindCoordinator and OffsetFetch check). Producers need nothing on groups or the cluster:
# since Kafka 3.0 (KIP-679) Write on a topic is enough for idempotent producer ids.
GROUP_OPERATIONS = ["Read"]


def kafka_user_name(app_namespace: str, app_name: str) -> str:
    """`<app_namespace>.<app_name>`, hashed down to 64 characters for the certificate's CN."""
    return app_identity(app_namespace, app_name, MAX_CN)


def group_prefix(spec: BridgedAppSpec, *, app_namespace: str, app_name: str) -> str:
    """The consumer-group prefix the app may read: spec.consumerGroup, else its own `<namespace>.<name>`.

    Defaults never meet across namespaces (namespaces hold no dots, so `a.` never starts `b.`).
    """
    return spec.consumer_group or app_identity(app_namespace, app_name, MAX_CONSUMER_GROUP)


def reads_any(spec: BridgedAppSpec, refused_topics: Collection[str] = ()) -> bool:
    """A group rule is needed only when some granted topic is readable: a write-only app never joins one."""
    return any(
        t.access in (Access.READ, Access.READ_WRITE) and t.name not in refused_topics for t in spec.topics
    )


def acls(
    spec: BridgedAppSpec,
    *,
    group: str,
    refused_topics: Collection[str] = (),
    group_refused: bool = False,
) -> list[dict[str, Any]]:
    """Allow rules: each granted topic (literal name) as its access says, and the consumer-group prefix.

    Topics and the group the tenancy policy refused get no rule at all (see tenancy.py).
    """
    rules: list[dict[str, Any]] = [
        {
            "type": "allow",
            "resource": {"type": "topic", "name": topic.name, "patternType": "literal"},
            "operations": list(TOPIC_OPERATIONS[topic.access]),
        }
        for topic in spec.topics
        if topic.name not in refused_topics
    ]
    if reads_any(spec, refused_topics) and not group_refused:
        rules.append(
            {
                "type": "allow",
                "resource": {"type": "group", "name": group, "patternType": "prefix"},
                "operations": list(GROUP_OPERATIONS),
            }
        )
    return rules


def build_user(
    spec: BridgedAppSpec,
    *,
    app_name: str,
    app_namespace: str,
    namespace: str,
    api_version: str,
    refused_topics: Collection[str] = (),
    group_refused: bool = False,
) -> dict[str, Any]:
    """The KafkaUser, in the Kafka's namespace (`namespace`), where Strimzi's user operator watches."""
    check_api_version(api_version)
    return {
        "apiVersion": api_version,
        "kind": "KafkaUser",
        "metadata": {
            "name": kafka_user_name(app_namespace, app_name),
            "namespace": namespace,
            "labels": {CLUSTER_LABEL: spec.kafka.cluster_name, **labels(app_namespace, app_name)},
        },
        "spec": {
            "authentication": {"type": "tls"},
            "authorization": {
                "type": "simple",
                "acls": acls(
                    spec,
                    group=group_prefix(spec, app_namespace=app_namespace, app_name=app_name),
                    refused_topics=refused_topics,
                    group_refused=group_refused,
                ),
            },
        },
    }
