"""Generated hostile specs (tests/hostile_specs.py, from the CRD's own schema) rendered offline: whatever the
models accept renders without a crash, and no spec value can override the operator's connection, security or
config-provider settings, start a property line of its own, or make the bridge read a file through a config
provider. The properties are read back exactly as the bridge reads them (tests/java_properties.py, checked
against the JDK). The API server's agreement with the models on the same specs is an integration test."""

from __future__ import annotations

import os
from typing import Any

import yaml
from bridgedapp.builders import bridge, kafka
from bridgedapp.models import parse_spec
from bridgedapp.render import render_result
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from tests import hostile_specs, java_properties
from tests.unit.bridge_cases import SAMPLES

EXAMPLES = int(os.environ.get("BRIDGEDAPP_HOSTILE_EXAMPLES", "1000"))
DEPLOYMENT = yaml.safe_load((SAMPLES / "deployment.yaml").read_text())
SEEN = {"accepted": 0, "refused": 0}


def own_settings(cluster: str, kafka_ns: str) -> dict[str, str]:
    """What the operator alone decides in application.properties."""
    own = {
        "kafka.bootstrap.servers": kafka.bootstrap_service_address(cluster, kafka_ns),
        "kafka.security.protocol": "SSL",
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.certificates": bridge.provider_reference(bridge.CA_CERT_KEY),
        "kafka.ssl.keystore.type": "PEM",
        "kafka.ssl.keystore.certificate.chain": bridge.provider_reference(bridge.USER_CERT_KEY),
        "kafka.ssl.keystore.key": bridge.provider_reference(bridge.USER_KEY_KEY),
        "http.host": bridge.LOOPBACK,
    }
    for client in bridge.KAFKA_CLIENTS:
        prefix = f"kafka.{client}.config.providers"
        own[prefix] = bridge.CONFIG_PROVIDER
        own[f"{prefix}.{bridge.CONFIG_PROVIDER}.class"] = bridge.CONFIG_PROVIDER_CLASS
        own[f"{prefix}.{bridge.CONFIG_PROVIDER}.param.allowed.paths"] = bridge.CREDENTIALS_MOUNT_PATH
    return own


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(hostile_specs.specs())
def test_whatever_the_models_accept_renders_harmlessly(spec: Any) -> None:
    try:
        parsed = parse_spec(spec)
    except ValidationError:
        SEEN["refused"] += 1
        return
    SEEN["accepted"] += 1
    app = {
        "apiVersion": "bridgedapp.io/v1alpha1",
        "kind": "BridgedApp",
        "metadata": {"name": "orders", "namespace": "shop", "uid": "0000"},
        "spec": spec,
    }
    result = render_result([app, DEPLOYMENT])  # never a crash
    (config_map,) = [o for o in result.objects if o["kind"] == "ConfigMap"]
    text = config_map["data"][bridge.PROPERTIES_KEY]
    assert text.isascii(), "Properties.load reads ISO-8859-1: everything else is escaped"
    props = java_properties.load(text.encode("iso-8859-1"))
    expected = own_settings(parsed.kafka.cluster_name, parsed.kafka_namespace("kafka"))
    assert {k: props.get(k) for k in expected} == expected
    references = {k: v for k, v in props.items() if "${" in v}
    assert references == {k: v for k, v in expected.items() if "${" in v}, (
        "a provider reference of the spec's"
    )


def test_the_generated_specs_were_both_accepted_and_refused() -> None:
    """Runs after the generated test (same module, file order): the generator reaches both sides."""
    if SEEN["accepted"] + SEEN["refused"] == 0:
        test_whatever_the_models_accept_renders_harmlessly()
    print(f"hostile specs rendered: {SEEN['accepted']} accepted, {SEEN['refused']} refused")
    assert SEEN["accepted"] >= EXAMPLES // 10 and SEEN["refused"] >= EXAMPLES // 10
