"""Kopf handlers: decide *when* to reconcile, then delegate to `Reconciler` and post its events.

Triggers: the BridgedApp itself (create / update of spec / resume / delete), and every change of an
object a BridgedApp depends on: its Deployment (drift repair), its Kafka, KafkaUser, topics, Strimzi's
Secrets and the operator's own mirrored Secret and ConfigMap. Related objects find their BridgedApps
through an in-memory Kopf index, so status follows Strimzi without polling.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf

from bridgedapp import (
    FIELD_MANAGER,
    FINALIZER,
    GROUP,
    KIND,
    MANAGED_BY_LABELS,
    PLURAL,
    VERSION,
    metrics,
)
from bridgedapp import reasons as r
from bridgedapp.builders.kafka import STRIMZI_GROUP, cluster_ca_cert_name
from bridgedapp.cache import WatchCache, only_status_changed
from bridgedapp.conditions import bounded
from bridgedapp.diffbase import SpecDigestStorage
from bridgedapp.index import RefKey, references
from bridgedapp.kube import NAMESPACE_TERMINATING, Kube, KubeError
from bridgedapp.reconciler import Reconciler
from bridgedapp.settings import Settings
from bridgedapp.world import Event

log = logging.getLogger(__name__)

DELETE_RETRIES = 5
CONSISTENCY_TIMEOUT = 60.0  # seconds; see configure()


MAX_EVENT_MESSAGE = 1024  # events.k8s.io caps a note at 1 kB; a person reads one line
RETRY_DELAYS = (5.0, 10.0, 20.0, 40.0, 60.0)  # after a failed related-change pass; then every minute


def _post(app: dict[str, Any], events: list[Event]) -> None:
    for event in events:
        message = bounded(event.message, MAX_EVENT_MESSAGE)
        kopf.event(app, type=event.type, reason=event.reason, message=message)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Annotations under our own prefix, our finalizer name, our field manager on events."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = SpecDigestStorage(prefix=GROUP, key="last-handled-configuration")
    settings.posting.reporting_component = FIELD_MANAGER
    # Kopf posts its own log lines at this level or above as Events: its INFO lines ("Handler 'reconcile'
    # succeeded", ...) were most of the operator's writes at scale (issue 10). The operator's own Events
    # (reasons.py) are posted whatever the level; Kopf's warnings and errors still are.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    # After its own patch Kopf waits for the patched version to come back through the watch before handling
    # the object again; under load the stream lags more than the default 5 s and Kopf then re-ran the
    # creation handler on the outdated body (a full pass and a patch for 900 of 1,000 apps, issue 10).
    settings.persistence.consistency_timeout = CONSISTENCY_TIMEOUT
    operator_settings: Settings = memo.settings  # put there by `bridgedapp run`, the one entry path
    kube = Kube.from_env()
    kube.cache = memo.cache = WatchCache()  # passes read what the watches below delivered (cache.py)
    memo.reconciler = Reconciler(kube, operator_settings)
    memo.failures = {}  # (namespace, name) -> failed related-change passes in a row
    # Every effective setting, so a person (and tests/integration/test_settings.py) sees what this runs with.
    log.info("bridgedapp operator ready, settings: %s", operator_settings.loggable())


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Kopf authenticates as the operator's own client does: in-cluster, else $KUBECONFIG (read now)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


# ---- the BridgedApp itself -------------------------------------------------------------------------------


@kopf.index(GROUP, VERSION, PLURAL)
def bridgedapp_refs(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[RefKey, tuple[str, str]]:
    """Keys under which related objects find their BridgedApps: (kind, namespace, name) -> (ns, app)."""
    return references(dict(body), memo.settings.strimzi_namespace)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def reconcile(body: kopf.Body, reason: str, memo: kopf.Memo, **_: Any) -> None:
    """The app appeared, its spec changed, or the operator started: one pass, as for a related change.

    The handler never fails in Kopf's eyes: a pass that failed or waits runs again by the operator's own
    timer (`_run_claimed`). Kopf therefore writes nothing for it but its finalizer and the digest of the
    spec handled; a `kopf.TemporaryError` cost two patches of progress annotations per retry (issue 10)."""
    memo.cache.watched("MODIFIED", body)  # the pass reads its app from the cache: this version at least
    await _reconcile_refs(memo, [(body.metadata.namespace, body.metadata.name)], trigger=str(reason))


@kopf.on.delete(GROUP, VERSION, PLURAL)
@metrics.observed()
def cleanup(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Remove what the operator added. Never leaves the finalizer stuck: after retries, it lets go."""
    app = dict(body)
    try:
        _post(app, memo.reconciler.cleanup(app))
    except KubeError as err:
        if retry < DELETE_RETRIES:
            raise kopf.TemporaryError(f"cleanup failed, will retry: {err}", delay=5) from err
        meta = body.metadata
        log.error("cleanup of %s/%s gave up after %d retries: %s", meta.namespace, meta.name, retry, err)
        kopf.warn(
            app, reason=r.CLEANUP_INCOMPLETE, message=f"Gave up cleaning up after {retry} retries: {err}"
        )


