"""The API server's audit log (Metadata level: who did what to which object, no bodies), read incrementally.

Tests and benchmarks ask "what did the operator write?" many times a second while a log grows to tens of
megabytes over a session; re-parsing it whole each time made the audit checks the test process's biggest CPU
cost. A reader remembers where it stopped and parses only what was appended since.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class AuditLog:
    """Complete events (stage ResponseComplete) of one audit log, parsed once each, in log order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def skip(self) -> None:
        """Forget everything logged so far."""
        with self._lock:
            self.offset = self.path.stat().st_size if self.path.exists() else 0
            self.seen = []

    def read(self) -> list[dict[str, Any]]:
        """The events appended since the last read (a half-written last line waits for the next read)."""
        with self._lock:
            if not self.path.exists():
                return []
            with self.path.open("rb") as f:
                if f.seek(0, 2) < self.offset:  # truncated or replaced: start again
                    self.offset, self.seen = 0, []
                f.seek(self.offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1
            self.offset += end
            new = [event for event in map(json.loads, chunk[:end].split(b"\n")[:-1]) if is_complete(event)]
            self.seen.extend(new)
            return new

    def events(self) -> list[dict[str, Any]]:
        """Every event since the reader started (or last skipped), including those appended just now."""
        self.read()
        return list(self.seen)


def is_complete(event: dict[str, Any]) -> bool:
    return event.get("stage") == "ResponseComplete"
