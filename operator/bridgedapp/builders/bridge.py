"""The bridge's configuration (properties + logging ConfigMap) and its credentials Secret: pure builders.

Upstream sources these mirror (read at the pinned tags, not guessed):

- Strimzi 1.2.0 `cluster-operator/.../model/KafkaBridgeConfigurationBuilder.java`: the section layout, the
  property names (`bridge.id`, `kafka.bootstrap.servers`, `kafka.security.protocol`, the PEM
  `kafka.ssl.truststore.*` / `kafka.ssl.keystore.*` keys, config providers declared per client under
  `kafka.admin.` / `kafka.producer.` / `kafka.consumer.`, the `http.*` block) and the forbidden client-option
  prefixes (`api/.../bridge/KafkaBridgeProducerSpec.java`, `KafkaBridgeConsumerSpec.java`,
  `model/AbstractConfiguration.java`). Strimzi 1.2.0 reads the PEM files through its Kubernetes-API provider
  (`strimzisecrets`); we read the *mounted* Secret through Kafka's `DirectoryConfigProvider` under Strimzi's
  name `strimzidir`, as Strimzi 0.46-1.0 did for its mounted Secrets (`${strimzidir:<dir>:<file>}`), so the
  bridge needs no API access.
- Strimzi HTTP Bridge 1.1.0 `config/BridgeConfig.java` (`bridge.id`), `config/KafkaConfig.java` +
  `KafkaProducerConfig` / `KafkaConsumerConfig` / `KafkaAdminConfig` (every `kafka.*` key, prefix stripped,
  goes to each client; `kafka.<client>.*` only to that one), `http/HttpConfig.java` (`http.host`,
  `http.port`, `http.management.port` default 8081, `http.cors.enabled`, `http.consumer.enabled`,
  `http.producer.enabled`, `http.timeoutSeconds`), `config/ConfigRetriever.java` (the file is read with
  `java.util.Properties.load(InputStream)`, i.e. ISO-8859-1 with backslash escapes).
- Logging: Strimzi 1.2.0 `cluster-operator/src/main/resources/default-logging/KafkaBridgeCluster.properties`
  and `model/logging/LoggingUtils.java` (generated-file comment, inline loggers set over the defaults with
  `OrderedProperties.addMapPairs`, `monitorInterval=30`). External logging and the JMX exporter's
  configuration are the user's ConfigMap key, projected into custom-config/ (sidecar.py), not copied.
- Tracing: `KafkaBridgeConfigurationBuilder.withTracing` (`bridge.tracing=<type>`); bridge 1.1.0
  `tracing/TracingUtil.java` needs `OTEL_SERVICE_NAME` in the environment (sidecar.py sets it).
- Metrics: `KafkaBridgeConfigurationBuilder.withJmxPrometheusExporter` / `withStrimziMetricsReporter`,
  `model/metrics/StrimziMetricsReporterConfig.java`, `JmxPrometheusExporterModel.CONFIG_MAP_KEY`. One
  difference on purpose: Strimzi switches the reporter's own listener off (its bridge binds 0.0.0.0, so
  /metrics on the management port is reachable); a sidecar binds loopback, so the reporter's listener is
  switched on at `http://:9404` (client-metrics-reporter `ClientMetricsReporterConfig.LISTENER_CONFIG`;
  one shared server per listener, `http/HttpServers`) and serves the Kafka clients' metrics to other pods.
- CA rotation: Strimzi 1.2.0 `operator-common/.../common/ca/Ca.java` `trustedCaCerts()`: clients trust every
  `*.crt` entry of the CA cert Secret; during a key replacement the old certificate stays under
  `ca-YYYY-MM-DDTHH-MM-SSZ.crt` beside the new `ca.crt`.

Nothing here logs or returns secret material except inside the Secret object itself.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bridgedapp.builders.common import app_identity, fit_name, labels, owner_reference
from bridgedapp.models import (
    BRIDGE_MANAGEMENT_PORT,
    BRIDGE_METRICS_PORT,
    DEFAULT_METRICS_ALLOW_LIST,
    BridgedAppSpec,
    LoggingType,
    MetricsType,
)

MAX_NAME = 253
MAX_BRIDGE_ID = 200  # bridge.id names the bridge's Kafka clients (client.id); keep it a sane length

# Where the sidecar mounts what these builders produce (sidecar.py uses the same constants).
STRIMZI_HOME = "/opt/strimzi"
CONFIG_MOUNT_PATH = f"{STRIMZI_HOME}/custom-config"  # KafkaBridgeCluster.KAFKA_BRIDGE_CONFIG_VOLUME_MOUNT
CREDENTIALS_MOUNT_PATH = f"{STRIMZI_HOME}/bridge-certs"  # Strimzi <=0.45 TLS_CERTS_BASE_VOLUME_MOUNT

PROPERTIES_KEY = "application.properties"  # KafkaBridgeCluster.BRIDGE_CONFIGURATION_FILENAME
LOGGING_KEY = "log4j2.properties"  # read by bin/docker/kafka_bridge_run.sh from custom-config/
METRICS_CONFIG_KEY = "metrics-config.json"  # JmxPrometheusExporterModel.CONFIG_MAP_KEY
CA_CERT_KEY = "ca.crt"
USER_CERT_KEY = "user.crt"
USER_KEY_KEY = "user.key"
CREDENTIAL_KEYS = (CA_CERT_KEY, USER_CERT_KEY, USER_KEY_KEY)

LOOPBACK = "127.0.0.1"
CONFIG_PROVIDER = "strimzidir"
CONFIG_PROVIDER_CLASS = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
KAFKA_CLIENTS = ("admin", "producer", "consumer")

# KafkaBridgeProducerSpec / KafkaBridgeConsumerSpec FORBIDDEN_PREFIXES and FORBIDDEN_PREFIX_EXCEPTIONS (1.2.0):
# the operator owns connection and security settings; a user extra may not override them.
_FORBIDDEN_PREFIXES: dict[str, tuple[str, ...]] = {
    "admin": ("ssl.", "bootstrap.servers", "sasl.", "security."),  # KafkaBridgeAdminClientSpec
    "producer": ("ssl.", "bootstrap.servers", "sasl.", "security."),
    "consumer": ("ssl.", "bootstrap.servers", "group.id", "sasl.", "security."),
}
_FORBIDDEN_EXCEPTIONS = frozenset(
    {"ssl.endpoint.identification.algorithm", "ssl.cipher.suites", "ssl.protocol", "ssl.enabled.protocols"}
)
# KafkaBridgeSpec FORBIDDEN_PREFIXES and FORBIDDEN_OPTIONS (1.2.0), for spec.bridge.config.
_BRIDGE_FORBIDDEN_PREFIXES = ("kafka.", "http.", "bridge.metrics.")
_BRIDGE_FORBIDDEN_OPTIONS = frozenset({"bridge.id", "bridge.tracing", "bridge.metrics"})
_OWN_PROVIDER_PREFIX = f"config.providers.{CONFIG_PROVIDER}."
# Beyond Strimzi: a config provider reads files and environment variables of the bridge's container (the
# mounted private key, the service-account token), so the operator declares the only one, its own, and a
# user option may neither declare another (`config.providers*`) nor reference one (`${...}` in a value):
# `client.id=${strimzidir:...:user.key}` would put the app's private key into every Kafka log line.
_PROVIDERS_PREFIX = "config.providers"
_PROVIDER_REFERENCE = "${"

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def bridge_config_name(app_name: str) -> str:
    return fit_name(f"{app_name}-bridge-config", MAX_NAME)


def credentials_secret_name(app_name: str) -> str:
    return fit_name(f"{app_name}-bridge-tls", MAX_NAME)


def provider_reference(file_key: str) -> str:
    """`${strimzidir:<mount>:<file>}`: Kafka reads the file's content when the client is configured."""
    return f"${{{CONFIG_PROVIDER}:{CREDENTIALS_MOUNT_PATH}:{file_key}}}"


