"""The operator as its users run it (`python -m bridgedapp run`), as a child process stopped on every exit.

The one way the tests and the benchmarks start the operator: the same wiring (settings, Kopf, metrics,
peering) as the Deployment's `bridgedapp run`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from testbed.lifecycle import die_with_parent

REPO = Path(__file__).resolve().parent.parent
READY_LINE = "bridgedapp operator ready"  # logged by the start-up handler, with every effective setting


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
            preexec_fn=die_with_parent,
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


def wait_ready(proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 90.0) -> None:
    """Until the operator has logged its start-up line; RuntimeError with its log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while READY_LINE not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            state = (
                f"exited with {proc.returncode}"
                if proc.returncode is not None
                else f"not ready in {timeout:.0f}s"
            )
            raise RuntimeError(
                f"the operator {state}; its log ends:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.2)
