"""The pure helpers of testbed/bridge/ (pod, mounts, dist) that turn a container spec and its objects into files at mount paths, and
find a bridge distribution. The data-path tests trust them to lay out exactly what the operator rendered, so a
mistake here would make tier 1 and tier 2 test something other than the operator's output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bridgedapp.builders.bridge import (
    CONFIG_MOUNT_PATH,
    CREDENTIALS_MOUNT_PATH,
    PROPERTIES_KEY,
    build_properties,
    provider_reference,
)
from bridgedapp.builders.sidecar import build_bridge_container, build_volumes
from bridgedapp.models import parse_spec

from testbed.bridge.dist import dist_version, find_bridge_dist, find_bridge_java
from testbed.bridge.errors import BridgeError, redact
from testbed.bridge.kafka_side import KafkaSideResult
from testbed.bridge.mounts import MountPlan, rewrite_mount_paths, stage_mounts
from testbed.bridge.pod import config_file_path, env_from_container, mounts_from_pod
from testbed.bridge.process import RealBridge, read_properties
from testbed.kafka.broker import KafkaBroker
from testbed.strimzi_sim.ca import CertificateAuthority

# ---- env and config file ---------------------------------------------------------------------------------------


def test_env_keeps_literal_values_and_refuses_value_from() -> None:
    container = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": 2}, {"name": "EMPTY"}]}
    assert env_from_container(container) == {"A": "1", "B": "2", "EMPTY": ""}
    with pytest.raises(BridgeError, match="SECRET uses valueFrom"):
        env_from_container({"env": [{"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s"}}}]})
    assert env_from_container({}) == {}


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"command": ["run.sh", "--config-file=/etc/b.properties"]}, "/etc/b.properties"),
        ({"command": ["run.sh"], "args": ["--config-file", "/etc/c.properties"]}, "/etc/c.properties"),
        (
            {"command": ["/opt/strimzi/bin/docker/kafka_bridge_run.sh"]},
            "/opt/strimzi/custom-config/application.properties",
        ),
        (
            {
                "command": ["/home/bridge/bin/docker/kafka_bridge_run.sh"],
                "env": [{"name": "STRIMZI_HOME", "value": "/home/bridge"}],
            },
            "/home/bridge/custom-config/application.properties",
        ),
        ({}, "/opt/strimzi/custom-config/application.properties"),  # the image's own entrypoint
    ],
)
def test_config_file_path(container: dict[str, object], expected: str) -> None:
    assert config_file_path(container) == expected


def test_config_file_path_refuses_to_guess() -> None:
    with pytest.raises(BridgeError, match="cannot tell"):
        config_file_path({"command": ["java", "-jar", "bridge.jar"]})


# ---- mounts ----------------------------------------------------------------------------------------------------


def test_mounts_of_the_operators_own_container_and_volumes() -> None:
    """What the operator's builders produce, laid out: the properties where the entrypoint reads them, the PEM
    files where the properties' config-provider references point, and an empty writable /tmp."""
    spec = parse_spec({"deploymentName": "web"})
    container = build_bridge_container(spec, native=True, app_name="orders")
    properties = build_properties(spec, bridge_id="shop.orders", bootstrap="c-kafka-bootstrap.kafka.svc:9093")
    mounts = mounts_from_pod(
        container,
        build_volumes("orders", spec),
        {"orders-bridge-config": {PROPERTIES_KEY: properties, "log4j2.properties": "status = warn\n"}},
        {"orders-bridge-tls": {"ca.crt": b"CA", "user.crt": b"CRT", "user.key": b"KEY"}},
    )
    assert mounts == {
        CONFIG_MOUNT_PATH: {PROPERTIES_KEY: properties.encode(), "log4j2.properties": b"status = warn\n"},
        CREDENTIALS_MOUNT_PATH: {"ca.crt": b"CA", "user.crt": b"CRT", "user.key": b"KEY"},
        "/tmp": {},
    }
    config_dir, config_name = config_file_path(container).rsplit("/", 1)
    assert mounts[config_dir][config_name] == properties.encode()
    for key in ("ca.crt", "user.crt", "user.key"):
        reference = provider_reference(key)  # ${strimzidir:<dir>:<file>}
        directory, name = reference[2:-1].split(":")[1:]
        assert reference in properties and name in mounts[directory]


def test_mounts_items_optional_and_sub_path() -> None:
    container = {
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/opt/app/config/"},
            {"name": "maybe", "mountPath": "/opt/app/maybe"},
            {"name": "one", "mountPath": "/opt/app/single.txt", "subPath": "single.txt"},
        ]
    }
    volumes = [
        {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "renamed"}]}},
        {"name": "maybe", "secret": {"secretName": "absent", "optional": True}},
        {"name": "one", "configMap": {"name": "cm"}},
    ]
    configmaps = {"cm": {"a": "alpha", "single.txt": "one file"}}
    assert mounts_from_pod(container, volumes, configmaps, {}) == {
        "/opt/app/config": {"renamed": b"alpha"},
        "/opt/app/maybe": {},
        "/opt/app": {"single.txt": b"one file"},
    }


