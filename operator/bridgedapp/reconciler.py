"""One reconcile pass for one BridgedApp: observe, build, apply what differs, report.

This is the domain logic the Kopf handlers delegate to (crate-operator's split). It reads through
`kube.Kube`, builds with the pure `builders`, and returns the status and the events to post; it never
imports Kopf, so it can be driven by any trigger: the BridgedApp itself, or a change of a Strimzi object,
a Secret or the app's Deployment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridgedapp import GROUP, KIND, MANAGED_BY_LABELS, OWNER_LABEL, PLURAL, VERSION, tenancy
from bridgedapp import conditions as c
from bridgedapp.builders import bridge, kafka, sidecar, topics, user
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.strimzi_readiness import WAITING, bootstrap_tls, readiness
from bridgedapp.conditions import Check
from bridgedapp.kube import NAMESPACE_TERMINATING, ApplyConflict, Kube, KubeError
from bridgedapp.models import BridgedAppSpec, parse_spec
from bridgedapp.observe import bridge_placement, injection_matches, is_subset, rollout
from bridgedapp.settings import Settings
from bridgedapp.strimzi import (
    StrimziEnsurer,
    StrimziInfo,
    StrimziUnavailable,
    not_watched_message,
)

log = logging.getLogger(__name__)

INSTALL_RECHECK_SECONDS = 5.0

APP_API = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Retry:
    """Look again in `after` seconds (Strimzi is not usable yet), saying why."""

    after: float
    reason: str
    is_wait: bool = False  # nothing failed, something is in progress (logged as news, not as an error)


@dataclass
class Outcome:
    """What a pass decided: the status to store (None: unchanged) and the events worth posting."""

    status: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    app: dict[str, Any] | None = None
    retry: Retry | None = None


@dataclass
class _Pass:
    """Facts gathered during one pass, consumed by the later steps."""

    app: dict[str, Any]
    spec: BridgedAppSpec
    checks: list[Check] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    strimzi: StrimziInfo | None = None
    kafka_ns: str = ""
    bootstrap: str | None = None
    kafka_ready: bool = False
    retry: Retry | None = None
    user_secret: dict[str, Any] | None = None
    ca_secret: dict[str, Any] | None = None
    config_hash: str | None = None
    kafka_obj: dict[str, Any] | None = None  # the Kafka as it is; None: absent, so nothing is made for it
    topic_objs: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # topic name -> KafkaTopic
    not_owner: bool = False  # another BridgedApp owns the Deployment's sidecar
    allowances: tenancy.Allowances | None = None  # read from the app's Namespace only when needed
    # paused: observe and report, write nothing; `pending` collects, per condition, what a write would change
    dry: bool = False
    pending: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.app["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.app["metadata"]["namespace"]

    @property
    def owner(self) -> str:
        return owner_value(self.namespace, self.name)

    def ok(self, type_: str) -> bool:
        return any(ch.type == type_ and ch.ok for ch in self.checks)


class Reconciler:
    """Drives BridgedApps towards their spec. One instance per operator process."""

    def __init__(self, kube: Kube, settings: Settings, ensurer: StrimziEnsurer | None = None) -> None:
        self.kube = kube
        self.settings = settings
        self.ensurer = ensurer or StrimziEnsurer(kube, settings)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._queued: set[tuple[str, str]] = set()  # apps with a claimed pass that has not started

    @contextmanager
    def _locked(self, namespace: str, name: str) -> Iterator[None]:
        """Passes for one BridgedApp never overlap, whichever watch triggered them."""
        with self._locks_guard:
            lock = self._locks.setdefault((namespace, name), threading.Lock())
        with lock:
            yield

    # ---- entry points -------------------------------------------------------------------------------

    def claim(self, namespace: str, name: str) -> bool:
        """Ask for a pass of this app because a related object changed; False when one is already queued.

        A queued pass has not read anything yet, so it will see this change too. Claims are taken as events
        arrive, before a worker thread is free: a restart's first listings of each watch otherwise ran one
        full pass per related object, about 8 per app.
        """
        with self._locks_guard:
            if (namespace, name) in self._queued:
                return False
            self._queued.add((namespace, name))
            return True

    def reconcile_claimed(self, namespace: str, name: str) -> Outcome | None:
        """The pass a successful `claim` asked for."""
        return self.reconcile_ref(namespace, name, claimed=True)

    def reconcile_ref(self, namespace: str, name: str, *, claimed: bool = False) -> Outcome | None:
        """Reconcile by reference (a related object changed); gone or deleting apps are left alone.

        The app is read *after* taking its lock: a pass that waited for another one must compare against
        the status that pass wrote, or it would write and announce the same transitions again.
        """
        with self._locked(namespace, name):
            if claimed:
                with self._locks_guard:
                    self._queued.discard((namespace, name))  # from here on, a change needs a pass of its own
            app = self.kube.get(APP_API, KIND, name, namespace)
            if app is None or app["metadata"].get("deletionTimestamp"):
                return None
            return self._reconcile(app)

    def reconcile(self, app: dict[str, Any]) -> Outcome | None:
        """Reconcile the app a BridgedApp event carried (read again under the lock, see reconcile_ref)."""
        return self.reconcile_ref(app["metadata"]["namespace"], app["metadata"]["name"])

    # ---- the pass ------------------------------------------------------------------------------------

    def _reconcile(self, app: dict[str, Any]) -> Outcome:
        meta, current = app["metadata"], app.get("status") or {}
        generation = meta.get("generation", 1)
        try:
            spec = parse_spec(app.get("spec") or {})
        except ValidationError as err:
            problem = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            check = Check(
                c.STRIMZI_READY, False, "InvalidSpec", f"{problem}. Fix the BridgedApp.", stalled=True
            )
            return self._finish(app, current, [check], generation, events=[])
        p = _Pass(app=app, spec=spec, dry=spec.paused)
        self._strimzi(p)
        if p.ok(c.STRIMZI_READY):
            self._kafka(p)
            if p.kafka_obj is not None:
                self._topics(p)
                self._user(p)
                self._sidecar(p)
            else:  # nothing is made for a Kafka that is not there; its watch brings the next pass
                p.checks += [c.waiting(t, "Kafka") for t in c.COMPONENTS[2:]]
        else:
            p.checks += [c.waiting(t, "Strimzi") for t in c.COMPONENTS[1:]]
        if p.dry:
            p.checks = _with_pending(p.checks, p.pending)
        extra = {
            "strimzi": _strimzi_status(p.strimzi),
            "kafka": {
                "cluster": f"{p.kafka_ns or spec.kafka_namespace(self.settings.strimzi_namespace)}/"
                f"{spec.kafka.cluster_name}",
                "bootstrapServers": p.bootstrap,
                "ready": p.kafka_ready,
            },
            "bridge": self._bridge_status(p, current),
        }
        extra["kafka"] = {k: v for k, v in extra["kafka"].items() if v is not None}
        status = c.build_status(current, p.checks, generation=generation, paused=spec.paused, extra=extra)
        outcome = self._outcome(app, current, status, p.events, paused=spec.paused)
        outcome.retry = p.retry
        return outcome

    def _finish(
        self,
        app: dict[str, Any],
        current: dict[str, Any],
        checks: list[Check],
        generation: int,
        events: list[Event],
    ) -> Outcome:
        status = c.build_status(current, checks, generation=generation, extra=_keep_extras(current))
        return self._outcome(app, current, status, events)

    def _outcome(
        self,
        app: dict[str, Any],
        current: dict[str, Any],
        status: dict[str, Any],
        events: list[Event],
        *,
        paused: bool = False,
    ) -> Outcome:
        was_paused = current.get("phase") == c.PHASE_PAUSED
        if paused and not was_paused:
            events.append(Event("Normal", c.PAUSED, f"{c.PAUSED_MESSAGE} Conditions keep being observed."))
        elif was_paused and not paused:
            events.append(
                Event("Normal", c.RESUMED, "spec.paused is false: the operator applies the spec again.")
            )
        for cond in [] if paused else c.transitions(current, status):
            # One event per component change; Ready only when it turns True (its failures repeat a component's).
            if cond["type"] in (c.RECONCILING, c.STALLED) or (
                cond["type"] == c.READY and cond["status"] != "True"
            ):
                continue
            if cond["status"] in ("True", "False"):
                kind = c.event_type(cond["status"], cond["reason"])
                events.append(Event(kind, cond["reason"], f"{cond['type']}: {cond['message']}"))
        if status == current:
            return Outcome(None, events, app)
        meta = app["metadata"]
        dropped = {key: None for key in current if key not in status}  # a merge patch keeps absent keys
        self.kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], {**status, **dropped})
        return Outcome(status, events, app)

    # ---- steps ---------------------------------------------------------------------------------------

    def _strimzi(self, p: _Pass) -> None:
        try:
            p.strimzi = self.ensurer.ensure(wait=False, install=not p.dry)
        except StrimziUnavailable as err:
            stalled = err.reason == "StrimziNotFound"
            p.checks.append(
                Check(c.STRIMZI_READY, False, err.reason, _sentence(err.message), stalled=stalled)
            )
            if not stalled:
                p.retry = Retry(
                    INSTALL_RECHECK_SECONDS, _sentence(err.message), is_wait=err.reason == "Installing"
                )
            return
        p.kafka_ns = p.spec.kafka_namespace(p.strimzi.namespace)
        if not p.strimzi.watches(p.kafka_ns):
            message = _sentence(not_watched_message(p.strimzi, p.kafka_ns))
            p.checks.append(Check(c.STRIMZI_READY, False, "NamespaceNotWatched", message, stalled=True))
            return
        how = "installed by bridgedapp" if p.strimzi.managed else "adopted"
        p.checks.append(
            Check(
                c.STRIMZI_READY,
                True,
                "StrimziReady",
                f"Strimzi {p.strimzi.version} in {p.strimzi.namespace} ({how}).",
            )
        )

    def _kafka(self, p: _Pass) -> None:
        assert p.strimzi is not None
        api, spec, ns = p.strimzi.api_version, p.spec, p.kafka_ns
        cluster = spec.kafka.cluster_name
        existing = self.kube.get(api, "Kafka", cluster, ns)
        notes = ""
        if existing is None:
            if not spec.kafka.create:
                p.checks.append(
                    Check(
                        c.KAFKA_READY,
                        False,
                        "KafkaNotFound",
                        f"Kafka {ns}/{cluster} does not exist and spec.kafka.create is false: create it or set "
                        "create: true.",
                        stalled=True,
                    )
                )
                return
            if not self.kube.namespace_exists(ns):
                p.checks.append(
                    Check(
                        c.KAFKA_READY,
                        False,
                        "NamespaceNotFound",
                        f"Namespace {ns} does not exist: create it or change spec.kafka.namespace.",
                        stalled=True,
                    )
                )
                return
            # Apps racing for a new cluster both apply it; the last one's `created-by` stands, and from then
            # on only that creator applies the Kafka and its pool (same field manager: no conflict).
            existing = self._create_owned(
                kafka.build_kafka(spec, namespace=ns, api_version=api, owner=p.owner), p, c.KAFKA_READY
            )
            if existing is None:
                return  # paused: not created; the pending note says so
            self._create_owned(
                kafka.build_node_pool(spec, namespace=ns, api_version=api, owner=p.owner), p, c.KAFKA_READY
            )
            had_one = (p.app.get("status") or {}).get("kafka", {}).get("bootstrapServers")
            p.events.append(
                self._kafka_recreated(p)
                if had_one
                else Event("Normal", "KafkaCreated", f"Created Kafka {ns}/{cluster} with its node pool.")
            )
        else:
            creator = kafka.creator(existing)
            if creator == p.owner:
                pool = kafka.build_node_pool(spec, namespace=ns, api_version=api, owner=p.owner)
                pool_now = self.kube.get(api, "KafkaNodePool", pool["metadata"]["name"], ns)
                self._apply_if_changed(pool, pool_now, p, c.KAFKA_READY)
                desired = kafka.build_kafka(spec, namespace=ns, api_version=api, owner=p.owner)
                existing = self._apply_if_changed(desired, existing, p, c.KAFKA_READY) or existing
            elif creator:
                differences = kafka.settings_differ(existing, spec)
                if differences:
                    notes = (
                        f" Shared with {creator}, whose settings govern it; this app asks for "
                        f"{'; '.join(differences)} (ignored)."
                    )
            else:
                notes = " Existing Kafka, not managed by bridgedapp: used as it is."
        p.kafka_obj = existing
        ok, reason, message = readiness(existing)
        p.kafka_ready = ok
        p.bootstrap = bootstrap_tls(existing) if existing else None
        previous = {x["type"]: x for x in (p.app.get("status") or {}).get("conditions", [])}
        if "(ignored)" in notes and notes not in previous.get(c.KAFKA_READY, {}).get("message", ""):
            p.events.append(Event("Warning", "KafkaSettingsIgnored", notes.strip()))
        label = f"Kafka {ns}/{cluster}"
        p.checks.append(
            Check(
                c.KAFKA_READY,
                ok,
                "KafkaReady" if ok else reason,
                (f"{label} is ready." if ok else f"{label}: {message}") + notes,
            )
        )

    def _kafka_recreated(self, p: _Pass) -> Event:
        """The Kafka this app used is gone and is made anew (a new CA, so every app on it rolls): a Warning
        naming who is affected, not a routine KafkaCreated."""
        assert p.strimzi is not None
        cluster = p.spec.kafka.cluster_name
        affected = sorted(
            f"{a['metadata']['namespace']}/{a['metadata']['name']}"
            for a in self.kube.list(APP_API, KIND)
            if self._uses(a, p.kafka_ns, cluster, p.strimzi.namespace)
        )
        return Event(
            "Warning",
            "KafkaRecreated",
            f"Kafka {p.kafka_ns}/{cluster} was deleted; it is created again with new certificates, so the pods "
            f"of every app on it roll: {', '.join(affected)}.",
        )

    def _topics(self, p: _Pass) -> None:
        """Create absent topics; keep the ones this app created in step with its spec; never touch others'."""
        assert p.strimzi is not None
        if not p.spec.topics:
            p.checks.append(Check(c.TOPICS_READY, True, "NoTopics", "spec.topics is empty."))
            return
        pending: list[str] = []
        problems: list[str] = []
        refused: list[str] = []
        failing = 0  # pending topics Strimzi reports a problem with (the others it has not reconciled yet)
        desired_topics = topics.build_topics(
            p.spec,
            namespace=p.kafka_ns,
            api_version=p.strimzi.api_version,
            owner=p.owner,
            owner_namespace=p.namespace,
        )
        for wanted, desired in zip(p.spec.topics, desired_topics, strict=True):
            meta = desired["metadata"]
            current = self.kube.get(desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"])
            if current is None:
                current = self._create_owned(desired, p, c.TOPICS_READY)
            p.topic_objs[wanted.name] = current
            if current is None:
                continue  # paused: not created; the pending note says so
            their_cluster = (current["metadata"].get("labels") or {}).get("strimzi.io/cluster")
            if their_cluster != meta["labels"]["strimzi.io/cluster"]:
                problems.append(f"KafkaTopic {meta['name']} belongs to cluster {their_cluster}")
                continue
            if (current["metadata"].get("labels") or {}).get(OWNER_LABEL) == meta["labels"][OWNER_LABEL]:
                desired, refusal = topics.keep_partitions(desired, current)
                if refusal:
                    refused.append(refusal)
                current = (
                    self._apply_if_changed(
                        desired, current, p, c.TOPICS_READY, same=topics.spec_matches, reclaim=True
                    )
                    or current
                )
            ok, reason, message = readiness(current)
            if not ok:
                pending.append(f"{meta['name']}: {message}")
                failing += reason != WAITING
        if problems:
            p.checks.append(
                Check(
                    c.TOPICS_READY,
                    False,
                    "TopicConflict",
                    "; ".join(problems) + ": rename the topic.",
                    stalled=True,
                )
            )
        elif refused:
            p.checks.append(
                Check(
                    c.TOPICS_READY, False, "PartitionDecreaseRefused", "; ".join(refused) + ".", stalled=True
                )
            )
        elif pending:
            reason = "TopicsNotReady" if failing else WAITING
            p.checks.append(Check(c.TOPICS_READY, False, reason, "; ".join(pending)))
        else:
            p.checks.append(
                Check(c.TOPICS_READY, True, "TopicsReady", f"{len(p.spec.topics)} topic(s) ready.")
            )

    def _allowances(self, p: _Pass) -> tenancy.Allowances:
        """What a cluster admin allows this namespace (its annotations), read once per pass and only when a
        request goes beyond the namespace's own topics and groups."""
        if p.allowances is None:
            p.allowances = tenancy.Allowances.of_namespace(
                self.kube.get("v1", "Namespace", p.namespace), single_tenant=self.settings.single_tenant
            )
        return p.allowances

    def _refusals(self, p: _Pass) -> tuple[set[str], bool, list[str]]:
        """(refused topics, group refused, one clause per refusal) under the many-teams policy."""
        own = tenancy.Allowances(everything=self.settings.single_tenant)
        refused_topics: set[str] = set()
        clauses: list[str] = []
        for topic in p.spec.topics:
            obj = p.topic_objs.get(topic.name)
            if tenancy.topic_refusal(topic.name, obj, app_namespace=p.namespace, allowances=own) is None:
                continue
            why = tenancy.topic_refusal(
                topic.name, obj, app_namespace=p.namespace, allowances=self._allowances(p)
            )
            if why is not None:
                refused_topics.add(topic.name)
                clauses.append(why)
        group_refused = False
        if p.spec.consumer_group and user.reads_any(p.spec, refused_topics):
            group = p.spec.consumer_group
            if tenancy.group_refusal(group, app_namespace=p.namespace, allowances=own) is not None:
                why = tenancy.group_refusal(group, app_namespace=p.namespace, allowances=self._allowances(p))
                if why is not None:
                    group_refused = True
                    clauses.append(why)
        return refused_topics, group_refused, clauses

    def _user(self, p: _Pass) -> None:
        assert p.strimzi is not None
        refused_topics, group_refused, refusals = self._refusals(p)
        desired = user.build_user(
            p.spec,
            app_name=p.name,
            app_namespace=p.namespace,
            namespace=p.kafka_ns,
            api_version=p.strimzi.api_version,
            refused_topics=refused_topics,
            group_refused=group_refused,
        )
        meta = desired["metadata"]
        current = self.kube.get(desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"])
        if (
            p.spec.consumer_group
            and not group_refused
            and (current is None or not is_subset(desired, current))
        ):
            self._warn_shared_group(p)
        current = self._apply_if_changed(desired, current, p, c.USER_READY, reclaim=True)
        if current is None:
            return
        ok, reason, message = readiness(current)
        if ok:
            p.user_secret = self.kube.get("v1", "Secret", meta["name"], meta["namespace"])
            p.ca_secret = self.kube.get(
                "v1", "Secret", kafka.cluster_ca_cert_name(p.spec.kafka.cluster_name), p.kafka_ns
            )
        if refusals:
            p.checks.append(
                Check(
                    c.USER_READY,
                    False,
                    "AccessNotAllowed",
                    f"KafkaUser {meta['name']} gets no ACLs for what is not allowed: "
                    + "; ".join(refusals)
                    + ".",
                    stalled=True,
                )
            )
            return
        p.checks.append(
            Check(
                c.USER_READY,
                ok,
                "UserReady" if ok else reason,
                f"KafkaUser {meta['namespace']}/{meta['name']} is ready."
                if ok
                else f"KafkaUser {meta['name']}: {message}",
            )
        )

    def _warn_shared_group(self, p: _Pass) -> None:
        """An explicit consumerGroup overlapping another app's on the same Kafka is legitimate only when both
        teams mean it: a Warning says so whenever this app's ACLs are (re)written. Defaults never overlap
        across namespaces, so only explicit groups pay for this listing."""
        assert p.strimzi is not None
        mine = user.group_prefix(p.spec, app_namespace=p.namespace, app_name=p.name)
        overlapping = []
        for other in self.kube.list(APP_API, KIND):
            meta = other["metadata"]
            if (meta["namespace"], meta["name"]) == (p.namespace, p.name) or meta.get("deletionTimestamp"):
                continue
            spec = _spec_or_none(other)
            if spec is None or not user.reads_any(spec):
                continue
            if not self._uses(other, p.kafka_ns, p.spec.kafka.cluster_name, p.strimzi.namespace):
                continue
            theirs = user.group_prefix(spec, app_namespace=meta["namespace"], app_name=meta["name"])
            if tenancy.groups_overlap(mine, theirs):
                overlapping.append(f"{meta['namespace']}/{meta['name']} ({theirs})")
        if overlapping:
            p.events.append(
                Event(
                    "Warning",
                    "ConsumerGroupShared",
                    f"Consumer-group prefix {mine} overlaps that of {', '.join(sorted(overlapping))}: these apps "
                    "can join each other's consumer groups. Set distinct spec.consumerGroup values unless that is "
                    "meant.",
                )
            )

    def _sidecar(self, p: _Pass) -> None:
        app, spec = p.app, p.spec
        deploy_name = spec.deployment_name
        previous = _prev_deploy(app.get("status") or {})
        if previous and previous != deploy_name and p.dry:
            p.pending.setdefault(c.SIDECAR_INJECTED, []).append(
                f"the bridge is still in Deployment {previous}"
            )
        elif previous and previous != deploy_name and self._release(app, previous):
            p.events.append(
                Event("Normal", "SidecarMoved", f"Removed the bridge from Deployment {previous}.")
            )
        deployment = self.kube.get("apps/v1", "Deployment", deploy_name, p.namespace)
        holder = sidecar.bridged_by(deployment) if deployment is not None else None
        if holder and holder != p.name and self.kube.get(APP_API, KIND, holder, p.namespace) is not None:
            p.not_owner = True
            p.checks.append(
                Check(
                    c.SIDECAR_INJECTED,
                    False,
                    c.DEPLOYMENT_ALREADY_BRIDGED,
                    f"Deployment {p.namespace}/{deploy_name} already has a bridge, owned by BridgedApp "
                    f"{p.namespace}/{holder}; a Deployment has one bridge owner: use that BridgedApp's bridge, or "
                    "point this one at another Deployment.",
                    stalled=True,
                )
            )
            p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
            return
        if deployment is not None and _is_ours(deployment):
            p.checks.append(
                Check(
                    c.SIDECAR_INJECTED,
                    False,
                    c.OPERATOR_OWNED_DEPLOYMENT,
                    f"Deployment {p.namespace}/{deploy_name} is managed by bridgedapp itself (for example the "
                    "Strimzi operator it installed) and never gets a bridge: name the app's own Deployment.",
                    stalled=True,
                )
            )
            p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
            return
        if p.user_secret is None or p.ca_secret is None or not p.bootstrap:
            waiting_on = "the KafkaUser's credentials" if p.bootstrap else "the Kafka's bootstrap address"
            for t in (c.SIDECAR_INJECTED, c.APP_AVAILABLE):
                p.checks.append(
                    Check(t, None, "WaitingForCredentials", f"Waiting for {waiting_on} from Strimzi.")
                )
            return
        config_map = bridge.build_config_map(app, spec, bootstrap=p.bootstrap)
        try:
            secret = bridge.build_credentials_secret(
                app, user_secret=p.user_secret, cluster_ca_secret=p.ca_secret
            )
        except bridge.CredentialsError as err:
            for t in (c.SIDECAR_INJECTED, c.APP_AVAILABLE):
                p.checks.append(
                    Check(t, None, "WaitingForCredentials", f"{err}; waiting for Strimzi to complete it.")
                )
            return
        for obj in (config_map, secret):
            current = self.kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], p.namespace)
            self._apply_if_changed(obj, current, p, c.SIDECAR_INJECTED, reclaim=True)
        p.config_hash = sidecar.compute_config_hash(config_map, secret)
        if deployment is None:
            p.checks.append(
                Check(
                    c.SIDECAR_INJECTED,
                    False,
                    "DeploymentNotFound",
                    f"Deployment {p.namespace}/{deploy_name} does not exist; it is injected as soon as it appears.",
                )
            )
            p.checks.append(c.waiting(c.APP_AVAILABLE, "Deployment"))
            return
        clashes = sidecar.app_container_conflicts(deployment)
        problems = sidecar.pod_conflicts(deployment, spec)
        if clashes or problems:
            reason = "NameConflict" if clashes else "PodConflict"
            message = (
                f"The app already has {', '.join(clashes)}: rename them so the bridge can be added."
                if clashes
                else "; ".join(problems).capitalize() + "."
            )
            p.checks.append(Check(c.SIDECAR_INJECTED, False, reason, message, stalled=True))
            p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
            return
        try:
            native = sidecar.use_native_sidecar(spec.bridge.native_sidecar, self.kube.server_version())
        except ValueError as err:
            p.checks.append(
                Check(c.SIDECAR_INJECTED, False, "NativeSidecarUnsupported", str(err), stalled=True)
            )
            p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
            return
        patch = sidecar.build_deployment_patch(
            deployment, app, spec, native=native, config_hash=p.config_hash
        )
        if not injection_matches(deployment, patch):
            if p.dry:
                p.pending.setdefault(c.SIDECAR_INJECTED, []).append(
                    f"Deployment {deploy_name} is not injected as the spec says"
                )
            else:
                try:
                    deployment = self.kube.apply(patch)
                    p.events.append(
                        Event(
                            "Normal", "SidecarInjected", f"Applied the kafka-bridge sidecar to {deploy_name}."
                        )
                    )
                except ApplyConflict as err:
                    p.checks.append(
                        Check(
                            c.SIDECAR_INJECTED,
                            False,
                            "Conflict",
                            f"{err}. The operator does not force: remove those fields from the other manager's "
                            "manifest.",
                            stalled=True,
                        )
                    )
                    p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
                    return
                except KubeError as err:
                    if not _refused(err):
                        raise
                    p.checks.append(_refused_check(c.SIDECAR_INJECTED, err))
                    p.checks.append(c.waiting(c.APP_AVAILABLE, "SidecarInjected"))
                    return
        ignored = bridge.ignored_client_options(spec)
        note = f" Ignored (set by the operator): {', '.join(ignored)}." if ignored else ""
        kind_word = "native sidecar (init container)" if native else "container"
        p.checks.append(
            Check(
                c.SIDECAR_INJECTED,
                True,
                "Injected",
                f"kafka-bridge runs as a {kind_word} in {deploy_name}.{note}",
            )
        )
        ok, reason, message = rollout(deployment, p.config_hash)
        p.checks.append(Check(c.APP_AVAILABLE, ok, reason, message))

    def _create_owned(self, desired: dict[str, Any], p: _Pass, condition: str) -> dict[str, Any] | None:
        """Create an object found absent, by server-side apply rather than POST; None while paused.

        A POST is recorded as an `Update` by our field manager, which server-side apply treats as another
        manager: our own later applies to the object would then conflict with our own create.
        """
        if p.dry:
            p.pending.setdefault(condition, []).append(f"{_describe(desired)} does not exist")
            return None
        return self.kube.apply(desired)

    def _apply_if_changed(
        self,
        desired: dict[str, Any],
        current: dict[str, Any] | None,
        p: _Pass,
        condition: str,
        *,
        same: Callable[[dict[str, Any], dict[str, Any]], bool] = is_subset,
        reclaim: bool = False,
    ) -> dict[str, Any] | None:
        """Apply `desired` unless `current` already holds it; the object as it now is, or None when it could
        not be written (and while paused, when it would have to change).

        The comparison makes an idle pass cost only reads. Another manager's fields on an object the operator
        alone owns (`reclaim`: its KafkaUser, credentials Secret, bridge ConfigMap, the topics it created) are
        taken back, with a Warning saying what was reverted: a hand-widened ACL must not stay in force. On
        anything else a conflict is a stalled condition, never a force. A write the API server refuses as
        invalid is a stalled condition too: only a change of the spec can fix it.
        """
        if current is not None and same(desired, current):
            return current
        if p.dry:
            state = "does not exist" if current is None else "differs from the spec"
            p.pending.setdefault(condition, []).append(f"{_describe(desired)} {state}")
            return current
        try:
            return self.kube.apply(desired)
        except ApplyConflict as err:
            if reclaim:
                p.events.append(
                    Event(
                        "Warning",
                        "Reverted",
                        f"{_describe(desired)} was changed by {', '.join(err.managers) or 'another manager'}; "
                        "the operator owns it and restored it.",
                    )
                )
                return self.kube.apply(desired, force=True)
            p.checks.append(
                Check(
                    condition,
                    False,
                    "Conflict",
                    f"{_describe(desired)}: {err}. The operator does not force; remove the conflicting fields "
                    "from the other manager.",
                    stalled=True,
                )
            )
            return None
        except KubeError as err:
            if not _refused(err):
                raise
            p.checks.append(_refused_check(condition, err))
            return None

    def _bridge_status(self, p: _Pass, current: dict[str, Any]) -> dict[str, Any] | None:
        if p.not_owner:
            return None  # never the owner of that sidecar: cleanup must not take it back
        if not p.ok(c.SIDECAR_INJECTED):
            return (
                (current.get("bridge") or None) if p.spec.deployment_name == _prev_deploy(current) else None
            )
        return {
            "deployment": p.spec.deployment_name,
            "url": f"http://localhost:{p.spec.bridge.http.port}",
            "image": p.spec.bridge.image,
            "configHash": p.config_hash,
        }

    # ---- deletion ------------------------------------------------------------------------------------

    def _release(self, app: dict[str, Any], deployment_name: str) -> bool:
        """Take this app's bridge out of a Deployment, only if this app owns it; True when it did.

        Owner: the Deployment's `bridged-by` annotation names this app; or (sidecars injected before the
        annotation existed) there is none, the Deployment carries a bridge and this app's status says it put
        it there. Removal applies an empty patch as the shared field manager, which releases every field that
        manager owns, so it must never run for a Deployment another BridgedApp owns.
        """
        meta = app["metadata"]
        deployment = self.kube.get("apps/v1", "Deployment", deployment_name, meta["namespace"])
        if deployment is None:
            return False
        holder = sidecar.bridged_by(deployment)
        legacy = (
            holder is None
            and bool(bridge_placement(deployment))
            and _prev_deploy(app.get("status") or {}) == deployment_name
        )
        if holder != meta["name"] and not legacy:
            return False
        self.kube.apply(sidecar.build_removal_patch(deployment))
        return True

    def cleanup(self, app: dict[str, Any]) -> list[Event]:
        """Undo what this app added; keep topics and data. Completes when things are already gone.

        Works from what the operator recorded (status) and the raw spec, so a spec that no longer validates
        still cleans up; and it touches a Deployment only when this app owns its sidecar.
        """
        meta, status = app["metadata"], app.get("status") or {}
        raw = app.get("spec") or {}
        events: list[Event] = []
        with self._locked(meta["namespace"], meta["name"]):
            self._mark_deleting(app)
            targets = {raw.get("deploymentName"), _prev_deploy(status)} - {None}
            for name in sorted(str(t) for t in targets if t):
                try:
                    removed = self._release(app, name)
                except KubeError as err:
                    if err.reason != NAMESPACE_TERMINATING:
                        raise
                    removed = False  # the Deployment goes with its namespace: nothing to take back
                if removed:
                    events.append(
                        Event("Normal", "SidecarRemoved", f"Removed the bridge from Deployment {name}.")
                    )
            for kind, name in (
                ("ConfigMap", bridge.bridge_config_name(meta["name"])),
                ("Secret", bridge.credentials_secret_name(meta["name"])),
            ):
                self.kube.delete("v1", kind, name, meta["namespace"])
            info = self.ensurer.find()
            if info is None:
                return events
            recorded = str((status.get("kafka") or {}).get("cluster") or "")
            kafka_ns = (
                recorded.split("/", 1)[0]
                if "/" in recorded
                else (raw.get("kafka") or {}).get("namespace") or info.namespace
            )
            if not self.kube.namespace_exists(kafka_ns):
                return events
            user_name = user.kafka_user_name(meta["namespace"], meta["name"])
            if self.kube.delete(info.api_version, "KafkaUser", user_name, kafka_ns):
                events.append(Event("Normal", "UserDeleted", f"Deleted KafkaUser {kafka_ns}/{user_name}."))
            spec = _spec_or_none(app)
            if spec is not None and spec.kafka.deletion_policy == "DeleteWhenUnused":
                events += self._delete_kafka_if_unused(app, spec, info, kafka_ns)
        return events

    def _mark_deleting(self, app: dict[str, Any]) -> None:
        """`phase: Deleting` (and Ready False) while the finalizer runs: `kubectl get ba` tells the truth."""
        meta, current = app["metadata"], app.get("status") or {}
        if current.get("phase") == c.PHASE_DELETING:
            return
        status = c.deleting_status(current, generation=meta.get("generation", 1))
        try:
            self.kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], status)
        except KubeError as err:  # gone already, or its namespace is going: the cleanup itself still runs
            log.debug("could not mark %s/%s as Deleting: %s", meta["namespace"], meta["name"], err)

    def _delete_kafka_if_unused(
        self, app: dict[str, Any], spec: BridgedAppSpec, info: StrimziInfo, kafka_ns: str
    ) -> list[Event]:
        cluster = spec.kafka.cluster_name
        existing = self.kube.get(info.api_version, "Kafka", cluster, kafka_ns)
        if existing is None or kafka.creator(existing) is None:
            return []
        users = [
            other
            for other in self.kube.list(APP_API, KIND)
            if other["metadata"]["uid"] != app["metadata"]["uid"]
            and not other["metadata"].get("deletionTimestamp")
            and self._uses(other, kafka_ns, cluster, info.namespace)
        ]
        if users:
            names = ", ".join(f"{u['metadata']['namespace']}/{u['metadata']['name']}" for u in users)
            return [Event("Normal", "KafkaKept", f"Kafka {kafka_ns}/{cluster} is still used by {names}.")]
        self.kube.delete(info.api_version, "Kafka", cluster, kafka_ns)
        self.kube.delete(info.api_version, "KafkaNodePool", kafka.node_pool_name(cluster), kafka_ns)
        return [
            Event("Normal", "KafkaDeleted", f"Deleted Kafka {kafka_ns}/{cluster}: no BridgedApp uses it.")
        ]

    @staticmethod
    def _uses(other: dict[str, Any], kafka_ns: str, cluster: str, strimzi_ns: str) -> bool:
        spec = _spec_or_none(other)
        return (
            spec is not None
            and spec.kafka.cluster_name == cluster
            and spec.kafka_namespace(strimzi_ns) == kafka_ns
        )


