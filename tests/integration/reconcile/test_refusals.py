"""When the API server says no, and when someone else edits what the operator owns, on the local control
plane: refused writes become conditions, failed passes retry by themselves, a failing cleanup lets go, the
operator takes back its own objects, never injects into what it installed, and says when a Kafka it used was
recreated. Refusals come from the real API server: ValidatingAdmissionPolicies (CEL) the tests install.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pykube

from tests.operator_fixtures import (
    STRIMZI_NS,
    condition_is,
    conditions,
    event_posted,
    get_bridgedapp,
    make_bridgedapp,
    make_deployment,
    strimzi_kind,
    unique,
)

READY_TIMEOUT = 240


def spec_on(cluster: str, deployment: str, **bridge: Any) -> dict[str, Any]:
    return {
        "deploymentName": deployment,
        "kafka": {"clusterName": cluster, "replicas": 1, "storage": {"size": "1Gi"}},
        "topics": [{"name": f"t-{cluster}", "replicas": 1}],
        "bridge": bridge,
    }


def dry_run_refused(api: pykube.HTTPClient, method: str, namespace: str, url: str, body: Any = None) -> bool:
    """Would the API server refuse this request now? (server-side dry run: nothing is written)"""
    kwargs = {"data": json.dumps(body)} if body is not None else {}
    response = api.request(method, url=f"{url}?dryRun=All", namespace=namespace, **kwargs)
    return response.status_code == 403


@contextlib.contextmanager
def refusing(
    api: pykube.HTTPClient,
    name: str,
    policy_spec: dict[str, Any],
    namespace: str,
    *,
    effective: Callable[[], bool],
    wait_until: Any,
) -> Iterator[None]:
    """A ValidatingAdmissionPolicy (and its binding, for one namespace) while the block runs; the block starts
    once `effective()` says the API server applies it (policies reach its admission chain asynchronously)."""
    api_version = "admissionregistration.k8s.io/v1"
    policy = pykube.object_factory(api, api_version, "ValidatingAdmissionPolicy")(
        api,
        {
            "apiVersion": api_version,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": policy_spec,
        },
    )
    binding = pykube.object_factory(api, api_version, "ValidatingAdmissionPolicyBinding")(
        api,
        {
            "apiVersion": api_version,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        },
    )
    policy.create()
    binding.create()
    try:
        wait_until(effective, timeout=30, what=f"policy {name} in force")
        yield
    finally:
        binding.delete()
        policy.delete()


def deny(resource: str, operations: list[str], expression: str, reason: str = "Forbidden") -> dict[str, Any]:
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {"apiGroups": ["*"], "apiVersions": ["*"], "operations": operations, "resources": [resource]}
            ]
        },
        "validations": [{"expression": expression, "message": "refused by the test", "reason": reason}],
    }


def test_a_write_the_api_server_refuses_as_invalid_is_a_condition(
    api, namespace, operator, wait_until
) -> None:
    make_deployment(api, namespace, "greedy-api")
    # requests above limits: a valid spec for the BridgedApp, refused by the API server for the Deployment
    make_bridgedapp(
        api,
        namespace,
        "greedy",
        spec_on(unique("kc"), "greedy-api", resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
    )
    refused = wait_until(
        condition_is(api, namespace, "greedy", "SidecarInjected", "False"),
        timeout=READY_TIMEOUT,
        what="Refused",
    )
    assert refused["reason"] == "Refused" and "cpu" in refused["message"]
    assert conditions(api, namespace, "greedy")["Stalled"]["status"] == "True"


def test_a_failed_pass_after_a_related_change_retries_by_itself(api, namespace, operator, wait_until) -> None:
    make_bridgedapp(api, namespace, "patient", spec_on(unique("kc"), "patient-api"))
    wait_until(condition_is(api, namespace, "patient", "UserReady"), timeout=READY_TIMEOUT, what="UserReady")
    wait_until(
        condition_is(api, namespace, "patient", "SidecarInjected", "False"),
        timeout=60,
        what="no Deployment yet",
    )
    # the Deployment appears (a related change) while the API server refuses the operator's ConfigMap writes
    expression = "!(object.metadata.name == 'patient-bridge-config')"
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "patient-bridge-config"}}
    with refusing(
        api,
        unique("deny-cm"),
        deny("configmaps", ["CREATE", "UPDATE"], expression),
        namespace,
        effective=lambda: dry_run_refused(api, "PUT", namespace, "configmaps/patient-bridge-config", probe),
        wait_until=wait_until,
    ):
        pykube.ConfigMap.objects(api, namespace=namespace).get(name="patient-bridge-config").delete()
        make_deployment(api, namespace, "patient-api")
        wait_until(
            event_posted(api, namespace, "patient", "Warning", "ReconcileFailed"), timeout=60, what="Warning"
        )
    # no further event comes to trigger a pass: the retry alone gets it injected
    wait_until(
        condition_is(api, namespace, "patient", "Ready"), timeout=READY_TIMEOUT, what="Ready after retry"
    )


def test_a_cleanup_that_keeps_failing_lets_go_with_a_warning(api, namespace, operator, wait_until) -> None:
    make_bridgedapp(api, namespace, "stuck", spec_on(unique("kc"), "stuck-api"))
    wait_until(condition_is(api, namespace, "stuck", "UserReady"), timeout=READY_TIMEOUT, what="UserReady")
    app = pykube.object_factory(api, "bridgedapp.io/v1alpha1", "BridgedApp").objects(api, namespace=namespace)
    policy = deny("configmaps", ["DELETE"], "!(oldObject.metadata.name == 'stuck-bridge-config')")
    with refusing(
        api,
        unique("deny-del"),
        policy,
        namespace,
        effective=lambda: dry_run_refused(api, "DELETE", namespace, "configmaps/stuck-bridge-config"),
        wait_until=wait_until,
    ):
        app.get(name="stuck").delete()
        wait_until(
            lambda: get_bridgedapp(api, namespace, "stuck") is None, timeout=180, what="finalizer released"
        )
        wait_until(
            event_posted(api, namespace, "stuck", "Warning", "CleanupIncomplete"), timeout=60, what="Warning"
        )


def test_hand_edits_of_the_operators_own_objects_are_reverted(api, namespace, operator, wait_until) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "owned", spec_on(kc, "owned-api"))
    wait_until(condition_is(api, namespace, "owned", "UserReady"), timeout=READY_TIMEOUT, what="UserReady")
    user = strimzi_kind(api, "KafkaUser").objects(api, namespace=STRIMZI_NS).get(name=f"{namespace}.owned")
    wanted = user.obj["spec"]["authorization"]["acls"]
    widened = [
        *wanted,
        {
            "type": "allow",
            "resource": {"type": "topic", "name": "*", "patternType": "literal"},
            "operations": ["All"],
        },
    ]
    user.patch({"spec": {"authorization": {"type": "simple", "acls": widened}}})
    wait_until(event_posted(api, namespace, "owned", "Warning", "Reverted"), timeout=60, what="Reverted")
    wait_until(
        lambda: (user.reload() or True) and user.obj["spec"]["authorization"]["acls"] == wanted,
        timeout=60,
        what="ACLs restored",
    )


def test_the_strimzi_operator_it_installed_never_gets_a_bridge(api, operator, wait_until) -> None:
    strimzi = pykube.Deployment.objects(api, namespace=STRIMZI_NS).get(name="strimzi-cluster-operator")
    before = strimzi.obj["metadata"]["generation"]
    name = unique("sneaky")
    make_bridgedapp(api, STRIMZI_NS, name, spec_on(unique("kc"), "strimzi-cluster-operator"))
    try:
        refused = wait_until(
            condition_is(api, STRIMZI_NS, name, "SidecarInjected", "False"),
            timeout=READY_TIMEOUT,
            what="refusal",
        )
        assert refused["reason"] == "OperatorOwnedDeployment"
        strimzi.reload()
        assert strimzi.obj["metadata"]["generation"] == before
        assert not any(
            m["manager"] == "bridgedapp-operator" for m in strimzi.obj["metadata"]["managedFields"]
        ), "the install has a field manager of its own"
    finally:
        pykube.object_factory(api, "bridgedapp.io/v1alpha1", "BridgedApp").objects(
            api, namespace=STRIMZI_NS
        ).get(name=name).delete()


def test_a_deleted_kafka_is_recreated_with_a_warning_naming_its_apps(
    api, namespace, operator, wait_until
) -> None:
    kc = unique("kc")
    make_bridgedapp(api, namespace, "phoenix", spec_on(kc, "phoenix-api"))
    wait_until(
        condition_is(api, namespace, "phoenix", "KafkaReady"), timeout=READY_TIMEOUT, what="KafkaReady"
    )
    wait_until(
        lambda: (get_bridgedapp(api, namespace, "phoenix")["status"].get("kafka") or {}).get(
            "bootstrapServers"
        ),
        what="bootstrap recorded",
    )
    strimzi_kind(api, "Kafka").objects(api, namespace=STRIMZI_NS).get(name=kc).delete()
    wait_until(
        event_posted(api, namespace, "phoenix", "Warning", "KafkaRecreated"), timeout=90, what="Warning"
    )
    events = pykube.Event.objects(api, namespace=namespace).filter(
        field_selector={"involvedObject.name": "phoenix"}
    )
    (warning,) = [e.obj for e in events if e.obj.get("reason") == "KafkaRecreated"]
    assert f"{namespace}/phoenix" in warning["message"]
    wait_until(
        condition_is(api, namespace, "phoenix", "KafkaReady"), timeout=READY_TIMEOUT, what="Kafka back"
    )


def test_a_spec_larger_than_an_annotation_reconciles_and_deletes(
    api, namespace, operator, wait_until
) -> None:
    """64 producer options of 4,000 characters (about 260 kB, within the schema's bounds): a copy in Kopf's
    diff-base annotation would exceed the API server's 256 KiB for annotations and wedge the object. Kopf
    writes no annotation at all (diffbase.py), so none can."""
    big = {f"custom.option.{i}": "v" * 4000 for i in range(64)}
    make_bridgedapp(
        api, namespace, "big", {**spec_on(unique("kc"), "big-api"), "bridge": {"producer": {"config": big}}}
    )
    wait_until(condition_is(api, namespace, "big", "UserReady"), timeout=READY_TIMEOUT, what="UserReady")
    app = get_bridgedapp(api, namespace, "big")
    assert not [k for k in app["metadata"].get("annotations") or {} if k.startswith("bridgedapp.io/")]
    pykube.object_factory(api, "bridgedapp.io/v1alpha1", "BridgedApp").objects(api, namespace=namespace).get(
        name="big"
    ).delete()
    wait_until(lambda: get_bridgedapp(api, namespace, "big") is None, timeout=90, what="deleted")
