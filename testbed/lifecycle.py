"""What the test bed's child processes share: they die with us, and the long-running ones start and stop alike."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from typing import Any, Self


def _libc_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()  # looked up here, not in the forked child (no dlopen between fork and exec)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies, even by SIGKILL, so a killed
    test run leaves no broker, bridge or operator behind (Linux prctl PR_SET_PDEATHSIG; kept across exec)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL once `grace` seconds have passed: a child's own shutdown gets its chance, a hung one
    cannot hold the test run."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


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
