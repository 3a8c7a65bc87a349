"""What the operator's own watches already delivered, so a pass reads memory instead of the API server.

Every object a pass reads is of a kind the handlers watch (the app's Deployment, the Kafka, its topics and
users, Strimzi's Secrets, the operator's own Secrets and ConfigMaps, Namespaces, BridgedApps): each watch
event is recorded here (`observe`), each write of the operator is recorded with what the API server
returned (`remember`), and a read of an object never seen is one GET whose answer (found or absent) is
recorded too. From then on the watch keeps the entry fresh: the object's every change, and its deletion,
passes the handler's filter because some BridgedApp refers to it. So a steady pass makes no request.

Entries are the API server's JSON as received: readers must not modify them (gather and plan do not).
`kube.Kube` consults it when the operator gave it one (`Kube.cache`); without one every read is a GET.
An event older than what is recorded (a smaller resourceVersion) is ignored: our own write's answer may
arrive before the watch event that precedes it.

Memory is trusted only where a watch is known to be running: for a kind in a namespace, from the first
event this process received for that kind there (Kopf's first listing delivers every object). Before that
(a namespace the operator does not watch; a Strimzi kind whose CRD was installed after Kopf started and
whose watch has not begun) nothing would report a change, so every read is a GET and nothing is recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from bridgedapp import FIELD_MANAGER

Obj = dict[str, Any]


CacheKey = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped objects
Scope = tuple[str, str]  # (kind, namespace): what one watch covers of a kind

MAX_AGE = 600.0  # seconds an entry is trusted without news of it (a bound on what a relisting watch can hide)
MAX_NOTED_EVENTS = 20_000  # event times of objects not recorded are pruned beyond this many ...
NOTE_EVENTS_FOR = 120.0  # ... to those of the last two minutes (no request takes that long)

# The kinds a handler watches, so an entry cannot go stale without an event saying so.
WATCHED_KINDS = frozenset(
    {"BridgedApp", "Deployment", "Kafka", "KafkaTopic", "KafkaUser", "Secret", "ConfigMap", "Namespace"}
)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim(obj: Obj | None) -> Obj | None:
    """What a pass reads of `obj`, without what it never reads but can weigh more than the object itself:
    managedFields (only a Deployment's own entry is read: it tells the sidecar's items from a user's) and
    kubectl's copy of the last applied manifest. Memory per app is what a thousand apps multiply: an
    allocation trace at 300 apps found the cache's copies of the API server's answers the largest part."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    fields = meta.get("managedFields")
    annotations = meta.get("annotations") or {}
    if not fields and LAST_APPLIED not in annotations:
        return obj
    meta = dict(meta)
    if fields:
        ours = (
            [f for f in fields if f.get("manager") == FIELD_MANAGER]
            if obj.get("kind") == "Deployment"
            else []
        )
        if ours:
            meta["managedFields"] = ours
        else:
            meta.pop("managedFields")
    if LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {**obj, "metadata": meta}


def only_status_changed(before: Obj | None, after: Obj) -> bool:
    """`after` differs from `before` (as recorded) in its status alone: same generation, labels and
    annotations (the parts a pass decides on besides the spec, which the generation covers)."""
    if before is None:
        return False
    old, new = before.get("metadata") or {}, slim(after)["metadata"]  # type: ignore[index]
    return (
        old.get("generation") == new.get("generation")
        and old.get("labels") == new.get("labels")
        and old.get("annotations") == new.get("annotations")
    )


def _version(obj: Mapping[str, Any] | None) -> int | None:
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion"))
    except (TypeError, ValueError):
        return None


class WatchCache:
    """The last known state of each watched object the operator has read, seen or written.

    A read races the watch: an event may arrive while the GET (or write) is on its way, for an object not
    recorded yet, so the event is not kept, and the answer that follows is older than it. So the time of
    every event is noted (`_event_at`), and an answer to a request that started before the object's latest
    event is not recorded: the next read asks again.
    """

    def __init__(self) -> None:
        self._objects: dict[CacheKey, Obj | None] = {}
        self._fetched: dict[CacheKey, float] = {}  # when each entry was last read or seen in an event
        self._event_at: dict[CacheKey, float] = {}  # when the latest watch event for each key arrived
        self._watching: set[Scope] = set()  # (kind, namespace) a watch has delivered an event for
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _store(self, key: CacheKey, body: Obj | None) -> None:
        if body is not None:
            known, seen = _version(self._objects.get(key)), _version(body)
            if known is not None and seen is not None and seen < known:
                return  # older than what is recorded
        self._objects[key] = slim(body)

    def watched(self, event_type: str | None, body: Mapping[str, Any], *, keep: bool = False) -> None:
        """A Kopf watch event of a watched kind (type None: the watch's first listing). Kept for an object
        already recorded, or when `keep` (a BridgedApp refers to it: a pass will read it); the cache holds
        what passes read, not every object of the cluster. For any other object only its time is noted."""
        meta = body.get("metadata") or {}
        key = (str(body.get("kind")), meta.get("namespace") or "", str(meta.get("name")))
        now = time.monotonic()
        with self._lock:
            self._watching.add(key[:2])
            self._event_at[key] = now
            if len(self._event_at) > MAX_NOTED_EVENTS:
                self._event_at = {k: t for k, t in self._event_at.items() if now - t < NOTE_EVENTS_FOR}
            if keep or key in self._objects:
                self._store(key, None if event_type == "DELETED" else dict(body))
                self._fetched[key] = now  # the watch vouches for it as a GET would

    def fetched(self, kind: str, namespace: str | None, name: str, obj: Obj | None, *, since: float) -> None:
        """The answer to a GET or a write that started at `since` (time.monotonic()): recorded, and the
        entry's age restarts, unless a watch event for the object arrived meanwhile."""
        key = (kind, namespace or "", name)
        with self._lock:
            if key[:2] not in self._watching:
                return  # no watch reports its changes (yet): it is read again when asked
            if self._event_at.get(key, float("-inf")) >= since:
                self._objects.pop(key, None)  # newer news came meanwhile: read it again when asked
                self._fetched.pop(key, None)
                return
            self._store(key, obj)
            self._fetched[key] = time.monotonic()

    def remember(self, obj: Obj, *, since: float) -> None:
        """What the API server returned for a write of ours (started at `since`): as fresh as a GET."""
        meta = obj.get("metadata") or {}
        self.fetched(str(obj.get("kind")), meta.get("namespace"), str(meta.get("name")), obj, since=since)

    def forget(self, kind: str, namespace: str | None, name: str) -> None:
        with self._lock:
            self._objects.pop((kind, namespace or "", name), None)
            self._fetched.pop((kind, namespace or "", name), None)

    def lookup(self, kind: str, namespace: str | None, name: str) -> tuple[bool, Obj | None]:
        """(known, object): known False means never read nor seen (or read too long ago, or of a kind and
        namespace no watch has reported on), so a GET tells.

        Entries expire `MAX_AGE` seconds after the last GET or event of them: a watch that broke and
        relisted reports no deletion that happened meanwhile."""
        key = (kind, namespace or "", name)
        with self._lock:
            if key in self._objects and time.monotonic() - self._fetched.get(key, 0.0) < MAX_AGE:
                self.hits += 1
                return True, self._objects[key]
            self.misses += 1
            return False, None

    def __len__(self) -> int:
        return len(self._objects)
