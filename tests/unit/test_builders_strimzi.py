"""The Strimzi builders: golden files for representative apps, and the behaviour each must keep."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.kafka import (
    API_V1,
    API_V1BETA2,
    CREATED_BY_ANNOTATION,
    SETTINGS_ANNOTATION,
    build_kafka,
    build_node_pool,
    creator,
    governing_settings,
    node_pool_name,
    settings_differ,
)
from bridgedapp.builders.strimzi_readiness import bootstrap_tls, is_ready, readiness
from bridgedapp.builders.topics import build_topics, topic_object_name
from bridgedapp.builders.user import build_user, kafka_user_name
from bridgedapp.models import parse_spec

from tests.unit.conftest import Golden
from tests.unit.strimzi_cases import CASES, KAFKA_NAMESPACE, Case

OWNER = owner_value("shop", "orders")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def spec_of(**fields: Any) -> Any:
    return parse_spec({"deploymentName": "orders-api", **fields})


def kafka_of(api_version: str = API_V1, **fields: Any) -> dict[str, Any]:
    return build_kafka(spec_of(**fields), namespace=KAFKA_NAMESPACE, api_version=api_version, owner=OWNER)


def pool_of(api_version: str = API_V1, **fields: Any) -> dict[str, Any]:
    return build_node_pool(spec_of(**fields), namespace=KAFKA_NAMESPACE, api_version=api_version, owner=OWNER)


def topics_of(*topics: dict[str, Any]) -> list[dict[str, Any]]:
    spec = spec_of(topics=list(topics))
    return build_topics(
        spec, namespace=KAFKA_NAMESPACE, api_version=API_V1, owner=OWNER, owner_namespace="shop"
    )


def user_of(app_name: str = "orders", **fields: Any) -> dict[str, Any]:
    return build_user(
        spec_of(**fields),
        app_name=app_name,
        app_namespace="shop",
        namespace=KAFKA_NAMESPACE,
        api_version=API_V1,
    )


# --- golden files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden(case: Case, golden: Golden) -> None:
    golden(f"strimzi-{case.name}", case.build())


# --- Kafka and KafkaNodePool -------------------------------------------------------------------------


@pytest.mark.parametrize(("replicas", "factor", "min_isr"), [(1, 1, 1), (2, 2, 2), (3, 3, 2), (5, 3, 2)])
def test_replication_settings_scale_with_replicas(replicas: int, factor: int, min_isr: int) -> None:
    config = kafka_of(kafka={"replicas": replicas})["spec"]["kafka"]["config"]
    assert config == {
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "default.replication.factor": factor,
        "min.insync.replicas": min_isr,
        "transaction.state.log.min.isr": min_isr,
    }


def test_pool_holds_nodes_storage_and_required_anti_affinity() -> None:
    pool = pool_of(kafka={"clusterName": "c1", "replicas": 5})
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "c1"
    assert pool["spec"]["replicas"] == 5
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    terms = pool["spec"]["template"]["pod"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert terms == [
        {
            "labelSelector": {"matchLabels": {"strimzi.io/cluster": "c1", "strimzi.io/name": "c1-kafka"}},
            "topologyKey": "kubernetes.io/hostname",
        }
    ]


def test_storage_is_one_jbod_volume_with_class_only_when_set() -> None:
    default = pool_of()["spec"]["storage"]
    assert default == {
        "type": "jbod",
        "volumes": [
            {
                "id": 0,
                "type": "persistent-claim",
                "size": "10Gi",
                "deleteClaim": False,
                "kraftMetadata": "shared",
            }
        ],
    }
    custom = pool_of(kafka={"storage": {"size": "1Ti", "class": "ssd", "deleteClaim": True}})["spec"][
        "storage"
    ]
    assert custom["volumes"][0] == {
        "id": 0,
        "type": "persistent-claim",
        "size": "1Ti",
        "class": "ssd",
        "deleteClaim": True,
        "kraftMetadata": "shared",
    }


def test_pool_names_are_unique_per_cluster_and_keep_pod_names_dns_labels() -> None:
    longest = "c" * 40  # the longest clusterName the spec allows
    assert node_pool_name("a") != node_pool_name("b")
    assert node_pool_name("a") == node_pool_name("a")
    pod = f"{longest}-{node_pool_name(longest)}-9999"  # Strimzi's pod name <cluster>-<pool>-<node id>
    assert DNS_LABEL.match(pod)
    assert len(pod) <= 63


def test_listeners_tls_with_mutual_tls_and_external_only_on_request() -> None:
    by_name = {lst["name"]: lst for lst in kafka_of()["spec"]["kafka"]["listeners"]}
    assert set(by_name) == {"plain", "tls"}
    assert by_name["plain"] == {"name": "plain", "port": 9092, "type": "internal", "tls": False}
    assert by_name["tls"]["port"] == 9093
    assert by_name["tls"]["tls"] is True
    assert by_name["tls"]["authentication"] == {"type": "tls"}
    external = {
        lst["name"]: lst for lst in kafka_of(kafka={"externalNodePort": True})["spec"]["kafka"]["listeners"]
    }
    assert external["external"] == {
        "name": "external",
        "port": 9094,
        "type": "nodeport",
        "tls": True,
        "authentication": {"type": "tls"},
    }


def test_kafka_authorization_entity_operator_and_version() -> None:
    kafka = kafka_of()
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert kafka["spec"]["entityOperator"] == {"topicOperator": {}, "userOperator": {}}
    assert "version" not in kafka["spec"]["kafka"]
    assert kafka_of(kafka={"version": "4.2.0"})["spec"]["kafka"]["version"] == "4.2.0"


@pytest.mark.parametrize("api_version", [API_V1, API_V1BETA2])
def test_kafka_has_no_fields_node_pools_replace(api_version: str) -> None:
    kafka = kafka_of(api_version)
    assert kafka["apiVersion"] == api_version
    assert "zookeeper" not in kafka["spec"]
    assert not {"replicas", "storage"} & set(kafka["spec"]["kafka"])


def test_v1beta2_enables_kraft_and_node_pools_v1_does_not_need_to() -> None:
    beta = kafka_of(API_V1BETA2)["metadata"]["annotations"]
    assert beta["strimzi.io/node-pools"] == "enabled"
    assert beta["strimzi.io/kraft"] == "enabled"
    v1 = kafka_of(API_V1)["metadata"]["annotations"]
    assert not any(key.startswith("strimzi.io/") for key in v1)


def test_unknown_api_version_is_refused() -> None:
    with pytest.raises(ValueError, match="v1alpha1"):
        kafka_of("kafka.strimzi.io/v1alpha1")


def test_creator_and_its_settings_are_recorded_on_the_kafka() -> None:
    spec = spec_of(kafka={"replicas": 1, "storage": {"class": "ssd"}})
    kafka = build_kafka(spec, namespace=KAFKA_NAMESPACE, api_version=API_V1, owner=OWNER)
    annotations = kafka["metadata"]["annotations"]
    assert annotations[CREATED_BY_ANNOTATION] == "shop.orders"
    assert creator(kafka) == "shop.orders"
    assert creator({"metadata": {"name": "foreign"}}) is None
    assert json.loads(annotations[SETTINGS_ANNOTATION]) == governing_settings(spec)
    assert governing_settings(spec)["replicas"] == 1
    assert governing_settings(spec)["storage"]["class"] == "ssd"
    assert kafka["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "bridgedapp-operator",
        "bridgedapp.io/owner": "shop.orders",
    }


def test_same_settings_do_not_differ() -> None:
    kafka = kafka_of(kafka={"replicas": 1, "version": "4.2.0"})
    assert settings_differ(kafka, spec_of(kafka={"replicas": 1, "version": "4.2.0"})) == []


def test_different_settings_are_named_with_the_creator() -> None:
    kafka = kafka_of(kafka={"replicas": 3})
    differences = settings_differ(kafka, spec_of(kafka={"replicas": 1, "externalNodePort": True}))
    assert len(differences) == 2
    assert any("kafka.replicas: 3" in d and "asks for 1" in d and "shop.orders" in d for d in differences)
    assert any(d.startswith("kafka.externalNodePort: false") for d in differences)


def test_settings_not_compared_when_app_does_not_create_or_nobody_governs() -> None:
    governed = kafka_of(kafka={"replicas": 3})
    assert settings_differ(governed, spec_of(kafka={"create": False, "replicas": 1})) == []
    foreign = {"metadata": {"name": "my-cluster", "annotations": {"other": "x"}}}
    assert settings_differ(foreign, spec_of(kafka={"replicas": 1})) == []


def test_unreadable_settings_record_is_reported() -> None:
    broken = {"metadata": {"annotations": {SETTINGS_ANNOTATION: "{not json"}}}
    assert "not valid JSON" in settings_differ(broken, spec_of())[0]


# --- KafkaTopic ---------------------------------------------------------------------------------------

NASTY_TOPICS = [
    "Orders",
    "orders",
    "ORDERS",
    "orders_events",
    "orders-events",
    "Orders_Events",
    "orders.events",
    "orders..events",
    "_orders",
    "-orders-",
    ".hidden",
    "__consumer_offsets",
    "a.-b",
    "x" * 63,
    "x" * 64,
    "x" * 249,
    "X" * 249,
    "___",
]


def test_sanitised_topic_names_are_valid_unique_and_short() -> None:
    names = [topic_object_name(t) for t in NASTY_TOPICS]
    for topic, name in zip(NASTY_TOPICS, names, strict=True):
        assert DNS_SUBDOMAIN.match(name), (topic, name)
        assert len(name) <= 63, (topic, name)
    assert len(set(names)) == len(NASTY_TOPICS)
    assert topic_object_name("Orders_Events") == topic_object_name("Orders_Events")


def test_valid_topic_names_are_kept_as_object_names() -> None:
    for topic in ("orders", "orders-events", "payments.v1", "x" * 63):
        assert topic_object_name(topic) == topic


def test_topic_name_set_only_when_object_name_differs() -> None:
    plain, dotted, upper = topics_of({"name": "orders"}, {"name": "payments.v1"}, {"name": "Orders_Events"})
    assert "topicName" not in plain["spec"]
    assert "topicName" not in dotted["spec"]
    assert upper["spec"]["topicName"] == "Orders_Events"
    assert upper["metadata"]["name"].startswith("orders-events-")


def test_topic_carries_cluster_label_partitions_replicas_and_config() -> None:
    (topic,) = topics_of({"name": "orders", "partitions": 6, "replicas": 2, "config": {"retention.ms": 1000}})
    assert topic["metadata"]["namespace"] == KAFKA_NAMESPACE
    assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "my-cluster"
    assert topic["metadata"]["labels"]["bridgedapp.io/owner"] == "shop.orders"
    assert topic["spec"] == {"partitions": 6, "replicas": 2, "config": {"retention.ms": 1000}}


# --- KafkaUser ----------------------------------------------------------------------------------------


def test_user_name_is_namespace_dot_name_within_a_cn() -> None:
    assert kafka_user_name("shop", "orders") == "shop.orders"
    long_a = kafka_user_name("n" * 63, "a" * 60)
    long_b = kafka_user_name("n" * 63, "b" * 60)
    assert len(long_a) <= 64
    assert long_a != long_b
    assert DNS_SUBDOMAIN.match(long_a)


def test_acls_are_least_privilege_per_access() -> None:
    user = user_of(
        consumerGroup="orders-cg",
        topics=[
            {"name": "in", "access": "Read"},
            {"name": "out", "access": "Write"},
            {"name": "both", "access": "ReadWrite"},
        ],
    )
    rules = user["spec"]["authorization"]["acls"]
    granted = {(r["resource"]["type"], r["resource"]["name"], r["resource"]["patternType"]): r for r in rules}
    assert {key: sorted(rule["operations"]) for key, rule in granted.items()} == {
        ("topic", "in", "literal"): ["Describe", "Read"],
        ("topic", "out", "literal"): ["Describe", "Write"],
        ("topic", "both", "literal"): ["Describe", "Read", "Write"],
        ("group", "orders-cg", "prefix"): ["Read"],
    }
    assert all(r["type"] == "allow" for r in rules)
    assert all("host" not in r for r in rules)  # Strimzi's default: any host


def test_acls_grant_nothing_broader() -> None:
    rules = user_of(topics=[{"name": "t", "access": "ReadWrite"}])["spec"]["authorization"]["acls"]
    for rule in rules:
        assert rule["resource"]["type"] in ("topic", "group")
        assert rule["resource"]["name"] not in ("*", "")
        assert not {"All", "Create", "Delete", "Alter", "AlterConfigs", "ClusterAction"} & set(
            rule["operations"]
        )
        if rule["resource"]["type"] == "topic":
            assert rule["resource"]["patternType"] == "literal"


def test_group_prefix_defaults_to_namespace_and_name_and_is_absent_for_write_only() -> None:
    reader = user_of(app_name="shipper", topics=[{"name": "t", "access": "Read"}])
    groups = [r for r in reader["spec"]["authorization"]["acls"] if r["resource"]["type"] == "group"]
    assert [g["resource"]["name"] for g in groups] == ["shop.shipper"]
    writer = user_of(topics=[{"name": "t", "access": "Write"}])
    assert all(r["resource"]["type"] == "topic" for r in writer["spec"]["authorization"]["acls"])


def test_user_authenticates_with_tls_and_is_labelled() -> None:
    user = user_of(topics=[{"name": "t"}])
    assert user["kind"] == "KafkaUser"
    assert user["metadata"] == {
        "name": "shop.orders",
        "namespace": KAFKA_NAMESPACE,
        "labels": {
            "strimzi.io/cluster": "my-cluster",
            "app.kubernetes.io/managed-by": "bridgedapp-operator",
            "bridgedapp.io/owner": "shop.orders",
        },
    }
    assert user["spec"]["authentication"] == {"type": "tls"}
    assert user["spec"]["authorization"]["type"] == "simple"


# --- readiness ----------------------------------------------------------------------------------------


def observed(
    *conditions: dict[str, Any], generation: int = 2, observed_generation: int | None = 2, **extra: Any
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if observed_generation is not None:
        status["observedGeneration"] = observed_generation
    return {
        "kind": "Kafka",
        "metadata": {"name": "my-cluster", "namespace": "kafka", "generation": generation, **extra},
        "status": status,
    }


READY = {"type": "Ready", "status": "True"}


def test_ready_when_ready_condition_true_for_current_generation() -> None:
    assert is_ready(observed(READY))
    assert readiness(observed(READY))[:2] == (True, "Ready")


def test_not_ready_while_generation_lags() -> None:
    obj = observed(READY, generation=3, observed_generation=2)
    ready, reason, message = readiness(obj)
    assert not ready
    assert not is_ready(obj)
    assert reason == "WaitingForStrimzi"
    assert "generation 3" in message


def test_not_ready_without_status() -> None:
    obj = {"kind": "KafkaUser", "metadata": {"name": "u", "namespace": "kafka", "generation": 1}}
    ready, reason, message = readiness(obj)
    assert (ready, reason) == (False, "WaitingForStrimzi")
    assert "generation 1" in message


def test_strimzi_reason_and_message_are_passed_on() -> None:
    failed = {"type": "Ready", "status": "False", "reason": "KafkaError", "message": "Topic quota exceeded"}
    assert readiness(observed(failed)) == (False, "KafkaError", "Topic quota exceeded")
    creating = {
        "type": "NotReady",
        "status": "True",
        "reason": "Creating",
        "message": "Kafka cluster is being deployed",
    }
    assert readiness(observed(creating)) == (False, "Creating", "Kafka cluster is being deployed")


def test_missing_paused_and_deleting_are_not_ready() -> None:
    assert readiness(None, what="Kafka kafka/my-cluster") == (
        False,
        "NotFound",
        "Kafka kafka/my-cluster not found",
    )
    paused = observed(READY, {"type": "ReconciliationPaused", "status": "True"})
    assert readiness(paused)[:2] == (False, "ReconciliationPaused")
    deleting = observed(READY, deletionTimestamp="2026-01-01T00:00:00Z")
    assert readiness(deleting)[:2] == (False, "Deleting")
    assert readiness(observed())[:2] == (False, "WaitingForStrimzi")


def strimzi_pool_status(
    replicas: int, assigned: int, generation: int = 4, observed_gen: int = 4
) -> dict[str, Any]:
    """A KafkaNodePool as real Strimzi leaves it: node ids and observedGeneration, no Ready condition."""
    return {
        "kind": "KafkaNodePool",
        "metadata": {"name": "dual-role-x", "namespace": "kafka", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed_gen,
            "replicas": assigned,
            "nodeIds": list(range(assigned)),
            "roles": ["broker", "controller"],
        },
    }


def test_node_pool_without_ready_condition_is_ready_when_all_nodes_have_ids() -> None:
    assert is_ready(strimzi_pool_status(replicas=3, assigned=3))
    scaling = readiness(strimzi_pool_status(replicas=5, assigned=3))
    assert scaling[:2] == (False, "WaitingForStrimzi")
    assert "3 of 5" in scaling[2]
    assert not is_ready(strimzi_pool_status(replicas=3, assigned=3, generation=5, observed_gen=4))


def test_bootstrap_tls_from_status_else_the_bootstrap_service() -> None:
    kafka = observed(READY)
    kafka["status"]["listeners"] = [
        {"name": "plain", "bootstrapServers": "my-cluster-kafka-bootstrap.kafka.svc:9092"},
        {"name": "tls", "bootstrapServers": "b-0.example:9093,b-1.example:9093"},
    ]
    assert bootstrap_tls(kafka) == "b-0.example:9093,b-1.example:9093"
    assert bootstrap_tls(observed(READY)) == "my-cluster-kafka-bootstrap.kafka.svc:9093"
    assert bootstrap_tls(None) is None
