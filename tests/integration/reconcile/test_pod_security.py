"""Pod Security "restricted": an app that itself complies keeps complying once the operator injects its
sidecar. Admission is the API server's own (PodSecurity plugin) in a namespace that enforces the level; the
operator's own Deployment is admitted the same way in tests/integration/test_helm.py."""

from __future__ import annotations

from typing import Any

import pykube

from tests.operator_fixtures import condition_is, make_bridgedapp, unique

RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_injected_pods_are_admitted_under_restricted(api, namespace, operator, wait_until: Any) -> None:
    ns = pykube.Namespace.objects(api).get(name=namespace)
    ns.obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    ns.update()
    labels = {"app": "secure-api"}
    pykube.Deployment(
        api,
        {
            "metadata": {"name": "secure-api", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": RESTRICTED,
                        "containers": [
                            {
                                "name": "app",
                                "image": "registry.example/app:1",
                                "securityContext": CONTAINER_RESTRICTED,
                            }
                        ],
                    },
                },
            },
        },
    ).create()
    cluster_name = unique("kc")
    make_bridgedapp(
        api,
        namespace,
        "secure",
        {
            "deploymentName": "secure-api",
            "kafka": {"clusterName": cluster_name, "replicas": 1, "storage": {"size": "1Gi"}},
            "topics": [{"name": f"t-{cluster_name}", "replicas": 1}],
        },
    )
    wait_until(condition_is(api, namespace, "secure", "Ready"), timeout=240, what="secure Ready")

    def injected_pods() -> list[pykube.Pod]:
        pods = pykube.Pod.objects(api, namespace=namespace).filter(selector=labels)
        return [
            p
            for p in pods
            if any(c["name"] == "kafka-bridge" for c in p.obj["spec"].get("initContainers") or []) and p.ready
        ]

    assert len(wait_until(lambda: len(injected_pods()) == 2 and injected_pods(), what="2 injected pods")) == 2
    # The control: under restricted, a pod that does not comply is refused by the same admission.
    refused = api.post(
        url="pods",
        namespace=namespace,
        data='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"lax"},'
        '"spec":{"containers":[{"name":"c","image":"registry.example/app:1"}]}}',
    )
    assert refused.status_code == 403 and "restricted" in refused.text
