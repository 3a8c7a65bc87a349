"""Lay the rendered files out at the container's mount paths: in a private mount namespace (`unshare -m`, tmpfs,
bind mounts, the kubelet's `..data` symlinks), or, where none can be made, in a private folder with every mount-path
prefix in the properties rewritten to it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from testbed.bridge.errors import BridgeError
from testbed.host import cache_dir

# Top-level folders a mount path may sit under when it does not exist on the host: the namespace hides them
# behind a tmpfs holding only the mounts. Anything else must already exist as a folder on the host.
OVERLAY_ROOTS = ("/opt", "/tmp", "/mnt", "/srv", "/media", "/var/run/secrets", "/run/secrets")

# {mountPath: {file name: content}}; an empty mapping is an empty writable folder (an emptyDir).
Mounts = Mapping[str, Mapping[str, bytes]]
Layout = Literal["auto", "namespace", "rewrite"]


def namespace_support() -> tuple[bool, str]:
    """Whether a private mount namespace can be made here, and if not, why."""
    if os.geteuid() != 0:
        return False, "not root (a private mount namespace with tmpfs and bind mounts needs CAP_SYS_ADMIN)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "no `unshare` on PATH (util-linux)"
    probe = subprocess.run(
        [unshare, "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return False, f"`unshare -m` failed: {probe.stderr.strip()}"
    return True, ""


def _kubelet_dir(target: Path, files: Mapping[str, bytes], mode: int) -> None:
    """Write a volume the way the kubelet's atomic writer does: ..<timestamp>/ files, ..data -> it, and one
    symlink per key through ..data (so Kafka's DirectoryConfigProvider sees what it sees in a pod)."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = ".." + datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S.%f")
    real = target / stamp
    real.mkdir()
    for name, content in files.items():
        path = real / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    (target / "..data").symlink_to(stamp)
    for name in {n.split("/", 1)[0] for n in files}:
        (target / name).symlink_to(f"..data/{name}")


def _overlay_root(path: str) -> str | None:
    for root in sorted(OVERLAY_ROOTS, key=len, reverse=True):
        if path == root or path.startswith(root + "/"):
            return root
    return None


@dataclass
class MountPlan:
    """Staged files and the shell script that lays them out at their mount paths inside `unshare -m`."""

    stage: Path
    # mountPath -> staged folder (read-only, like ConfigMap and Secret volumes); None: an empty tmpfs (emptyDir)
    mounts: dict[str, Path | None] = field(default_factory=dict)
    # mountPath -> host folder bound read-only there (e.g. the bridge distribution's bin/ and libs/)
    binds: dict[str, Path] = field(default_factory=dict)
    # host paths the command itself needs (JDK, jars, staging); kept visible where a tmpfs would hide them
    keep: list[Path] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # extra /etc/hosts entries: name -> address

    def script(self) -> str:
        """POSIX sh: bind what lies outside the overlay roots, build each overlay root (/opt, /tmp, ...) as a
        tmpfs holding its mounts, move it into place, then exec "$@". Every source is bound before any tmpfs
        hides it, so staging and JDK may live anywhere."""
        hold = self.stage / "hold"
        hold.mkdir(exist_ok=True)
        q = shlex.quote
        lines = ["set -e", f"mount -t tmpfs -o mode=0755 tmpfs {q(str(hold))}"]
        targets: dict[str, Path | None] = {**self.binds, **self.mounts}
        roots: dict[str, str] = {}
        for path in sorted(targets, key=lambda p: (p.count("/"), p)):
            root = _overlay_root(path)
            if root is not None and root not in roots:
                roots[root] = str(hold / f"r{len(roots)}")
        for kept in self.keep:
            path = str(kept.resolve())
            root = _overlay_root(path)
            if root in roots and path != root and path not in targets:
                targets[path] = Path(path)
        if self.hosts:
            hosts_file = self.stage / "hosts"
            base = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else "127.0.0.1 localhost\n"
            extra = "".join(f"{addr} {name}\n" for name, addr in self.hosts.items())
            hosts_file.write_text(base.rstrip("\n") + "\n# bridgedapp test bed\n" + extra)
            lines.append(f"mount --bind {q(str(hosts_file))} /etc/hosts")
        for root, held in roots.items():
            mode = "1777" if root in self.mounts and self.mounts[root] is None else "0755"  # an emptyDir /tmp
            lines += [f"mkdir -p {q(held)}", f"mount -t tmpfs -o mode={mode} tmpfs {q(held)}"]
        for path in sorted(targets, key=lambda p: (p.count("/"), p)):
            src = targets[path]
            root = _overlay_root(path)
            if root is None:
                if not Path(path).is_dir():
                    raise BridgeError(
                        f"mount path {path} does not exist on this machine and is not under {OVERLAY_ROOTS}"
                    )
                where = path
            else:
                where = roots[root] + path[len(root) :]
                if where != roots[root]:
                    lines.append(f"mkdir -p {q(where)}")
            if src is None:
                if where != roots.get(root or ""):  # the overlay root's own tmpfs already is an empty dir
                    lines.append(f"mount -t tmpfs -o mode=1777 tmpfs {q(where)}")
                continue
            lines += [f"mount --bind {q(str(src))} {q(where)}", f"mount -o remount,bind,ro {q(where)}"]
        for root, held in roots.items():
            lines += [f"mkdir -p {q(root)} 2>/dev/null || true", f"mount --move {q(held)} {q(root)}"]
        lines.append('exec "$@"')
        return "\n".join(lines) + "\n"

    def argv(self, command: Sequence[str]) -> list[str]:
        """The full command: unshare, the layout script, then `command` in the new mount namespace."""
        unshare = shutil.which("unshare") or "unshare"
        return [
            unshare,
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            self.script(),
            "bridgedapp-mounts",
            *command,
        ]


def stage_mounts(mounts: Mounts, stage: Path, *, mode: int = 0o644) -> MountPlan:
    """Write every mount's files under `stage` (kubelet layout); empty mappings become writable folders."""
    plan = MountPlan(stage=stage, keep=[stage])
    for index, (path, files) in enumerate(sorted(mounts.items())):
        if not path.startswith("/"):
            raise BridgeError(f"mount path {path!r} is not absolute")
        if files:
            target = stage / "volumes" / f"v{index}"
            _kubelet_dir(target, files, mode)
            plan.mounts[path.rstrip("/") or "/"] = target
        else:
            plan.mounts[path.rstrip("/") or "/"] = None
    return plan


def rewrite_mount_paths(text: str, mounts: Mounts, root: Path) -> str:
    """The fallback without namespaces: prefix every overlay root used by a mount path (e.g. /opt) with `root`."""
    roots = sorted({r for p in mounts for r in [_overlay_root(p)] if r}, key=len, reverse=True)
    for r in roots:
        text = re.sub(
            rf"(?<![\w./-]){re.escape(r)}(?=/|$|[\s,:;}}])", str(root) + r, text, flags=re.MULTILINE
        )
    return text


def _copy_tree_for_rewrite(mounts: Mounts, root: Path) -> None:
    for path, files in mounts.items():
        target = root / path.lstrip("/")
        if files:
            _kubelet_dir(target, files, 0o644)
        else:
            target.mkdir(parents=True, exist_ok=True)


def lay_out_rewritten(properties_text: str, mounts: Mounts, root: Path) -> str:
    """The rewrite layout: every mount as a kubelet-style folder under `root`, and the properties with their
    mount paths pointing there (no namespace to put the files in place)."""
    _copy_tree_for_rewrite(mounts, root)
    return rewrite_mount_paths(properties_text, mounts, root)


def choose_layout(layout: Layout) -> tuple[Layout, str]:
    """The layout to use for `layout` here, and a note for the result when it is not the one asked for."""
    if layout == "rewrite":
        return "rewrite", "mount paths rewritten on request"
    ok, why = namespace_support()
    if ok:
        return "namespace", ""
    if layout == "namespace":
        raise BridgeError(f"a private mount namespace is not possible here: {why}")
    return "rewrite", f"no private mount namespace ({why}): mount paths in the properties were rewritten"


def stage_parent() -> Path:
    """Staging folders live in the cache, not in /tmp or /opt, which the namespace may cover with a tmpfs."""
    parent = cache_dir() / "run"
    parent.mkdir(parents=True, exist_ok=True)
    if _overlay_root(str(parent.resolve())):
        raise BridgeError(
            f"the cache {parent} lies under {OVERLAY_ROOTS}; set BRIDGEDAPP_CACHE_DIR elsewhere"
        )
    return parent
