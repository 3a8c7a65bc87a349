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


def requests_of(path: Path, username: str) -> list[dict[str, Any]]:
    """Every request one user made, once each: watches are logged complete only when they end, so a watch
    still open counts from its ResponseStarted event."""
    by_id: dict[str, dict[str, Any]] = {}
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n") or username.encode() not in line:
                continue
            event = json.loads(line)
            if (event.get("user") or {}).get("username") != username:
                continue
            if event.get("stage") in ("ResponseStarted", "ResponseComplete"):
                by_id.setdefault(event["auditID"], event)
                if is_complete(event):
                    by_id[event["auditID"]] = event
    return list(by_id.values())


def used_rights(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(verb, group/resource[/subresource]) pairs as RBAC names them, of resource requests (not discovery).

    A server-side apply that created its object is logged as a `patch` answered 201; RBAC checked `create`
    as well, so it counts as both.
    """
    used: set[tuple[str, str]] = set()
    for event in events:
        ref = event.get("objectRef") or {}
        if not ref.get("resource"):
            continue
        resource = f"{ref.get('apiGroup', '')}/{ref['resource']}"
        if ref.get("subresource"):
            resource += f"/{ref['subresource']}"
        used.add((event["verb"], resource))
        if event["verb"] == "patch" and (event.get("responseStatus") or {}).get("code") == 201:
            used.add(("create", resource))
    return used
