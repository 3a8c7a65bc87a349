"""The BridgedApp spec and status: the single source of the CRD (see crd.py) and of every builder's input.

Validation lives here twice on purpose, but from one declaration: field constraints (patterns, bounds,
enums) become OpenAPI schema, and each cross-field rule is declared once as a `CelRule` that becomes an
`x-kubernetes-validations` entry in the CRD *and* is checked by a pydantic validator, so an offline
`bridgedapp render` rejects what the API server would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
KAFKA_TOPIC_NAME = r"^[a-zA-Z0-9._-]+$"
QUANTITY = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
MAX_TOPICS = 64
MAX_TOPIC_CONFIGS = 32  # per topic; Kafka has about 40 topic-level configs
MAX_CONFIG_KEY = 255
MAX_CONFIG_VALUE = 1024
MAX_CONSUMER_GROUP = 200  # a spec.consumerGroup, and the default `<namespace>.<name>` hashed down to fit
SHARED_WITH_NAMESPACE = r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"

BRIDGE_IMAGE = "quay.io/strimzi/kafka-bridge:1.1.0"
BRIDGE_MANAGEMENT_PORT = 8081


@dataclass(frozen=True)
class CelRule:
    """A cross-field rule: `rule` is CEL for the API server, `check` the same rule in Python."""

    rule: str
    message: str
    field_path: str
    check: Callable[[Any], bool]

    def as_validation(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message, "fieldPath": self.field_path}


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors (the CRD prunes them)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        validate_default=True,
    )

    def check_cel_rules(self) -> None:
        for rule in getattr(type(self), "cel_rules", ()):
            if not rule.check(self):
                raise ValueError(f"{rule.field_path}: {rule.message}")


class Access(StrEnum):
    """What the app may do with a topic; becomes KafkaUser ACLs."""

    READ = "Read"
    WRITE = "Write"
    READ_WRITE = "ReadWrite"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE_WHEN_UNUSED = "DeleteWhenUnused"


class NativeSidecar(StrEnum):
    AUTO = "Auto"
    ALWAYS = "Always"
    NEVER = "Never"


class LogLevel(StrEnum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def _crd_default(value: Any) -> dict[str, Any]:
    """Schema default for a nested object, so the API server fills in its fields' own defaults."""
    return {"default": value}


class StorageSpec(_Model):
    """One JBOD persistent-claim volume per Kafka node."""

    size: str = Field("10Gi", pattern=QUANTITY, max_length=32, description="Size of each node's volume.")
    storage_class: str | None = Field(
        None,
        alias="class",
        max_length=253,
        description="StorageClass of the claims; null uses the cluster's default class.",
    )
    delete_claim: bool = Field(
        False, description="Delete the volumes when the Kafka cluster is deleted. Off: data survives."
    )


class KafkaSpec(_Model):
    """The Strimzi Kafka cluster this app uses, and how to create it when it does not exist."""

    cluster_name: str = Field(
        "my-cluster",
        pattern=DNS_LABEL,
        max_length=40,
        description="Name of the Strimzi Kafka to use or create (a DNS label).",
    )
    namespace: str | None = Field(
        None,
        pattern=DNS_LABEL,
        max_length=63,
        description="Namespace of that Kafka; null means the operator's Strimzi namespace.",
    )
    create: bool = Field(
        True, description="Create Kafka and KafkaNodePool when absent; false: it must exist."
    )
    replicas: int = Field(3, ge=1, le=64, description="Nodes (controller+broker) in the pool it creates.")
    version: str | None = Field(
        None,
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        max_length=16,
        description="Kafka version of the cluster it creates; null uses Strimzi's default.",
    )
    storage: StorageSpec = Field(default_factory=StorageSpec, json_schema_extra=_crd_default({}))
    external_node_port: bool = Field(False, description="Also open the NodePort listener 'external' on 9094.")
    deletion_policy: DeletionPolicy = Field(
        DeletionPolicy.RETAIN,
        description="Retain keeps the Kafka; DeleteWhenUnused deletes a Kafka this operator created "
        "once no BridgedApp uses it.",
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.deletionPolicy) || self.deletionPolicy == 'Retain' || !has(self.create) || self.create",
            message="deletionPolicy DeleteWhenUnused needs create: true (only a Kafka the operator "
            "created may be deleted by it)",
            field_path=".deletionPolicy",
            check=lambda k: k.create or k.deletion_policy == DeletionPolicy.RETAIN,
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> KafkaSpec:
        self.check_cel_rules()
        return self


ConfigKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONFIG_KEY)]
# strict, like the API server's int-or-string: "1" stays a string, 1 an integer, true and 0.5 are refused
ConfigValue = Annotated[
    StrictInt | Annotated[StrictStr, StringConstraints(max_length=MAX_CONFIG_VALUE)],
    Field(union_mode="left_to_right"),
]


class TopicSpec(_Model):
    """A Kafka topic the app uses: created when absent, never deleted by the operator."""

    name: str = Field(..., pattern=KAFKA_TOPIC_NAME, min_length=1, max_length=249, description="Topic name.")
    partitions: int = Field(
        3,
        ge=1,
        le=10000,
        description="Partitions. Applied to a topic this BridgedApp created; Kafka can only increase them.",
    )
    replicas: int = Field(
        3, ge=1, le=64, description="Replication factor. Applied to a topic this BridgedApp created."
    )
    access: Access = Field(Access.READ_WRITE, description="What the app may do: Read, Write or ReadWrite.")
    shared_with: list[Annotated[str, StringConstraints(pattern=SHARED_WITH_NAMESPACE, max_length=63)]] = (
        Field(
            default_factory=list,
            max_length=64,
            description="Namespaces whose BridgedApps may also get ACLs on this topic (`*`: every namespace). "
            "Counts only on the BridgedApp that created the topic, which owns it for its namespace.",
            json_schema_extra={"default": []},
        )
    )
    config: dict[ConfigKey, ConfigValue] = Field(
        default_factory=dict,
        description="Topic configuration (retention.ms, cleanup.policy, ...), applied to a topic this BridgedApp "
        'created. Values are integers or strings: write fractions and booleans as strings ("0.5", "true"), '
        "which Kafka parses the same way.",
        json_schema_extra={
            # What the API server can check of a map (CEL cannot type-check free-form values): each value an
            # int or a bounded string, each key bounded; the model accepts exactly the same.
            "x-crd-schema": {
                "type": "object",
                "default": {},
                "maxProperties": MAX_TOPIC_CONFIGS,
                "additionalProperties": {"x-kubernetes-int-or-string": True, "maxLength": MAX_CONFIG_VALUE},
                "x-kubernetes-validations": [
                    {
                        "rule": f"self.all(k, size(k) >= 1 && size(k) <= {MAX_CONFIG_KEY})",
                        "message": f"each config key has 1 to {MAX_CONFIG_KEY} characters",
                    }
                ],
            }
        },
    )


class ResourcesSpec(_Model):
    """Compute resources of the bridge container."""

    requests: dict[str, str] = Field(
        default_factory=lambda: {"cpu": "50m", "memory": "256Mi"},
        description="Resource requests of the kafka-bridge container.",
        json_schema_extra={"maxProperties": 8, "default": {"cpu": "50m", "memory": "256Mi"}},
    )
    limits: dict[str, str] = Field(
        default_factory=lambda: {"memory": "512Mi"},
        description="Resource limits of the kafka-bridge container.",
        json_schema_extra={"maxProperties": 8, "default": {"memory": "512Mi"}},
    )


class BridgeSpec(_Model):
    """The Strimzi HTTP Bridge sidecar."""

    image: str = Field(BRIDGE_IMAGE, min_length=1, max_length=512, description="Bridge container image.")
    port: int = Field(
        8080,
        ge=1024,
        le=65535,
        description="Loopback port of the bridge's HTTP API: http://localhost:<port>.",
    )
    native_sidecar: NativeSidecar = Field(
        NativeSidecar.AUTO,
        description="Auto: an init container with restartPolicy Always where the server supports it; "
        "Always: require that; Never: a regular container.",
    )
    resources: ResourcesSpec = Field(
        default_factory=ResourcesSpec,
        json_schema_extra=_crd_default({}),
        description="Requests and limits of the bridge container.",
    )
    producer: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Kafka producer properties (written as kafka.producer.<key>).",
        json_schema_extra={"maxProperties": 64, "default": {}},
    )
    consumer: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Kafka consumer properties (written as kafka.consumer.<key>).",
        json_schema_extra={"maxProperties": 64, "default": {}},
    )
    log_level: LogLevel = Field(LogLevel.INFO, description="Root log level of the bridge.")

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule=f"!has(self.port) || self.port != {BRIDGE_MANAGEMENT_PORT}",
            message=f"port {BRIDGE_MANAGEMENT_PORT} is the bridge's management port; choose another",
            field_path=".port",
            check=lambda b: b.port != BRIDGE_MANAGEMENT_PORT,
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> BridgeSpec:
        self.check_cel_rules()
        return self


