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
    MANAGED_BY_LABELS,
    OWNER_LABEL,
    PLURAL,
    VERSION,
    metrics,
    waiting,
)
from bridgedapp.kube import Kube, KubeError
from bridgedapp.reconciler import Event, Outcome, Reconciler, references
from bridgedapp.settings import Settings

log = logging.getLogger(__name__)

STRIMZI_GROUP = "kafka.strimzi.io"
DELETE_RETRIES = 5


class Memo:
    """What the handlers share, set up once at start-up."""

    reconciler: Reconciler
    settings: Settings


def _post(app: dict[str, Any], events: list[Event]) -> None:
    for event in events:
        kopf.event(app, type=event.type, reason=event.reason, message=event.message)


def _report(app: dict[str, Any], outcome: Outcome | None) -> None:
    if outcome is not None:
        _post(app, outcome.events)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Annotations under our own prefix, our finalizer name, our field manager on events."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.reporting_component = FIELD_MANAGER
    waiting.install()  # a retry that only waits for Strimzi's install is logged at INFO
    settings.posting.level = logging.INFO
    settings.execution.max_workers = 8
    operator_settings = getattr(memo, "settings", None) or Settings.from_env()
    kube = Kube.from_env()
    memo.settings = operator_settings
    memo.reconciler = Reconciler(kube, operator_settings)
    log.info(
        "bridgedapp operator ready: Strimzi install=%s version=%s namespace=%s",
        operator_settings.strimzi_install,
        operator_settings.strimzi_version,
        operator_settings.strimzi_namespace,
    )


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Kopf authenticates as the operator's own client does: in-cluster, else $KUBECONFIG (read now)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


# ---- the BridgedApp itself -------------------------------------------------------------------------------


@kopf.index(GROUP, VERSION, PLURAL)
def bridgedapp_refs(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[tuple[str, ...], tuple[str, str]]:
    """Keys under which related objects find their BridgedApps: (kind, namespace, name) -> (ns, app)."""
    return references(dict(body), memo.settings.strimzi_namespace)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@metrics.observed()
def reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    app = dict(body)
    try:
        outcome = memo.reconciler.reconcile(app)
    except KubeError as err:
        raise kopf.TemporaryError(f"API error, will retry: {err}", delay=10) from err
    _report(app, outcome)
    retry = outcome.retry if outcome is not None else None
    if retry is not None:
        message = f"{retry.reason} Looking again in {retry.after:.0f}s."
        if retry.is_wait:
            raise waiting.Waiting(message, delay=retry.after)
        raise kopf.TemporaryError(message, delay=retry.after)


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
        log.error("cleanup of %s/%s gave up after %d retries: %s", body.namespace, body.name, retry, err)
        kopf.warn(
            app, reason="CleanupIncomplete", message=f"Gave up cleaning up after {retry} retries: {err}"
        )


# ---- related objects: each change re-reconciles the BridgedApps that use it ------------------------------


async def _reconcile_refs(memo: kopf.Memo, refs: Any) -> None:
    """Claim a pass for each app at once (as the event arrives), then run the claimed ones in a thread."""
    claimed = [ref for ref in sorted(set(refs)) if memo.reconciler.claim(*ref)]
    for namespace, name in claimed:
        await asyncio.to_thread(_run_claimed, memo, namespace, name)


@metrics.observed("related")
def _run_claimed(memo: kopf.Memo, namespace: str, name: str) -> None:
    try:
        outcome = memo.reconciler.reconcile_claimed(namespace, name)
    except KubeError as err:
        metrics.mark("error")
        log.warning("reconcile of %s/%s after a related change failed: %s", namespace, name, err)
        return
    if outcome is not None and outcome.app is not None:
        _post(outcome.app, outcome.events)


def _named(kind: str):  # type: ignore[no-untyped-def]
    """A Kopf `when=` filter: only objects some BridgedApp refers to."""

    def when(namespace: str, name: str, bridgedapp_refs: kopf.Index, **_: Any) -> bool:
        return (kind, namespace, name) in bridgedapp_refs

    return when


@kopf.on.event("apps", "v1", "deployments", when=_named("Deployment"))
async def deployment_changed(
    namespace: str, name: str, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Drift repair: a Deployment replaced without the sidecar, or created late, is (re)injected."""
    await _reconcile_refs(memo, bridgedapp_refs.get(("Deployment", namespace, name), []))


@kopf.on.event(STRIMZI_GROUP, "kafkas", when=_named("Kafka"))
async def kafka_changed(
    namespace: str, name: str, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    await _reconcile_refs(memo, bridgedapp_refs.get(("Kafka", namespace, name), []))


@kopf.on.event(STRIMZI_GROUP, "kafkausers", when=_named("KafkaUser"))
async def user_changed(
    namespace: str, name: str, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    await _reconcile_refs(memo, bridgedapp_refs.get(("KafkaUser", namespace, name), []))


@kopf.on.event(STRIMZI_GROUP, "kafkatopics", labels={OWNER_LABEL: kopf.PRESENT})
async def topic_changed(labels: kopf.Labels, memo: kopf.Memo, bridgedapp_refs: kopf.Index, **_: Any) -> None:
    await _reconcile_refs(memo, bridgedapp_refs.get(("Owner", labels[OWNER_LABEL]), []))


@kopf.on.event("", "v1", "secrets", labels={"strimzi.io/kind": kopf.PRESENT})
async def strimzi_secret_changed(
    namespace: str, name: str, labels: kopf.Labels, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Strimzi issued or rotated a certificate: re-mirror it (the config hash then rolls the pods)."""
    if labels.get("strimzi.io/kind") == "KafkaUser":
        refs = bridgedapp_refs.get(("KafkaUser", namespace, name), [])
    else:
        cluster = labels.get("strimzi.io/cluster", "")
        refs = (
            bridgedapp_refs.get(("Kafka", namespace, cluster), [])
            if name == f"{cluster}-cluster-ca-cert"
            else []
        )
    await _reconcile_refs(memo, refs)


@kopf.on.event("", "v1", "secrets", labels=MANAGED_BY_LABELS)
@kopf.on.event("", "v1", "configmaps", labels=MANAGED_BY_LABELS)
async def owned_object_changed(
    body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Someone edited or deleted the mirrored Secret or the bridge ConfigMap: put it back."""
    for ref in body.metadata.get("ownerReferences", []):
        if ref.get("kind") == "BridgedApp":
            await _reconcile_refs(
                memo, bridgedapp_refs.get(("Owned", body.metadata.namespace, ref["name"]), [])
            )
