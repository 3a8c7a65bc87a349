"""The Strimzi side, end to end on the local control plane: the real operator installs the official
Strimzi bundle through its own code path, the real Strimzi CRDs validate every object it writes, and the
Strimzi simulator (test double) plays Strimzi's reconcile loop.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

import pykube
import pytest
import yaml
from bridgedapp.models import parse_spec

from testbed.cluster import LocalCluster
from tests.operator_fixtures import (
    STRIMZI_NS,
    as_operator,
    audit_now,
    bridgedapp_kind,
    condition_is,
    conditions,
    event_posted,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    operator_process,
    operator_writes,
    settle,
    simulator_running,
    strimzi_kind,
    unique,
    writes_about,
)
from tests.unit.bridge_cases import BRIDGE_INVALID, FULL_SPEC

PROVISION_TIMEOUT = 240  # the first BridgedApp of the session installs Strimzi


def base_spec(cluster_name: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "deploymentName": "orders-api",
        "kafka": {"clusterName": cluster_name, "replicas": 1, "storage": {"size": "1Gi"}},
        # Topic objects share Strimzi's namespace with other tests' clusters: names carry the cluster's.
        "topics": [
            {"name": f"orders-{cluster_name}", "replicas": 1},
            {"name": f"Audit_Log_{cluster_name}", "replicas": 1, "access": "Read"},
        ],
    }
    spec.update(overrides)
    return spec


def test_a_bridgedapp_gets_kafka_topics_and_user(api, namespace, operator, cluster, wait_until) -> None:
    kc = unique("kc")
    make_deployment(api, namespace, "orders-api")
    make_bridgedapp(api, namespace, "orders", base_spec(kc))
    for type_ in ("StrimziReady", "KafkaReady", "TopicsReady", "UserReady"):
        wait_until(
            condition_is(api, namespace, "orders", type_), timeout=PROVISION_TIMEOUT, what=f"{type_}=True"
        )

    app = get_bridgedapp(api, namespace, "orders")
    assert app["status"]["strimzi"] == {"namespace": STRIMZI_NS, "version": "1.2.0", "managed": True}
    assert app["status"]["kafka"]["cluster"] == f"{STRIMZI_NS}/{kc}"
    assert app["status"]["kafka"]["bootstrapServers"].endswith(":9093")
    assert all(c["observedGeneration"] == app["metadata"]["generation"] for c in app["status"]["conditions"])

    kafka = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=kc).obj
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    pools = (
        strimzi_kind(api, "KafkaNodePool")
        .objects(api, namespace=STRIMZI_NS)
        .filter(selector={"strimzi.io/cluster": kc})
    )
    assert [sorted(p.obj["spec"]["roles"]) for p in pools] == [["broker", "controller"]]

    topics = {
        t.obj["spec"].get("topicName", t.name): t.obj
        for t in strimzi_kind(api, "KafkaTopic")
        .objects(api, namespace=STRIMZI_NS)
        .filter(selector={"strimzi.io/cluster": kc})
    }
    assert set(topics) == {f"orders-{kc}", f"Audit_Log_{kc}"}
    assert topics[f"Audit_Log_{kc}"]["metadata"]["name"] != f"Audit_Log_{kc}"  # sanitised; real name in spec

    user = (
        strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS).get(name=f"{namespace}.orders").obj
    )
    assert user["spec"]["authentication"] == {"type": "tls"}
    resources = {
        (a["resource"]["type"], a["resource"]["name"], a["resource"].get("patternType", "literal"))
        for a in user["spec"]["authorization"]["acls"]
    }
    assert ("topic", f"orders-{kc}", "literal") in resources and (
        "group",
        f"{namespace}.orders",
        "prefix",
    ) in resources
    assert not any(name == "*" for _, name, _ in resources)

    # `kubectl wait` works on the conditions, as users script it
    result = cluster.kubectl(
        "wait", "--for=condition=UserReady", "ba/orders", "-n", namespace, "--timeout=30s"
    )
    assert "condition met" in result.stdout


def test_printer_columns_and_short_name(api, namespace, operator, cluster, wait_until) -> None:
    make_bridgedapp(api, namespace, "cols", base_spec(unique("kc"), topics=[]))
    wait_until(
        condition_is(api, namespace, "cols", "StrimziReady"), timeout=PROVISION_TIMEOUT, what="StrimziReady"
    )
    out = cluster.kubectl("get", "ba", "-n", namespace).stdout
    assert out.split("\n")[0].split() == ["NAME", "DEPLOYMENT", "KAFKA", "READY", "REASON", "AGE"]
    assert "orders-api" in out


def test_strimzi_failure_shows_and_recovers(api, namespace, operator, simulator, wait_until) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "flaky", base_spec(kc, topics=[]))
    wait_until(
        condition_is(api, namespace, "flaky", "KafkaReady"), timeout=PROVISION_TIMEOUT, what="KafkaReady"
    )
    simulator.fail("Kafka", STRIMZI_NS, kc, "Simulated: brokers cannot reach the controller quorum")
    failed = wait_until(
        condition_is(api, namespace, "flaky", "KafkaReady", "False"), timeout=60, what="KafkaReady=False"
    )
    assert "Simulated: brokers cannot reach the controller quorum" in failed["message"]
    assert conditions(api, namespace, "flaky")["Ready"]["status"] == "False"
    simulator.recover("Kafka", STRIMZI_NS, kc)
    wait_until(condition_is(api, namespace, "flaky", "KafkaReady"), timeout=60, what="KafkaReady recovered")


def test_shared_kafka_creator_governs_and_others_get_a_warning(api, namespace, operator, wait_until) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "first", base_spec(kc, topics=[]))
    wait_until(
        condition_is(api, namespace, "first", "KafkaReady"), timeout=PROVISION_TIMEOUT, what="creator ready"
    )
    make_bridgedapp(
        api, namespace, "second", base_spec(kc, topics=[], kafka={"clusterName": kc, "replicas": 3})
    )
    ready = wait_until(
        condition_is(api, namespace, "second", "KafkaReady"), timeout=60, what="second KafkaReady"
    )
    assert "ignored" in ready["message"] and "replicas" in ready["message"]
    kafka_pools = (
        strimzi_kind(api, "KafkaNodePool")
        .objects(api, namespace=STRIMZI_NS)
        .filter(selector={"strimzi.io/cluster": kc})
    )
    assert [p.obj["spec"]["replicas"] for p in kafka_pools] == [1]  # no fight over the object
    wait_until(
        event_posted(api, namespace, "second", "Warning", "KafkaSettingsIgnored"),
        timeout=60,
        what="a Warning event KafkaSettingsIgnored",
    )


def test_idle_reconcile_writes_nothing(api, namespace, operator, cluster, wait_until) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "idle", base_spec(kc))
    wait_until(condition_is(api, namespace, "idle", "UserReady"), timeout=PROVISION_TIMEOUT, what="UserReady")
    settle(cluster, namespace, kc)
    before = get_bridgedapp(api, namespace, "idle")["metadata"]["resourceVersion"]
    mark = audit_now(cluster)
    # A change the operator watches but that changes nothing it cares about: it must reconcile and write nothing.
    kafka = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=kc)
    kafka.patch({"metadata": {"annotations": {"test.bridgedapp.io/poke": "1"}}})
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="idle")
    app.patch({"metadata": {"annotations": {"test.bridgedapp.io/poke": "1"}}})  # a change outside spec
    settle(cluster, namespace, kc)
    writes = writes_about(cluster, mark, namespace, kc)
    # Kopf records the edited BridgedApp's new metadata in its own diff-base annotation: one patch of that
    # object by Kopf's client, bookkeeping for the user's edit. The operator itself writes nothing.
    kopf_bookkeeping = [
        w
        for w in writes
        if "kopf" in w.get("userAgent", "")
        and w["objectRef"].get("resource") == "bridgedapps"
        and w["objectRef"].get("name") == "idle"
        and not w["objectRef"].get("subresource")
    ]
    assert len(kopf_bookkeeping) <= 1
    writes = [w for w in writes if w not in kopf_bookkeeping]
    assert writes == [], [f"{w['verb']} {w['objectRef']}" for w in writes]
    assert (
        get_bridgedapp(api, namespace, "idle")["metadata"]["resourceVersion"] != before
    )  # only our own poke


INVALID = [
    ({"deploymentName": "Orders_API"}, "spec.deploymentName"),
    ({"deploymentName": "a", "topics": [{"name": "t"}, {"name": "t"}]}, "topic names must be unique"),
    ({"deploymentName": "a", "kafka": {"replicas": -1}}, "spec.kafka.replicas"),
    ({"deploymentName": "a", "topics": [{"name": "t", "access": "Admin"}]}, "spec.topics[0].access"),
    ({"deploymentName": "a", "bridge": {"nativeSidecar": "Sometimes"}}, "spec.bridge.nativeSidecar"),
    ({"deploymentName": "a", "bridge": {"http": {"port": 8081}}}, "spec.bridge.http.port"),
    *((spec, field) for spec, field, _ in BRIDGE_INVALID),
    ({"deploymentName": "a", "topics": [{"name": "bad topic!", "replicas": 1}]}, "spec.topics[0].name"),
    (
        {"deploymentName": "a", "kafka": {"create": False, "deletionPolicy": "DeleteWhenUnused"}},
        "spec.kafka.deletionPolicy",
    ),
    ({"kafka": {}}, "spec.deploymentName"),
]


@pytest.mark.parametrize(("spec", "field"), INVALID, ids=[f for _, f in INVALID])
def test_admission_rejects_invalid_specs_naming_the_field(api, namespace, spec, field) -> None:
    with pytest.raises(pykube.exceptions.HTTPError) as info:
        make_bridgedapp(api, namespace, unique("bad"), spec)
    assert info.value.code == 422
    assert field in str(info.value), str(info.value)


def test_admission_accepts_every_bridge_option_and_defaults_like_the_models(api, namespace) -> None:
    """FULL_SPEC (every spec.bridge option set) passes the schema and CEL; what the API server stores, its
    defaults filled in, parses to the same model as the models' own defaults give; and the server's
    defaults for an empty spec.bridge are the models' defaults."""
    stored = make_bridgedapp(api, namespace, unique("full"), copy.deepcopy(FULL_SPEC)).obj["spec"]
    assert parse_spec(stored) == parse_spec(copy.deepcopy(FULL_SPEC))
    bare = make_bridgedapp(api, namespace, unique("bare"), {"deploymentName": "a"}).obj["spec"]
    assert bare["bridge"] == parse_spec({"deploymentName": "a"}).bridge.model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )


