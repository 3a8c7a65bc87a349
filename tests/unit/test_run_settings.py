"""How `bridgedapp run` is configured: each setting from its environment variable, the flag wins, a bad value
is one line, and `--help`, the README and deploy/ all name exactly the settings declared in settings.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bridgedapp.cli import CliError, _parser, load_settings
from bridgedapp.settings import Settings, default_text, env_name, markdown_table
from pydantic import ValidationError

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT_ENV = {
    "BRIDGEDAPP_LIVENESS": "http://0.0.0.0:8080/healthz",
    "BRIDGEDAPP_METRICS_PORT": "9090",
    "BRIDGEDAPP_LOG_FORMAT": "json",
    "BRIDGEDAPP_PEERING": "bridgedapp-operator",
    "BRIDGEDAPP_PRIORITY": "7",
    "BRIDGEDAPP_NAMESPACES": "shop, kafka",
    "BRIDGEDAPP_SINGLE_TENANT": "true",
    "BRIDGEDAPP_STRIMZI_INSTALL": "never",
    "BRIDGEDAPP_INSTALL_TIMEOUT": "90",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the shell that runs the tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)


def run_settings(*argv: str) -> Settings:
    return load_settings(_parser().parse_args(["run", *argv]))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DEPLOYMENT_ENV.items():
        monkeypatch.setenv(key, value)
    settings = run_settings()
    assert settings.liveness == "http://0.0.0.0:8080/healthz"
    assert (settings.metrics_port, settings.log_format) == (9090, "json")
    assert (settings.peering, settings.priority) == ("bridgedapp-operator", 7)
    assert settings.namespaces == ("shop", "kafka") and settings.single_tenant is True
    assert (settings.strimzi_install, settings.install_timeout) == ("never", 90.0)


def test_defaults_run_alone_without_endpoints_and_install_strimzi() -> None:
    settings = run_settings()
    assert (settings.liveness, settings.metrics_port, settings.log_format) == (None, 0, "plain")
    assert (settings.peering, settings.priority) == (None, None)
    assert (settings.strimzi_install, settings.strimzi_version, settings.strimzi_namespace) == (
        "auto",
        "1.2.0",
        "kafka",
    )
    assert (settings.strimzi_manifest, settings.install_timeout) == (None, 600.0)
    assert (settings.namespaces, settings.single_tenant) == ((), False)


def test_an_empty_variable_is_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Deployment's `value: ""` (a Helm value left empty) means unset, as before pydantic-settings."""
    for name in (
        "BRIDGEDAPP_METRICS_PORT",
        "BRIDGEDAPP_PRIORITY",
        "BRIDGEDAPP_NAMESPACES",
        "BRIDGEDAPP_PEERING",
    ):
        monkeypatch.setenv(name, "")
    settings = run_settings()
    assert (settings.metrics_port, settings.priority, settings.namespaces, settings.peering) == (
        0,
        None,
        (),
        None,
    )


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DEPLOYMENT_ENV.items():
        monkeypatch.setenv(key, value)
    settings = run_settings(
        *("--metrics-port", "0", "--log-format", "plain", "--priority", "1", "--no-single-tenant"),
        *("-n", "billing", "--namespace", "audit,kafka", "--install-timeout", "12.5"),
        *("--strimzi-install", "auto"),
    )
    assert (settings.metrics_port, settings.log_format, settings.priority) == (0, "plain", 1)
    assert settings.single_tenant is False and settings.namespaces == ("billing", "audit", "kafka")
    assert (settings.install_timeout, settings.strimzi_install) == (12.5, "auto")
    # Not given as flags: the environment's values stand.
    assert settings.peering == "bridgedapp-operator" and settings.liveness == "http://0.0.0.0:8080/healthz"


def test_every_setting_has_a_flag_that_wins() -> None:
    """Each declared setting, set by its flag alone, arrives in Settings (no flag forgotten, none misrouted)."""
    values = {
        "strimzi_install": ("never", "never"),
        "strimzi_version": ("1.1.0", "1.1.0"),
        "strimzi_namespace": ("strimzi", "strimzi"),
        "strimzi_manifest": ("/tmp/bundle.yaml", "/tmp/bundle.yaml"),
        "install_timeout": ("30", 30.0),
        "namespaces": ("shop", ("shop",)),
        "liveness": ("http://127.0.0.1:1/healthz", "http://127.0.0.1:1/healthz"),
        "metrics_port": ("9999", 9999),
        "log_format": ("json", "json"),
        "peering": ("p", "p"),
        "priority": ("5", 5),
    }
    assert set(values) | {"single_tenant"} == set(Settings.model_fields)
    for name, (given, expected) in values.items():
        flag = "--namespace" if name == "namespaces" else "--" + name.replace("_", "-")
        assert getattr(run_settings(flag, given), name) == expected, name
    assert run_settings("--single-tenant").single_tenant is True