class BridgedAppSpec(_Model):
    """Desired state: which Deployment gets a bridge, to which Kafka, for which topics."""

    deployment_name: str = Field(
        ...,
        pattern=DNS_SUBDOMAIN,
        min_length=1,
        max_length=253,
        description="The app's Deployment, in the BridgedApp's namespace, that gets the kafka-bridge sidecar.",
    )
    kafka: KafkaSpec = Field(default_factory=KafkaSpec, json_schema_extra=_crd_default({}))
    topics: list[TopicSpec] = Field(
        default_factory=list,
        max_length=MAX_TOPICS,
        description="Topics the app uses; created when absent, kept when the BridgedApp is deleted.",
        json_schema_extra={"default": []},
    )
    consumer_group: str | None = Field(
        None,
        pattern=KAFKA_TOPIC_NAME,
        max_length=MAX_CONSUMER_GROUP,
        description="Consumer-group prefix the app may read; null means `<namespace>.<name>`, unique to this "
        "BridgedApp. A prefix outside `<namespace>.` needs a cluster admin's allowance.",
    )
    bridge: BridgeSpec = Field(default_factory=BridgeSpec, json_schema_extra=_crd_default({}))
    paused: bool = Field(False, description="true: observe and report, change nothing.")

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.topics) || self.topics.all(t, self.topics.exists_one(u, u.name == t.name))",
            message="topic names must be unique",
            field_path=".topics",
            check=lambda s: len({t.name for t in s.topics}) == len(s.topics),
        ),
        CelRule(
            rule="!has(self.topics) || self.topics.all(t, t.name != '.' && t.name != '..' && !t.name.startsWith('__'))",
            message="topic names '.', '..' and names starting with '__' (Kafka's internal topics) are not allowed",
            field_path=".topics",
            check=lambda s: all(t.name not in (".", "..") and not t.name.startswith("__") for t in s.topics),
        ),
        CelRule(
            rule="!has(self.topics) || !has(self.kafka) || !has(self.kafka.create) || !self.kafka.create || self.topics.all(t, !has(t.replicas) || !has(self.kafka.replicas) || t.replicas <= self.kafka.replicas)",
            message="a topic's replicas must not exceed kafka.replicas",
            field_path=".topics",
            check=lambda s: not s.kafka.create or all(t.replicas <= s.kafka.replicas for t in s.topics),
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> BridgedAppSpec:
        self.check_cel_rules()
        return self

    def kafka_namespace(self, strimzi_namespace: str) -> str:
        return self.kafka.namespace or strimzi_namespace


class Condition(_Model):
    """A Kubernetes condition (metav1.Condition's shape)."""

    type: str = Field(..., max_length=316)
    status: str = Field(..., json_schema_extra={"enum": ["True", "False", "Unknown"]})
    reason: str = Field(..., max_length=1024)
    message: str = Field("", max_length=32768)
    observed_generation: int | None = Field(None, ge=0)
    last_transition_time: str = Field(..., json_schema_extra={"format": "date-time"})


class StrimziStatus(_Model):
    namespace: str | None = None
    version: str | None = None
    managed: bool | None = Field(None, description="true when this operator installed Strimzi.")


class KafkaStatus(_Model):
    cluster: str | None = Field(None, description="<namespace>/<name> of the Kafka.")
    bootstrap_servers: str | None = None
    ready: bool | None = None


class BridgeStatus(_Model):
    deployment: str | None = Field(None, description="The Deployment the sidecar is injected into.")
    url: str | None = None
    image: str | None = None
    config_hash: str | None = None


class BridgedAppStatus(_Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = None
    phase: str | None = Field(
        None,
        json_schema_extra={"enum": ["Pending", "Provisioning", "Ready", "Degraded", "Deleting", "Paused"]},
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    strimzi: StrimziStatus | None = None
    kafka: KafkaStatus | None = None
    bridge: BridgeStatus | None = None


def parse_spec(spec: Any) -> BridgedAppSpec:
    """The spec as the API server stored it (defaults applied), validated as strictly as the API server
    validates JSON: "3" is no integer and "true" no boolean, so the models refuse exactly what it refuses.
    """
    plain = dict(spec) if isinstance(spec, Mapping) else spec
    return BridgedAppSpec.model_validate_json(json.dumps(plain, default=_plain), strict=True)


def _plain(value: Any) -> Any:
    """Kopf hands specs over as read-only mappings and lists of its own."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
