"""The decision of one pass, as a pure function: `plan(spec, world) -> Plan` (the types: world.py).

`gather.py` reads the world a pass needs into a `World`; `plan` decides, from the spec and that world
alone, which objects should exist, which of them must be written, and what each condition says; the
applier (`apply.py`) writes what differs. No I/O and no clock here, so every decision (the conditions of
a shared Kafka, a refused topic, a paused app, a Deployment owned by another app) is unit-tested on plain
values, and `bridgedapp render` runs this same function on a world read from files.

A write's result is projected (`project`): the steps after it see the object as the API server will
return it (a created Kafka has no status yet; a changed spec bumps `metadata.generation`), so one pass
decides exactly what the old step-by-step pass decided after each write.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridgedapp import MANAGED_BY_LABELS, OWNER_LABEL, tenancy
from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.builders import bridge, kafka, sidecar, topics, user
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.strimzi_readiness import WAITING, bootstrap_tls, readiness
from bridgedapp.conditions import Check
from bridgedapp.models import BridgedAppSpec
from bridgedapp.observe import injection_matches, is_subset, rollout
from bridgedapp.strimzi import StrimziInfo, not_watched_message
from bridgedapp.world import (
    BridgeFacts,
    Event,
    Obj,
    OtherApp,
    Plan,
    Problem,
    Retry,
    World,
    Write,
    describe,
    previous_deployment,
    releasable,
    sentence,
    uses_kafka,
)

INSTALL_RECHECK_SECONDS = 5.0


@dataclass
class _Draft:
    """What the steps decide, collected in order (private to one `plan` call)."""

    dry: bool
    checks: list[Check] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)
    pending: dict[str, list[str]] = field(default_factory=dict)  # paused: per condition, what would change
    retry: Retry | None = None

    def ok(self, type_: str) -> bool:
        return any(ch.type == type_ and ch.ok for ch in self.checks)

    def wait_on(self, condition: str, *types: str) -> None:
        self.checks += [c.waiting(t, condition) for t in types]

    def want(
        self,
        desired: Obj,
        current: Obj | None,
        condition: str,
        *,
        same: Callable[[Obj, Obj], bool] = is_subset,
        reclaim: bool = False,
        always: bool = False,
        announce: Event | None = None,
    ) -> Obj | None:
        """`desired` should exist; write it unless `current` holds it already (`always`: write anyway). The
        object as it will be after this pass: projected when written; while paused, unchanged (None if
        absent), with a pending note instead of the write."""
        self.objects.append(desired)
        if current is not None and not always and same(desired, current):
            return current
        if self.dry:
            state = "does not exist" if current is None else "differs from the spec"
            self.pending.setdefault(condition, []).append(f"{describe(desired)} {state}")
            return current
        self.writes.append(Write(desired, condition, reclaim=reclaim, announce=announce))
        return project(desired, current)


def project(desired: Obj, current: Obj | None) -> Obj:
    """`desired` applied to `current` as the API server would return it, as far as readiness reads it: maps
    merge, everything else is replaced; a changed spec bumps the generation (a new object has 1)."""
    if current is None:
        merged = copy.deepcopy(desired)
        merged.setdefault("metadata", {})["generation"] = 1
        return merged
    merged = _merge(current, desired)
    if "spec" in desired and not is_subset(desired["spec"], current.get("spec")):
        merged["metadata"]["generation"] = (current["metadata"].get("generation") or 0) + 1
    return merged


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base.get(key), value)
        return out
    return copy.deepcopy(patch)


def _is_ours(obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in MANAGED_BY_LABELS.items())


# ---- the plan ------------------------------------------------------------------------------------------------


def plan(spec: BridgedAppSpec, world: World) -> Plan:
    """The desired objects, the writes, the checks and the events of one pass over `world`."""
    draft = _Draft(dry=spec.paused)
    kafka_obj: Obj | None = None
    credentials: tuple[Obj, Obj] | None = None
    bridge_facts = BridgeFacts(
        deployment=spec.deployment_name,
        url=f"http://localhost:{spec.bridge.http.port}",
        image=spec.bridge.image,
        config_hash=None,
    )
    info = _strimzi(world, draft)
    if info is not None:
        kafka_obj = _kafka(spec, world, info, draft)
        if kafka_obj is not None:
            topic_objs = _topics(spec, world, info, draft)
            credentials = _user(spec, world, info, draft, topic_objs)
            bridge_facts = _sidecar(spec, world, draft, bootstrap_tls(kafka_obj), credentials, bridge_facts)
        else:  # nothing is made for a Kafka that is not there; its watch brings the next pass
            draft.checks += [c.waiting(t, "Kafka") for t in c.COMPONENTS[2:]]
    else:
        draft.checks += [c.waiting(t, "Strimzi") for t in c.COMPONENTS[1:]]
    checks = _with_pending(draft.checks, draft.pending) if draft.dry else draft.checks
    kafka_ready = kafka_obj is not None and readiness(kafka_obj)[0]
    status_kafka = {
        "cluster": f"{world.kafka_namespace}/{spec.kafka.cluster_name}",
        "bootstrapServers": bootstrap_tls(kafka_obj) if kafka_obj else None,
        "ready": kafka_ready,
    }
    return Plan(
        checks=tuple(checks),
        writes=tuple(draft.writes),
        events=tuple(draft.events),
        objects=tuple(draft.objects),
        strimzi=info if info is not None else world.strimzi,
        kafka={k: v for k, v in status_kafka.items() if v is not None},
        bridge=bridge_facts,
        paused=spec.paused,
        retry=draft.retry,
    )


def _strimzi(world: World, draft: _Draft) -> StrimziInfo | None:
    """StrimziReady; the Strimzi to use, or None."""
    problem = world.strimzi_problem
    if problem is not None or world.strimzi is None:
        problem = problem or Problem(r.STRIMZI_NOT_FOUND, "no Strimzi found")
        stalled = problem.reason == r.STRIMZI_NOT_FOUND
        message = sentence(problem.message)
        draft.checks.append(Check(c.STRIMZI_READY, False, problem.reason, message, stalled=stalled))
        if not stalled:
            draft.retry = Retry(INSTALL_RECHECK_SECONDS, message, is_wait=problem.reason == r.INSTALLING)
        return None
    info = world.strimzi
    if not info.watches(world.kafka_namespace):
        message = sentence(not_watched_message(info, world.kafka_namespace))
        draft.checks.append(Check(c.STRIMZI_READY, False, r.NAMESPACE_NOT_WATCHED, message, stalled=True))
        return None
    how = "installed by bridgedapp" if info.managed else "adopted"
    draft.checks.append(
        Check(c.STRIMZI_READY, True, r.STRIMZI_READY, f"Strimzi {info.version} in {info.namespace} ({how}).")
    )
    return info


def _kafka(spec: BridgedAppSpec, world: World, info: StrimziInfo, draft: _Draft) -> Obj | None:
    """KafkaReady; the Kafka as it will be after this pass, or None when there is none to build on."""
    api, ns, cluster = info.api_version, world.kafka_namespace, spec.kafka.cluster_name
    owner = owner_value(world.namespace, world.name)
    existing = world.kafka
    notes = ""
    if existing is None:
        if not spec.kafka.create:
            draft.checks.append(
                Check(
                    c.KAFKA_READY,
                    False,
                    r.KAFKA_NOT_FOUND,
                    f"Kafka {ns}/{cluster} does not exist and spec.kafka.create is false: create it or set "
                    "create: true.",
                    stalled=True,
                )
            )
            return None
        if not world.kafka_namespace_exists:
            draft.checks.append(
                Check(
                    c.KAFKA_READY,
                    False,
                    r.NAMESPACE_NOT_FOUND,
                    f"Namespace {ns} does not exist: create it or change spec.kafka.namespace.",
                    stalled=True,
                )
            )
            return None
        # Apps racing for a new cluster both apply it; the last one's `created-by` stands, and from then on
        # only that creator applies the Kafka and its pool (same field manager: no conflict).
        announce = (
            _kafka_recreated(spec, world, info)
            if (world.status.get("kafka") or {}).get("bootstrapServers")
            else Event("Normal", r.KAFKA_CREATED, f"Created Kafka {ns}/{cluster} with its node pool.")
        )
        desired = kafka.build_kafka(spec, namespace=ns, api_version=api, owner=owner)
        existing = draft.want(desired, None, c.KAFKA_READY, announce=announce)
        if existing is None:
            return None  # paused: not created; the pending note says so
        pool = kafka.build_node_pool(spec, namespace=ns, api_version=api, owner=owner)
        draft.want(pool, None, c.KAFKA_READY, always=True)
    else:
        creator = kafka.creator(existing)
        if creator == owner:
            pool = kafka.build_node_pool(spec, namespace=ns, api_version=api, owner=owner)
            draft.want(pool, world.node_pool, c.KAFKA_READY)
            desired = kafka.build_kafka(spec, namespace=ns, api_version=api, owner=owner)
            existing = draft.want(desired, existing, c.KAFKA_READY) or existing
        elif creator:
            differences = kafka.settings_differ(existing, spec)
            if differences:
                notes = (
                    f" Shared with {creator}, whose settings govern it; this app asks for "
                    f"{'; '.join(differences)} (ignored)."
                )
        else:
            notes = " Existing Kafka, not managed by bridgedapp: used as it is."
    ok, reason, message = readiness(existing)
    previous = {x["type"]: x for x in world.status.get("conditions", [])}
    if "(ignored)" in notes and notes not in previous.get(c.KAFKA_READY, {}).get("message", ""):
        draft.events.append(Event("Warning", r.KAFKA_SETTINGS_IGNORED, notes.strip()))
    label = f"Kafka {ns}/{cluster}"
    draft.checks.append(
        Check(
            c.KAFKA_READY,
            ok,
            r.KAFKA_READY if ok else reason,
            (f"{label} is ready." if ok else f"{label}: {message}") + notes,
        )
    )
    return existing


def _kafka_recreated(spec: BridgedAppSpec, world: World, info: StrimziInfo) -> Event:
    """The Kafka this app used is gone and is made anew (a new CA, so every app on it rolls): a Warning
    naming who is affected, not a routine KafkaCreated."""
    cluster = spec.kafka.cluster_name
    me = OtherApp(world.namespace, world.name, spec)
    apps = [me, *(a for a in world.other_apps or () if (a.namespace, a.name) != (me.namespace, me.name))]
    affected = sorted(
        f"{a.namespace}/{a.name}"
        for a in apps
        if uses_kafka(a, world.kafka_namespace, cluster, info.namespace)
    )
    return Event(
        "Warning",
        r.KAFKA_RECREATED,
        f"Kafka {world.kafka_namespace}/{cluster} was deleted; it is created again with new certificates, so "
        f"the pods of every app on it roll: {', '.join(affected)}.",
    )


def _topics(spec: BridgedAppSpec, world: World, info: StrimziInfo, draft: _Draft) -> dict[str, Obj | None]:
    """TopicsReady: create absent topics; keep the ones this app created in step with its spec; never touch
    others'. The topics as they will be, by name (None: absent while paused)."""
    seen: dict[str, Obj | None] = {}
    if not spec.topics:
        draft.checks.append(Check(c.TOPICS_READY, True, r.NO_TOPICS, "spec.topics is empty."))
        return seen
    pending: list[str] = []
    problems: list[str] = []
    refused: list[str] = []
    failing = 0  # pending topics Strimzi reports a problem with (the others it has not reconciled yet)
    desired_topics = topics.build_topics(
        spec,
        namespace=world.kafka_namespace,
        api_version=info.api_version,
        owner=owner_value(world.namespace, world.name),
        owner_namespace=world.namespace,
    )
    for wanted, desired in zip(spec.topics, desired_topics, strict=True):
        meta = desired["metadata"]
        current = world.topics.get(wanted.name)
        if current is None:
            current = draft.want(desired, None, c.TOPICS_READY)
        seen[wanted.name] = current
        if current is None:
            continue  # paused: not created; the pending note says so
        their_labels = current["metadata"].get("labels") or {}
        their_cluster = their_labels.get("strimzi.io/cluster")
        if their_cluster != meta["labels"]["strimzi.io/cluster"]:
            problems.append(f"KafkaTopic {meta['name']} belongs to cluster {their_cluster}")
            continue
        if their_labels.get(OWNER_LABEL) == meta["labels"][OWNER_LABEL] and current is world.topics.get(
            wanted.name
        ):
            desired, refusal = topics.keep_partitions(desired, current)
            if refusal:
                refused.append(refusal)
            current = (
                draft.want(desired, current, c.TOPICS_READY, same=topics.spec_matches, reclaim=True)
                or current
            )
            seen[wanted.name] = current
        ok, reason, message = readiness(current)
        if not ok:
            pending.append(f"{meta['name']}: {message}")
            failing += reason != WAITING
    if problems:
        draft.checks.append(
            Check(
                c.TOPICS_READY,
                False,
                r.TOPIC_CONFLICT,
                "; ".join(problems) + ": rename the topic.",
                stalled=True,
            )
        )
    elif refused:
        draft.checks.append(
            Check(c.TOPICS_READY, False, r.PARTITION_DECREASE_REFUSED, "; ".join(refused) + ".", stalled=True)
        )
    elif pending:
        reason = r.TOPICS_NOT_READY if failing else WAITING
        draft.checks.append(Check(c.TOPICS_READY, False, reason, "; ".join(pending)))
    else:
        draft.checks.append(
            Check(c.TOPICS_READY, True, r.TOPICS_READY, f"{len(spec.topics)} topic(s) ready.")
        )
    return seen


