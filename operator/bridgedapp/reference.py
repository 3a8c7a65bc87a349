"""The spec reference page (docs/reference.md), generated from the same schema the CRD is: every field with
its type, default and description. `python -m bridgedapp.reference > docs/reference.md` writes it (`make
crds` does both); a unit test fails when the committed page and the models disagree."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bridgedapp.crd import default_sentence, model_schema, spec_schema


@dataclass(frozen=True)
class Row:
    """One field of the spec: `path` as written in YAML (spec.bridge.http.port; list items add no index)."""

    path: str
    type: str
    default: str
    description: str
    leaf: bool


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type", "object")
    if kind == "array":
        return f"[]{_type(node['items'])}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type(node['additionalProperties'])}"
    if "enum" in node:
        return "enum: " + ", ".join(str(v) for v in node["enum"])
    return str(kind)


def _rows(node: dict[str, Any], path: str) -> list[Row]:
    items = node.get("items") if node.get("type") == "array" else None
    inner = items if isinstance(items, dict) and "properties" in items else node
    children = inner.get("properties") or {}
    has_default = "default" in node and not (children and node["default"] == {})
    default = json.dumps(node["default"]) if has_default else ""
    description = str(node.get("description", ""))
    if has_default:  # the default has its own column
        description = description.removesuffix(default_sentence(node["default"]))
    rows = [Row(path, _type(node), default, " ".join(description.split()), not children)]
    for name, child in children.items():
        rows += _rows(child, f"{path}.{name}")
    return rows


def leaf_fields(model: type[BaseModel], prefix: str) -> list[Row]:
    """The fields of `model` that hold values (not objects of fields), as rows under `prefix`."""
    return [row for row in _rows(model_schema(model), prefix)[1:] if row.leaf]


def spec_rows() -> list[Row]:
    return _rows(spec_schema(), "spec")[1:]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    lines = [
        "# BridgedApp spec reference",
        "",
        "Generated from `operator/bridgedapp/models.py` by `make crds` (`python -m bridgedapp.reference`); do "
        "not edit by hand. The same descriptions are what `kubectl explain ba.spec --recursive` and "
        "`kubectl explain ba.spec.<field>` print. A path with `[]` in its type is a list; its items' fields "
        "follow it.",
        "",
        "| field | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for row in spec_rows():
        default = f"`{_cell(row.default)}`" if row.default else ""
        lines.append(f"| `{row.path}` | {_cell(row.type)} | {default} | {_cell(row.description)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
