"""Read readiness out of observed Strimzi objects (Kafka, KafkaNodePool, KafkaTopic, KafkaUser).

A Strimzi resource counts as ready only when its `Ready` condition is True *and* Strimzi has
reconciled the current spec (`status.observedGeneration == metadata.generation`): a Ready left over
from the previous generation says nothing about the change just applied. The one exception is what
Strimzi itself does: it never gives a KafkaNodePool a Ready condition (only observedGeneration, node
ids and warnings), so a pool counts as ready when its current generation has all its node ids.
Pure functions over dicts.
"""

from __future__ import annotations

from typing import Any

from bridgedapp.builders.kafka import bootstrap_service_address
from bridgedapp.reasons import RESOURCE_DELETING as DELETING
from bridgedapp.reasons import RESOURCE_NOT_FOUND as NOT_FOUND
from bridgedapp.reasons import RESOURCE_NOT_READY as NOT_READY
from bridgedapp.reasons import RESOURCE_PAUSED as PAUSED
from bridgedapp.reasons import RESOURCE_READY as READY
from bridgedapp.reasons import WAITING_FOR_STRIMZI as WAITING


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = obj.get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or [] if isinstance(c, dict) and "type" in c}


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind") or "Strimzi resource"
    where = "/".join(part for part in (meta.get("namespace"), meta.get("name")) if part)
    return f"{kind} {where}" if where else kind


def readiness(obj: dict[str, Any] | None, *, what: str | None = None) -> tuple[bool, str, str]:
    """(ready, reason, message): Strimzi's own reason and message when it reports a problem.

    `what` names the object when it is absent (e.g. "Kafka kafka/my-cluster").
    """
    if obj is None:
        return False, NOT_FOUND, f"{what or 'the Strimzi resource'} not found"
    name = _describe(obj)
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False, DELETING, f"{name} is being deleted"
    conditions = _conditions(obj)
    paused = conditions.get("ReconciliationPaused")
    if paused and paused.get("status") == "True":
        return (
            False,
            PAUSED,
            f"Strimzi's reconciliation of {name} is paused; remove the annotation "
            "strimzi.io/pause-reconciliation to resume it",
        )
    generation = meta.get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is None or observed != generation:
        seen = "nothing yet" if observed is None else f"generation {observed}"
        return (
            False,
            WAITING,
            f"waiting for Strimzi to reconcile generation {generation} of {name} (it has observed {seen})",
        )
    ready = conditions.get("Ready")
    if ready is not None:
        message = ready.get("message") or ""
        if ready.get("status") == "True":
            return True, READY, message or f"{name} is ready"
        return False, ready.get("reason") or NOT_READY, message or f"{name} is not ready"
    if obj.get("kind") == "KafkaNodePool":
        return _node_pool_readiness(obj, name)
    not_ready = conditions.get("NotReady")
    if not_ready is not None and not_ready.get("status") == "True":
        return (
            False,
            not_ready.get("reason") or NOT_READY,
            not_ready.get("message") or f"{name} is not ready",
        )
    return False, WAITING, f"Strimzi has not reported {name} Ready yet"


def _node_pool_readiness(pool: dict[str, Any], name: str) -> tuple[bool, str, str]:
    """Strimzi gives a KafkaNodePool no Ready condition: it is ready once all its nodes have ids.

    Whether those nodes run is the Kafka's Ready condition (Strimzi sets it after the pods are ready).
    """
    wanted = (pool.get("spec") or {}).get("replicas")
    status = pool.get("status") or {}
    assigned = status.get("replicas")
    if wanted is not None and assigned == wanted:
        return True, READY, f"{name}: {assigned} node(s) with ids {status.get('nodeIds') or []}"
    return False, WAITING, f"{name}: Strimzi has assigned {assigned or 0} of {wanted} node(s)"


def is_ready(obj: dict[str, Any] | None) -> bool:
    """Ready for the current generation (see `readiness` for what that means per kind)."""
    return readiness(obj)[0]


def bootstrap_tls(kafka_obj: dict[str, Any] | None) -> str | None:
    """Bootstrap address of the `tls` listener: what Strimzi reports, else the Service it always creates."""
    if kafka_obj is None:
        return None
    for listener in (kafka_obj.get("status") or {}).get("listeners") or []:
        if isinstance(listener, dict) and listener.get("name") == "tls" and listener.get("bootstrapServers"):
            return str(listener["bootstrapServers"])
    meta = kafka_obj.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not name or not namespace:
        return None
    return bootstrap_service_address(name, namespace)
