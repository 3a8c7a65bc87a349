"""Find, adopt or install Strimzi: the operator needs exactly one, and must never fight someone else's.

An existing Strimzi (its CRDs plus a cluster-operator Deployment) is adopted and only ever read. When none
exists and the settings allow it, the official install bundle is applied server-side in dependency order,
every object labelled as ours. A partial installation that is not ours (CRDs without an operator, or an
operator without CRDs) is reported, never installed over: applying our bundle would overwrite another
installation's CRDs. A partial installation that *is* ours (an install cut short) is simply resumed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bridgedapp import INSTALL_FIELD_MANAGER, MANAGED_BY_LABELS
from bridgedapp import reasons as r
from bridgedapp.builders.kafka import API_V1, API_V1BETA2, STRIMZI_GROUP
from bridgedapp.kube import Kube, KubeError, KubeTimeout
from bridgedapp.settings import Settings

log = logging.getLogger(__name__)

GROUP = STRIMZI_GROUP
CRD_API = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"
# The CRDs the operator writes objects of; without any of them Strimzi is not usable for us.
REQUIRED_CRDS = (
    f"kafkas.{GROUP}",
    f"kafkanodepools.{GROUP}",
    f"kafkatopics.{GROUP}",
    f"kafkausers.{GROUP}",
)
OPERATOR_LABEL = "strimzi.io/kind"
OPERATOR_LABEL_VALUE = "cluster-operator"
OPERATOR_CONTAINER = "strimzi-cluster-operator"
PLACEHOLDER_NAMESPACE = "myproject"  # what the official bundle's RoleBinding subjects say
FETCH_TIMEOUT = 60.0

# Kinds of the bundle that are not namespaced (everything else gets the install namespace).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# Dependency order: what a later object refers to exists first.
APPLY_ORDER = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 2,
    "ClusterRole": 2,
    "Role": 2,
    "ClusterRoleBinding": 3,
    "RoleBinding": 3,
    "ConfigMap": 4,
    "Secret": 4,
    "Service": 4,
    "Deployment": 6,
}
OTHER_ORDER = 5

Obj = dict[str, Any]
Progress = Callable[[str], None]


class StrimziUnavailable(Exception):
    """No usable Strimzi: `reason` is a CamelCase condition reason, `message` says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class BundleError(Exception):
    """The install bundle could not be read or is not a Strimzi cluster-operator bundle."""


@dataclass(frozen=True)
class StrimziInfo:
    """The Strimzi this operator uses, as read from the cluster."""

    namespace: str
    version: str
    managed: bool  # True: installed by this operator; False: adopted, never modified
    api_version: str  # kafka.strimzi.io/v1, or v1beta2 where only that is served (Strimzi 0.45-0.48)
    watched_namespaces: list[str] | Literal["*"]
    deployment: str = OPERATOR_CONTAINER
    available: bool = True
    uid: str = field(default="", repr=False, compare=False)

    def watches(self, namespace: str) -> bool:
        return self.watched_namespaces == "*" or namespace in self.watched_namespaces


def namespace_watched(info: StrimziInfo, namespace: str) -> bool:
    """Does this Strimzi reconcile Kafka resources in `namespace`? (else: NamespaceNotWatched)"""
    return info.watches(namespace)


def not_watched_message(info: StrimziInfo, namespace: str) -> str:
    """One sentence for the NamespaceNotWatched condition."""
    watched = "every namespace" if info.watched_namespaces == "*" else ", ".join(info.watched_namespaces)
    return (
        f"Strimzi {info.version} in {info.namespace} watches only {watched}, not {namespace}: add "
        f"{namespace} to STRIMZI_NAMESPACE of Deployment {info.namespace}/{info.deployment} (with the "
        f"RoleBindings Strimzi documents), or use a Kafka in a watched namespace"
    )


# --- reading an installation ------------------------------------------------------------------------------


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _is_ours(obj: Obj) -> bool:
    return all(_labels(obj).get(k) == v for k, v in MANAGED_BY_LABELS.items())


