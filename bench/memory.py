"""Operator memory: resident set of `bridgedapp run` with N BridgedApps reconciled vs with none.

One operator process (all namespaces, as it is deployed) is sampled with no BridgedApps (the baseline),
then after each batch of new apps is fully reconciled (10, 50, 100 in all): the growth of a long-running
operator. Then a fresh process is started on the same 100 apps and sampled once it has gone quiet: what a
restarted operator settles at. The apps have no Deployment (they stop at SidecarInjected=False,
DeploymentNotFound, after the whole Kafka side, the mirrored Secret and the ConfigMap are done); the
operator keeps no copy of Deployments, so that leaves out only the injection itself. The apps share one
Kafka; the first app is created alone and reconciled before the others, because apps whose first passes
race may create the Kafka and its node pool under different owners, after which every pass of the Kafka's
owner fails (a conflict on the pool's owner label turns into a duplicate KafkaReady condition the API server
rejects): an operator bug this benchmark found, worked around here so the memory figure can be measured.

The API server's audit log also counts the operator's requests per new app and per app on restart (its
two clients: the `kubernetes` client, User-Agent OpenAPI-Generator, and Kopf's own), and how many full
passes ran (the operator's `bridgedapp_passes_total` metric).
"""

from __future__ import annotations

import collections
import subprocess
import time
from typing import Any

import pykube

from bench.env import (
    APP_API,
    WRITE_VERBS,
    AuditLog,
    BenchError,
    Env,
    check_alive,
    condition,
    free_port,
    operator_passes,
    operator_process,
    request_key,
    rss_kib,
    sample_app_spec,
    say,
)
from bench.stats import summary

NAMESPACE = "bench-mem"
KAFKA = "bench-mem"
OPERATOR_AGENTS = ("OpenAPI-Generator", "kopf")
RECONCILE_TIMEOUT = 150.0
QUIET_SECONDS = 2.0
SETTLE_SECONDS = 2.0
SAMPLES = 5
SAMPLE_INTERVAL = 0.25


def _reconciled(app: dict[str, Any]) -> bool:
    """The pass went all the way: Kafka side ready, credentials mirrored, waiting only for the Deployment."""
    cond = condition(app, "SidecarInjected")
    return (
        cond is not None
        and cond.get("reason") == "DeploymentNotFound"
        and (app.get("status") or {}).get("observedGeneration") == app["metadata"].get("generation")
    )


def _wait_reconciled(env: Env, proc: subprocess.Popen, log_name: str, count: int) -> float:
    started = time.monotonic()
    kind = env.app_kind()
    while True:
        check_alive(proc, env, log_name)
        done = sum(_reconciled(a.obj) for a in kind.objects(env.api, namespace=NAMESPACE))
        if done >= count:
            return time.monotonic() - started
        if time.monotonic() - started > RECONCILE_TIMEOUT:
            log = (env.logs / f"{log_name}.log").read_text(errors="replace").splitlines()
            warnings = [line for line in log if " WARNING " in line or " ERROR " in line][-5:]
            raise BenchError(
                f"memory: {done} of {count} apps reconciled after {RECONCILE_TIMEOUT:.0f}s; the operator's last "
                "warnings:\n" + "\n".join(warnings)
            )
        time.sleep(0.5)


def _wait_started(env: Env, proc: subprocess.Popen, log_name: str) -> float:
    """The operator has connected and registered its handlers: its start-up line is in its log."""
    started = time.monotonic()
    path = env.logs / f"{log_name}.log"
    while "bridgedapp operator ready" not in (path.read_text(errors="replace") if path.exists() else ""):
        check_alive(proc, env, log_name)
        if time.monotonic() - started > 60:
            raise BenchError("memory: the operator did not log its start-up line within 60s")
        time.sleep(0.2)
    return time.monotonic() - started


def _is_operator(event: dict[str, Any]) -> bool:
    agent = event.get("userAgent", "")
    return any(agent.startswith(a) for a in OPERATOR_AGENTS) and event.get("verb") != "watch"


def _wait_quiet(
    env: Env, proc: subprocess.Popen, log_name: str, audit: AuditLog, port: int, min_passes: int = 0
) -> list[dict[str, Any]]:
    """Collect the operator's requests until it has run `min_passes` passes in all and then made none for a
    while."""
    events: list[dict[str, Any]] = []
    started = quiet_since = time.monotonic()
    while operator_passes(port) < min_passes or time.monotonic() - quiet_since < QUIET_SECONDS:
        check_alive(proc, env, log_name)
        new = [e for e in audit.read() if _is_operator(e)]
        if new:
            events += new
            quiet_since = time.monotonic()
        if time.monotonic() - started > RECONCILE_TIMEOUT:
            raise BenchError(f"memory: the operator was still busy after {RECONCILE_TIMEOUT:.0f}s")
        time.sleep(0.2)
    return events


def _requests(events: list[dict[str, Any]], apps: int, passes: float) -> dict[str, Any]:
    """The operator's requests, per app: reads, writes, full passes, and the kinds of request."""
    ops = [e for e in events if _is_operator(e)]
    writes = [e for e in ops if e["verb"] in WRITE_VERBS]
    per = max(apps, 1)
    return {
        "apps": apps,
        "requests_per_app": len(ops) / per,
        "reads_per_app": (len(ops) - len(writes)) / per,
        "writes_per_app": len(writes) / per,
        "passes_per_app": passes / per,
        "breakdown_per_app": {
            k: v / per
            for k, v in sorted(
                collections.Counter(request_key(e) for e in ops).items(), key=lambda kv: -kv[1]
            )
        },
    }


