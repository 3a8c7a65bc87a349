"""The operator's one door to the Kubernetes API: reads, server-side apply, status patches and waits.

Everything else in the operator speaks plain dicts to this module, so there is exactly one place that knows
about the `kubernetes` client, discovery, content types and how the API server reports errors. It holds no
business logic. Logging is DEBUG only and names objects by kind/namespace/name, never their contents (some
are Secrets).
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.dynamic.resource import Resource

from bridgedapp import FIELD_MANAGER, metrics
from bridgedapp.builders.sidecar import parse_server_version
from bridgedapp.cache import WATCHED_KINDS, WatchCache

log = logging.getLogger(__name__)

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
NOT_SERVED = "NotServed"  # KubeError reason (status 404) for a kind the API server does not serve

Obj = dict[str, Any]


class KubeError(Exception):
    """The API server refused a request; `reason` is its Status reason (NotFound, Invalid, Forbidden...)."""

    def __init__(self, reason: str, message: str, status_code: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FieldConflict:
    """One field another field manager owns, as the API server reported it."""

    field: str
    manager: str

    def __str__(self) -> str:
        return f"field {self.field} is owned by manager {self.manager!r}"


class ApplyConflict(KubeError):
    """A server-side apply without force touched fields another manager owns (HTTP 409)."""

    def __init__(self, target: str, conflicts: builtins.list[FieldConflict], server_message: str) -> None:
        if conflicts:
            message = f"apply of {target} conflicts: " + "; ".join(str(c) for c in conflicts)
        else:
            message = f"apply of {target} conflicts: {server_message}"
        super().__init__("Conflict", message, 409)
        self.target = target
        self.conflicts = conflicts

    @property
    def managers(self) -> builtins.list[str]:
        return sorted({c.manager for c in self.conflicts})


class KubeTimeout(Exception):
    """wait_for gave up; the message says what was awaited."""


_CONFLICT_MANAGER = re.compile(r'conflict with "((?:[^"\\]|\\.)*)"')


def _status_of(exc: ApiException) -> tuple[str, str, builtins.list[dict[str, Any]]]:
    """(reason, message, causes) from the Status body the API server sent with an error."""
    body: Any = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    reason = status.get("reason") or str(exc.reason or "Unknown")
    message = status.get("message") or f"HTTP {exc.status}: {exc.reason}"
    causes = (status.get("details") or {}).get("causes") or []
    return str(reason), str(message), causes


def _target(kind: str, name: str | None, namespace: str | None) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


NAMESPACE_TERMINATING = "NamespaceTerminating"


def _translate(exc: Exception, target: str, *, apply: bool = False) -> KubeError:
    """Turn a client exception into KubeError (or ApplyConflict), keeping the server's own message."""
    metrics.api_error(int(exc.status or 0) if isinstance(exc, ApiException) else 0)
    if isinstance(exc, ApiException):
        reason, message, causes = _status_of(exc)
        if apply and exc.status == 409:
            conflicts = []
            for cause in causes:
                if (
                    cause.get("reason") != "FieldManagerConflict"
                    and cause.get("type") != "FieldManagerConflict"
                ):
                    continue
                match = _CONFLICT_MANAGER.search(cause.get("message", ""))
                manager = match.group(1) if match else cause.get("message", "unknown")
                conflicts.append(FieldConflict(field=cause.get("field", "?"), manager=manager))
            if conflicts or reason == "Conflict":
                return ApplyConflict(target, conflicts, message)
        if exc.status == 403 and any(cause.get("reason") == NAMESPACE_TERMINATING for cause in causes):
            reason = NAMESPACE_TERMINATING  # nothing may be created or changed in a namespace being deleted
        return KubeError(reason, f"{target}: {message}", int(exc.status or 0))
    return KubeError("Unreachable", f"{target}: cannot reach the API server: {exc}", 0)


class _MemoryDiscoverer(LazyDiscoverer):
    """Discovery cached in memory only: the default file in /tmp is shared by every process and cluster."""

    def _write_cache(self) -> None:
        return None


