"""Build the local control plane's binaries from their Go modules, once, into a versioned cache.

No container engine and no release downloads are available on the machines this project runs on,
so etcd, the Kubernetes control plane, kubectl, kwok and kwokctl are compiled from the Go module
proxy (see docs in /work/shared/design/testbed.md) and reused on every later run.
Binaries found in $KUBEBUILDER_ASSETS are used instead of building them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TextIO

from testbed.host import cache_dir, file_lock, tail_file

K8S_VERSION = "v1.36.1"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
# helm, for the chart's tests (lint, template, install/upgrade/uninstall on the local control plane). Its
# go.mod requires client-go v0.37, which helm's Makefile turns into its default Kubernetes 1.37.
HELM_VERSION = "v3.22.0"
HELM_KUBE_MINOR = "37"
MIN_GO = (1, 24)

K8S_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
HEARTBEAT_SECONDS = 20.0
LOG_TAIL_LINES = 30

_GO_MISSING = (
    "Go toolchain not found: install Go >= 1.24 (https://go.dev/dl) or set KUBEBUILDER_ASSETS "
    "to a folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, "
    "kwok and kwokctl"
)


class ToolchainError(RuntimeError):
    """A binary could not be had: names the step that failed and shows the tail of its output."""


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of every binary the local control plane needs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path
    kwokctl: Path

    def all(self) -> dict[str, Path]:
        """Binary name (as on disk) -> path."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}

    def path_dirs(self) -> list[Path]:
        """The distinct folders holding the binaries, in a stable order, for PATH."""
        seen: list[Path] = []
        for p in self.all().values():
            if p.parent not in seen:
                seen.append(p.parent)
        return seen


def k8s_bin_dir() -> Path:
    return cache_dir() / f"k8s-{K8S_VERSION}" / "bin"


def etcd_bin_dir() -> Path:
    return cache_dir() / f"etcd-{ETCD_VERSION}" / "bin"


def kwok_bin_dir() -> Path:
    return cache_dir() / f"kwok-{KWOK_VERSION}" / "bin"


def helm_bin_dir() -> Path:
    return cache_dir() / f"helm-{HELM_VERSION}" / "bin"


def _cached_location(name: str) -> Path:
    if name == "etcd":
        return etcd_bin_dir() / name
    if name in ("kwok", "kwokctl"):
        return kwok_bin_dir() / name
    return k8s_bin_dir() / name


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _from_assets(name: str) -> Path | None:
    """A binary from $KUBEBUILDER_ASSETS (envtest's convention), if that folder has it."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return None
    candidate = Path(assets).expanduser() / name
    return candidate.absolute() if _is_executable(candidate) else None


def locate() -> tuple[Binaries | None, list[str]]:
    """Resolve every binary without building; returns (binaries if all present, names missing)."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for f in fields(Binaries):
        name = f.name.replace("_", "-")
        path = _from_assets(name) or _cached_location(name)
        if _is_executable(path):
            found[f.name] = path
        else:
            missing.append(name)
    if missing:
        return None, missing
    return Binaries(**found), []


def available() -> bool:
    """True when every binary is already present (nothing would be built)."""
    return locate()[0] is not None


def can_build() -> bool:
    """True when the binaries are present or a Go toolchain could build them."""
    return available() or shutil.which("go") is not None


class _Progress:
    """Step lines and a heartbeat on stderr, so a build of several minutes never looks hung."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        if self.enabled:
            total = time.monotonic() - self.started
            print(f"[testbed build {total:5.0f}s] {message}", file=self.stream, flush=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    return env


def _check_go(progress: _Progress) -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolchainError(_GO_MISSING)
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    match = re.match(r"go(\d+)\.(\d+)", out.stdout.strip())
    if out.returncode != 0 or not match or (int(match[1]), int(match[2])) < MIN_GO:
        raise ToolchainError(f"{_GO_MISSING} (found {out.stdout.strip() or 'an unusable go'} at {go})")
    progress.say(f"using {out.stdout.strip()} at {go}")
    return go


def _run_step(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_dir: Path,
    progress: _Progress,
) -> None:
    """Run one go command with its output in a log file, a heartbeat while it runs, and a clear failure."""
    log = log_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", step) + ".log")
    progress.say(f"{step}: {Path(argv[0]).name} {argv[1]} ...")
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        next_beat = started + HEARTBEAT_SECONDS
        try:
            while True:
                try:
                    rc = proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    now = time.monotonic()
                    if now >= next_beat:
                        progress.say(f"{step}: still running, {now - started:.0f}s elapsed")
                        next_beat = now + HEARTBEAT_SECONDS
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    elapsed = time.monotonic() - started
    if rc != 0:
        raise ToolchainError(
            f"build step {step!r} failed (exit {rc}) after {elapsed:.0f}s: {' '.join(argv)}\n"
            f"last lines of its output ({log}):\n{tail_file(log, LOG_TAIL_LINES)}"
        )
    progress.say(f"{step}: done in {elapsed:.1f}s")


def _install(built: Path, final: Path) -> None:
    """Move a finished binary into place with one rename: a killed build never leaves half a file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(built, 0o755)
    if built.stat().st_dev == final.parent.stat().st_dev:
        os.replace(built, final)
        return
    staged = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.copy2(built, staged)
    os.replace(staged, final)


