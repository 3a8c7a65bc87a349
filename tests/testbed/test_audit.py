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