# ---------------------------------------------------------------------------------------------------------
# application.properties
# ---------------------------------------------------------------------------------------------------------


def _escape(text: str, *, key: bool) -> str:
    """Escape for `java.util.Properties.load(InputStream)`, so a spec value can never start a new property.

    The stream is read as ISO-8859-1, so anything outside printable ASCII becomes `\\uXXXX`.
    """
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == "\f":
            out.append("\\f")
        elif char == " " and (key or index == 0):
            out.append("\\ ")
        elif key and char in "=:#!":
            out.append("\\" + char)
        elif not (0x20 <= ord(char) < 0x7F):
            out.extend(f"\\u{unit:04x}" for unit in _utf16_units(char))
        else:
            out.append(char)
    return "".join(out)


def _utf16_units(char: str) -> list[int]:
    encoded = char.encode("utf-16-be")
    return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]


def _line(key: str, value: str | int) -> str:
    return f"{_escape(key, key=True)}={_escape(str(value), key=False)}"


def _section(title: str) -> list[str]:
    # KafkaBridgeConfigurationBuilder.printSectionHeader
    return ["##########", f"# {title}", "##########"]


def _is_forbidden(client: str, option: str, value: object = "") -> bool:
    lowered = option.lower()
    if lowered.startswith(_PROVIDERS_PREFIX) or _PROVIDER_REFERENCE in str(value):
        return True
    if option in _FORBIDDEN_EXCEPTIONS:
        return False
    return any(lowered.startswith(prefix) for prefix in _FORBIDDEN_PREFIXES.get(client, ()))


