"""bridgedapp.kube against the real API server: server-side apply, conflicts, errors, discovery and waits.

The operator's client (`kube`) acts; pykube-ng (`api`) observes, so a bug in the one cannot hide in the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pykube
import pytest
import yaml
from bridgedapp import FIELD_MANAGER
from bridgedapp.kube import ApplyConflict, FieldConflict, Kube, KubeError, KubeTimeout

from testbed.cluster import LocalCluster

WIDGET_GROUP = f"w{uuid.uuid4().hex[:6]}.kube-test.bridgedapp.io"
WIDGET_API = f"{WIDGET_GROUP}/v1"


def configmap(namespace: str, name: str, data: dict[str, str], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": data,
    }


def observed_configmap(api: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = pykube.ConfigMap.objects(api, namespace=namespace).get_or_none(name=name)
    return found.obj if found is not None else None


@pytest.fixture(scope="module")
def widget_crd(api: pykube.HTTPClient, kube: Kube) -> Iterator[str]:
    """A small namespaced CRD with a status subresource, in a group no other test uses."""
    crd = pykube.object_factory(api, "apiextensions.k8s.io/v1", "CustomResourceDefinition")(
        api,
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{WIDGET_GROUP}"},
            "spec": {
                "group": WIDGET_GROUP,
                "scope": "Namespaced",
                "names": {
                    "plural": "widgets",
                    "singular": "widget",
                    "kind": "Widget",
                    "listKind": "WidgetList",
                },
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                                },
                            }
                        },
                    }
                ],
            },
        },
    )
    crd.create()
    kube.wait_for(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        crd.name,
        None,
        lambda o: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in ((o or {}).get("status") or {}).get("conditions") or []
        ),
        timeout=60,
        describe=f"CRD {crd.name} Established",
    )
    yield WIDGET_API
    crd.delete()


def test_apply_creates_then_is_idempotent(kube: Kube, api: pykube.HTTPClient, namespace: str) -> None:
    desired = configmap(namespace, "settings", {"colour": "green"}, app="shop")

    first = kube.apply(desired)

    seen = observed_configmap(api, namespace, "settings")
    assert seen is not None and seen["data"] == {"colour": "green"}
    entries = seen["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in entries] == [(FIELD_MANAGER, "Apply")]

    second = kube.apply(desired)

    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    again = observed_configmap(api, namespace, "settings")
    assert again is not None and again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_apply_conflict_names_the_other_manager_and_changes_nothing(
    kube: Kube, api: pykube.HTTPClient, cluster: LocalCluster, namespace: str
) -> None:
    theirs = configmap(namespace, "shared", {"colour": "green", "size": "L"})
    cluster.kubectl("apply", "--server-side=false", "-f", "-", input=yaml.safe_dump(theirs))

    with pytest.raises(ApplyConflict) as caught:
        kube.apply(configmap(namespace, "shared", {"colour": "blue"}))

    conflict = caught.value
    assert conflict.conflicts == [FieldConflict(field=".data.colour", manager="kubectl-client-side-apply")]
    assert conflict.managers == ["kubectl-client-side-apply"]
    assert conflict.status_code == 409
    assert "field .data.colour is owned by manager 'kubectl-client-side-apply'" in str(conflict)
    assert f"ConfigMap {namespace}/shared" in str(conflict)
    seen = observed_configmap(api, namespace, "shared")
    assert seen is not None and seen["data"] == {"colour": "green", "size": "L"}

    kube.apply(configmap(namespace, "shared", {"colour": "blue"}), force=True)

    seen = observed_configmap(api, namespace, "shared")
    assert seen is not None and seen["data"]["colour"] == "blue"


def test_api_error_carries_the_servers_reason_and_message(kube: Kube, namespace: str) -> None:
    with pytest.raises(KubeError) as caught:
        kube.apply(configmap(namespace, "Not_A_Valid_Name", {"k": "v"}))

    assert caught.value.reason == "Invalid"
    assert caught.value.status_code == 422
    assert "Not_A_Valid_Name" in caught.value.message
    assert not isinstance(caught.value, ApplyConflict)


def test_get_and_delete_of_missing_objects(kube: Kube, namespace: str) -> None:
    assert kube.get("v1", "ConfigMap", "nothing-here", namespace) is None
    assert kube.delete("v1", "ConfigMap", "nothing-here", namespace) is False


def test_a_kind_the_server_does_not_serve_has_no_objects(kube: Kube, namespace: str) -> None:
    api_version = "nothing.kube-test.bridgedapp.io/v1"
    assert kube.get(api_version, "Thing", "x", namespace) is None
    assert kube.list(api_version, "Thing", namespace) == []
    assert kube.delete(api_version, "Thing", "x", namespace) is False
    with pytest.raises(KubeError) as caught:
        kube.apply(
            {"apiVersion": api_version, "kind": "Thing", "metadata": {"name": "x", "namespace": namespace}}
        )
    assert caught.value.reason == "NotServed"
    assert "Thing" in str(caught.value)


def test_delete_removes_an_existing_object(kube: Kube, api: pykube.HTTPClient, namespace: str) -> None:
    kube.apply(configmap(namespace, "doomed", {"k": "v"}))

    assert kube.delete("v1", "ConfigMap", "doomed", namespace) is True

    assert observed_configmap(api, namespace, "doomed") is None
    assert kube.get("v1", "ConfigMap", "doomed", namespace) is None


def test_create_if_absent_keeps_an_existing_object(
    kube: Kube, api: pykube.HTTPClient, namespace: str
) -> None:
    created, was_created = kube.create_if_absent(configmap(namespace, "topic-like", {"partitions": "3"}))
    assert was_created is True
    assert created["data"] == {"partitions": "3"}

    existing, was_created = kube.create_if_absent(configmap(namespace, "topic-like", {"partitions": "12"}))

    assert was_created is False
    assert existing["data"] == {"partitions": "3"}
    seen = observed_configmap(api, namespace, "topic-like")
    assert seen is not None and seen["data"] == {"partitions": "3"}


def test_get_and_list_by_label(kube: Kube, namespace: str) -> None:
    kube.apply(configmap(namespace, "a", {"k": "1"}, team="red"))
    kube.apply(configmap(namespace, "b", {"k": "2"}, team="blue"))

    red = kube.list("v1", "ConfigMap", namespace, label_selector="team=red")

    assert [(o["kind"], o["apiVersion"], o["metadata"]["name"]) for o in red] == [("ConfigMap", "v1", "a")]
    got = kube.get("v1", "ConfigMap", "b", namespace)
    assert got is not None and got["data"] == {"k": "2"}
    assert kube.namespace_exists(namespace) is True
    assert kube.namespace_exists(f"absent-{uuid.uuid4().hex[:6]}") is False


def test_server_version_and_served_versions(kube: Kube, api: pykube.HTTPClient) -> None:
    info = api.get(version="", base="/version").json()
    assert kube.server_version() == (int(info["major"]), int(info["minor"].rstrip("+")))
    assert kube.served_versions("apps") == ["v1"]
    assert kube.served_versions("no-such-group.example.com") == []
    assert kube.has_kind("apps/v1", "Deployment") is True
    assert kube.has_kind("apps/v1", "NoSuchKind") is False


def test_discovery_sees_a_crd_installed_after_start(kube: Kube, widget_crd: str) -> None:
    assert kube.served_versions(WIDGET_GROUP, refresh=True) == ["v1"]
    assert kube.has_kind(widget_crd, "Widget") is True
    assert kube.has_kind(widget_crd, "Gadget") is False


def test_patch_status_and_merge_patch(
    kube: Kube, api: pykube.HTTPClient, widget_crd: str, namespace: str
) -> None:
    kube.apply(
        {
            "apiVersion": widget_crd,
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": namespace},
            "spec": {"size": 3},
        }
    )

    kube.patch_status(widget_crd, "Widget", "w", namespace, {"phase": "Ready"})
    kube.patch_merge(
        widget_crd, "Widget", "w", namespace, {"metadata": {"annotations": {"bridgedapp.io/x": "1"}}}
    )

    widget = (
        pykube.object_factory(api, widget_crd, "Widget").objects(api, namespace=namespace).get(name="w").obj
    )
    assert widget["status"] == {"phase": "Ready"}
    assert widget["spec"] == {"size": 3}
    assert widget["metadata"]["annotations"] == {"bridgedapp.io/x": "1"}
    status_managers = {
        e["manager"] for e in widget["metadata"]["managedFields"] if e.get("subresource") == "status"
    }
    assert status_managers == {FIELD_MANAGER}


def test_wait_for_sees_changes_through_a_watch(kube: Kube, api: pykube.HTTPClient, namespace: str) -> None:
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            kube.wait_for,
            "v1",
            "ConfigMap",
            "later",
            namespace,
            lambda o: o is not None and o["data"].get("ready") == "yes",
            timeout=60,
            describe="ConfigMap later ready",
        )
        pykube.ConfigMap(api, configmap(namespace, "later", {"ready": "no"})).create()
        cm = pykube.ConfigMap.objects(api, namespace=namespace).get(name="later")
        cm.obj["data"]["ready"] = "yes"
        cm.update()
        seen = waiting.result(timeout=90)

    assert seen is not None and seen["data"]["ready"] == "yes"

    cm.delete()
    gone = kube.wait_for(
        "v1", "ConfigMap", "later", namespace, lambda o: o is None, timeout=60, describe="gone"
    )
    assert gone is None


def test_wait_for_timeout_says_what_it_waited_for(kube: Kube, namespace: str) -> None:
    with pytest.raises(KubeTimeout) as caught:
        kube.wait_for(
            "v1",
            "ConfigMap",
            "never",
            namespace,
            lambda o: o is not None,
            timeout=1,
            describe="ConfigMap never to appear",
        )

    assert "ConfigMap never to appear" in str(caught.value)
    assert "timed out after 1s" in str(caught.value)
