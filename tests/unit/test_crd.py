"""The CRD and the pydantic models agree: one is generated from the other, and both behave the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from bridgedapp.crd import build_crd, render_yaml
from bridgedapp.models import BridgedAppSpec, LoggingSpec, parse_spec
from pydantic import ValidationError

from tests.unit.bridge_cases import BRIDGE_INVALID

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "bridgedapp.io_bridgedapps.yaml"


def spec_schema() -> dict[str, Any]:
    return build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def apply_schema_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """Structural defaulting as the API server does it: absent fields with a default get it, recursively."""
    if schema.get("type") == "object" and isinstance(value, dict):
        out = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in out and "default" in sub:
                out[name] = sub["default"]
            if name in out:
                out[name] = apply_schema_defaults(out[name], sub)
        return out
    if schema.get("type") == "array" and isinstance(value, list):
        return [apply_schema_defaults(v, schema["items"]) for v in value]
    return value


def test_committed_crd_is_generated_from_the_models() -> None:
    assert CRD_FILE.read_text() == render_yaml(), "crds/ is stale: run `make crds`"


def test_schema_defaults_equal_model_defaults() -> None:
    minimal = {"deploymentName": "orders-api", "topics": [{"name": "orders"}]}
    by_server = apply_schema_defaults(minimal, spec_schema())
    by_model = parse_spec(minimal).model_dump(by_alias=True, exclude_none=True)
    assert by_server == by_model


def test_every_model_field_is_in_the_schema_and_vice_versa() -> None:
    def walk(model: type, schema: dict[str, Any], path: str) -> None:
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        assert set(fields) == set(schema["properties"]), path
        for alias, field in fields.items():
            annotation = field.annotation
            sub = schema["properties"][alias]
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, sub, f"{path}.{alias}")

    walk(BridgedAppSpec, spec_schema(), "spec")


def test_required_and_descriptions() -> None:
    schema = spec_schema()
    assert schema["required"] == ["deploymentName"]
    assert all("description" in s for s in schema["properties"]["kafka"]["properties"].values())
    version = build_crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Deployment",
        "Kafka",
        "Ready",
        "Reason",
        "Age",
    ]
    names = build_crd()["spec"]["names"]
    assert names["shortNames"] == ["ba"] and names["categories"] == ["bridgedapp"]


def test_no_refs_or_anyof_left() -> None:
    text = yaml.safe_dump(build_crd())
    assert "$ref" not in text and "anyOf" not in text and "title" not in text


# Each invalid spec names the field the API server names too (see tests/integration/test_admission.py).
INVALID = [
    ({"deploymentName": "Orders_API"}, "deploymentName"),
    ({"deploymentName": "a", "topics": [{"name": "t"}, {"name": "t"}]}, "topic names must be unique"),
    ({"deploymentName": "a", "kafka": {"replicas": -1}}, "replicas"),
    ({"deploymentName": "a", "topics": [{"name": "t", "access": "Admin"}]}, "access"),
    ({"deploymentName": "a", "bridge": {"http": {"port": 8081}}}, "management port"),
    *((spec, needle) for spec, _, needle in BRIDGE_INVALID),
    # moved to http.port, as Strimzi names it: the API server prunes the old field, the models name it
    ({"deploymentName": "a", "bridge": {"port": 8080}}, "port"),
    (
        {"deploymentName": "a", "kafka": {"create": False, "deletionPolicy": "DeleteWhenUnused"}},
        "deletionPolicy",
    ),
    ({"deploymentName": "a", "kafka": {"replicas": 1}, "topics": [{"name": "t"}]}, "replicas"),
    ({"deploymentName": "a", "surprise": 1}, "surprise"),
    ({"deploymentName": "a", "topics": [{"name": "__consumer_offsets", "replicas": 1}]}, "internal topics"),
]


@pytest.mark.parametrize(("spec", "needle"), INVALID)
def test_models_reject_invalid_specs(spec: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_spec(spec)
    assert needle.lower() in str(info.value).lower()


def test_cel_rules_are_in_the_crd() -> None:
    schema = spec_schema()
    rules = [v["rule"] for v in schema["x-kubernetes-validations"]]
    assert any("exists_one" in r for r in rules)
    assert "self.http.port != 8081" in schema["properties"]["bridge"]["x-kubernetes-validations"][0]["rule"]
    logging = schema["properties"]["bridge"]["properties"]["logging"]
    assert [v["message"] for v in logging["x-kubernetes-validations"]] == [
        r.message for r in LoggingSpec.cel_rules
    ]
