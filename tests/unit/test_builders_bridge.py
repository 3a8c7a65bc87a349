"""The bridge config/credentials builders and the sidecar apply-patch: golden files plus behaviour."""

from __future__ import annotations

import copy
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridgedapp import BRIDGED_BY_ANNOTATION, CONFIG_HASH_ANNOTATION, FIELD_MANAGER, SIDECAR_NAME
from bridgedapp.builders import bridge, sidecar
from bridgedapp.models import BRIDGE_MANAGEMENT_PORT, NativeSidecar

from testbed.strimzi_sim.ca import load_certificates
from tests.unit.bridge_cases import (
    APP_NAME,
    APP_NAMESPACE,
    BOOTSTRAP,
    CUSTOM_SPEC,
    DEFAULT_SPEC,
    FAKE_CA_NEW,
    FAKE_CA_OLD,
    SAMPLES,
    app_object,
    fake_cluster_ca_secret,
    fake_user_secret,
    spec_of,
    strimzi_secrets,
    unb64,
)

# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def parse_properties(text: str) -> dict[str, str]:
    """Enough of java.util.Properties for our own unescaped output: `key=value` lines, comments skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"duplicate property {key}"
            out[key] = value
    return out


def sample_deployment() -> dict[str, Any]:
    return yaml.safe_load((SAMPLES / "deployment.yaml").read_text())


def config_map(spec: dict[str, Any] = DEFAULT_SPEC) -> dict[str, Any]:
    return bridge.build_config_map(app_object(spec), spec_of(spec), bootstrap=BOOTSTRAP)


def patch_for(
    spec: dict[str, Any], *, native: bool, deployment: dict[str, Any] | None = None
) -> dict[str, Any]:
    return sidecar.build_deployment_patch(
        deployment or sample_deployment(),
        app_object(spec),
        spec_of(spec),
        native=native,
        config_hash="0123abcd",
    )


# ---------------------------------------------------------------------------------------------------------
# golden files
# ---------------------------------------------------------------------------------------------------------


def test_golden_config_map_default(golden: Any) -> None:
    golden("bridge_configmap_default", config_map())


def test_golden_config_map_custom(golden: Any) -> None:
    """Custom port, producer/consumer extras (written sorted), DEBUG logging."""
    golden("bridge_configmap_custom", config_map(CUSTOM_SPEC))


def test_golden_credentials_secret(golden: Any) -> None:
    built = bridge.build_credentials_secret(
        app_object(), user_secret=fake_user_secret(), cluster_ca_secret=fake_cluster_ca_secret(rotating=True)
    )
    golden("bridge_secret", built)


@pytest.mark.parametrize("native", [True, False], ids=["native", "regular"])
def test_golden_container(golden: Any, native: bool) -> None:
    golden(
        f"bridge_container_{'native' if native else 'regular'}",
        sidecar.build_bridge_container(spec_of(DEFAULT_SPEC), native=native, app_name=APP_NAME),
    )


def test_golden_patch_default_native(golden: Any) -> None:
    golden("bridge_patch_default_native", patch_for(DEFAULT_SPEC, native=True))


def test_golden_patch_custom_regular(golden: Any) -> None:
    golden("bridge_patch_custom_regular", patch_for(CUSTOM_SPEC, native=False))


# ---------------------------------------------------------------------------------------------------------
# application.properties
# ---------------------------------------------------------------------------------------------------------


def test_properties_listen_on_loopback_only() -> None:
    text = bridge.build_properties(spec_of(CUSTOM_SPEC), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    props = parse_properties(text)
    assert props["http.host"] == "127.0.0.1"
    assert props["http.port"] == "9090"
    assert props["http.management.port"] == str(BRIDGE_MANAGEMENT_PORT)
    assert "0.0.0.0" not in text
    assert [k for k in props if k.endswith(".host")] == ["http.host"]


def test_properties_connect_with_mtls_from_the_mounted_secret() -> None:
    props = parse_properties(
        bridge.build_properties(spec_of(DEFAULT_SPEC), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    )
    assert props["kafka.bootstrap.servers"] == "my-cluster-kafka-bootstrap.kafka.svc:9093"
    assert props["kafka.security.protocol"] == "SSL"
    assert props["kafka.ssl.truststore.type"] == props["kafka.ssl.keystore.type"] == "PEM"
    mount = bridge.CREDENTIALS_MOUNT_PATH
    assert props["kafka.ssl.truststore.certificates"] == f"${{strimzidir:{mount}:ca.crt}}"
    assert props["kafka.ssl.keystore.certificate.chain"] == f"${{strimzidir:{mount}:user.crt}}"
    assert props["kafka.ssl.keystore.key"] == f"${{strimzidir:{mount}:user.key}}"
    # Each client resolves the common kafka.* references itself, so each declares the provider.
    for client in ("admin", "producer", "consumer"):
        assert props[f"kafka.{client}.config.providers"] == "strimzidir"
        assert props[f"kafka.{client}.config.providers.strimzidir.class"] == bridge.CONFIG_PROVIDER_CLASS
        allowed = props[f"kafka.{client}.config.providers.strimzidir.param.allowed.paths"]
        assert mount.startswith(allowed)


def test_properties_hold_no_secret_material() -> None:
    secrets = strimzi_secrets()
    text = bridge.build_properties(spec_of(CUSTOM_SPEC), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    assert "BEGIN" not in text
    assert "password" not in text.lower()
    for pem in (secrets.user_key_pem, secrets.user_cert_pem):
        body = pem.splitlines()[1]
        assert body not in text


def test_properties_are_deterministic() -> None:
    reordered = copy.deepcopy(CUSTOM_SPEC)
    reordered["bridge"]["producer"] = dict(reversed(list(CUSTOM_SPEC["bridge"]["producer"].items())))
    first = bridge.build_properties(spec_of(CUSTOM_SPEC), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    assert first == bridge.build_properties(spec_of(reordered), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    producer_keys = [
        k for k in parse_properties(first) if k.startswith("kafka.producer.") and "config" not in k
    ]
    assert (
        producer_keys
        == sorted(producer_keys)
        == [
            "kafka.producer.acks",
            "kafka.producer.compression.type",
            "kafka.producer.linger.ms",
        ]
    )


def test_forbidden_client_options_are_dropped_and_reported() -> None:
    raw = copy.deepcopy(DEFAULT_SPEC)
    raw["bridge"] = {
        "producer": {
            "config": {"ssl.keystore.location": "/elsewhere", "ssl.protocol": "TLSv1.3", "acks": "all"}
        },
        "consumer": {
            "config": {
                "group.id": "anything",
                "security.protocol": "PLAINTEXT",
                "config.providers": "mine",
                "config.providers.strimzidir.param.allowed.paths": "/",
            }
        },
        "adminClient": {"config": {"SASL.mechanism": "PLAIN", "request.timeout.ms": "5000"}},
    }
    spec = spec_of(raw)
    props = parse_properties(bridge.build_properties(spec, bridge_id=APP_NAME, bootstrap=BOOTSTRAP))
    assert "kafka.producer.ssl.keystore.location" not in props
    assert "kafka.consumer.group.id" not in props
    assert "kafka.consumer.security.protocol" not in props
    assert props["kafka.producer.ssl.protocol"] == "TLSv1.3"  # Strimzi's exceptions pass
    assert "kafka.admin.SASL.mechanism" not in props  # prefixes match case-insensitively, as Strimzi's
    assert props["kafka.admin.request.timeout.ms"] == "5000"
    assert props["kafka.consumer.config.providers"] == "strimzidir"  # the operator's alone (issue 13)
    assert (
        props["kafka.consumer.config.providers.strimzidir.param.allowed.paths"]
        == bridge.CREDENTIALS_MOUNT_PATH
    )
    assert bridge.ignored_client_options(spec) == [
        "kafka.admin.SASL.mechanism",
        "kafka.consumer.config.providers",
        "kafka.consumer.config.providers.strimzidir.param.allowed.paths",
        "kafka.consumer.group.id",
        "kafka.consumer.security.protocol",
        "kafka.producer.ssl.keystore.location",
    ]


def test_no_user_option_declares_or_references_a_config_provider() -> None:
    """A provider reads any file or variable of the container: `${strimzidir:...:user.key}` in client.id would
    log the private key, `config.providers=dir` would read the service-account token."""
    raw = copy.deepcopy(DEFAULT_SPEC)
    raw["bridge"] = {
        "producer": {
            "config": {"client.id": "${strimzidir:/opt/strimzi/bridge-certs:user.key}", "acks": "1"}
        },
        "consumer": {
            "config": {
                "config.providers": "dir",
                "Config.Providers.dir.class": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
                "client.rack": "${dir:/var/run/secrets/kubernetes.io/serviceaccount:token}",
            }
        },
    }
    spec = spec_of(raw)
    props = parse_properties(bridge.build_properties(spec, bridge_id=APP_NAME, bootstrap=BOOTSTRAP))
    assert {k for k, v in props.items() if "${" in v} == {
        "kafka.ssl.truststore.certificates",
        "kafka.ssl.keystore.certificate.chain",
        "kafka.ssl.keystore.key",
    }
    assert not any(k.lower().startswith("kafka.consumer.config.providers.dir") for k in props)
    assert props["kafka.producer.acks"] == "1"
    assert bridge.ignored_client_options(spec) == [
        "kafka.consumer.Config.Providers.dir.class",
        "kafka.consumer.client.rack",
        "kafka.consumer.config.providers",
        "kafka.producer.client.id",
    ]


def test_forbidden_bridge_options_are_dropped_and_reported() -> None:
    """spec.bridge.config, filtered as Strimzi filters KafkaBridgeSpec.config: http.host stays loopback."""
    raw = {
        **DEFAULT_SPEC,
        "bridge": {
            "config": {
                "bridge.executor.pool.size": "8",
                "http.host": "0.0.0.0",
                "Bridge.Id": "other",
                "kafka.security.protocol": "PLAINTEXT",
                "bridge.metrics.exporter.config.path": "/x",
            }
        },
    }
    spec = spec_of(raw)
    props = parse_properties(bridge.build_properties(spec, bridge_id=APP_NAME, bootstrap=BOOTSTRAP))
    assert props["bridge.executor.pool.size"] == "8"
    assert props["http.host"] == "127.0.0.1" and props["bridge.id"] == APP_NAME
    assert props["kafka.security.protocol"] == "SSL" and "Bridge.Id" not in props
    assert bridge.ignored_client_options(spec) == [
        "Bridge.Id",
        "bridge.metrics.exporter.config.path",
        "http.host",
        "kafka.security.protocol",
    ]


def test_a_value_cannot_inject_a_property() -> None:
    raw = copy.deepcopy(DEFAULT_SPEC)
    raw["bridge"] = {"producer": {"config": {"acks": "all\nkafka.ssl.keystore.key=/evil"}}}
    text = bridge.build_properties(spec_of(raw), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    assert [line for line in text.splitlines() if line.startswith("kafka.ssl.keystore.key=")] == [
        f"kafka.ssl.keystore.key={bridge.provider_reference('user.key')}"
    ]
    assert text.isascii()


JAVA_LOADER = """
import java.io.*; import java.util.*;
public class Load { public static void main(String[] a) throws Exception {
  Properties p = new Properties();
  try (InputStream is = new FileInputStream(a[0])) { p.load(is); }  // as the bridge's ConfigRetriever
  TreeMap<String, String> m = new TreeMap<>();
  for (String k : p.stringPropertyNames()) m.put(k, p.getProperty(k));
  try (Writer w = new OutputStreamWriter(new FileOutputStream(a[1]), "UTF-8")) {
    for (var e : m.entrySet()) w.write(e.getKey() + "\\u0000" + e.getValue() + "\\u0001");
  }
}}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK (java on PATH) to run Properties.load")
def test_java_reads_the_properties_exactly(tmp_path: Path) -> None:
    """The escaping round-trips through java.util.Properties.load(InputStream), the bridge's own reader."""
    odd = {
        "weird key=:#!": " lead\nkafka.ssl.keystore.key=evil\\ tab\t \u00e9 \u20ac \U0001f600",
        "acks": "all",
    }
    raw = copy.deepcopy(CUSTOM_SPEC)
    raw["bridge"]["producer"] = {"config": odd}
    text = bridge.build_properties(spec_of(raw), bridge_id=APP_NAME, bootstrap=BOOTSTRAP)
    (tmp_path / "app.properties").write_bytes(text.encode("iso-8859-1"))
    (tmp_path / "Load.java").write_text(JAVA_LOADER)
    subprocess.run(
        ["java", str(tmp_path / "Load.java"), str(tmp_path / "app.properties"), str(tmp_path / "out")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    loaded = dict(
        entry.split("\0", 1) for entry in (tmp_path / "out").read_text(encoding="utf-8").split("\1") if entry
    )
    plain_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#") and "\\" not in ln]
    plain = dict(ln.split("=", 1) for ln in plain_lines)
    assert {k: v for k, v in loaded.items() if k in plain} == plain
    assert loaded["kafka.producer.weird key=:#!"] == odd["weird key=:#!"]
    assert len(loaded) == len(plain) + 1  # nothing injected by the newline in the value
    assert loaded["kafka.ssl.keystore.key"] == bridge.provider_reference("user.key")


# ---------------------------------------------------------------------------------------------------------
# log4j2.properties
# ---------------------------------------------------------------------------------------------------------


def test_default_logging_is_strimzis() -> None:
    text = bridge.build_logging(spec_of(DEFAULT_SPEC))
    assert text is not None
    assert parse_properties(text) == {**dict(bridge.DEFAULT_LOGGING), "monitorInterval": "30"}


@pytest.mark.parametrize("level", ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])
def test_inline_loggers_replace_in_place_and_append(level: str) -> None:
    loggers = {
        "rootLogger.level": level,
        "logger.send.name": "http.openapi.operation.send",
        "logger.send.level": "DEBUG",
        "monitorInterval": "5",
    }
    raw = {**DEFAULT_SPEC, "bridge": {"logging": {"type": "inline", "loggers": loggers}}}
    text = bridge.build_logging(spec_of(raw))
    assert text is not None
    lines = parse_properties(text)
    assert lines["rootLogger.level"] == level
    assert lines["logger.bridge.level"] == "INFO"  # untouched defaults stay
    assert lines["logger.healthy.level"] == lines["logger.ready.level"] == "WARN"
    assert lines["logger.send.level"] == "DEBUG"
    assert lines["monitorInterval"] == "5"  # the user's own value is kept, not duplicated
    keys = list(lines)
    assert keys.index("rootLogger.level") == keys.index("rootLogger.appenderRefs") - 1  # replaced in place


def test_config_map_is_owned_and_labelled() -> None:
    built = config_map()
    assert built["metadata"]["name"] == "orders-bridge-config" == bridge.bridge_config_name(APP_NAME)
    assert built["metadata"]["namespace"] == APP_NAMESPACE
    assert built["metadata"]["labels"]["bridgedapp.io/owner"] == "shop.orders"
    (owner,) = built["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "BridgedApp",
        APP_NAME,
        app_object()["metadata"]["uid"],
    )
    assert set(built["data"]) == {"application.properties", "log4j2.properties"}


# ---------------------------------------------------------------------------------------------------------
# credentials Secret
# ---------------------------------------------------------------------------------------------------------


def test_credentials_trust_every_cluster_ca_certificate_during_rotation() -> None:
    secrets = strimzi_secrets().rotated()
    ca_secret = secrets.cluster_ca_secret()
    assert len(ca_secret["data"]) == 2  # ca.crt and ca-<notAfter>.crt, as Strimzi keeps them
    built = bridge.build_credentials_secret(
        app_object(), user_secret=secrets.user_secret(), cluster_ca_secret=ca_secret
    )
    trusted = load_certificates(unb64(built["data"]["ca.crt"]))
    assert trusted == [secrets.cluster_ca.cert, *secrets.cluster_ca.previous]
    assert unb64(built["data"]["user.crt"]) == secrets.user_cert_pem
    assert unb64(built["data"]["user.key"]) == secrets.user_key_pem
    assert built["metadata"]["name"] == "orders-bridge-tls" == bridge.credentials_secret_name(APP_NAME)
    assert built["metadata"]["ownerReferences"][0]["uid"] == app_object()["metadata"]["uid"]
    assert set(built["data"]) == set(bridge.CREDENTIAL_KEYS)


def test_credentials_dedupe_certificates_and_ignore_non_certificate_keys() -> None:
    ca_secret = fake_cluster_ca_secret(rotating=True)
    ca_secret["data"]["ca-2028-01-01T00-00-00Z.crt"] = ca_secret["data"]["ca.crt"]  # the same cert twice
    built = bridge.build_credentials_secret(
        app_object(), user_secret=fake_user_secret(), cluster_ca_secret=ca_secret
    )
    assert unb64(built["data"]["ca.crt"]) == FAKE_CA_NEW + FAKE_CA_OLD


def test_missing_credentials_are_named_without_values() -> None:
    user = fake_user_secret()
    del user["data"]["user.key"]
    with pytest.raises(bridge.CredentialsError, match=r"kafka/shop\.orders has no user\.key"):
        bridge.build_credentials_secret(
            app_object(), user_secret=user, cluster_ca_secret=fake_cluster_ca_secret()
        )
    empty_ca = fake_cluster_ca_secret()
    empty_ca["data"] = {"ca.password": empty_ca["data"]["ca.password"]}
    with pytest.raises(bridge.CredentialsError) as info:
        bridge.build_credentials_secret(
            app_object(), user_secret=fake_user_secret(), cluster_ca_secret=empty_ca
        )
    assert "my-cluster-cluster-ca-cert" in str(info.value)
    assert "not-a-real-password" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# config hash
# ---------------------------------------------------------------------------------------------------------


def _hash(secrets: Any, spec: dict[str, Any] = DEFAULT_SPEC) -> str:
    built = bridge.build_credentials_secret(
        app_object(spec), user_secret=secrets.user_secret(), cluster_ca_secret=secrets.cluster_ca_secret()
    )
    return sidecar.compute_config_hash(config_map(spec), built)


def test_hash_is_stable_when_nothing_changes() -> None:
    secrets = strimzi_secrets()
    first = _hash(secrets)
    assert first == _hash(secrets)
    relabelled = secrets.cluster_ca_secret()
    relabelled["metadata"]["resourceVersion"] = "999"
    built = bridge.build_credentials_secret(
        app_object(), user_secret=secrets.user_secret(), cluster_ca_secret=relabelled
    )
    assert sidecar.compute_config_hash(config_map(), built) == first


def test_hash_changes_when_the_cluster_ca_rotates() -> None:
    secrets = strimzi_secrets()
    assert _hash(secrets.rotated()) != _hash(secrets)


def test_hash_changes_when_the_config_changes() -> None:
    secrets = strimzi_secrets()
    assert _hash(secrets, CUSTOM_SPEC) != _hash(secrets)


# ---------------------------------------------------------------------------------------------------------
# native sidecar decision
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "version", "expected"),
    [
        (NativeSidecar.AUTO, (1, 36), True),
        (NativeSidecar.AUTO, (1, 29), True),
        (NativeSidecar.AUTO, (1, 28), False),
        (NativeSidecar.NEVER, (1, 36), False),
        (NativeSidecar.ALWAYS, (1, 29), True),
        ("Always", (2, 0), True),
    ],
)
def test_native_sidecar_decision(
    setting: NativeSidecar | str, version: tuple[int, int], expected: bool
) -> None:
    assert sidecar.use_native_sidecar(setting, version) is expected
    assert sidecar.supports_native_sidecar(version) is (version >= (1, 29))


