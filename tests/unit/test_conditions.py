"""Conditions follow kstatus and Kubernetes conventions; an unchanged pass yields an equal status."""

from __future__ import annotations

import pytest
from bridgedapp.builders.strimzi_readiness import WAITING
from bridgedapp.conditions import (
    COMPONENTS,
    Check,
    build_status,
    event_type,
    merge_conditions,
    summarize,
    transitions,
)

ALL_OK = [Check(t, True, "Ready", "ok") for t in COMPONENTS]


def by_type(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_all_ready_makes_ready_true() -> None:
    status = build_status(None, ALL_OK, generation=3, now="t0")
    conds = by_type(status)
    assert conds["Ready"]["status"] == "True" and status["phase"] == "Ready"
    assert conds["Reconciling"]["status"] == "False" and conds["Stalled"]["status"] == "False"
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])
    assert status["observedGeneration"] == 3


def test_same_checks_give_an_equal_status() -> None:
    first = build_status(None, ALL_OK, generation=1, now="t0")
    second = build_status(first, ALL_OK, generation=1, now="t1")
    assert first == second


def test_transition_time_moves_only_on_status_flip() -> None:
    old = merge_conditions([], [Check("KafkaReady", False, "NotReady", "a")], generation=1, now="t0")
    same = merge_conditions(old, [Check("KafkaReady", False, "Other", "b")], generation=1, now="t1")
    assert same[0]["lastTransitionTime"] == "t0" and same[0]["message"] == "b"
    flipped = merge_conditions(same, [Check("KafkaReady", True, "Ready", "")], generation=1, now="t2")
    assert flipped[0]["lastTransitionTime"] == "t2"


def test_stalled_failure_degrades() -> None:
    checks = [
        *ALL_OK[:1],
        Check("KafkaReady", False, "KafkaNotFound", "create it", stalled=True),
        *ALL_OK[2:],
    ]
    ready, reconciling, stalled, phase = summarize(checks)
    assert phase == "Degraded" and stalled.ok is True and reconciling.ok is False
    assert ready.reason == "KafkaNotFound" and "KafkaReady" in ready.message


def test_progress_is_reconciling() -> None:
    checks = [ALL_OK[0], Check("KafkaReady", False, "NotReady", "Strimzi is creating it")]
    _, reconciling, stalled, phase = summarize(checks)
    assert phase == "Provisioning" and reconciling.ok is True and stalled.ok is False
    assert summarize([Check("StrimziReady", None, "Installing", "")])[3] == "Pending"


def test_paused_reports_the_observed_components_and_a_paused_summary() -> None:
    running = build_status(None, ALL_OK, generation=1, now="t0")
    observed = [
        Check("TopicsReady", False, "PendingWhilePaused", "KafkaTopic kafka/new does not exist")
        if c.type == "TopicsReady"
        else c
        for c in ALL_OK
    ]
    paused = build_status(running, observed, generation=2, paused=True, now="t1")
    conds = by_type(paused)
    assert paused["phase"] == "Paused" and conds["Ready"]["reason"] == "Paused"
    assert conds["Stalled"]["status"] == "False" and conds["Reconciling"]["status"] == "False"
    assert conds["TopicsReady"]["status"] == "False" and conds["TopicsReady"]["lastTransitionTime"] == "t1"
    assert conds["KafkaReady"]["lastTransitionTime"] == "t0"  # unchanged components keep their time


def test_transitions_name_changed_conditions() -> None:
    first = build_status(None, [Check("StrimziReady", None, "Installing", "")], generation=1, now="t0")
    second = build_status(first, ALL_OK, generation=1, now="t1")
    changed = {c["type"] for c in transitions(first, second)}
    assert "Ready" in changed and "StrimziReady" in changed
    assert transitions(second, second) == []


def test_a_repeated_condition_type_never_reaches_the_status() -> None:
    """The API server rejects repeated types (list-map key); the first report of a type wins."""
    conflict = Check("KafkaReady", False, "Conflict", "field owned by someone", stalled=True)
    checks = [ALL_OK[0], conflict, Check("KafkaReady", True, "KafkaReady", "ready"), *ALL_OK[2:]]
    status = build_status(None, checks, generation=1, now="t0")
    types = [c["type"] for c in status["conditions"]]
    assert len(types) == len(set(types))
    assert by_type(status)["KafkaReady"]["reason"] == "Conflict" and status["phase"] == "Degraded"


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("True", "KafkaReady", "Normal"),
        ("False", "Installing", "Normal"),  # resolves by itself: news
        ("False", WAITING, "Normal"),
        ("False", "RollingOut", "Normal"),
        ("False", "InstallFailed", "Warning"),  # needs someone's attention
        ("False", "NotReady", "Warning"),
        ("False", "TopicsNotReady", "Warning"),
        ("False", "DeploymentNotFound", "Warning"),
    ],
)
def test_only_problems_are_warnings(status: str, reason: str, expected: str) -> None:
    assert event_type(status, reason) == expected
