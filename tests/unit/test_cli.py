"""`bridgedapp` as a person runs it: every subcommand explains itself, errors are one line, pipes are quiet.

These run the real program as a subprocess (no cluster: the problems under test are the ones a person
meets before one answers).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bridgedapp.cli import _parser

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "deploy" / "samples"


def bridgedapp(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgedapp", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", ["run", "render", "status"])
def test_every_subcommand_has_a_description(command: str) -> None:
    sub = next(a for a in _parser()._actions if a.dest == "command")
    assert sub.choices[command].description, f"`bridgedapp {command} --help` has no description"


def test_status_without_a_kubeconfig_is_one_line_and_exit_1(tmp_path: Path) -> None:
    run = bridgedapp("status", env={"KUBECONFIG": str(tmp_path / "absent"), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("bridgedapp: ")
    assert "Traceback" not in run.stderr and "kubeconfig" in run.stderr


def test_status_against_an_unreachable_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
    )
    run = bridgedapp("status", env={"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "cannot reach the API server" in run.stderr


def test_output_into_a_closed_pipe_is_quiet() -> None:
    """`bridgedapp render ... | head -1`: the reader leaves early; the writer says nothing and exits 0."""
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert reader.stdin is not None
    writer = subprocess.run(
        [sys.executable, "-m", "bridgedapp", "render", "-f", str(SAMPLES / "bridgedapp.yaml")]
        + ["-f", str(SAMPLES / "deployment.yaml")] * 40,  # far more than a pipe buffer
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    reader.stdin.close()
    reader.wait(timeout=10)
    assert writer.returncode == 0
    assert "Traceback" not in writer.stderr and "BrokenPipe" not in writer.stderr
