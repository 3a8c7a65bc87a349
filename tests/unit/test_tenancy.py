"""The many-teams policy (tenancy.py) and the identities it relies on: pure decisions, no cluster."""

from __future__ import annotations

from typing import Any

import pytest
from bridgedapp.builders import bridge, topics, user
from bridgedapp.builders.common import app_identity
from bridgedapp.conditions import deleting_status
from bridgedapp.models import MAX_CONSUMER_GROUP, parse_spec
from bridgedapp.tenancy import (
    ALLOWED_GROUPS_ANNOTATION,
    ALLOWED_TOPICS_ANNOTATION,
    Allowances,
    group_refusal,
    groups_overlap,
    topic_owner_namespace,
    topic_refusal,
)

NOBODY = Allowances()


def topic_obj(owner_ns: str | None = None, shared: str | None = None, legacy_label: str | None = None) -> Any:
    annotations = {}
    labels = {}
    if owner_ns is not None:
        annotations["bridgedapp.io/owner-namespace"] = owner_ns
        labels["bridgedapp.io/owner"] = f"{owner_ns}.app"
    if shared is not None:
        annotations["bridgedapp.io/shared-with"] = shared
    if legacy_label is not None:
        labels["bridgedapp.io/owner"] = legacy_label
    return {"metadata": {"name": "t", "labels": labels, "annotations": annotations}}


def test_an_absent_topic_is_the_apps_to_create() -> None:
    assert topic_refusal("payments", None, app_namespace="shop", allowances=NOBODY) is None


def test_a_topic_of_the_apps_own_namespace_is_allowed() -> None:
    assert topic_refusal("orders", topic_obj("shop"), app_namespace="shop", allowances=NOBODY) is None


def test_another_namespaces_topic_is_refused_naming_both_ways_to_allow_it() -> None:
    why = topic_refusal("payments", topic_obj("payments"), app_namespace="shop", allowances=NOBODY)
    assert why is not None
    assert "belongs to namespace payments" in why and "sharedWith" in why
    assert ALLOWED_TOPICS_ANNOTATION in why and "namespace shop" in why


@pytest.mark.parametrize("shared", ["shop", "billing,shop", "*"])
def test_the_owner_can_share_its_topic(shared: str) -> None:
    obj = topic_obj("payments", shared=shared)
    assert topic_refusal("payments", obj, app_namespace="shop", allowances=NOBODY) is None


def test_sharing_with_one_namespace_is_not_sharing_with_another() -> None:
    obj = topic_obj("payments", shared="billing")
    assert topic_refusal("payments", obj, app_namespace="shop", allowances=NOBODY) is not None


def test_a_topic_without_an_owner_needs_an_admin() -> None:
    unowned = {"metadata": {"name": "legacy", "labels": {"strimzi.io/cluster": "c"}}}
    why = topic_refusal("legacy", unowned, app_namespace="shop", allowances=NOBODY)
    assert why is not None and "no owner" in why and ALLOWED_TOPICS_ANNOTATION in why
    admin = Allowances.of_namespace(
        {"metadata": {"annotations": {ALLOWED_TOPICS_ANNOTATION: "audit, legacy"}}}
    )
    assert topic_refusal("legacy", unowned, app_namespace="shop", allowances=admin) is None


def test_admin_patterns_are_names_or_prefixes() -> None:
    admin = Allowances.of_namespace({"metadata": {"annotations": {ALLOWED_TOPICS_ANNOTATION: "pay-*"}}})
    assert admin.allows_topic("pay-eu") and not admin.allows_topic("payments")


def test_single_tenant_allows_everything() -> None:
    everything = Allowances(everything=True)
    assert (
        topic_refusal("payments", topic_obj("payments"), app_namespace="shop", allowances=everything) is None
    )
    assert group_refusal("payments.worker", app_namespace="shop", allowances=everything) is None


def test_topics_written_before_the_annotation_take_their_namespace_from_the_owner_label() -> None:
    assert topic_owner_namespace(topic_obj(legacy_label="payments.billing")) == "payments"


def test_a_consumer_group_outside_the_namespace_prefix_needs_an_admin() -> None:
    assert group_refusal("shop.anything", app_namespace="shop", allowances=NOBODY) is None
    why = group_refusal("billing.orders", app_namespace="shop", allowances=NOBODY)
    assert why is not None and "shop." in why and ALLOWED_GROUPS_ANNOTATION in why
    admin = Allowances.of_namespace({"metadata": {"annotations": {ALLOWED_GROUPS_ANNOTATION: "billing.*"}}})
    assert group_refusal("billing.orders", app_namespace="shop", allowances=admin) is None


def test_a_namespace_named_like_another_namespaces_prefix_owns_nothing_of_it() -> None:
    # "shop" must not reach "shopping.x": the namespace prefix ends in a dot, which namespaces never hold
    assert group_refusal("shopping.orders", app_namespace="shop", allowances=NOBODY) is not None


def test_prefix_acls_overlap_exactly_when_one_starts_the_other() -> None:
    assert groups_overlap("shop.orders", "shop.orders-v2")
    assert groups_overlap("team.", "team.app")
    assert not groups_overlap("shop.orders", "billing.orders")


