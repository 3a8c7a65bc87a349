"""`bridgedapp render`, offline, end to end on the sample files (deploy/samples/) through its CLI entry."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridgedapp import CONFIG_HASH_ANNOTATION, SIDECAR_NAME
from bridgedapp.builders import bridge, sidecar
from bridgedapp.render import EXIT_INVALID, PLACEHOLDER_UID, main_render, render

from tests.unit.bridge_cases import (
    APP_NAMESPACE,
    BOOTSTRAP,
    FULL_SPEC,
    SAMPLES,
    app_object,
    spec_of,
    strimzi_secrets,
    unb64,
)

SAMPLE_APP = str(SAMPLES / "bridgedapp.yaml")
SAMPLE_DEPLOYMENT = str(SAMPLES / "deployment.yaml")
OPERATOR_KINDS = ["Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "ConfigMap", "Secret", "Deployment"]


class Run:
    """One CLI invocation: exit code, parsed stdout documents, stderr text."""

    def __init__(self, *argv: str, stdin: str = "") -> None:
        out, err = io.StringIO(), io.StringIO()
        self.code = main_render(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
        self.stdout = out.getvalue()
        self.stderr = err.getvalue()
        self.docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(self.stdout) if d]

    def one(self, kind: str) -> dict[str, Any]:
        (found,) = [d for d in self.docs if d["kind"] == kind]
        return found


def write_yaml(path: Path, *docs: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


@pytest.fixture
def secrets_file(tmp_path: Path) -> str:
    """Strimzi's user Secret and cluster CA cert Secret, as `kubectl get -o yaml` would give them."""
    secrets = strimzi_secrets()
    return write_yaml(tmp_path / "strimzi-secrets.yaml", secrets.user_secret(), secrets.cluster_ca_secret())


def sample_app(**spec_changes: Any) -> dict[str, Any]:
    app = yaml.safe_load(Path(SAMPLE_APP).read_text())
    app["spec"].update(spec_changes)
    return app


def test_render_samples_without_strimzi_secrets(golden: Any) -> None:
    run = Run("-f", SAMPLE_APP, "-f", SAMPLE_DEPLOYMENT)
    assert run.code == 0, run.stderr
    assert [d["kind"] for d in run.docs] == OPERATOR_KINDS
    # the Strimzi objects have their own golden files (their builders' tests); these are the bridge's
    golden(
        "bridge_render_samples", [d for d in run.docs if d["kind"] in {"ConfigMap", "Secret", "Deployment"}]
    )
    assert PLACEHOLDER_UID in run.stderr
    assert "shown without data" in run.stderr
    assert "kafka/shop.orders" in run.stderr and "kafka/my-cluster-cluster-ca-cert" in run.stderr
    assert run.one("Secret")["data"] == {"ca.crt": "", "user.crt": "", "user.key": ""}
    assert run.one("ConfigMap")["metadata"]["ownerReferences"][0]["uid"] == PLACEHOLDER_UID


def test_rendered_deployment_is_the_app_plus_the_sidecar() -> None:
    run = Run("-f", SAMPLE_APP, "-f", SAMPLE_DEPLOYMENT)
    app_deployment = yaml.safe_load(Path(SAMPLE_DEPLOYMENT).read_text())
    pod = run.one("Deployment")["spec"]["template"]["spec"]
    assert pod["containers"] == app_deployment["spec"]["template"]["spec"]["containers"]
    (bridge_container,) = pod["initContainers"]  # native sidecar on the default server version 1.36
    assert bridge_container["name"] == SIDECAR_NAME and bridge_container["restartPolicy"] == "Always"
    assert [v["name"] for v in pod["volumes"]] == ["cache", *sidecar.VOLUME_NAMES]
    annotations = run.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["example.com/team"] == "shop"
    assert annotations[CONFIG_HASH_ANNOTATION] == sidecar.compute_config_hash(
        run.one("ConfigMap"), run.one("Secret")
    )


