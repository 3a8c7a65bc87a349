"""Related-object changes coalesce: while a claimed pass for an app has not started, further changes ride on it.

The pass itself is replaced by a recorder here; what is under test is the claiming rule of `Reconciler.claim`
and `reconcile_claimed`, which no cluster is needed to exercise deterministically. The restart figures it
changes are measured in bench/ (docs/bench.md, "passes/app").
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bridgedapp.reconciler import Outcome, Reconciler
from bridgedapp.scheduling import PassScheduler
from bridgedapp.settings import Settings


class RecordingKube:
    """Stands in for the API client: every pass starts with a GET of the app, which is all this test needs."""

    def __init__(self) -> None:
        self.gets = 0

    def get(self, *_: Any) -> dict[str, Any]:
        self.gets += 1
        return {"metadata": {"namespace": "shop", "name": "orders"}}


class GatedReconciler(Reconciler):
    """Each pass blocks until the test opens the gate, so the test decides what overlaps what."""

    def __init__(self) -> None:
        super().__init__(RecordingKube(), Settings(), ensurer=object())  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.running = threading.Event()
        self.passes = 0

    def _reconcile(self, app: dict[str, Any]) -> Outcome:
        self.passes += 1
        self.running.set()
        self.gate.wait(10)
        return Outcome(app=app, status=None)


class Calls:
    """Concurrent changes of one app's related objects, each handled as the operator does: claim on arrival,
    then run the claimed pass in a thread."""

    def __init__(self, reconciler: Reconciler, count: int) -> None:
        self.results: list[Outcome | None] = [None] * count
        self.threads = [threading.Thread(target=self._call, args=(reconciler, i)) for i in range(count)]
        for t in self.threads:
            t.start()

    def _call(self, reconciler: Reconciler, i: int) -> None:
        if reconciler.claim("shop", "orders"):
            self.results[i] = reconciler.reconcile_claimed("shop", "orders")

    def finished(self) -> int:
        return sum(not t.is_alive() for t in self.threads)

    def join(self) -> list[Outcome | None]:
        for t in self.threads:
            t.join(5)
        assert self.finished() == len(self.threads)
        return self.results


def wait_for(predicate: Any) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_changes_during_a_pass_share_one_following_pass() -> None:
    r = GatedReconciler()
    running = Calls(r, 1)
    assert r.running.wait(5)
    during = Calls(r, 7)  # a restart's first listings: more related objects of the same app
    wait_for(lambda: during.finished() == 6)  # six leave it to the seventh, which waits for the lock
    r.gate.set()
    running.join()
    assert sum(o is not None for o in during.join()) == 1
    assert r.passes == 2, "the running pass, then one pass for all the changes that came during it"
    assert r.kube.gets == 2


def test_changes_one_after_another_each_get_a_pass() -> None:
    r = GatedReconciler()
    r.gate.set()
    for _ in range(3):  # nothing overlaps, so nothing is skipped
        assert r.claim("shop", "orders")
        assert r.reconcile_claimed("shop", "orders") is not None
    assert r.passes == 3


def test_a_full_change_makes_a_queued_availability_only_pass_full() -> None:
    """A Deployment status change asks only for its availability; another change joining the queued pass
    (the sidecar removed, a topic changed) must get the full pass, whichever came first."""
    s = PassScheduler()
    assert s.claim(("shop", "orders"), full=False)
    assert not s.claim(("shop", "orders"), full=True)
    assert s.started(("shop", "orders")) is True
    assert s.claim(("shop", "orders"), full=True)
    assert not s.claim(("shop", "orders"), full=False)
    assert s.started(("shop", "orders")) is True
    assert s.claim(("shop", "orders"), full=False)
    assert not s.claim(("shop", "orders"), full=False)
    assert s.started(("shop", "orders")) is False


def test_a_claim_taken_before_any_worker_is_free_absorbs_later_changes() -> None:
    """As at a restart: events arrive faster than threads run passes; one claim covers them all."""
    r = GatedReconciler()
    r.gate.set()
    assert r.claim("shop", "orders")
    assert not any(r.claim("shop", "orders") for _ in range(7))
    assert r.reconcile_claimed("shop", "orders") is not None
    assert r.passes == 1
    assert r.claim("shop", "orders"), "once the pass has started, a new change gets a pass of its own"
