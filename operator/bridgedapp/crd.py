"""Generate the BridgedApp CRD from the pydantic models, so the schema has exactly one source.

`python -m bridgedapp.crd > crds/bridgedapp.io_bridgedapps.yaml` writes it; a unit test fails when the
committed file and the models disagree. Pydantic's JSON Schema is turned into a Kubernetes *structural*
schema: references inlined, `anyOf [X, null]` made `nullable`, titles dropped, CEL rules attached.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel

from bridgedapp import GROUP, KIND, PLURAL, VERSION
from bridgedapp.models import BridgedAppSpec, BridgedAppStatus, BridgeSpec, KafkaSpec

KEEP = {
    "type",
    "description",
    "default",
    "enum",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "nullable",
}

# CEL rules hang on the schema of the model that declares them, keyed by the model's JSON Schema title.
CEL_MODELS: tuple[type[BaseModel], ...] = (BridgedAppSpec, KafkaSpec, BridgeSpec)


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, defs)
        return {k: _resolve(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _structural(node: dict[str, Any]) -> dict[str, Any]:
    """One pydantic JSON Schema node -> one structural OpenAPI v3 node."""
    if "x-crd-schema" in node:
        return {
            **node["x-crd-schema"],
            **({"description": node["description"]} if "description" in node else {}),
        }
    variants = node.get("anyOf")
    if variants:
        non_null = [v for v in variants if v.get("type") != "null"]
        if len(non_null) != len(variants) and len(non_null) == 1:
            inner = {**non_null[0], **{k: v for k, v in node.items() if k != "anyOf"}}
            out = _structural(inner)
            out["nullable"] = True
            out.pop("default", None) if out.get("default", 0) is None else None
            return out
        raise ValueError(f"cannot express anyOf {variants!r} structurally")
    out: dict[str, Any] = {k: v for k, v in node.items() if k in KEEP or k.startswith("x-kubernetes-")}
    if out.get("default", 0) is None:
        out.pop("default")
    kind = node.get("type")
    if kind == "object":
        if "properties" in node:
            out["properties"] = {name: _structural(sub) for name, sub in node["properties"].items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = _structural(node["additionalProperties"])
    elif kind == "array":
        out["items"] = _structural(node["items"])
    if "enum" in node and "type" not in out:
        out["type"] = "string"
    return out


def _attach_cel(schema: dict[str, Any]) -> None:
    """Put each model's CEL rules on its node (spec, spec.kafka, spec.bridge)."""
    spec = schema
    spec["x-kubernetes-validations"] = [r.as_validation() for r in BridgedAppSpec.cel_rules]
    spec["properties"]["kafka"]["x-kubernetes-validations"] = [r.as_validation() for r in KafkaSpec.cel_rules]
    spec["properties"]["bridge"]["x-kubernetes-validations"] = [
        r.as_validation() for r in BridgeSpec.cel_rules
    ]


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _structural(_resolve(raw, defs))


def spec_schema() -> dict[str, Any]:
    schema = model_schema(BridgedAppSpec)
    _attach_cel(schema)
    return schema


def build_crd() -> dict[str, Any]:
    """The complete CustomResourceDefinition object."""
    ready = '.status.conditions[?(@.type=="Ready")]'
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "bridgedapp", "app.kubernetes.io/part-of": "bridgedapp"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["ba"],
                "categories": ["bridgedapp"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Deployment", "type": "string", "jsonPath": ".spec.deploymentName"},
                        {"name": "Kafka", "type": "string", "jsonPath": ".status.kafka.cluster"},
                        {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
                        {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A BridgedApp gives an app's Deployment a Strimzi HTTP Bridge "
                            "sidecar, a least-privilege KafkaUser and its topics.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": model_schema(BridgedAppStatus),
                            },
                        }
                    },
                }
            ],
        },
    }


def render_yaml() -> str:
    header = "# Generated from operator/bridgedapp/models.py by `make crds`. Do not edit by hand.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=120)


if __name__ == "__main__":
    sys.stdout.write(render_yaml())
