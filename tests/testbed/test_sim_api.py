"""The Strimzi simulator's API layer: how refusals are told apart (no cluster needed to build a response)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from testbed.strimzi_sim.common import Api, ApiError, Conflict, NamespaceTerminating, skipped_if_terminating


def responding(status: int, message: str) -> Api:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"kind": "Status", "message": message}).encode()
    session = SimpleNamespace(request=lambda *_a, **_k: response)
    return Api(SimpleNamespace(session=session, url="https://127.0.0.1:1"))  # type: ignore[arg-type]


def post(api: Api) -> Any:
    return api.call("POST", "/api/v1/namespaces/gone/secrets", body={})


def test_a_namespace_being_deleted_is_its_own_refusal() -> None:
    api = responding(
        403,
        'secrets "x" is forbidden: unable to create new content in namespace gone because it is being terminated',
    )
    with pytest.raises(NamespaceTerminating, match="being terminated"):
        post(api)
    with skipped_if_terminating():  # one resource fails alone; the pass goes on
        post(api)


@pytest.mark.parametrize(("status", "error"), [(403, ApiError), (409, Conflict), (500, ApiError)])
def test_other_refusals_still_stop_the_pass(status: int, error: type[Exception]) -> None:
    api = responding(status, "forbidden: User cannot create secrets")
    with pytest.raises(error) as caught, skipped_if_terminating():
        post(api)
    assert not isinstance(caught.value, NamespaceTerminating)
