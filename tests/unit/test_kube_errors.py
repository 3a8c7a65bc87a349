"""How the operator's client layer names the API server's refusals (from the Status body it sends)."""

from __future__ import annotations

import json

from bridgedapp.kube import NAMESPACE_TERMINATING, ApplyConflict, _translate
from kubernetes.client.exceptions import ApiException


def refusal(status: int, reason: str, message: str, causes: list[dict] | None = None) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "reason": reason,
            "message": message,
            "code": status,
            "details": {"causes": causes or []},
        }
    )
    return exc


def test_a_namespace_being_deleted_has_its_own_reason() -> None:
    message = 'deployments.apps "web" is forbidden: unable to create new content in namespace shop because it is being terminated'
    exc = refusal(
        403, "Forbidden", message, [{"reason": "NamespaceTerminating", "field": "metadata.namespace"}]
    )
    err = _translate(exc, "Deployment shop/web", apply=True)
    assert err.reason == NAMESPACE_TERMINATING and err.status_code == 403
    assert str(err) == f"Deployment shop/web: {message}"


def test_other_forbidden_stays_forbidden() -> None:
    err = _translate(refusal(403, "Forbidden", "cannot patch deployments"), "Deployment shop/web")
    assert err.reason == "Forbidden"


def test_a_field_manager_conflict_names_the_manager() -> None:
    cause = {
        "reason": "FieldManagerConflict",
        "field": ".spec.replicas",
        "message": 'conflict with "argocd-controller"',
    }
    err = _translate(
        refusal(409, "Conflict", "Apply failed with 1 conflict", [cause]), "Deployment shop/web", apply=True
    )
    assert isinstance(err, ApplyConflict)
    assert [(c.field, c.manager) for c in err.conflicts] == [(".spec.replicas", "argocd-controller")]
