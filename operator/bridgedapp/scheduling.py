"""When passes run: one at a time per BridgedApp, and at most one queued behind it.

Kept apart from the domain logic: handlers ask for passes as events arrive (many watches, one app), and
the reconciler runs each pass under its app's lock. Locks of deleted apps are pruned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

AppRef = tuple[str, str]  # (namespace, name)


class PassScheduler:
    def __init__(self) -> None:
        self._locks: dict[AppRef, threading.Lock] = {}
        self._guard = threading.Lock()
        self._queued: set[AppRef] = set()  # apps with a claimed pass that has not started

    @contextmanager
    def locked(self, ref: AppRef) -> Iterator[None]:
        """Passes for one BridgedApp never overlap, whichever watch triggered them."""
        with self._guard:
            lock = self._locks.setdefault(ref, threading.Lock())
        with lock:
            yield

    def claim(self, ref: AppRef) -> bool:
        """Ask for a pass because a related object changed; False when one is already queued.

        A queued pass has not read anything yet, so it will see this change too. Claims are taken as events
        arrive, before a worker thread is free: a restart's first listings of each watch otherwise ran one
        full pass per related object, about 8 per app.
        """
        with self._guard:
            if ref in self._queued:
                return False
            self._queued.add(ref)
            return True

    def started(self, ref: AppRef) -> None:
        """The claimed pass begins reading: from here on, a change needs a pass of its own."""
        with self._guard:
            self._queued.discard(ref)

    def forget(self, ref: AppRef) -> None:
        """The app is gone: drop its lock (a pass still holding it finishes; a later one finds no app)."""
        with self._guard:
            self._locks.pop(ref, None)
            self._queued.discard(ref)

    @property
    def queued(self) -> int:
        """Claimed passes not started yet."""
        return len(self._queued)

    def __len__(self) -> int:
        """Apps with a lock (each seen since the operator started and not deleted since)."""
        return len(self._locks)