def needs_allowances(
    spec: BridgedAppSpec, topic_objs: Mapping[str, Obj | None], *, app_namespace: str, single_tenant: bool
) -> bool:
    """Does any request go beyond the namespace's own topics and groups (so its annotations must be read)?"""
    own = tenancy.Allowances(everything=single_tenant)
    if any(
        tenancy.topic_refusal(t.name, topic_objs.get(t.name), app_namespace=app_namespace, allowances=own)
        for t in spec.topics
    ):
        return True
    group = spec.consumer_group
    return (
        bool(group) and tenancy.group_refusal(group, app_namespace=app_namespace, allowances=own) is not None
    )


def _refusals(
    spec: BridgedAppSpec, world: World, topic_objs: Mapping[str, Obj | None]
) -> tuple[set[str], bool, list[str]]:
    """(refused topics, group refused, one clause per refusal) under the many-teams policy."""
    own = tenancy.Allowances(everything=world.single_tenant)
    granted = world.allowances or own
    refused_topics: set[str] = set()
    clauses: list[str] = []
    for topic in spec.topics:
        obj = topic_objs.get(topic.name)
        if tenancy.topic_refusal(topic.name, obj, app_namespace=world.namespace, allowances=own) is None:
            continue
        why = tenancy.topic_refusal(topic.name, obj, app_namespace=world.namespace, allowances=granted)
        if why is not None:
            refused_topics.add(topic.name)
            clauses.append(why)
    group_refused = False
    if spec.consumer_group and user.reads_any(spec, refused_topics):
        group = spec.consumer_group
        if tenancy.group_refusal(group, app_namespace=world.namespace, allowances=own) is not None:
            why = tenancy.group_refusal(group, app_namespace=world.namespace, allowances=granted)
            if why is not None:
                group_refused = True
                clauses.append(why)
    return refused_topics, group_refused, clauses


