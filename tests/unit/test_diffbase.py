"""Kopf's diff-base as a digest (diffbase.py): it changes exactly when the spec does, and stays small."""

from __future__ import annotations

import kopf
from bridgedapp.diffbase import SpecDigestStorage

STORAGE = SpecDigestStorage(prefix="bridgedapp.io", key="last-handled-configuration")


def essence(spec: dict, **metadata: object) -> dict:
    body = kopf.Body({"apiVersion": "v", "kind": "K", "metadata": {"name": "x", **metadata}, "spec": spec})
    return dict(STORAGE.build(body=body))


def test_the_digest_follows_the_spec_and_nothing_else() -> None:
    assert essence({"a": 1, "b": [1, 2]}) == essence({"b": [1, 2], "a": 1})  # key order is no change
    assert essence({"a": 1}) != essence({"a": 2})
    assert essence({"a": 1}, labels={"x": "1"}, annotations={"big": "y" * 1000}) == essence({"a": 1})


def test_the_stored_annotation_stays_small_whatever_the_spec() -> None:
    body = kopf.Body(
        {"metadata": {"name": "x"}, "spec": {"bridge": {"config": {f"k{i}": "v" * 4096 for i in range(64)}}}}
    )
    patch = kopf.Patch()
    STORAGE.store(body=body, patch=patch, essence=STORAGE.build(body=body))
    stored = patch["metadata"]["annotations"]["bridgedapp.io/last-handled-configuration"]
    assert len(stored) < 200