def test_kubectl_explain_shows_the_defaults(cluster: LocalCluster, wait_until) -> None:
    """kubectl explain prints descriptions, not schema defaults: each description states its default."""
    for field, default in (("readinessProbe.periodSeconds", "10"), ("http.port", "8080")):

        def explained(field: str = field) -> str | None:  # the CRD's OpenAPI is published asynchronously
            done = cluster.kubectl("explain", f"ba.spec.bridge.{field}", check=False)
            return " ".join(done.stdout.split()) if done.returncode == 0 else None  # kubectl wraps lines

        out = wait_until(explained, timeout=60, what=f"kubectl explain ba.spec.bridge.{field}")
        assert f"Default: {default}." in out, out


def test_deletion_keeps_topics_and_shared_kafka_until_unused(api, namespace, operator, wait_until) -> None:
    kc = unique("kc")
    policy = {"clusterName": kc, "replicas": 1, "deletionPolicy": "DeleteWhenUnused"}
    make_bridgedapp(api, namespace, "one", base_spec(kc, kafka=policy))
    make_bridgedapp(api, namespace, "two", base_spec(kc, kafka=policy, topics=[]))
    for name in ("one", "two"):
        wait_until(
            condition_is(api, namespace, name, "UserReady"),
            timeout=PROVISION_TIMEOUT,
            what=f"{name} UserReady",
        )
    users = strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS)
    kafkas = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS)
    topics = strimzi_kind(api, "KafkaTopic").objects(api, namespace=STRIMZI_NS)
    topic_names = {t.name for t in topics.filter(selector={"strimzi.io/cluster": kc})}
    assert len(topic_names) == 2

    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="one").delete()
    wait_until(
        lambda: get_bridgedapp(api, namespace, "one") is None,
        timeout=60,
        what="BridgedApp one gone (finalizer done)",
    )
    assert users.get_or_none(name=f"{namespace}.one") is None
    assert kafkas.get_or_none(name=kc) is not None, "Kafka deleted while BridgedApp two still uses it"
    assert {t.name for t in topics.filter(selector={"strimzi.io/cluster": kc})} == topic_names

    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="two").delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "two") is None, timeout=60, what="BridgedApp two gone")
    wait_until(lambda: kafkas.get_or_none(name=kc) is None, timeout=30, what="unused Kafka deleted")
    assert {t.name for t in topics.filter(selector={"strimzi.io/cluster": kc})} == topic_names