def _refused(err: KubeError) -> bool:
    """The API server refused the object itself (invalid, malformed): retrying the same write cannot help."""
    return err.status_code in (400, 422)


def _refused_check(condition: str, err: KubeError) -> Check:
    return Check(
        condition,
        False,
        c.REFUSED,
        f"The API server refused it: {err}. Fix the BridgedApp's spec.",
        stalled=True,
    )


def _is_ours(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in MANAGED_BY_LABELS.items())


def _spec_or_none(app: dict[str, Any]) -> BridgedAppSpec | None:
    try:
        return parse_spec(app.get("spec") or {})
    except ValidationError:
        return None


def _describe(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


def _with_pending(checks: list[Check], pending: dict[str, list[str]]) -> list[Check]:
    """While paused: a component whose objects would have to change reports so (False, in progress), unless
    it already reports a problem of its own."""

    def pending_check(type_: str) -> Check:
        message = "; ".join(pending[type_]) + ": not changed while spec.paused is true."
        return Check(type_, False, c.PENDING_WHILE_PAUSED, message)

    out = [pending_check(ch.type) if ch.type in pending and ch.ok is not False else ch for ch in checks]
    reported = {ch.type for ch in checks}
    return out + [pending_check(t) for t in pending if t not in reported]


def _sentence(message: str) -> str:
    return message if message.endswith(".") else f"{message}."


def _prev_deploy(status: dict[str, Any]) -> str | None:
    return (status.get("bridge") or {}).get("deployment")


def _keep_extras(current: dict[str, Any]) -> dict[str, Any]:
    return {k: current.get(k) for k in ("strimzi", "kafka", "bridge")}


def _strimzi_status(info: StrimziInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"namespace": info.namespace, "version": info.version, "managed": info.managed}


def references(app: dict[str, Any], strimzi_namespace: str) -> dict[tuple[str, ...], tuple[str, str]]:
    """Index keys under which related objects find this BridgedApp (for the Kopf index)."""
    meta = app["metadata"]
    ref = (meta["namespace"], meta["name"])
    try:
        spec = parse_spec(app.get("spec") or {})
    except ValidationError:
        return {}
    kafka_ns = spec.kafka_namespace(strimzi_namespace)
    keys: dict[tuple[str, ...], tuple[str, str]] = {
        ("Deployment", meta["namespace"], spec.deployment_name): ref,
        ("Kafka", kafka_ns, spec.kafka.cluster_name): ref,
        ("KafkaUser", kafka_ns, user.kafka_user_name(meta["namespace"], meta["name"])): ref,
        ("Owned", meta["namespace"], meta["name"]): ref,
        ("Namespace", meta["namespace"]): ref,  # a cluster admin's allowances live on it (tenancy.py)
    }
    for topic in spec.topics:  # every app using a topic follows it, whoever created it
        keys[("KafkaTopic", kafka_ns, topics.topic_object_name(topic.name))] = ref
    previous = _prev_deploy(app.get("status") or {})
    if previous:
        keys[("Deployment", meta["namespace"], previous)] = ref
    return keys


__all__ = ["APP_API", "PLURAL", "Event", "Outcome", "Reconciler", "references"]
