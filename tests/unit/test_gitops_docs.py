"""The GitOps docs and files (docs/gitops.md, deploy/gitops/) checked against what the operator really writes.

The Argo CD health check runs in a real Lua runtime (lupa's Lua 5.1, restricted like Argo CD's VM: see
tests/gitops_lua.py) against BridgedApp statuses built by the operator's own `conditions.build_status`. The
field list that the Argo CD and Flux advice rests on is compared with the operator's own Deployment
apply-patch, and the example files are parsed and checked against the names the operator uses.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import pytest
import yaml
from bridgedapp import FIELD_MANAGER, GROUP, KIND, VERSION
from bridgedapp import conditions as c
from bridgedapp.builders import sidecar
from bridgedapp.conditions import Check, build_status
from bridgedapp.kube import Kube

from tests.gitops_lua import HEALTH_LUA, LuaError, argocd_health
from tests.unit.bridge_cases import REPO, SAMPLES, app_object, spec_of

GITOPS = REPO / "deploy" / "gitops"
DOC = REPO / "docs" / "gitops.md"
HEALTH_KEY = f"resource.customizations.health.{GROUP}_{KIND}"
KSTATUS_TYPES = (c.READY, c.RECONCILING, c.STALLED)

# ---------------------------------------------------------------------------------------------------------
# BridgedApps with statuses from the operator's own code
# ---------------------------------------------------------------------------------------------------------

ALL_OK = [
    Check(c.STRIMZI_READY, True, "StrimziReady", "Strimzi 1.2.0 in kafka (installed by bridgedapp)."),
    Check(c.KAFKA_READY, True, "KafkaReady", "Kafka kafka/my-cluster is ready."),
    Check(c.TOPICS_READY, True, "TopicsReady", "1 topic(s) ready."),
    Check(c.USER_READY, True, "UserReady", "KafkaUser kafka/shop.orders is ready."),
    Check(
        c.SIDECAR_INJECTED,
        True,
        "Injected",
        "kafka-bridge runs as a native sidecar (init container) in orders-api.",
    ),
    Check(c.APP_AVAILABLE, True, "Available", "All 2 pods of orders-api run with the bridge."),
]
KAFKA_STARTING = [
    ALL_OK[0],
    Check(c.KAFKA_READY, False, "NotReady", "Kafka kafka/my-cluster: pods are starting."),
    *(c.waiting(t, "Kafka") for t in c.COMPONENTS[2:]),
]
KAFKA_MISSING = [
    ALL_OK[0],
    Check(
        c.KAFKA_READY,
        False,
        "KafkaNotFound",
        "Kafka kafka/my-cluster does not exist and spec.kafka.create is false: create it or set create: true.",
        stalled=True,
    ),
    *(c.waiting(t, "Kafka") for t in c.COMPONENTS[2:]),
]
STRIMZI_INSTALLING = [Check(c.STRIMZI_READY, None, "Installing", "Installing Strimzi 1.2.0 into kafka.")]


def bridged_app(status: dict[str, Any] | None, *, generation: int) -> dict[str, Any]:
    """The sample BridgedApp as the API server returns it, at `generation`, with `status` (None: none yet)."""
    obj = copy.deepcopy(yaml.safe_load((SAMPLES / "bridgedapp.yaml").read_text()))
    obj["metadata"].update(generation=generation, uid="7b0c4f7e-2b1e-4c53-9a43-0f3f4c5d6e7f")
    if status is not None:
        obj["status"] = status
    return obj


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(cond for cond in status["conditions"] if cond["type"] == type_)


def _ready() -> dict[str, Any]:
    return build_status(None, ALL_OK, generation=3, now="2026-11-25T10:00:00Z")


def _paused() -> dict[str, Any]:
    """Paused after an earlier Ready pass: the component conditions keep their older observedGeneration."""
    return build_status(_ready(), [], generation=4, paused=True, now="2026-11-25T11:00:00Z")


def operator_statuses() -> dict[str, dict[str, Any]]:
    """Every kind of status a pass can write, keyed by a name; all for generation 3 except `paused` (4)."""
    return {
        "all-ready": _ready(),
        "kafka-starting": build_status(None, KAFKA_STARTING, generation=3),
        "strimzi-installing": build_status(None, STRIMZI_INSTALLING, generation=3),
        "kafka-missing": build_status(None, KAFKA_MISSING, generation=3),
        "paused": _paused(),
    }


def health_cases() -> list[Any]:
    """(object, expected Argo CD health, expected message) for each status the operator writes."""
    s = operator_statuses()
    stale_stalled = build_status(None, KAFKA_MISSING, generation=2)
    return [
        pytest.param(bridged_app(s["all-ready"], generation=3), "Healthy",
                     condition(s["all-ready"], c.READY)["message"], id="all-ready"),
        pytest.param(bridged_app(s["kafka-starting"], generation=3), "Progressing",
                     condition(s["kafka-starting"], c.RECONCILING)["message"], id="progressing"),
        pytest.param(bridged_app(s["strimzi-installing"], generation=3), "Progressing",
                     condition(s["strimzi-installing"], c.RECONCILING)["message"], id="not-judged-yet"),
        pytest.param(bridged_app(s["kafka-missing"], generation=3), "Degraded",
                     condition(s["kafka-missing"], c.STALLED)["message"], id="stalled"),
        pytest.param(bridged_app(s["paused"], generation=4), "Suspended",
                     condition(s["paused"], c.READY)["message"], id="paused"),
        pytest.param(bridged_app(s["all-ready"], generation=4), "Progressing",
                     "Waiting for the bridgedapp operator to observe generation 4 (status is for generation 3).",
                     id="ready-but-stale"),
        pytest.param(bridged_app(stale_stalled, generation=3), "Progressing",
                     "Waiting for the bridgedapp operator to observe generation 3 (status is for generation 2).",
                     id="stalled-but-stale"),
        pytest.param(bridged_app(None, generation=1), "Progressing",
                     "Waiting for the bridgedapp operator to report a status.", id="no-status-yet"),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# (a) the Argo CD health check, executed
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("obj", "health", "message"), health_cases())
def test_argocd_health_check_reads_the_operators_status(
    obj: dict[str, Any], health: str, message: str
) -> None:
    assert argocd_health(obj) == (health, message)


def test_health_messages_come_from_the_conditions() -> None:
    """A Degraded app says what to do; a Progressing one says what it waits for (the components' words)."""
    status = operator_statuses()
    _, stalled = argocd_health(bridged_app(status["kafka-missing"], generation=3))
    assert stalled.startswith("KafkaReady: ") and "create it or set create: true" in stalled
    _, progressing = argocd_health(bridged_app(status["kafka-starting"], generation=3))
    assert progressing == "KafkaReady: Kafka kafka/my-cluster: pods are starting."


def test_the_lua_sandbox_withholds_what_argo_cd_withholds() -> None:
    """The harness is as strict as Argo CD: no string library, no string methods (gopher-lua without OpenString)."""
    obj = bridged_app(None, generation=1)
    with pytest.raises(LuaError):
        argocd_health(obj, script='return {status = string.upper("healthy")}')
    with pytest.raises(LuaError):
        argocd_health(obj, script='local s = "healthy"; return {status = s:upper()}')
    assert argocd_health(obj, script='return {status = "Fine"}') == (
        "Unknown",
        "Lua returned an invalid health status",
    )


def test_argocd_cm_carries_the_health_check_verbatim() -> None:
    cm = yaml.safe_load((GITOPS / "argocd" / "argocd-cm.yaml").read_text())
    assert cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"] == {HEALTH_KEY: HEALTH_LUA.read_text()}


# ---------------------------------------------------------------------------------------------------------
# Flux: the operator's conditions follow kstatus
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["all-ready", "kafka-starting", "strimzi-installing", "kafka-missing"])
def test_each_pass_sets_exactly_one_of_ready_reconciling_stalled(name: str) -> None:
    """What docs/gitops.md promises Flux's kstatus: one of the three is True, every condition is current."""
    status = operator_statuses()[name]
    true = [t for t in KSTATUS_TYPES if condition(status, t)["status"] == "True"]
    assert len(true) == 1, true
    assert {cond["observedGeneration"] for cond in status["conditions"]} == {status["observedGeneration"]}