# ---- related objects: each change re-reconciles the BridgedApps that use it ------------------------------


async def _reconcile_refs(
    memo: kopf.Memo, refs: Any, *, rolled: dict[str, Any] | None = None, trigger: str = "related"
) -> None:
    """Claim a pass for each app at once (as the event arrives), then run the claimed ones in a thread.
    `rolled`: only this Deployment's status changed, so only its availability is looked at."""
    claimed = [ref for ref in sorted(set(refs)) if memo.reconciler.claim(*ref)]
    for namespace, name in claimed:
        again = await asyncio.to_thread(_run_claimed, memo, namespace, name, rolled, reason=trigger)
        if again is not None:
            asyncio.get_running_loop().create_task(_run_later(memo, namespace, name, again))


async def _run_later(memo: kopf.Memo, namespace: str, name: str, delay: float) -> None:
    """No new event may come to run a pass again (after a failure: the API server down, a 5xx; or while it
    waits: for the Strimzi install), so it runs again by itself."""
    await asyncio.sleep(delay)
    await _reconcile_refs(memo, [(namespace, name)])


@metrics.observed()
def _run_claimed(
    memo: kopf.Memo, namespace: str, name: str, rolled: dict[str, Any] | None = None, *, reason: str
) -> float | None:
    """The claimed pass; the seconds after which it must run again, or None when it is done. A failure backs
    off (one Warning per streak); a pass that waits for something looks again when it asked to. `reason`
    (create, update, resume, related) labels the pass in the metrics."""
    try:
        outcome = (
            memo.reconciler.reconcile_claimed(namespace, name)
            if rolled is None
            else memo.reconciler.availability_claimed(namespace, name, rolled)
        )
    except KubeError as err:
        if err.reason == NAMESPACE_TERMINATING:
            return None  # the app goes with its namespace: nothing left to retry
        metrics.mark("error")
        failures = memo.failures[(namespace, name)] = memo.failures.get((namespace, name), 0) + 1
        log.warning("reconcile of %s/%s (%s) failed (%d): %s", namespace, name, reason, failures, err)
        if failures == 1:
            ref = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "metadata": {"namespace": namespace, "name": name},
            }
            _post(ref, [Event("Warning", r.RECONCILE_FAILED, f"{err}; retrying with backoff.")])
        return RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
    memo.failures.pop((namespace, name), None)
    if outcome is None:
        return None
    if outcome.app is not None:
        _post(outcome.app, outcome.events)
    retry = outcome.retry
    if retry is None:
        return None
    # A wait (the Strimzi install in progress) is news; any other retry (the install failed) is a warning.
    metrics.mark("waiting" if retry.is_wait else "retry")
    log.log(
        logging.INFO if retry.is_wait else logging.WARNING,
        "%s/%s: %s Looking again in %.0fs.",
        namespace,
        name,
        retry.reason,
        retry.after,
    )
    return retry.after


