"""Refusing to start on a port that is taken, and naming who holds it.

gRPC binds with ``SO_REUSEPORT``, so a node started while an earlier one (or a stray worker) still
listens could share the port with it and split the traffic, or fail to bind only after it has
printed that it is up. Every start (``yrdgw node``, ``yrdgw up``, a node's primary) first binds
each of its ports plainly; a clash stops it there with the address and, where the system says
(``/proc/net/tcp*`` and ``/proc/<pid>/fd``: only for processes this user may inspect), the
process holding it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from gateway.config import split_address

__all__ = ["check_ports_free", "port_holder"]

_LISTEN = "0A"
"""TCP state LISTEN in /proc/net/tcp."""


def check_ports_free(addresses: Sequence[str]) -> None:
    """Raise ``OSError`` naming the first address that cannot be bound (and its holder)."""
    for address in addresses:
        host, port = split_address(address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                holder = port_holder(port)
                by = f" (held by {holder})" if holder else ""
                raise OSError(exc.errno, f"{address} is in use{by}: {exc.strerror}") from None


def port_holder(port: int) -> str | None:
    """``pid N (command line)`` of a process listening on TCP ``port``, if the system says."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = Path("/proc", entry, "fd")
        try:
            links = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in links:
            try:
                target = os.readlink(fd_dir / fd)
            except OSError:
                continue
            if target in wanted:
                return f"pid {entry} ({_command_line(int(entry))})"
    return None


def _listening_inodes(port: int) -> set[str]:
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != _LISTEN:
                continue
            if int(cols[1].rsplit(":", 1)[1], 16) == port:
                found.add(cols[9])
    return found


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return text[:200] or "?"