def test_paused_sets_none_of_them_and_says_why() -> None:
    """kstatus alone reads Ready=False as in progress: why the Flux example treats phase Paused as current."""
    status = operator_statuses()["paused"]
    assert status["phase"] == "Paused"
    assert {condition(status, t)["status"] for t in KSTATUS_TYPES} == {"False"}
    assert {condition(status, t)["reason"] for t in KSTATUS_TYPES} == {"Paused"}


# ---------------------------------------------------------------------------------------------------------
# (b) the fields the operator owns: the doc, the Argo CD entry, and the operator's apply-patch agree
# ---------------------------------------------------------------------------------------------------------


def owned_paths(patch: dict[str, Any]) -> set[str]:
    """The paths a server-side apply of `patch` sets, written as docs/gitops.md writes them: list-map items
    (containers, volumes) by name, annotations by key, anything else down to its leaf."""
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(patch["metadata"]) == {"name", "namespace", "annotations"}, (
        "the patch may only identify the Deployment and record its bridge owner"
    )
    paths: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict) and path.endswith(".annotations"):
            paths.update(f"{path}[{key}]" for key in node)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list) and all(isinstance(item, dict) and "name" in item for item in node):
            paths.update(f"{path}[name={item['name']}]" for item in node)
        else:
            paths.add(path)

    walk(patch["spec"], "spec")
    walk(patch["metadata"]["annotations"], "metadata.annotations")
    return paths