@pytest.mark.parametrize(
    ("volumes", "message"),
    [
        ([], "names no volume"),
        ([{"name": "v", "secret": {"secretName": "missing"}}], "secret 'missing' was not given"),
        ([{"name": "v", "configMap": {"name": "cm", "items": [{"key": "nope", "path": "x"}]}}], "key 'nope'"),
        ([{"name": "v", "projected": {"sources": []}}], "only configMap, secret and emptyDir"),
    ],
)
def test_mounts_refuse_what_cannot_be_laid_out(volumes: list[dict[str, object]], message: str) -> None:
    container = {"volumeMounts": [{"name": "v", "mountPath": "/opt/x"}]}
    with pytest.raises(BridgeError, match=message):
        mounts_from_pod(container, volumes, {"cm": {"a": "b"}}, {})


def test_rewrite_mount_paths_moves_only_paths_under_used_roots(tmp_path: Path) -> None:
    """The fallback without a mount namespace: references and allowed paths under /opt move under `root`;
    paths elsewhere, look-alikes (/optional) and relative paths stay."""
    text = (
        "kafka.ssl.keystore.key=${strimzidir:/opt/strimzi/bridge-certs:user.key}\n"
        "kafka.admin.config.providers.strimzidir.param.allowed.paths=/opt/strimzi/bridge-certs\n"
        "other=/optional/x,/etc/hosts,opt/strimzi,a/opt/b\n"
        "dir=/opt\n"
    )
    mounts = {"/opt/strimzi/bridge-certs": {"user.key": b"k"}}
    root = tmp_path / "root"
    assert rewrite_mount_paths(text, mounts, root) == (
        f"kafka.ssl.keystore.key=${{strimzidir:{root}/opt/strimzi/bridge-certs:user.key}}\n"
        f"kafka.admin.config.providers.strimzidir.param.allowed.paths={root}/opt/strimzi/bridge-certs\n"
        "other=/optional/x,/etc/hosts,opt/strimzi,a/opt/b\n"
        f"dir={root}/opt\n"
    )
    assert rewrite_mount_paths(text, {"/tmp": {}}, root) == text  # no mount under /opt: nothing moves


def test_staged_volumes_look_like_the_kubelets(tmp_path: Path) -> None:
    """Files behind `..data` -> `..<timestamp>/`, one symlink per key, as the kubelet's atomic writer does;
    an empty mapping is an emptyDir (nothing staged)."""
    plan = stage_mounts({"/opt/strimzi/certs": {"ca.crt": b"CA", "user.key": b"K"}, "/tmp": {}}, tmp_path)
    staged = plan.mounts["/opt/strimzi/certs"]
    assert staged is not None and plan.mounts["/tmp"] is None
    assert (staged / "..data").is_symlink() and os.readlink(staged / "..data").startswith("..")
    assert os.readlink(staged / "ca.crt") == "..data/ca.crt"
    assert (staged / "ca.crt").read_bytes() == b"CA" and (staged / "user.key").read_bytes() == b"K"
    with pytest.raises(BridgeError, match="not absolute"):
        stage_mounts({"relative/path": {"a": b"b"}}, tmp_path / "other")


def test_mount_plan_script_lays_out_overlays_hosts_and_execs(tmp_path: Path) -> None:
    plan = stage_mounts({"/opt/strimzi/certs": {"ca.crt": b"CA"}, "/tmp": {}}, tmp_path)
    plan.binds["/opt/strimzi/bin"] = tmp_path / "dist-bin"
    plan.hosts["c-kafka-bootstrap.kafka.svc"] = "127.0.0.2"
    script = plan.script()
    staged = plan.mounts["/opt/strimzi/certs"]
    assert f"mount --bind {staged} " in script and "remount,bind,ro" in script
    assert "mount --move" in script and script.rstrip().endswith('exec "$@"')
    assert f"mount --bind {tmp_path / 'hosts'} /etc/hosts" in script
    assert (tmp_path / "hosts").read_text().endswith("127.0.0.2 c-kafka-bootstrap.kafka.svc\n")
    assert plan.argv(["java", "-version"])[-2:] == ["java", "-version"]

    outside = MountPlan(stage=tmp_path / "o", mounts={"/no/such/place": None})
    (tmp_path / "o").mkdir()
    with pytest.raises(BridgeError, match="does not exist on this machine"):
        outside.script()


# ---- output hygiene and small parsers --------------------------------------------------------------------------


