"""Kopf keeps no copy of what it handled (diffbase.py): nothing is fetched, and nothing lands in a patch."""

from __future__ import annotations

import kopf
from bridgedapp.diffbase import NoDiffBase


def test_nothing_is_remembered_and_nothing_is_written_whatever_the_spec() -> None:
    storage = NoDiffBase()
    body = kopf.Body(
        {"metadata": {"name": "x"}, "spec": {"bridge": {"config": {f"k{i}": "v" * 4096 for i in range(64)}}}}
    )
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert storage.fetch(body=body) is None
    assert not patch
