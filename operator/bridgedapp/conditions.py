"""Conditions, phase and the kstatus pair, computed from checks: pure functions, no I/O.

Every reconcile pass produces one `Check` per condition type. `build_status` folds them into the status
object; unchanged checks keep their `lastTransitionTime`, so a pass that observes nothing new produces a
status equal to the stored one, and the operator writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridgedapp import reasons as r
from bridgedapp.reasons import DELETING, IN_PROGRESS, PAUSED

STRIMZI_READY = "StrimziReady"
KAFKA_READY = "KafkaReady"
TOPICS_READY = "TopicsReady"
USER_READY = "UserReady"
SIDECAR_INJECTED = "SidecarInjected"
APP_AVAILABLE = "AppAvailable"
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"

PAUSED_MESSAGE = "spec.paused is true: the operator observes and reports but changes nothing."

PHASE_PAUSED = "Paused"
PHASE_DELETING = "Deleting"

#: The conditions that together make `Ready`, in the order the operator works through them.
COMPONENTS = (STRIMZI_READY, KAFKA_READY, TOPICS_READY, USER_READY, SIDECAR_INJECTED, APP_AVAILABLE)
ALL_TYPES = (READY, *COMPONENTS, RECONCILING, STALLED)


@dataclass(frozen=True)
class Check:
    """The outcome of one step: ok True/False, or None when it could not be judged yet (Unknown).

    `stalled` marks a failure that will not resolve by waiting: a user or admin must act.
    """

    type: str
    ok: bool | None
    reason: str
    message: str = ""
    stalled: bool = False

    @property
    def status(self) -> str:
        return {True: "True", False: "False", None: "Unknown"}[self.ok]


MAX_MESSAGE = 4096  # a condition's message; the CRD allows 32768, a person reads far less


def bounded(message: str, limit: int = MAX_MESSAGE) -> str:
    """`message`, cut to `limit` characters with a note saying so: a status must never outgrow its object."""
    if len(message) <= limit:
        return message
    note = f" ... ({len(message) - limit} more characters)"
    return message[: limit - len(note)] + note


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_type(status: str, reason: str) -> str:
    """The Kubernetes event type announcing a condition's change to `status` with `reason`."""
    return "Warning" if status == "False" and reason not in IN_PROGRESS else "Normal"


def waiting(type_: str, on: str) -> Check:
    """A component that cannot be judged until an earlier one is ready."""
    return Check(type_, None, r.waiting_for(on), f"Waiting for {on} to become ready first.")


def first_per_type(checks: list[Check]) -> list[Check]:
    """One check per condition type, the first reported winning (a step that failed early explains most).

    The API server rejects a status whose conditions repeat a type, so a repeat must never reach it.
    """
    seen: set[str] = set()
    return [c for c in checks if not (c.type in seen or seen.add(c.type))]


def summarize(checks: list[Check], *, paused: bool = False) -> tuple[Check, Check, Check, str]:
    """Ready, Reconciling, Stalled and the phase, from the component checks."""
    by_type = {c.type: c for c in checks}
    if paused:
        return (
            Check(READY, False, PAUSED, PAUSED_MESSAGE),
            Check(RECONCILING, False, PAUSED, PAUSED_MESSAGE),
            Check(STALLED, False, PAUSED, PAUSED_MESSAGE),
            PHASE_PAUSED,
        )
    missing = [t for t in COMPONENTS if t not in by_type]
    failing = [by_type[t] for t in COMPONENTS if t in by_type and by_type[t].ok is not True]
    stalled = [c for c in failing if c.stalled]
    if not failing and not missing:
        return (
            Check(READY, True, r.ALL_READY, "The bridge is injected and every dependency is ready."),
            Check(RECONCILING, False, r.RECONCILED, "Nothing left to do."),
            Check(STALLED, False, r.NOT_STALLED, ""),
            "Ready",
        )
    first = stalled[0] if stalled else failing[0] if failing else waiting(missing[0], "Reconcile")
    ready = Check(READY, False, first.reason, f"{first.type}: {first.message}")
    if stalled:
        return (
            ready,
            Check(RECONCILING, False, r.STALLED, "Progress needs the action named in Stalled."),
            Check(STALLED, True, first.reason, f"{first.type}: {first.message}"),
            "Degraded",
        )
    strimzi = by_type.get(STRIMZI_READY)
    phase = "Pending" if strimzi is None or strimzi.ok is not True else "Provisioning"
    return (
        ready,
        Check(RECONCILING, True, first.reason, f"{first.type}: {first.message}"),
        Check(STALLED, False, r.NOT_STALLED, ""),
        phase,
    )


