"""The incremental audit-log reader: each line parsed once, half-written lines left for later, truncation noticed."""

from __future__ import annotations

import json
from pathlib import Path

from testbed.audit import AuditLog


def line(verb: str, stage: str = "ResponseComplete") -> bytes:
    return json.dumps({"verb": verb, "stage": stage}).encode() + b"\n"


def test_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(line("get") + line("watch", stage="ResponseStarted"))
    log = AuditLog(path)
    assert [e["verb"] for e in log.read()] == ["get"]
    assert log.read() == []
    with path.open("ab") as f:
        f.write(line("patch") + b'{"verb": "crea')  # the API server is mid-write
    assert [e["verb"] for e in log.read()] == ["patch"]
    with path.open("ab") as f:
        f.write(b'te", "stage": "ResponseComplete"}\n')
    assert [e["verb"] for e in log.events()] == ["get", "patch", "create"]


def test_skip_forgets_and_truncation_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(line("get") + line("list"))
    log = AuditLog(path)
    log.skip()
    assert log.events() == []
    path.write_bytes(line("delete"))  # a new cluster of the same name: a shorter file
    assert [e["verb"] for e in log.events()] == ["delete"]


def test_a_missing_log_has_no_events(tmp_path: Path) -> None:
    assert AuditLog(tmp_path / "absent.log").events() == []


def test_a_rotation_is_followed_not_taken_for_a_truncation(tmp_path: Path) -> None:
    """kube-apiserver renames audit.log to audit-<time>.log at --audit-log-maxsize and starts a new one."""
    path = tmp_path / "audit.log"
    path.write_bytes(line("get"))
    log = AuditLog(path)
    assert [e["verb"] for e in log.read()] == ["get"]
    with path.open("ab") as f:
        f.write(line("list") + line("patch"))  # written before the rotation, not yet read
    path.rename(tmp_path / "audit-2026-12-01T10-00-00.000.log")
    path.write_bytes(line("create"))  # the new file is shorter than what was read: no truncation
    assert [e["verb"] for e in log.read()] == ["list", "patch", "create"]
    with path.open("ab") as f:
        f.write(line("delete"))
    assert [e["verb"] for e in log.events()] == ["get", "list", "patch", "create", "delete"]
    assert log.rotations == 1


def test_a_line_half_written_when_the_file_rotates_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(line("get") + b'{"verb": "wat')
    log = AuditLog(path)
    assert [e["verb"] for e in log.read()] == ["get"]
    with path.open("ab") as f:
        f.write(b'ch", "stage": "ResponseComplete"}\n')
    path.rename(tmp_path / "audit-1.log")
    path.write_bytes(line("update"))
    assert [e["verb"] for e in log.read()] == ["watch", "update"]


def test_keep_false_returns_events_once_and_holds_none(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(line("get") + line("list"))
    log = AuditLog(path, keep=False)
    assert [e["verb"] for e in log.read()] == ["get", "list"]
    assert log.seen == [] and log.read() == []
