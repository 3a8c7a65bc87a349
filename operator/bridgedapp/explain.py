"""`bridgedapp explain NAME [-n NS]`: why a BridgedApp is not Ready, in lines a person reads top to bottom.

Like `istioctl x check-inject` / `istioctl analyze`: each condition that is not True with what to do; the
Strimzi objects' own conditions (Kafka, node pool, topics, user); the Deployment's rollout, the newest
ReplicaSet's and its pods' Warning events (a Pod Security refusal, an image pull failure) and a crash-looping
sidecar's last log lines; whether another BridgedApp owns the Deployment's sidecar; and, when Ready, the URL
the app calls and its topics with their access. Exit code 0 when Ready, 1 otherwise.

`gather` reads (through kube.py, the one module that talks to the API server); `explain` is pure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridgedapp import BRIDGED_BY_ANNOTATION, GROUP, KIND, SIDECAR_NAME, VERSION
from bridgedapp import conditions as c
from bridgedapp import reasons as r
from bridgedapp.builders import topics as topic_builder
from bridgedapp.builders import user as user_builder
from bridgedapp.builders.kafka import STRIMZI_GROUP, node_pool_name
from bridgedapp.builders.strimzi_readiness import readiness
from bridgedapp.models import BridgedAppSpec, parse_spec

APP_API = f"{GROUP}/{VERSION}"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
LOG_LINES = 10
EXIT_READY = 0
EXIT_NOT_READY = 1

# What to do, per condition reason (the message says what is wrong; this says what a person does about it).
ADVICE: dict[str, str] = {
    r.DEPLOYMENT_NOT_FOUND: "create the Deployment, or set spec.deploymentName to an existing one",
    r.NAME_CONFLICT: "rename the app's container or volume that uses a kafka-bridge name",
    r.POD_CONFLICT: "free the bridge's ports in the app's containers, or choose another spec.bridge.http.port",
    r.CONFLICT: "remove the named fields from the other field manager's manifest (the operator never forces)",
    r.NATIVE_SIDECAR_UNSUPPORTED: "set spec.bridge.nativeSidecar to Auto or Never, or upgrade the cluster",
    r.DEPLOYMENT_ALREADY_BRIDGED: "one BridgedApp per Deployment: delete this one or point it at another "
    "Deployment",
    r.NAMESPACE_NOT_WATCHED: "add this namespace to the Strimzi cluster operator's watched namespaces",
    r.RESOURCE_PAUSED: "remove the strimzi.io/pause-reconciliation annotation from the Strimzi object",
    r.PODS_NOT_AVAILABLE: "read the pod and ReplicaSet events below",
    r.PAUSED: "set spec.paused: false to let the operator act",
}
WAITS = (*r.IN_PROGRESS, r.WAITING_FOR_CREDENTIALS)


@dataclass
class Facts:
    """Everything explain looks at, read once."""

    namespace: str
    name: str
    app: dict[str, Any] | None
    kafka_namespace: str = ""
    kafka: dict[str, Any] | None = None
    node_pool: dict[str, Any] | None = None
    topics: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    user: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = None
    replica_set: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # of the newest ReplicaSet and its pods
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # pod name -> last lines of a failing sidecar
    problems: list[str] = field(default_factory=list)  # what could not be read, and why
    strimzi_served: bool = True


@dataclass
class Report:
    lines: list[str]
    ready: bool


# ---------------------------------------------------------------------------------------------------------
# pure: facts -> lines
# ---------------------------------------------------------------------------------------------------------


def _conditions(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((app.get("status") or {}).get("conditions") or [])


def _condition_lines(app: dict[str, Any]) -> list[str]:
    by_type = {cond.get("type"): cond for cond in _conditions(app)}
    lines: list[str] = []
    for type_ in c.COMPONENTS:
        cond = by_type.get(type_)
        if cond is None:
            lines.append(f"  ? {type_}: not reported yet (is the operator running?)")
            continue
        if cond.get("status") == "True":
            lines.append(f"  ok {type_}: {cond.get('message') or cond.get('reason')}")
            continue
        reason = cond.get("reason", "")
        mark = "..." if reason in WAITS or reason.startswith("WaitingFor") else "X"
        lines.append(f"  {mark} {type_} {cond.get('status')} {reason}: {cond.get('message', '')}".rstrip())
        if reason in ADVICE:
            lines.append(f"      -> {ADVICE[reason]}")
    stalled = by_type.get(c.STALLED)
    if stalled and stalled.get("status") == "True":
        lines.append(f"  X Stalled {stalled.get('reason')}: {stalled.get('message', '')}")
    return lines


def _strimzi_line(kind: str, namespace: str, name: str, obj: dict[str, Any] | None) -> str:
    ok, reason, message = readiness(obj, what=f"{kind} {namespace}/{name}")
    return f"  {'ok' if ok else 'X'} {kind} {namespace}/{name}: {reason}: {message}"


def _strimzi_lines(facts: Facts, spec: BridgedAppSpec) -> list[str]:
    ns, cluster = facts.kafka_namespace, spec.kafka.cluster_name
    if not facts.strimzi_served:
        return ["  X the API server serves no kafka.strimzi.io resources: Strimzi is not installed"]
    lines = [_strimzi_line("Kafka", ns, cluster, facts.kafka)]
    if spec.kafka.create or facts.node_pool is not None:
        lines.append(_strimzi_line("KafkaNodePool", ns, node_pool_name(cluster), facts.node_pool))
    for topic_name, topic in facts.topics:
        lines.append(_strimzi_line("KafkaTopic", ns, topic_name, topic))
    user_name = user_builder.kafka_user_name(facts.namespace, facts.name)
    lines.append(_strimzi_line("KafkaUser", ns, user_name, facts.user))
    return lines


def _container_state(status: dict[str, Any]) -> str | None:
    """A failing container's state in kubectl's words (CrashLoopBackOff, ImagePullBackOff, ...), else None."""
    waiting = (status.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason")
    if reason and reason not in ("ContainerCreating", "PodInitializing"):
        last = (status.get("lastState") or {}).get("terminated") or {}
        exit_code = f", last exit code {last['exitCode']}" if "exitCode" in last else ""
        return f"{reason}{exit_code}: {waiting.get('message', '')}".rstrip(": ")
    terminated = (status.get("state") or {}).get("terminated") or {}
    if terminated and terminated.get("exitCode", 0) != 0:
        return f"terminated with exit code {terminated['exitCode']}: {terminated.get('reason', '')}".rstrip(
            ": "
        )
    return None


def sidecar_failures(pod: dict[str, Any]) -> list[tuple[str, str]]:
    """(container, state) of every failing container of the pod, the kafka-bridge sidecar first."""
    status = pod.get("status") or {}
    found = []
    for status_list in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(status_list) or []:
            state = _container_state(container)
            if state:
                found.append((container.get("name", "?"), state))
    return sorted(found, key=lambda item: item[0] != SIDECAR_NAME)


def _other_owner(facts: Facts) -> str | None:
    """The BridgedApp the Deployment's sidecar belongs to, when that is another one."""
    annotations = ((facts.deployment or {}).get("metadata") or {}).get("annotations") or {}
    owner = annotations.get(BRIDGED_BY_ANNOTATION)
    return owner if owner and owner != facts.name else None