@pytest.mark.parametrize(
    ("argv", "env", "names"),
    [
        (["--metrics-port", "abc"], {}, ["--metrics-port='abc'"]),
        ([], {"BRIDGEDAPP_PRIORITY": "high"}, ["BRIDGEDAPP_PRIORITY='high'"]),
        ([], {"BRIDGEDAPP_STRIMZI_INSTALL": "always"}, ["BRIDGEDAPP_STRIMZI_INSTALL='always'"]),
        (
            [],
            {"BRIDGEDAPP_LOG_FORMAT": "xml", "BRIDGEDAPP_INSTALL_TIMEOUT": "0"},
            ["LOG_FORMAT", "INSTALL_TIMEOUT"],
        ),
        (
            ["--metrics-port", "70000"],
            {"BRIDGEDAPP_SINGLE_TENANT": "perhaps"},
            ["--metrics-port", "SINGLE_TENANT"],
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_where_it_came_from(
    argv: list[str], env: dict[str, str], names: list[str]
) -> None:
    """The real program: exit 1, one line on stderr naming each bad value's flag or variable, no traceback."""
    run = subprocess.run(
        [sys.executable, "-m", "bridgedapp", "run", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("bridgedapp: bad setting: "), run.stderr
    assert "Traceback" not in run.stderr
    for name in names:
        assert name in run.stderr


def test_a_bad_value_from_a_flag_names_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGEDAPP_PRIORITY", "3")
    with pytest.raises(CliError, match=r"^bad setting: --priority='x': "):
        run_settings("--priority", "x")


def test_other_commands_ignore_a_bad_run_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `run` reads the settings: `bridgedapp status` still parses with a broken BRIDGEDAPP_PRIORITY."""
    monkeypatch.setenv("BRIDGEDAPP_PRIORITY", "high")
    assert _parser().parse_args(["status"]).command == "status"


def test_help_lists_every_setting_with_its_variable_and_default() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bridgedapp", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(run.stdout.split())  # argparse wraps lines
    for name, field in Settings.model_fields.items():
        assert f"[{env_name(name)}, default: {default_text(field)}]" in text, name
        assert " ".join((field.description or "").replace("`", "").split()) in text, name


def test_the_readme_table_is_the_declared_settings() -> None:
    """README's Configuration table is exactly `python -m bridgedapp.settings`' output: docs cannot drift."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    table = re.search(r"^\| variable \|.*?\n(?!\|)", section, re.S | re.M)
    assert table is not None, "README's Configuration section has no settings table"
    assert table.group(0) == markdown_table(), "regenerate it: python -m bridgedapp.settings"


def test_deploy_sets_only_declared_settings() -> None:
    """Every BRIDGEDAPP_ variable the kustomize profiles and the Helm chart give the operator is a setting it
    reads (a typo there would be silently ignored by pydantic-settings)."""
    declared = {env_name(name) for name in Settings.model_fields}
    used = {
        match
        for path in (REPO / "deploy").rglob("*.yaml")
        for match in re.findall(r"name: (BRIDGEDAPP_[A-Z_]+)", path.read_text())
    }
    assert used, "found no BRIDGEDAPP_ variable in deploy/"
    assert used <= declared, sorted(used - declared)


def test_other_bridgedapp_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test bed's BRIDGEDAPP_CACHE_DIR and friends share the prefix: they are not read, nor an error."""
    monkeypatch.setenv("BRIDGEDAPP_CACHE_DIR", "/tmp/cache")
    monkeypatch.setenv("BRIDGEDAPP_BRIDGE_DIST", "/tmp/bridge")
    assert run_settings() == Settings()


def test_a_misspelt_setting_in_code_fails() -> None:
    with pytest.raises(ValidationError, match="strimzi_manfest"):
        Settings(strimzi_manfest="/tmp/bundle.yaml")  # type: ignore[call-arg]


def test_the_start_up_line_masks_credentials_in_urls() -> None:
    settings = Settings(strimzi_manifest="https://mirror:s3cret@repo.example/strimzi.yaml", peering="p")
    line = settings.loggable()
    assert "s3cret" not in line and "mirror" not in line
    assert json.loads(line)["strimzi_manifest"] == "https://***@repo.example/strimzi.yaml"
    assert json.loads(line)["peering"] == "p"
