"""StrimziEnsurer never makes one caller wait for another's request (issue 10: 27.5% of worker time was spent
blocked on its lock, held across a GET on every pass).

Counted, not timed: the API client is a test double (`BlockingKube`, no API server) whose requests block until
the test lets them go, so a call that waited for another's request would never return and the count of
returned calls would fall short. The real install, adoption and re-install are tested against the local control
plane in tests/integration/test_strimzi_install.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from bridgedapp.settings import Settings
from bridgedapp.strimzi import OPERATOR_CONTAINER, StrimziEnsurer

THREADS = 8
PATIENCE = 30.0  # only a bound for a broken run; nothing is timed


def _deployment(uid: str = "uid-1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": OPERATOR_CONTAINER, "namespace": "kafka", "uid": uid, "generation": 1},
        "spec": {
            "template": {
                "metadata": {"labels": {"strimzi.io/kind": "cluster-operator"}},
                "spec": {
                    "containers": [{"name": OPERATOR_CONTAINER, "image": "quay.io/strimzi/operator:1.2.0"}]
                },
            }
        },
        "status": {"observedGeneration": 1, "conditions": [{"type": "Available", "status": "True"}]},
    }


class BlockingKube:
    """TEST DOUBLE of bridgedapp.kube.Kube: one Strimzi, and requests that block while `gate` is closed."""

    def __init__(self, list_barrier: threading.Barrier | None = None) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.list_barrier = list_barrier
        self.lock = threading.Lock()
        self.in_flight = 0
        self.entered = threading.Event()
        self.stop_watch = threading.Event()

    def _request(self) -> None:
        with self.lock:
            self.in_flight += 1
        self.entered.set()
        try:
            assert self.gate.wait(PATIENCE)
        finally:
            with self.lock:
                self.in_flight -= 1

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        self._request()
        return {"metadata": {"name": name}} if kind == "CustomResourceDefinition" else _deployment()

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        if self.list_barrier is not None:  # every caller must be inside at once to get through
            self.list_barrier.wait(PATIENCE)
        self._request()
        return [_deployment()]

    def served_versions(self, group: str, *, refresh: bool = False) -> list[str]:
        return ["v1"]

    def follow(self, *args: Any, stop: threading.Event, **_: Any) -> Iterator[tuple[bool, dict[str, Any]]]:
        yield True, _deployment()
        self.stop_watch.wait(PATIENCE)


def _settings() -> Settings:
    return Settings(strimzi_manifest="/nonexistent/bundle.yaml")


def test_callers_that_find_nothing_cached_look_in_parallel_not_in_turn() -> None:
    """Cold start, many apps at once: each find() is inside the Deployment list together with the others."""
    kube = BlockingKube(list_barrier=threading.Barrier(THREADS))
    ensurer = StrimziEnsurer(kube, _settings())  # type: ignore[arg-type]
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(ensurer.ensure, wait=False) for _ in range(THREADS)]
        done, _ = wait(futures, timeout=PATIENCE)
        kube.stop_watch.set()
    infos = [f.result() for f in done]
    assert len(infos) == THREADS  # a serialised search breaks the barrier: its callers raise instead
    assert {(i.namespace, i.version, i.uid) for i in infos} == {("kafka", "1.2.0", "uid-1")}
    assert ensurer.finds == THREADS and ensurer.installs == 0
    ensurer.close()


def test_passes_answer_from_the_cache_while_another_callers_get_is_stuck() -> None:
    """A caller that waits re-reads the Deployment; the passes (wait=False) meanwhile neither queue behind it
    nor make a request of their own."""
    kube = BlockingKube()
    ensurer = StrimziEnsurer(kube, _settings())  # type: ignore[arg-type]
    first = ensurer.ensure(wait=False)  # found and cached; its watch reports the Deployment Available
    kube.gate.clear()
    kube.entered.clear()
    with ThreadPoolExecutor(THREADS + 1) as pool:
        slow = pool.submit(ensurer.ensure, wait=True)  # its GET blocks until the gate opens
        assert kube.entered.wait(PATIENCE)
        passes = [pool.submit(ensurer.ensure, wait=False) for _ in range(THREADS)]
        done, _ = wait(passes, timeout=PATIENCE)
        stuck = kube.in_flight
        returned = sum(1 for f in done if f.result() == first)
        kube.gate.set()
        assert slow.result(timeout=PATIENCE) == first
    kube.stop_watch.set()
    assert returned == THREADS and stuck == 1  # all answered while the one GET was still in flight
    assert ensurer.finds == 1
    ensurer.close()