def _user(
    spec: BridgedAppSpec,
    world: World,
    info: StrimziInfo,
    draft: _Draft,
    topic_objs: Mapping[str, Obj | None],
) -> tuple[Obj, Obj] | None:
    """UserReady; the user's and the cluster CA's Secrets once the KafkaUser is ready, else None."""
    refused_topics, group_refused, refusals = _refusals(spec, world, topic_objs)
    desired = user.build_user(
        spec,
        app_name=world.name,
        app_namespace=world.namespace,
        namespace=world.kafka_namespace,
        api_version=info.api_version,
        refused_topics=refused_topics,
        group_refused=group_refused,
    )
    meta = desired["metadata"]
    current = world.user
    if spec.consumer_group and not group_refused and (current is None or not is_subset(desired, current)):
        shared = _shared_group(spec, world, info)
        if shared is not None:
            draft.events.append(shared)
    current = draft.want(desired, current, c.USER_READY, reclaim=True)
    if current is None:
        return None
    ok, reason, message = readiness(current)
    credentials = (
        (world.user_secret, world.ca_secret)
        if (ok or world.steady) and world.user_secret is not None and world.ca_secret is not None
        else None
    )
    if refusals:
        draft.checks.append(
            Check(
                c.USER_READY,
                False,
                r.ACCESS_NOT_ALLOWED,
                f"KafkaUser {meta['name']} gets no ACLs for what is not allowed: "
                + "; ".join(refusals)
                + ".",
                stalled=True,
            )
        )
        return credentials
    draft.checks.append(
        Check(
            c.USER_READY,
            ok,
            r.USER_READY if ok else reason,
            f"KafkaUser {meta['namespace']}/{meta['name']} is ready."
            if ok
            else f"KafkaUser {meta['name']}: {message}",
        )
    )
    return credentials


