"""The pure plan: condition decisions that used to need a control plane, decided here on plain values.

Each test builds a `World` (what a pass would have gathered), calls `plan(spec, world)` and reads the
checks, the writes and the events; `report.conclude` then gives the status the operator would store.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import yaml
from bridgedapp import FIELD_MANAGER, OWNER_LABEL, report
from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.builders import sidecar
from bridgedapp.builders.common import owner_value
from bridgedapp.conditions import Check
from bridgedapp.plan import plan, project
from bridgedapp.strimzi import StrimziInfo
from bridgedapp.world import OtherApp, Plan, Problem, World

from tests.unit.bridge_cases import (
    APP_NAME,
    APP_NAMESPACE,
    CLUSTER,
    KAFKA_NAMESPACE,
    SAMPLES,
    app_object,
    fake_cluster_ca_secret,
    fake_user_secret,
    spec_of,
)

SPEC: dict[str, Any] = {
    "deploymentName": "orders-api",
    "kafka": {"clusterName": CLUSTER},
    "topics": [{"name": "orders"}],
}
STRIMZI = StrimziInfo(
    namespace=KAFKA_NAMESPACE,
    version="1.2.0",
    managed=True,
    api_version="kafka.strimzi.io/v1",
    watched_namespaces="*",
)
OWNER = owner_value(APP_NAMESPACE, APP_NAME)


def deployment() -> dict[str, Any]:
    obj = yaml.safe_load((SAMPLES / "deployment.yaml").read_text())
    obj["metadata"]["generation"] = 1
    obj["status"] = {"observedGeneration": 1}
    return obj


def reconciled(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as the API server returns it once Strimzi reconciled it: Ready for its current generation."""
    done = project(obj, None)
    done["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    if done["kind"] == "Kafka":
        done["status"]["listeners"] = [
            {"name": "tls", "bootstrapServers": f"{CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:9093"}
        ]
    return done


def rolled_out(obj: dict[str, Any]) -> dict[str, Any]:
    """An injected Deployment as the API server returns it once its template runs on all its pods: the
    bridge's items recorded in managedFields as the operator's (what tells them from a user's clash)."""
    done = copy.deepcopy(obj)
    pod = done["spec"]["template"]["spec"]
    owned = {
        f"f:{lst}": {f'k:{{"name":"{item["name"]}"}}': {} for item in pod.get(lst) or []}
        for lst in ("initContainers", "containers", "volumes")
    }
    fields = {"f:spec": {"f:template": {"f:spec": owned}}}
    done["metadata"]["managedFields"] = [{"manager": FIELD_MANAGER, "fieldsV1": fields}]
    replicas = done["spec"].get("replicas", 1)
    done["status"] = {
        "observedGeneration": done["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
    }
    return done


def empty_world(spec: dict[str, Any] | None = None, **changes: Any) -> World:
    world = World(
        app=app_object(spec or SPEC),
        kafka_namespace=KAFKA_NAMESPACE,
        strimzi=STRIMZI,
        deployment=deployment(),
    )
    return replace(world, **changes)


def settled_world(spec: dict[str, Any] | None = None) -> World:
    """The world after the operator's writes, Strimzi's reconciliation and the rollout: all Ready."""
    world = empty_world(spec)
    first = plan(spec_of(spec or SPEC), world)
    objs = {(o["kind"], o["metadata"]["name"]): o for o in first.objects}
    topics = {
        t["name"]: reconciled(objs[("KafkaTopic", t["name"])]) for t in (spec or SPEC).get("topics", [])
    }
    world = replace(
        world,
        kafka=reconciled(objs[("Kafka", CLUSTER)]),
        node_pool=reconciled(next(o for o in first.objects if o["kind"] == "KafkaNodePool")),
        topics=topics,
        user=reconciled(next(o for o in first.objects if o["kind"] == "KafkaUser")),
        user_secret=fake_user_secret(),
        ca_secret=fake_cluster_ca_secret(),
    )
    second = plan(spec_of(spec or SPEC), world)
    by_kind = {o["kind"]: o for o in second.objects}
    injected = sidecar.apply_patch_locally(world.deployment, by_kind["Deployment"])
    return replace(
        world,
        config_map=by_kind["ConfigMap"],
        credentials_secret=by_kind["Secret"],
        deployment=rolled_out(injected),
    )


def checks(decided: Plan) -> dict[str, Check]:
    return {ch.type: ch for ch in c.first_per_type(list(decided.checks))}


def kinds(decided: Plan) -> list[str]:
    return [w.obj["kind"] for w in decided.writes]


def test_a_settled_world_needs_no_write_and_is_ready() -> None:
    world = settled_world()
    decided = plan(spec_of(SPEC), world)
    assert decided.writes == () and decided.events == ()
    assert all(ch.ok for ch in checks(decided).values()), checks(decided)
    status = report.conclude(world.app, decided)
    ready = {x["type"]: x for x in status["conditions"]}[c.READY]
    assert (ready["status"], ready["reason"], status["phase"]) == ("True", r.ALL_READY, "Ready")
    assert status["bridge"]["deployment"] == "orders-api" and status["kafka"]["ready"] is True


def test_a_fresh_app_creates_the_kafka_topics_and_user_in_one_pass_and_waits_for_credentials() -> None:
    decided = plan(spec_of(SPEC), empty_world())
    assert kinds(decided) == ["Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"]
    assert decided.writes[0].announce is not None and decided.writes[0].announce.reason == r.KAFKA_CREATED
    got = checks(decided)
    assert got[c.KAFKA_READY].reason == r.WAITING_FOR_STRIMZI  # created: Strimzi has observed nothing yet
    assert got[c.SIDECAR_INJECTED].ok is None and got[c.SIDECAR_INJECTED].reason == r.WAITING_FOR_CREDENTIALS


def test_strimzi_being_installed_is_news_and_retried() -> None:
    world = empty_world(
        strimzi=None, strimzi_problem=Problem(r.INSTALLING, "Strimzi 1.2.0 is being installed")
    )
    decided = plan(spec_of(SPEC), world)
    assert decided.writes == ()
    assert checks(decided)[c.STRIMZI_READY].reason == r.INSTALLING
    assert decided.retry is not None and decided.retry.is_wait
    assert checks(decided)[c.KAFKA_READY].reason == "WaitingForStrimzi"
    assert c.event_type("False", r.INSTALLING) == "Normal"


def test_a_namespace_strimzi_does_not_watch_is_stalled() -> None:
    narrow = replace(STRIMZI, watched_namespaces=["other"])
    decided = plan(spec_of(SPEC), empty_world(strimzi=narrow))
    got = checks(decided)[c.STRIMZI_READY]
    assert (got.reason, got.stalled) == (r.NAMESPACE_NOT_WATCHED, True) and decided.writes == ()


def test_no_kafka_and_create_false_writes_nothing() -> None:
    spec = {**SPEC, "kafka": {"clusterName": CLUSTER, "create": False}}
    decided = plan(spec_of(spec), empty_world(spec))
    assert decided.writes == ()
    assert checks(decided)[c.KAFKA_READY].reason == r.KAFKA_NOT_FOUND
    assert checks(decided)[c.TOPICS_READY].reason == "WaitingForKafka"


def test_a_deleted_kafka_is_recreated_with_a_warning_naming_every_app_on_it() -> None:
    app = app_object(SPEC)
    app["status"] = {"kafka": {"bootstrapServers": "old:9093"}}
    other = OtherApp(
        "billing", "invoices", spec_of({"deploymentName": "x", "kafka": {"clusterName": CLUSTER}})
    )
    elsewhere = OtherApp(
        "billing", "audit", spec_of({"deploymentName": "y", "kafka": {"clusterName": "other"}})
    )
    decided = plan(spec_of(SPEC), empty_world(app=app, other_apps=(other, elsewhere)))
    announce = decided.writes[0].announce
    assert announce is not None and (announce.type, announce.reason) == ("Warning", r.KAFKA_RECREATED)
    assert "billing/invoices" in announce.message and f"{APP_NAMESPACE}/{APP_NAME}" in announce.message
    assert "billing/audit" not in announce.message


def test_a_kafka_another_app_created_is_used_as_it_is_and_differences_are_a_warning() -> None:
    world = settled_world()
    theirs = copy.deepcopy(world.kafka)
    theirs["metadata"]["annotations"]["bridgedapp.io/created-by"] = "billing.invoices"
    spec = {
        **SPEC,
        "kafka": {"clusterName": CLUSTER, "replicas": 1},
        "topics": [{"name": "orders", "replicas": 1}],
    }
    decided = plan(spec_of(spec), replace(world, kafka=theirs, app=app_object(spec)))
    assert "Kafka" not in kinds(decided) and "KafkaNodePool" not in kinds(decided)
    assert "(ignored)" in checks(decided)[c.KAFKA_READY].message
    assert [e.reason for e in decided.events] == [r.KAFKA_SETTINGS_IGNORED]


def test_another_namespaces_topic_is_refused_and_gets_no_acl() -> None:
    world = settled_world()
    foreign = copy.deepcopy(world.topics["orders"])
    foreign["metadata"]["labels"][OWNER_LABEL] = "billing.invoices"
    foreign["metadata"]["annotations"] = {"bridgedapp.io/owner-namespace": "billing"}
    decided = plan(spec_of(SPEC), replace(world, topics={"orders": foreign}))
    got = checks(decided)[c.USER_READY]
    assert (got.reason, got.stalled) == (r.ACCESS_NOT_ALLOWED, True) and "orders" in got.message
    user_write = next(w for w in decided.writes if w.obj["kind"] == "KafkaUser")
    resources = [acl["resource"] for acl in user_write.obj["spec"]["authorization"]["acls"]]
    assert not any(res.get("type") == "topic" and res.get("name") == "orders" for res in resources)


def test_fewer_partitions_are_refused_and_the_topic_is_kept() -> None:
    world = settled_world({**SPEC, "topics": [{"name": "orders", "partitions": 6}]})
    spec = {**SPEC, "topics": [{"name": "orders", "partitions": 2}]}
    decided = plan(spec_of(spec), replace(world, app=app_object(spec)))
    got = checks(decided)[c.TOPICS_READY]
    assert (got.reason, got.stalled) == (r.PARTITION_DECREASE_REFUSED, True)
    assert all(w.obj["spec"].get("partitions") != 2 for w in decided.writes if w.obj["kind"] == "KafkaTopic")


def test_a_deployment_another_bridgedapp_owns_is_never_written() -> None:
    world = settled_world()
    taken = copy.deepcopy(world.deployment)
    taken["metadata"]["annotations"]["bridgedapp.io/bridged-by"] = "someone-else"
    decided = plan(spec_of(SPEC), replace(world, deployment=taken, holder_exists=True))
    assert checks(decided)[c.SIDECAR_INJECTED].reason == r.DEPLOYMENT_ALREADY_BRIDGED
    assert "Deployment" not in kinds(decided) and not decided.bridge.owned
    assert "bridge" not in report.conclude(world.app, decided)
    # once that BridgedApp is gone, this one takes over
    assert "Deployment" in kinds(plan(spec_of(SPEC), replace(world, deployment=taken, holder_exists=False)))


def test_the_operators_own_deployment_never_gets_a_bridge() -> None:
    world = settled_world()
    ours = copy.deepcopy(world.deployment)
    ours["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "bridgedapp-operator"
    decided = plan(spec_of(SPEC), replace(world, deployment=ours))
    assert checks(decided)[c.SIDECAR_INJECTED].reason == r.OPERATOR_OWNED_DEPLOYMENT and decided.writes == ()


def test_an_injection_is_followed_by_a_pending_rollout() -> None:
    world = settled_world()
    decided = plan(spec_of(SPEC), replace(world, deployment=deployment()))
    assert kinds(decided) == ["Deployment"] and decided.writes[0].blocks == (c.APP_AVAILABLE,)
    assert checks(decided)[c.SIDECAR_INJECTED].reason == r.INJECTED
    assert checks(decided)[c.APP_AVAILABLE].reason == r.ROLLOUT_PENDING


def test_a_failed_injection_overrides_the_plans_conditions() -> None:
    world = settled_world()
    decided = plan(spec_of(SPEC), replace(world, deployment=deployment()))
    conflict = Check(c.SIDECAR_INJECTED, False, r.CONFLICT, "held by kubectl", stalled=True)
    status = report.conclude(world.app, decided, [conflict, c.waiting(c.APP_AVAILABLE, c.SIDECAR_INJECTED)])
    got = {x["type"]: x for x in status["conditions"]}
    assert got[c.SIDECAR_INJECTED]["reason"] == r.CONFLICT and got[c.STALLED]["status"] == "True"
    assert got[c.APP_AVAILABLE]["status"] == "Unknown"


def test_paused_observes_and_writes_nothing() -> None:
    spec = {**SPEC, "paused": True}
    decided = plan(spec_of(spec), empty_world(spec))
    assert decided.writes == () and decided.retry is None
    got = checks(decided)
    assert (
        got[c.KAFKA_READY].reason == r.PENDING_WHILE_PAUSED and "does not exist" in got[c.KAFKA_READY].message
    )
    changed = {**SPEC, "paused": True, "bridge": {"http": {"port": 9090}}}
    world = settled_world()
    decided = plan(spec_of(changed), replace(world, app=app_object(changed)))
    assert decided.writes == ()
    assert checks(decided)[c.SIDECAR_INJECTED].reason == r.PENDING_WHILE_PAUSED
    assert report.conclude(world.app, decided)["phase"] == c.PHASE_PAUSED


def test_a_moved_deployment_releases_the_old_one_first() -> None:
    world = settled_world()
    old = copy.deepcopy(world.deployment)
    old["metadata"]["name"] = "old-api"
    old["metadata"]["annotations"]["bridgedapp.io/bridged-by"] = APP_NAME
    app = app_object(SPEC)
    app["status"] = {"bridge": {"deployment": "old-api"}}
    decided = plan(spec_of(SPEC), replace(world, app=app, previous_deployment=old, deployment=deployment()))
    first = decided.writes[0]
    assert first.obj["metadata"]["name"] == "old-api" and first.announce is not None
    assert first.announce.reason == r.SIDECAR_MOVED
    stranger = copy.deepcopy(old)
    stranger["metadata"]["annotations"]["bridgedapp.io/bridged-by"] = "another"
    decided = plan(spec_of(SPEC), replace(world, app=app, previous_deployment=stranger))
    assert all(w.obj["metadata"]["name"] != "old-api" for w in decided.writes)


def test_an_invalid_stored_spec_is_reported_as_the_spec_not_as_strimzi() -> None:
    app = app_object(SPEC)
    app["status"] = report.conclude(app, plan(spec_of(SPEC), settled_world()))
    status = report.invalid_spec_status(app, "spec.bridge.http.port: too large")
    got = {x["type"]: x for x in status["conditions"]}
    assert (got[c.READY]["reason"], got[c.STALLED]["reason"]) == (r.INVALID_SPEC, r.INVALID_SPEC)
    assert got[c.STRIMZI_READY]["reason"] == r.STRIMZI_READY  # a component's condition is not blamed
    assert (
        "spec.bridge.http.port" in got[c.STALLED]["message"] and status["bridge"] == app["status"]["bridge"]
    )
    events = report.announcements(app["status"], status, paused=False)
    assert [(e.type, e.reason) for e in events] == [("Warning", r.INVALID_SPEC)]


def test_the_status_goes_through_the_status_model() -> None:
    world = settled_world()
    status = report.conclude(world.app, plan(spec_of(SPEC), world))
    assert set(status) == {"observedGeneration", "phase", "conditions", "strimzi", "kafka", "bridge"}
    assert set(status["bridge"]) == {"deployment", "url", "image", "configHash"}
    assert set(status["kafka"]) == {"cluster", "bootstrapServers", "ready"}


def _status(**conds: tuple[str, str]) -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": t,
                "status": s,
                "reason": why,
                "message": why,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
            for t, (s, why) in conds.items()
        ]
    }


def test_events_announce_a_component_becoming_ready_or_failing_not_each_step_of_progress() -> None:
    def reasons(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return [e.reason for e in report.announcements(before, after, paused=False)]

    pending = _status(AppAvailable=("False", r.ROLLOUT_PENDING))
    rolling = _status(AppAvailable=("False", r.ROLLING_OUT))
    available = _status(AppAvailable=("True", r.AVAILABLE))
    broken = _status(AppAvailable=("False", r.PODS_NOT_AVAILABLE))
    assert (
        reasons({}, pending) == []
    )  # something under way: the status says so, a thousand apps need no event
    assert reasons(pending, rolling) == []  # one step of progress to the next
    assert reasons(rolling, available) == [r.AVAILABLE]
    assert reasons({}, available) == []  # ready when first reported (a shared Kafka): nothing changed
    assert reasons(available, rolling) == [r.ROLLING_OUT]  # ready no longer (a new template rolls out)
    assert reasons(available, broken) == [r.PODS_NOT_AVAILABLE]
    assert reasons({}, broken) == [r.PODS_NOT_AVAILABLE]  # a problem from the first report on
    waiting = ("False", r.WAITING_FOR_STRIMZI)
    going = ("False", r.ROLLING_OUT)
    started = _status(Ready=waiting, TopicsReady=waiting, UserReady=waiting, AppAvailable=going)
    topics = _status(Ready=waiting, TopicsReady=("True", "t"), UserReady=waiting, AppAvailable=going)
    assert reasons(started, topics) == ["t"]
    done = _status(
        Ready=("True", r.ALL_READY),
        TopicsReady=("True", "t"),
        UserReady=("True", "u"),
        **{"AppAvailable": ("True", r.AVAILABLE)},
    )
    (aggregated,) = report.announcements(started, done, paused=False)  # one event names them all
    assert aggregated.reason == r.ALL_READY and aggregated.message.endswith(
        "Ready now: TopicsReady, UserReady, AppAvailable."
    )
    assert reasons(started, topics) == ["t"]
    said = report.announcements(started, topics, paused=False, announced=frozenset({"TopicsReady"}))
    assert said == []  # the write that made it ready said so already
    installing = _status(StrimziReady=("False", r.INSTALLING))
    assert reasons({}, installing) == [r.INSTALLING]  # the slow, silent start of an install is news
    assert [e.type for e in report.announcements({}, installing, paused=False)] == ["Normal"]
    assert reasons(installing, installing) == []
    assert reasons(broken, _status(AppAvailable=("False", r.CONFLICT))) == [r.CONFLICT]  # a new problem
    assert [e.type for e in report.announcements(available, broken, paused=False)] == ["Warning"]


def test_a_deployment_status_change_moves_only_availability_and_the_summary() -> None:
    world = settled_world()
    app = app_object(SPEC)
    app["metadata"]["generation"] = 1
    app["status"] = report.conclude(app, plan(spec_of(SPEC), world))
    assert app["status"]["phase"] == "Ready"
    failing = copy.deepcopy(world.deployment)
    failing["status"]["availableReplicas"] = 0
    status = report.availability(app, failing)
    assert status is not None
    got = {x["type"]: x for x in status["conditions"]}
    assert (got[c.APP_AVAILABLE]["reason"], got[c.READY]["status"]) == (r.PODS_NOT_AVAILABLE, "False")
    unchanged = [t for t in c.COMPONENTS if t != c.APP_AVAILABLE]
    before = {x["type"]: x for x in app["status"]["conditions"]}
    assert all(got[t] == before[t] for t in unchanged) and status["bridge"] == app["status"]["bridge"]
    # the same Deployment as the last pass saw it: the status is the stored one, nothing to write
    assert report.availability(app, world.deployment) == app["status"]
    # not enough to decide: a full pass does
    paused = copy.deepcopy(app)
    paused["metadata"]["generation"] = 2
    assert report.availability(paused, failing) is None
    other = copy.deepcopy(failing)
    other["metadata"]["name"] = "another"
    assert report.availability(app, other) is None


def test_only_a_status_change_skips_the_full_pass() -> None:
    from bridgedapp.cache import only_status_changed

    before = deployment()
    after = copy.deepcopy(before)
    after["status"]["availableReplicas"] = 2
    assert only_status_changed(before, after)
    after["metadata"]["generation"] = 2
    assert not only_status_changed(before, after)
    relabelled = copy.deepcopy(before)
    relabelled["metadata"]["labels"]["team"] = "b"
    assert not only_status_changed(before, relabelled) and not only_status_changed(None, before)


def test_a_status_that_only_reports_progress_may_wait_to_share_a_patch() -> None:
    waiting, rolling = ("False", r.WAITING_FOR_STRIMZI), ("False", r.ROLLING_OUT)
    injected, no = ("True", r.INJECTED), ("False", r.NOT_STALLED)
    first = _status(Ready=waiting, Stalled=no, TopicsReady=waiting, SidecarInjected=("Unknown", "x"))
    pending = _status(Ready=waiting, Stalled=no, TopicsReady=waiting, SidecarInjected=injected)
    topics = _status(
        Ready=waiting, Stalled=no, TopicsReady=("True", r.TOPICS_READY), SidecarInjected=injected
    )
    pods = _status(
        Ready=rolling, Stalled=no, TopicsReady=waiting, SidecarInjected=injected, AppAvailable=rolling
    )
    assert not report.progress_only({}, first)  # the first status says the app was seen: never held back
    assert not report.progress_only(first, pending)  # nor the injection: the user's pods restart
    assert report.progress_only(pending, topics)  # a component turning ready after the injection
    assert report.progress_only(pending, pods)  # pods rolling out
    done = _status(
        Ready=("True", r.ALL_READY), Stalled=no, TopicsReady=("True", "x"), SidecarInjected=injected
    )
    assert not report.progress_only(topics, done)  # Ready is written at once, both ways
    assert not report.progress_only(done, topics)
    broken = _status(
        Ready=waiting, Stalled=no, TopicsReady=("False", r.TOPIC_CONFLICT), SidecarInjected=injected
    )
    assert not report.progress_only(pending, broken)  # so is a problem
    stalled = _status(
        Ready=waiting, Stalled=("True", r.STALLED), TopicsReady=waiting, SidecarInjected=injected
    )
    assert not report.progress_only(pending, stalled)
    assert not report.progress_only(pending, {**topics, "observedGeneration": 2})  # a new spec's first status


def test_progress_within_the_interval_waits_for_the_next_pass_and_problems_do_not() -> None:
    """Reconciler._store: the held-back status is written by the pass that runs when it is due."""
    from bridgedapp.reconciler import STATUS_INTERVAL, Reconciler
    from bridgedapp.settings import Settings

    class Patches:
        def __init__(self) -> None:
            self.bodies: list[dict[str, Any]] = []

        def patch_status(self, *_: Any) -> dict[str, Any]:
            self.bodies.append(_[-1])
            return {}

    kube = Patches()
    reconciler = Reconciler(kube, Settings(), ensurer=object())  # type: ignore[arg-type]
    waiting, injected, no = ("False", r.WAITING_FOR_STRIMZI), ("True", r.INJECTED), ("False", r.NOT_STALLED)
    app = {"metadata": {"namespace": "shop", "name": "orders"}}
    first = _status(Ready=waiting, Stalled=no, UserReady=waiting, SidecarInjected=injected)
    assert reconciler._store(app, first, []).status == first
    app["status"] = first
    step = _status(Ready=waiting, Stalled=no, UserReady=("True", r.USER_READY), SidecarInjected=injected)
    held = reconciler._store(app, step, [])
    assert held.status is None and held.again is not None and 0 < held.again <= STATUS_INTERVAL
    assert held.events == []  # its events come with the patch that writes it
    assert reconciler._store(app, step, [], wrote=True).status == step  # what a pass wrote is said at once
    refused = _status(
        Ready=waiting, Stalled=no, UserReady=("False", r.ACCESS_NOT_ALLOWED), SidecarInjected=injected
    )
    written = reconciler._store(app, refused, [])
    assert written.status == refused and [e.reason for e in written.events] == [r.ACCESS_NOT_ALLOWED]
    assert len(kube.bodies) == 3