def _client_extras(spec: BridgedAppSpec, client: str) -> dict[str, str]:
    bridge = spec.bridge
    return {
        "admin": bridge.admin_client.config,
        "producer": bridge.producer.config,
        "consumer": bridge.consumer.config,
    }[client]


def _bridge_option_forbidden(option: str, value: object = "") -> bool:
    """AbstractConfiguration.filterForbidden with KafkaBridgeSpec's prefixes and options (case-insensitive),
    and, as for the clients' options, no config-provider reference in a value."""
    lowered = option.lower()
    return (
        lowered.startswith(_BRIDGE_FORBIDDEN_PREFIXES)
        or lowered in _BRIDGE_FORBIDDEN_OPTIONS
        or _PROVIDER_REFERENCE in str(value)
    )


def ignored_client_options(spec: BridgedAppSpec) -> list[str]:
    """Options the builder drops as Strimzi does (`kafka.<client>.<option>` client extras with a forbidden
    prefix, and forbidden spec.bridge.config options), for a Warning event."""
    client = [
        f"kafka.{client}.{option}"
        for client in KAFKA_CLIENTS
        for option, value in _client_extras(spec, client).items()
        if _is_forbidden(client, option, value)
    ]
    bridge = [
        option for option, value in spec.bridge.config.items() if _bridge_option_forbidden(option, value)
    ]
    return sorted(client + bridge)


def _user_block(spec: BridgedAppSpec) -> list[str]:
    """KafkaBridgeConfigurationBuilder.withUserConfiguration: spec.bridge.config minus the forbidden, sorted."""
    allowed = {k: v for k, v in spec.bridge.config.items() if not _bridge_option_forbidden(k, v)}
    if not allowed:
        return []
    return ["", *_section("User provided configuration"), *(_line(k, allowed[k]) for k in sorted(allowed))]


def _client_block(spec: BridgedAppSpec, client: str, title: str) -> list[str]:
    """Config provider declaration (KafkaBridgeConfigurationBuilder.configProvider) plus the user's extras."""
    extras = {k: v for k, v in _client_extras(spec, client).items() if not _is_forbidden(client, k, v)}
    prefix = f"kafka.{client}"
    lines = [
        *_section(title),
        _line(f"{prefix}.{_PROVIDERS_PREFIX}", CONFIG_PROVIDER),
        _line(f"{prefix}.{_OWN_PROVIDER_PREFIX}class", CONFIG_PROVIDER_CLASS),
        _line(f"{prefix}.{_OWN_PROVIDER_PREFIX}param.allowed.paths", CREDENTIALS_MOUNT_PATH),
    ]
    lines += [_line(f"{prefix}.{key}", extras[key]) for key in sorted(extras)]
    return [*lines, ""]


