"""Every built Strimzi object against the REAL CRD schemas of the official bundles, offline.

A fast pre-check (the integration tests apply the same objects to a real API server). The OpenAPI
schema is turned into JSON Schema: `nullable` and `x-kubernetes-int-or-string` become type unions, and
every object without `x-kubernetes-preserve-unknown-fields` rejects unknown fields. The API server
would silently *prune* those instead, which is exactly the bug to catch: a field Strimzi never sees.
CEL rules (`x-kubernetes-validations`) are left to the integration tests.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from bridgedapp.builders.kafka import API_V1, API_V1BETA2

from testbed import strimzi_bundle
from tests.unit.strimzi_cases import CASES, Case

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def json_schema(node: Any) -> Any:
    """OpenAPI v3 (Kubernetes structural schema) to a strict JSON Schema."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "example"):
            continue
        if key == "properties":
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf"):
            out[key] = json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not preserve
    ):
        out["additionalProperties"] = False
    return out


_validators: dict[tuple[str, str], jsonschema.Draft4Validator] = {}


def validator(kind: str, api_version: str) -> jsonschema.Draft4Validator:
    """A validator for `kind` from the bundle that defines `api_version`; skips when it is absent."""
    key = (kind, api_version)
    if key not in _validators:
        version = strimzi_bundle.BUNDLE_FOR_API_VERSION[api_version]
        if strimzi_bundle.bundle_path(version) is None:
            pytest.skip(strimzi_bundle.missing_reason(version))
        schema = json_schema(strimzi_bundle.crd_schema(version, kind, api_version))
        jsonschema.Draft4Validator.check_schema(schema)
        _validators[key] = jsonschema.Draft4Validator(schema)
    return _validators[key]


def schema_errors(obj: dict[str, Any]) -> list[str]:
    errors = validator(obj["kind"], obj["apiVersion"]).iter_errors(obj)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)


def metadata_errors(obj: dict[str, Any]) -> list[str]:
    """What the API server checks in metadata, which the CRD schema leaves open."""
    meta = obj["metadata"]
    errors = []
    if not (DNS_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253):
        errors.append(f"name {meta['name']!r} is not a DNS subdomain")
    if not DNS_LABEL.match(meta["namespace"]):
        errors.append(f"namespace {meta['namespace']!r} is not a DNS label")
    for key, value in (meta.get("labels") or {}).items():
        if not (LABEL_NAME.match(key) and LABEL_VALUE.match(value) and len(value) <= 63):
            errors.append(f"label {key}={value!r} is invalid")
    for key, value in (meta.get("annotations") or {}).items():
        if not (LABEL_NAME.match(key) and isinstance(value, str)):
            errors.append(f"annotation {key} is invalid")
    return errors


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_built_objects_match_the_real_crd_schema(case: Case) -> None:
    for obj in case.build():
        where = f"{obj['kind']} {obj['metadata']['name']} ({obj['apiVersion']})"
        assert schema_errors(obj) == [], where
        assert metadata_errors(obj) == [], where


@pytest.mark.parametrize("api_version", [API_V1, API_V1BETA2])
def test_every_case_also_validates_under_the_other_api_version(api_version: str) -> None:
    """The operator picks the API version the server serves: each app must work with both."""
    for case in CASES:
        for obj in Case(case.name, case.spec, api_version, case.app_namespace, case.app_name).build():
            assert schema_errors(obj) == [], f"{case.name}: {obj['kind']} ({api_version})"


@pytest.mark.parametrize(("api_version", "other"), [(API_V1, API_V1BETA2), (API_V1BETA2, API_V1)])
def test_each_bundle_serves_exactly_its_api_version(api_version: str, other: str) -> None:
    """The premise of choosing v1 or v1beta2 by what the server serves: the bundles serve one each."""
    version = strimzi_bundle.BUNDLE_FOR_API_VERSION[api_version]
    if strimzi_bundle.bundle_path(version) is None:
        pytest.skip(strimzi_bundle.missing_reason(version))
    for kind in ("Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"):
        assert strimzi_bundle.crd_schema(version, kind, api_version)["type"] == "object"
    with pytest.raises(KeyError, match="does not serve"):
        strimzi_bundle.crd_schema(version, "Kafka", other)


# The checks must be able to fail: mistakes the schemas are known to catch.


def _built(kind: str, api_version: str) -> dict[str, Any]:
    defaults = Case("defaults", CASES[0].spec, api_version)
    return next(obj for obj in defaults.build() if obj["kind"] == kind)


def test_v1_kafka_rejects_fields_that_moved_to_node_pools() -> None:
    kafka = _built("Kafka", API_V1)
    kafka["spec"]["kafka"]["replicas"] = 3
    kafka["spec"]["zookeeper"] = {"replicas": 3}
    errors = schema_errors(kafka)
    assert any("'replicas' was unexpected" in e for e in errors), errors
    assert any("'zookeeper' was unexpected" in e for e in errors), errors


def test_v1_user_rejects_the_removed_singular_operation() -> None:
    user = _built("KafkaUser", API_V1)
    rule = user["spec"]["authorization"]["acls"][0]
    rule["operation"] = rule.pop("operations")[0]
    assert any("operation" in e for e in schema_errors(user))


def test_listener_without_tls_flag_and_bad_enum_are_rejected() -> None:
    kafka = _built("Kafka", API_V1BETA2)
    del kafka["spec"]["kafka"]["listeners"][0]["tls"]
    kafka["spec"]["kafka"]["authorization"]["type"] = "acl"
    errors = schema_errors(kafka)
    assert any("'tls' is a required property" in e for e in errors), errors
    assert any("'acl' is not one of" in e for e in errors), errors


def test_metadata_check_rejects_invalid_names() -> None:
    topic = _built("KafkaTopic", API_V1)
    topic["metadata"]["name"] = "Orders_Events"
    topic["metadata"]["labels"]["bridgedapp.io/owner"] = "x" * 64
    assert len(metadata_errors(topic)) == 2