def test_native_sidecar_always_on_an_old_server_is_a_clear_error() -> None:
    with pytest.raises(sidecar.NativeSidecarUnsupportedError, match=r"nativeSidecar is Always.*1\.28.*1\.29"):
        sidecar.use_native_sidecar(NativeSidecar.ALWAYS, (1, 28))


def test_server_version_with_provider_suffix() -> None:
    assert sidecar.parse_server_version("1", "29+") == (1, 29)


# ---------------------------------------------------------------------------------------------------------
# container
# ---------------------------------------------------------------------------------------------------------


def test_container_is_restricted_and_read_only() -> None:
    container = sidecar.build_bridge_container(spec_of(DEFAULT_SPEC), native=True, app_name=APP_NAME)
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/tmp"]["name"] == sidecar.TMP_VOLUME  # the run script empties and writes /tmp
    assert mounts["/opt/strimzi/custom-config"]["readOnly"] is True
    assert mounts[bridge.CREDENTIALS_MOUNT_PATH]["readOnly"] is True


def test_container_runs_like_strimzi_runs_the_bridge() -> None:
    container = sidecar.build_bridge_container(spec_of(DEFAULT_SPEC), native=False, app_name=APP_NAME)
    assert container["name"] == SIDECAR_NAME
    assert container["image"] == "quay.io/strimzi/kafka-bridge:1.1.0"
    assert container["command"] == ["/opt/strimzi/bin/docker/kafka_bridge_run.sh"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"STRIMZI_GC_LOG_ENABLED": "false", "STRIMZI_DYNAMIC_HEAP_PERCENTAGE": "75"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "bridge-http": 8080,
        "bridge-mgmt": 8081,
    }
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert "restartPolicy" not in container


