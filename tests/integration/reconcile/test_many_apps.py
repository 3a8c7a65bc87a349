"""Many apps, one cluster, on the local control plane: one bridge owner per Deployment, cleanup that takes
back only its own, identities that never overlap across namespaces, topics and groups that belong to a
namespace, nothing made for a Kafka that is not there, paused means observed, topics that follow their spec,
and `phase: Deleting`. Strimzi's reconcile loop is the simulator (a named test double).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pykube
import pytest
from bridgedapp.builders.kafka import build_kafka, build_node_pool
from bridgedapp.models import parse_spec

from tests.conftest import fresh_namespace
from tests.operator_fixtures import (
    STRIMZI_NS,
    audit_now,
    bridgedapp_kind,
    condition_is,
    conditions,
    event_posted,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    operator_writes,
    strimzi_kind,
    unique,
)

READY_TIMEOUT = 240
BRIDGED_BY = "bridgedapp.io/bridged-by"


def spec_on(cluster: str, deployment: str, *topics: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "deploymentName": deployment,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [{"replicas": 1, **t} for t in topics],
        **extra,
    }


def deployment_of(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any]:
    return pykube.Deployment.objects(api, namespace=namespace).get(name=name).obj


def kafka_user(api: pykube.HTTPClient, name: str) -> dict[str, Any] | None:
    found = strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS).get_or_none(name=name)
    return found.obj if found is not None else None


def acl_resources(api: pykube.HTTPClient, user_name: str) -> set[tuple[str, str]]:
    user = kafka_user(api, user_name) or {}
    acls = ((user.get("spec") or {}).get("authorization") or {}).get("acls") or []
    return {(a["resource"]["type"], a["resource"]["name"]) for a in acls}


def topic_object(api: pykube.HTTPClient, name: str) -> dict[str, Any] | None:
    found = strimzi_kind(api, "KafkaTopic").objects(api, namespace=STRIMZI_NS).get_or_none(name=name)
    return found.obj if found is not None else None


def events_of(api: pykube.HTTPClient, namespace: str, involved: str, reason: str) -> list[dict[str, Any]]:
    events = pykube.Event.objects(api, namespace=namespace).filter(
        field_selector={"involvedObject.name": involved}
    )
    return [e.obj for e in events if e.obj.get("reason") == reason]


def deployment_writes(cluster, namespace: str, name: str, after: str) -> list[dict[str, Any]]:
    return [
        e
        for e in operator_writes(cluster, after=after)
        if e["objectRef"].get("resource") == "deployments"
        and e["objectRef"].get("namespace") == namespace
        and e["objectRef"].get("name") == name
    ]


@pytest.fixture
def second_namespace(api: pykube.HTTPClient, namespace: str) -> Iterator[str]:
    """Another team's namespace, beside the test's own."""
    with fresh_namespace(api, f"{namespace[:50]}-b") as name:
        yield name


# ---- one bridge owner per Deployment ----------------------------------------------------------------------


def test_two_apps_naming_one_deployment_have_one_owner_and_no_write_loop(
    api, namespace, operator, cluster, wait_until
) -> None:
    kc = unique("kc")
    make_deployment(api, namespace, "web")
    make_bridgedapp(api, namespace, "one", spec_on(kc, "web", {"name": f"one-{kc}"}))
    wait_until(condition_is(api, namespace, "one", "Ready"), timeout=READY_TIMEOUT, what="one Ready")
    make_bridgedapp(api, namespace, "two", spec_on(kc, "web", {"name": f"two-{kc}"}))
    refused = wait_until(
        condition_is(api, namespace, "two", "SidecarInjected", "False"),
        timeout=READY_TIMEOUT,
        what="two refused",
    )
    assert refused["reason"] == "DeploymentAlreadyBridged"
    assert f"{namespace}/one" in refused["message"]
    assert conditions(api, namespace, "two")["Stalled"]["status"] == "True"
    assert deployment_of(api, namespace, "web")["metadata"]["annotations"][BRIDGED_BY] == "one"

    # the two passes never fight: over 30 s the Deployment is not written and its generation stays flat
    mark, generation = audit_now(cluster), deployment_of(api, namespace, "web")["metadata"]["generation"]
    time.sleep(30)
    assert deployment_of(api, namespace, "web")["metadata"]["generation"] - generation <= 2
    assert len(deployment_writes(cluster, namespace, "web", mark)) <= 2
    assert conditions(api, namespace, "one")["Ready"]["status"] == "True"
    assert get_bridgedapp(api, namespace, "one")["status"]["bridge"]["deployment"] == "web"
    assert "bridge" not in get_bridgedapp(api, namespace, "two")["status"]
    wait_until(
        event_posted(api, namespace, "two", "Warning", "DeploymentAlreadyBridged"), what="Warning event"
    )
    assert len(events_of(api, namespace, "two", "DeploymentAlreadyBridged")) == 1


def test_deleting_a_non_owner_leaves_the_deployment_alone_and_the_next_app_takes_over(
    api, namespace, operator, cluster, wait_until
) -> None:
    kc = unique("kc")
    make_deployment(api, namespace, "web")
    make_bridgedapp(api, namespace, "owner", spec_on(kc, "web", {"name": f"owner-{kc}"}))
    wait_until(condition_is(api, namespace, "owner", "Ready"), timeout=READY_TIMEOUT, what="owner Ready")
    make_bridgedapp(api, namespace, "other", spec_on(kc, "web", {"name": f"other-{kc}"}))
    wait_until(
        condition_is(api, namespace, "other", "UserReady"), timeout=READY_TIMEOUT, what="other's KafkaUser"
    )
    wait_until(
        condition_is(api, namespace, "other", "SidecarInjected", "False"), timeout=60, what="other refused"
    )
    before = deployment_of(api, namespace, "web")
    mark = audit_now(cluster)

    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="other").delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "other") is None, timeout=60, what="other deleted")
    wait_until(lambda: kafka_user(api, f"{namespace}.other") is None, what="other's KafkaUser deleted")
    after = deployment_of(api, namespace, "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert deployment_writes(cluster, namespace, "web", mark) == []  # not even an empty apply
    assert kafka_user(api, f"{namespace}.owner") is not None

    # a third app waits for the owner; once the owner is gone, it takes over
    make_bridgedapp(api, namespace, "heir", spec_on(kc, "web", {"name": f"heir-{kc}"}))
    wait_until(
        condition_is(api, namespace, "heir", "SidecarInjected", "False"),
        timeout=READY_TIMEOUT,
        what="heir waits",
    )
    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="owner").delete()
    wait_until(condition_is(api, namespace, "heir", "Ready"), timeout=READY_TIMEOUT, what="heir Ready")
    assert deployment_of(api, namespace, "web")["metadata"]["annotations"][BRIDGED_BY] == "heir"


# ---- identities and ownership of topics and groups --------------------------------------------------------


def bridge_id(api: pykube.HTTPClient, namespace: str, app: str) -> str:
    config = pykube.ConfigMap.objects(api, namespace=namespace).get(name=f"{app}-bridge-config").obj
    (line,) = [x for x in config["data"]["application.properties"].splitlines() if x.startswith("bridge.id=")]
    return line.split("=", 1)[1]


def test_the_same_app_name_in_two_namespaces_gets_two_identities(
    api, namespace, second_namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    # one topic for both: whichever app creates it owns it for its namespace and shares it with the other
    topic = {"name": f"orders-{kc}", "access": "Read", "sharedWith": [namespace, second_namespace]}
    for ns in (namespace, second_namespace):
        make_bridgedapp(api, ns, "orders", spec_on(kc, "orders-api", topic))
        make_deployment(api, ns, "orders-api")
    for ns in (namespace, second_namespace):
        wait_until(condition_is(api, ns, "orders", "Ready"), timeout=READY_TIMEOUT, what=f"{ns}/orders Ready")
    shop, billing = (acl_resources(api, f"{ns}.orders") for ns in (namespace, second_namespace))
    assert ("group", f"{namespace}.orders") in shop and ("group", f"{second_namespace}.orders") in billing
    assert not {g for t, g in shop if t == "group"} & {g for t, g in billing if t == "group"}
    assert ("topic", f"orders-{kc}") in shop and (
        "topic",
        f"orders-{kc}",
    ) in billing  # same topic: legitimate
    assert bridge_id(api, namespace, "orders") == f"{namespace}.orders"
    assert bridge_id(api, second_namespace, "orders") == f"{second_namespace}.orders"


def test_another_namespaces_topic_is_refused_until_its_owner_shares_it(
    api, namespace, second_namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    owned, theirs = f"own-{kc}", f"payments-{kc}"
    owner = make_bridgedapp(api, second_namespace, "pay", spec_on(kc, "pay-api", {"name": theirs}))
    wait_until(condition_is(api, second_namespace, "pay", "TopicsReady"), timeout=READY_TIMEOUT, what="topic")
    make_bridgedapp(
        api,
        namespace,
        "shop",
        spec_on(kc, "shop-api", {"name": owned}, {"name": theirs, "access": "Read"}),
    )
    refused = wait_until(
        condition_is(api, namespace, "shop", "UserReady", "False"), timeout=READY_TIMEOUT, what="refusal"
    )
    assert refused["reason"] == "AccessNotAllowed"
    assert theirs in refused["message"] and second_namespace in refused["message"]
    assert "sharedWith" in refused["message"]
    wait_until(lambda: ("topic", owned) in acl_resources(api, f"{namespace}.shop"), what="own topic's ACL")
    assert ("topic", theirs) not in acl_resources(api, f"{namespace}.shop")

    owner.reload()
    owner.patch({"spec": {"topics": [{"name": theirs, "replicas": 1, "sharedWith": [namespace]}]}})
    wait_until(condition_is(api, namespace, "shop", "UserReady"), timeout=60, what="shared by its owner")
    assert ("topic", theirs) in acl_resources(api, f"{namespace}.shop")


def test_a_consumer_group_outside_the_namespace_needs_an_admins_allowance(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    make_bridgedapp(
        api,
        namespace,
        "reader",
        spec_on(kc, "reader-api", {"name": f"in-{kc}", "access": "Read"}, consumerGroup=f"other-team.{kc}"),
    )
    refused = wait_until(
        condition_is(api, namespace, "reader", "UserReady", "False"), timeout=READY_TIMEOUT, what="refusal"
    )
    assert refused["reason"] == "AccessNotAllowed" and f"other-team.{kc}" in refused["message"]
    wait_until(lambda: ("topic", f"in-{kc}") in acl_resources(api, f"{namespace}.reader"), what="topic ACL")
    assert not any(t == "group" for t, _ in acl_resources(api, f"{namespace}.reader"))

    ns = pykube.Namespace.objects(api).get(name=namespace)
    ns.annotations["bridgedapp.io/allowed-consumer-groups"] = "other-team.*"
    ns.update()  # the Namespace watch brings the pass
    wait_until(condition_is(api, namespace, "reader", "UserReady"), timeout=60, what="allowed by an admin")
    assert ("group", f"other-team.{kc}") in acl_resources(api, f"{namespace}.reader")


# ---- nothing for a Kafka that is not there ----------------------------------------------------------------


def test_no_topic_or_user_for_a_kafka_that_does_not_exist_until_it_does(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    raw = spec_on(kc, "late-api", {"name": f"late-{kc}"})
    raw["kafka"]["create"] = False
    make_bridgedapp(api, namespace, "late", raw)
    missing = wait_until(
        condition_is(api, namespace, "late", "KafkaReady", "False"),
        timeout=READY_TIMEOUT,
        what="KafkaNotFound",
    )
    assert missing["reason"] == "KafkaNotFound"
    now = conditions(api, namespace, "late")
    assert now["Ready"]["reason"] == "KafkaNotFound"
    assert {now[t]["status"] for t in ("TopicsReady", "UserReady", "SidecarInjected")} == {"Unknown"}
    assert topic_object(api, f"late-{kc}") is None and kafka_user(api, f"{namespace}.late") is None

    # an admin creates that Kafka (not through bridgedapp): the Kafka watch brings the pass
    spec = parse_spec(raw | {"kafka": {**raw["kafka"], "create": True}})
    for obj in (
        build_node_pool(spec, namespace=STRIMZI_NS, api_version="kafka.strimzi.io/v1", owner="admin"),
        build_kafka(spec, namespace=STRIMZI_NS, api_version="kafka.strimzi.io/v1", owner="admin"),
    ):
        obj["metadata"].pop("annotations", None)
        obj["metadata"]["labels"] = {"strimzi.io/cluster": kc}
        strimzi_kind(api, obj["kind"])(api, obj).create()
    wait_until(
        condition_is(api, namespace, "late", "UserReady"),
        timeout=READY_TIMEOUT,
        what="user once Kafka exists",
    )
    wait_until(
        condition_is(api, namespace, "late", "TopicsReady"), timeout=60, what="topic once Kafka exists"
    )
    assert topic_object(api, f"late-{kc}") is not None


# ---- paused means observed, not frozen --------------------------------------------------------------------


def test_paused_observes_every_component_changes_nothing_and_announces_pause_and_resume(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    first = {"name": f"first-{kc}"}
    make_deployment(api, namespace, "calm-api")
    app = make_bridgedapp(api, namespace, "calm", spec_on(kc, "calm-api", first))
    wait_until(condition_is(api, namespace, "calm", "Ready"), timeout=READY_TIMEOUT, what="Ready")

    app.reload()
    app.patch({"spec": {"paused": True}})
    wait_until(event_posted(api, namespace, "calm", "Normal", "Paused"), what="Paused event")
    app.reload()
    app.patch({"spec": {"topics": [{**first, "replicas": 1}, {"name": f"second-{kc}", "replicas": 1}]}})
    topics = wait_until(
        condition_is(api, namespace, "calm", "TopicsReady", "False"),
        timeout=60,
        what="the new topic reported",
    )
    assert topics["reason"] == "PendingWhilePaused" and f"second-{kc}" in topics["message"]
    status = get_bridgedapp(api, namespace, "calm")["status"]
    assert status["phase"] == "Paused"
    assert conditions(api, namespace, "calm")["UserReady"]["reason"] == "PendingWhilePaused"
    assert topic_object(api, f"second-{kc}") is None
    assert ("topic", f"second-{kc}") not in acl_resources(api, f"{namespace}.calm")
    assert len(events_of(api, namespace, "calm", "Paused")) == 1

    app.reload()
    app.patch({"spec": {"paused": False}})
    wait_until(event_posted(api, namespace, "calm", "Normal", "Resumed"), what="Resumed event")
    wait_until(
        condition_is(api, namespace, "calm", "Ready"), timeout=READY_TIMEOUT, what="Ready after resume"
    )
    assert topic_object(api, f"second-{kc}") is not None


# ---- topics follow their spec -----------------------------------------------------------------------------


def test_topics_the_app_created_follow_partitions_and_config_and_never_shrink(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    name = f"grow-{kc}"
    app = make_bridgedapp(api, namespace, "grow", spec_on(kc, "grow-api", {"name": name, "partitions": 3}))
    wait_until(condition_is(api, namespace, "grow", "TopicsReady"), timeout=READY_TIMEOUT, what="topic")

    app.reload()
    app.patch(
        {
            "spec": {
                "topics": [
                    {"name": name, "replicas": 1, "partitions": 6, "config": {"retention.ms": 3600000}}
                ]
            }
        }
    )
    wait_until(
        lambda: (topic_object(api, name) or {}).get("spec", {}).get("partitions") == 6,
        timeout=60,
        what="partitions raised on the KafkaTopic",
    )
    assert topic_object(api, name)["spec"]["config"] == {"retention.ms": 3600000}
    wait_until(condition_is(api, namespace, "grow", "TopicsReady"), timeout=60, what="Strimzi caught up")

    app.reload()
    app.patch({"spec": {"topics": [{"name": name, "replicas": 1, "partitions": 2}]}})
    refused = wait_until(
        lambda: (
            (c := conditions(api, namespace, "grow")["TopicsReady"])["reason"] == "PartitionDecreaseRefused"
            and c
        ),
        timeout=60,
        what="decrease refused",
    )
    assert refused["status"] == "False" and "6 partitions" in refused["message"]
    spec_now = topic_object(api, name)["spec"]
    assert spec_now["partitions"] == 6
    assert "config" not in spec_now  # the config the spec dropped is dropped from the KafkaTopic too


# ---- phase Deleting ---------------------------------------------------------------------------------------


def test_phase_is_deleting_while_the_finalizer_runs(api, namespace, operator, wait_until) -> None:
    hold = "test.bridgedapp.io/hold"  # keeps the object visible after the operator's finalizer is done
    make_bridgedapp(api, namespace, "bye", spec_on(unique("kc"), "bye-api"))
    wait_until(
        condition_is(api, namespace, "bye", "StrimziReady"), timeout=READY_TIMEOUT, what="StrimziReady"
    )
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="bye")
    app.patch({"metadata": {"finalizers": [*app.obj["metadata"].get("finalizers", []), hold]}})
    app.delete()
    status = wait_until(
        lambda: (
            (get_bridgedapp(api, namespace, "bye") or {}).get("status", {}).get("phase") == "Deleting"
            and get_bridgedapp(api, namespace, "bye")
        ),
        timeout=60,
        what="phase Deleting",
    )["status"]
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "Deleting"
    wait_until(
        lambda: get_bridgedapp(api, namespace, "bye")["metadata"].get("finalizers") == [hold],
        what="the operator's finalizer released",
    )
    app.reload()
    app.patch({"metadata": {"finalizers": []}})


def test_the_same_explicit_consumer_group_on_two_apps_is_a_warning(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    group = f"{namespace}.shared"
    for name in ("first", "second"):
        make_bridgedapp(
            api,
            namespace,
            name,
            spec_on(kc, f"{name}-api", {"name": f"{name}-{kc}", "access": "Read"}, consumerGroup=group),
        )
        wait_until(
            condition_is(api, namespace, name, "UserReady"), timeout=READY_TIMEOUT, what=f"{name} UserReady"
        )
    wait_until(
        event_posted(api, namespace, "second", "Warning", "ConsumerGroupShared"), what="Warning on the second"
    )
    (warning,) = events_of(api, namespace, "second", "ConsumerGroupShared")
    assert f"{namespace}/first" in warning["message"] and group in warning["message"]
    assert ("group", group) in acl_resources(api, f"{namespace}.second")  # set explicitly: legitimate
