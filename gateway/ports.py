"""Free loopback ports for federations started on this machine (tests, the fault harness, the
benchmark): chosen below the kernel's ephemeral range, and never handed out twice by a process.

A port from the ephemeral range (what binding to port 0 gives) can be taken by any outgoing
connection between the moment it is picked and the moment a node binds it, which may be a minute
later when the node seeds a large catalog first; on a busy machine that happened (a fault test's
node failed with "Failed to bind to address"). A port below the range can only be taken by
another explicit bind, and one this process already handed out is not handed out again.

Two processes choosing at once (two test suites on one machine, a benchmark beside the suite)
could still pick the same free port before either binds it. So a chosen port is also claimed
for the machine: a file named after it, holding the claiming process's id, in a per-user
directory under the system's temporary directory. Choosing happens under an exclusive lock on
that directory; a port claimed by a live process other than this one is skipped, and a claim
whose process is gone is taken over. A process's claims are removed when it exits.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import random
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOOPBACK", "free_ports"]

LOOPBACK = "127.0.0.1"

_SPAN = 12_000
"""How many ports below the ephemeral range are candidates."""
_given: set[int] = set()
_lock = threading.Lock()


def free_ports(n: int, host: str = LOOPBACK, *, block: int = 1) -> list[int]:
    """``n`` distinct ports free on ``host`` now, below the ephemeral range, none handed out
    before by this process (until most of the candidates have been); with ``block``, each with
    the ``block - 1`` ports above it free and claimed too (a province's replica *i* listens on
    its ports + *i*, ``gateway.pgdeploy``)."""
    low, _ = _ephemeral_range()
    first = max(1024, low - _SPAN)
    starts = list(range(first, low - block + 1, block))  # aligned: blocks never overlap
    random.SystemRandom().shuffle(starts)
    chosen: list[int] = []
    taken: list[int] = []
    with _lock, _machine_lock() as claims:
        if len(_given) > (low - first) // 2:
            _release(claims, _given)  # a long run: the earliest federations are long gone
            _given.clear()
        for start in starts:
            if len(chosen) == n:
                break
            ports = range(start, start + block)
            if any(p in _given or _claimed_by_another(claims, p) for p in ports):
                continue
            if not all(_bindable(host, p) for p in ports):
                continue
            chosen.append(start)
            taken.extend(ports)
        if len(chosen) < n:
            raise RuntimeError(f"could not find {n} free ports on {host}")
        for port in taken:
            (claims / str(port)).write_text(str(os.getpid()))
        _given.update(taken)
    return chosen


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _claims_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"yrd-ports-{os.getuid()}"


@contextmanager
def _machine_lock() -> Iterator[Path]:
    """The claims directory, held exclusively against other processes choosing ports."""
    claims = _claims_dir()
    claims.mkdir(mode=0o700, exist_ok=True)
    with open(claims / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield claims
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _claimed_by_another(claims: Path, port: int) -> bool:
    try:
        pid = int((claims / str(port)).read_text())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False  # the claimer is gone: its claim is stale
    except PermissionError:
        return True
    return True


def _release(claims: Path, ports: set[int]) -> None:
    me = str(os.getpid())
    for port in ports:
        path = claims / str(port)
        try:
            if path.read_text() == me:
                path.unlink()
        except OSError:
            pass


@atexit.register
def _release_all() -> None:
    if not _given:
        return
    try:
        with _machine_lock() as claims:
            _release(claims, _given)
    except OSError:
        pass


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(x) for x in fh.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999
