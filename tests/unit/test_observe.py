"""Readings of observed objects: what lets an idle pass write nothing, and honest rollout status."""

from __future__ import annotations

from typing import Any

from bridgedapp.observe import bridge_placement, injection_matches, is_subset, rollout


def deployment(
    *, init: bool = False, hash_: str = "h1", status: dict[str, Any] | None = None
) -> dict[str, Any]:
    bridge = {"name": "kafka-bridge", "image": "bridge:1", "terminationMessagePath": "/dev/termination-log"}
    app = {"name": "app", "image": "app:1"}
    pod: dict[str, Any] = {
        "containers": [app] if init else [app, bridge],
        "volumes": [{"name": "data"}, {"name": "kafka-bridge-config"}],
    }
    if init:
        pod["initContainers"] = [bridge]
    return {
        "metadata": {"name": "web", "generation": 2},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"annotations": {"bridgedapp.io/config-hash": hash_}}, "spec": pod},
        },
        "status": status
        if status is not None
        else {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    }


def patch(*, init: bool) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    return {
        "spec": {
            "template": {
                "metadata": {"annotations": {"bridgedapp.io/config-hash": "h1"}},
                "spec": {
                    key: [{"name": "kafka-bridge", "image": "bridge:1"}],
                    "volumes": [{"name": "kafka-bridge-config"}],
                },
            }
        }
    }


def test_subset_ignores_server_defaults_and_matches_named_items_by_name() -> None:
    assert is_subset(
        {"a": [{"name": "x", "v": 1}]}, {"a": [{"name": "y"}, {"name": "x", "v": 1, "d": 0}], "b": 2}
    )
    assert not is_subset({"a": [{"name": "x", "v": 2}]}, {"a": [{"name": "x", "v": 1}]})
    assert not is_subset({"acls": [{"op": "Read"}]}, {"acls": [{"op": "Read"}, {"op": "Write"}]})
    assert is_subset({"acls": [{"op": "Read"}]}, {"acls": [{"op": "Read", "host": "*"}]})


def test_injection_matches_only_the_exact_placement() -> None:
    assert injection_matches(deployment(init=False), patch(init=False))
    assert injection_matches(deployment(init=True), patch(init=True))
    # switching nativeSidecar must re-apply even though the patch is a subset of the old object
    assert not injection_matches(deployment(init=False), patch(init=True))
    assert bridge_placement(deployment(init=True)) == {"initContainers"}


def test_injection_mismatch_on_changed_hash() -> None:
    assert not injection_matches(deployment(hash_="old"), patch(init=False))


def test_rollout_reports_each_stage() -> None:
    assert rollout(deployment(), "h1")[0] is True
    assert rollout(deployment(hash_="old"), "h1")[1] == "NotInjected"
    lagging = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert rollout(deployment(status=lagging), "h1")[1] == "RolloutPending"
    partial = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}
    assert rollout(deployment(status=partial), "h1")[1] == "RollingOut"
    unavailable = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}
    ok, reason, message = rollout(deployment(status=unavailable), "h1")
    assert (ok, reason) == (False, "PodsNotAvailable") and "1 of 2" in message