def test_retained_kafka_survives_its_last_user(api, namespace, operator, wait_until) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "keeper", base_spec(kc, topics=[]))
    wait_until(
        condition_is(api, namespace, "keeper", "KafkaReady"), timeout=PROVISION_TIMEOUT, what="KafkaReady"
    )
    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="keeper").delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "keeper") is None, timeout=60, what="deleted")
    assert strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get_or_none(name=kc) is not None


# ---- clusters of their own --------------------------------------------------------------------------------


def test_twenty_bridgedapps_at_once_install_strimzi_once(
    fresh_operator_cluster, strimzi_manifest: Path, tmp_path: Path, wait_until
) -> None:
    local, api = fresh_operator_cluster("twenty", "burst")
    names = [f"app-{i:02d}" for i in range(20)]
    log = tmp_path / "operator.log"
    with operator_process(
        as_operator(local, tmp_path), log, BRIDGEDAPP_STRIMZI_MANIFEST=str(strimzi_manifest)
    ):
        barrier = threading.Barrier(len(names))

        errors: list[BaseException] = []

        def create(name: str) -> None:
            barrier.wait()
            spec = {"deploymentName": name, "kafka": {"clusterName": "shared", "replicas": 1}}
            for attempt in range(20):
                try:
                    make_bridgedapp(api, "burst", name, spec)
                    return
                except pykube.exceptions.HTTPError as err:  # 429 while a new CRD's storage initialises
                    if err.code != 429 or attempt == 19:
                        errors.append(err)
                        return
                    time.sleep(0.5)
                except Exception as err:
                    errors.append(err)  # a thread's exception would otherwise vanish, and its app never exist
                    return

        threads = [threading.Thread(target=create, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for name in names:
            wait_until(
                condition_is(api, "burst", name, "StrimziReady"),
                timeout=PROVISION_TIMEOUT,
                what=f"{name} StrimziReady",
            )
    deployment_writes = [
        e
        for e in operator_writes(local)
        if e["objectRef"].get("resource") == "deployments"
        and e["objectRef"].get("name") == "strimzi-cluster-operator"
    ]
    assert len(deployment_writes) == 1, deployment_writes
    crd_writes = [
        e for e in operator_writes(local) if e["objectRef"].get("name") == "kafkas.kafka.strimzi.io"
    ]
    assert len(crd_writes) == 1, crd_writes
    # The apps waited for the install: news at INFO in the log and in Normal events, never an error.
    waits = [
        line
        for line in log.read_text().splitlines()
        if "is being installed into" in line and "Looking again in" in line
    ]
    assert waits, "no app waited for the install"
    assert all("[INFO" in line for line in waits), waits[:3]
    installing = [
        e.obj for e in pykube.Event.objects(api, namespace="burst") if e.obj["reason"] == "Installing"
    ]
    assert installing, "no app announced the install"
    assert {e["type"] for e in installing} == {"Normal"}, installing[:3]


def test_existing_strimzi_is_adopted_untouched(fresh_operator_cluster, tmp_path: Path, wait_until) -> None:
    from bridgedapp.strimzi import load_bundle

    from testbed.strimzi_bundle import bundle_path

    source = bundle_path("0.48.0")
    if source is None:
        pytest.fail("Strimzi 0.48.0 bundle not found: set BRIDGEDAPP_STRIMZI_BUNDLE_DIR")
    local, api = fresh_operator_cluster("adopt", STRIMZI_NS, "shop")
    bundle = tmp_path / "strimzi-0.48.0.yaml"
    objects = load_bundle(str(source), namespace=STRIMZI_NS)
    for obj in objects:  # as a platform team would have installed it: not ours
        obj["metadata"].get("labels", {}).pop("app.kubernetes.io/managed-by", None)
    bundle.write_text(yaml.safe_dump_all(objects))
    local.kubectl("apply", "--server-side", "--field-manager=platform-team", "-f", str(bundle))
    local.kubectl("wait", "--for=condition=Established", "crd/kafkas.kafka.strimzi.io", "--timeout=60s")
    local.kubectl(
        "rollout", "status", "-n", STRIMZI_NS, "deployment/strimzi-cluster-operator", "--timeout=60s"
    )
    versions_before = _resource_versions(local, objects)

    with (
        simulator_running(local.kubeconfig),
        operator_process(as_operator(local, tmp_path), tmp_path / "operator.log"),
    ):
        make_bridgedapp(
            api,
            "shop",
            "legacy",
            {"deploymentName": "legacy", "kafka": {"clusterName": "old", "replicas": 1}},
        )
        wait_until(
            condition_is(api, "shop", "legacy", "KafkaReady"),
            timeout=120,
            what="KafkaReady on the adopted Strimzi",
        )
        app = get_bridgedapp(api, "shop", "legacy")
    assert app["status"]["strimzi"] == {"namespace": STRIMZI_NS, "version": "0.48.0", "managed": False}
    kafka = strimzi_kind(api, "Kafka", "v1beta2").objects(api, namespace=STRIMZI_NS).get(name="old").obj
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    managers = {m["manager"]: m["apiVersion"] for m in kafka["metadata"]["managedFields"]}
    assert managers.get("bridgedapp-operator") == "kafka.strimzi.io/v1beta2"  # written as v1beta2
    assert _resource_versions(local, objects) == versions_before, "the adopted install was modified"


def _resource_versions(local: LocalCluster, objects: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for obj in objects:
        meta = obj["metadata"]
        args = [
            "get",
            f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0] if '/' in obj['apiVersion'] else ''}".rstrip(
                "."
            ),
            meta["name"],
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ]
        if meta.get("namespace"):
            args += ["-n", meta["namespace"]]
        out[f"{obj['kind']}/{meta['name']}"] = local.kubectl(*args).stdout
    return out


