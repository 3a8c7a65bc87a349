"""Read the world one pass needs, before any decision: `gather(...) -> plan.World`.

The reads a pass makes, and why each is there, are all in this file (cert-manager's gatherer). An object is
read only when a decision can use it: nothing past the Kafka when Strimzi is unusable or the Kafka cannot
be had, Strimzi's Secrets only once the KafkaUser is ready, the app Namespace's annotations only when a
request goes beyond the namespace's own topics and groups, other BridgedApps only for the two decisions
that name them. Strimzi itself comes from `StrimziEnsurer`, which also installs it when it is absent.

In the running operator these reads are memory (`cache.py`: what the watches delivered, kept for every
object a BridgedApp refers to). What still asks the API server, and why: an object no watch has reported yet
(the topic, user, ConfigMap and Secret a new app's first passes look for before creating them: only a GET
tells absent from not yet listed; an object referenced only since a spec change); any object of a kind and
namespace whose watch has not delivered an event in this process; the KafkaNodePool (no watch: only the
Kafka's creator reads it, when it applies the pool); the list of BridgedApps for the two decisions above
(rare: a recreated Kafka, an explicit consumer group); the server version (once per process).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bridgedapp import GROUP, KIND, VERSION, tenancy
from bridgedapp.builders import bridge, kafka, sidecar, topics, user
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.strimzi_readiness import is_ready
from bridgedapp.kube import Kube
from bridgedapp.models import BridgedAppSpec
from bridgedapp.plan import needs_allowances
from bridgedapp.settings import Settings
from bridgedapp.strimzi import StrimziEnsurer, StrimziUnavailable
from bridgedapp.world import OtherApp, Problem, World, previous_deployment, spec_or_none

APP_API = f"{GROUP}/{VERSION}"


def other_apps(kube: Kube) -> tuple[OtherApp, ...]:
    """Every BridgedApp, reduced to what another app's decisions read."""
    return tuple(
        OtherApp(
            a["metadata"]["namespace"],
            a["metadata"]["name"],
            spec_or_none(a.get("spec")),
            deleting=bool(a["metadata"].get("deletionTimestamp")),
        )
        for a in kube.list(APP_API, KIND)
    )


def gather(
    kube: Kube, ensurer: StrimziEnsurer, settings: Settings, app: Mapping[str, Any], spec: BridgedAppSpec
) -> World:
    meta = app["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    status = app.get("status") or {}
    try:
        info, problem = ensurer.ensure(wait=False, install=not spec.paused), None
    except StrimziUnavailable as err:
        info, problem = None, Problem(err.reason, err.message)
    kafka_ns = spec.kafka_namespace(info.namespace if info is not None else settings.strimzi_namespace)
    world = World(
        app=app,
        kafka_namespace=kafka_ns,
        strimzi=info,
        strimzi_problem=problem,
        single_tenant=settings.single_tenant,
    )
    if info is None or not info.watches(kafka_ns):
        return world
    api, cluster = info.api_version, spec.kafka.cluster_name
    kafka_obj = kube.get(api, "Kafka", cluster, kafka_ns)
    namespace_exists, others = True, None
    if kafka_obj is None:
        if not spec.kafka.create:
            return replace(world, kafka_namespace_exists=True)
        namespace_exists = kube.namespace_exists(kafka_ns)
        if not namespace_exists or spec.paused:
            return replace(world, kafka_namespace_exists=namespace_exists)
        if (status.get("kafka") or {}).get("bootstrapServers"):
            others = other_apps(kube)  # a Kafka this app used is gone: the Warning names every app on it
    pool = None
    if kafka_obj is not None and kafka.creator(kafka_obj) == owner_value(namespace, name):
        pool = kube.get(api, "KafkaNodePool", kafka.node_pool_name(cluster), kafka_ns)
    topic_objs = {
        t.name: kube.get(api, "KafkaTopic", topics.topic_object_name(t.name), kafka_ns) for t in spec.topics
    }
    allowances = None
    if needs_allowances(spec, topic_objs, app_namespace=namespace, single_tenant=settings.single_tenant):
        allowances = tenancy.Allowances.of_namespace(
            kube.get("v1", "Namespace", namespace), single_tenant=settings.single_tenant
        )
    if spec.consumer_group and others is None:
        others = other_apps(kube)  # an explicit group may overlap another app's: a Warning says so
    user_name = user.kafka_user_name(namespace, name)
    user_obj = kube.get(api, "KafkaUser", user_name, kafka_ns)
    user_secret = ca_secret = config_map = credentials = None
    if is_ready(user_obj):
        user_secret = kube.get("v1", "Secret", user_name, kafka_ns)
        ca_secret = kube.get("v1", "Secret", kafka.cluster_ca_cert_name(cluster), kafka_ns)
    if user_secret is not None and ca_secret is not None:
        config_map = kube.get("v1", "ConfigMap", bridge.bridge_config_name(name), namespace)
        credentials = kube.get("v1", "Secret", bridge.credentials_secret_name(name), namespace)
    deployment = kube.get("apps/v1", "Deployment", spec.deployment_name, namespace)
    holder = sidecar.bridged_by(deployment) if deployment is not None else None
    holder_exists = bool(holder) and holder != name and kube.get(APP_API, KIND, holder, namespace) is not None
    previous = previous_deployment(status)
    moved_from = (
        kube.get("apps/v1", "Deployment", previous, namespace)
        if previous and previous != spec.deployment_name
        else None
    )
    return replace(
        world,
        kafka=kafka_obj,
        node_pool=pool,
        topics=topic_objs,
        user=user_obj,
        user_secret=user_secret,
        ca_secret=ca_secret,
        allowances=allowances,
        config_map=config_map,
        credentials_secret=credentials,
        deployment=deployment,
        holder_exists=holder_exists,
        previous_deployment=moved_from,
        server_version=kube.server_version() if deployment is not None else world.server_version,
        other_apps=others,
    )
