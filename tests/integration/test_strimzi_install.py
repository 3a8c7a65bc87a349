"""Strimzi find / adopt / install with the official bundles, each on a control plane of its own.

CRDs are cluster-wide and the 0.48.0 and 1.2.0 bundles share their names, so the fresh install and the
adopted foreign install each get a private LocalCluster (`fresh_cluster`). The operator's code (Kube,
StrimziEnsurer) acts; pykube-ng observes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykube
import pytest
import yaml
from bridgedapp import FIELD_MANAGER, INSTALL_FIELD_MANAGER, MANAGED_BY_LABELS
from bridgedapp.kube import Kube
from bridgedapp.settings import Settings
from bridgedapp.strimzi import (
    StrimziEnsurer,
    StrimziInfo,
    StrimziUnavailable,
    load_bundle,
    namespace_watched,
    not_watched_message,
)

from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.strimzi_bundle import bundle_path, missing_reason

INSTALL_NS = "kafka"
FOREIGN_NS = "strimzi-system"
CALLERS = 20
(MANAGED_KEY, MANAGED_VALUE), *_ = MANAGED_BY_LABELS.items()


def bundle(version: str) -> Path:
    path = bundle_path(version)
    if path is None:
        pytest.skip(missing_reason(version))
    return path


_KINDS: dict[tuple[int, str, str], type[pykube.objects.APIObject]] = {}


def pykube_kind(api: pykube.HTTPClient, obj: dict[str, Any]) -> type[pykube.objects.APIObject]:
    """pykube's class for the object's kind (object_factory asks the server, so remember the answer)."""
    key = (id(api), obj["apiVersion"], obj["kind"])
    if key not in _KINDS:
        _KINDS[key] = pykube.object_factory(api, obj["apiVersion"], obj["kind"])
    return _KINDS[key]


def observe(api: pykube.HTTPClient, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The live object for a bundle object, read through pykube."""
    kind = pykube_kind(api, obj)
    namespaced = issubclass(kind, pykube.objects.NamespacedAPIObject)
    query = kind.objects(api, namespace=obj["metadata"]["namespace"]) if namespaced else kind.objects(api)
    found = query.get_or_none(name=obj["metadata"]["name"])
    return found.obj if found is not None else None


