"""TEST DOUBLE — plays Strimzi's reconcile loop (cluster, user and topic operators) against an API server.

One background thread reconciles; watch threads (pykube sessions, real Kubernetes watches) wake it
whenever a Kafka, KafkaNodePool, KafkaUser, KafkaTopic, Strimzi CRD or Strimzi-labelled Secret changes,
and a slow resync is the safety net. Every pass lists what it needs once, hands it to the enabled parts,
and writes only what differs, so a quiet cluster sees no writes from the simulator.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import requests

from testbed.strimzi_sim.ca import DEFAULT_KEY_SIZE
from testbed.strimzi_sim.cluster_operator import ClusterOperator, complete_ca_rotation, replace_ca_key
from testbed.strimzi_sim.common import (
    GROUP,
    KIND_LABEL,
    KINDS,
    Api,
    ApiError,
    Context,
    Failure,
    Snapshot,
    Writer,
    cr_path,
    log,
    make_client,
    secret_path,
    served_version,
    status_schema,
)
from testbed.strimzi_sim.topic_operator import TopicOperator
from testbed.strimzi_sim.user_operator import UserOperator

PARTS = ("cluster", "user", "topic")
DEFAULT_REASONS = {
    "Kafka": "InvalidResourceException",
    "KafkaNodePool": "InvalidResourceException",
    "KafkaUser": "InvalidResourceException",
    "KafkaTopic": "KafkaError",
}
WATCH_SECONDS = 60  # server-side watch timeout; each watch is re-opened from its last resourceVersion
DEBOUNCE_SECONDS = 0.05


class Part(Protocol):
    name: str
    kinds: tuple[str, ...]

    def reconcile(self, ctx: Context) -> None: ...


_PART_TYPES: dict[str, Callable[[], Part]] = {
    "cluster": ClusterOperator,
    "user": UserOperator,
    "topic": TopicOperator,
}


class _Watch(threading.Thread):
    """One Kubernetes watch (list, then watch from its resourceVersion, re-opened as it times out)."""

    def __init__(
        self,
        sim: StrimziSimulator,
        name: str,
        path: Callable[[], str | None],
        label_selector: str | None = None,
    ) -> None:
        super().__init__(name=f"strimzi-sim-watch-{name}", daemon=True)
        self._sim = sim
        self._path = path
        self._selector = label_selector
        self._response: requests.Response | None = None

    def run(self) -> None:
        api = Api(make_client(self._sim.kubeconfig))
        stop = self._sim._stop
        version: str | None = None
        watched_path: str | None = None
        while not stop.is_set():
            path = self._path()
            if path is None:  # the CRDs are not there yet
                stop.wait(self._sim.resync_seconds)
                continue
            if path != watched_path:
                version, watched_path = None, path
            try:
                if not version:
                    _, version = api.list(path, label_selector=self._selector)
                    self._sim._poke()
                version = self._watch(api, path, version)
            except Exception as exc:  # the API server restarted, a CRD went away, ...: list again
                if stop.is_set():
                    break
                log.debug("%s: %s; listing again", self.name, exc)
                version = None
                stop.wait(1.0)

    def _watch(self, api: Api, path: str, version: str) -> str | None:
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        if self._selector:
            params["labelSelector"] = self._selector
        response = api.request("GET", path, params=params, stream=True, timeout=(10, WATCH_SECONDS + 30))
        self._response = response
        try:
            if self._sim._stop.is_set():  # stopped while we connected: abort() may have missed us
                return version
            if response.status_code == 410:
                return None
            if response.status_code >= 400:
                raise ApiError(f"watch {path}: HTTP {response.status_code}")
            for line in response.iter_lines():
                if self._sim._stop.is_set():
                    return version
                if not line:
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    return None  # typically 410 Gone: our resourceVersion is too old
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if event.get("type") != "BOOKMARK":
                    self._sim._poke()
            return version
        finally:
            self._response = None
            response.close()

    def abort(self) -> None:
        """Unblock a pending read so the thread notices the stop at once (closing alone would not)."""
        response = self._response
        if response is None:
            return
        connection = getattr(response.raw, "_connection", None)
        sock = getattr(connection, "sock", None)
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            else:
                response.raw.shutdown()
        except (OSError, ValueError, RuntimeError, AttributeError):  # already closed or released
            pass


# Injected failures and forced renewals are seen by every simulator in the process: two simulators on one
# cluster (a session-wide one and a test's own, say) then make the same decisions instead of overwriting
# each other forever. A failure belongs to the simulator that injected it and ends when that one stops.
_SHARED_LOCK = threading.RLock()
_FAILURES: dict[tuple[str, str, str], tuple[int, Failure]] = {}
_FORCE_RENEW: set[tuple[str, str, str]] = set()


class StrimziSimulator:
    """TEST DOUBLE for Strimzi's operators on a real API server: the parts named in `parts` reconcile.

    `watched_namespaces`: the namespaces the simulated cluster operator watches (None: all), like
    Strimzi's STRIMZI_NAMESPACE. `parts` is the one switch between simulated and real: a part left out is
    left to Strimzi's own operator, e.g. `parts=("cluster",)` beside the real User and Topic Operators
    (tier 3 of the data path); the start log names what is not simulated. An injected failure holds for every simulator in this process
    until it is recovered or the simulator that injected it stops.
    """

    def __init__(
        self,
        kubeconfig: Path | str,
        *,
        watched_namespaces: Iterable[str] | None = None,
        parts: Iterable[str] = PARTS,
        resync_seconds: float = 5.0,
        key_size: int = DEFAULT_KEY_SIZE,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.watched_namespaces = None if watched_namespaces is None else frozenset(watched_namespaces)
        names = tuple(parts)
        unknown = [p for p in names if p not in _PART_TYPES]
        if unknown:
            raise ValueError(f"unknown simulator part(s) {unknown}; choose from {PARTS}")
        self.parts: tuple[str, ...] = names
        self._parts: list[Part] = [_PART_TYPES[p]() for p in PARTS if p in names]
        self.resync_seconds = resync_seconds
        self.key_size = key_size
        self.writes = 0  # every create/update/delete the simulator made
        self.passes = 0
        self.last_error: str | None = None
        self._version: str | None = None
        self._schemas: dict[str, dict[str, Any] | None] = {}
        self._schemas_version: str | None = None
        self._force_renew = _FORCE_RENEW
        self._lock = _SHARED_LOCK
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._api: Api | None = None

    # ----- lifecycle ----------------------------------------------------------------------------

    def start(self) -> StrimziSimulator:
        """Start the reconcile thread and the watches; returns at once (the first pass follows)."""
        if self._threads:
            return self
        self._stop.clear()
        self._api = Api(make_client(self.kubeconfig))
        loop = threading.Thread(target=self._run, name="strimzi-sim-reconcile", daemon=True)
        watches = [
            _Watch(self, kind, lambda kind=kind: cr_path(self._version, kind) if self._version else None)
            for kind in KINDS
        ]
        watches.append(_Watch(self, "secrets", lambda: secret_path(), KIND_LABEL))
        watches.append(
            _Watch(
                self, "crds", lambda: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "app=strimzi"
            )
        )
        self._threads = [loop, *watches]
        for thread in self._threads:
            thread.start()
        self._poke()
        log.info(
            "Strimzi simulator started (parts: %s; %s; watching %s)",
            ", ".join(self.parts),
            self.not_simulated_note,
            "all namespaces"
            if self.watched_namespaces is None
            else ", ".join(sorted(self.watched_namespaces)),
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every thread; returns once the reconcile thread has finished its pass."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            if isinstance(thread, _Watch):
                thread.abort()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        with self._lock:
            for key in [k for k, (owner, _) in _FAILURES.items() if owner == id(self)]:
                del _FAILURES[key]

    def __enter__(self) -> StrimziSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def not_simulated_note(self) -> str:
        """What `parts` leaves to Strimzi's real operators, in words for logs and banners."""
        absent = [p for p in PARTS if p not in self.parts]
        if not absent:
            return "every part simulated"
        return f"NOT simulated, left to Strimzi's real operators: {', '.join(absent)}"

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def served_version(self) -> str | None:
        """The kafka.strimzi.io version in use (v1 or v1beta2), once the CRDs are installed."""
        return self._version

    # ----- controls for tests -------------------------------------------------------------------

    def fail(self, kind: str, namespace: str, name: str, message: str, *, reason: str | None = None) -> None:
        """Make a resource report a failure with `message` (and a Strimzi-style reason) until recovered: Ready=False,
        or for a KafkaUser NotReady=True, the way Strimzi's User Operator reports one."""
        self._check_kind(kind)
        with self._lock:
            _FAILURES[(kind, namespace, name)] = (id(self), Failure(reason or DEFAULT_REASONS[kind], message))
        self._poke()

    def recover(self, kind: str, namespace: str, name: str) -> None:
        """Undo `fail`: the resource becomes Ready again on the next pass."""
        self._check_kind(kind)
        with self._lock:
            _FAILURES.pop((kind, namespace, name), None)
        self._poke()

    def rotate_cluster_ca(self, namespace: str, cluster: str) -> int:
        """Replace the cluster CA key now (Strimzi's force-replace); returns the new cert generation.

        `ca.crt` then holds the new certificate and the old one stays as `ca-<notAfter>.crt` (and in
        `ca.p12`, and in the trust bundle) until `complete_cluster_ca_rotation`.
        """
        return self._replace_key(namespace, cluster, "cluster-ca")

    def rotate_clients_ca(self, namespace: str, cluster: str) -> int:
        """Replace the clients CA key now; every TLS user then gets a new certificate on the next pass."""
        return self._replace_key(namespace, cluster, "clients-ca")

    def complete_cluster_ca_rotation(self, namespace: str, cluster: str) -> None:
        """End the rotation: drop the old cluster CA certificates, as Strimzi does after rolling the pods."""
        with self._lock:
            ctx = self._load()
            if ctx is None:
                raise LookupError("the Strimzi CRDs are not installed")
            complete_ca_rotation(ctx.writer, self._kafka(ctx, namespace, cluster), "cluster-ca")
            self.writes += ctx.writer.writes
        self._poke()

    def rotate_user(self, namespace: str, user: str) -> None:
        """Issue a new certificate (or password) for a KafkaUser now, like `strimzi.io/force-renew`."""
        if "user" not in self.parts:
            raise RuntimeError("the simulated User Operator is switched off")
        key = ("KafkaUser", namespace, user)
        with self._lock:
            self._force_renew.add(key)
            self._pass()
            if key in self._force_renew:
                self._force_renew.discard(key)
                raise LookupError(
                    f"KafkaUser {namespace}/{user} has no credentials any simulated User Operator manages "
                    "(missing, not TLS/SCRAM, or no Kafka with a user operator selects it)"
                )

    def reconcile_now(self) -> int:
        """Run one pass in the caller's thread; returns how many writes it made (0 once converged)."""
        with self._lock:
            return self._pass()

    # ----- internals ----------------------------------------------------------------------------

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")

    def _poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.resync_seconds)
            if self._stop.is_set():
                break
            self._wake.clear()
            if self._stop.wait(DEBOUNCE_SECONDS):
                break
            try:
                with self._lock:
                    self._pass()
                self.last_error = None
            except Exception as exc:  # keep going: the next event or resync retries
                self.last_error = f"{type(exc).__name__}: {exc}"
                # 429 "storage is (re)initializing": the API server is still setting up freshly made CRDs.
                transient = isinstance(exc, ApiError) and "HTTP 429" in str(exc)
                (log.info if transient else log.warning)("Strimzi simulator pass failed: %s", self.last_error)
                self._stop.wait(0.5 if transient else 1.0)
                self._poke()

    def _client(self) -> Api:
        if self._api is None:
            self._api = Api(make_client(self.kubeconfig))
        return self._api

    def _load(self) -> Context | None:
        """List everything a pass looks at; None while the Strimzi CRDs are not installed."""
        api = self._client()
        version = served_version(api)
        self._version = version
        if version is None:
            return None
        if self._schemas_version != version or any(v is None for v in self._schemas.values()):
            self._schemas = {kind: status_schema(api, kind, version) for kind in KINDS}
            self._schemas_version = version
        snapshot = Snapshot(version)
        for kind in KINDS:
            items, _ = api.list(cr_path(version, kind))
            for item in items:
                item.setdefault("apiVersion", f"{GROUP}/{version}")
                item.setdefault("kind", kind)
                snapshot.of(kind)[(item["metadata"]["namespace"], item["metadata"]["name"])] = item
        secrets, _ = api.list(secret_path(), label_selector=KIND_LABEL)
        snapshot.secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in secrets}
        return Context(
            api=api,
            snapshot=snapshot,
            writer=Writer(api, snapshot, self._schemas),
            failures={key: failure for key, (_, failure) in _FAILURES.items()},
            watched_namespaces=self.watched_namespaces,
            force_renew=self._force_renew,
            key_size=self.key_size,
        )

    def _pass(self) -> int:
        ctx = self._load()
        self.passes += 1
        if ctx is None:
            return 0
        try:
            for part in self._parts:
                part.reconcile(ctx)
        finally:
            self.writes += ctx.writer.writes
        if ctx.writer.conflicts:
            self._poke()
        return ctx.writer.writes

    @staticmethod
    def _kafka(ctx: Context, namespace: str, cluster: str) -> dict[str, Any]:
        kafka = ctx.snapshot.of("Kafka").get((namespace, cluster))
        if kafka is None:
            raise LookupError(f"no Kafka {namespace}/{cluster}")
        return kafka

    def _replace_key(self, namespace: str, cluster: str, role: str) -> int:
        with self._lock:
            ctx = self._load()
            if ctx is None:
                raise LookupError("the Strimzi CRDs are not installed")
            generation = replace_ca_key(ctx.writer, self._kafka(ctx, namespace, cluster), role, self.key_size)
            self.writes += ctx.writer.writes
        self._poke()
        return generation
