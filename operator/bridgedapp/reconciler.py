"""One reconcile pass for one BridgedApp: observe, build, apply what differs, report.

This is the domain logic the Kopf handlers delegate to (crate-operator's split). It reads through
`kube.Kube`, builds with the pure `builders`, and returns the status and the events to post; it never
imports Kopf, so it can be driven by any trigger: the BridgedApp itself, or a change of a Strimzi object,
a Secret or the app's Deployment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridgedapp import GROUP, KIND, PLURAL, VERSION
from bridgedapp import conditions as c
from bridgedapp.builders import bridge, kafka, sidecar, topics, user
from bridgedapp.builders.common import owner_value
from bridgedapp.builders.strimzi_readiness import WAITING, bootstrap_tls, readiness
from bridgedapp.conditions import Check
from bridgedapp.kube import NAMESPACE_TERMINATING, ApplyConflict, Kube, KubeError
from bridgedapp.models import BridgedAppSpec, parse_spec
from bridgedapp.observe import injection_matches, is_subset, rollout
from bridgedapp.settings import Settings
from bridgedapp.strimzi import (
    StrimziEnsurer,
    StrimziInfo,
    StrimziUnavailable,
    find_strimzi,
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
        p = _Pass(app=app, spec=spec)
        if spec.paused:
            status = c.build_status(
                current, [], generation=generation, paused=True, extra=_keep_extras(current)
            )
            return self._outcome(app, current, status, [])
        self._strimzi(p)
        if p.ok(c.STRIMZI_READY):
            self._kafka(p)
            self._topics(p)
            self._user(p)
            self._sidecar(p)
        else:
            p.checks += [c.waiting(t, "Strimzi") for t in c.COMPONENTS[1:]]
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
        status = c.build_status(current, p.checks, generation=generation, extra=extra)
        outcome = self._outcome(app, current, status, p.events)
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
        self, app: dict[str, Any], current: dict[str, Any], status: dict[str, Any], events: list[Event]
    ) -> Outcome:
        for cond in c.transitions(current, status):
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
        self.kube.patch_status(APP_API, KIND, meta["name"], meta["namespace"], status)
        return Outcome(status, events, app)

    # ---- steps ---------------------------------------------------------------------------------------

    def _strimzi(self, p: _Pass) -> None:
        try:
            p.strimzi = self.ensurer.ensure(wait=False)
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
                kafka.build_kafka(spec, namespace=ns, api_version=api, owner=p.owner)
            )
            self._create_owned(kafka.build_node_pool(spec, namespace=ns, api_version=api, owner=p.owner))
            p.events.append(
                Event("Normal", "KafkaCreated", f"Created Kafka {ns}/{cluster} with its node pool.")
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

    def _topics(self, p: _Pass) -> None:
        assert p.strimzi is not None
        if not p.spec.topics:
            p.checks.append(Check(c.TOPICS_READY, True, "NoTopics", "spec.topics is empty."))
            return
        pending: list[str] = []
        problems: list[str] = []
        failing = 0  # pending topics Strimzi reports a problem with (the others it has not reconciled yet)
        for desired in topics.build_topics(
            p.spec, namespace=p.kafka_ns, api_version=p.strimzi.api_version, owner=p.owner
        ):
            meta = desired["metadata"]
            current = self.kube.get(desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"])
            if current is None:
                current = self._create_owned(desired)
            their_cluster = (current["metadata"].get("labels") or {}).get("strimzi.io/cluster")
            if their_cluster != meta["labels"]["strimzi.io/cluster"]:
                problems.append(f"KafkaTopic {meta['name']} belongs to cluster {their_cluster}")
                continue
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
        elif pending:
            reason = "TopicsNotReady" if failing else WAITING
            p.checks.append(Check(c.TOPICS_READY, False, reason, "; ".join(pending)))
        else:
            p.checks.append(
                Check(c.TOPICS_READY, True, "TopicsReady", f"{len(p.spec.topics)} topic(s) ready.")
            )

    def _user(self, p: _Pass) -> None:
        assert p.strimzi is not None
        desired = user.build_user(
            p.spec,
            app_name=p.name,
            app_namespace=p.namespace,
            namespace=p.kafka_ns,
            api_version=p.strimzi.api_version,
        )
        meta = desired["metadata"]
        current = self.kube.get(desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"])
        current = self._apply_if_changed(desired, current, p, c.USER_READY)
        if current is None:
            return
        ok, reason, message = readiness(current)
        if ok:
            p.user_secret = self.kube.get("v1", "Secret", meta["name"], meta["namespace"])
            p.ca_secret = self.kube.get(
                "v1", "Secret", f"{p.spec.kafka.cluster_name}-cluster-ca-cert", p.kafka_ns
            )
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

    def _sidecar(self, p: _Pass) -> None:
        app, spec = p.app, p.spec
        deploy_name = spec.deployment_name
        previous = ((app.get("status") or {}).get("bridge") or {}).get("deployment")
        if previous and previous != deploy_name:
            self._remove_injection(p.namespace, previous)
            p.events.append(
                Event("Normal", "SidecarMoved", f"Removed the bridge from Deployment {previous}.")
            )
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
            self._apply_if_changed(obj, current, p, c.SIDECAR_INJECTED)
        p.config_hash = sidecar.compute_config_hash(config_map, secret)
        deployment = self.kube.get("apps/v1", "Deployment", deploy_name, p.namespace)
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
            try:
                deployment = self.kube.apply(patch)
                p.events.append(
                    Event("Normal", "SidecarInjected", f"Applied the kafka-bridge sidecar to {deploy_name}.")
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

    def _create_owned(self, desired: dict[str, Any]) -> dict[str, Any]:
        """Create an object found absent, by server-side apply rather than POST.

        A POST is recorded as an `Update` by our field manager, which server-side apply treats as another
        manager: our own later applies to the object would then conflict with our own create.
        """
        return self.kube.apply(desired)

    def _apply_if_changed(
        self, desired: dict[str, Any], current: dict[str, Any] | None, p: _Pass, condition: str
    ) -> dict[str, Any] | None:
        """Apply `desired` unless `current` already holds it; the object as it now is, or None on conflict.

        The comparison makes an idle pass cost only reads; a conflict becomes a stalled condition.
        """
        if current is not None and is_subset(desired, current):
            return current
        try:
            return self.kube.apply(desired)
        except ApplyConflict as err:
            meta = desired["metadata"]
            p.checks.append(
                Check(
                    condition,
                    False,
                    "Conflict",
                    f"{desired['kind']} {meta.get('namespace', '')}/{meta['name']}: {err}. The operator does not "
                    "force; remove the conflicting fields from the other manager.",
                    stalled=True,
                )
            )
            return None

    def _bridge_status(self, p: _Pass, current: dict[str, Any]) -> dict[str, Any] | None:
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

    def _remove_injection(self, namespace: str, deployment_name: str) -> bool:
        deployment = self.kube.get("apps/v1", "Deployment", deployment_name, namespace)
        if deployment is None:
            return False
        self.kube.apply(sidecar.build_removal_patch(deployment))
        return True

    def cleanup(self, app: dict[str, Any]) -> list[Event]:
        """Undo what this app added; keep topics and data. Completes when things are already gone."""
        meta = app["metadata"]
        events: list[Event] = []
        with self._locked(meta["namespace"], meta["name"]):
            try:
                spec = parse_spec(app.get("spec") or {})
            except ValidationError:
                return events
            targets = {spec.deployment_name, _prev_deploy(app.get("status") or {})} - {None}
            for name in sorted(t for t in targets if t):
                try:
                    removed = self._remove_injection(meta["namespace"], name)
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
            info = find_strimzi(self.kube, prefer_namespace=self.settings.strimzi_namespace)
            if info is None:
                return events
            kafka_ns = spec.kafka_namespace(info.namespace)
            if not self.kube.namespace_exists(kafka_ns):
                return events
            user_name = user.kafka_user_name(meta["namespace"], meta["name"])
            if self.kube.delete(info.api_version, "KafkaUser", user_name, kafka_ns):
                events.append(Event("Normal", "UserDeleted", f"Deleted KafkaUser {kafka_ns}/{user_name}."))
            if spec.kafka.deletion_policy == "DeleteWhenUnused":
                events += self._delete_kafka_if_unused(app, spec, info, kafka_ns)
        return events

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
        try:
            spec = parse_spec(other.get("spec") or {})
        except ValidationError:
            return False
        return spec.kafka.cluster_name == cluster and spec.kafka_namespace(strimzi_ns) == kafka_ns


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
        ("Owner", owner_value(meta["namespace"], meta["name"])): ref,
    }
    previous = _prev_deploy(app.get("status") or {})
    if previous:
        keys[("Deployment", meta["namespace"], previous)] = ref
    return keys


__all__ = ["APP_API", "PLURAL", "Event", "Outcome", "Reconciler", "references"]