def test_container_without_memory_settings_gets_strimzis_default_xms() -> None:
    raw = {**DEFAULT_SPEC, "bridge": {"resources": {"requests": {"cpu": "10m"}, "limits": {}}}}
    container = sidecar.build_bridge_container(spec_of(raw), native=False, app_name=APP_NAME)
    assert {e["name"]: e["value"] for e in container["env"]}["KAFKA_HEAP_OPTS"] == "-Xms128M"
    assert container["resources"] == {"requests": {"cpu": "10m"}}


def test_native_container_is_an_always_restarting_init_container_with_a_startup_probe() -> None:
    container = sidecar.build_bridge_container(spec_of(DEFAULT_SPEC), native=True, app_name=APP_NAME)
    assert container["restartPolicy"] == "Always"
    assert container["startupProbe"]["exec"]["command"] == sidecar.probe_command("/ready")


def test_probes_are_bash_requests_to_the_loopback_management_port() -> None:
    container = sidecar.build_bridge_container(spec_of(DEFAULT_SPEC), native=True, app_name=APP_NAME)
    for probe, path in (
        ("startupProbe", "/ready"),
        ("readinessProbe", "/ready"),
        ("livenessProbe", "/healthy"),
    ):
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["/bin/bash", "-c"]
        assert "/dev/tcp/127.0.0.1/8081" in command[2]
        assert f"GET {path} HTTP/1.1" in command[2]
        assert "httpGet" not in container[probe]
        assert container[probe]["timeoutSeconds"] == 5