def _shared_group(spec: BridgedAppSpec, world: World, info: StrimziInfo) -> Event | None:
    """An explicit consumerGroup overlapping another app's on the same Kafka is legitimate only when both
    teams mean it: a Warning says so whenever this app's ACLs are (re)written. Defaults never overlap across
    namespaces, so only explicit groups need the other apps read."""
    mine = user.group_prefix(spec, app_namespace=world.namespace, app_name=world.name)
    overlapping = []
    for other in world.other_apps or ():
        if (other.namespace, other.name) == (world.namespace, world.name) or other.deleting:
            continue
        if other.spec is None or not user.reads_any(other.spec):
            continue
        if not uses_kafka(other, world.kafka_namespace, spec.kafka.cluster_name, info.namespace):
            continue
        theirs = user.group_prefix(other.spec, app_namespace=other.namespace, app_name=other.name)
        if tenancy.groups_overlap(mine, theirs):
            overlapping.append(f"{other.namespace}/{other.name} ({theirs})")
    if not overlapping:
        return None
    return Event(
        "Warning",
        r.CONSUMER_GROUP_SHARED,
        f"Consumer-group prefix {mine} overlaps that of {', '.join(sorted(overlapping))}: these apps can join "
        "each other's consumer groups. Set distinct spec.consumerGroup values unless that is meant.",
    )


