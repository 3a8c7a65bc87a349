"""The metrics' own logic, without a server: how a pass is labelled, and the gauges computed at scrape time."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from bridgedapp import metrics
from prometheus_client import REGISTRY


def passes(trigger: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("bridgedapp_passes_total", {"trigger": trigger, "outcome": outcome}) or 0.0
    )


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (None, "ok"),
        (kopf.TemporaryError("later", delay=5), "retry"),
        (RuntimeError("bug"), "error"),
    ],
)
def test_a_pass_is_counted_once_with_its_outcome_and_timed(raised: Exception | None, outcome: str) -> None:
    @metrics.observed()
    def handler(**_: Any) -> str:
        if raised is not None:
            raise raised
        return "done"

    before = passes("create", outcome)
    timed = REGISTRY.get_sample_value("bridgedapp_pass_duration_seconds_count", {"trigger": "create"}) or 0.0
    if raised is None:
        assert handler(reason="create") == "done"
    else:
        with pytest.raises(type(raised)):
            handler(reason="create")
    assert passes("create", outcome) == before + 1
    assert (
        REGISTRY.get_sample_value("bridgedapp_pass_duration_seconds_count", {"trigger": "create"})
        == timed + 1
    )


def test_a_pass_that_catches_its_own_error_marks_it() -> None:
    @metrics.observed("related")
    def related() -> None:
        metrics.mark("error")  # as handlers._run_claimed does when a KubeError is only logged

    before = passes("related", "error")
    related()
    assert passes("related", "error") == before + 1


def test_gauges_count_apps_by_phase_and_ready_and_the_strimzi_state() -> None:
    saved_apps, saved_memo = dict(metrics.STATE.apps), metrics.STATE.memo
    try:
        metrics.STATE.apps = {("a", "x"): ("Ready", "True"), ("a", "y"): ("Provisioning", "False")}
        metrics.STATE.memo = SimpleNamespace(
            reconciler=SimpleNamespace(ensurer=SimpleNamespace(state=lambda: "adopted"))
        )
        sample = REGISTRY.get_sample_value
        assert sample("bridgedapp_apps", {"phase": "Ready"}) == 1
        assert sample("bridgedapp_apps", {"phase": "Failed"}) == 0
        assert sample("bridgedapp_apps_ready", {"ready": "False"}) == 1
        assert sample("bridgedapp_apps_ready", {"ready": "Unknown"}) == 0
        assert sample("bridgedapp_strimzi_install", {"state": "adopted"}) == 1
        assert sample("bridgedapp_strimzi_install", {"state": "installing"}) == 0
    finally:
        metrics.STATE.apps, metrics.STATE.memo = saved_apps, saved_memo


def test_api_errors_are_counted_by_code() -> None:
    before = REGISTRY.get_sample_value("bridgedapp_api_errors_total", {"code": "409"}) or 0.0
    metrics.api_error(409)
    assert REGISTRY.get_sample_value("bridgedapp_api_errors_total", {"code": "409"}) == before + 1
