"""How `bridgedapp run` is configured for a Deployment: each process setting from its environment variable,
and the flag wins (what the Deployment's env in deploy/ relies on)."""

from __future__ import annotations

import pytest
from bridgedapp.cli import _parser
from bridgedapp.settings import Settings

DEPLOYMENT_ENV = {
    "BRIDGEDAPP_LIVENESS": "http://0.0.0.0:8080/healthz",
    "BRIDGEDAPP_METRICS_PORT": "9090",
    "BRIDGEDAPP_LOG_FORMAT": "json",
    "BRIDGEDAPP_PEERING": "bridgedapp-operator",
    "BRIDGEDAPP_PRIORITY": "7",
}


def test_process_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(DEPLOYMENT_ENV)
    assert settings.liveness == "http://0.0.0.0:8080/healthz"
    assert (settings.metrics_port, settings.log_format) == (9090, "json")
    assert (settings.peering, settings.priority) == ("bridgedapp-operator", 7)


def test_defaults_run_alone_without_endpoints() -> None:
    settings = Settings.from_env({})
    assert (settings.liveness, settings.metrics_port, settings.log_format) == (None, 0, "plain")
    assert (settings.peering, settings.priority) == (None, None)


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DEPLOYMENT_ENV.items():
        monkeypatch.setenv(key, value)
    args = _parser().parse_args(["run", "--metrics-port", "0", "--log-format", "plain", "--priority", "1"])
    assert (args.metrics_port, args.log_format, args.priority) == (0, "plain", 1)
    assert args.peering == "bridgedapp-operator" and args.liveness == "http://0.0.0.0:8080/healthz"