def merge_conditions(
    existing: list[dict[str, Any]], checks: list[Check], *, generation: int, now: str | None = None
) -> list[dict[str, Any]]:
    """New condition dicts; `lastTransitionTime` moves only when a condition's status flips."""
    previous = {c.get("type"): c for c in existing or []}
    stamp = now or now_iso()
    merged = []
    for check in checks:
        old = previous.get(check.type)
        flipped = old is None or old.get("status") != check.status
        merged.append(
            {
                "type": check.type,
                "status": check.status,
                "reason": check.reason,
                "message": bounded(check.message),
                "observedGeneration": generation,
                "lastTransitionTime": stamp if flipped else old["lastTransitionTime"],
            }
        )
    order = {t: i for i, t in enumerate(ALL_TYPES)}
    return sorted(merged, key=lambda c: order.get(c["type"], len(order)))


def build_status(
    current: dict[str, Any] | None,
    checks: list[Check],
    *,
    generation: int,
    paused: bool = False,
    extra: dict[str, Any] | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """The complete status for this pass. When paused, the components are still observed and reported;
    only the summary (Ready, Reconciling, Stalled, phase) says Paused."""
    current = current or {}
    checks = first_per_type(checks)
    ready, reconciling, stalled, phase = summarize(checks, paused=paused)
    all_checks = [*checks, ready, reconciling, stalled]
    conditions = merge_conditions(current.get("conditions", []), all_checks, generation=generation, now=now)
    status: dict[str, Any] = {"observedGeneration": generation, "phase": phase, "conditions": conditions}
    for key, value in (extra or {}).items():
        if value is not None:
            status[key] = value
    return status


def _with_summary(
    current: dict[str, Any], summary: list[Check], *, generation: int, now: str | None
) -> list[dict[str, Any]]:
    """The components' conditions as last seen, with a new summary (Ready, Reconciling, Stalled)."""
    kept = [c for c in current.get("conditions", []) if c.get("type") not in (READY, RECONCILING, STALLED)]
    merged = merge_conditions(current.get("conditions", []), summary, generation=generation, now=now)
    order = {t: i for i, t in enumerate(ALL_TYPES)}
    return sorted([*kept, *merged], key=lambda c: order.get(c["type"], len(order)))


def deleting_status(
    current: dict[str, Any] | None, *, generation: int, now: str | None = None
) -> dict[str, Any]:
    """The status while the finalizer runs: the components as last seen, Ready False, phase Deleting."""
    current = current or {}
    message = "The BridgedApp is being deleted: the operator removes what it added (topics and data stay)."
    summary = [
        Check(READY, False, DELETING, message),
        Check(RECONCILING, True, DELETING, message),
        Check(STALLED, False, r.NOT_STALLED, ""),
    ]
    conditions = _with_summary(current, summary, generation=generation, now=now)
    return {"phase": PHASE_DELETING, "conditions": conditions}


def invalid_spec_status(
    current: dict[str, Any] | None, problem: str, *, generation: int, now: str | None = None
) -> dict[str, Any]:
    """The stored spec does not validate (`problem` names the fields): nothing can be judged, so the
    components stay as last seen; Ready False and Stalled True say what to fix; the extras stay."""
    current = current or {}
    message = f"{problem}. Fix the BridgedApp."
    summary = [
        Check(READY, False, r.INVALID_SPEC, message),
        Check(RECONCILING, False, r.STALLED, "Progress needs the action named in Stalled."),
        Check(STALLED, True, r.INVALID_SPEC, message),
    ]
    status = {
        "observedGeneration": generation,
        "phase": "Degraded",
        "conditions": _with_summary(current, summary, generation=generation, now=now),
    }
    return {**status, **{k: current[k] for k in ("strimzi", "kafka", "bridge") if current.get(k)}}


def transitions(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Conditions whose status or reason changed: each one deserves an event."""
    before = {c["type"]: (c.get("status"), c.get("reason")) for c in (old or {}).get("conditions", [])}
    return [c for c in new["conditions"] if before.get(c["type"]) != (c["status"], c["reason"])]