class _Management(BaseHTTPRequestHandler):
    """Stands in for the bridge's management endpoints: /ready 200, everything else 500."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def management_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Management)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_probe_script_really_probes(management_port: int) -> None:
    """Run the exact probe script with bash against a local HTTP server (on a free port, not 8081)."""

    def probe(path: str, port: int) -> int:
        command = sidecar.probe_command(path, port)
        return subprocess.run(command, capture_output=True, timeout=30).returncode

    assert probe("/ready", management_port) == 0
    assert probe("/healthy", management_port) != 0  # 500 is not healthy
    free = ThreadingHTTPServer(("127.0.0.1", 0), _Management)
    closed_port = free.server_address[1]
    free.server_close()
    assert probe("/ready", closed_port) != 0  # nothing listening
    # the container's probe is this same script, only on the management port
    assert (
        sidecar.probe_command("/ready", management_port)[2].replace(str(management_port), "8081")
        == (sidecar.probe_command("/ready")[2])
    )


# ---------------------------------------------------------------------------------------------------------
# volumes and the Deployment patch
# ---------------------------------------------------------------------------------------------------------


def test_volumes_reference_the_owned_objects() -> None:
    volumes = {v["name"]: v for v in sidecar.build_volumes(APP_NAME, spec_of(DEFAULT_SPEC))}
    assert set(volumes) == {"kafka-bridge-config", "kafka-bridge-tls", "kafka-bridge-tmp"}
    assert volumes["kafka-bridge-config"]["configMap"]["name"] == bridge.bridge_config_name(APP_NAME)
    assert volumes["kafka-bridge-tls"]["secret"]["secretName"] == bridge.credentials_secret_name(APP_NAME)
    assert volumes["kafka-bridge-tmp"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "5Mi"}


@pytest.mark.parametrize("native", [True, False])
def test_patch_owns_only_the_sidecar_fields(native: bool) -> None:
    patch = patch_for(DEFAULT_SPEC, native=native)
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}
    assert patch["metadata"] == {
        "name": "orders-api",
        "namespace": APP_NAMESPACE,
        "annotations": {BRIDGED_BY_ANNOTATION: APP_NAME},
    }
    assert list(patch["spec"]) == ["template"]
    template = patch["spec"]["template"]
    assert template["metadata"] == {"annotations": {CONFIG_HASH_ANNOTATION: "0123abcd"}}
    expected_list = "initContainers" if native else "containers"
    assert set(template["spec"]) == {expected_list, "volumes"}
    assert [c["name"] for c in template["spec"][expected_list]] == [SIDECAR_NAME]


def test_removal_patch_is_minimal() -> None:
    assert sidecar.build_removal_patch(sample_deployment()) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "orders-api", "namespace": APP_NAMESPACE},
    }


def test_local_apply_keeps_the_apps_own_fields() -> None:
    deployment = sample_deployment()
    injected = sidecar.apply_patch_locally(deployment, patch_for(DEFAULT_SPEC, native=True))
    pod = injected["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["app"]
    assert pod["containers"] == deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in pod["initContainers"]] == [SIDECAR_NAME]
    assert [v["name"] for v in pod["volumes"]] == ["cache", *sidecar.VOLUME_NAMES]
    annotations = injected["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"example.com/team": "shop", CONFIG_HASH_ANNOTATION: "0123abcd"}
    assert injected["spec"]["selector"] == deployment["spec"]["selector"]
    assert injected["metadata"] == {
        **deployment["metadata"],
        "annotations": {**deployment["metadata"].get("annotations", {}), BRIDGED_BY_ANNOTATION: APP_NAME},
    }
    assert deployment == sample_deployment()  # the input is not modified


def test_local_apply_is_idempotent_and_moves_the_container_between_modes() -> None:
    native_patch = patch_for(DEFAULT_SPEC, native=True)
    once = sidecar.apply_patch_locally(sample_deployment(), native_patch)
    assert sidecar.apply_patch_locally(once, native_patch) == once
    regular = sidecar.apply_patch_locally(once, patch_for(DEFAULT_SPEC, native=False))
    pod = regular["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert [c["name"] for c in pod["containers"]] == ["app", SIDECAR_NAME]


def test_local_apply_of_the_removal_patch_restores_the_app() -> None:
    deployment = sample_deployment()
    injected = sidecar.apply_patch_locally(deployment, patch_for(DEFAULT_SPEC, native=True))
    assert sidecar.apply_patch_locally(injected, sidecar.build_removal_patch(deployment)) == deployment


# ---------------------------------------------------------------------------------------------------------
# conflicts
# ---------------------------------------------------------------------------------------------------------


def test_no_conflicts_for_the_sample_app() -> None:
    assert sidecar.app_container_conflicts(sample_deployment()) == []
    assert sidecar.pod_conflicts(sample_deployment(), spec_of(DEFAULT_SPEC)) == []


def test_a_foreign_kafka_bridge_container_conflicts_unless_the_operator_owns_it() -> None:
    deployment = sample_deployment()
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"].append({"name": SIDECAR_NAME, "image": "someone/else"})
    pod["volumes"].append({"name": "kafka-bridge-tmp", "emptyDir": {}})
    assert sidecar.app_container_conflicts(deployment) == [
        "a container named kafka-bridge",
        "a volume named kafka-bridge-tmp",
    ]
    deployment["metadata"]["managedFields"] = [
        {
            "manager": FIELD_MANAGER,
            "operation": "Apply",
            "fieldsV1": {
                "f:spec": {
                    "f:template": {
                        "f:spec": {
                            "f:containers": {'k:{"name":"kafka-bridge"}': {".": {}}},
                            "f:volumes": {'k:{"name":"kafka-bridge-tmp"}': {".": {}}},
                        }
                    }
                }
            },
        }
    ]
    assert sidecar.app_container_conflicts(deployment) == []
    injected = sidecar.apply_patch_locally(sample_deployment(), patch_for(DEFAULT_SPEC, native=True))
    assert sidecar.app_container_conflicts(injected) == [  # without managedFields nothing proves ownership
        "an init container named kafka-bridge",
        *(f"a volume named {name}" for name in sidecar.VOLUME_NAMES),
    ]


def test_port_and_host_network_conflicts() -> None:
    deployment = sample_deployment()
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"][0]["ports"].append({"containerPort": 8081})
    pod["hostNetwork"] = True
    problems = sidecar.pod_conflicts(
        deployment, spec_of({**DEFAULT_SPEC, "bridge": {"http": {"port": 3000}}})
    )
    assert len(problems) == 3
    assert any("hostNetwork" in p for p in problems)
    assert any("port 3000, which is spec.bridge.http.port" in p for p in problems)
    assert any("port 8081, which is the bridge's management port" in p for p in problems)


def test_long_app_names_still_give_valid_object_names() -> None:
    name = "a" * 253
    assert len(bridge.bridge_config_name(name)) <= 253
    assert len(bridge.credentials_secret_name(name)) <= 253
    assert bridge.bridge_config_name(name) != bridge.credentials_secret_name(name)
