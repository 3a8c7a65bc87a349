"""Generate the BridgedApp CRD from the pydantic models, so the schema has exactly one source.

`python -m bridgedapp.crd > crds/bridgedapp.io_bridgedapps.yaml` writes it; a unit test fails when the
committed file and the models disagree. Pydantic's JSON Schema is turned into a Kubernetes *structural*
schema: references inlined, `anyOf [X, null]` made `nullable`, titles dropped, CEL rules attached.
"""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from bridgedapp import GROUP, KIND, PLURAL, VERSION
from bridgedapp.models import BridgedAppSpec, BridgedAppStatus

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


def _describe_default(out: dict[str, Any], *, has_properties: bool) -> None:
    """`kubectl explain` prints no defaults, so the description says it (once; objects whose fields carry
    their own defaults say nothing)."""
    description = out.get("description")
    if "default" not in out or not description or "Default:" in description:
        return
    if has_properties and out["default"] == {}:
        return
    out["description"] = f"{description.rstrip()}{default_sentence(out['default'])}"


def default_sentence(value: Any) -> str:
    """What _describe_default appends to a description (the reference page leaves it out again)."""
    return f" Default: {json.dumps(value, separators=(', ', ': '))}."


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
        out = {
            **node["x-crd-schema"],
            **({"description": node["description"]} if "description" in node else {}),
        }
        _describe_default(out, has_properties=False)
        return out
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
    _describe_default(out, has_properties="properties" in node)
    kind = node.get("type")
    if kind == "object":
        if "properties" in node:
            out["properties"] = {name: _structural(sub) for name, sub in node["properties"].items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = _structural(node["additionalProperties"])
            if "propertyNames" in node:
                out.setdefault("x-kubernetes-validations", []).append(_key_rule(node["propertyNames"]))
    elif kind == "array":
        out["items"] = _structural(node["items"])
    if "enum" in node and "type" not in out:
        out["type"] = "string"
    return out


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's annotation (X, X | None, list[X])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _model_types(arg)]


def _key_rule(names: dict[str, Any]) -> dict[str, str]:
    """A map's key bounds (pydantic's `propertyNames`, which a structural schema cannot carry) as CEL."""
    low, high = names.get("minLength", 0), names["maxLength"]
    return {
        "rule": f"self.all(k, size(k) >= {low} && size(k) <= {high})",
        "message": f"each key has {low} to {high} characters",
    }


def _attach_cel(model: type[BaseModel], node: dict[str, Any]) -> None:
    """Put each model's CEL rules on its own schema node, walking the model tree (spec, spec.bridge, ...)."""
    rules = getattr(model, "cel_rules", ())
    if rules:
        node["x-kubernetes-validations"] = [r.as_validation() for r in rules]
    for name, field in model.model_fields.items():
        sub = node.get("properties", {}).get(field.alias or name)
        if sub is None:
            continue
        for inner in _model_types(field.annotation):
            _attach_cel(inner, sub["items"] if sub.get("type") == "array" else sub)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _structural(_resolve(raw, defs))


def spec_schema() -> dict[str, Any]:
    schema = model_schema(BridgedAppSpec)
    _attach_cel(BridgedAppSpec, schema)
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