def _events_per_app(env: Env, apps: int) -> dict[str, float]:
    """Kubernetes Events the operator posted on the apps, per app, by reason (counting repeats)."""
    reasons: collections.Counter[str] = collections.Counter()
    for event in pykube.Event.objects(env.api, namespace=NAMESPACE):
        obj = event.obj
        if (obj.get("involvedObject") or {}).get("kind") == "BridgedApp":
            reasons[obj.get("reason", "?")] += obj.get("count") or 1
    return {k: v / max(apps, 1) for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])}


def _sample(env: Env, proc: subprocess.Popen, log_name: str) -> tuple[list[float], float]:
    """RSS samples in MiB after a settle, and the peak (VmHWM) so far."""
    time.sleep(SETTLE_SECONDS)
    samples: list[float] = []
    peak = 0
    for _ in range(SAMPLES):
        check_alive(proc, env, log_name)
        rss, peak = rss_kib(proc.pid)
        samples.append(rss / 1024)
        time.sleep(SAMPLE_INTERVAL)
    return samples, peak / 1024


def _create(env: Env, start: int, stop: int) -> None:
    for i in range(start, stop):
        name = f"mem-{i:03d}"
        env.create(
            {
                "apiVersion": APP_API,
                "kind": "BridgedApp",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": sample_app_spec(KAFKA, f"{name}-api", f"{name}-orders"),
            }
        )


def _row(apps: int, samples: list[float], peak: float, **extra: Any) -> dict[str, Any]:
    say(f"memory: {apps} apps: RSS {summary(samples)['median']:.1f} MiB (peak {peak:.1f})")
    return {"apps": apps, "rss_mib_samples": samples, "rss_mib": summary(samples), "peak_mib": peak, **extra}


def run(env: Env, quick: bool) -> dict[str, Any]:
    levels = [5] if quick else [10, 50, 100]
    env.namespace(NAMESPACE)
    audit = AuditLog(env.cluster.audit_log)
    rows: list[dict[str, Any]] = []
    creation: list[dict[str, Any]] = []
    log_name = "operator-memory"
    say("memory: one operator process, sampled with 0 BridgedApps, then after each batch")
    port = free_port()
    with operator_process(env, log_name, metrics_port=port) as proc:
        _wait_started(env, proc, log_name)
        samples, peak = _sample(env, proc, log_name)
        rows.append(_row(0, samples, peak, reconcile_seconds=0.0))
        created = 0
        for level in levels:
            audit.skip()
            passes_before = operator_passes(port)
            started = time.monotonic()
            if created == 0:  # the first app alone creates the Kafka and its node pool (see the docstring)
                _create(env, 0, 1)
                _wait_reconciled(env, proc, log_name, 1)
                created = 1
            _create(env, created, level)
            _wait_reconciled(env, proc, log_name, level)
            seconds = time.monotonic() - started
            events = _wait_quiet(env, proc, log_name, audit, port)
            first = creation[-1]["to_apps"] if creation else 0
            passes = operator_passes(port) - passes_before
            creation.append(
                {**_requests(events, level - first, passes), "to_apps": level, "seconds": seconds}
            )
            created = level
            samples, peak = _sample(env, proc, log_name)
            rows.append(_row(level, samples, peak, reconcile_seconds=seconds))
    posted = _events_per_app(env, created)

    say(f"memory: a fresh operator process on the same {created} apps")
    restart_log = "operator-memory-restart"
    audit.skip()
    port = free_port()
    with operator_process(env, restart_log, metrics_port=port) as proc:
        started = time.monotonic()
        _wait_started(env, proc, restart_log)
        restart_events = _wait_quiet(env, proc, restart_log, audit, port, min_passes=created)
        restart_passes = operator_passes(port)
        quiet_after = time.monotonic() - started
        samples, peak = _sample(env, proc, restart_log)
        restart = _row(created, samples, peak, reconcile_seconds=quiet_after, fresh_process=True)
    restart_requests = {
        **_requests(restart_events, created, restart_passes),
        "seconds_until_quiet": quiet_after,
    }

    base = rows[0]["rss_mib"]["median"]
    for row in [*rows, restart]:
        row["ratio"] = row["rss_mib"]["median"] / base
        row["mib_over_baseline"] = row["rss_mib"]["median"] - base
        row["kib_per_app"] = (row["mib_over_baseline"] * 1024 / row["apps"]) if row["apps"] else None
    return {
        "title": "Operator RSS with N BridgedApps vs with none",
        "levels": rows,
        "restart": restart,
        "baseline_mib": base,
        "requests_creating": creation,
        "requests_restart": restart_requests,
        "events_per_app": posted,
        "settle_seconds": SETTLE_SECONDS,
        "passes_from": "its `bridgedapp_passes_total` metric",
        "deployments": "absent (apps stop at SidecarInjected=False DeploymentNotFound)",
    }
