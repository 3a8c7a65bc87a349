"""Operator-level settings, declared once: each field is an environment variable `BRIDGEDAPP_<NAME>` and a flag
of `bridgedapp run` (the flag wins); its description is the flag's `--help` and the README's table row."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "BRIDGEDAPP_"
STRIMZI_RELEASE_URL = (
    "https://github.com/strimzi/strimzi-kafka-operator/releases/download/{version}/"
    "strimzi-cluster-operator-{version}.yaml"
)
BUNDLED_MANIFEST_DIR = "/opt/bridgedapp/strimzi"  # where the image ships the pinned bundle
_URL_CREDENTIALS = re.compile(r"//[^/@\s\"]+@")


def setting(default: Any, description: str, *, shown: str | None = None, flags: tuple[str, ...] = ()) -> Any:
    """One setting: its default, what it means (markdown; `--help` drops the backticks), the default as a
    person reads it when the value alone says little (`None`, 0), and flags other than `--<name>`."""
    return Field(default, description=description, json_schema_extra={"shown": shown, "flags": list(flags)})


class Settings(BaseSettings):
    """What the operator needs to know that is not in any BridgedApp."""

    # extra="forbid": a misspelt keyword (tests, benchmarks) fails; other BRIDGEDAPP_ variables (the test
    # bed's) are not read from the environment at all.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    strimzi_install: Literal["auto", "never"] = setting(
        "auto", "`auto`: install Strimzi when none is found; `never`: only adopt an existing one"
    )
    strimzi_version: str = setting("1.2.0", "the version it installs")
    strimzi_namespace: str = setting("kafka", "where it installs Strimzi; the default Kafka namespace")
    strimzi_manifest: str | None = setting(
        None,
        "path or URL of the install bundle (air-gapped clusters)",
        shown="the image's bundled copy, else the release URL",
    )
    install_timeout: float = setting(
        600.0, "seconds an install waits for Strimzi's operator to become Available"
    )
    namespaces: Annotated[tuple[str, ...], NoDecode] = setting(
        (),
        "comma-separated namespaces to watch for BridgedApps (the Kafka's too: the `namespaced` profile); "
        "the flag is repeatable",
        shown="all",
        flags=("--namespace", "-n"),
    )
    single_tenant: bool = setting(
        False,
        "`true`: one team per cluster, so any BridgedApp may get ACLs on any topic and consumer group "
        '(see "Many apps, many teams")',
    )
    # How the process runs (not what it reconciles): health, metrics, logs, replicas.
    liveness: str | None = setting(
        None,
        "URL of Kopf's liveness endpoint, e.g. `http://0.0.0.0:8080/healthz` (the Deployment's probe)",
        shown="off",
    )
    metrics_port: int = setting(
        0, "port of the Prometheus `/metrics` endpoint (the Deployment: 9090)", shown="off"
    )
    log_format: Literal["plain", "json"] = setting(
        "plain", "`json`: one JSON object per log line (the Deployment's setting)"
    )
    peering: str | None = setting(
        None,
        "Kopf peering object: replicas take turns, only the highest priority acts (see High availability)",
        shown="off: run alone",
    )
    priority: int | None = setting(None, "this replica's peering priority", shown="random")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (passed as init values) over the environment; no dotenv or secrets files."""
        return init_settings, env_settings

    @field_validator("strimzi_install", "log_format", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("namespaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """`shop,kafka` from the environment, `-n shop -n kafka` (or `-n shop,kafka`) from the flags."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        return tuple(n.strip() for item in items for n in str(item).split(",") if n.strip())

    @field_validator("install_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0 seconds")
        return value

    @field_validator("metrics_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("must be a port number (1-65535) or 0 for off")
        return value

    def loggable(self) -> str:
        """Every effective setting as one JSON object for the start-up line; a URL's user:password (a
        bundle mirror's, say) is masked, as nothing else here is a secret."""
        return _URL_CREDENTIALS.sub("//***@", self.model_dump_json())

    def manifest_source(self) -> str:
        """Where the Strimzi bundle comes from: the setting, else the image's copy, else the release URL."""
        if self.strimzi_manifest:
            return self.strimzi_manifest
        bundled = os.path.join(BUNDLED_MANIFEST_DIR, f"strimzi-cluster-operator-{self.strimzi_version}.yaml")
        if os.path.exists(bundled):
            return bundled
        return STRIMZI_RELEASE_URL.format(version=self.strimzi_version)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flags_of(name: str, field: FieldInfo) -> list[str]:
    return list(_extra(field)["flags"]) or ["--" + name.replace("_", "-")]


def default_text(field: FieldInfo) -> str:
    """The default as `--help` shows it: the prose of `shown`, else the value as it is written."""
    shown = _extra(field)["shown"]
    if shown is not None:
        return shown
    default = field.default
    if isinstance(default, bool):
        return str(default).lower()
    return f"{default:g}" if isinstance(default, float) else str(default)


def _extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    assert isinstance(extra, dict), "declare each setting with setting()"
    return extra


def markdown_table() -> str:
    """The README's table of settings (a unit test keeps the README equal to it)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = default_text(field)
        if _extra(field)["shown"] is None:
            default = f"`{default}`"
        rows.append(f"| `{env_name(name)}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
