"""How the bridge tiers report: BridgeError, and log lines and error output that never carry a private key or password."""

from __future__ import annotations

import re
import sys

from testbed.host import tail


class BridgeError(RuntimeError):
    """The bridge (or its stand-in) could not be laid out or started; the message says what and why."""


def say(message: str) -> None:
    """One progress line on stderr (a bridge start takes seconds)."""
    print(f"[testbed.bridge] {message}", file=sys.stderr, flush=True)


_PEM_SECRET = re.compile(r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL)
_PASSWORD = re.compile(
    r"((?:password|secret|token)[\w.-]*\s*[=:]\s*)(?!\[hidden\]|\$\{)[^\s,}]+", re.IGNORECASE
)


def redact(text: str) -> str:
    """Logs and error output may echo configuration: never let a private key or password through."""
    return _PASSWORD.sub(r"\1[hidden]", _PEM_SECRET.sub("[private key hidden]", text))


def redacted_tail(text: str, lines: int = 40) -> str:
    """The end of a log for an error message, with secrets hidden."""
    return redact(tail(text, lines))