def _is_cluster_operator(deployment: Obj) -> bool:
    """The bundle labels the pod template (not the Deployment itself) strimzi.io/kind=cluster-operator."""
    template_labels = ((deployment.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels")
    return OPERATOR_LABEL_VALUE in (
        _labels(deployment).get(OPERATOR_LABEL),
        (template_labels or {}).get(OPERATOR_LABEL),
    )


def _operator_container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"].get("containers") or [{}]
    return next((c for c in containers if c.get("name") == OPERATOR_CONTAINER), containers[0])


_VERSION = r"\d+\.\d+\.\d+(?:-rc\d+)?"


def _version_of(deployment: Obj) -> str:
    """Strimzi's version: the operator image tag (quay.io/strimzi/operator:1.2.0), else what else says it."""
    container = _operator_container(deployment)
    image = str(container.get("image", "")).split("@", 1)[0]
    if match := re.search(rf":({_VERSION})$", image):
        return match.group(1)
    if version := _labels(deployment).get("app.kubernetes.io/version"):
        return version
    for env in container.get("env") or []:
        # e.g. STRIMZI_KAFKA_IMAGES: "4.3.1=quay.io/strimzi/kafka:1.2.0-kafka-4.3.1"
        if match := re.search(rf":({_VERSION})-kafka-", str(env.get("value", ""))):
            return match.group(1)
    return "unknown"


def _watched_namespaces(deployment: Obj) -> list[str] | Literal["*"]:
    """STRIMZI_NAMESPACE: a list, `*`, or (the bundle's default) a fieldRef to the operator's own namespace."""
    own = deployment["metadata"]["namespace"]
    env = {e.get("name"): e for e in _operator_container(deployment).get("env") or []}
    entry = env.get("STRIMZI_NAMESPACE")
    if entry is None or "value" not in entry:
        return [own]
    names = [n.strip() for n in str(entry["value"]).split(",") if n.strip()]
    if "*" in names:
        return "*"
    return names or [own]


def _condition_true(obj: Obj | None, kind: str) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _established(crd: Obj | None) -> bool:
    return _condition_true(crd, "Established")


def _deployment_available(deployment: Obj | None) -> bool:
    if not deployment:
        return False
    observed = (deployment.get("status") or {}).get("observedGeneration", 0)
    return observed >= deployment["metadata"].get("generation", 1) and _condition_true(
        deployment, "Available"
    )


def _kafka_api_version(kube: Kube) -> str:
    return API_V1 if "v1" in kube.served_versions(GROUP, refresh=True) else API_V1BETA2


def info_from_deployment(kube: Kube, deployment: Obj) -> StrimziInfo:
    """Everything the operator needs to know about a Strimzi, read from its cluster-operator Deployment."""
    meta = deployment["metadata"]
    return StrimziInfo(
        namespace=meta["namespace"],
        version=_version_of(deployment),
        managed=_is_ours(deployment),
        api_version=_kafka_api_version(kube),
        watched_namespaces=_watched_namespaces(deployment),
        deployment=meta["name"],
        available=_deployment_available(deployment),
        uid=meta.get("uid", ""),
    )


def find_strimzi(
    kube: Kube, *, prefer_namespace: str | None = None, only_namespace: str | None = None
) -> StrimziInfo | None:
    """The Strimzi on this cluster, None if there is none (or only an install of ours cut short).

    `only_namespace` looks for its Deployment there alone: an operator watching named namespaces holds no
    right to list Deployments cluster-wide.

    Raises StrimziUnavailable(StrimziIncomplete) for someone else's partial installation.
    """
    crds = {name: kube.get(CRD_API, CRD_KIND, name) for name in REQUIRED_CRDS}
    present = [name for name, crd in crds.items() if crd is not None]
    missing = [name for name, crd in crds.items() if crd is None]
    operators = sorted(
        (d for d in kube.list("apps/v1", "Deployment", namespace=only_namespace) if _is_cluster_operator(d)),
        key=lambda d: (d["metadata"]["namespace"] != prefer_namespace, d["metadata"]["namespace"]),
    )
    if operators and not missing:
        return info_from_deployment(kube, operators[0])
    if not operators and not present:
        return None
    if all(_is_ours(o) for o in [*operators, *(crds[n] for n in present)]):
        log.info("found an unfinished Strimzi installation of our own; it will be completed")
        return None
    if not operators:
        raise StrimziUnavailable(
            r.STRIMZI_INCOMPLETE,
            f"Strimzi CRDs exist ({', '.join(present)}) but no Strimzi cluster operator Deployment "
            f"(pods labelled {OPERATOR_LABEL}={OPERATOR_LABEL_VALUE}) runs in any namespace, and bridgedapp "
            "does not install over another installation: finish or repair that Strimzi installation, or "
            "delete its CRDs to let bridgedapp install Strimzi",
        )
    op = operators[0]["metadata"]
    raise StrimziUnavailable(
        r.STRIMZI_INCOMPLETE,
        f"the Strimzi cluster operator {op['namespace']}/{op['name']} runs but the CRDs "
        f"{', '.join(missing)} are missing: install the CRDs of Strimzi {_version_of(operators[0])}",
    )


# --- the install bundle ----------------------------------------------------------------------------------


def _read_source(source: str) -> str:
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT) as response:
                return response.read().decode("utf-8")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BundleError(
                f"cannot download the Strimzi install bundle from {source} ({reason}): on a cluster "
                "without internet access set BRIDGEDAPP_STRIMZI_MANIFEST to a local copy of it"
            ) from exc
    path = Path(source.removeprefix("file://"))
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(
            f"cannot read the Strimzi install bundle {path} ({exc.strerror or exc}): set "
            "BRIDGEDAPP_STRIMZI_MANIFEST to the path or URL of strimzi-cluster-operator-<version>.yaml"
        ) from exc


def _order(obj: Obj) -> int:
    return APPLY_ORDER.get(obj["kind"], OTHER_ORDER)


def load_bundle(source: str, *, namespace: str) -> list[Obj]:
    """The bundle's objects, ready to apply into `namespace`, in dependency order, labelled as ours."""
    text = _read_source(source)
    try:
        # libyaml's safe loader where built in: the bundle is 800 kB of CRDs, 5 s to parse in pure Python on a
        # busy machine, and a re-install after the operator's Deployment was deleted waits for it.
        docs = [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
    except yaml.YAMLError as exc:
        raise BundleError(f"the Strimzi install bundle {source} is not valid YAML: {exc}") from exc
    objects: list[Obj] = []
    for doc in docs:
        items = doc.get("items", []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for obj in items:
            if not isinstance(obj, dict) or not all(k in obj for k in ("apiVersion", "kind", "metadata")):
                raise BundleError(
                    f"the Strimzi install bundle {source} holds a document that is not an object"
                )
            objects.append(obj)
    if not any(o["kind"] == "Deployment" and _is_cluster_operator(o) for o in objects):
        raise BundleError(
            f"{source} is not a Strimzi cluster-operator bundle: it has no Deployment labelled "
            f"{OPERATOR_LABEL}={OPERATOR_LABEL_VALUE}"
        )
    for obj in objects:
        meta = obj["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), **MANAGED_BY_LABELS}
        if obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects") or []:
                if subject.get("namespace") == PLACEHOLDER_NAMESPACE:
                    subject["namespace"] = namespace
    return sorted(objects, key=_order)  # stable: the bundle's own order within a rank


def _name(obj: Obj) -> str:
    return obj["metadata"]["name"]


def install_strimzi(kube: Kube, settings: Settings, *, progress: Progress) -> StrimziInfo:
    """Apply the bundle into settings.strimzi_namespace and wait until its operator is Available."""
    namespace = settings.strimzi_namespace
    source = settings.manifest_source()
    objects = load_bundle(source, namespace=namespace)
    operator = next(o for o in objects if o["kind"] == "Deployment" and _is_cluster_operator(o))
    version = _version_of(operator)
    deadline = time.monotonic() + settings.install_timeout

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    log.info("installing Strimzi %s from %s into namespace %s", version, source, namespace)
    if not kube.namespace_exists(namespace):
        kube.create_if_absent(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": MANAGED_BY_LABELS},
            },
            field_manager=INSTALL_FIELD_MANAGER,
        )
    crds = [o for o in objects if o["kind"] == CRD_KIND]
    rest = [o for o in objects if o["kind"] != CRD_KIND]
    total = len(objects)
    applied = 0
    for obj in crds:
        kube.apply(obj, field_manager=INSTALL_FIELD_MANAGER)
        applied += 1
        progress(f"installing Strimzi {version} into {namespace}: {applied}/{total} objects applied")
    progress("waiting for CRDs Established")
    for crd in crds:
        kube.wait_for(
            CRD_API,
            CRD_KIND,
            _name(crd),
            None,
            _established,
            timeout=remaining(),
            describe=f"CRD {_name(crd)} Established",
        )
    for obj in rest:
        kube.apply(obj, field_manager=INSTALL_FIELD_MANAGER)
        applied += 1
        progress(f"installing Strimzi {version} into {namespace}: {applied}/{total} objects applied")
    progress(f"waiting for {_name(operator)} Available")
    deployment = kube.wait_for(
        "apps/v1",
        "Deployment",
        _name(operator),
        namespace,
        _deployment_available,
        timeout=remaining(),
        describe=f"Deployment {namespace}/{_name(operator)} Available",
    )
    assert deployment is not None  # the predicate only accepts an existing Deployment
    info = info_from_deployment(kube, deployment)
    progress(f"Strimzi {info.version} installed into {namespace}")
    return info


# --- one install, however many ask ----------------------------------------------------------------------


class StrimziEnsurer:
    """The operator's single source of a usable Strimzi: finds or adopts it, or installs it exactly once.

    Thread-safe, and no caller ever waits for another's request: the lock guards only what the ensurer
    knows, never I/O. A found Strimzi is cached, and a watch of its operator Deployment (a background
    thread, one long request at rest) keeps its availability current and notices it deleted or replaced,
    so a pass (wait=False) answers from memory. Callers that wait (wait=True: start-up, tools) re-read the
    Deployment themselves first. Until one is cached, each caller looks for itself (in parallel, never in
    turn). An install runs in a background thread; callers either wait for it (wait=True) or get
    StrimziUnavailable(Installing) at once (wait=False, what a handler wants: retry later instead of holding
    a worker thread for minutes). When the watch sees the operator Deployment of our own install deleted, it
    starts the same single install itself, at once. A failed install is not retried for `failure_backoff` seconds,
    so a burst of BridgedApps cannot turn into a burst of installs.
    """

    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        *,
        progress: Progress | None = None,
        failure_backoff: float = 30.0,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.failure_backoff = failure_backoff
        self.installs = 0  # installs this ensurer started
        self.finds = 0  # searches of the cluster (find()), for tests and the benchmark
        self.last_progress = ""
        self._progress_callback = progress
        self._lock = threading.Lock()
        self._info: StrimziInfo | None = None
        self._available = False  # the cached operator Deployment's availability, as the watch last saw it
        self._install_done: threading.Event | None = None
        self._failure: StrimziUnavailable | None = None
        self._failed_at = 0.0
        self._watching: tuple[str, str] | None = None  # (namespace, name) the watch thread follows
        self._stop = threading.Event()

    def state(self) -> str:
        """What the metrics report, from what this ensurer knows (no request): unknown, installing, failed,
        installed (by this operator) or adopted."""
        with self._lock:
            if self._install_done is not None:
                return "installing"
            if self._info is not None:
                return "installed" if self._info.managed else "adopted"
            return "failed" if self._failure is not None else "unknown"

    def find(self) -> StrimziInfo | None:
        """find_strimzi as the settings allow: an operator watching named namespaces may list Deployments only
        in Strimzi's own namespace (the namespaced RBAC profile grants nothing cluster-wide)."""
        with self._lock:
            self.finds += 1
        return find_strimzi(
            self.kube,
            prefer_namespace=self.settings.strimzi_namespace,
            only_namespace=self.settings.strimzi_namespace if self.settings.namespaces else None,
        )

    def close(self) -> None:
        """Stop the watch thread (it ends at its next event or reconnect)."""
        self._stop.set()

    def ensure(self, *, wait: bool = True, install: bool = True) -> StrimziInfo:
        """A usable Strimzi, or StrimziUnavailable saying why not and what to do.

        install=False only looks (a paused BridgedApp changes nothing, not even by installing Strimzi).
        """
        deadline = time.monotonic() + self.settings.install_timeout + 60
        while True:
            with self._lock:
                done, cached, available = self._install_done, self._info, self._available
            if done is None:
                if cached is not None and wait:
                    cached, available = self._recheck(cached)
                if cached is not None:
                    return self._usable(cached, available)
                info = self._look(install=install)
                if info is not None:
                    return info
                with self._lock:
                    done = self._install_done
                if done is None:  # the install already ended (or failed): look again
                    continue
            installing = StrimziUnavailable(
                r.INSTALLING,
                f"Strimzi {self.settings.strimzi_version} is being installed into "
                f"{self.settings.strimzi_namespace} ({self.last_progress}); this resolves by itself",
            )
            if not wait or not done.wait(max(0.0, deadline - time.monotonic())):
                raise installing

    def _recheck(self, cached: StrimziInfo) -> tuple[StrimziInfo | None, bool]:
        """One GET of the cached operator Deployment, for a caller that waits anyway: still there, same uid?"""
        deployment = self.kube.get("apps/v1", "Deployment", cached.deployment, cached.namespace)
        if deployment is not None and deployment["metadata"].get("uid") == cached.uid:
            available = _deployment_available(deployment)
            with self._lock:
                if self._info is cached:
                    self._available = available
            return cached, available
        self._forget(cached)
        return None, False

    def _forget(self, cached: StrimziInfo) -> bool:
        """Drop the cached Strimzi if it is still `cached`; True when this call dropped it."""
        with self._lock:
            if self._info is not cached:
                return False
            self._info = None
        log.info("Strimzi operator %s/%s is gone; looking again", cached.namespace, cached.deployment)
        return True

    def _look(self, *, install: bool) -> StrimziInfo | None:
        """Search the cluster (without the lock); cache what is found, or start the one install.

        None when an install is under way (started here or by another caller)."""
        with self._lock:
            if self._failure is not None and time.monotonic() - self._failed_at < self.failure_backoff:
                raise self._failure
        info = self.find()
        with self._lock:
            if self._install_done is not None:
                return None
            if info is not None:
                if self._info is None or self._info.uid != info.uid:
                    self._info, self._available = info, info.available
                    self._follow_locked(info)
                    log.info(
                        "using Strimzi %s in %s (%s)",
                        info.version,
                        info.namespace,
                        "ours" if info.managed else "adopted",
                    )
                return self._usable(self._info, self._available)
            if not install:
                raise StrimziUnavailable(
                    r.STRIMZI_NOT_FOUND, "no Strimzi found; it is not installed while spec.paused is true"
                )
            if self.settings.strimzi_install == "never":
                raise StrimziUnavailable(
                    r.STRIMZI_NOT_FOUND,
                    "no Strimzi found (CRDs kafkas.kafka.strimzi.io and a Deployment with pods labelled "
                    f"{OPERATOR_LABEL}={OPERATOR_LABEL_VALUE}) and BRIDGEDAPP_STRIMZI_INSTALL=never: install "
                    "Strimzi, or set BRIDGEDAPP_STRIMZI_INSTALL=auto to let bridgedapp install it",
                )
            self._start_install_locked()
        threading.Thread(target=self._install, name="strimzi-install", daemon=True).start()
        return None

    def _follow_locked(self, info: StrimziInfo) -> None:
        """Start the watch of `info`'s operator Deployment, unless one follows it already. Lock held."""
        target = (info.namespace, info.deployment)
        if self._watching == target or self._stop.is_set():
            return
        self._watching = target
        threading.Thread(target=self._watch, args=(target,), name="strimzi-watch", daemon=True).start()

    def _watch(self, target: tuple[str, str]) -> None:
        """Keep the cached Strimzi current from its Deployment's watch events (see the class docstring)."""
        namespace, name = target
        try:
            for present, deployment in self.kube.follow(
                "apps/v1", "Deployment", name, namespace, stop=self._stop
            ):
                with self._lock:
                    cached = self._info
                    if self._watching != target:
                        return
                if cached is None or (cached.namespace, cached.deployment) != target:
                    continue  # nothing cached for this Deployment (e.g. being installed again)
                uid = (deployment or {}).get("metadata", {}).get("uid")
                if present and uid == cached.uid:
                    assert deployment is not None
                    with self._lock:
                        if self._info is cached:
                            self._available = _deployment_available(deployment)
                elif not present and deployment is not None and uid != cached.uid:
                    continue  # the deletion of an older one, reported late
                elif not present and cached.managed:
                    self._reinstall(cached)
                else:
                    self._forget(cached)  # replaced, or someone else's deleted: the next pass looks again
        finally:
            with self._lock:
                if self._watching == target:
                    self._watching = None

    def _reinstall(self, cached: StrimziInfo) -> None:
        """Our install's operator Deployment was deleted: install again at once, as the next pass would have
        (without searching first: passes arriving meanwhile get Installing instead of a search each)."""
        with self._lock:
            if self._info is not cached or self._install_done is not None:
                return
            self._info = None
            if self.settings.strimzi_install == "never":
                return
            self._start_install_locked()
        log.info(
            "Strimzi operator %s/%s of our install was deleted; installing again",
            cached.namespace,
            cached.deployment,
        )
        threading.Thread(target=self._install, name="strimzi-install", daemon=True).start()

    def _start_install_locked(self) -> None:
        """Mark the one install as under way (callers then get Installing). Lock held; the caller starts it."""
        self._install_done = threading.Event()
        self.installs += 1
        self.last_progress = "starting"

    def _usable(self, info: StrimziInfo, available: bool) -> StrimziInfo:
        if not available:
            raise StrimziUnavailable(
                r.STRIMZI_NOT_AVAILABLE,
                f"the Strimzi cluster operator {info.namespace}/{info.deployment} is not Available, so Kafka "
                f"resources are not reconciled: check its pods (kubectl -n {info.namespace} get pods -l "
                f"{OPERATOR_LABEL}={OPERATOR_LABEL_VALUE})",
            )
        return info

    def _report(self, message: str) -> None:
        self.last_progress = message
        log.info("%s", message)
        if self._progress_callback is not None:
            self._progress_callback(message)

    def _install(self) -> None:
        settings = self.settings
        where = f"Strimzi {settings.strimzi_version} into namespace {settings.strimzi_namespace}"
        info: StrimziInfo | None = None
        failure: StrimziUnavailable | None = None
        try:
            info = install_strimzi(self.kube, settings, progress=self._report)
        except StrimziUnavailable as exc:
            failure = exc
        except BundleError as exc:
            failure = StrimziUnavailable(r.INSTALL_FAILED, str(exc))
        except KubeTimeout as exc:
            failure = StrimziUnavailable(
                r.INSTALL_FAILED,
                f"installing {where}: {exc}: check its pods and events (kubectl -n {settings.strimzi_namespace} "
                "get pods,events)",
            )
        except KubeError as exc:
            failure = StrimziUnavailable(r.INSTALL_FAILED, f"installing {where} failed: {exc}")
        except Exception as exc:  # a bug must still release the waiters and be reported
            log.exception("installing %s failed unexpectedly", where)
            failure = StrimziUnavailable(r.INSTALL_FAILED, f"installing {where} failed unexpectedly: {exc!r}")
        with self._lock:
            if failure is not None:
                log.warning("%s", failure.message)
                self._failure, self._failed_at = failure, time.monotonic()
            else:
                assert info is not None
                self._info, self._available, self._failure = info, info.available, None
                self._follow_locked(info)
            done, self._install_done = self._install_done, None
        assert done is not None
        done.set()