def test_delete_completes_when_the_kafka_namespace_does_not_exist(
    api, namespace, operator, wait_until
) -> None:
    spec = base_spec(unique("kc"), topics=[])
    spec["kafka"]["namespace"] = "no-such-namespace"
    make_bridgedapp(api, namespace, "astray", spec)
    stalled = wait_until(
        lambda: (
            (c := conditions(api, namespace, "astray").get("StrimziReady", {})).get("reason")
            == "NamespaceNotWatched"
            and c
        ),
        timeout=PROVISION_TIMEOUT,
        what="StrimziReady=False NamespaceNotWatched",
    )
    assert stalled["status"] == "False" and "no-such-namespace" in stalled["message"]
    bridgedapp_kind(api).objects(api, namespace=namespace).get(name="astray").delete()
    wait_until(
        lambda: get_bridgedapp(api, namespace, "astray") is None, timeout=60, what="no stuck finalizer"
    )


def test_delete_completes_when_strimzi_is_gone(
    fresh_operator_cluster, strimzi_manifest: Path, tmp_path: Path, wait_until
) -> None:
    local, api = fresh_operator_cluster("nostrimzi", "shop")
    with (
        simulator_running(local.kubeconfig),
        operator_process(
            as_operator(local, tmp_path),
            tmp_path / "operator.log",
            BRIDGEDAPP_STRIMZI_MANIFEST=str(strimzi_manifest),
        ),
    ):
        make_bridgedapp(api, "shop", "orphan", {"deploymentName": "orphan", "kafka": {"replicas": 1}})
        wait_until(
            condition_is(api, "shop", "orphan", "UserReady"), timeout=PROVISION_TIMEOUT, what="UserReady"
        )
        # Strimzi is uninstalled under the app: its CRDs (and with them every Kafka object) and its namespace.
        local.kubectl("delete", "crd", "-l", "app=strimzi", "--wait=false")
        wait_until(
            lambda: local.kubectl("get", "crd", "kafkas.kafka.strimzi.io", check=False).returncode != 0,
            timeout=180,
            what="Strimzi's CRDs gone",
        )
        local.kubectl("delete", "namespace", STRIMZI_NS, "--wait=false")
        bridgedapp_kind(api).objects(api, namespace="shop").get(name="orphan").delete()
        wait_until(
            lambda: get_bridgedapp(api, "shop", "orphan") is None, timeout=60, what="no stuck finalizer"
        )


