"""Every spec.bridge option (a KafkaBridge option, per app): one golden file each, and a guard that none is
missing. Each golden file holds the bridge ConfigMap and the Deployment apply-patch built from the default
spec with that one option changed, so a review sees exactly what the option renders."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from bridgedapp.builders import bridge, sidecar
from bridgedapp.models import BridgeSpec
from bridgedapp.reference import leaf_fields

from tests.unit.bridge_cases import (
    BOOTSTRAP,
    DEFAULT_SPEC,
    FULL_SPEC,
    app_object,
    spec_of,
)
from tests.unit.test_builders_bridge import sample_deployment

LOGGING_CM = {"configMapKeyRef": {"name": "orders-logging", "key": "log4j2.properties"}}
JMX_CM = {"configMapKeyRef": {"name": "orders-metrics", "key": "jmx.yaml"}}

# golden name -> (spec.bridge fragment, the option paths it covers)
OPTION_CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "image": ({"image": "registry.example/kafka-bridge:1.1.0"}, ("image",)),
    "http_port": ({"http": {"port": 9090}}, ("http.port",)),
    "http_cors": (
        {
            "http": {
                "cors": {
                    "allowedOrigins": ["https://a.example", "https://.*\\.b\\.example"],
                    "allowedMethods": ["GET", "POST"],
                }
            }
        },
        ("http.cors.allowedOrigins", "http.cors.allowedMethods"),
    ),
    "native_sidecar_never": ({"nativeSidecar": "Never"}, ("nativeSidecar",)),
    "resources": (
        {
            "resources": {
                "requests": {"cpu": "200m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }
        },
        ("resources.requests", "resources.limits"),
    ),
    "producer_disabled": ({"producer": {"enabled": False}}, ("producer.enabled",)),
    "producer_config": ({"producer": {"config": {"linger.ms": "5", "acks": "all"}}}, ("producer.config",)),
    "consumer_disabled": ({"consumer": {"enabled": False}}, ("consumer.enabled",)),
    "consumer_timeout": ({"consumer": {"timeoutSeconds": 60}}, ("consumer.timeoutSeconds",)),
    "consumer_config": ({"consumer": {"config": {"max.poll.records": "100"}}}, ("consumer.config",)),
    "admin_client_config": (
        {"adminClient": {"config": {"request.timeout.ms": "20000"}}},
        ("adminClient.config",),
    ),
    "jvm_heap": ({"jvmOptions": {"-Xms": "256m", "-Xmx": "1g"}}, ("jvmOptions.-Xms", "jvmOptions.-Xmx")),
    "jvm_xx": (
        {
            "jvmOptions": {
                "-XX": {"UseG1GC": "true", "UnlockDiagnosticVMOptions": "true", "MaxRAMPercentage": "60"}
            }
        },
        ("jvmOptions.-XX",),
    ),
    "jvm_gc_logging": ({"jvmOptions": {"gcLoggingEnabled": True}}, ("jvmOptions.gcLoggingEnabled",)),
    "jvm_system_properties": (
        {"jvmOptions": {"javaSystemProperties": [{"name": "user.timezone", "value": "UTC"}]}},
        ("jvmOptions.javaSystemProperties.name", "jvmOptions.javaSystemProperties.value"),
    ),
    "logging_inline": (
        {
            "logging": {
                "type": "inline",
                "loggers": {"rootLogger.level": "DEBUG", "logger.bridge.level": "TRACE"},
            }
        },
        ("logging.type", "logging.loggers"),
    ),
    "logging_external": (
        {"logging": {"type": "external", "valueFrom": LOGGING_CM}},
        ("logging.valueFrom.configMapKeyRef.name", "logging.valueFrom.configMapKeyRef.key"),
    ),
    "metrics_jmx": (
        {"metricsConfig": {"type": "jmxPrometheusExporter", "valueFrom": JMX_CM}},
        (
            "metricsConfig.type",
            "metricsConfig.valueFrom.configMapKeyRef.name",
            "metricsConfig.valueFrom.configMapKeyRef.key",
        ),
    ),
    "metrics_strimzi_reporter": (
        {"metricsConfig": {"type": "strimziMetricsReporter"}},
        ("metricsConfig.type",),
    ),
    "metrics_allow_list": (
        {"metricsConfig": {"type": "strimziMetricsReporter", "values": {"allowList": ["kafka_producer_.*"]}}},
        ("metricsConfig.values.allowList",),
    ),
    "tracing": (
        {
            "tracing": {
                "type": "opentelemetry",
                "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
            }
        },
        ("tracing.type", "tracing.env"),
    ),
    "config": (
        {
            "config": {
                "bridge.executor.pool.size": "8",
                "http.host": "0.0.0.0",
                "BRIDGE.ID": "x",
                "kafka.acks": "0",
            }
        },
        ("config",),
    ),
    "liveness_probe": (
        {
            "livenessProbe": {
                "initialDelaySeconds": 5,
                "timeoutSeconds": 3,
                "periodSeconds": 20,
                "failureThreshold": 6,
            }
        },
        tuple(
            f"livenessProbe.{f}"
            for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold")
        ),
    ),
    "readiness_probe": (
        {
            "readinessProbe": {
                "initialDelaySeconds": 1,
                "timeoutSeconds": 2,
                "periodSeconds": 5,
                "successThreshold": 2,
                "failureThreshold": 2,
            }
        },
        tuple(
            f"readinessProbe.{f}"
            for f in (
                "initialDelaySeconds",
                "timeoutSeconds",
                "periodSeconds",
                "successThreshold",
                "failureThreshold",
            )
        ),
    ),
}
# successThreshold of liveness must be 1 (Kubernetes and Strimzi): its default is all a case can show.
FIXED_BY_RULE = {"livenessProbe.successThreshold"}


def built(bridge_fragment: dict[str, Any]) -> list[dict[str, Any]]:
    raw = {**copy.deepcopy(DEFAULT_SPEC), "bridge": copy.deepcopy(bridge_fragment)}
    spec = spec_of(raw)
    app = app_object(raw)
    config_map = bridge.build_config_map(app, spec, bootstrap=BOOTSTRAP)
    native = spec.bridge.native_sidecar != "Never"
    patch = sidecar.build_deployment_patch(
        sample_deployment(), app, spec, native=native, config_hash="0123abcd"
    )
    return [config_map, patch]


@pytest.mark.parametrize("name", sorted(OPTION_CASES))
def test_golden_option(golden: Any, name: str) -> None:
    golden(f"bridge_option_{name}", built(OPTION_CASES[name][0]))


def test_golden_every_option_at_once(golden: Any) -> None:
    golden("bridge_option_all", built(FULL_SPEC["bridge"]))


def test_every_bridge_option_has_a_golden_case() -> None:
    """A new field of spec.bridge fails here until it has its own golden case above."""
    covered = {path for _, paths in OPTION_CASES.values() for path in paths} | FIXED_BY_RULE
    every = {row.path.removeprefix("spec.bridge.") for row in leaf_fields(BridgeSpec, "spec.bridge")}
    assert every - covered == set(), "options without a golden case"
    assert covered - every == set(), "golden cases naming options that do not exist"


@pytest.mark.parametrize("name", sorted(OPTION_CASES))
def test_each_case_changes_the_output(name: str) -> None:
    """Each option really renders something (its golden file would otherwise equal the default's)."""
    assert built(OPTION_CASES[name][0]) != built({})
