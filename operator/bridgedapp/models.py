"""The BridgedApp spec and status: the single source of the CRD (see crd.py) and of every builder's input.

Validation lives here twice on purpose, but from one declaration: field constraints (patterns, bounds,
enums) become OpenAPI schema, and each cross-field rule is declared once as a `CelRule` that becomes an
`x-kubernetes-validations` entry in the CRD *and* is checked by a pydantic validator, so an offline
`bridgedapp render` rejects what the API server would.
"""

from __future__ import annotations

import json
import re
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
    ValidationError,
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
BRIDGE_METRICS_PORT = (
    9404  # the Strimzi metrics reporter's own listener (all interfaces), see MetricsConfigSpec
)
# Strimzi 1.2.0 KafkaBridgeCluster.DEFAULT_METRICS_ALLOW_LIST
DEFAULT_METRICS_ALLOW_LIST = (
    "kafka_consumer_consumer_metrics.*",
    "kafka_producer_kafka_metrics_count_count",
    "kafka_producer_producer_metrics.*",
)


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
    """Compute resources of the bridge container (Strimzi: `resources`, a ResourceRequirements)."""

    requests: dict[Key, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=lambda: {"cpu": "50m", "memory": "256Mi"},
        description="Resource requests of the kafka-bridge container.",
        json_schema_extra={"maxProperties": 8, "default": {"cpu": "50m", "memory": "256Mi"}},
    )
    limits: dict[Key, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=lambda: {"memory": "512Mi"},
        description="Resource limits of the kafka-bridge container.",
        json_schema_extra={"maxProperties": 8, "default": {"memory": "512Mi"}},
    )


MAX_CLIENT_OPTIONS = 64
MAX_KEY = 255
MAX_OPTION_VALUE = 4096


def _string_map(max_properties: int, description: str, *, alias: str | None = None) -> Any:
    """A map of strings bounded in size (its value type bounds each value), empty by default."""
    return Field(
        default_factory=dict,
        max_length=max_properties,
        alias=alias,
        description=description,
        json_schema_extra={"default": {}},
    )


OptionValue = Annotated[str, Field(max_length=MAX_OPTION_VALUE)]
# Every map's keys are bounded too (crd.py turns the bound into a CEL rule: OpenAPI cannot bound keys).
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY)]


def _client_config(client: str, forbidden: str) -> Any:
    return _string_map(
        MAX_CLIENT_OPTIONS,
        f"The Kafka {client} configuration used by the bridge (written as kafka.<client>.<key>). "
        f"Properties with the following prefixes cannot be set: {forbidden} (with the exception of: "
        "ssl.endpoint.identification.algorithm, ssl.cipher.suites, ssl.protocol, ssl.enabled.protocols); "
        "they are dropped with a Warning event, as Strimzi drops them. Values are strings: quote numbers "
        "and booleans.",
    )


class HttpCorsSpec(_Model):
    """CORS for the bridge's HTTP API (Strimzi: `http.cors`)."""

    allowed_origins: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        ...,
        min_length=1,
        max_length=32,
        description="List of allowed origins. Java regular expressions can be used.",
    )
    allowed_methods: list[Annotated[str, Field(pattern=r"^[A-Z]+$", max_length=16)]] = Field(
        ..., min_length=1, max_length=16, description="List of allowed HTTP methods (GET, POST, ...)."
    )


class HttpSpec(_Model):
    """The bridge's HTTP API (Strimzi: `http`). A sidecar listens on 127.0.0.1 only; no `http.tls`."""

    port: int = Field(
        8080,
        ge=1024,
        le=65535,
        description="Loopback port of the bridge's HTTP API: http://localhost:<port>.",
    )
    cors: HttpCorsSpec | None = Field(
        None,
        description="CORS configuration; null (the default) leaves CORS off (http.cors.enabled=false).",
    )


class ProducerSpec(_Model):
    """The bridge's HTTP producer and its Kafka producer (Strimzi: `producer`)."""

    enabled: bool = Field(
        True,
        description="Whether the HTTP producer endpoints are enabled (http.producer.enabled).",
    )
    config: dict[Key, OptionValue] = _client_config("producer", "ssl., bootstrap.servers, sasl., security.")


class ConsumerSpec(_Model):
    """The bridge's HTTP consumer and its Kafka consumers (Strimzi: `consumer`)."""

    enabled: bool = Field(
        True,
        description="Whether the HTTP consumer endpoints are enabled (http.consumer.enabled).",
    )
    timeout_seconds: int = Field(
        -1,
        ge=-1,
        le=2147483647,
        description="The timeout in seconds for deleting inactive consumers (http.timeoutSeconds). "
        "Default: -1 (disabled).",
    )
    config: dict[Key, OptionValue] = _client_config(
        "consumer", "ssl., bootstrap.servers, group.id, sasl., security."
    )


