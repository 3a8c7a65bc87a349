"""What a pass reports: the BridgedApp's status and the events worth posting. Pure.

The status is built through the pydantic status model (`models.BridgedAppStatus`), so a mistyped key is an
error here rather than a field the API server silently prunes. One event per component change; a status
equal to the stored one means nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.conditions import Check
from bridgedapp.models import BridgedAppStatus, BridgeStatus, KafkaStatus, StrimziStatus
from bridgedapp.observe import rollout
from bridgedapp.strimzi import StrimziInfo
from bridgedapp.world import Event, Plan, previous_deployment


def typed(status: Mapping[str, Any]) -> dict[str, Any]:
    """`status` validated by the status model, as the API server will store it."""
    return BridgedAppStatus.model_validate(status).model_dump(by_alias=True, exclude_none=True, mode="json")


def strimzi_status(info: StrimziInfo | None) -> StrimziStatus | None:
    if info is None:
        return None
    return StrimziStatus(namespace=info.namespace, version=info.version, managed=info.managed)


def conclude(
    app: Mapping[str, Any], plan: Plan, failures: Sequence[Check] = (), *, now: str | None = None
) -> dict[str, Any]:
    """The status after a pass: the plan's checks, overridden by the writes that failed."""
    current = app.get("status") or {}
    checks = c.first_per_type([*failures, *plan.checks])
    injected = any(ch.type == c.SIDECAR_INJECTED and ch.ok for ch in checks)
    facts = plan.bridge
    bridge: BridgeStatus | None = None
    if facts.owned and injected:
        bridge = BridgeStatus(
            deployment=facts.deployment, url=facts.url, image=facts.image, config_hash=facts.config_hash
        )
    elif facts.owned and facts.deployment == previous_deployment(current) and current.get("bridge"):
        bridge = BridgeStatus.model_validate(current["bridge"])  # as last injected, until it is again
    extra = {
        "strimzi": strimzi_status(plan.strimzi),
        "kafka": KafkaStatus.model_validate(dict(plan.kafka)),
        "bridge": bridge,
    }
    status = c.build_status(
        current,
        checks,
        generation=app["metadata"].get("generation", 1),
        paused=plan.paused,
        extra={k: v.model_dump(by_alias=True, exclude_none=True) for k, v in extra.items() if v is not None},
        now=now,
    )
    return typed(status)


def invalid_spec_status(app: Mapping[str, Any], problem: str, *, now: str | None = None) -> dict[str, Any]:
    """The stored spec does not validate: Ready False and Stalled True saying which field; the components
    keep what they last said (nothing was judged), and the extras stay."""
    current = app.get("status") or {}
    return typed(
        c.invalid_spec_status(current, problem, generation=app["metadata"].get("generation", 1), now=now)
    )


def news(before: Mapping[str, Any] | None, cond: Mapping[str, Any]) -> bool:
    """Is this condition's change worth an event? A component becoming ready (not one ready when first
    reported, as a shared Kafka is), ceasing to be ready, or failing in a new way; and the start of
    something slow that resolves by itself (`r.ANNOUNCED_PROGRESS`: the Strimzi install). Not a first report
    that something is under way (a topic Strimzi has not reconciled yet), nor one step of progress to the
    next (RolloutPending -> RollingOut): a thousand apps would post them by the thousand, and the status
    says them already."""
    was = (before or {}).get("status")
    if cond["status"] == "True":
        return was is not None and was != "True"  # first reported ready (a shared Kafka): nothing changed
    if cond["status"] != "False":
        return False
    if cond["reason"] in r.IN_PROGRESS:
        return was == "True" or (
            cond["reason"] in r.ANNOUNCED_PROGRESS and (before or {}).get("reason") != cond["reason"]
        )
    return True  # a problem: a transition() is a new status or a new reason