def _distinct_events(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """The newest event per (reason, object kind) and how many others said the same (e.g. one FailedCreate
    per refused pod name): a person needs the message once."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    alike: dict[tuple[str, str], int] = {}
    for event in events:  # oldest first
        key = (str(event.get("reason")), str((event.get("involvedObject") or {}).get("kind")))
        alike[key] = alike.get(key, -1) + 1
        newest[key] = event
    return [(event, alike[key]) for key, event in newest.items()]


def _deployment_lines(facts: Facts, spec: BridgedAppSpec) -> list[str]:
    deployment = facts.deployment
    where = f"{facts.namespace}/{spec.deployment_name}"
    if deployment is None:
        return [f"  X Deployment {where} does not exist"]
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    lines = [
        f"  Deployment {where}: {status.get('updatedReplicas', 0)} of {wanted} updated, "
        f"{status.get('availableReplicas', 0)} available"
    ]
    for cond in status.get("conditions") or []:
        bad = cond.get("status") != "True" or cond.get("type") == "ReplicaFailure"
        if bad:
            lines.append(
                f"    {cond.get('type')} {cond.get('status')} {cond.get('reason')}: {cond.get('message')}"
            )
    owner = _other_owner(facts)
    if owner:
        lines.append(
            f"  X the sidecar of Deployment {where} belongs to another BridgedApp: {facts.namespace}/{owner} "
            f"(annotation {BRIDGED_BY_ANNOTATION})"
        )
        lines.append(f"      -> {ADVICE[r.DEPLOYMENT_ALREADY_BRIDGED]}")
    if facts.replica_set is not None:
        rs = facts.replica_set["metadata"]
        revision = (rs.get("annotations") or {}).get(REVISION_ANNOTATION, "?")
        lines.append(f"  newest ReplicaSet {rs['name']} (revision {revision}):")
    for event, alike in _distinct_events(facts.events):
        involved = event.get("involvedObject") or {}
        count = f" (x{event['count']})" if event.get("count", 1) > 1 else ""
        more = f" [and {alike} more like it]" if alike else ""
        lines.append(
            f"    {event.get('type')} {event.get('reason')} on {involved.get('kind')} {involved.get('name')}"
            f"{count}{more}: {event.get('message', '').strip()}"
        )
    for pod in facts.pods:
        pod_name = pod["metadata"]["name"]
        for container, state in sidecar_failures(pod):
            lines.append(f"    X pod {pod_name} container {container}: {state}")
        log = facts.logs.get(pod_name)
        if log:
            lines.append(f"    last lines of {SIDECAR_NAME} in {pod_name}:")
            lines += [f"      | {line}" for line in log.rstrip("\n").splitlines()[-LOG_LINES:]]
    return lines


def _ready_lines(app: dict[str, Any], spec: BridgedAppSpec) -> list[str]:
    bridge = (app.get("status") or {}).get("bridge") or {}
    url = bridge.get("url") or f"http://localhost:{spec.bridge.http.port}"
    lines = [f"  the app calls the bridge at {url}"]
    if spec.topics:
        lines.append("  topics:")
        lines += [f"    {topic.name}: {topic.access}" for topic in spec.topics]
    else:
        lines.append("  topics: none (spec.topics is empty)")
    return lines


def is_ready(app: dict[str, Any]) -> bool:
    """Ready=True for the current generation: what `kubectl wait --for=condition=Ready` would accept."""
    ready = next((x for x in _conditions(app) if x.get("type") == c.READY), None)
    if ready is None or ready.get("status") != "True":
        return False
    observed = (app.get("status") or {}).get("observedGeneration")
    return observed is None or observed >= app.get("metadata", {}).get("generation", 0)


def explain(facts: Facts) -> Report:
    """The report, top to bottom: verdict, conditions, Strimzi objects, Deployment (or, when Ready, the URL)."""
    where = f"{facts.namespace}/{facts.name}"
    if facts.app is None:
        return Report([f"BridgedApp {where} not found."], ready=False)
    app = facts.app
    try:
        spec = parse_spec(app.get("spec") or {})
    except ValueError as exc:
        return Report([f"BridgedApp {where}: its spec is invalid: {exc}"], ready=False)
    status = app.get("status") or {}
    ready = is_ready(app) and _other_owner(facts) is None
    if ready:
        lines = [f"BridgedApp {where} is Ready."]
        lines += _ready_lines(app, spec)
        return Report(lines, ready=True)
    ready_cond = next((x for x in _conditions(app) if x.get("type") == c.READY), {})
    verdict = f"{ready_cond.get('reason', 'no Ready condition')}: {ready_cond.get('message', '')}".rstrip(
        ": "
    )
    lines = [f"BridgedApp {where} is not Ready (phase {status.get('phase', '-')}): {verdict}"]
    generation, observed = app.get("metadata", {}).get("generation"), status.get("observedGeneration")
    if observed is not None and generation is not None and observed < generation:
        lines.append(f"  ... the operator has not yet seen generation {generation} (status is of {observed})")
    lines.append("Conditions:")
    lines += _condition_lines(app)
    lines.append("Strimzi:")
    lines += _strimzi_lines(facts, spec)
    lines.append("App:")
    lines += _deployment_lines(facts, spec)
    if facts.problems:
        lines.append("Not read:")
        lines += [f"  {problem}" for problem in facts.problems]
    return Report(lines, ready=False)


# ---------------------------------------------------------------------------------------------------------
# reading the cluster
# ---------------------------------------------------------------------------------------------------------


def _newest_replica_set(
    replica_sets: list[dict[str, Any]], deployment: dict[str, Any]
) -> dict[str, Any] | None:
    uid = deployment["metadata"].get("uid")
    owned = [
        rs
        for rs in replica_sets
        if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
    ]

    def revision(rs: dict[str, Any]) -> int:
        try:
            return int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0))
        except ValueError:
            return 0

    return max(owned, key=revision, default=None)


def _warning_events(kube: Any, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    events = kube.list("v1", "Event", namespace=namespace, field_selector=selector)
    warnings = [e for e in events if e.get("type") == "Warning"]
    return sorted(warnings, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")[-5:]


def gather(kube: Any, name: str, namespace: str, *, default_kafka_namespace: str = "kafka") -> Facts:
    """Read what explain looks at; what cannot be read is named in `problems`, never fatal."""
    from bridgedapp.kube import KubeError

    app = kube.get(APP_API, KIND, name, namespace)
    facts = Facts(namespace=namespace, name=name, app=app)
    if app is None:
        return facts
    try:
        spec = parse_spec(app.get("spec") or {})
    except ValueError:
        return facts
    status = app.get("status") or {}
    strimzi_ns = (status.get("strimzi") or {}).get("namespace") or default_kafka_namespace
    facts.kafka_namespace = spec.kafka_namespace(strimzi_ns)
    ns = facts.kafka_namespace
    try:
        versions = kube.served_versions(STRIMZI_GROUP, refresh=True)
        if versions:
            api = f"{STRIMZI_GROUP}/{'v1' if 'v1' in versions else versions[0]}"
            facts.kafka = kube.get(api, "Kafka", spec.kafka.cluster_name, ns)
            facts.node_pool = kube.get(api, "KafkaNodePool", node_pool_name(spec.kafka.cluster_name), ns)
            for topic in spec.topics:
                object_name = topic_builder.topic_object_name(topic.name)
                facts.topics.append((object_name, kube.get(api, "KafkaTopic", object_name, ns)))
            facts.user = kube.get(api, "KafkaUser", user_builder.kafka_user_name(namespace, name), ns)
        else:
            facts.strimzi_served = False
    except KubeError as exc:
        facts.problems.append(f"Strimzi objects: {exc}")
    try:
        facts.deployment = kube.get("apps/v1", "Deployment", spec.deployment_name, namespace)
        if facts.deployment is not None:
            replica_sets = kube.list("apps/v1", "ReplicaSet", namespace=namespace)
            facts.replica_set = _newest_replica_set(replica_sets, facts.deployment)
    except KubeError as exc:
        facts.problems.append(f"Deployment: {exc}")
    if facts.replica_set is not None:
        _gather_pods(kube, facts)
    return facts


def _gather_pods(kube: Any, facts: Facts) -> None:
    from bridgedapp.kube import KubeError

    rs = facts.replica_set
    assert rs is not None
    rs_meta = rs["metadata"]
    try:
        facts.events += _warning_events(kube, facts.namespace, "ReplicaSet", rs_meta["name"])
        selector = ",".join(f"{k}={v}" for k, v in sorted((rs_meta.get("labels") or {}).items()))
        pods = kube.list("v1", "Pod", namespace=facts.namespace, label_selector=selector or None)
        facts.pods = [
            pod
            for pod in pods
            if any(
                ref.get("uid") == rs_meta.get("uid") for ref in pod["metadata"].get("ownerReferences") or []
            )
        ]
        for pod in facts.pods:
            facts.events += _warning_events(kube, facts.namespace, "Pod", pod["metadata"]["name"])
    except KubeError as exc:
        facts.problems.append(f"pods and events: {exc}")
        return
    for pod in facts.pods:
        if not any(container == SIDECAR_NAME for container, _ in sidecar_failures(pod)):
            continue
        pod_name = pod["metadata"]["name"]
        try:
            facts.logs[pod_name] = kube.pod_log(pod_name, facts.namespace, SIDECAR_NAME, tail_lines=LOG_LINES)
        except KubeError as exc:
            facts.problems.append(f"log of {SIDECAR_NAME} in pod {pod_name}: {exc}")


# ---------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------


def main_explain(argv: Sequence[str] | None = None, *, kube: Any = None) -> int:
    """`bridgedapp explain NAME [-n NS]`: the report on stdout; 0 when Ready, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="bridgedapp explain",
        description="Why a BridgedApp is not Ready, top to bottom; when it is, the URL and topics. "
        "Exit code 0 when Ready, 1 otherwise.",
    )
    parser.add_argument("name", help="the BridgedApp")
    parser.add_argument("--namespace", "-n", default="default", help="its namespace (default: default)")
    parser.add_argument(
        "--strimzi-namespace",
        default="kafka",
        help="the Kafka namespace when neither the spec nor the status names one (default: kafka)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if kube is None:
        from bridgedapp.kube import Kube

        kube = Kube.from_env()
    facts = gather(kube, args.name, args.namespace, default_kafka_namespace=args.strimzi_namespace)
    report = explain(facts)
    sys.stdout.write("\n".join(report.lines) + "\n")
    return EXIT_READY if report.ready else EXIT_NOT_READY
