"""What every part of the test bed needs from this machine: the shared cache folder, a file lock between
processes, the end of a log for an error message, loopback ports and the sockets a process listens on. Said once
here, so the control plane, the broker, the bridge and Strimzi's operators cannot drift apart on them."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def cache_dir() -> Path:
    """$BRIDGEDAPP_CACHE_DIR, else ~/.cache/bridgedapp: binaries, kwok's clusters, the jars, Strimzi's bundle."""
    env = os.environ.get("BRIDGEDAPP_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "bridgedapp"


@contextlib.contextmanager
def file_lock(path: Path, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """An exclusive flock on `path`, so two test sessions never build, download or claim the same thing at once.

    `waiting` hears one line when another process holds the lock (so a long wait is not a silent one).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(f"waiting for another process holding {path} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(text: str, lines: int) -> str:
    """The last `lines` lines of `text`."""
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path, lines: int = 25) -> str:
    """The last `lines` lines (a screenful by default) of a log file, or a note saying it is missing or empty (for error messages)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path})"
    return tail(text, lines) or f"({path.name} is empty)"


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel has just handed out on `host` (free now; the caller binds it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, hosts: Sequence[str] = (LOOPBACK,)) -> bool:
    """Whether `port` can be bound on every one of `hosts` by a server that sets SO_REUSEADDR (Go, Netty do)."""
    for host in hosts:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def listening(port: int, host: str = LOOPBACK) -> bool:
    """Whether something accepts connections on `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state held by process `pid`: its socket inodes (from
    /proc/<pid>/fd) matched against /proc/<pid>/net/tcp and tcp6 (addresses there are little-endian hex);
    IPv4-mapped IPv6 addresses are given as IPv4."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if match:
                inodes.add(match.group(1))
    found: set[tuple[str, int]] = set()
    for family in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{family}").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A" or fields[9] not in inodes:  # 0A: TCP_LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(raw)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped  # a Java socket bound to 127.0.0.1 shows as ::ffff:127.0.0.1
            found.add((str(address), int(hex_port, 16)))
    return found