def _k8s_ldflags() -> str:
    major, minor = K8S_VERSION.lstrip("v").split(".")[:2]
    return " ".join(
        [
            "-s -w",
            f"-X k8s.io/component-base/version.gitVersion={K8S_VERSION}",
            f"-X k8s.io/component-base/version.gitMajor={major}",
            f"-X k8s.io/component-base/version.gitMinor={minor}",
            f"-X k8s.io/client-go/pkg/version.gitVersion={K8S_VERSION}",
        ]
    )


def _staging_replaces(go: str, work: Path, env: dict[str, str], log_dir: Path) -> list[str]:
    """The k8s.io staging modules that k8s.io/kubernetes maps to ./staging: we map them to v0.x."""
    out = subprocess.run(
        [go, "mod", "download", "-json", f"k8s.io/kubernetes@{K8S_VERSION}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (log_dir / "k8s-mod-download.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise ToolchainError(
            f"build step 'download k8s.io/kubernetes@{K8S_VERSION}' failed (exit {out.returncode}):\n"
            f"{(out.stdout + out.stderr)[-3000:]}"
        )
    gomod = Path(json.loads(out.stdout)["GoMod"]).read_text()
    modules = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", gomod, re.MULTILINE)))
    if not modules:
        raise ToolchainError(f"no staging modules found in k8s.io/kubernetes@{K8S_VERSION}'s go.mod")
    return modules


def _build_k8s(names: list[str], go: str, build: Path, log_dir: Path, progress: _Progress) -> None:
    work = build / "k8s-module"
    work.mkdir()
    env = _go_env()
    _run_step(
        "k8s: go mod init",
        [go, "mod", "init", "bridgedapp-testbed-k8s"],
        cwd=work,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    staging_version = "v0." + K8S_VERSION.lstrip("v").split(".", 1)[1]
    replaces = "\n".join(f"\t{m} => {m} {staging_version}" for m in _staging_replaces(go, work, env, log_dir))
    with (work / "go.mod").open("a") as gomod:
        gomod.write(f"\nrequire k8s.io/kubernetes {K8S_VERSION}\n\nreplace (\n{replaces}\n)\n")
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    _run_step(
        f"k8s: go get k8s.io/kubernetes@{K8S_VERSION}",
        [go, "get", f"k8s.io/kubernetes/cmd/kube-apiserver@{K8S_VERSION}"],
        cwd=work,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    out_dir = build / "k8s-bin"
    for name in names:
        _run_step(
            f"k8s: go build {name}",
            [
                go,
                "build",
                "-trimpath",
                "-ldflags",
                _k8s_ldflags(),
                "-o",
                str(out_dir / name),
                f"k8s.io/kubernetes/cmd/{name}",
            ],
            cwd=work,
            env=env,
            log_dir=log_dir,
            progress=progress,
        )
        _verify_version(out_dir / name, name)
        _install(out_dir / name, k8s_bin_dir() / name)


def _verify_version(binary: Path, name: str) -> None:
    """The server must report its real version: kwokctl picks flags and feature gates from it."""
    argv = [str(binary), "version", "--client"] if name == "kubectl" else [str(binary), "--version"]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if K8S_VERSION not in out.stdout + out.stderr:
        raise ToolchainError(
            f"{name} was built but does not report {K8S_VERSION}: {(out.stdout + out.stderr).strip()[:500]}"
        )


def _build_etcd(go: str, build: Path, log_dir: Path, progress: _Progress) -> None:
    work = build / "etcd-module"
    work.mkdir()
    env = _go_env()
    _run_step(
        "etcd: go mod init",
        [go, "mod", "init", "bridgedapp-testbed-etcd"],
        cwd=work,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    _run_step(
        f"etcd: go get go.etcd.io/etcd/server/v3@{ETCD_VERSION}",
        [go, "get", f"go.etcd.io/etcd/server/v3@{ETCD_VERSION}"],
        cwd=work,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    out = build / "etcd-bin" / "etcd"
    _run_step(
        "etcd: go build etcd",
        [go, "build", "-trimpath", "-o", str(out), "go.etcd.io/etcd/server/v3"],
        cwd=work,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    _install(out, etcd_bin_dir() / "etcd")


def _build_kwok(names: list[str], go: str, build: Path, log_dir: Path, progress: _Progress) -> None:
    env = _go_env()
    gobin = build / "kwok-bin"
    gobin.mkdir()
    env["GOBIN"] = str(gobin)
    _run_step(
        f"kwok: go install {' '.join(names)}@{KWOK_VERSION}",
        [go, "install", *(f"sigs.k8s.io/kwok/cmd/{n}@{KWOK_VERSION}" for n in names)],
        cwd=build,
        env=env,
        log_dir=log_dir,
        progress=progress,
    )
    for name in names:
        _install(gobin / name, kwok_bin_dir() / name)


def ensure_binaries(progress: bool = True) -> Binaries:
    """Return every binary, building the missing ones from the Go module proxy (minutes cold, once)."""
    binaries, missing = locate()
    if binaries is not None:
        return binaries
    prog = _Progress(progress)
    root = cache_dir()
    with file_lock(root / ".build.lock", prog.say):
        binaries, missing = locate()  # another caller may have finished while we waited
        if binaries is not None:
            return binaries
        go = _check_go(prog)
        prog.say(f"building {', '.join(missing)} into {root} (cold: about 12 minutes; cached afterwards)")
        log_dir = root / "build-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(".build-*"):  # left by a killed build; we hold the lock, nobody uses it
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=root) as tmp:
            build = Path(tmp)
            k8s = [n for n in K8S_COMMANDS if n in missing]
            if k8s:
                _build_k8s(k8s, go, build, log_dir, prog)
            if "etcd" in missing:
                _build_etcd(go, build, log_dir, prog)
            kwok = [n for n in ("kwok", "kwokctl") if n in missing]
            if kwok:
                _build_kwok(kwok, go, build, log_dir, prog)
        binaries, missing = locate()
        if binaries is None:
            raise ToolchainError(f"build finished but these are still missing: {', '.join(missing)}")
        prog.say("all binaries ready")
        return binaries


def locate_helm() -> Path | None:
    """helm from $KUBEBUILDER_ASSETS or the cache, without building it."""
    path = _from_assets("helm") or helm_bin_dir() / "helm"
    return path if _is_executable(path) else None


def ensure_helm(progress: bool = True) -> Path:
    """helm, built once from its Go module (`go install helm.sh/helm/v3/cmd/helm`, no replace lines) into
    the cache beside the control plane's binaries; minutes cold, instant afterwards."""
    found = locate_helm()
    if found is not None:
        return found
    prog = _Progress(progress)
    root = cache_dir()
    # A lock and a scratch folder of its own: it may build while the control plane builds.
    with file_lock(root / ".helm-build.lock", prog.say):
        found = locate_helm()
        if found is not None:
            return found
        go = _check_go(prog)
        prog.say(
            f"building helm {HELM_VERSION} into {helm_bin_dir()} (cold: a few minutes; cached afterwards)"
        )
        log_dir = root / "build-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".helm-build-", dir=root) as tmp:
            build = Path(tmp)
            env = _go_env()
            env["GOBIN"] = str(build)
            # helm prints this version (`helm version`); its own Makefile sets the same variable.
            ldflags = " ".join(
                [f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"]
                + [
                    f"-X helm.sh/helm/v3/pkg/{pkg}.k8sVersion{part}={value}"
                    for pkg in ("lint/rules", "chartutil")
                    for part, value in (("Major", "1"), ("Minor", HELM_KUBE_MINOR))
                ]
            )
            _run_step(
                f"helm: go install helm@{HELM_VERSION}",
                [go, "install", "-trimpath", "-ldflags", ldflags, f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"],
                cwd=build,
                env=env,
                log_dir=log_dir,
                progress=prog,
            )
            out = subprocess.run([str(build / "helm"), "version", "--short"], capture_output=True, text=True)
            if HELM_VERSION not in out.stdout:
                raise ToolchainError(
                    f"helm was built but does not report {HELM_VERSION}: {out.stdout.strip()}"
                )
            _install(build / "helm", helm_bin_dir() / "helm")
        prog.say(f"helm {HELM_VERSION} ready")
        return helm_bin_dir() / "helm"
