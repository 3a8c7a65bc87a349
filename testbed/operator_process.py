"""The operator as its users run it (`python -m bridgedapp run`), as a child process stopped on every exit.

Shared by the tests that need an operator on a cluster of their own and by the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from testbed.lifecycle import die_with_parent

REPO = Path(__file__).resolve().parent.parent


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