class AdminClientSpec(_Model):
    """The bridge's Kafka AdminClient (Strimzi: `adminClient`)."""

    config: dict[Key, OptionValue] = _client_config(
        "AdminClient", "ssl., bootstrap.servers, sasl., security."
    )


class SystemProperty(_Model):
    """One `-D<name>=<value>` for the bridge's JVM."""

    name: str = Field(
        ..., min_length=1, max_length=256, pattern=r"^[^\s=]+$", description="The system property name."
    )
    value: str = Field(
        "",
        max_length=1024,
        pattern=r"^\S*$",
        description="The system property value (no whitespace: the start script splits JAVA_OPTS on it).",
    )


JVM_MEMORY = r"^[0-9]+[mMgG]?$"


class JvmOptionsSpec(_Model):
    """JVM options of the bridge (Strimzi: `jvmOptions`), passed through the start script's environment."""

    xmx: str | None = Field(
        None,
        alias="-Xmx",
        pattern=JVM_MEMORY,
        max_length=16,
        description="-Xmx option to the JVM.",
    )
    xms: str | None = Field(
        None,
        alias="-Xms",
        pattern=JVM_MEMORY,
        max_length=16,
        description="-Xms option to the JVM.",
    )
    xx: dict[Key, Annotated[str, Field(max_length=256)]] = _string_map(
        32,
        "A map of -XX options to the JVM ('true'/'false' become -XX:+/-<name>, anything else "
        "-XX:<name>=<value>).",
        alias="-XX",
    )
    gc_logging_enabled: bool = Field(
        False, description="Specifies whether the Garbage Collection logging is enabled."
    )
    java_system_properties: list[SystemProperty] = Field(
        default_factory=list,
        max_length=32,
        description="System properties passed using the -D option to the JVM.",
        json_schema_extra={"default": []},
    )


class ConfigMapKeyRef(_Model):
    """A key of a ConfigMap in the BridgedApp's namespace."""

    name: str = Field(..., pattern=DNS_SUBDOMAIN, min_length=1, max_length=253, description="ConfigMap name.")
    key: str = Field(
        ..., pattern=r"^[-._a-zA-Z0-9]+$", min_length=1, max_length=253, description="Key in it."
    )


class ValueFrom(_Model):
    config_map_key_ref: ConfigMapKeyRef = Field(
        ..., description="Reference to the key in the ConfigMap containing the configuration."
    )


class LoggingType(StrEnum):
    INLINE = "inline"
    EXTERNAL = "external"


class LoggingSpec(_Model):
    """The bridge's log4j2 configuration (Strimzi: `logging`): inline loggers over Strimzi's default, or a
    whole log4j2.properties from a ConfigMap in the app's namespace (mounted, so the pod does not start
    until that ConfigMap and key exist)."""

    type: LoggingType = Field(LoggingType.INLINE, description="Logging type, 'inline' or 'external'.")
    loggers: dict[Key, Annotated[str, Field(max_length=256)]] = _string_map(
        64,
        "inline: log4j2 properties set over Strimzi's default bridge logging, e.g. rootLogger.level: DEBUG, "
        "logger.bridge.level: DEBUG. Default: empty (root and bridge loggers at INFO).",
    )
    value_from: ValueFrom | None = Field(
        None,
        description="external: the ConfigMap entry where the log4j2 configuration is stored. It is mounted, "
        "not copied: a change to it does not roll the pods; set monitorInterval in it to have log4j2 reload.",
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="!has(self.type) || self.type != 'external' || has(self.valueFrom)",
            message="valueFrom property is required for external logging",
            field_path=".valueFrom",
            check=lambda lg: lg.type != LoggingType.EXTERNAL or lg.value_from is not None,
        ),
        CelRule(
            rule="(has(self.type) && self.type == 'external') || !has(self.valueFrom)",
            message="valueFrom is only for type external",
            field_path=".valueFrom",
            check=lambda lg: lg.type == LoggingType.EXTERNAL or lg.value_from is None,
        ),
        CelRule(
            rule="!has(self.type) || self.type != 'external' || !has(self.loggers) || size(self.loggers) == 0",
            message="loggers are only for type inline",
            field_path=".loggers",
            check=lambda lg: lg.type != LoggingType.EXTERNAL or not lg.loggers,
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> LoggingSpec:
        self.check_cel_rules()
        return self


class MetricsType(StrEnum):
    JMX_PROMETHEUS_EXPORTER = "jmxPrometheusExporter"
    STRIMZI_METRICS_REPORTER = "strimziMetricsReporter"


class MetricsValues(_Model):
    allow_list: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        default_factory=lambda: list(DEFAULT_METRICS_ALLOW_LIST),
        min_length=1,
        max_length=64,
        description="Regex patterns of the metrics to collect; the default is Strimzi's allow list for "
        "the bridge.",
        json_schema_extra={"default": list(DEFAULT_METRICS_ALLOW_LIST)},
    )


