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
        self._queued: dict[AppRef, bool] = {}  # apps with a claimed pass not started -> whether it is full

    @contextmanager
    def locked(self, ref: AppRef) -> Iterator[None]:
        """Passes for one BridgedApp never overlap, whichever watch triggered them."""
        with self._guard:
            lock = self._locks.setdefault(ref, threading.Lock())
        with lock:
            yield

    def claim(self, ref: AppRef, *, full: bool = True) -> bool:
        """Ask for a pass because something changed; False when one is already queued.

        A queued pass has not read anything yet, so it will see this change too. Claims are taken as events
        arrive, before a worker thread is free: a restart's first listings of each watch otherwise ran one
        full pass per related object, about 8 per app. `full=False`: only the app Deployment's status
        changed, so the pass may look at its availability alone; any full claim makes the queued pass full.
        """
        with self._guard:
            if ref in self._queued:
                self._queued[ref] = self._queued[ref] or full
                return False
            self._queued[ref] = full
            return True

    def started(self, ref: AppRef) -> bool:
        """The claimed pass begins reading: from here on, a change needs a pass of its own. True when the
        pass must be full (a claim asked for more than the Deployment's availability)."""
        with self._guard:
            return self._queued.pop(ref, True)

    def forget(self, ref: AppRef) -> None:
        """The app is gone: drop its lock (a pass still holding it finishes; a later one finds no app)."""
        with self._guard:
            self._locks.pop(ref, None)
            self._queued.pop(ref, None)

    def known(self, ref: AppRef) -> bool:
        """A pass of this app has run (or runs) in this process, and the app was not deleted since."""
        with self._guard:
            return ref in self._locks

    @property
    def queued(self) -> int:
        """Claimed passes not started yet."""
        return len(self._queued)

    def __len__(self) -> int:
        """Apps with a lock (each seen since the operator started and not deleted since)."""
        return len(self._locks)