def test_redact_hides_keys_and_passwords_but_not_references() -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    text = f"{key}\nssl.key.password=hunter2\nssl.keystore.key=${{strimzidir:/opt/x:user.key}}"
    shown = redact(text)
    assert "MIIE" not in shown and "hunter2" not in shown
    assert "${strimzidir:/opt/x:user.key}" in shown


def test_properties_reader_and_real_bridge_addresses(tmp_path: Path) -> None:
    text = "# c\n! c\nhttp.host=0.0.0.0\nhttp.port = 8090\nhttp.management.port:8091\nbridge.id=x\n"
    assert read_properties(text) == {
        "http.host": "0.0.0.0",
        "http.port": "8090",
        "http.management.port": "8091",
        "bridge.id": "x",
    }
    bridge = RealBridge(tmp_path, text, {})  # not started: only what it read from the properties
    assert (bridge.host, bridge.port, bridge.management_port) == ("127.0.0.1", 8090, 8091)
    assert bridge.url == "http://127.0.0.1:8090" and bridge.management_url == "http://127.0.0.1:8091"
    defaults = RealBridge(tmp_path, "http.host=127.0.0.1\n", {})
    assert (defaults.port, defaults.management_port) == (8080, 8081)


def test_kafka_side_result_reads_its_answer() -> None:
    ok = KafkaSideResult(0, {"ok": True}, "", "namespace", [])
    denied = KafkaSideResult(2, {"ok": False, "error": {"class": "X", "message": "m"}}, "", "namespace", [])
    assert ok.ok and ok.error_class is None
    assert not denied.ok and (denied.error_class, denied.error_message) == ("X", "m")
    assert not KafkaSideResult(3, {"ok": True}, "", "rewrite", []).ok  # the exit code counts too


# ---- finding a distribution and a JDK --------------------------------------------------------------------------


def _fake_dist(where: Path, version: str = "1.1.0") -> Path:
    (where / "bin").mkdir(parents=True)
    (where / "bin" / "kafka_bridge_run.sh").write_text("#!/bin/sh\n")
    (where / "libs").mkdir()
    (where / "libs" / f"io.strimzi.kafka-bridge-{version}.jar").write_bytes(b"")
    return where


def test_find_bridge_dist_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGEDAPP_CACHE_DIR", str(tmp_path / "cache"))
    dist = _fake_dist(tmp_path / "target" / "kafka-bridge-1.1.0" / "kafka-bridge-1.1.0")
    assert dist_version(dist) == "1.1.0"
    monkeypatch.setenv("BRIDGEDAPP_BRIDGE_DIST", str(tmp_path / "target" / "kafka-bridge-1.1.0"))
    assert find_bridge_dist(try_download=False) == (dist, "")  # a folder holding the distribution folder

    monkeypatch.setenv("BRIDGEDAPP_BRIDGE_DIST", str(_fake_dist(tmp_path / "old", "1.0.2")))
    found, why = find_bridge_dist(try_download=False)
    assert found is None and "is bridge 1.0.2, not 1.1.0" in why

    monkeypatch.setenv("BRIDGEDAPP_BRIDGE_DIST", str(tmp_path / "nowhere"))
    found, why = find_bridge_dist(try_download=False)
    assert found is None and "does not exist" in why


def test_find_bridge_dist_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGEDAPP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BRIDGEDAPP_BRIDGE_DIST", raising=False)
    found, why = find_bridge_dist(try_download=False)
    assert found is None
    assert "BRIDGEDAPP_BRIDGE_DIST is not set" in why and "set BRIDGEDAPP_BRIDGE_DIST" in why


def test_find_bridge_java_takes_the_override_when_new_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jdk").mkdir()
    (tmp_path / "jdk" / "release").write_text('JAVA_VERSION="25.0.1"\n')
    monkeypatch.setenv("BRIDGEDAPP_BRIDGE_JAVA_HOME", str(tmp_path / "jdk"))
    assert find_bridge_java() == (tmp_path / "jdk", "")


# ---- testbed.kafka: a broker serving a rendered `...svc:9093` on a chosen loopback address ---------------------


def test_broker_listen_address_is_what_its_hosts_entry_names() -> None:
    """Two brokers can serve the same rendered name and port at once on different loopback addresses (the
    cluster CA rotation test relies on it); clients reach each through its own /etc/hosts entry."""
    ca = CertificateAuthority.create("cluster-ca", key_size=1024)
    broker = KafkaBroker(
        ca, advertised_host="c-kafka-bootstrap.kafka.svc", tls_port=9093, listen_address="127.0.0.3"
    )
    try:
        assert broker.hosts_entries == {"c-kafka-bootstrap.kafka.svc": "127.0.0.3"}
        assert "c-kafka-bootstrap.kafka.svc" in broker.dns_names
    finally:
        broker.stop()  # never started: removes its private work dir
    with pytest.raises(ValueError, match="loopback"):
        KafkaBroker(ca, listen_address="10.0.0.1")
