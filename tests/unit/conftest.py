"""Fixtures for the pure unit tests: golden files for the builders' output."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_ENV = "UPDATE_GOLDEN"

Golden = Callable[[str, "dict[str, Any] | list[dict[str, Any]]"], None]


def render_golden(objects: dict[str, Any] | list[dict[str, Any]]) -> str:
    """YAML documents in the builders' own key order, so a golden file reads like a manifest."""
    docs = [objects] if isinstance(objects, dict) else list(objects)
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=True)


def check_golden(name: str, objects: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Compare with tests/unit/golden/<name>.yaml exactly; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN_DIR / f"{name}.yaml"
    actual = render_golden(objects)
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_ENV}=1", pytrace=False)
    expected = path.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{name}.yaml",
                tofile="built",
            )
        )
        pytest.fail(
            f"built objects differ from golden/{name}.yaml (review, then {UPDATE_ENV}=1 to accept):\n{diff}",
            pytrace=False,
        )


@pytest.fixture
def golden() -> Golden:
    """`golden(name, objects)`: assert `objects` (a dict or a list of dicts) match golden/<name>.yaml."""
    return check_golden
