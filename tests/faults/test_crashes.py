"""Crashes: the operator SIGKILLed at random (seeded) moments, the first one in the middle of the Strimzi
install, while 10 BridgedApps reconcile; then once more while they are deleted. The invariants after it all:
every app Ready, exactly one of each object, nothing left and no stuck finalizer after delete."""

from __future__ import annotations

import time

import pykube

from tests.faults.apps import (
    AllReady,
    assert_exactly_one_of_each,
    create_apps,
    delete_apps_and_assert_nothing_left,
    make_namespace,
    ready_count,
)
from tests.faults.conftest import Bed, report, sized, wait_for
from tests.operator_fixtures import STRIMZI_NS

APPS = 10
KILLS = sized(5, 20)
CONVERGE_TIMEOUT = (
    300  # after the last restart: the install, the shared Kafka and 10 apps, on a loaded machine
)
DELETE_TIMEOUT = 120


def _crd_exists(api: pykube.HTTPClient, name: str) -> bool:
    url = f"{api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    return api.session.get(url, timeout=10).status_code == 200


def test_sigkill_at_random_points_converges_with_one_of_each(faults_bed: Bed) -> None:
    api, op, rng = faults_bed.api, faults_bed.operator, faults_bed.rng
    namespace = "crash"
    make_namespace(api, namespace)
    names = [f"app-{i:02d}" for i in range(APPS)]
    create_apps(api, namespace, names)

    # Kill 1: as soon as the install has written its first Strimzi CRD, before the Strimzi Deployment exists.
    op.start()
    wait_for(lambda: _crd_exists(api, "kafkas.kafka.strimzi.io"), 120, "the Strimzi install to begin", 0.05)
    op.kill()
    strimzi_deployed = (
        pykube.Deployment.objects(api, namespace=STRIMZI_NS).get_or_none(name="strimzi-cluster-operator")
        is not None
    )
    ready_at_kill = [ready_count(api, namespace)]
    delays = []
    for _ in range(KILLS - 1):
        op.start()
        delay = round(rng.uniform(0.5, 6.0), 2)
        delays.append(delay)
        time.sleep(delay)
        op.kill()
        ready_at_kill.append(ready_count(api, namespace))

    op.start()
    started = time.monotonic()
    wait_for(AllReady(api, namespace, names), CONVERGE_TIMEOUT, f"all {APPS} apps Ready after {KILLS} kills")
    converged = time.monotonic() - started
    counts = assert_exactly_one_of_each(api, namespace, names)

    # One more kill while the apps are being deleted: the finalizers must still complete.
    def kill_mid_delete() -> None:
        time.sleep(rng.uniform(0.2, 2.0))
        op.kill()
        op.start()

    deleted_in = delete_apps_and_assert_nothing_left(api, namespace, DELETE_TIMEOUT, during=kill_mid_delete)
    report(
        "crashes",
        seed=faults_bed.seed,
        apps=APPS,
        kills=KILLS + 1,
        strimzi_deployment_existed_at_first_kill=strimzi_deployed,
        delays_s=delays,
        ready_at_each_kill=ready_at_kill,
        converged_after_last_start_s=round(converged, 1),
        deleted_in_s=round(deleted_in, 1),
        **counts,
    )
    assert not strimzi_deployed, "the first kill came after the install, not during it"
