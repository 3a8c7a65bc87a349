"""Idle reconcile cost: one pass over a Ready BridgedApp that has nothing to change, vs one GET of it.

The operator re-runs a pass whenever anything a BridgedApp depends on changes (its Deployment, Kafka, user,
topics, Secrets), so a cluster with many apps runs many passes that find nothing to do. Such a pass must
cost only reads. The real Reconciler, Kube client and StrimziEnsurer run in this process; the API server's
audit log counts the requests each pass makes (reads vs writes), told apart from everyone else's by the
client's User-Agent. Baseline: a plain GET of the same BridgedApp with the same client, taken right before
each pass (together they are what `Reconciler.reconcile_ref` does), so both see the same noise.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from bridgedapp.reconciler import Reconciler

from bench.env import (
    APP_API,
    WRITE_VERBS,
    AuditLog,
    BenchError,
    Env,
    app_ready,
    collect_by_agent,
    request_key,
    sample_app_spec,
    sample_deployment,
    say,
)
from bench.stats import paired_ratios, ratio, summary

NAMESPACE = "bench-idle"
KAFKA = "bench-idle"
UA_GET = "bridgedapp-bench-get"
UA_PASS = "bridgedapp-bench-pass"
READY_TIMEOUT = 240.0


def _make_ready(env: Env, reconciler: Reconciler, count: int) -> float:
    """Create `count` apps with one-replica Deployments and drive them to Ready with the real reconciler.

    Passes are triggered by polling here instead of Kopf's watches: the pass itself is the same code.
    """
    env.namespace(NAMESPACE)
    for i in range(count):
        name = f"idle-{i:03d}"
        env.create(sample_deployment(NAMESPACE, f"{name}-api", replicas=1))
        env.create(
            {
                "apiVersion": APP_API,
                "kind": "BridgedApp",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": sample_app_spec(KAFKA, f"{name}-api", f"{name}-orders"),
            }
        )
    started = time.monotonic()
    kube = reconciler.kube
    while True:
        apps = kube.list(APP_API, "BridgedApp", NAMESPACE)
        waiting = [a for a in apps if not app_ready(a)]
        if not waiting:
            return time.monotonic() - started
        if time.monotonic() - started > READY_TIMEOUT:
            app = waiting[0]
            conds = [
                f"{c['type']}={c['status']} {c['reason']}: {c.get('message', '')}"
                for c in (app.get("status") or {}).get("conditions", [])
            ]
            raise BenchError(
                f"{len(waiting)} of {count} apps not Ready after {READY_TIMEOUT:.0f}s; "
                f"{app['metadata']['name']}: " + "; ".join(conds)
            )
        for app in waiting:
            reconciler.reconcile(app)
        time.sleep(0.5)


def run(env: Env, quick: bool) -> dict[str, Any]:
    count, rounds = (5, 3) if quick else (20, 5)
    kube = env.kube(UA_PASS)
    reconciler = Reconciler(kube, env.settings())
    say(f"idle: {count} BridgedApps with Deployments, driving them to Ready")
    setup_seconds = _make_ready(env, reconciler, count)

    # Warm-up: discovery, connection pool, the ensurer's cache. Any write here is already a finding.
    warm_writes = 0
    for app in kube.list(APP_API, "BridgedApp", NAMESPACE):
        warm_writes += reconciler.reconcile(app).status is not None

    names = sorted(a["metadata"]["name"] for a in kube.list(APP_API, "BridgedApp", NAMESPACE))
    audit = AuditLog(env.cluster.audit_log)
    audit.skip()
    get_s: list[float] = []
    pass_s: list[float] = []
    status_writes = 0
    say(f"idle: {rounds} rounds x {count} apps: GET, then an idle pass on what the GET returned")
    for _ in range(rounds):
        for name in names:
            kube.api_client.user_agent = UA_GET
            t0 = time.perf_counter()
            app = kube.get(APP_API, "BridgedApp", name, NAMESPACE)
            t1 = time.perf_counter()
            kube.api_client.user_agent = UA_PASS
            if app is None:
                raise BenchError(f"BridgedApp {NAMESPACE}/{name} disappeared during the benchmark")
            t2 = time.perf_counter()
            outcome = reconciler.reconcile(app)
            t3 = time.perf_counter()
            get_s.append(t1 - t0)
            pass_s.append(t3 - t2)
            status_writes += outcome.status is not None
    passes = rounds * count

    events = collect_by_agent(audit, {UA_GET: passes, UA_PASS: passes})
    get_events, pass_events = events[UA_GET], events[UA_PASS]
    reads = [e for e in pass_events if e["verb"] not in WRITE_VERBS]
    writes = [e for e in pass_events if e["verb"] in WRITE_VERBS]
    breakdown = collections.Counter(request_key(e) for e in pass_events)
    per_app = collections.Counter(
        (e.get("objectRef") or {}).get("namespace") == NAMESPACE for e in pass_events
    )
    return {
        "title": "Idle reconcile pass vs one GET of the BridgedApp",
        "apps": count,
        "rounds": rounds,
        "passes": passes,
        "setup_seconds_to_ready": setup_seconds,
        "get_seconds": get_s,
        "pass_seconds": pass_s,
        "get": summary(get_s),
        "pass": summary(pass_s),
        "ratio": ratio(pass_s, get_s),
        "paired_ratio": summary(paired_ratios(pass_s, get_s)),
        "requests_per_get": len(get_events) / passes,
        "requests_per_pass": len(pass_events) / passes,
        "reads_per_pass": len(reads) / passes,
        "writes_per_pass": len(writes) / passes,
        "writes_total": len(writes),
        "status_writes_reported": status_writes,
        "warmup_status_writes": warm_writes,
        "requests_in_app_namespace_per_pass": per_app[True] / passes,
        "breakdown_per_pass": {k: v / passes for k, v in sorted(breakdown.items())},
        "write_requests": sorted({request_key(e) + " " + e.get("requestURI", "") for e in writes}),
    }