def resource_versions(api: pykube.HTTPClient, objects: list[dict[str, Any]]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for obj in objects:
        live = observe(api, obj)
        key = f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        result[key] = live["metadata"]["resourceVersion"] if live else None
    return result


def condition(obj: dict[str, Any] | None, type_: str) -> str | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c["status"]
    return None


def captured(call: Callable[[], Any]) -> StrimziUnavailable:
    try:
        call()
    except StrimziUnavailable as exc:
        return exc
    raise AssertionError("expected StrimziUnavailable")


# ---- our own install, on an empty cluster ------------------------------------------------------------------


@dataclass
class InstallRun:
    """What happened on the fresh cluster: refusals before any install, then 20 concurrent ensure() calls."""

    cluster: LocalCluster
    api: pykube.HTTPClient
    kube: Kube
    settings: Settings
    never: StrimziUnavailable
    unreachable: StrimziUnavailable
    namespace_after_failed_install: bool
    ensurer: StrimziEnsurer
    results: list[StrimziInfo]
    errors: list[BaseException]
    progress: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def install_run(fresh_cluster: Callable[[str], LocalCluster]) -> InstallRun:
    manifest = bundle("1.2.0")
    local = fresh_cluster("strimzi-install")
    kube = Kube.from_env(str(local.kubeconfig))
    api = pykube_client(local.kubeconfig)
    settings = Settings(strimzi_manifest=str(manifest), strimzi_namespace=INSTALL_NS, install_timeout=300)

    never = captured(StrimziEnsurer(kube, settings.model_copy(update={"strimzi_install": "never"})).ensure)
    # Port 9 (discard) on loopback: nothing listens, so the download fails at once.
    offline = settings.model_copy(
        update={"strimzi_manifest": "http://127.0.0.1:9/strimzi-cluster-operator-1.2.0.yaml"}
    )
    unreachable = captured(StrimziEnsurer(kube, offline).ensure)
    namespace_after_failed_install = kube.namespace_exists(INSTALL_NS)

    progress: list[str] = []
    ensurer = StrimziEnsurer(kube, settings, progress=progress.append)
    start = threading.Barrier(CALLERS)

    def call() -> StrimziInfo:
        start.wait()
        return ensurer.ensure()

    results: list[StrimziInfo] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(CALLERS) as pool:
        for future in [pool.submit(call) for _ in range(CALLERS)]:
            try:
                results.append(future.result(timeout=400))
            except Exception as exc:
                errors.append(exc)
    return InstallRun(
        local,
        api,
        kube,
        settings,
        never,
        unreachable,
        namespace_after_failed_install,
        ensurer,
        results,
        errors,
        progress,
    )


def test_never_without_strimzi_reports_not_found(install_run: InstallRun) -> None:
    assert install_run.never.reason == "StrimziNotFound"
    assert "BRIDGEDAPP_STRIMZI_INSTALL" in install_run.never.message


def test_unreachable_bundle_fails_the_install_and_says_where_it_looked(install_run: InstallRun) -> None:
    assert install_run.unreachable.reason == "InstallFailed"
    assert "http://127.0.0.1:9/strimzi-cluster-operator-1.2.0.yaml" in install_run.unreachable.message
    assert "BRIDGEDAPP_STRIMZI_MANIFEST" in install_run.unreachable.message
    assert install_run.namespace_after_failed_install is False


def test_concurrent_ensure_installs_once(install_run: InstallRun) -> None:
    assert install_run.errors == []
    assert len(install_run.results) == CALLERS
    info = install_run.results[0]
    assert all(r == info for r in install_run.results)
    assert (info.namespace, info.version, info.managed, info.api_version) == (
        INSTALL_NS,
        "1.2.0",
        True,
        "kafka.strimzi.io/v1",
    )
    assert install_run.ensurer.installs == 1
    first_steps = [m for m in install_run.progress if m.startswith("installing Strimzi 1.2.0 into kafka: 1/")]
    assert len(first_steps) == 1
    assert "waiting for CRDs Established" in install_run.progress
    assert "waiting for strimzi-cluster-operator Available" in install_run.progress
    deployment = pykube.Deployment.objects(install_run.api, namespace=INSTALL_NS).get(
        name="strimzi-cluster-operator"
    )
    assert deployment.obj["metadata"]["generation"] == 1


def test_installed_objects_are_ours_ready_and_bound_to_the_install_namespace(install_run: InstallRun) -> None:
    objects = load_bundle(str(install_run.settings.manifest_source()), namespace=INSTALL_NS)
    assert len(objects) == 27
    for obj in objects:
        live = observe(install_run.api, obj)
        assert live is not None, f"{obj['kind']} {obj['metadata']['name']} missing"
        assert live["metadata"]["labels"][MANAGED_KEY] == MANAGED_VALUE
        managers = {e["manager"] for e in live["metadata"]["managedFields"]}
        assert (
            INSTALL_FIELD_MANAGER in managers and FIELD_MANAGER not in managers
        )  # the install's own manager
        if obj["kind"] == "CustomResourceDefinition":
            assert condition(live, "Established") == "True"
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert [s["namespace"] for s in live["subjects"]] == [INSTALL_NS]
            if obj["kind"] == "RoleBinding":
                assert live["metadata"]["namespace"] == INSTALL_NS
    deployment = pykube.Deployment.objects(install_run.api, namespace=INSTALL_NS).get(
        name="strimzi-cluster-operator"
    )
    assert condition(deployment.obj, "Available") == "True"
    namespace = pykube.Namespace.objects(install_run.api).get(name=INSTALL_NS)
    assert namespace.labels[MANAGED_KEY] == MANAGED_VALUE


def test_our_install_watches_only_its_namespace(install_run: InstallRun) -> None:
    info = install_run.results[0]
    assert info.watched_namespaces == [INSTALL_NS]
    assert namespace_watched(info, INSTALL_NS) is True
    assert namespace_watched(info, "other") is False
    message = not_watched_message(info, "other")
    assert (
        "other" in message and "STRIMZI_NAMESPACE" in message and "kafka/strimzi-cluster-operator" in message
    )


def test_another_ensurer_adopts_our_install_without_touching_it(install_run: InstallRun) -> None:
    objects = load_bundle(str(install_run.settings.manifest_source()), namespace=INSTALL_NS)
    before = resource_versions(install_run.api, objects)
    progress: list[str] = []
    ensurer = StrimziEnsurer(install_run.kube, install_run.settings, progress=progress.append)

    info = ensurer.ensure()
    again = ensurer.ensure()

    assert info == again
    assert (info.managed, info.version, info.namespace) == (True, "1.2.0", INSTALL_NS)
    assert ensurer.installs == 0 and progress == []
    assert resource_versions(install_run.api, objects) == before


def test_deleted_operator_of_our_install_is_installed_again(install_run: InstallRun, wait_until: Any) -> None:
    ensurer = StrimziEnsurer(install_run.kube, install_run.settings)
    first = ensurer.ensure()
    pykube.Deployment.objects(install_run.api, namespace=INSTALL_NS).get(name=first.deployment).delete()
    wait_until(
        lambda: (
            pykube.Deployment.objects(install_run.api, namespace=INSTALL_NS).get_or_none(
                name=first.deployment
            )
            is None
        ),
        what="the operator Deployment to be gone",
    )

    second = ensurer.ensure()

    assert ensurer.installs == 1
    assert second.uid != first.uid and second.managed is True
    deployment = pykube.Deployment.objects(install_run.api, namespace=INSTALL_NS).get(name=second.deployment)
    assert deployment.obj["metadata"]["uid"] == second.uid
    assert condition(deployment.obj, "Available") == "True"


def test_watching_every_namespace() -> None:
    info = StrimziInfo(
        namespace="kafka", version="1.2.0", managed=False, api_version="v", watched_namespaces="*"
    )
    assert info.watches("anything") and namespace_watched(info, "kafka")


# ---- someone else's install (0.48.0), adopted untouched ---------------------------------------------------


@dataclass
class AdoptRun:
    api: pykube.HTTPClient
    objects: list[dict[str, Any]]
    incomplete: StrimziUnavailable
    before: dict[str, str | None]
    after: dict[str, str | None]
    info: StrimziInfo
    ensurer: StrimziEnsurer
    progress: list[str]


def foreign_bundle_objects() -> list[dict[str, Any]]:
    """The 0.48.0 bundle as an admin edits it: own namespace, and STRIMZI_NAMESPACE listing two namespaces."""
    text = bundle("0.48.0").read_text().replace("namespace: myproject", f"namespace: {FOREIGN_NS}")
    objects = [d for d in yaml.safe_load_all(text) if d]
    for obj in objects:
        if obj["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            obj["metadata"]["namespace"] = FOREIGN_NS
        if obj["kind"] == "Deployment":
            for env in obj["spec"]["template"]["spec"]["containers"][0]["env"]:
                if env["name"] == "STRIMZI_NAMESPACE":
                    env.pop("valueFrom")
                    env["value"] = f"{FOREIGN_NS},team-a"
    return objects


@pytest.fixture(scope="module")
def adopt_run(
    fresh_cluster: Callable[[str], LocalCluster], tmp_path_factory: pytest.TempPathFactory
) -> AdoptRun:
    settings = Settings(
        strimzi_manifest=str(bundle("1.2.0")), strimzi_namespace=INSTALL_NS, install_timeout=300
    )
    local = fresh_cluster("strimzi-adopt")
    api = pykube_client(local.kubeconfig)
    kube = Kube.from_env(str(local.kubeconfig))
    objects = foreign_bundle_objects()
    folder = tmp_path_factory.mktemp("foreign-strimzi")
    crds, rest = folder / "crds.yaml", folder / "rest.yaml"
    crds.write_text(yaml.safe_dump_all([o for o in objects if o["kind"] == "CustomResourceDefinition"]))
    rest.write_text(yaml.safe_dump_all([o for o in objects if o["kind"] != "CustomResourceDefinition"]))
    local.kubectl("create", "namespace", FOREIGN_NS)

    # Step one of someone else's install: CRDs, no operator yet. We must not install over it.
    local.kubectl("create", "--field-manager=someone-else", "-f", str(crds))
    incomplete = captured(StrimziEnsurer(kube, settings).ensure)

    local.kubectl("create", "--field-manager=someone-else", "-f", str(rest))
    local.kubectl(
        "-n",
        FOREIGN_NS,
        "wait",
        "--for=condition=Available",
        "deployment/strimzi-cluster-operator",
        "--timeout=120s",
    )
    before = resource_versions(api, objects)
    progress: list[str] = []
    ensurer = StrimziEnsurer(kube, settings, progress=progress.append)
    info = ensurer.ensure()
    ensurer.ensure()
    after = resource_versions(api, objects)
    return AdoptRun(api, objects, incomplete, before, after, info, ensurer, progress)


def test_partial_foreign_install_is_reported_not_installed_over(adopt_run: AdoptRun) -> None:
    assert adopt_run.incomplete.reason == "StrimziIncomplete"
    assert "kafkas.kafka.strimzi.io" in adopt_run.incomplete.message
    assert pykube.Namespace.objects(adopt_run.api).get_or_none(name=INSTALL_NS) is None


def test_foreign_strimzi_is_adopted_as_it_is(adopt_run: AdoptRun) -> None:
    info = adopt_run.info
    assert (info.namespace, info.version, info.managed) == (FOREIGN_NS, "0.48.0", False)
    assert info.api_version == "kafka.strimzi.io/v1beta2"
    assert info.watched_namespaces == [FOREIGN_NS, "team-a"]
    assert info.watches("team-a") and not info.watches(INSTALL_NS)
    assert adopt_run.ensurer.installs == 0 and adopt_run.progress == []


def test_adopted_install_is_not_modified(adopt_run: AdoptRun) -> None:
    assert None not in adopt_run.before.values()
    assert adopt_run.after == adopt_run.before
    for obj in adopt_run.objects:
        live = observe(adopt_run.api, obj)
        assert live is not None
        assert MANAGED_KEY not in (live["metadata"].get("labels") or {})
        assert not {FIELD_MANAGER, INSTALL_FIELD_MANAGER} & {
            e["manager"] for e in live["metadata"]["managedFields"]
        }