# ---- identities ---------------------------------------------------------------------------------------


def spec(**fields: Any) -> Any:
    return parse_spec({"deploymentName": "d", **fields})


def test_same_name_in_two_namespaces_gets_two_identities() -> None:
    readable = spec(topics=[{"name": "orders", "access": "Read"}])
    shop = user.build_user(readable, app_name="orders", app_namespace="shop", namespace="k", api_version=V1)
    billing = user.build_user(
        readable, app_name="orders", app_namespace="billing", namespace="k", api_version=V1
    )
    assert shop["metadata"]["name"] != billing["metadata"]["name"]
    assert group_of(shop) == "shop.orders" and group_of(billing) == "billing.orders"
    assert not groups_overlap(group_of(shop), group_of(billing))
    assert bridge.bridge_id("shop", "orders") != bridge.bridge_id("billing", "orders")


def test_default_identities_are_length_bounded_and_stay_unique() -> None:
    long_ns, long_name = "n" * 63, "a" * 253
    group = user.group_prefix(spec(), app_namespace=long_ns, app_name=long_name)
    assert len(group) <= MAX_CONSUMER_GROUP
    assert group != user.group_prefix(spec(), app_namespace=long_ns, app_name=long_name[:-1] + "b")
    assert len(bridge.bridge_id(long_ns, long_name)) <= bridge.MAX_BRIDGE_ID
    assert app_identity("shop", "orders", 200) == "shop.orders"


def test_an_explicit_consumer_group_is_kept() -> None:
    explicit = spec(consumerGroup="shop.legacy", topics=[{"name": "t", "access": "Read"}])
    assert user.group_prefix(explicit, app_namespace="shop", app_name="orders") == "shop.legacy"


def test_refused_topics_and_group_get_no_acl() -> None:
    wanted = spec(
        consumerGroup="other.group",
        topics=[{"name": "mine", "access": "Write"}, {"name": "theirs", "access": "Read"}],
    )
    built = user.build_user(
        wanted,
        app_name="orders",
        app_namespace="shop",
        namespace="k",
        api_version=V1,
        refused_topics={"theirs"},
        group_refused=True,
    )
    resources = [
        (r["resource"]["type"], r["resource"]["name"]) for r in built["spec"]["authorization"]["acls"]
    ]
    assert resources == [("topic", "mine")]


def test_no_group_rule_when_only_a_refused_topic_was_readable() -> None:
    wanted = spec(topics=[{"name": "mine", "access": "Write"}, {"name": "theirs", "access": "Read"}])
    rules = user.acls(wanted, group="shop.orders", refused_topics={"theirs"})
    assert [r["resource"]["type"] for r in rules] == ["topic"]


V1 = "kafka.strimzi.io/v1"


def group_of(kafka_user: dict[str, Any]) -> str:
    return next(
        r["resource"]["name"]
        for r in kafka_user["spec"]["authorization"]["acls"]
        if r["resource"]["type"] == "group"
    )


# ---- topics follow their spec --------------------------------------------------------------------------


def built_topic(**fields: Any) -> dict[str, Any]:
    (topic,) = topics.build_topics(
        spec(topics=[{"name": "orders", **fields}]),
        namespace="kafka",
        api_version=V1,
        owner="shop.orders",
        owner_namespace="shop",
    )
    return topic


def test_a_topic_records_its_owner_namespace_and_sharing() -> None:
    obj = built_topic(sharedWith=["billing", "audit"])
    assert topic_owner_namespace(obj) == "shop"
    assert obj["metadata"]["annotations"]["bridgedapp.io/shared-with"] == "billing,audit"
    assert topic_refusal("orders", obj, app_namespace="audit", allowances=NOBODY) is None


def test_partitions_increase_but_never_decrease() -> None:
    current = built_topic(partitions=6)
    raised, refusal = topics.keep_partitions(built_topic(partitions=12), current)
    assert raised["spec"]["partitions"] == 12 and refusal is None
    kept, refusal = topics.keep_partitions(built_topic(partitions=2, config={"retention.ms": 1000}), current)
    assert kept["spec"]["partitions"] == 6 and kept["spec"]["config"] == {"retention.ms": 1000}
    assert refusal is not None and "6 partitions" in refusal and "cannot decrease" in refusal


# ---- deletion ------------------------------------------------------------------------------------------


def test_deleting_status_keeps_components_and_says_deleting() -> None:
    before = {
        "phase": "Ready",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "AllReady", "lastTransitionTime": "t0"},
            {"type": "KafkaReady", "status": "True", "reason": "KafkaReady", "lastTransitionTime": "t0"},
        ],
    }
    status = deleting_status(before, generation=3, now="t1")
    by_type = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Deleting"
    assert by_type["Ready"]["status"] == "False" and by_type["Ready"]["reason"] == "Deleting"
    assert by_type["KafkaReady"] == before["conditions"][1]
    assert [c["type"] for c in status["conditions"]].count("Ready") == 1
