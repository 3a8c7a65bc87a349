"""The operator as a Deployment runs it (`bridgedapp run` as its ServiceAccount, install profile), on a control
plane of its own: Prometheus metrics that follow the apps, Kopf's liveness endpoint, JSON logs, a SIGTERM exit
within the pod's grace period, and two replicas through Kopf peering of which exactly one acts, the other
taking over when it stops. Figures measured here are printed (and quoted in the README).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykube
import pytest
from bridgedapp.cli import PEER_LIFETIME_SECONDS, SHUTDOWN_SECONDS
from prometheus_client.parser import text_string_to_metric_families

from testbed.audit import requests_of
from testbed.cluster import LocalCluster
from testbed.host import free_port
from testbed.kubeclient import pykube_client
from testbed.operator_process import running_operator
from testbed.service_account import OPERATOR_USER, service_account_kubeconfig
from testbed.toolchain import Binaries
from tests.operator_fixtures import (
    WRITE_VERBS,
    condition_is,
    deploy_profile,
    forbidden_requests,
    make_bridgedapp,
    make_deployment,
    simulator_running,
)

READY_TIMEOUT = 240
PEERING = "bridgedapp-operator"
CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "bridgedapp"
CREDENTIAL = "authentication.kubernetes.io/credential-id"  # the token's JTI, in each audit event's user.extra


@dataclass
class Bed:
    cluster: LocalCluster
    api: pykube.HTTPClient
    env: dict[str, str]
    kubeconfigs: list[Path]
    work: Path


@pytest.fixture(scope="module")
def bed(
    binaries: Binaries, helm: Path, strimzi_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bed]:
    work = tmp_path_factory.mktemp("operations")
    with LocalCluster(f"{os.getpid()}-operations", binaries=binaries) as local:
        first, env = deploy_profile(local, "install", strimzi_manifest, work, token="first")
        second = service_account_kubeconfig(local, work / "second.kubeconfig")  # same SA, another token
        # The peering object and its role, exactly as the chart renders them for replicas > 1.
        peering = subprocess.run(
            [
                helm,
                "template",
                "x",
                CHART,
                "-n",
                "bridgedapp-system",
                "--set",
                "replicas=2",
                "--show-only",
                "templates/peering.yaml",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        local.kubectl("apply", "--server-side", "-f", "-", input=peering)
        with simulator_running(local.kubeconfig):
            yield Bed(local, pykube_client(local.kubeconfig), env, [first, second], work)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in metrics.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


def apps(bed: Bed, namespace: str, names: list[str], wait_until: Any) -> None:
    bed.cluster.kubectl("create", "namespace", namespace, check=False)
    for name in names:
        make_deployment(bed.api, namespace, f"{name}-api")
        make_bridgedapp(
            bed.api,
            namespace,
            name,
            {
                "deploymentName": f"{name}-api",
                "kafka": {"clusterName": "ops-kc", "replicas": 1, "storage": {"size": "1Gi"}},
                "topics": [{"name": f"{namespace}-{name}", "replicas": 1}],
            },
        )
    for name in names:
        wait_until(
            condition_is(bed.api, namespace, name, "Ready"), timeout=READY_TIMEOUT, what=f"{name} Ready"
        )


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> float:
    """Send `sig`; seconds until the process has exited."""
    started = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return time.monotonic() - started


def test_metrics_follow_the_apps_liveness_answers_logs_are_json_and_sigterm_exits_in_time(
    bed: Bed, wait_until: Any
) -> None:
    metrics_port, liveness_port = free_port(), free_port()
    log = bed.work / "metrics-operator.log"
    args = ["--metrics-port", str(metrics_port), "--liveness", f"http://127.0.0.1:{liveness_port}/healthz"]
    with running_operator(bed.kubeconfigs[0], log, args=[*args, "--log-format", "json"], env=bed.env) as proc:
        before = wait_until(lambda: _try_scrape(metrics_port), timeout=60, what="the /metrics endpoint")
        assert total(before, "bridgedapp_apps_ready", ready="True") == 0
        apps(bed, "metrics", ["one", "two"], wait_until)
        after = wait_until(
            lambda: (
                (m := scrape(metrics_port)) and total(m, "bridgedapp_apps_ready", ready="True") == 2 and m
            ),
            timeout=30,
            what="bridgedapp_apps_ready{ready=True} == 2",
        )
        assert total(after, "bridgedapp_apps", phase="Ready") == 2
        assert total(after, "bridgedapp_passes_total", trigger="create") >= 2
        assert total(after, "bridgedapp_pass_duration_seconds_count") >= total(
            after, "bridgedapp_passes_total", trigger="create"
        )
        assert total(after, "bridgedapp_strimzi_install", state="installed") == 1
        assert total(after, "bridgedapp_strimzi_install") == 1
        assert total(after, "bridgedapp_api_errors_total", code="404") >= 1  # reading a Kafka not yet made
        with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=10) as response:
            assert response.status == 200
        exit_seconds = stop(proc, signal.SIGTERM)
    print(f"\n[operations] SIGTERM to exit: {exit_seconds:.1f}s (bound {SHUTDOWN_SECONDS:.0f}s)")
    assert exit_seconds < SHUTDOWN_SECONDS
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    not_json = [line for line in lines if not _is_json(line)]
    assert lines and not not_json, f"{len(not_json)} of {len(lines)} log lines are not JSON: {not_json[:3]}"


def _try_scrape(port: int) -> dict[Any, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _peers(bed: Bed) -> dict[str, Any]:
    kind = pykube.object_factory(bed.api, "kopf.dev/v1", "ClusterKopfPeering")
    return dict(kind.objects(bed.api).get(name=PEERING).obj.get("status") or {})


def _writes_by_token(bed: Bed) -> dict[str, int]:
    """Writes of the operator's ServiceAccount (peering records aside), counted by the token that made them."""
    counts: dict[str, int] = {}
    for event in requests_of(bed.cluster.audit_log, OPERATOR_USER):
        resource = (event.get("objectRef") or {}).get("resource")
        if event["verb"] in WRITE_VERBS and resource != "clusterkopfpeerings":
            token = ((event["user"].get("extra") or {}).get(CREDENTIAL) or ["?"])[0]
            counts[token] = counts.get(token, 0) + 1
    return counts


