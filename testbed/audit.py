"""The API server's audit log (Metadata level: who did what to which object, no bodies), read incrementally.

Tests and benchmarks ask "what did the operator write?" many times a second while a log grows to tens of
megabytes over a session; re-parsing it whole each time made the audit checks the test process's biggest CPU
cost. A reader remembers where it stopped and parses only what was appended since.

The API server rotates the log (kube-apiserver's default `--audit-log-maxsize` is 100 MB): it renames
`audit.log` to `audit-<time>.log` and starts a new `audit.log`. The reader keeps the file it is reading open,
so on a rotation it finishes the renamed file through that handle and then starts the new one from its first
byte; only a file that got shorter under the same name (truncated in place) starts the count again. A reader
must look at least once per rotation (the benchmarks read every second; 100 MB take minutes to write).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any


class AuditLog:
    """Complete events (stage ResponseComplete) of one audit log, parsed once each, in log order.

    `keep=False` forgets events once returned by read(): a benchmark that counts hundreds of thousands of
    requests as they come need not hold them all.
    """

    def __init__(self, path: Path, *, keep: bool = True) -> None:
        self.path = path
        self.keep = keep
        self.seen: list[dict[str, Any]] = []
        self.rotations = 0  # rotations this reader followed
        self._file: IO[bytes] | None = None
        self._inode: int | None = None
        self._partial = b""  # a half-written last line, completed by the next read
        self._lock = threading.Lock()

    @property
    def offset(self) -> int:
        """Bytes consumed of the file being read (whole lines only)."""
        return (self._file.tell() if self._file is not None else 0) - len(self._partial)

    def _open(self, *, at_end: bool) -> bool:
        self._close()
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return False
        self._file, self._inode = f, os.fstat(f.fileno()).st_ino
        if at_end:
            f.seek(0, os.SEEK_END)
        return True

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._inode, self._partial = None, None, b""

    def skip(self) -> None:
        """Forget everything logged so far."""
        with self._lock:
            self._open(at_end=True)
            self.seen = []

    def _chunk(self) -> bytes:
        """Every byte appended since the last read, following a rotation or a truncation."""
        if self._file is None and not self._open(at_end=False):
            return b""
        assert self._file is not None
        if os.fstat(self._file.fileno()).st_size < self._file.tell():  # truncated in place: start again
            self._file.seek(0)
            self._partial, self.seen = b"", []
        data = self._partial + self._file.read()
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if current != self._inode:  # renamed away (rotated) or deleted: it is finished, so take its rest
            data += self._file.read()
            rest = data
            self._close()
            if current is not None and self._open(at_end=False):
                self.rotations += 1
                assert self._file is not None
                if rest and not rest.endswith(b"\n"):
                    rest += b"\n"  # a line cut off by the rotation ends where its file ended
                data = rest + self._file.read()
            else:
                data = rest
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        return data[:end]

    def read(self) -> list[dict[str, Any]]:
        """The events appended since the last read (a half-written last line waits for the next read)."""
        with self._lock:
            chunk = self._chunk()
            new = []
            for raw in chunk.split(b"\n"):
                if b'"ResponseComplete"' not in raw:
                    continue
                try:
                    event = json.loads(raw)
                except ValueError:  # a line cut off by a rotation mid-write
                    continue
                if is_complete(event):
                    new.append(event)
            if self.keep:
                self.seen.extend(new)
            return new

    def events(self) -> list[dict[str, Any]]:
        """Every event since the reader started (or last skipped), including those appended just now."""
        self.read()
        return list(self.seen)

    def close(self) -> None:
        with self._lock:
            self._close()


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
