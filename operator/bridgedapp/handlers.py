"""Kopf handlers: decide *when* to reconcile, then delegate to `Reconciler` and post its events.

Triggers: the BridgedApp itself (new, a newer spec, the operator's start; its deletion is Kopf's one state
handler), and every change of an object a BridgedApp depends on: its Deployment (drift repair), its Kafka,
KafkaUser, topics, Strimzi's Secrets and the operator's own mirrored Secret and ConfigMap. Related objects
find their BridgedApps through an in-memory Kopf index, so status follows Strimzi without polling. Every
trigger only claims a pass (`_request_passes`); passes run as tasks of their own, in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
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
from bridgedapp.diffbase import NoDiffBase
from bridgedapp.index import RefKey, references
from bridgedapp.kube import NAMESPACE_TERMINATING, Kube, KubeError
from bridgedapp.reconciler import Reconciler
from bridgedapp.settings import Settings
from bridgedapp.world import Event

log = logging.getLogger(__name__)

DELETE_RETRIES = 5
PASS_WORKERS = 8
CONSISTENCY_TIMEOUT = 60.0  # seconds; see configure()


MAX_EVENT_MESSAGE = 1024  # events.k8s.io caps a note at 1 kB; a person reads one line
RETRY_DELAYS = (5.0, 10.0, 20.0, 40.0, 60.0)  # after a failed pass; then every minute
# A pass waits this long after the change that asked for it, so the changes that come together (Strimzi
# readying a topic and a user, issuing the user's Secret) share it: fewer passes and status patches.
COALESCE_SECONDS = 0.5
# ... and this long after a change of only the Deployment's status, so a quick rollout is one status patch
# (its end) and a slow one reports its progress every few seconds, not on every pod's step.
ROLLOUT_COALESCE_SECONDS = 2.0


class QuietEventHandlers(logging.Filter):
    """Drops Kopf's "Handler '...' succeeded." lines of the event handlers: Kopf writes one for every watch
    event of each (about 30 per app, 4% of the operator's time at 1,000 apps), and they only claim passes,
    whose every status change has a line of its own. Their failures, and everything else Kopf logs, stay."""

    def __init__(self, handlers: list[Any]) -> None:
        super().__init__()
        self.lines = frozenset(f"Handler {fn.__name__!r} succeeded." for fn in handlers)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.lines


def _post(app: dict[str, Any], events: list[Event]) -> None:
    for event in events:
        message = bounded(event.message, MAX_EVENT_MESSAGE)
        kopf.event(app, type=event.type, reason=event.reason, message=message)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Annotations under our own prefix, our finalizer name, our field manager on events."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.reporting_component = FIELD_MANAGER
    # Kopf posts its own log lines at this level or above as Events: its INFO lines ("Handler 'reconcile'
    # succeeded", ...) were most of the operator's writes at scale (issue 10). The operator's own Events
    # (reasons.py) are posted whatever the level; Kopf's warnings and errors still are.
    settings.posting.level = logging.WARNING
    kopf_objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, QuietEventHandlers) for f in kopf_objects.filters):  # start-up may run twice
        kopf_objects.addFilter(QuietEventHandlers([*EVENT_HANDLERS, metrics.app_seen]))
    # Passes run in the loop's default executor (`asyncio.to_thread`): this many at once, each mostly waiting
    # for the API server.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(PASS_WORKERS, "pass"))
    # After its own patch (the finalizer) Kopf waits for the patched version to come back through the watch
    # before handling the object's state again; under load the stream lags more than the default 5 s, and
    # Kopf then re-ran the creation handler of the time on the outdated body (for 900 of 1,000 apps, issue 10).
    settings.persistence.consistency_timeout = CONSISTENCY_TIMEOUT
    operator_settings: Settings = memo.settings  # put there by `bridgedapp run`, the one entry path
    kube = Kube.from_env()
    kube.cache = memo.cache = WatchCache()  # passes read what the watches below delivered (cache.py)
    memo.reconciler = Reconciler(kube, operator_settings)
    memo.failures = {}  # (namespace, name) -> failed passes in a row
    memo.passes = set()  # the passes asked for and not done (asyncio tasks)
    memo.triggers = {}  # (namespace, name) -> what asked for its queued pass: create, update, resume, related
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
async def bridgedapp_refs(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[RefKey, tuple[str, str]]:
    """Keys under which related objects find their BridgedApps: (kind, namespace, name) -> (ns, app)."""
    return references(dict(body), memo.settings.strimzi_namespace)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def bridgedapp_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every BridgedApp event is recorded (a pass reads its app from memory, its deletion included), and a
    pass is asked for when the app is new, its spec is newer than the status says was handled, or this
    process has not run one yet (type None: a watch's first listing, as when the operator starts).

    These are Kopf event handlers, not create/update/resume handlers: a pass runs as a task of its own and,
    when it failed or waits, again by the operator's own timer (`_run_claimed`), so Kopf writes nothing for
    it: no progress annotations per retry (a `kopf.TemporaryError` cost two patches each), and no copy of the
    handled spec (diffbase.py). Kopf's only write is the finalizer its deletion handler needs (issue 10)."""
    memo.cache.watched(type, body, keep=True)
    meta = body.metadata
    if type == "DELETED" or meta.get("deletionTimestamp"):
        return
    ref = (meta.namespace, meta.name)
    observed, ran = (body.get("status") or {}).get("observedGeneration"), memo.reconciler.has_run(*ref)
    if observed is None and not ran:
        trigger = "create"  # at once: nothing else can come with a new app's first pass
    elif observed is not None and observed != meta.get("generation"):
        trigger = "update"
    elif type is None and not ran:
        trigger = "resume"  # a relisting watch of a running process finds its passes done: nothing to do
    else:
        # Our own status patch, Kopf's finalizer, a label; or no status yet after a pass ran (it failed or is
        # held back, and runs again by itself): nothing a pass decides on changed.
        return
    _request_passes(memo, [ref], trigger=trigger, after=0.0 if trigger == "create" else COALESCE_SECONDS)


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


def _request_passes(
    memo: kopf.Memo,
    refs: Any,
    *,
    full: bool = True,
    trigger: str = "related",
    after: float = COALESCE_SECONDS,
) -> None:
    """Claim a pass for each app as the change arrives; each claimed pass runs as a task of its own after
    `after` seconds, in a worker thread, so one app's pass never waits for another's. `full=False`: only the
    app Deployment's status changed (`Reconciler.reconcile_claimed`)."""
    for ref in sorted(set(refs)):
        if memo.reconciler.claim(*ref, full=full):
            memo.triggers[ref] = trigger
            task = asyncio.get_running_loop().create_task(_pass(memo, ref, after))
            memo.passes.add(task)  # held until done: the loop keeps only weak references to tasks
            task.add_done_callback(memo.passes.discard)
        elif trigger != "related":
            memo.triggers[ref] = trigger  # the queued pass is counted as the app's own (metrics)


async def _pass(memo: kopf.Memo, ref: tuple[str, str], after: float) -> None:
    await asyncio.sleep(after)
    namespace, name = ref
    trigger = memo.triggers.pop(ref, "related")
    again = await asyncio.to_thread(_run_claimed, memo, namespace, name, reason=trigger)
    if again is not None:  # no new event may come to run it again (a failure; a wait for the install)
        _request_passes(memo, [(namespace, name)], after=again)


@metrics.observed()
def _run_claimed(memo: kopf.Memo, namespace: str, name: str, *, reason: str) -> float | None:
    """The claimed pass; the seconds after which it must run again, or None when it is done. A failure backs
    off (one Warning per streak); a pass that waits for something looks again when it asked to. `reason`
    (create, update, resume, related) labels the pass in the metrics."""
    try:
        outcome = memo.reconciler.reconcile_claimed(namespace, name)
    except (
        Exception
    ) as err:  # a KubeError; anything else is a bug, which must not end the app's passes either
        if isinstance(err, KubeError) and err.reason == NAMESPACE_TERMINATING:
            return None  # the app goes with its namespace: nothing left to retry
        metrics.mark("error")
        failures = memo.failures[(namespace, name)] = memo.failures.get((namespace, name), 0) + 1
        log.warning(
            "reconcile of %s/%s (%s) failed (%d): %s",
            namespace,
            name,
            reason,
            failures,
            err,
            exc_info=not isinstance(err, KubeError),
        )
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
        return outcome.again  # a status held back for a moment, or None: done
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
    return min(retry.after, outcome.again or retry.after)


async def _related(
    kind: str, type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo
) -> None:
    """A watched object changed: record it when some BridgedApp refers to it (what passes read, and only
    that, is in memory), then ask for a pass of each of those apps."""
    meta = body.get("metadata") or {}
    key = (
        RefKey.namespace_key(meta.get("name", ""))
        if kind == "Namespace"
        else RefKey(kind, meta.get("namespace", ""), meta.get("name", ""))
    )
    refs = list(bridgedapp_refs[key]) if key in bridgedapp_refs else []
    before = memo.cache.lookup(kind, meta.get("namespace"), meta.get("name", ""))[1]
    memo.cache.watched(type, body, keep=bool(refs))
    if not refs:
        return
    if kind == "Deployment" and type != "DELETED" and only_status_changed(before, dict(body)):
        _request_passes(memo, refs, full=False, after=ROLLOUT_COALESCE_SECONDS)
    else:
        _request_passes(memo, refs)


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
        _request_passes(memo, {ref for key in bridgedapp_refs for ref in bridgedapp_refs[key]})


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
    if labels.get("strimzi.io/kind") == "KafkaUser":
        refs = list(bridgedapp_refs.get(RefKey("KafkaUser", namespace, name), []))
    else:
        cluster = labels.get("strimzi.io/cluster", "")
        refs = (
            list(bridgedapp_refs.get(RefKey("Kafka", namespace, cluster), []))
            if name == cluster_ca_cert_name(cluster)
            else []
        )
    memo.cache.watched(type, body, keep=bool(refs))
    _request_passes(memo, refs)


@kopf.on.event("", "v1", "secrets", labels=MANAGED_BY_LABELS)
@kopf.on.event("", "v1", "configmaps", labels=MANAGED_BY_LABELS)
async def owned_object_changed(
    type: str, body: kopf.Body, bridgedapp_refs: kopf.Index, memo: kopf.Memo, **_: Any
) -> None:
    """Someone edited or deleted the mirrored Secret or the bridge ConfigMap: put it back."""
    refs = [
        app
        for ref in body.metadata.get("ownerReferences", [])
        if ref.get("kind") == "BridgedApp"
        for app in bridgedapp_refs.get(RefKey("Owned", body.metadata.namespace, ref["name"]), [])
    ]
    memo.cache.watched(type, body, keep=bool(refs))
    _request_passes(memo, refs)


EVENT_HANDLERS = [
    bridgedapp_changed,
    deployment_changed,
    installed_deployment_changed,
    kafka_changed,
    user_changed,
    topic_changed,
    namespace_changed,
    strimzi_secret_changed,
    owned_object_changed,
]
