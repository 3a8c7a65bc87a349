"""Every condition and event reason the operator writes, said once.

Reasons are CamelCase so they go straight into a condition. Strimzi's own reasons (a KafkaTopic's
`Ready=False` reason, say) are passed through as Strimzi wrote them and are not listed here.
`IN_PROGRESS` is built from these constants: a False condition with one of them resolves by itself and is
announced as news (a Normal event), any other False reason is a problem (a Warning).
"""

from __future__ import annotations

# ---- StrimziReady ------------------------------------------------------------------------------------------
STRIMZI_READY = "StrimziReady"
INSTALLING = "Installing"
INSTALL_FAILED = "InstallFailed"
STRIMZI_NOT_FOUND = "StrimziNotFound"
STRIMZI_INCOMPLETE = "StrimziIncomplete"
STRIMZI_NOT_AVAILABLE = "StrimziNotAvailable"
NAMESPACE_NOT_WATCHED = "NamespaceNotWatched"

# ---- Strimzi resources (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) as read by strimzi_readiness ------------
RESOURCE_READY = "Ready"
RESOURCE_NOT_READY = "NotReady"
RESOURCE_NOT_FOUND = "NotFound"
RESOURCE_DELETING = "Deleting"
RESOURCE_PAUSED = "ReconciliationPaused"
WAITING_FOR_STRIMZI = "WaitingForStrimzi"

# ---- KafkaReady --------------------------------------------------------------------------------------------
KAFKA_READY = "KafkaReady"
KAFKA_NOT_FOUND = "KafkaNotFound"
NAMESPACE_NOT_FOUND = "NamespaceNotFound"

# ---- TopicsReady -------------------------------------------------------------------------------------------
NO_TOPICS = "NoTopics"
TOPICS_READY = "TopicsReady"
TOPICS_NOT_READY = "TopicsNotReady"
TOPIC_CONFLICT = "TopicConflict"
PARTITION_DECREASE_REFUSED = "PartitionDecreaseRefused"

# ---- UserReady ---------------------------------------------------------------------------------------------
USER_READY = "UserReady"
ACCESS_NOT_ALLOWED = "AccessNotAllowed"

# ---- SidecarInjected ---------------------------------------------------------------------------------------
INJECTED = "Injected"
DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"
DEPLOYMENT_ALREADY_BRIDGED = "DeploymentAlreadyBridged"  # another BridgedApp owns the Deployment's sidecar
OPERATOR_OWNED_DEPLOYMENT = "OperatorOwnedDeployment"  # e.g. the Strimzi operator bridgedapp installed
WAITING_FOR_CREDENTIALS = "WaitingForCredentials"
NAME_CONFLICT = "NameConflict"
POD_CONFLICT = "PodConflict"
NATIVE_SIDECAR_UNSUPPORTED = "NativeSidecarUnsupported"

# ---- AppAvailable (the words of `kubectl rollout status`) ------------------------------------------------------
AVAILABLE = "Available"
NOT_INJECTED = "NotInjected"
ROLLOUT_PENDING = "RolloutPending"
ROLLING_OUT = "RollingOut"
PODS_NOT_AVAILABLE = "PodsNotAvailable"

# ---- any component -----------------------------------------------------------------------------------------
CONFLICT = "Conflict"  # another field manager holds a field the operator must set, and it does not force
REFUSED = "Refused"  # the API server refused a write as invalid (400/422): the spec must change
PENDING_WHILE_PAUSED = "PendingWhilePaused"  # paused: the objects differ from the spec and are left so


def waiting_for(on: str) -> str:
    """`WaitingFor<on>`: a component that cannot be judged before `on` (a condition type or an object)."""
    return f"WaitingFor{on}"


# ---- the summary (Ready, Reconciling, Stalled) --------------------------------------------------------------
ALL_READY = "AllReady"
RECONCILED = "Reconciled"
STALLED = "Stalled"
NOT_STALLED = "NotStalled"
INVALID_SPEC = "InvalidSpec"  # the stored spec does not validate (written before a schema change, say)
PAUSED = "Paused"
DELETING = "Deleting"

# ---- events only ---------------------------------------------------------------------------------------------
RESUMED = "Resumed"
KAFKA_CREATED = "KafkaCreated"
KAFKA_RECREATED = "KafkaRecreated"
KAFKA_SETTINGS_IGNORED = "KafkaSettingsIgnored"
KAFKA_KEPT = "KafkaKept"
KAFKA_DELETED = "KafkaDeleted"
USER_DELETED = "UserDeleted"
SIDECAR_MOVED = "SidecarMoved"
SIDECAR_REMOVED = "SidecarRemoved"
CONSUMER_GROUP_SHARED = "ConsumerGroupShared"
REVERTED = "Reverted"
RECONCILE_FAILED = "ReconcileFailed"
CLEANUP_INCOMPLETE = "CleanupIncomplete"

#: False for now and resolving by itself (an install, Strimzi catching up, pods rolling): news, not a problem.
IN_PROGRESS = frozenset(
    {INSTALLING, WAITING_FOR_STRIMZI, ROLLOUT_PENDING, ROLLING_OUT, PENDING_WHILE_PAUSED, DELETING}
)
#: The progress worth an event when it begins: slow, cluster-wide, and otherwise silent for minutes.
ANNOUNCED_PROGRESS = frozenset({INSTALLING})
