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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from bridgedapp import FIELD_MANAGER

Obj = dict[str, Any]


CacheKey = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped objects

MAX_AGE = 600.0  # seconds an entry is trusted without a GET (a bound on what a broken watch can hide)

# The kinds a handler watches, so an entry cannot go stale without an event saying so.
WATCHED_KINDS = frozenset(
    {"BridgedApp", "Deployment", "Kafka", "KafkaTopic", "KafkaUser", "Secret", "ConfigMap", "Namespace"}
)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim(obj: Obj | None) -> Obj | None:
    """What a pass reads of `obj`, without what it never reads but can weigh more than the object itself:
    other managers' managedFields (ours tell the sidecar's items from a user's) and kubectl's copy of the
    last applied manifest. Memory per app is what a thousand apps multiply."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    fields = meta.get("managedFields")
    annotations = meta.get("annotations") or {}
    if not fields and LAST_APPLIED not in annotations:
        return obj
    meta = dict(meta)
    if fields:
        ours = [f for f in fields if f.get("manager") == FIELD_MANAGER]
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
    """The last known state of each watched object the operator has read, seen or written."""

    def __init__(self) -> None:
        self._objects: dict[CacheKey, Obj | None] = {}
        self._fetched: dict[CacheKey, float] = {}  # when each entry was last read from the API server
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def observe(
        self, kind: str, namespace: str | None, name: str, body: Obj | None, *, known_only: bool = False
    ) -> None:
        """The object as it now is, or None when it is absent. `known_only` (a watch event): only for an
        object already recorded, so the cache holds what passes read, not every object of the cluster."""
        key = (kind, namespace or "", name)
        with self._lock:
            if known_only and key not in self._objects:
                return
            if body is not None:
                known, seen = _version(self._objects.get(key)), _version(body)
                if known is not None and seen is not None and seen < known:
                    return  # older than what a write of ours returned
            self._objects[key] = slim(body)

    def remember(self, obj: Obj) -> None:
        """What the API server returned for a write of ours: as fresh as a GET."""
        meta = obj.get("metadata") or {}
        self.fetched(str(obj.get("kind")), meta.get("namespace"), str(meta.get("name")), obj)

    def forget(self, kind: str, namespace: str | None, name: str) -> None:
        with self._lock:
            self._objects.pop((kind, namespace or "", name), None)
            self._fetched.pop((kind, namespace or "", name), None)

    def watched(self, event_type: str, body: Mapping[str, Any]) -> None:
        """A Kopf watch event of a watched kind."""
        meta = body.get("metadata") or {}
        obj = None if event_type == "DELETED" else dict(body)
        self.observe(
            str(body.get("kind")), meta.get("namespace"), str(meta.get("name")), obj, known_only=True
        )

    def lookup(self, kind: str, namespace: str | None, name: str) -> tuple[bool, Obj | None]:
        """(known, object): known False means never read nor seen (or read too long ago), so a GET tells.

        Entries expire after `MAX_AGE` seconds from when they were last read from the API server: a watch
        that broke and relisted reports no deletion that happened meanwhile."""
        key = (kind, namespace or "", name)
        with self._lock:
            if key in self._objects and time.monotonic() - self._fetched.get(key, 0.0) < MAX_AGE:
                self.hits += 1
                return True, self._objects[key]
            self.misses += 1
            return False, None

    def fetched(self, kind: str, namespace: str | None, name: str, obj: Obj | None) -> None:
        """A GET's answer: recorded, and the entry's age restarts."""
        self.observe(kind, namespace, name, obj)
        with self._lock:
            self._fetched[(kind, namespace or "", name)] = time.monotonic()

    def __len__(self) -> int:
        return len(self._objects)
