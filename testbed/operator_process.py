"""The operator as its users run it (`python -m bridgedapp run`), as a child process stopped on every exit.

Shared by the tests that need an operator on a cluster of their own and by the benchmarks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when our process dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def running_operator(
    kubeconfig: Path, log_path: Path, *, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bridgedapp run ARGS` against `kubeconfig`, output to `log_path`; terminated on exit."""
    child_env = {**os.environ, "KUBECONFIG": str(kubeconfig), **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridgedapp", "run", *args],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # only prctl: safe before exec
            cwd=REPO,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
