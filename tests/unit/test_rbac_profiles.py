"""The shipped roles, read offline: the installer may write only what the pinned Strimzi bundle holds, and no
profile grants a wildcard, `update`, or an unnamed `bind`/`escalate` (the path to cluster-admin)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.strimzi_bundle import bundle_path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "operator" / "rbac"
ROLE_FILES = sorted(DEPLOY.glob("*/rbac.yaml"))
# The installer's named writes, by resource, and the bundle kinds they must match.
NAMED = {
    "customresourcedefinitions": "CustomResourceDefinition",
    "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
    "rolebindings": "RoleBinding",
    "serviceaccounts": "ServiceAccount",
    "deployments": "Deployment",
}


def rules(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return [rule for d in docs if d["kind"] in ("ClusterRole", "Role") for rule in d.get("rules") or []]


def test_there_are_three_profiles() -> None:
    assert [p.parent.name for p in ROLE_FILES] == ["adopt", "install", "namespaced"]


@pytest.mark.parametrize("path", ROLE_FILES, ids=[p.parent.name for p in ROLE_FILES])
def test_no_wildcard_no_update_no_unnamed_bind_or_escalate(path: Path) -> None:
    for rule in rules(path):
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "update" not in rule["verbs"], f"server-side apply never needs update: {rule}"
        if {"bind", "escalate", "impersonate"} & set(rule["verbs"]):
            assert rule.get("resourceNames"), f"bind/escalate without resourceNames: {rule}"
            assert "impersonate" not in rule["verbs"], rule


def test_installer_writes_exactly_the_bundles_objects() -> None:
    bundle = bundle_path("1.2.0", download=False)
    if bundle is None:
        pytest.skip("the Strimzi 1.2.0 bundle is not in BRIDGEDAPP_STRIMZI_BUNDLE_DIR")
    in_bundle: dict[str, set[str]] = defaultdict(set)
    for doc in yaml.safe_load_all(bundle.read_text()):
        if doc:
            in_bundle[doc["kind"]].add(doc["metadata"]["name"])
    named: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in rules(DEPLOY / "install" / "rbac.yaml"):
        if rule.get("resourceNames"):
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    named[(resource, verb)].update(rule["resourceNames"])
        else:
            assert rule["resources"] == ["namespaces"] and rule["verbs"] == ["create"], (
                f"only the Namespace create may be unnamed (a POST carries no name): {rule}"
            )
    for (resource, verb), names in named.items():
        assert names == in_bundle[NAMED[resource]], f"{verb} {resource}: {sorted(names)}"
    for verb in ("bind", "escalate"):
        assert named[("clusterroles", verb)] == in_bundle["ClusterRole"]
