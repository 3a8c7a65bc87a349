"""KafkaUser `spec.authorization.acls` -> Kafka ACL bindings, as Strimzi's user operator translates them
(SimpleAclRule.fromCrd / SimpleAclRuleResource.toKafkaResourcePattern). The test bed's broker applies exactly
these, so a mistake here would make the data-path tests grant something Strimzi would not."""

from __future__ import annotations

import pytest

from testbed.kafka.acls import AclBinding, acl_bindings_for_user, tls_principal


def _binding(
    rtype: str, name: str, pattern: str, op: str, perm: str = "ALLOW", host: str = "*"
) -> AclBinding:
    return AclBinding(rtype, name, pattern, "User:CN=orders", host, op, perm)


def test_principal_is_the_tls_user_dn() -> None:
    assert tls_principal("orders") == "User:CN=orders"


def test_defaults_literal_allow_any_host_one_binding_per_operation() -> None:
    acls = [{"resource": {"type": "topic", "name": "orders"}, "operations": ["Read", "Write", "Describe"]}]
    assert acl_bindings_for_user("orders", acls) == sorted(
        [
            _binding("TOPIC", "orders", "LITERAL", "READ"),
            _binding("TOPIC", "orders", "LITERAL", "WRITE"),
            _binding("TOPIC", "orders", "LITERAL", "DESCRIBE"),
        ]
    )


def test_prefix_becomes_prefixed_for_topic_group_and_transactional_id() -> None:
    acls = [
        {"resource": {"type": "topic", "name": "ord", "patternType": "prefix"}, "operations": ["Read"]},
        {"resource": {"type": "group", "name": "orders", "patternType": "prefix"}, "operations": ["Read"]},
        {
            "resource": {"type": "transactionalId", "name": "tx", "patternType": "prefix"},
            "operations": ["Write"],
        },
        {"resource": {"type": "group", "name": "exact", "patternType": "literal"}, "operations": ["Read"]},
    ]
    assert acl_bindings_for_user("orders", acls) == sorted(
        [
            _binding("TOPIC", "ord", "PREFIXED", "READ"),
            _binding("GROUP", "orders", "PREFIXED", "READ"),
            _binding("TRANSACTIONAL_ID", "tx", "PREFIXED", "WRITE"),
            _binding("GROUP", "exact", "LITERAL", "READ"),
        ]
    )


def test_cluster_is_always_the_literal_kafka_cluster() -> None:
    acls = [{"resource": {"type": "cluster"}, "operations": ["IdempotentWrite", "DescribeConfigs"]}]
    assert acl_bindings_for_user("orders", acls) == sorted(
        [
            _binding("CLUSTER", "kafka-cluster", "LITERAL", "IDEMPOTENT_WRITE"),
            _binding("CLUSTER", "kafka-cluster", "LITERAL", "DESCRIBE_CONFIGS"),
        ]
    )


@pytest.mark.parametrize(
    ("strimzi", "kafka"),
    [
        ("Read", "READ"),
        ("Write", "WRITE"),
        ("Create", "CREATE"),
        ("Delete", "DELETE"),
        ("Alter", "ALTER"),
        ("Describe", "DESCRIBE"),
        ("ClusterAction", "CLUSTER_ACTION"),
        ("AlterConfigs", "ALTER_CONFIGS"),
        ("DescribeConfigs", "DESCRIBE_CONFIGS"),
        ("IdempotentWrite", "IDEMPOTENT_WRITE"),
        ("All", "ALL"),
    ],
)
def test_every_strimzi_operation_maps_to_its_kafka_operation(strimzi: str, kafka: str) -> None:
    acls = [{"resource": {"type": "topic", "name": "t"}, "operations": [strimzi]}]
    assert [b.operation for b in acl_bindings_for_user("orders", acls)] == [kafka]


def test_deny_type_and_host_are_kept() -> None:
    acls = [
        {
            "type": "deny",
            "host": "10.0.0.1",
            "resource": {"type": "topic", "name": "t"},
            "operations": ["Write"],
        }
    ]
    assert acl_bindings_for_user("orders", acls) == [
        _binding("TOPIC", "t", "LITERAL", "WRITE", "DENY", "10.0.0.1")
    ]


def test_deprecated_single_operation_still_works() -> None:
    acls = [{"resource": {"type": "group", "name": "g"}, "operation": "Read"}]
    assert acl_bindings_for_user("orders", acls) == [_binding("GROUP", "g", "LITERAL", "READ")]


def test_operation_and_operations_together_are_rejected() -> None:
    acls = [{"resource": {"type": "topic", "name": "t"}, "operation": "Read", "operations": ["Write"]}]
    with pytest.raises(ValueError, match="cannot be filled in at the same time"):
        acl_bindings_for_user("orders", acls)


def test_duplicates_collapse_like_strimzis_set() -> None:
    rule = {"resource": {"type": "topic", "name": "t"}, "operations": ["Read", "Read"]}
    assert acl_bindings_for_user("orders", [rule, rule]) == [_binding("TOPIC", "t", "LITERAL", "READ")]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"resource": {"type": "user", "name": "x"}, "operations": ["Read"]}, "resource.type"),
        ({"resource": {"type": "topic"}, "operations": ["Read"]}, "resource.name"),
        (
            {"resource": {"type": "topic", "name": "t", "patternType": "regex"}, "operations": ["Read"]},
            "patternType",
        ),
        ({"resource": {"type": "topic", "name": "t"}, "operations": ["read"]}, "operations"),
    ],
)
def test_invalid_rules_name_the_field(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        acl_bindings_for_user("orders", [rule])
