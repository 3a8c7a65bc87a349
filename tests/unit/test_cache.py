"""The watch-fed read cache: what it answers from memory, and when it must ask the API server again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from bridgedapp import cache as cache_module
from bridgedapp.cache import WatchCache


def obj(name: str, version: int, kind: str = "Deployment", **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": str(version)},
        **extra,
    }


def watching(*kinds: str, namespace: str = "shop") -> WatchCache:
    """A cache whose watches of these kinds (default: Deployment) in `namespace` have delivered an event."""
    c = WatchCache()
    for kind in kinds or ("Deployment",):
        c.watched("ADDED", {"kind": kind, "metadata": {"name": "first-listed", "namespace": namespace}})
    return c


def test_an_unknown_object_is_a_miss_and_a_gets_answer_is_kept_found_or_absent() -> None:
    c = watching()
    assert c.lookup("Deployment", "shop", "a") == (False, None)
    c.fetched("Deployment", "shop", "a", obj("a", 5), since=0.0)
    c.fetched("Deployment", "shop", "gone", None, since=0.0)
    assert c.lookup("Deployment", "shop", "a") == (True, obj("a", 5))
    assert c.lookup("Deployment", "shop", "gone") == (True, None)  # absent is an answer too
    assert (c.hits, c.misses) == (2, 1)


def test_watch_events_update_only_objects_a_pass_has_read() -> None:
    c = watching()
    c.watched("ADDED", obj("stranger", 3))
    assert c.lookup("Deployment", "shop", "stranger")[0] is False and len(c) == 0
    c.fetched("Deployment", "shop", "gone", None, since=0.0)
    c.watched("ADDED", obj("gone", 7))
    assert c.lookup("Deployment", "shop", "gone") == (True, obj("gone", 7))
    c.watched("DELETED", obj("gone", 8))
    assert c.lookup("Deployment", "shop", "gone") == (True, None)


def test_an_event_older_than_our_own_writes_answer_is_ignored() -> None:
    c = watching()
    c.remember(obj("a", 10, spec={"new": True}), since=0.0)
    c.watched("MODIFIED", obj("a", 9, spec={"new": False}))
    assert c.lookup("Deployment", "shop", "a")[1]["spec"] == {"new": True}
    c.watched("MODIFIED", obj("a", 11, spec={"newer": True}))
    assert c.lookup("Deployment", "shop", "a")[1]["spec"] == {"newer": True}


def test_entries_expire_so_a_broken_watch_cannot_hide_a_deletion_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = watching()
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    c.fetched("Deployment", "shop", "a", obj("a", 1), since=0.0)
    now[0] += cache_module.MAX_AGE - 1
    assert c.lookup("Deployment", "shop", "a")[0] is True
    now[0] += 2
    assert c.lookup("Deployment", "shop", "a")[0] is False  # read again from the API server


def test_forget_drops_an_entry() -> None:
    c = watching("Secret")
    c.fetched("Secret", "shop", "s", obj("s", 1, kind="Secret"), since=0.0)
    c.forget("Secret", "shop", "s")
    assert c.lookup("Secret", "shop", "s")[0] is False


def test_entries_keep_what_a_pass_reads_and_drop_the_heavy_rest() -> None:
    c = watching()
    heavy = obj("a", 1)
    heavy["metadata"]["managedFields"] = [
        {"manager": "bridgedapp-operator", "fieldsV1": {"f:spec": {}}},
        {"manager": "kubectl", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    ]
    heavy["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 10_000 + "}",
        "bridgedapp.io/bridged-by": "orders",
    }
    c.fetched("Deployment", "shop", "a", heavy, since=0.0)
    kept = c.lookup("Deployment", "shop", "a")[1]
    assert kept is not None
    assert [f["manager"] for f in kept["metadata"]["managedFields"]] == ["bridgedapp-operator"]
    assert kept["metadata"]["annotations"] == {"bridgedapp.io/bridged-by": "orders"}
    assert len(heavy["metadata"]["managedFields"]) == 2  # the caller's object is left as it was


def test_an_answer_older_than_an_event_that_came_while_it_was_on_its_way_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race of a pass that creates a topic while Strimzi already updates it: the watch's event for
    the new object arrives before the write's answer is recorded; the older answer must not stand."""
    c = watching("Deployment", "KafkaTopic")
    now = [100.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    started = now[0]
    now[0] += 1
    c.watched("MODIFIED", obj("t", 8, kind="KafkaTopic", status={"ready": True}))  # not recorded yet
    now[0] += 1
    c.remember(obj("t", 7, kind="KafkaTopic"), since=started)  # the write's answer, older
    assert c.lookup("KafkaTopic", "shop", "t")[0] is False  # so the next read asks the API server
    c.fetched("KafkaTopic", "shop", "t", obj("t", 8, kind="KafkaTopic", status={"ready": True}), since=now[0])
    assert c.lookup("KafkaTopic", "shop", "t")[1]["status"] == {"ready": True}
    # an absent answer is no better: a 404 from before the object's ADDED event must not stand
    before_add = now[0]
    now[0] += 1
    c.watched("ADDED", obj("new", 3))
    c.fetched("Deployment", "shop", "new", None, since=before_add)
    assert c.lookup("Deployment", "shop", "new")[0] is False


def test_nothing_is_kept_for_a_kind_and_namespace_no_watch_has_reported_on() -> None:
    """A namespace the operator does not watch, or a Strimzi kind whose CRD came after Kopf started: no
    event would say the entry changed, so every read there is a GET (the fault test's stale KafkaTopic)."""
    c = watching("KafkaTopic", namespace="kafka")
    c.fetched("KafkaTopic", "other", "t", obj("t", 1, kind="KafkaTopic"), since=0.0)
    c.fetched("KafkaUser", "kafka", "u", obj("u", 1, kind="KafkaUser"), since=0.0)
    assert c.lookup("KafkaTopic", "other", "t")[0] is False
    assert c.lookup("KafkaUser", "kafka", "u")[0] is False
    c.fetched("KafkaTopic", "kafka", "t", obj("t", 1, kind="KafkaTopic"), since=0.0)
    assert c.lookup("KafkaTopic", "kafka", "t")[0] is True
    c.watched(None, obj("u", 2, kind="KafkaUser"))  # type: ignore[arg-type]  # the watch's first listing
    c.fetched("KafkaUser", "shop", "u", obj("u", 2, kind="KafkaUser"), since=time.monotonic())
    assert c.lookup("KafkaUser", "shop", "u")[0] is True


def test_only_a_deployment_keeps_a_managed_fields_entry_the_operators_own() -> None:
    c = watching("KafkaTopic")
    topic = obj("t", 1, kind="KafkaTopic")
    topic["metadata"]["managedFields"] = [{"manager": "bridgedapp-operator", "fieldsV1": {"f:spec": {}}}]
    c.fetched("KafkaTopic", "shop", "t", topic, since=0.0)
    kept = c.lookup("KafkaTopic", "shop", "t")[1]
    assert kept is not None and "managedFields" not in kept["metadata"]  # no decision reads it
