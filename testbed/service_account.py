"""Run as the operator's ServiceAccount: a token from the API server (`kubectl create token`) in a kubeconfig of
its own, and the roles of one profile from deploy/ applied exactly as shipped.

Tests that run the operator use this, so what they prove holds under the RBAC an admin installs, not under
the admin certificate the test bed starts with. The token is written only into the kubeconfig file (mode
0600) and never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from testbed.cluster import LocalCluster

REPO = Path(__file__).resolve().parent.parent
PROFILES = {  # profile -> its kustomization in deploy/
    "install": REPO / "deploy" / "operator",
    "adopt": REPO / "deploy" / "operator" / "profiles" / "adopt",
    "namespaced": REPO / "deploy" / "operator" / "profiles" / "namespaced",
}
OPERATOR_NAMESPACE = "bridgedapp-system"
OPERATOR_SA = "bridgedapp-operator"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
TOKEN_DURATION = "48h"  # outlives any session; the cluster (and its signing key) is deleted after


def rendered_profile(cluster: LocalCluster, profile: str) -> list[dict[str, Any]]:
    """Every object of a profile as kustomize renders it (the cluster's own kubectl)."""
    out = cluster.kubectl("kustomize", str(PROFILES[profile])).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def apply_profile(cluster: LocalCluster, profile: str, *, kinds: tuple[str, ...] | None = None) -> None:
    """Apply a profile's objects (only `kinds` when given; namespaces its RoleBindings need are created)."""
    objects = [o for o in rendered_profile(cluster, profile) if kinds is None or o["kind"] in kinds]
    for ns in sorted({o["metadata"].get("namespace") for o in objects} - {None}):
        cluster.kubectl("create", "namespace", ns, check=False)  # exists already: fine
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(objects))


def service_account_kubeconfig(
    cluster: LocalCluster,
    dest: Path,
    *,
    namespace: str = OPERATOR_NAMESPACE,
    name: str = OPERATOR_SA,
) -> Path:
    """A kubeconfig for the ServiceAccount (created if missing), with a fresh bound token."""
    cluster.kubectl("create", "namespace", namespace, check=False)
    cluster.kubectl("create", "serviceaccount", name, "-n", namespace, check=False)
    token = cluster.kubectl("create", "token", name, "-n", namespace, f"--duration={TOKEN_DURATION}").stdout
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    server = next(c for c in admin["clusters"] if c["name"] == context["cluster"])["cluster"]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": server}],
        "users": [{"name": name, "user": {"token": token.strip()}}],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name}}],
        "current-context": name,
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.chmod(0o600)
    os.replace(tmp, dest)
    return dest


def granted_rights(objects: list[dict[str, Any]], username: str = OPERATOR_USER) -> set[tuple[str, str]]:
    """(verb, group/resource) pairs the profile's bindings give `username`, wherever and to whichever names:
    what the audit log's used rights are compared against."""
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}
    granted: set[tuple[str, str]] = set()
    for binding in objects:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        subjects = binding.get("subjects") or []
        if not any(
            f"system:serviceaccount:{s.get('namespace')}:{s.get('name')}" == username
            for s in subjects
            if s.get("kind") == "ServiceAccount"
        ):
            continue
        ref = binding["roleRef"]
        namespace = None if ref["kind"] == "ClusterRole" else binding["metadata"].get("namespace")
        role = roles[(ref["kind"], namespace, ref["name"])]
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    granted.update((verb, f"{group}/{resource}") for verb in rule["verbs"])
    return granted
