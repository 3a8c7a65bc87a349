"""What one pass works on and what it decides, as plain frozen values: the `World` gathered before any
decision (gather.py), and the `Plan` decided from it (plan.py), with its `Write`s and `Event`s.

Kept apart from the decisions themselves so a reader meets the shapes first: every field a decision can
read is listed in `World`, every outcome in `Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridgedapp import tenancy
from bridgedapp.builders import sidecar
from bridgedapp.conditions import Check
from bridgedapp.models import BridgedAppSpec, parse_spec
from bridgedapp.observe import bridge_placement
from bridgedapp.strimzi import StrimziInfo

Obj = dict[str, Any]


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Retry:
    """Look again in `after` seconds (Strimzi is not usable yet), saying why."""

    after: float
    reason: str
    is_wait: bool = False  # nothing failed, something is in progress (logged as news, not as an error)


@dataclass(frozen=True)
class Problem:
    """Why Strimzi is not usable: a condition reason and a message saying what to do."""

    reason: str
    message: str


@dataclass(frozen=True)
class OtherApp:
    """Another BridgedApp, as far as this app's decisions care (a shared Kafka, an overlapping group)."""

    namespace: str
    name: str
    spec: BridgedAppSpec | None  # None: its spec does not validate
    deleting: bool = False


@dataclass(frozen=True)
class World:
    """Everything one pass reads, gathered before any decision; `None` means absent (or not read: the
    gatherer reads an object only when a decision can use it, see `gather.py`)."""

    app: Mapping[str, Any]
    kafka_namespace: str
    strimzi: StrimziInfo | None = None
    strimzi_problem: Problem | None = None
    kafka_namespace_exists: bool = True
    kafka: Obj | None = None
    node_pool: Obj | None = None
    topics: Mapping[str, Obj | None] = field(default_factory=dict)  # spec topic name -> KafkaTopic
    user: Obj | None = None
    user_secret: Obj | None = None
    ca_secret: Obj | None = None
    allowances: tenancy.Allowances | None = None  # the app Namespace's, read when a request needs them
    single_tenant: bool = False
    config_map: Obj | None = None
    credentials_secret: Obj | None = None
    deployment: Obj | None = None
    holder_exists: bool = False  # the BridgedApp named by the Deployment's bridged-by annotation exists
    previous_deployment: Obj | None = None  # status.bridge.deployment, when the spec names another one
    server_version: tuple[int, int] = (1, 36)
    other_apps: tuple[OtherApp, ...] | None = None  # read only when a decision needs them
    # `bridgedapp render`: plan the steady state, as if Strimzi had reconciled everything (the KafkaUser
    # ready); without Strimzi's Secrets the credentials Secret is shown as its keys without data.
    steady: bool = False

    @property
    def name(self) -> str:
        return str(self.app["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.app["metadata"]["namespace"])

    @property
    def status(self) -> Mapping[str, Any]:
        return self.app.get("status") or {}


@dataclass(frozen=True)
class Write:
    """One server-side apply the pass needs. A failure is reported on `condition`; the conditions in
    `blocks` then wait for it. `reclaim`: the operator alone owns the object and takes it back (forces) from
    another manager, saying so; `announce` is posted once the write succeeded."""

    obj: Obj
    condition: str
    reclaim: bool = False
    announce: Event | None = None
    blocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class BridgeFacts:
    """What status.bridge says when the sidecar is injected; `owned` False: another app owns the sidecar."""

    deployment: str
    url: str
    image: str
    config_hash: str | None
    owned: bool = True


@dataclass(frozen=True)
class Plan:
    checks: tuple[Check, ...]
    writes: tuple[Write, ...]
    events: tuple[Event, ...]
    objects: tuple[Obj, ...]  # every object this app wants, in apply order (what `render` prints)
    strimzi: StrimziInfo | None
    kafka: Mapping[str, Any]  # status.kafka
    bridge: BridgeFacts
    paused: bool = False
    retry: Retry | None = None


def describe(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


def sentence(message: str) -> str:
    return message if message.endswith(".") else f"{message}."


def spec_or_none(raw: Mapping[str, Any] | None) -> BridgedAppSpec | None:
    try:
        return parse_spec(raw or {})
    except ValidationError:
        return None


def previous_deployment(status: Mapping[str, Any]) -> str | None:
    """The Deployment this app's status says it injected."""
    return (status.get("bridge") or {}).get("deployment")


def releasable(app: Mapping[str, Any], deployment: Obj) -> bool:
    """May this app take the bridge out of `deployment`? Only its owner may: the Deployment's `bridged-by`
    annotation names it; or (sidecars injected before the annotation existed) there is none, the
    Deployment carries a bridge and this app's status says it put it there. The removal applies an empty
    patch as the shared field manager, which releases every field that manager owns."""
    holder = sidecar.bridged_by(deployment)
    if holder is not None:
        return holder == app["metadata"]["name"]
    return bool(bridge_placement(deployment)) and (
        previous_deployment(app.get("status") or {}) == deployment["metadata"]["name"]
    )


def uses_kafka(other: OtherApp, kafka_ns: str, cluster: str, strimzi_ns: str) -> bool:
    return (
        other.spec is not None
        and other.spec.kafka.cluster_name == cluster
        and other.spec.kafka_namespace(strimzi_ns) == kafka_ns
    )