def documented_paths() -> set[str]:
    """The first column of the table under "## What the operator owns on a Deployment"."""
    section = DOC.read_text().split("## What the operator owns on a Deployment", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `((?:spec|metadata)\.[^`]+)` \|", section, flags=re.MULTILINE))


def sample_patch(*, native: bool) -> dict[str, Any]:
    deployment = yaml.safe_load((SAMPLES / "deployment.yaml").read_text())
    raw_app = yaml.safe_load((SAMPLES / "bridgedapp.yaml").read_text())
    return sidecar.build_deployment_patch(
        deployment, app_object(raw_app["spec"]), spec_of(raw_app["spec"]), native=native, config_hash="3f2a9c"
    )


def test_the_documented_fields_are_exactly_what_the_operator_applies() -> None:
    native, regular = owned_paths(sample_patch(native=True)), owned_paths(sample_patch(native=False))
    assert native == {
        "metadata.annotations[bridgedapp.io/bridged-by]",
        "spec.template.metadata.annotations[bridgedapp.io/config-hash]",
        "spec.template.spec.initContainers[name=kafka-bridge]",
        "spec.template.spec.volumes[name=kafka-bridge-config]",
        "spec.template.spec.volumes[name=kafka-bridge-tls]",
        "spec.template.spec.volumes[name=kafka-bridge-tmp]",
    }
    assert regular == native - {"spec.template.spec.initContainers[name=kafka-bridge]"} | {
        "spec.template.spec.containers[name=kafka-bridge]"
    }
    assert documented_paths() == native | regular


def test_argocd_ignores_differences_by_the_operators_field_manager() -> None:
    app = yaml.safe_load((GITOPS / "argocd" / "application.yaml").read_text())
    assert app["spec"]["ignoreDifferences"] == [
        {"group": "apps", "kind": "Deployment", "managedFieldsManagers": [FIELD_MANAGER]}
    ]
    options = app["spec"]["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in options
    assert not any(option.startswith("Replace=") for option in options)
    # ... and that manager is the one every write of the operator uses.
    assert inspect.signature(Kube.apply).parameters["field_manager"].default == FIELD_MANAGER


# ---------------------------------------------------------------------------------------------------------
# (c) the example files parse, have the right kinds, and agree with the doc
# ---------------------------------------------------------------------------------------------------------

KINDS = {
    "argocd/application.yaml": [("argoproj.io/v1alpha1", "Application")],
    "argocd/argocd-cm.yaml": [("v1", "ConfigMap")],
    "flux/gitrepository.yaml": [("source.toolkit.fluxcd.io/v1", "GitRepository")],
    "flux/shop-kustomization.yaml": [("kustomize.toolkit.fluxcd.io/v1", "Kustomization")],
}


def load(relative: str) -> dict[str, Any]:
    return yaml.safe_load((GITOPS / relative).read_text())


def test_every_gitops_file_parses_with_the_expected_kinds() -> None:
    found = {p.relative_to(GITOPS).as_posix() for p in GITOPS.rglob("*") if p.suffix in (".yaml", ".yml")}
    assert found == set(KINDS), "a new file under deploy/gitops needs an entry here"
    for relative, kinds in KINDS.items():
        docs = [d for d in yaml.safe_load_all((GITOPS / relative).read_text()) if d]
        assert [(d["apiVersion"], d["kind"]) for d in docs] == kinds, relative
        assert all(d["metadata"].get("name") for d in docs), relative


def test_flux_kustomization_health_checks_the_sample_and_sets_nothing_that_strips_the_sidecar() -> None:
    ks, source = load("flux/shop-kustomization.yaml"), load("flux/gitrepository.yaml")
    sample = yaml.safe_load((SAMPLES / "bridgedapp.yaml").read_text())
    spec = ks["spec"]
    assert spec["sourceRef"] == {"kind": source["kind"], "name": source["metadata"]["name"]}
    assert spec["force"] is False
    assert "ignore" not in spec and not (ks["metadata"].get("annotations") or {})
    assert {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": sample["metadata"]["name"],
        "namespace": sample["metadata"]["namespace"],
    } in spec["healthChecks"]
    [exprs] = [
        e for e in spec["healthCheckExprs"] if (e["apiVersion"], e["kind"]) == (f"{GROUP}/{VERSION}", KIND)
    ]
    assert set(exprs) == {"apiVersion", "kind", "inProgress", "failed", "current"}
    assert "'Reconciling'" in exprs["inProgress"] and "'Stalled'" in exprs["failed"]
    assert "'Ready'" in exprs["current"] and "'Paused'" in exprs["current"]


def test_argocd_application_targets_the_samples_namespace() -> None:
    app = load("argocd/application.yaml")
    sample = yaml.safe_load((SAMPLES / "bridgedapp.yaml").read_text())
    assert app["spec"]["destination"]["namespace"] == sample["metadata"]["namespace"]


def doc_yaml_blocks() -> list[Any]:
    return [
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    ]


def test_the_docs_snippets_are_the_files_settings() -> None:
    """The YAML shown in docs/gitops.md parses and says what the shipped files say."""
    blocks = doc_yaml_blocks()
    app, ks = load("argocd/application.yaml"), load("flux/shop-kustomization.yaml")
    argo = next(b for b in blocks if "ignoreDifferences" in (b.get("spec") or {}))
    assert argo["spec"]["ignoreDifferences"] == app["spec"]["ignoreDifferences"]
    assert argo["spec"]["syncPolicy"]["syncOptions"] == app["spec"]["syncPolicy"]["syncOptions"]
    flux = next(b for b in blocks if "healthCheckExprs" in b)
    assert flux["healthCheckExprs"] == ks["spec"]["healthCheckExprs"]
    system = next(b for b in blocks if "data" in b)
    assert yaml.safe_load(system["data"]["resource.customizations.ignoreDifferences.apps_Deployment"]) == {
        "managedFieldsManagers": [FIELD_MANAGER]
    }


def test_the_docs_name_the_files_that_exist() -> None:
    for path in re.findall(r"`(deploy/gitops/[^`]+)`", DOC.read_text()):
        assert (REPO / path).is_file(), path