def test_the_creator_changes_its_kafka_and_the_pool_follows(api, namespace, operator, wait_until) -> None:
    """The operator never conflicts with itself: objects it created are updated by its later applies."""
    kc = unique("kc")
    make_bridgedapp(api, namespace, "grower", base_spec(kc, topics=[]))
    wait_until(
        condition_is(api, namespace, "grower", "KafkaReady"), timeout=PROVISION_TIMEOUT, what="KafkaReady"
    )
    app = bridgedapp_kind(api).objects(api, namespace=namespace).get(name="grower")
    app.patch({"spec": {"kafka": {"replicas": 2}}})
    pools = strimzi_kind(api, "KafkaNodePool").objects(api, namespace=STRIMZI_NS)
    wait_until(
        lambda: [p.obj["spec"]["replicas"] for p in pools.filter(selector={"strimzi.io/cluster": kc})] == [2],
        timeout=60,
        what="node pool scaled to 2",
    )
    wait_until(
        condition_is(api, namespace, "grower", "KafkaReady"), timeout=60, what="KafkaReady after scaling"
    )
    assert conditions(api, namespace, "grower")["Stalled"]["status"] == "False"


def test_two_apps_racing_for_a_new_kafka_agree_on_its_creator(api, namespace, operator, wait_until) -> None:
    kc = unique("kc")
    barrier = threading.Barrier(2)

    def create(name: str) -> None:
        barrier.wait()
        make_bridgedapp(api, namespace, name, base_spec(kc, topics=[]))

    threads = [threading.Thread(target=create, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("left", "right"):
        wait_until(
            condition_is(api, namespace, name, "KafkaReady"), timeout=PROVISION_TIMEOUT, what=f"{name} ready"
        )

    def agreed() -> bool:
        kafka = strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=kc).obj
        pools = strimzi_kind(api, "KafkaNodePool").objects(api, namespace=STRIMZI_NS)
        pool = next(iter(pools.filter(selector={"strimzi.io/cluster": kc}))).obj
        creator = kafka["metadata"]["annotations"]["bridgedapp.io/created-by"]
        return pool["metadata"]["labels"]["bridgedapp.io/owner"] == creator

    wait_until(agreed, timeout=60, what="the Kafka and its pool name the same creator")
    assert all(conditions(api, namespace, n)["Stalled"]["status"] == "False" for n in ("left", "right"))