async def _related(
    kind: str, type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo
) -> None:
    """A watched object changed: record it (the cache keeps only objects a pass has read), then run a pass
    for each BridgedApp that refers to it."""
    meta = body.get("metadata") or {}
    before = memo.cache.lookup(kind, meta.get("namespace"), meta.get("name", ""))[1]
    memo.cache.watched(type, body)
    key = (
        RefKey.namespace_key(meta.get("name", ""))
        if kind == "Namespace"
        else RefKey(kind, meta.get("namespace", ""), meta.get("name", ""))
    )
    if key in bridgedapp_refs:
        status_only = kind == "Deployment" and type != "DELETED" and only_status_changed(before, dict(body))
        await _reconcile_refs(memo, bridgedapp_refs[key], rolled=dict(body) if status_only else None)


@kopf.on.event(GROUP, VERSION, PLURAL)
def bridgedapp_seen(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every BridgedApp event is recorded: a pass reads its app from the cache (its deletion included)."""
    memo.cache.watched(type, body)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Drift repair: a Deployment replaced without the sidecar, or created late, is (re)injected."""
    await _related("Deployment", type, body, bridgedapp_refs, memo)


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED_BY_LABELS)
async def installed_deployment_changed(
    type: str, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """The Strimzi operator bridgedapp installed was deleted: every app's pass finds it gone, and the first
    installs it again (one install, however many passes ask). Nothing else would look until some app changed."""
    if type == "DELETED":
        await _reconcile_refs(memo, {ref for key in bridgedapp_refs for ref in bridgedapp_refs[key]})


@kopf.on.event(STRIMZI_GROUP, "kafkas")
async def kafka_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    await _related("Kafka", type, body, bridgedapp_refs, memo)


@kopf.on.event(STRIMZI_GROUP, "kafkausers")
async def user_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    await _related("KafkaUser", type, body, bridgedapp_refs, memo)


@kopf.on.event(STRIMZI_GROUP, "kafkatopics")
async def topic_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Strimzi reconciled a topic, or its owner changed whom it is shared with: every app using it looks."""
    await _related("KafkaTopic", type, body, bridgedapp_refs, memo)


@kopf.on.event("", "v1", "namespaces")
async def namespace_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """A cluster admin granted or revoked an allowance (annotations on the namespace): its apps look again."""
    await _related("Namespace", type, body, bridgedapp_refs, memo)


@kopf.on.event("", "v1", "secrets", labels={"strimzi.io/kind": kopf.PRESENT})
async def strimzi_secret_changed(
    type: str,
    body: kopf.Body,
    namespace: str,
    name: str,
    labels: kopf.Labels,
    bridgedapp_refs: kopf.Index,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Strimzi issued or rotated a certificate: re-mirror it (the config hash then rolls the pods)."""
    memo.cache.watched(type, body)
    if labels.get("strimzi.io/kind") == "KafkaUser":
        refs = bridgedapp_refs.get(RefKey("KafkaUser", namespace, name), [])
    else:
        cluster = labels.get("strimzi.io/cluster", "")
        refs = (
            bridgedapp_refs.get(RefKey("Kafka", namespace, cluster), [])
            if name == cluster_ca_cert_name(cluster)
            else []
        )
    await _reconcile_refs(memo, refs)


@kopf.on.event("", "v1", "secrets", labels=MANAGED_BY_LABELS)
@kopf.on.event("", "v1", "configmaps", labels=MANAGED_BY_LABELS)
async def owned_object_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Someone edited or deleted the mirrored Secret or the bridge ConfigMap: put it back."""
    memo.cache.watched(type, body)
    for ref in body.metadata.get("ownerReferences", []):
        if ref.get("kind") == "BridgedApp":
            await _reconcile_refs(
                memo, bridgedapp_refs.get(RefKey("Owned", body.metadata.namespace, ref["name"]), [])
            )
