"""Prometheus metrics of the operator (`bridgedapp run --metrics-port`): what an admin alerts on.

Passes by trigger and outcome and their duration, BridgedApps by phase and by Ready, API errors by HTTP code,
and the state of the Strimzi installation. Handlers only decorate themselves with `observed`; the app gauges
follow a Kopf event handler on BridgedApps, and the Strimzi state is read at scrape time, so nothing here
costs a request. The metric names and labels are listed in the README.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import kopf
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridgedapp import GROUP, PLURAL, VERSION

F = TypeVar("F", bound=Callable[..., Any])

PASSES = Counter(
    "bridgedapp_passes",
    "Reconcile and cleanup passes, by what triggered them and how they ended.",
    ["trigger", "outcome"],
)
PASS_SECONDS = Histogram(
    "bridgedapp_pass_duration_seconds",
    "Duration of one pass, by trigger.",
    ["trigger"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_ERRORS = Counter(
    "bridgedapp_api_errors",
    "Requests the API server refused (or that never reached it: code 0), by HTTP code. 404s the operator "
    "expects (an object not there yet) are counted too.",
    ["code"],
)
STRIMZI_STATES = ("unknown", "installing", "installed", "adopted", "failed")

_outcome = threading.local()  # a pass that handles its own failure says so here (see mark)


def mark(outcome: str) -> None:
    """Called inside an `observed` pass that catches its own error: the pass is counted with `outcome`."""
    _outcome.value = outcome


def observed(trigger: str | None = None) -> Callable[[F], F]:
    """Count and time a synchronous pass. Without `trigger`, Kopf's `reason` (create/update/resume/delete)
        names it. Outcome: ok, retry, or error; a pass that handles its own wait or failure `mark`s it (waiting:
    for the Strimzi install)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            label = trigger or str(kwargs.get("reason") or "unknown")
            _outcome.value = "ok"
            started = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except kopf.TemporaryError:
                _outcome.value = "retry"
                raise
            except BaseException:
                _outcome.value = "error"
                raise
            finally:
                PASSES.labels(label, _outcome.value).inc()
                PASS_SECONDS.labels(label).observe(time.perf_counter() - started)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def api_error(code: int) -> None:
    API_ERRORS.labels(str(code)).inc()


class _State(Collector):
    """Gauges computed at scrape time from what the operator already holds in memory."""

    def __init__(self) -> None:
        self.apps: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, name) -> (phase, Ready status)
        self.memo: Any = None
        self.lock = threading.Lock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.lock:
            apps = list(self.apps.values())
        phases = GaugeMetricFamily("bridgedapp_apps", "BridgedApps by status.phase.", labels=["phase"])
        for phase in sorted({p for p, _ in apps} | {"Pending", "Provisioning", "Ready", "Failed"}):
            phases.add_metric([phase], sum(1 for p, _ in apps if p == phase))
        yield phases
        ready = GaugeMetricFamily(
            "bridgedapp_apps_ready", "BridgedApps by their Ready condition.", labels=["ready"]
        )
        for status in ("True", "False", "Unknown"):
            ready.add_metric([status], sum(1 for _, r in apps if r == status))
        yield ready
        reconciler = getattr(self.memo, "reconciler", None)
        current = reconciler.ensurer.state() if reconciler is not None else "unknown"
        strimzi = GaugeMetricFamily(
            "bridgedapp_strimzi_install", "1 for the state the Strimzi installation is in.", labels=["state"]
        )
        for state in STRIMZI_STATES:
            strimzi.add_metric([state], 1.0 if state == current else 0.0)
        yield strimzi


STATE = _State()
REGISTRY.register(STATE)


@kopf.on.startup()
def _remember_memo(memo: kopf.Memo, **_: Any) -> None:
    STATE.memo = memo  # the Strimzi state is read from memo.reconciler at scrape time


@kopf.on.event(GROUP, VERSION, PLURAL)
async def app_seen(type: str | None, namespace: str, name: str, status: kopf.Status, **_: Any) -> None:
    """Every BridgedApp event updates the app gauges; a deleted app leaves them."""
    with STATE.lock:
        if type == "DELETED":
            STATE.apps.pop((namespace, name), None)
            return
        ready = next(
            (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None
        )
        STATE.apps[(namespace, name)] = (str(status.get("phase") or "Pending"), ready or "Unknown")


def serve(port: int, address: str = "0.0.0.0") -> None:
    """The /metrics endpoint, in a thread of its own."""
    start_http_server(port, addr=address)
