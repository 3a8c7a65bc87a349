"""What the API server admits is what the models accept: the CRD's schema and CEL rules on the real API
server, checked with server-side dry runs (nothing is stored) and strict field validation (as kubectl does).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pykube
import pytest
from bridgedapp.models import parse_spec
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from tests import hostile_specs


def admitted(api: pykube.HTTPClient, namespace: str, spec: dict[str, Any]) -> tuple[bool, str]:
    """The API server's verdict on a BridgedApp with this spec: (admitted, its message when refused)."""
    body = {
        "apiVersion": "bridgedapp.io/v1alpha1",
        "kind": "BridgedApp",
        "metadata": {"generateName": "probe-", "namespace": namespace},
        "spec": spec,
    }
    response = api.request(
        "POST",
        url="bridgedapps?dryRun=All&fieldValidation=Strict",
        version="bridgedapp.io/v1alpha1",
        namespace=namespace,
        data=json.dumps(body),
    )
    if response.status_code in (200, 201):
        return True, ""
    assert response.status_code in (400, 422), response.text  # a refusal, not a server fault
    return False, response.json().get("message", "")


def models_accept(spec: dict[str, Any]) -> bool:
    try:
        parse_spec(spec)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "config, ok",
    [
        ({"min.cleanable.dirty.ratio": "0.5", "retention.ms": 3600000, "cleanup.policy": "compact"}, True),
        ({"unclean.leader.election.enable": "true", "segment.bytes": "1073741824"}, True),
        ({"min.cleanable.dirty.ratio": 0.5}, False),  # a fraction is written as a string
        ({"unclean.leader.election.enable": True}, False),
        ({"retention.ms": [1, 2]}, False),
        ({"retention.ms": {"nested": 1}}, False),
        ({"k" * 256: "v"}, False),
        ({"retention.ms": "x" * 1025}, False),
    ],
)
def test_topic_config_is_judged_alike_by_the_api_server_and_the_models(
    api, namespace, bridgedapp_crd, config: dict[str, Any], ok: bool
) -> None:
    spec = {"deploymentName": "d", "topics": [{"name": "t", "config": config}]}
    verdict, message = admitted(api, namespace, spec)
    assert verdict == models_accept(spec) == ok, message
    if not ok:
        assert "spec.topics[0].config" in message


# ---- generated: the API server and the models agree on every spec ----------------------------------------

AGREEMENT_EXAMPLES = int(os.environ.get("BRIDGEDAPP_HOSTILE_EXAMPLES", "1000"))


def test_the_api_server_and_the_models_agree_on_generated_specs(api, namespace, bridgedapp_crd) -> None:
    """At least 1,000 specs from the CRD's own schema, valid, odd and invalid: each admitted exactly when the
    models accept it, and each refusal's message names a field under spec."""
    seen = {"admitted": 0, "refused": 0}

    @settings(
        max_examples=AGREEMENT_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(hostile_specs.specs())
    def agree(spec: Any) -> None:
        verdict, message = admitted(api, namespace, spec)
        assert verdict == models_accept(spec), f"API server {'admits' if verdict else 'refuses'}: {message}"
        seen["admitted" if verdict else "refused"] += 1
        if not verdict and isinstance(spec, dict):
            assert "spec" in message, message

    agree()
    print(f"generated specs: {seen['admitted']} admitted, {seen['refused']} refused, all judged alike")
    assert seen["admitted"] >= AGREEMENT_EXAMPLES // 10 and seen["refused"] >= AGREEMENT_EXAMPLES // 10
