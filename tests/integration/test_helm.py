"""The Helm chart deploy/helm/bridgedapp: `helm lint`, `helm template` golden files, the same objects as the
kustomize profiles in deploy/operator, and `helm install` / `upgrade` / `uninstall` onto the local control
plane (the objects are real; the operator Deployment's pods are kwok's, nothing runs in them). Pod Security
"restricted" admits the operator's pods there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykube
import pytest
import yaml

from testbed.cluster import LocalCluster
from testbed.kubeclient import pykube_client
from testbed.service_account import PROFILES
from testbed.toolchain import K8S_VERSION
from tests.unit.conftest import check_golden

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "bridgedapp"
RELEASE, NAMESPACE = "bridgedapp", "bridgedapp-system"
NAMESPACED = ("--set", "rbac.profile=namespaced", "--set", "watchNamespaces={shop,kafka}")
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": (),
    "adopt": ("--set", "rbac.profile=adopt"),
    "namespaced": NAMESPACED,
    "ha": (
        "--set",
        "replicas=2",
        "--set",
        "podDisruptionBudget.enabled=true",
        "--set",
        "serviceMonitor.enabled=true",
    ),
}


def run(argv: list[str | Path], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stderr}", pytrace=False)
    return proc


def template(helm: Path, *values: str, crds: bool = True) -> list[dict[str, Any]]:
    """The chart's objects; `crds=False` leaves out crds/ (links to files with tests of their own)."""
    include = ["--include-crds"] if crds else []
    out = run(
        [helm, "template", RELEASE, CHART, "-n", NAMESPACE, *include, "--kube-version", K8S_VERSION, *values]
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_chart_lints_clean(helm: Path, values: tuple[str, ...]) -> None:
    result = run([helm, "lint", CHART, "--strict", "--kube-version", K8S_VERSION, *values])
    assert "0 chart(s) failed" in result.stdout


def test_invalid_profile_and_namespaced_without_namespaces_are_refused(helm: Path) -> None:
    bad = run([helm, "template", RELEASE, CHART, "--set", "rbac.profile=admin"], check=False)
    assert bad.returncode != 0 and "rbac.profile must be install, adopt or namespaced" in bad.stderr
    empty = run([helm, "template", RELEASE, CHART, "--set", "rbac.profile=namespaced"], check=False)
    assert empty.returncode != 0 and "needs watchNamespaces" in empty.stderr
    ha = run([helm, "template", RELEASE, CHART, *NAMESPACED, "--set", "replicas=2"], check=False)
    assert ha.returncode != 0 and "replicas > 1 needs a cluster-wide profile" in ha.stderr


@pytest.mark.parametrize("name", VALUE_SETS.keys())
def test_template_matches_golden(helm: Path, name: str) -> None:
    check_golden(f"helm_{name}", template(helm, *VALUE_SETS[name], crds=False))


@pytest.mark.parametrize("profile", PROFILES.keys())
def test_chart_renders_the_kustomize_profile_object_for_object(
    helm: Path, binaries: Any, profile: str
) -> None:
    """The chart and deploy/operator say the same thing: every object equal, none missing on either side."""
    values = {"install": (), "adopt": ("--set", "rbac.profile=adopt"), "namespaced": NAMESPACED}[profile]
    chart = keyed(template(helm, "--set", "namespace.create=true", *values))
    out = run([binaries.kubectl, "kustomize", PROFILES[profile]]).stdout
    kustomize = keyed([doc for doc in yaml.safe_load_all(out) if doc])
    assert sorted(chart) == sorted(kustomize)
    different = [key for key in chart if chart[key] != kustomize[key]]
    assert not different, "\n".join(
        f"{key}:\n helm:      {chart[key]}\n kustomize: {kustomize[key]}" for key in different
    )


# ---- on the local control plane ----------------------------------------------------------------------------


def _get(api: pykube.HTTPClient, kind: type[Any], name: str, namespace: str | None = None) -> Any:
    query = kind.objects(api, namespace=namespace) if namespace else kind.objects(api)
    found = query.get_or_none(name=name)
    return found.obj if found is not None else None


def test_install_upgrade_uninstall_on_the_local_control_plane(
    helm: Path, fresh_cluster: Callable[[str], LocalCluster], wait_until: Any
) -> None:
    local = fresh_cluster("helm")
    api = pykube_client(local.kubeconfig)
    local.kubectl("create", "namespace", NAMESPACE)
    local.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
    base = [helm, "--kubeconfig", local.kubeconfig, "-n", NAMESPACE]

    run([*base, "install", RELEASE, CHART, "--wait", "--timeout", "120s"])
    deployment = _get(api, pykube.Deployment, "bridgedapp-operator", NAMESPACE)
    assert deployment is not None and deployment["spec"]["replicas"] == 1
    assert _get(api, pykube.ClusterRole, "bridgedapp-operator-strimzi-installer") is not None
    crd = pykube.object_factory(api, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert _get(api, crd, "bridgedapps.bridgedapp.io") is not None
    # Pod Security "restricted" admitted the operator's pod (--wait saw it Ready on a kwok node).
    pods = list(
        pykube.Pod.objects(api, namespace=NAMESPACE).filter(
            selector={"app.kubernetes.io/name": "bridgedapp-operator"}
        )
    )
    assert len(pods) == 1

    run(
        [
            *base,
            "upgrade",
            RELEASE,
            CHART,
            "--set",
            "replicas=2",
            "--set",
            "podDisruptionBudget.enabled=true",
            "--set",
            "rbac.profile=adopt",
            "--wait",
            "--timeout",
            "120s",
        ]
    )
    deployment = _get(api, pykube.Deployment, "bridgedapp-operator", NAMESPACE)
    assert deployment["spec"]["replicas"] == 2
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BRIDGEDAPP_PEERING"] == "bridgedapp-operator"
    assert env["BRIDGEDAPP_STRIMZI_INSTALL"] == "never"
    assert _get(api, pykube.PodDisruptionBudget, "bridgedapp-operator", NAMESPACE) is not None
    peering = pykube.object_factory(api, "kopf.dev/v1", "ClusterKopfPeering")
    assert _get(api, peering, "bridgedapp-operator") is not None
    # The installer's rights went with the profile change.
    assert _get(api, pykube.ClusterRole, "bridgedapp-operator-strimzi-installer") is None
    wait_until(
        lambda: len(list(pykube.Pod.objects(api, namespace=NAMESPACE))) == 2,
        what="two operator pods admitted",
    )

    run([*base, "uninstall", RELEASE, "--wait", "--timeout", "120s"])
    assert _get(api, pykube.Deployment, "bridgedapp-operator", NAMESPACE) is None
    assert _get(api, pykube.ClusterRole, "bridgedapp-operator") is None
    assert _get(api, pykube.ServiceAccount, "bridgedapp-operator", NAMESPACE) is None
    # Helm never deletes what crds/ installed: BridgedApps survive an uninstall.
    assert _get(api, crd, "bridgedapps.bridgedapp.io") is not None