def bridge_id(app_namespace: str, app_name: str) -> str:
    """`<namespace>.<name>`: two apps of the same name in different namespaces never share a bridge.id."""
    return app_identity(app_namespace, app_name, MAX_BRIDGE_ID)


def build_properties(spec: BridgedAppSpec, *, bridge_id: str, bootstrap: str) -> str:
    """The bridge's application.properties: deterministic, loopback-only, no secret material inline."""
    lines = [
        "# Generated by bridgedapp-operator; changes are overwritten.",
        "# Layout and names mirror Strimzi 1.2.0 KafkaBridgeConfigurationBuilder (see builders/bridge.py).",
        "",
        # KafkaBridgeConfigurationBuilder.configureBridgeId -> bridge BridgeConfig.BRIDGE_ID
        *_section("Bridge ID"),
        _line("bridge.id", bridge_id),
        "",
        # .configureBootstrapServers -> bridge KafkaConfig (kafka.* to every client, prefix stripped)
        *_section("Kafka bootstrap servers"),
        _line("kafka.bootstrap.servers", bootstrap),
        "",
        # .withTracing -> bridge TracingUtil (needs OTEL_SERVICE_NAME, set on the container)
        *_tracing_block(spec),
        # .configureSecurityProtocol (SSL once withTls is used)
        *_section("Kafka Security protocol"),
        _line("kafka.security.protocol", "SSL"),
        "",
        # .withTls + .withAuthentication(KafkaClientAuthenticationTls): PEM trust and key stores; the values
        # are config-provider references (DirectoryConfigProvider over the mounted Secret), never the PEMs
        *_section(
            "TLS/SSL: trust the cluster CA, authenticate as the KafkaUser (PEM files of the mounted Secret)"
        ),
        _line("kafka.ssl.truststore.type", "PEM"),
        _line("kafka.ssl.truststore.certificates", provider_reference(CA_CERT_KEY)),
        _line("kafka.ssl.keystore.type", "PEM"),
        _line("kafka.ssl.keystore.certificate.chain", provider_reference(USER_CERT_KEY)),
        _line("kafka.ssl.keystore.key", provider_reference(USER_KEY_KEY)),
        "",
        # .withKafkaAdminClient / .withKafkaProducer / .withKafkaConsumer + .configProvider ->
        # bridge KafkaAdminConfig / KafkaProducerConfig / KafkaConsumerConfig (kafka.<client>.*)
        *_client_block(spec, "admin", "Apache Kafka AdminClient"),
        *_client_block(spec, "producer", "Apache Kafka Producer"),
        *_client_block(spec, "consumer", "Apache Kafka Consumer"),
        # .withHttp -> bridge http/HttpConfig (http.management.port is HttpConfig.MANAGEMENT_PORT, default 8081)
        *_http_block(spec),
        *_user_block(spec),
        *_metrics_block(spec),
    ]
    return "\n".join(lines) + "\n"


def _tracing_block(spec: BridgedAppSpec) -> list[str]:
    tracing = spec.bridge.tracing
    if tracing is None:
        return []
    return [*_section("Tracing configuration"), _line("bridge.tracing", str(tracing.type)), ""]


def _http_block(spec: BridgedAppSpec) -> list[str]:
    """KafkaBridgeConfigurationBuilder.withHttp, with http.host loopback and the management port explicit."""
    bridge = spec.bridge
    lines = [
        *_section("HTTP configuration: loopback only, so no other pod can use this app's Kafka identity"),
        _line("http.host", LOOPBACK),
        _line("http.port", bridge.http.port),
        _line("http.management.port", BRIDGE_MANAGEMENT_PORT),
    ]
    cors = bridge.http.cors
    if cors is None:
        lines.append(_line("http.cors.enabled", "false"))
    else:
        lines += [
            _line("http.cors.enabled", "true"),
            _line("http.cors.allowedOrigins", ",".join(cors.allowed_origins)),
            _line("http.cors.allowedMethods", ",".join(cors.allowed_methods)),
        ]
    lines += [
        _line("http.consumer.enabled", str(bridge.consumer.enabled).lower()),
        _line("http.timeoutSeconds", bridge.consumer.timeout_seconds),
        _line("http.producer.enabled", str(bridge.producer.enabled).lower()),
    ]
    return lines