def announcements(
    current: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    paused: bool,
    announced: frozenset[str] = frozenset(),
) -> list[Event]:
    """Events for what changed between the stored status and the new one (`news`). Components that became
    ready in the pass that made the app Ready are named in its one event, as Kubernetes would aggregate
    them; a component becoming ready by a write this pass announced already (`announced`: the condition
    types of those writes, e.g. "Applied the kafka-bridge sidecar to ...") is not announced twice."""
    events: list[Event] = []
    was_paused = current.get("phase") == c.PHASE_PAUSED
    if paused and not was_paused:
        events.append(Event("Normal", r.PAUSED, f"{c.PAUSED_MESSAGE} Conditions keep being observed."))
    elif was_paused and not paused:
        events.append(
            Event("Normal", r.RESUMED, "spec.paused is false: the operator applies the spec again.")
        )
    before = {x.get("type"): x for x in current.get("conditions") or []}
    became_ready: list[dict[str, Any]] = []
    ready: dict[str, Any] | None = None
    for cond in [] if paused else c.transitions(dict(current), dict(status)):
        if cond["type"] == c.STALLED and cond["reason"] == r.INVALID_SPEC and cond["status"] == "True":
            events.append(Event("Warning", r.INVALID_SPEC, cond["message"]))
            continue
        # Ready only when it turns True (its failures repeat a component's); Reconciling/Stalled never.
        if cond["type"] in (c.RECONCILING, c.STALLED) or (
            cond["type"] == c.READY and cond["status"] != "True"
        ):
            continue
        if not news(before.get(cond["type"]), cond):
            continue
        if cond["type"] == c.READY:
            ready = cond
        elif cond["status"] == "True":
            if cond["type"] not in announced:
                became_ready.append(cond)
        else:
            kind = c.event_type(cond["status"], cond["reason"])
            events.append(Event(kind, cond["reason"], f"{cond['type']}: {cond['message']}"))
    if ready is not None:
        also = f" Ready now: {', '.join(x['type'] for x in became_ready)}." if became_ready else ""
        events.append(Event("Normal", ready["reason"], f"{ready['type']}: {ready['message']}{also}"))
    else:
        events += [Event("Normal", x["reason"], f"{x['type']}: {x['message']}") for x in became_ready]
    return events


def progress_only(current: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Does `status` only report progress others make once the bridge is injected: the same generation,
    Ready False before and after, nothing stalled, the sidecar injected before and after, and every other
    changed condition either a component turning ready (a topic Strimzi readied late) or a step of something
    under way (pods rolling out)? Such a change may wait to share a patch with the next (`Reconciler._store`);
    the first status, the injection, a problem, a stall and Ready in either direction never wait."""
    if not current.get("conditions") or current.get("observedGeneration") != status.get("observedGeneration"):
        return False
    before = {x.get("type"): x for x in current.get("conditions") or []}
    after = {x.get("type"): x for x in status.get("conditions") or []}
    for kind, held in ((c.READY, "False"), (c.STALLED, "False"), (c.SIDECAR_INJECTED, "True")):
        if (before.get(kind) or {}).get("status") != held or (after.get(kind) or {}).get("status") != held:
            return False
    for cond in c.transitions(dict(current), dict(status)):
        if cond["type"] in (c.READY, c.RECONCILING):
            continue
        if cond["status"] == "False" and cond["reason"] not in r.IN_PROGRESS:
            return False
    return True


def availability(app: Mapping[str, Any], deployment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The status after a change of only the Deployment's status (pods starting, rolling, failing): just
    AppAvailable and the summary move, the rest stays as the last pass wrote it. None when that is not
    enough (the app is paused, stalled, being deleted, not injected into this Deployment, or its spec is
    newer than its status): then a full pass decides."""
    meta, current = app["metadata"], app.get("status") or {}
    bridge = current.get("bridge") or {}
    conditions = {x.get("type"): x for x in current.get("conditions") or []}
    if (
        meta.get("deletionTimestamp")
        or current.get("phase") in (c.PHASE_PAUSED, c.PHASE_DELETING)
        or current.get("observedGeneration") != meta.get("generation", 1)
        or (conditions.get(c.STALLED) or {}).get("status") != "False"
        or (conditions.get(c.SIDECAR_INJECTED) or {}).get("status") != "True"
        or bridge.get("deployment") != deployment["metadata"]["name"]
        or not bridge.get("configHash")
        or any(t not in conditions for t in c.COMPONENTS)
    ):
        return None
    ok, reason, message = rollout(dict(deployment), bridge["configHash"])
    checks = [
        Check(
            t,
            {"True": True, "False": False}.get(conditions[t]["status"]),
            conditions[t]["reason"],
            conditions[t].get("message", ""),
        )
        for t in c.COMPONENTS
        if t != c.APP_AVAILABLE
    ]
    checks.append(Check(c.APP_AVAILABLE, ok, reason, message))
    extra = {k: current[k] for k in ("strimzi", "kafka", "bridge") if current.get(k)}
    return typed(c.build_status(dict(current), checks, generation=meta.get("generation", 1), extra=extra))
