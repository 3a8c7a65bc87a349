"""Time-to-Ready: from a BridgedApp's creation to Ready=True, vs a plain rollout of the same Deployment.

The operator runs as its users run it (`bridgedapp run`, a subprocess; watching this benchmark's namespace
and Strimzi's). Each round first creates a Deployment of the sample's shape and times the control plane
rolling it out (creation to available: the baseline) and then a rolling update of it (a template change:
the floor for the rollout of the injected template, which is part of Ready), then creates a BridgedApp for it and times creation to Ready=True, noting
when SidecarInjected turned True on the way (the operator's and Strimzi's part ends there). The Kafka is
created and made Ready by a warm-up app first, so rounds measure an app joining an existing Kafka: the
operator's path plus the Strimzi simulator (a TEST DOUBLE; real Strimzi takes its own, longer, time to issue
a user's certificate) plus that second rollout on kwok nodes. Times are taken from watch events.
"""

from __future__ import annotations

import time
from typing import Any

import pykube

from bench.env import (
    APP_API,
    STRIMZI_NS,
    Env,
    app_ready,
    check_alive,
    condition,
    deployment_available,
    operator_process,
    sample_app_spec,
    sample_deployment,
    say,
    watch_until,
)
from bench.stats import paired_ratios, ratio, summary

NAMESPACE = "bench-ready"
KAFKA = "bench-ready"
TIMEOUT = 180.0
LOG_NAME = "operator-ready"


def _watch_available(env: Env, name: str) -> float:
    return watch_until(
        env.api,
        version="apps/v1",
        plural="deployments",
        namespace=NAMESPACE,
        name=name,
        predicate=deployment_available,
        timeout=TIMEOUT,
    )


def _deploy(env: Env, name: str) -> tuple[float, float]:
    """Create a Deployment of the sample's shape: seconds until rolled out; then a template change rolled out.

    The second figure is a plain rolling update of the same Deployment, the floor for what follows the
    injection (the injected template replaces running pods the same way).
    """
    t0 = time.perf_counter()
    env.create(sample_deployment(NAMESPACE, name))
    t1 = _watch_available(env, name)
    deployment = pykube.Deployment.objects(env.api, namespace=NAMESPACE).get(name=name)
    t2 = time.perf_counter()
    deployment.patch(
        {"spec": {"template": {"metadata": {"annotations": {"bench.bridgedapp.io/rollout": "1"}}}}}
    )
    t3 = _watch_available(env, name)
    return t1 - t0, t3 - t2


def _app(env: Env, name: str, deployment: str) -> tuple[float, float]:
    """Create a BridgedApp for `deployment`; seconds until SidecarInjected=True and until Ready=True.

    SidecarInjected marks the end of the operator's and Strimzi's part; what follows is the rollout of
    the injected template and the operator noticing it.
    """
    injected: list[float] = []

    def ready(obj: dict[str, Any]) -> bool:
        cond = condition(obj, "SidecarInjected")
        if not injected and cond is not None and cond.get("status") == "True":
            injected.append(time.perf_counter())
        return app_ready(obj)

    t0 = time.perf_counter()
    env.create(
        {
            "apiVersion": APP_API,
            "kind": "BridgedApp",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": sample_app_spec(KAFKA, deployment, f"{name}-orders"),
        }
    )
    t1 = watch_until(
        env.api,
        version=APP_API,
        plural="bridgedapps",
        namespace=NAMESPACE,
        name=name,
        predicate=ready,
        timeout=TIMEOUT,
    )
    return (injected[0] if injected else t1) - t0, t1 - t0


def run(env: Env, quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    env.namespace(NAMESPACE)
    with operator_process(env, LOG_NAME, namespaces=(NAMESPACE, STRIMZI_NS)) as proc:
        say("ready: warm-up app (creates the Kafka the rounds share)")
        _deploy(env, "warm-api")
        _, warm = _app(env, "warm", "warm-api")
        deploy_s: list[float] = []
        update_s: list[float] = []
        injected_s: list[float] = []
        ready_s: list[float] = []
        for i in range(rounds):
            check_alive(proc, env, LOG_NAME)
            created, updated = _deploy(env, f"r{i}-api")
            deploy_s.append(created)
            update_s.append(updated)
            injected, ready = _app(env, f"r{i}", f"r{i}-api")
            injected_s.append(injected)
            ready_s.append(ready)
            say(
                f"ready: round {i + 1}/{rounds}: rollout {created:.2f}s, rolling update {updated:.2f}s, "
                f"app injected {injected:.2f}s, Ready {ready:.2f}s"
            )
        check_alive(proc, env, LOG_NAME)
    return {
        "title": "BridgedApp creation to Ready=True vs a plain Deployment rollout",
        "rounds": rounds,
        "warmup_seconds": warm,
        "rollout_seconds": deploy_s,
        "ready_seconds": ready_s,
        "injected_seconds": injected_s,
        "update_rollout_seconds": update_s,
        "rollout": summary(deploy_s),
        "update_rollout": summary(update_s),
        "after_injection": summary([r - i for r, i in zip(ready_s, injected_s, strict=True)]),
        "injected": summary(injected_s),
        "ready": summary(ready_s),
        "ratio": ratio(ready_s, deploy_s),
        "paired_ratio": summary(paired_ratios(ready_s, deploy_s)),
        "replicas": sample_deployment(NAMESPACE, "x")["spec"]["replicas"],
    }