class Kube:
    """A synchronous, thread-safe wrapper of the dynamic client, speaking dicts."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self.api_client = api_client
        never_written = os.path.join(tempfile.gettempdir(), f"bridgedapp-discovery-{uuid.uuid4().hex}.json")
        try:  # the dynamic client asks the server for /version and discovery as it is made
            self._dyn = DynamicClient(api_client, cache_file=never_written, discoverer=_MemoryDiscoverer)
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            raise _translate(exc, str(api_client.configuration.host)) from exc
        self._lock = threading.RLock()
        self._resources: dict[tuple[str, str], Resource] = {}
        self._server_version: tuple[int, int] | None = None
        # The running operator's watches feed this (handlers.py); then reads of watched kinds are memory.
        self.cache: WatchCache | None = None

    @classmethod
    def from_env(cls, kubeconfig: str | None = None) -> Kube:
        """An explicit kubeconfig, else the in-cluster service account, else KUBECONFIG / ~/.kube/config."""
        configuration = k8s_client.Configuration()
        if kubeconfig:
            k8s_config.load_kube_config(
                config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            # The client reads $KUBECONFIG when it is imported; read it now, so a late setting counts.
            k8s_config.load_kube_config(
                config_file=os.environ.get("KUBECONFIG"),
                client_configuration=configuration,
                persist_config=False,
            )
        # Handlers run in a thread pool; let every thread keep its connection.
        configuration.connection_pool_maxsize = 32
        return cls(k8s_client.ApiClient(configuration))

    # --- discovery -------------------------------------------------------------------------------------

    def server_version(self) -> tuple[int, int]:
        """(major, minor), read once: a server is not upgraded under a running operator's client often
        enough to justify a GET /version on every pass."""
        if self._server_version is None:
            info = k8s_client.VersionApi(self.api_client).get_code()
            self._server_version = parse_server_version(info.major, info.minor)
        return self._server_version

    def served_versions(self, group: str, *, refresh: bool = False) -> builtins.list[str]:
        """Versions of an API group the server serves, preferred first; [] when the group is absent.

        Discovery is cached; pass refresh=True after installing or removing CRDs.
        """
        with self._lock:
            if refresh:
                self._dyn.resources.invalidate_cache()
                self._resources.clear()
            groups = self._dyn.resources.parse_api_groups(request_resources=False)
            versions = groups.get("apis", {}).get(group, {})
            preferred = [v for v, rg in versions.items() if rg.preferred]
            return preferred + [v for v in versions if v not in preferred]

    def has_kind(self, api_version: str, kind: str) -> bool:
        try:
            self._resource(api_version, kind)
        except KubeError:
            return False
        return True

    def _resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        with self._lock:
            if key not in self._resources:
                try:
                    # A miss makes the lazy discoverer re-read the server once before giving up.
                    prefix = "apis" if "/" in api_version else "api"
                    self._resources[key] = self._dyn.resources.get(
                        prefix=prefix, api_version=api_version, kind=kind
                    )
                except ResourceNotFoundError as exc:
                    raise KubeError(
                        NOT_SERVED, f"the API server does not serve {kind} in {api_version}", 404
                    ) from exc
                except (ApiException, urllib3.exceptions.HTTPError) as exc:
                    raise _translate(exc, f"discovery of {kind} {api_version}") from exc
            return self._resources[key]

    # --- requests ----------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, target: str, *, apply: bool = False, **params: Any) -> Obj:
        try:
            resp = self._dyn.request(method, path, serialize=False, **params)
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            raise _translate(exc, target, apply=apply) from exc
        return json.loads(resp.data) if resp.data else {}

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist (also when the server does not serve its kind).

        With a cache (`self.cache`), a watched kind is read from it; a miss is a GET whose answer is recorded.
        """
        if self.cache is None or kind not in WATCHED_KINDS:
            return self._get(api_version, kind, name, namespace)
        known, obj = self.cache.lookup(kind, namespace, name)
        if known:
            return obj
        since = time.monotonic()
        obj = self._get(api_version, kind, name, namespace)
        found = {"kind": kind, **obj} if obj is not None else None
        self.cache.fetched(kind, namespace, name, found, since=since)
        return obj

    def _get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        log.debug("get %s", _target(kind, name, namespace))
        try:
            resource = self._resource(api_version, kind)
            return self._request(
                "get", resource.path(name=name, namespace=namespace), _target(kind, name, namespace)
            )
        except KubeError as exc:
            if exc.status_code == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        """Objects of a kind in one namespace, or in all (namespace=None); items carry apiVersion/kind.

        A kind the server does not serve has no objects: [].
        """
        try:
            return self._list(api_version, kind, namespace, label_selector, field_selector)["items"]
        except KubeError as exc:
            if exc.reason == NOT_SERVED:
                return []
            raise

    def _list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        resource = self._resource(api_version, kind)
        log.debug("list %s in %s (labels %s)", kind, namespace or "all namespaces", label_selector)
        result = self._request(
            "get",
            resource.path(namespace=namespace),
            f"list of {kind}",
            label_selector=label_selector,
            field_selector=field_selector,
        )
        result["items"] = [
            {"apiVersion": api_version, "kind": kind, **item} for item in result.get("items") or []
        ]
        return result

    def apply(self, obj: Obj, *, force: bool = False, field_manager: str = FIELD_MANAGER) -> Obj:
        """Server-side apply: the object holds exactly the fields this manager wants to own.

        Raises ApplyConflict (naming the fields and their managers) when another manager owns a field with a
        different value and force is False.
        """
        kind, name, namespace = obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")
        resource = self._resource(obj["apiVersion"], kind)
        target = _target(kind, name, namespace if resource.namespaced else None)
        log.debug("apply %s (manager %s, force %s)", target, field_manager, force)
        since = time.monotonic()
        result = self._request(
            "patch",
            resource.path(name=name, namespace=namespace if resource.namespaced else None),
            target,
            apply=True,
            body=obj,
            content_type=APPLY_PATCH,
            field_manager=field_manager,
            force_conflicts=force,
        )
        self._record(kind, result, since)
        return result

    def _record(self, kind: str, result: Obj, since: float) -> None:
        """A write's answer is as fresh as a GET: the cache holds it."""
        if self.cache is not None and kind in WATCHED_KINDS and result:
            self.cache.remember({"kind": kind, **result}, since=since)

    def create_if_absent(self, obj: Obj, *, field_manager: str = FIELD_MANAGER) -> tuple[Obj, bool]:
        """Create the object unless one of that name exists: (object, True) if created, (existing, False)."""
        kind, name, namespace = obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")
        resource = self._resource(obj["apiVersion"], kind)
        ns = namespace if resource.namespaced else None
        target = _target(kind, name, ns)
        for _ in range(3):  # created-then-deleted races are rare; do not loop forever on them
            try:
                log.debug("create %s", target)
                created = self._request(
                    "post", resource.path(namespace=ns), target, body=obj, field_manager=field_manager
                )
                return created, True
            except KubeError as exc:
                if exc.reason != "AlreadyExists":
                    raise
            existing = self.get(obj["apiVersion"], kind, name, ns)
            if existing is not None:
                return existing, False
        raise KubeError("Conflict", f"{target}: it keeps being deleted while being created", 409)

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete the object; False when it was already gone (or its kind is no longer served)."""
        target = _target(kind, name, namespace)
        log.debug("delete %s (%s)", target, propagation)
        try:
            resource = self._resource(api_version, kind)
            self._request(
                "delete",
                resource.path(name=name, namespace=namespace),
                target,
                body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation},
            )
        except KubeError as exc:
            if exc.status_code == 404:
                return False
            raise
        finally:
            if self.cache is not None:  # it may linger with finalizers: read it again when asked
                self.cache.forget(kind, namespace, name)
        return True

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str | None, status: Obj) -> Obj:
        """Merge-patch the status subresource (null values remove keys)."""
        resource = self._resource(api_version, kind)
        target = _target(kind, name, namespace) + " status"
        log.debug("patch %s", target)
        since = time.monotonic()
        result = self._request(
            "patch",
            resource.path(name=name, namespace=namespace) + "/status",
            target,
            body={"status": status},
            content_type=MERGE_PATCH,
            field_manager=FIELD_MANAGER,
        )
        self._record(kind, result, since)
        return result

    def patch_merge(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        """JSON merge patch of the main resource (annotations, finalizers...)."""
        resource = self._resource(api_version, kind)
        target = _target(kind, name, namespace)
        log.debug("merge-patch %s", target)
        return self._request(
            "patch",
            resource.path(name=name, namespace=namespace),
            target,
            body=patch,
            content_type=MERGE_PATCH,
            field_manager=FIELD_MANAGER,
        )

    def namespace_exists(self, name: str) -> bool:
        return self.get("v1", "Namespace", name) is not None

    def pod_log(self, name: str, namespace: str, container: str, *, tail_lines: int = 10) -> str:
        """The last lines a container wrote, its previous run's when it is restarting (for `explain`)."""
        target = _target("Pod", name, namespace)
        log.debug("log of %s in %s", container, target)
        core = k8s_client.CoreV1Api(self.api_client)
        for previous in (True, False):
            try:
                text = core.read_namespaced_pod_log(
                    name, namespace, container=container, tail_lines=tail_lines, previous=previous
                )
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                if previous:
                    continue  # no previous run: read the current one
                raise _translate(exc, target) from exc
            if text or not previous:
                return str(text or "")
        return ""

    def wait_for(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        predicate: Callable[[Obj | None], bool],
        *,
        timeout: float,
        describe: str,
    ) -> Obj | None:
        """Watch one object until predicate(object or None) holds; return what satisfied it.

        Raises KubeTimeout naming `describe` when `timeout` seconds pass first.
        """
        resource = self._resource(api_version, kind)
        selector = f"metadata.name={name}"
        deadline = time.monotonic() + timeout
        log.debug("wait up to %.0fs for %s", timeout, describe)
        while True:
            listing = self._list(api_version, kind, namespace, field_selector=selector)
            current: Obj | None = listing["items"][0] if listing["items"] else None
            if predicate(current):
                return current
            resource_version = listing["metadata"]["resourceVersion"]
            while (remaining := deadline - time.monotonic()) > 0:
                watcher = k8s_watch.Watch()
                try:
                    for event in watcher.stream(
                        self._dyn.get,
                        resource,
                        namespace=namespace,
                        field_selector=selector,
                        resource_version=resource_version,
                        serialize=False,
                        timeout_seconds=max(1, int(remaining)),
                        _request_timeout=remaining + 10,
                    ):
                        obj = event["raw_object"]
                        if event["type"] == "BOOKMARK":
                            continue
                        resource_version = obj["metadata"]["resourceVersion"]
                        current = None if event["type"] == "DELETED" else obj
                        if predicate(current):
                            watcher.stop()
                            return current
                        if time.monotonic() >= deadline:
                            break
                except ApiException as exc:
                    if exc.status == 410:  # our resourceVersion is too old: list again
                        break
                    raise _translate(exc, f"watch of {describe}") from exc
                except urllib3.exceptions.ReadTimeoutError:
                    continue
                except urllib3.exceptions.HTTPError as exc:
                    raise _translate(exc, f"watch of {describe}") from exc
                finally:
                    watcher.stop()
            else:
                raise KubeTimeout(f"timed out after {timeout:g}s waiting for {describe}")

    def follow(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        *,
        stop: threading.Event,
        timeout_seconds: int = 300,
    ) -> Iterator[tuple[bool, Obj | None]]:
        """One object now and after every change, until `stop` is set: (exists, object). A deletion gives
        (False, the object as it was), so a caller can tell whose; an object absent at the start (False, None).

        A list, then a watch resumed from where the last one ended (a new list only when the server no longer
        knows that point, HTTP 410): at rest, one long request per `timeout_seconds`. A failed connection is
        retried after a second, so what the caller holds may lag while the API server is away.
        """
        selector = f"metadata.name={name}"
        resource_version: str | None = None
        while not stop.is_set():
            try:
                resource = self._resource(api_version, kind)
                if resource_version is None:
                    listing = self._list(api_version, kind, namespace, field_selector=selector)
                    yield (True, listing["items"][0]) if listing["items"] else (False, None)
                    resource_version = listing["metadata"]["resourceVersion"]
                watcher = k8s_watch.Watch()
                try:
                    for event in watcher.stream(
                        self._dyn.get,
                        resource,
                        namespace=namespace,
                        field_selector=selector,
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        serialize=False,
                        timeout_seconds=timeout_seconds,
                        _request_timeout=timeout_seconds + 30,
                    ):
                        obj = event["raw_object"]
                        resource_version = obj["metadata"].get("resourceVersion") or resource_version
                        if event["type"] != "BOOKMARK":
                            yield event["type"] != "DELETED", obj
                        if stop.is_set():
                            return
                finally:
                    watcher.stop()
            except ApiException as exc:
                if exc.status != 410:
                    log.debug("watch of %s failed: %s", _target(kind, name, namespace), exc.status)
                    stop.wait(1.0)
                resource_version = None if exc.status == 410 else resource_version
            except (urllib3.exceptions.HTTPError, KubeError) as exc:
                log.debug("watch of %s failed: %s", _target(kind, name, namespace), type(exc).__name__)
                stop.wait(1.0)