class MetricsConfigSpec(_Model):
    """Prometheus metrics of the bridge (Strimzi: `metricsConfig`).

    strimziMetricsReporter: the Kafka clients' metrics are also served by the reporter's own listener on
    all interfaces at port 9404 (`bridge-metrics`), for Prometheus; the bridge's HTTP API and its
    management port (/metrics with the bridge's HTTP and JVM metrics too) stay on loopback.
    jmxPrometheusExporter: /metrics on the loopback management port only."""

    type: MetricsType = Field(
        ..., description="Metrics type: jmxPrometheusExporter or strimziMetricsReporter."
    )
    value_from: ValueFrom | None = Field(
        None,
        description="jmxPrometheusExporter: the ConfigMap entry (app's namespace) holding the JMX exporter "
        "configuration.",
    )
    values: MetricsValues | None = Field(
        None, description="strimziMetricsReporter: configuration values. Default: Strimzi's allow list."
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule="self.type != 'jmxPrometheusExporter' || has(self.valueFrom)",
            message="valueFrom property is required",
            field_path=".valueFrom",
            check=lambda m: m.type != MetricsType.JMX_PROMETHEUS_EXPORTER or m.value_from is not None,
        ),
        CelRule(
            rule="self.type == 'jmxPrometheusExporter' || !has(self.valueFrom)",
            message="valueFrom is only for type jmxPrometheusExporter",
            field_path=".valueFrom",
            check=lambda m: m.type == MetricsType.JMX_PROMETHEUS_EXPORTER or m.value_from is None,
        ),
        CelRule(
            rule="self.type == 'strimziMetricsReporter' || !has(self.values)",
            message="values are only for type strimziMetricsReporter",
            field_path=".values",
            check=lambda m: m.type == MetricsType.STRIMZI_METRICS_REPORTER or m.values is None,
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> MetricsConfigSpec:
        self.check_cel_rules()
        return self


class TracingType(StrEnum):
    OPENTELEMETRY = "opentelemetry"


OTEL_ENV = r"^OTEL_[A-Z0-9_]+$"


class TracingSpec(_Model):
    """Tracing in the bridge (Strimzi: `tracing`), plus the OTEL_* environment a sidecar needs (Strimzi
    users set it through `template.bridgeContainer.env`)."""

    type: TracingType = Field(
        ..., description="Type of the tracing used; the only supported type is opentelemetry."
    )
    env: dict[Key, Annotated[str, Field(min_length=1, max_length=1024)]] = _string_map(
        32,
        "OTEL_* environment variables of the bridge container (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). "
        "OTEL_SERVICE_NAME defaults to the BridgedApp's name; with it set, the bridge's start script "
        "defaults OTEL_TRACES_EXPORTER to otlp.",
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule=f"!has(self.env) || self.env.all(k, k.matches('{OTEL_ENV}'))",
            message="env names must be OTEL_* variables (upper case, digits, underscores)",
            field_path=".env",
            check=lambda t: all(re.match(OTEL_ENV, k) for k in t.env),
        ),
    )

    @model_validator(mode="after")
    def _cel(self) -> TracingSpec:
        self.check_cel_rules()
        return self


class ProbeSpec(_Model):
    """Timing of an exec probe of the bridge's loopback management port (Strimzi: a StrimziProbe).

    Strimzi's initialDelaySeconds default is 15; a sidecar has a startup probe that gates liveness and
    readiness, so here it is 0."""

    initial_delay_seconds: int = Field(
        0,
        ge=0,
        le=3600,
        description="Seconds after the startup probe succeeded before the first check.",
    )
    timeout_seconds: int = Field(5, ge=1, le=3600, description="Timeout of each check.")
    period_seconds: int = Field(10, ge=1, le=3600, description="How often to check.")
    success_threshold: int = Field(
        1,
        ge=1,
        le=100,
        description="Consecutive successes after a failure to pass; 1 for liveness.",
    )
    failure_threshold: int = Field(3, ge=1, le=100, description="Consecutive failures to fail.")


