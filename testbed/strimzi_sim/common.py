"""TEST DOUBLE — shared plumbing of the Strimzi simulator: API calls, discovery, labels, status, conditions.

Everything here mirrors what Strimzi's operators do with the same objects (names, labels, owner
references, condition shapes), read from Strimzi's source; nothing here talks to Kafka.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
import requests

from testbed.kubeclient import pykube_client

log = logging.getLogger("testbed.strimzi_sim")

GROUP = "kafka.strimzi.io"
# The Kafka API versions Strimzi serves, newest first: v1 from 1.0 on, v1beta2 in 0.45-0.48.
KNOWN_VERSIONS = ("v1", "v1beta2")
# What the simulated operator reports as its version (status.operatorLastSuccessfulVersion), and its
# default Kafka version, per served API version (kafka-versions.yaml of Strimzi 1.2.0 and 0.48.0).
OPERATOR_VERSION = {"v1": "1.2.0", "v1beta2": "0.48.0"}
DEFAULT_KAFKA_VERSION = {"v1": "4.3.1", "v1beta2": "4.1.0"}
METADATA_VERSIONS = {
    "4.3.1": "4.3-IV0",
    "4.3.0": "4.3-IV0",
    "4.2.1": "4.2-IV1",
    "4.2.0": "4.2-IV1",
    "4.1.2": "4.1-IV1",
    "4.1.1": "4.1-IV1",
    "4.1.0": "4.1-IV1",
}
PLURALS = {
    "Kafka": "kafkas",
    "KafkaNodePool": "kafkanodepools",
    "KafkaUser": "kafkausers",
    "KafkaTopic": "kafkatopics",
}
KINDS = tuple(PLURALS)

PAUSE_ANNOTATION = "strimzi.io/pause-reconciliation"
CLUSTER_LABEL = "strimzi.io/cluster"
KIND_LABEL = "strimzi.io/kind"
CLUSTER_OPERATOR_NAME = "strimzi-cluster-operator"
# Strimzi's STRIMZI_LABELS_EXCLUSION_PATTERN default: a CR's labels are copied to what it owns, except these.
_LABELS_EXCLUDED = re.compile(r"(^app.kubernetes.io/(?!part-of).*|^kustomize.toolkit.fluxcd.io.*)")

HTTP_TIMEOUT = 15.0


class Conflict(RuntimeError):
    """The object changed since it was read (HTTP 409); the next pass retries with fresh data."""


class ApiError(RuntimeError):
    """The API server refused a request; the message carries its status and reason, never a body of data."""


class NamespaceTerminating(ApiError):
    """HTTP 403: nothing new may be created in a namespace that is being deleted."""


@contextlib.contextmanager
def skipped_if_terminating() -> Iterator[None]:
    """Strimzi reconciles each resource on its own: one in a namespace being deleted fails alone, quietly."""
    try:
        yield
    except NamespaceTerminating as err:
        log.info("skipped: %s", err)


def make_client(kubeconfig: Path | str) -> pykube.HTTPClient:
    """A pykube client of our own (one per thread: a requests Session is not shared across threads)."""
    return pykube_client(kubeconfig, timeout=HTTP_TIMEOUT)


class Api:
    """Raw JSON access to the API server through pykube's authenticated session."""

    def __init__(self, client: pykube.HTTPClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | tuple[float, float] = HTTP_TIMEOUT,
    ) -> requests.Response:
        return self.client.session.request(
            method,
            self.client.url + path,
            data=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else None,
            params=dict(params or {}),
            stream=stream,
            timeout=timeout,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One request; 404 gives None, 409 raises Conflict, other errors ApiError (status + server message)."""
        response = self.request(method, path, body=body, params=params)
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            raise Conflict(f"{method} {path}: {_server_message(response)}")
        if response.status_code >= 400:
            message = _server_message(response)
            if response.status_code == 403 and "is being terminated" in message:
                raise NamespaceTerminating(f"{method} {path}: {message}")
            raise ApiError(f"{method} {path}: HTTP {response.status_code}: {message}")
        return response.json() if response.content else {}

    def get(self, path: str) -> dict[str, Any] | None:
        return self.call("GET", path)

    def list(self, path: str, *, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Items of a collection and the list's resourceVersion (to start a watch from)."""
        params = {"labelSelector": label_selector} if label_selector else None
        result = self.call("GET", path, params=params) or {}
        return list(result.get("items") or []), str((result.get("metadata") or {}).get("resourceVersion", ""))


def _server_message(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.reason or ""
    return str(payload.get("message") or payload.get("reason") or response.reason)


# ----- paths ------------------------------------------------------------------------------------


def cr_path(version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """Collection or object path of a Strimzi custom resource."""
    base = f"/apis/{GROUP}/{version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{PLURALS[kind]}"
    return f"{base}/{name}" if name else base


def secret_path(namespace: str | None = None, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
    return f"{base}/{name}" if name else base


def served_version(api: Api) -> str | None:
    """The Kafka API version to use: v1 where served (Strimzi 1.x), else v1beta2 (0.45-0.48), else None."""
    group = api.get(f"/apis/{GROUP}")
    if not group:
        return None
    served = {v.get("version") for v in group.get("versions") or []}
    return next((v for v in KNOWN_VERSIONS if v in served), None)


def status_schema(api: Api, kind: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI schema of `status` in the installed CRD, to drop what the server would prune."""
    crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PLURALS[kind]}.{GROUP}")
    for entry in (crd or {}).get("spec", {}).get("versions", []):
        if entry.get("name") == version:
            return (entry.get("schema", {}).get("openAPIV3Schema", {}).get("properties") or {}).get("status")
    return None


def prune(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """Drop fields the structural schema does not know, and None values, as the API server would.

    Writing a field that the server prunes would make every later comparison differ, and the
    simulator would write forever; pruning first keeps "no change => no write" true.
    """
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    if schema is None or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        return {k: prune(v, props[k]) for k, v in value.items() if k in props}
    if isinstance(value, list) and "items" in schema:
        return [prune(v, schema["items"]) for v in value]
    return value


# ----- objects ----------------------------------------------------------------------------------


def key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def inherited_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """The labels Strimzi copies from a custom resource onto what it creates (Labels.fromResource)."""
    return {k: v for k, v in labels_of(obj).items() if not _LABELS_EXCLUDED.match(k)}


def label_value(instance: str) -> str:
    """Strimzi's Labels.getOrValidInstanceLabelValue: at most 63 characters, no trailing `.`, `-` or `_`."""
    return instance[:63].rstrip(".-_")


def default_labels(kafka: Mapping[str, Any], component_name: str, component_type: str) -> dict[str, str]:
    """Strimzi's Labels.generateDefaultLabels(kafka, componentName, componentType, "strimzi-cluster-operator")."""
    name = kafka["metadata"]["name"]
    return {
        **inherited_labels(kafka),
        KIND_LABEL: kafka.get("kind", "Kafka"),
        "strimzi.io/name": component_name,
        CLUSTER_LABEL: name,
        "strimzi.io/component-type": component_type,
        "app.kubernetes.io/name": component_type,
        "app.kubernetes.io/instance": label_value(name),
        "app.kubernetes.io/part-of": label_value(f"strimzi-{name}"),
        "app.kubernetes.io/managed-by": CLUSTER_OPERATOR_NAME,
    }


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The owner reference Strimzi puts on the Secrets it makes: not a controller, blocks owner deletion."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
        "controller": False,
    }


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(data: str | None) -> bytes:
    return base64.b64decode(data) if data else b""


def iso_now() -> str:
    """UTC time like Strimzi's StatusUtils.iso8601Now() (Java's DateTimeFormatter.ISO_INSTANT of a nanosecond
    clock): the fraction in as many groups of three digits as it needs, e.g. 2026-11-25T09:08:12.356123789Z."""
    nanos = time.time_ns()
    seconds, fraction = divmod(nanos, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        digits = f"{fraction:09d}"
        while digits.endswith("000"):
            digits = digits[:-3]
        stamp += "." + digits
    return stamp + "Z"


def kafka_uuid(*parts: str) -> str:
    """A stable Kafka-style id (22 characters of URL-safe base64 of a UUID), derived from `parts`."""
    raw = uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def condition(
    type_: str,
    status: str,
    previous: list[dict[str, Any]] | None,
    *,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A condition whose lastTransitionTime moves only when its status flips (kept from `previous` otherwise)."""
    before = next((c for c in previous or [] if c.get("type") == type_), None)
    when = before.get("lastTransitionTime") if before and before.get("status") == status else None
    result: dict[str, Any] = {"type": type_, "status": status, "lastTransitionTime": when or iso_now()}
    if reason:
        result["reason"] = reason
    if message:
        result["message"] = message
    return result


def paused(obj: Mapping[str, Any]) -> bool:
    """Whether `strimzi.io/pause-reconciliation: "true"` stops Strimzi from touching this resource."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PAUSE_ANNOTATION, "")).lower() == "true"


def paused_status(obj: Mapping[str, Any], **kept: Any) -> dict[str, Any]:
    """Strimzi's status of a paused resource: ReconciliationPaused, the last observedGeneration, `kept`."""
    old = obj.get("status") or {}
    return {
        **kept,
        "conditions": [condition("ReconciliationPaused", "True", old.get("conditions"))],
        "observedGeneration": old.get("observedGeneration", 0),
    }


# ----- one pass's view of the cluster -----------------------------------------------------------

ObjKey = tuple[str, str]


@dataclass
class Snapshot:
    """Everything the simulated operators look at, listed once per pass and updated by their own writes."""

    version: str
    objects: dict[str, dict[ObjKey, dict[str, Any]]] = field(default_factory=dict)
    secrets: dict[ObjKey, dict[str, Any]] = field(default_factory=dict)

    def of(self, kind: str) -> dict[ObjKey, dict[str, Any]]:
        return self.objects.setdefault(kind, {})

    def in_namespace(self, kind: str, namespace: str, cluster: str | None = None) -> Iterator[dict[str, Any]]:
        """Objects of `kind` in `namespace`, optionally only those labelled strimzi.io/cluster=`cluster`."""
        for (ns, _), obj in sorted(self.of(kind).items()):
            if ns == namespace and (cluster is None or labels_of(obj).get(CLUSTER_LABEL) == cluster):
                yield obj

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))


@dataclass(frozen=True)
class Failure:
    """An injected failure: the resource reports Ready=False with this reason and message until recovered."""

    reason: str
    message: str


class Writer:
    """Every write of the simulator goes through here: compare first, write only what differs, count writes."""

    def __init__(self, api: Api, snapshot: Snapshot, schemas: dict[str, dict[str, Any] | None]) -> None:
        self.api = api
        self.snapshot = snapshot
        self.schemas = schemas
        self.writes = 0
        self.conflicts = 0  # objects changed under us this pass: the simulator passes again soon

    # --- status of custom resources ---

    def status(self, obj: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
        """Replace `obj`'s status with `desired` (pruned to the CRD schema) unless it is already that."""
        kind = obj["kind"]
        pruned = prune(desired, self.schemas.get(kind))
        if (obj.get("status") or {}) == pruned:
            return obj
        namespace, name = key_of(obj)
        body = {**obj, "status": pruned}
        path = cr_path(self.snapshot.version, kind, namespace, name) + "/status"
        try:
            updated = self.api.call("PUT", path, body=body)
        except Conflict:
            self.conflicts += 1
            return obj
        self.writes += 1
        if updated is None:  # deleted meanwhile
            self.snapshot.of(kind).pop((namespace, name), None)
            return obj
        log.info("%s %s/%s: status written (Ready=%s)", kind, namespace, name, _ready_of(pruned))
        self.snapshot.of(kind)[(namespace, name)] = updated
        return updated

    def finalizers(self, obj: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        """Set `obj`'s metadata.finalizers (one PUT, guarded by its resourceVersion) unless they already are that."""
        if list(obj["metadata"].get("finalizers") or []) == finalizers:
            return obj
        kind = obj["kind"]
        namespace, name = key_of(obj)
        body = {**obj, "metadata": {**obj["metadata"], "finalizers": finalizers}}
        try:
            updated = self.api.call("PUT", cr_path(self.snapshot.version, kind, namespace, name), body=body)
        except Conflict:
            self.conflicts += 1
            return obj
        self.writes += 1
        if updated is None:  # gone: the last finalizer went, or it was deleted meanwhile
            self.snapshot.of(kind).pop((namespace, name), None)
            return obj
        log.info("%s %s/%s: finalizers %s", kind, namespace, name, finalizers)
        updated.setdefault("apiVersion", obj["apiVersion"])
        updated.setdefault("kind", kind)
        self.snapshot.of(kind)[(namespace, name)] = updated
        return updated

    # --- secrets ---

    def secret(self, desired: dict[str, Any], *, drop_annotations: tuple[str, ...] = ()) -> dict[str, Any]:
        """Create the Secret, or update it if its data, type, labels, annotations or owners differ.

        Annotations others set are kept, except `drop_annotations` (requests Strimzi honours once, such as
        `strimzi.io/force-renew`, gone from the Secret it writes back)."""
        namespace, name = key_of(desired)
        actual = self.snapshot.secret(namespace, name)
        if actual is None:
            actual = self.api.get(secret_path(namespace, name))
        if actual is None:
            try:
                created = self.api.call("POST", secret_path(namespace), body=desired)
            except Conflict:  # AlreadyExists: someone made it since we looked
                self.conflicts += 1
                return desired
            self.writes += 1
            log.info("Secret %s/%s created", namespace, name)
            assert created is not None
            self.snapshot.secrets[(namespace, name)] = created
            return created
        present = (actual["metadata"].get("annotations") or {}).keys() & set(drop_annotations)
        if not present and not secret_differs(actual, desired):
            self.snapshot.secrets[(namespace, name)] = actual
            return actual
        meta = dict(actual["metadata"])
        meta["labels"] = desired["metadata"].get("labels") or {}
        meta["annotations"] = {
            **{
                k: v
                for k, v in (actual["metadata"].get("annotations") or {}).items()
                if k not in drop_annotations
            },
            **(desired["metadata"].get("annotations") or {}),
        }
        meta["ownerReferences"] = desired["metadata"].get("ownerReferences") or []
        body = {**actual, "metadata": meta, "type": desired.get("type", "Opaque"), "data": desired["data"]}
        body.pop("stringData", None)
        try:
            updated = self.api.call("PUT", secret_path(namespace, name), body=body)
        except Conflict:
            self.conflicts += 1
            return actual
        self.writes += 1
        log.info("Secret %s/%s updated", namespace, name)
        if updated is not None:
            self.snapshot.secrets[(namespace, name)] = updated
        return updated or body

    def delete_secret(self, namespace: str, name: str) -> None:
        if self.snapshot.secret(namespace, name) is None:
            return
        self.api.call("DELETE", secret_path(namespace, name))
        self.writes += 1
        log.info("Secret %s/%s deleted", namespace, name)
        self.snapshot.secrets.pop((namespace, name), None)


def secret_differs(actual: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when a write is needed: data, type, labels or owners differ, or a desired annotation is missing."""
    a_meta, d_meta = actual.get("metadata") or {}, desired.get("metadata") or {}
    annotations = a_meta.get("annotations") or {}
    return (
        (actual.get("data") or {}) != (desired.get("data") or {})
        or actual.get("type", "Opaque") != desired.get("type", "Opaque")
        or (a_meta.get("labels") or {}) != (d_meta.get("labels") or {})
        or any(annotations.get(k) != v for k, v in (d_meta.get("annotations") or {}).items())
        or (a_meta.get("ownerReferences") or []) != (d_meta.get("ownerReferences") or [])
    )


def secret_object(
    namespace: str,
    name: str,
    data: Mapping[str, bytes | str],
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Secret manifest with base64 data, as Strimzi's ModelUtils.createSecret builds it."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        metadata["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {k: b64(v) for k, v in data.items()},
    }


def _ready_of(status: Mapping[str, Any]) -> str:
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ready.get("status", "?") if ready else "-"


@dataclass
class Context:
    """What one reconcile pass hands to each simulated operator."""

    api: Api
    snapshot: Snapshot
    writer: Writer
    failures: Mapping[tuple[str, str, str], Failure]
    watched_namespaces: frozenset[str] | None
    force_renew: set[tuple[str, str, str]]  # (kind, namespace, name) whose certificate must be re-issued
    key_size: int

    @property
    def version(self) -> str:
        return self.snapshot.version

    def watched(self, namespace: str) -> bool:
        """Strimzi's cluster operator only reconciles the namespaces it watches."""
        return self.watched_namespaces is None or namespace in self.watched_namespaces

    def failure(self, obj: Mapping[str, Any]) -> Failure | None:
        namespace, name = key_of(obj)
        return self.failures.get((obj["kind"], namespace, name))
