"""The start/stop contract the test bed's long-running processes share (Kafka broker, Strimzi HTTP Bridge)."""

from __future__ import annotations

import time
from typing import Self


class Started:
    """Start in a `with` block or by hand; a start that fails stops what it began, so nothing is left running.

    Subclasses implement `_start` (return once ready, raise otherwise), `stop` (safe to call at any point),
    `_ready_message` (with `start_seconds` measured) and `_announce` (where that message goes).
    """

    start_seconds: float = 0.0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        self._announce(self._ready_message())

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _ready_message(self) -> str:
        raise NotImplementedError

    def _announce(self, message: str) -> None:
        """Where `_ready_message` goes (stderr with the component's prefix, or nowhere)."""
        raise NotImplementedError