def test_render_with_strimzi_secrets_is_exact_and_hides_the_key(secrets_file: str) -> None:
    secrets = strimzi_secrets()
    run = Run("-f", SAMPLE_APP, "-f", SAMPLE_DEPLOYMENT, "-f", secrets_file)
    assert run.code == 0, run.stderr
    shown = run.one("Secret")
    assert unb64(shown["data"]["user.crt"]) == secrets.user_cert_pem
    assert bridge.trusted_ca_pem(secrets.cluster_ca_secret()) == unb64(shown["data"]["ca.crt"])
    assert shown["data"]["user.key"] == ""
    key_body = secrets.user_key_pem.splitlines()[1]
    for text in (run.stdout, run.stderr):
        assert key_body not in text
        assert secrets.user_secret()["data"]["user.key"] not in text
    assert "redacted" in run.stderr
    # the hash is computed from the real Secret, as the operator would
    app = yaml.safe_load(Path(SAMPLE_APP).read_text())
    app["metadata"]["uid"] = PLACEHOLDER_UID
    real = bridge.build_credentials_secret(
        app, user_secret=secrets.user_secret(), cluster_ca_secret=secrets.cluster_ca_secret()
    )
    expected = sidecar.compute_config_hash(
        bridge.build_config_map(app, spec_of(app["spec"]), bootstrap=BOOTSTRAP), real
    )
    assert (
        run.one("Deployment")["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        == expected
    )
    without = Run("-f", SAMPLE_APP, "-f", SAMPLE_DEPLOYMENT)
    assert without.one("Deployment") != run.one("Deployment")


def test_a_given_uid_is_used(tmp_path: Path) -> None:
    app = sample_app()
    app["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"
    run = Run("-f", write_yaml(tmp_path / "app.yaml", app), "-f", SAMPLE_DEPLOYMENT)
    assert run.one("ConfigMap")["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert PLACEHOLDER_UID not in run.stderr


@pytest.mark.parametrize(
    ("bridge_spec", "field"),
    [
        ({"http": {"port": 80}}, "spec.bridge.http.port"),
        ({"http": {"port": 8081}}, "spec.bridge.http.port: port 8081 is the bridge's management port"),  # CEL
        ({"nativeSidecar": "Sometimes"}, "spec.bridge.nativeSidecar"),
        ({"colour": "blue"}, "spec.bridge.colour"),
    ],
)
def test_invalid_spec_exits_2_naming_the_field(
    tmp_path: Path, bridge_spec: dict[str, Any], field: str
) -> None:
    run = Run(
        "-f", write_yaml(tmp_path / "app.yaml", sample_app(bridge=bridge_spec)), "-f", SAMPLE_DEPLOYMENT
    )
    assert run.code == EXIT_INVALID
    assert field in run.stderr
    assert "BridgedApp shop/orders" in run.stderr
    assert run.stdout == ""


def test_cross_field_rule_is_named(tmp_path: Path) -> None:
    app = sample_app(topics=[{"name": "orders", "replicas": 5}])
    run = Run("-f", write_yaml(tmp_path / "app.yaml", app))
    assert run.code == EXIT_INVALID
    assert "spec.topics: a topic's replicas must not exceed kafka.replicas" in run.stderr


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    app = sample_app()
    del app["spec"]["deploymentName"]
    run = Run("-f", write_yaml(tmp_path / "app.yaml", app))
    assert run.code == EXIT_INVALID
    assert "spec.deploymentName" in run.stderr


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    assert Run("-f", str(tmp_path / "absent.yaml")).code == EXIT_INVALID
    (tmp_path / "bad.yaml").write_text("kind: [unclosed")
    assert Run("-f", str(tmp_path / "bad.yaml")).code == EXIT_INVALID
    assert Run("-f", SAMPLE_DEPLOYMENT).code == EXIT_INVALID  # no BridgedApp at all


def test_without_the_deployment_the_patch_is_shown() -> None:
    run = Run("-f", SAMPLE_APP)
    assert run.code == 0
    patch = run.one("Deployment")
    assert patch["metadata"] == {
        "name": "orders-api",
        "namespace": APP_NAMESPACE,
        "annotations": {"bridgedapp.io/bridged-by": "orders"},
    }
    assert set(patch["spec"]["template"]["spec"]) == {"initContainers", "volumes"}
    assert "not given" in run.stderr


def test_stdin_and_an_old_server(tmp_path: Path) -> None:
    text = Path(SAMPLE_APP).read_text() + "\n---\n" + Path(SAMPLE_DEPLOYMENT).read_text()
    run = Run("-f", "-", "--server-version", "1.28", stdin=text)
    assert run.code == 0, run.stderr
    pod = run.one("Deployment")["spec"]["template"]["spec"]
    assert "initContainers" not in pod  # Auto on 1.28: a regular container
    assert [c["name"] for c in pod["containers"]] == ["app", SIDECAR_NAME]
    always = write_yaml(tmp_path / "app.yaml", sample_app(bridge={"nativeSidecar": "Always"}))
    failed = Run("-f", always, "-f", SAMPLE_DEPLOYMENT, "--server-version", "1.28")
    assert failed.code == EXIT_INVALID
    assert "nativeSidecar is Always" in failed.stderr


def test_a_deployment_without_namespace_is_placed_in_the_apps(tmp_path: Path) -> None:
    deployment = yaml.safe_load(Path(SAMPLE_DEPLOYMENT).read_text())
    del deployment["metadata"]["namespace"]
    run = Run("-f", SAMPLE_APP, "-f", write_yaml(tmp_path / "d.yaml", deployment))
    assert run.code == 0, run.stderr
    injected = run.one("Deployment")
    assert injected["metadata"]["namespace"] == APP_NAMESPACE
    assert SIDECAR_NAME in [c["name"] for c in injected["spec"]["template"]["spec"]["initContainers"]]


def test_conflicts_are_reported(tmp_path: Path) -> None:
    deployment = yaml.safe_load(Path(SAMPLE_DEPLOYMENT).read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    run = Run("-f", SAMPLE_APP, "-f", write_yaml(tmp_path / "d.yaml", deployment))
    assert "conflict: container app declares port 8080" in run.stderr


def test_render_function_and_shared_kafka() -> None:
    """Two apps on one cluster: the Kafka and its pool appear once, each app gets its own user and config."""
    first = app_object()
    second = app_object()
    second["metadata"] = {"name": "billing", "namespace": APP_NAMESPACE, "uid": "u-2"}
    second["spec"] = {"deploymentName": "billing-api", "topics": [{"name": "invoices"}]}
    objects = render([first, second], strimzi_namespace="kafka", server_version=(1, 36))
    kinds = [o["kind"] for o in objects]
    assert kinds.count("Kafka") == 1 and kinds.count("KafkaNodePool") == 1
    assert kinds.count("KafkaUser") == 2 and kinds.count("ConfigMap") == 2
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"} == {
        "orders-bridge-config",
        "billing-bridge-config",
    }


def test_render_shows_every_bridge_option_and_names_the_mounted_config_maps(tmp_path: Path) -> None:
    """The offline render shows what spec.bridge's options render (the full-option golden's content)."""
    app = sample_app(bridge=copy.deepcopy(FULL_SPEC["bridge"]))
    run = Run("-f", write_yaml(tmp_path / "app.yaml", app), "-f", SAMPLE_DEPLOYMENT)
    assert run.code == 0, run.stderr
    properties = run.one("ConfigMap")["data"]["application.properties"]
    assert "bridge.tracing=opentelemetry" in properties
    assert "kafka.prometheus.metrics.reporter.listener=http://:9404" in properties
    assert "http.cors.allowedMethods=GET,POST" in properties
    bridge = next(
        c
        for c in run.one("Deployment")["spec"]["template"]["spec"]["initContainers"]
        if c["name"] == "kafka-bridge"
    )
    env = {e["name"]: e["value"] for e in bridge["env"]}
    assert env["KAFKA_HEAP_OPTS"] == "-Xms256m -Xmx512m" and env["OTEL_SERVICE_NAME"] == "orders"
    assert "ConfigMap shop/orders-logging; they do not start until it exists" in run.stderr
