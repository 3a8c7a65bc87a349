"""docs/reference.md is generated from the models: every field, with its type, default and description."""

from __future__ import annotations

import typing
from pathlib import Path

import yaml
from bridgedapp.builders import sidecar
from bridgedapp.crd import spec_schema
from bridgedapp.models import BRIDGE_METRICS_PORT, BridgedAppSpec, BridgeSpec, ProbeSpec, parse_spec
from bridgedapp.reference import leaf_fields, render_markdown, spec_rows
from pydantic import BaseModel

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_committed_reference_is_generated_from_the_models() -> None:
    assert REFERENCE.read_text() == render_markdown(), "docs/reference.md is stale: run `make crds`"


def test_every_model_field_has_a_row() -> None:
    """Walk the pydantic models themselves (not the schema the page is made from) and find each field."""
    paths = {row.path for row in spec_rows()}

    def walk(model: type, prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            path = f"{prefix}.{field.alias or name}"
            out.append(path)
            for inner in _models(field.annotation):
                out += walk(inner, path)
        return out

    expected = set(walk(BridgedAppSpec, "spec"))
    assert expected - paths == set()
    assert paths - expected == set()


def _models(annotation: object) -> list[type]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_rows_carry_type_default_and_description() -> None:
    rows = {row.path: row for row in spec_rows()}
    port = rows["spec.bridge.http.port"]
    assert (port.type, port.default) == ("integer", "8080")
    assert "localhost" in port.description and "Default" not in port.description  # default has its column
    assert rows["spec.bridge.producer.config"].type == "map[string]string"
    assert rows["spec.bridge.jvmOptions.javaSystemProperties"].type == "[]object"
    assert rows["spec.bridge.logging.type"].type == "enum: inline, external"
    assert all(row.description for row in rows.values()), [p for p, r in rows.items() if not r.description]


def test_descriptions_in_the_crd_state_the_defaults() -> None:
    """kubectl explain prints descriptions but no defaults: the generated descriptions say them."""
    probe = spec_schema()["properties"]["bridge"]["properties"]["readinessProbe"]["properties"]
    assert probe["periodSeconds"]["description"].endswith("Default: 10.")
    assert ProbeSpec.model_fields["period_seconds"].default == 10


def test_leaf_fields_of_the_bridge() -> None:
    leaves = {row.path for row in leaf_fields(BridgeSpec, "b")}
    assert "b.http.port" in leaves and "b.http" not in leaves
    assert "b.jvmOptions.javaSystemProperties.name" in leaves


def test_the_podmonitor_example_scrapes_the_sidecars_metrics_port() -> None:
    """deploy/monitoring's PodMonitor names the port the sidecar declares with a metrics reporter."""
    monitor = yaml.safe_load((REFERENCE.parents[1] / "deploy" / "monitoring" / "podmonitor.yaml").read_text())
    assert monitor["kind"] == "PodMonitor"
    spec = parse_spec(
        {"deploymentName": "a", "bridge": {"metricsConfig": {"type": "strimziMetricsReporter"}}}
    )
    ports = sidecar.build_bridge_container(spec, native=True, app_name="a")["ports"]
    declared = {p["name"]: p["containerPort"] for p in ports}
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert declared[endpoint["port"]] == BRIDGE_METRICS_PORT