def metrics_port(spec: BridgedAppSpec) -> int | None:
    """The port other pods scrape (the Strimzi metrics reporter's own listener), None when there is none."""
    metrics = spec.bridge.metrics_config
    if metrics is not None and metrics.type == MetricsType.STRIMZI_METRICS_REPORTER:
        return BRIDGE_METRICS_PORT
    return None


def _metrics_block(spec: BridgedAppSpec) -> list[str]:
    metrics = spec.bridge.metrics_config
    if metrics is None:
        return []
    if metrics.type == MetricsType.JMX_PROMETHEUS_EXPORTER:
        return [
            "",
            *_section("Prometheus JMX Exporter configuration"),
            _line("bridge.metrics", "jmxPrometheusExporter"),
            _line("bridge.metrics.exporter.config.path", f"{CONFIG_MOUNT_PATH}/{METRICS_CONFIG_KEY}"),
        ]
    allow_list = metrics.values.allow_list if metrics.values is not None else None
    return [
        "",
        *_section(
            "Strimzi Metrics Reporter configuration: its own listener on all interfaces, for Prometheus"
        ),
        _line("bridge.metrics", "strimziMetricsReporter"),
        _line("kafka.metric.reporters", "io.strimzi.kafka.metrics.prometheus.ClientMetricsReporter"),
        _line("kafka.prometheus.metrics.reporter.listener.enable", "true"),
        _line("kafka.prometheus.metrics.reporter.listener", f"http://:{BRIDGE_METRICS_PORT}"),
        _line(
            "kafka.prometheus.metrics.reporter.allowlist",
            ",".join(allow_list if allow_list is not None else DEFAULT_METRICS_ALLOW_LIST),
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# log4j2.properties
# ---------------------------------------------------------------------------------------------------------


# Strimzi 1.2.0 default-logging/KafkaBridgeCluster.properties, as (key, value) pairs in file order.
DEFAULT_LOGGING: tuple[tuple[str, str], ...] = (
    ("name", "BridgeConfig"),
    ("appender.console.type", "Console"),
    ("appender.console.name", "STDOUT"),
    ("appender.console.layout.type", "PatternLayout"),
    ("appender.console.layout.pattern", "%d{yyyy-MM-dd HH:mm:ss} %-5p [%t] %c{1}:%L - %m%n"),
    ("rootLogger.level", "INFO"),
    ("rootLogger.appenderRefs", "console"),
    ("rootLogger.appenderRef.console.ref", "STDOUT"),
    ("rootLogger.additivity", "false"),
    ("logger.bridge.name", "io.strimzi.kafka.bridge"),
    ("logger.bridge.level", "INFO"),
    ("logger.bridge.appenderRefs", "console"),
    ("logger.bridge.appenderRef.console.ref", "STDOUT"),
    ("logger.bridge.additivity", "false"),
    ("logger.healthy.name", "http.openapi.operation.healthy"),
    ("logger.healthy.level", "WARN"),
    ("logger.ready.name", "http.openapi.operation.ready"),
    ("logger.ready.level", "WARN"),
    ("logger.vertx.name", "io.vertx.ext.web.openapi.router.impl.RouterBuilderImpl"),
    ("logger.vertx.level", "ERROR"),
)
LOG4J2_MONITOR_INTERVAL_SECONDS = 30  # LoggingUtils.LOG4J2_MONITOR_INTERVAL_SECONDS


def build_logging(spec: BridgedAppSpec) -> str | None:
    """Strimzi's default bridge logging with the inline loggers set over it (a key present is replaced in
    place, a new one appended, as OrderedProperties.addMapPairs does), plus `monitorInterval` unless given.
    None for external logging: the user's ConfigMap key is mounted instead (sidecar.py).
    """
    logging = spec.bridge.logging
    if logging.type == LoggingType.EXTERNAL:
        return None
    pairs = dict(DEFAULT_LOGGING)
    pairs.update(sorted(logging.loggers.items()))
    pairs.setdefault("monitorInterval", str(LOG4J2_MONITOR_INTERVAL_SECONDS))
    lines = [
        "# Do not change this generated file. Logging can be configured in the BridgedApp (spec.bridge.logging)."
    ]
    lines += [_line(key, value) for key, value in pairs.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------------------------------------


def _metadata(app: dict[str, Any], name: str) -> dict[str, Any]:
    meta = app["metadata"]
    return {
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels(meta["namespace"], meta["name"]),
        "ownerReferences": [owner_reference(app)],
    }


def build_config_map(app: dict[str, Any], spec: BridgedAppSpec, *, bootstrap: str) -> dict[str, Any]:
    """The ConfigMap mounted at /opt/strimzi/custom-config, owned by the BridgedApp."""
    meta = app["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(app, bridge_config_name(meta["name"])),
        "data": _config_data(spec, bridge_id=bridge_id(meta["namespace"], meta["name"]), bootstrap=bootstrap),
    }


def _config_data(spec: BridgedAppSpec, *, bridge_id: str, bootstrap: str) -> dict[str, str]:
    data = {PROPERTIES_KEY: build_properties(spec, bridge_id=bridge_id, bootstrap=bootstrap)}
    logging = build_logging(spec)
    if logging is not None:
        data[LOGGING_KEY] = logging
    return data


class CredentialsError(ValueError):
    """A Strimzi Secret lacks what the bridge needs; the message names the Secret and key, never a value."""


def _secret_text(secret: dict[str, Any], key: str) -> str | None:
    """The decoded PEM text of `key`, None when absent; errors name the key, never the content."""
    raw = (secret.get("data") or {}).get(key)
    if not raw:
        return None
    try:
        return base64.b64decode("".join(str(raw).split()), validate=True).decode("ascii")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise CredentialsError(f"Secret {_secret_id(secret)}: key {key} is not base64-encoded PEM") from exc


def _secret_id(secret: dict[str, Any]) -> str:
    meta = secret.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"


def trusted_ca_pem(cluster_ca_secret: dict[str, Any]) -> str:
    """Every certificate of the cluster CA cert Secret (`ca.crt` first, then the other `*.crt` keys sorted),
    each PEM block once: during a CA key replacement clients must trust the old and the new CA."""
    keys = sorted(k for k in (cluster_ca_secret.get("data") or {}) if k.endswith(".crt"))
    keys.sort(key=lambda k: k != CA_CERT_KEY)  # stable: ca.crt first
    blocks: list[str] = []
    for key in keys:
        text = _secret_text(cluster_ca_secret, key)
        for match in _PEM_CERT.finditer(text or ""):
            block = "\n".join(line.strip() for line in match.group(0).splitlines() if line.strip())
            if block not in blocks:
                blocks.append(block)
    if not blocks:
        raise CredentialsError(
            f"Secret {_secret_id(cluster_ca_secret)} holds no PEM certificate in a *.crt key"
        )
    return "\n".join(blocks) + "\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def build_credentials_secret_shell(app: dict[str, Any]) -> dict[str, Any]:
    """The credentials Secret with its keys but empty values: what `render` shows without Strimzi's Secrets."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _metadata(app, credentials_secret_name(app["metadata"]["name"])),
        "data": dict.fromkeys(CREDENTIAL_KEYS, ""),
    }


def build_credentials_secret(
    app: dict[str, Any], *, user_secret: dict[str, Any], cluster_ca_secret: dict[str, Any]
) -> dict[str, Any]:
    """The Secret mounted at /opt/strimzi/bridge-certs: cluster CA (all certs) + the KafkaUser's cert and key.

    Mirrored because Strimzi writes these only into the Kafka namespace.
    """
    data = {CA_CERT_KEY: _b64(trusted_ca_pem(cluster_ca_secret))}
    for key in (USER_CERT_KEY, USER_KEY_KEY):
        text = _secret_text(user_secret, key)
        if text is None:
            raise CredentialsError(f"Secret {_secret_id(user_secret)} has no {key}")
        data[key] = _b64(text)
    return {**build_credentials_secret_shell(app), "data": data}
