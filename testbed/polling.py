"""Polling, shared by the tests, the e2e tier and the benchmarks (each reports a timeout its own way)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(predicate: Callable[[], T | None], *, timeout: float, interval: float) -> T | None:
    """Call `predicate` until it returns something truthy, and return that; None once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)
