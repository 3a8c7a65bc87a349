"""Strimzi's KafkaUser ACLs as Kafka ACL bindings.

`acl_bindings_for_user` translates a KafkaUser's `spec.authorization.acls` into Kafka ACL bindings exactly the way
Strimzi's user operator does (`SimpleAclRule` / `SimpleAclRuleResource`), so a test can give a client the ACLs a
KafkaUser would get.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Strimzi's AclOperation JSON values -> Kafka's org.apache.kafka.common.acl.AclOperation names.
_OPERATIONS = {
    "Read": "READ",
    "Write": "WRITE",
    "Create": "CREATE",
    "Delete": "DELETE",
    "Alter": "ALTER",
    "Describe": "DESCRIBE",
    "ClusterAction": "CLUSTER_ACTION",
    "AlterConfigs": "ALTER_CONFIGS",
    "DescribeConfigs": "DESCRIBE_CONFIGS",
    "IdempotentWrite": "IDEMPOTENT_WRITE",
    "All": "ALL",
}
# The KafkaUser resource `type` -> Kafka's ResourceType name.
_RESOURCE_TYPES = {
    "topic": "TOPIC",
    "group": "GROUP",
    "cluster": "CLUSTER",
    "transactionalId": "TRANSACTIONAL_ID",
}
_PATTERNS = {"literal": "LITERAL", "prefix": "PREFIXED"}
_RULE_TYPES = {"allow": "ALLOW", "deny": "DENY"}


@dataclass(frozen=True, order=True)
class AclBinding:
    """One Kafka ACL binding, every field in Kafka's enum spelling (as `kafka-acls` and the Admin API show it)."""

    resource_type: str  # TOPIC | GROUP | CLUSTER | TRANSACTIONAL_ID
    resource_name: str
    pattern_type: str  # LITERAL | PREFIXED
    principal: str  # User:CN=<name>
    host: str
    operation: str  # READ | WRITE | ... | CLUSTER_ACTION | ALL
    permission: str  # ALLOW | DENY

    def to_json(self) -> dict[str, str]:
        """The shape TestbedKafkaAdmin.java reads and writes."""
        return {
            "resourceType": self.resource_type,
            "resourceName": self.resource_name,
            "patternType": self.pattern_type,
            "principal": self.principal,
            "host": self.host,
            "operation": self.operation,
            "permission": self.permission,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> AclBinding:
        return cls(
            resource_type=data["resourceType"],
            resource_name=data["resourceName"],
            pattern_type=data["patternType"],
            principal=data["principal"],
            host=data["host"],
            operation=data["operation"],
            permission=data["permission"],
        )


def tls_principal(username: str) -> str:
    """The Kafka principal of a Strimzi TLS user: `User:` + `CN=<name>` (KafkaUserModel.getTlsUserName)."""
    return f"User:CN={username}"


def acl_bindings_for_user(username: str, acls: Iterable[Mapping[str, Any]]) -> list[AclBinding]:
    """Translate a TLS KafkaUser's `spec.authorization.acls` the way Strimzi's user operator does.

    Per rule (SimpleAclRule.fromCrd): `type` defaults to allow, `host` to "*"; `operations` (a list) and the
    deprecated single `operation` are mutually exclusive; one binding per operation. Per resource
    (SimpleAclRuleResource.toKafkaResourcePattern): topic, group and transactionalId keep their name, `patternType`
    defaults to literal and `prefix` becomes PREFIXED; cluster is always the literal `kafka-cluster`. The result is
    a set (Strimzi keeps a Set), returned sorted.
    """
    principal = tls_principal(username)
    result: set[AclBinding] = set()
    for index, rule in enumerate(acls):
        where = f"acls[{index}]"
        if rule.get("operations") is not None and rule.get("operation") is not None:
            raise ValueError(
                f"{where}: both fields `operations` and `operation` cannot be filled in at the same time"
            )
        operations = rule.get("operations")
        if operations is None:
            operations = [rule.get("operation")]
        resource = rule.get("resource") or {}
        resource_type = _RESOURCE_TYPES.get(str(resource.get("type")))
        if resource_type is None:
            raise ValueError(
                f"{where}.resource.type: {resource.get('type')!r} is not one of {sorted(_RESOURCE_TYPES)}"
            )
        if resource_type == "CLUSTER":
            name, pattern = "kafka-cluster", "LITERAL"
        else:
            name = resource.get("name")
            if name is None:
                raise ValueError(f"{where}.resource.name: required for resource type {resource['type']}")
            pattern_value = resource.get("patternType", "literal")
            if pattern_value not in _PATTERNS:
                raise ValueError(f"{where}.resource.patternType: {pattern_value!r} is not literal or prefix")
            pattern = _PATTERNS[pattern_value]
        rule_type = _RULE_TYPES.get(str(rule.get("type", "allow")))
        if rule_type is None:
            raise ValueError(f"{where}.type: {rule.get('type')!r} is not allow or deny")
        host = rule.get("host", "*")
        for operation in operations:
            kafka_operation = _OPERATIONS.get(str(operation))
            if kafka_operation is None:
                raise ValueError(f"{where}.operations: {operation!r} is not one of {sorted(_OPERATIONS)}")
            result.add(
                AclBinding(
                    resource_type, str(name), pattern, principal, str(host), kafka_operation, rule_type
                )
            )
    return sorted(result)