class BridgeSpec(_Model):
    """The Strimzi HTTP Bridge sidecar: a KafkaBridge's options, per app.

    A sidecar differs from a KafkaBridge: no replicas (the app's Deployment has them), no bootstrapServers,
    tls or authentication (the operator connects it as the app's KafkaUser), no http.tls (loopback only),
    no rack or template."""

    image: str = Field(
        BRIDGE_IMAGE,
        min_length=1,
        max_length=512,
        description="Bridge container image.",
    )
    http: HttpSpec = Field(
        default_factory=HttpSpec,
        json_schema_extra=_crd_default({}),
        description="The HTTP API: port and CORS.",
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
    producer: ProducerSpec = Field(
        default_factory=ProducerSpec,
        json_schema_extra=_crd_default({}),
        description="Kafka producer settings.",
    )
    consumer: ConsumerSpec = Field(
        default_factory=ConsumerSpec,
        json_schema_extra=_crd_default({}),
        description="Kafka consumer settings.",
    )
    admin_client: AdminClientSpec = Field(
        default_factory=AdminClientSpec,
        json_schema_extra=_crd_default({}),
        description="Kafka AdminClient settings.",
    )
    jvm_options: JvmOptionsSpec = Field(
        default_factory=JvmOptionsSpec,
        json_schema_extra=_crd_default({}),
        description="JVM options (KAFKA_HEAP_OPTS, STRIMZI_JAVA_OPTS, STRIMZI_JAVA_SYSTEM_PROPERTIES, "
        "STRIMZI_GC_LOG_ENABLED of the bridge's start script).",
    )
    logging: LoggingSpec = Field(
        default_factory=LoggingSpec,
        json_schema_extra=_crd_default({}),
        description="Logging configuration of the bridge. Default: Strimzi's default logging (INFO).",
    )
    metrics_config: MetricsConfigSpec | None = Field(
        None, description="Metrics configuration; null (the default) serves no metrics."
    )
    tracing: TracingSpec | None = Field(None, description="Tracing configuration; null (the default): none.")
    config: dict[Key, OptionValue] = _string_map(
        MAX_CLIENT_OPTIONS,
        "Additional configuration of the bridge itself (e.g. bridge.executor.pool.size). The following "
        "prefixes cannot be set: kafka., http., bridge.metrics.; the following options cannot be set: "
        "bridge.id, bridge.tracing, bridge.metrics. They are dropped with a Warning event, as Strimzi "
        "drops them. Values are strings.",
    )
    liveness_probe: ProbeSpec = Field(
        default_factory=ProbeSpec,
        json_schema_extra=_crd_default({}),
        description="Liveness checking (GET /healthy on the loopback management port).",
    )
    readiness_probe: ProbeSpec = Field(
        default_factory=ProbeSpec,
        json_schema_extra=_crd_default({}),
        description="Readiness checking (GET /ready on the loopback management port).",
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            rule=f"!has(self.http) || !has(self.http.port) || (self.http.port != {BRIDGE_MANAGEMENT_PORT} "
            f"&& self.http.port != {BRIDGE_METRICS_PORT})",
            message=f"port {BRIDGE_MANAGEMENT_PORT} is the bridge's management port and "
            f"{BRIDGE_METRICS_PORT} its metrics port; choose another",
            field_path=".http.port",
            check=lambda b: b.http.port not in (BRIDGE_MANAGEMENT_PORT, BRIDGE_METRICS_PORT),
        ),
        CelRule(
            rule="!has(self.livenessProbe) || !has(self.livenessProbe.successThreshold) "
            "|| self.livenessProbe.successThreshold == 1",
            message="successThreshold must be 1 for liveness",
            field_path=".livenessProbe.successThreshold",
            check=lambda b: b.liveness_probe.success_threshold == 1,
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


def spec_problems(error: ValidationError) -> list[str]:
    """One "spec.<field>: <message>" per problem, each field as it is written in YAML (spec.bridge.http.port).

    A cross-field (CEL) rule fails as "Value error, .<field>: <message>" on its parent object: the field path
    is moved into the location, so it reads like the API server's message.
    """
    lines = []
    for problem in error.errors():
        where = ".".join(["spec", *(str(part) for part in problem["loc"])])
        message = str(problem["msg"])
        cel = re.match(r"Value error, (\.[A-Za-z0-9_.]+): (.*)", message, re.DOTALL)
        if cel:
            where, message = where + cel.group(1), cel.group(2)
        lines.append(f"{where}: {message}")
    return lines


def _plain(value: Any) -> Any:
    """Kopf hands specs over as read-only mappings and lists of its own."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