def _move(world: World, draft: _Draft, deploy_name: str) -> None:
    """The spec names another Deployment than the one injected: take the bridge out of the old one."""
    previous = previous_deployment(world.status)
    moved_from = world.previous_deployment
    if not previous or previous == deploy_name or moved_from is None or not releasable(world.app, moved_from):
        return
    if draft.dry:
        draft.pending.setdefault(c.SIDECAR_INJECTED, []).append(
            f"the bridge is still in Deployment {previous}"
        )
        return
    moved = Event("Normal", r.SIDECAR_MOVED, f"Removed the bridge from Deployment {previous}.")
    draft.writes.append(Write(sidecar.build_removal_patch(moved_from), c.SIDECAR_INJECTED, announce=moved))


def _sidecar(
    spec: BridgedAppSpec,
    world: World,
    draft: _Draft,
    bootstrap: str | None,
    credentials: tuple[Obj, Obj] | None,
    facts: BridgeFacts,
) -> BridgeFacts:
    """SidecarInjected and AppAvailable: the bridge's ConfigMap and Secret, then the Deployment's patch."""
    app, deploy_name, namespace = world.app, spec.deployment_name, world.namespace
    _move(world, draft, deploy_name)
    deployment = world.deployment
    holder = sidecar.bridged_by(deployment) if deployment is not None else None
    if holder and holder != world.name and world.holder_exists:
        draft.checks.append(
            Check(
                c.SIDECAR_INJECTED,
                False,
                r.DEPLOYMENT_ALREADY_BRIDGED,
                f"Deployment {namespace}/{deploy_name} already has a bridge, owned by BridgedApp "
                f"{namespace}/{holder}; a Deployment has one bridge owner: use that BridgedApp's bridge, or "
                "point this one at another Deployment.",
                stalled=True,
            )
        )
        draft.wait_on(c.SIDECAR_INJECTED, c.APP_AVAILABLE)
        return BridgeFacts(facts.deployment, facts.url, facts.image, None, owned=False)
    if deployment is not None and _is_ours(deployment):
        draft.checks.append(
            Check(
                c.SIDECAR_INJECTED,
                False,
                r.OPERATOR_OWNED_DEPLOYMENT,
                f"Deployment {namespace}/{deploy_name} is managed by bridgedapp itself (for example the Strimzi "
                "operator it installed) and never gets a bridge: name the app's own Deployment.",
                stalled=True,
            )
        )
        draft.wait_on(c.SIDECAR_INJECTED, c.APP_AVAILABLE)
        return facts
    if (credentials is None and not world.steady) or not bootstrap:
        waiting_on = "the KafkaUser's credentials" if bootstrap else "the Kafka's bootstrap address"
        for t in (c.SIDECAR_INJECTED, c.APP_AVAILABLE):
            draft.checks.append(
                Check(t, None, r.WAITING_FOR_CREDENTIALS, f"Waiting for {waiting_on} from Strimzi.")
            )
        return facts
    config_map = bridge.build_config_map(dict(app), spec, bootstrap=bootstrap)
    try:
        secret = (
            bridge.build_credentials_secret(
                dict(app), user_secret=credentials[0], cluster_ca_secret=credentials[1]
            )
            if credentials is not None
            else bridge.build_credentials_secret_shell(dict(app))
        )
    except bridge.CredentialsError as err:
        for t in (c.SIDECAR_INJECTED, c.APP_AVAILABLE):
            draft.checks.append(
                Check(t, None, r.WAITING_FOR_CREDENTIALS, f"{err}; waiting for Strimzi to complete it.")
            )
        return facts
    draft.want(config_map, world.config_map, c.SIDECAR_INJECTED, reclaim=True)
    draft.want(secret, world.credentials_secret, c.SIDECAR_INJECTED, reclaim=True)
    config_hash = sidecar.compute_config_hash(config_map, secret)
    facts = BridgeFacts(facts.deployment, facts.url, facts.image, config_hash)
    if deployment is None:
        draft.checks.append(
            Check(
                c.SIDECAR_INJECTED,
                False,
                r.DEPLOYMENT_NOT_FOUND,
                f"Deployment {namespace}/{deploy_name} does not exist; it is injected as soon as it appears.",
            )
        )
        draft.wait_on("Deployment", c.APP_AVAILABLE)
        return facts
    clashes = sidecar.app_container_conflicts(deployment)
    problems = sidecar.pod_conflicts(deployment, spec)
    if clashes or problems:
        reason = r.NAME_CONFLICT if clashes else r.POD_CONFLICT
        message = (
            f"The app already has {', '.join(clashes)}: rename them so the bridge can be added."
            if clashes
            else "; ".join(problems).capitalize() + "."
        )
        draft.checks.append(Check(c.SIDECAR_INJECTED, False, reason, message, stalled=True))
        draft.wait_on(c.SIDECAR_INJECTED, c.APP_AVAILABLE)
        return facts
    try:
        native = sidecar.use_native_sidecar(spec.bridge.native_sidecar, world.server_version)
    except ValueError as err:
        draft.checks.append(
            Check(c.SIDECAR_INJECTED, False, r.NATIVE_SIDECAR_UNSUPPORTED, str(err), stalled=True)
        )
        draft.wait_on(c.SIDECAR_INJECTED, c.APP_AVAILABLE)
        return facts
    patch = sidecar.build_deployment_patch(
        deployment, dict(app), spec, native=native, config_hash=config_hash
    )
    draft.objects.append(patch)
    if not injection_matches(deployment, patch):
        if draft.dry:
            draft.pending.setdefault(c.SIDECAR_INJECTED, []).append(
                f"Deployment {deploy_name} is not injected as the spec says"
            )
        else:
            draft.writes.append(
                Write(
                    patch,
                    c.SIDECAR_INJECTED,
                    announce=Event(
                        "Normal", c.SIDECAR_INJECTED, f"Applied the kafka-bridge sidecar to {deploy_name}."
                    ),
                    blocks=(c.APP_AVAILABLE,),
                )
            )
            deployment = sidecar.apply_patch_locally(deployment, patch)
            deployment["metadata"]["generation"] = (deployment["metadata"].get("generation") or 0) + 1
    ignored = bridge.ignored_client_options(spec)
    note = f" Ignored (set by the operator): {', '.join(ignored)}." if ignored else ""
    kind_word = "native sidecar (init container)" if native else "container"
    draft.checks.append(
        Check(
            c.SIDECAR_INJECTED,
            True,
            r.INJECTED,
            f"kafka-bridge runs as a {kind_word} in {deploy_name}.{note}",
        )
    )
    ok, reason, message = rollout(deployment, config_hash)
    draft.checks.append(Check(c.APP_AVAILABLE, ok, reason, message))
    return facts


def _with_pending(checks: list[Check], pending: dict[str, list[str]]) -> list[Check]:
    """While paused: a component whose objects would have to change reports so (False, in progress), unless
    it already reports a problem of its own."""

    def pending_check(type_: str) -> Check:
        message = "; ".join(pending[type_]) + ": not changed while spec.paused is true."
        return Check(type_, False, r.PENDING_WHILE_PAUSED, message)

    out = [pending_check(ch.type) if ch.type in pending and ch.ok is not False else ch for ch in checks]
    reported = {ch.type for ch in checks}
    return out + [pending_check(t) for t in pending if t not in reported]