def test_two_replicas_one_acts_and_the_other_takes_over(bed: Bed, wait_until: Any) -> None:
    peering = ["--peering", PEERING]
    with running_operator(
        bed.kubeconfigs[0], bed.work / "first.log", args=[*peering, "--priority", "200"], env=bed.env
    ) as first:
        wait_until(lambda: len(_peers(bed)) == 1, timeout=60, what="the first replica's peering record")
        before = _writes_by_token(bed)
        with running_operator(
            bed.kubeconfigs[1], bed.work / "second.log", args=[*peering, "--priority", "100"], env=bed.env
        ) as second:
            wait_until(lambda: len(_peers(bed)) == 2, timeout=60, what="both replicas' peering records")
            apps(bed, "ha", ["a1", "a2", "a3"], wait_until)
            during = {t: n - before.get(t, 0) for t, n in _writes_by_token(bed).items()}
            acting = [t for t, n in during.items() if n > 0]
            assert len(acting) == 1 and "?" not in during, f"writes by token while both ran: {during}"

            # The acting replica stops as a rolling update stops it (SIGTERM): the other resumes at once.
            stopped_at = time.monotonic()
            stop(first, signal.SIGTERM)
            apps(bed, "ha", ["b1"], wait_until)
            graceful = time.monotonic() - stopped_at
            after = {t: n - before.get(t, 0) - during.get(t, 0) for t, n in _writes_by_token(bed).items()}
            assert after.get(acting[0], 0) == 0 and sum(after.values()) > 0, f"writes after the stop: {after}"
            print(f"\n[operations] writes by token: both running {during}, after the SIGTERM {after}")

            # A replica that dies without a word (SIGKILL) is taken over once its record expires.
            with running_operator(
                bed.kubeconfigs[0], bed.work / "third.log", args=[*peering, "--priority", "300"], env=bed.env
            ) as third:
                wait_until(lambda: len(_peers(bed)) == 2, timeout=60, what="the restarted replica's record")
                time.sleep(3)  # let the lower-priority replica notice it and pause
                killed_at = time.monotonic()
                stop(third, signal.SIGKILL)
                apps(bed, "ha", ["c1"], wait_until)
                killed = time.monotonic() - killed_at
            assert second.poll() is None
    print(
        f"\n[operations] takeover: after SIGTERM {graceful:.1f}s, after SIGKILL {killed:.1f}s "
        f"(peering lifetime {PEER_LIFETIME_SECONDS}s), each until a new BridgedApp was Ready"
    )
    assert killed < PEER_LIFETIME_SECONDS + 60
    assert not forbidden_requests(bed.cluster)  # the chart's peering role is all peering needs
