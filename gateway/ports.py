"""Free loopback ports for federations started on this machine (tests, the fault harness, the
benchmark): chosen below the kernel's ephemeral range, and never handed out twice by a process.

A port from the ephemeral range (what binding to port 0 gives) can be taken by any outgoing
connection between the moment it is picked and the moment a node binds it, which may be a minute
later when the node seeds a large catalog first; on a busy machine that happened (a fault test's
node failed with "Failed to bind to address"). A port below the range can only be taken by
another explicit bind, and one this process already handed out is not handed out again.
"""

from __future__ import annotations

import random
import socket
import threading

__all__ = ["LOOPBACK", "free_ports"]

LOOPBACK = "127.0.0.1"

_SPAN = 12_000
"""How many ports below the ephemeral range are candidates."""
_given: set[int] = set()
_lock = threading.Lock()


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct ports free on ``host`` now, below the ephemeral range, none handed out
    before by this process (until most of the candidates have been)."""
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - _SPAN), low))
    random.SystemRandom().shuffle(candidates)
    chosen: list[int] = []
    with _lock:
        if len(_given) > len(candidates) // 2:
            _given.clear()  # a long run: the earliest federations are long gone
        for port in candidates:
            if len(chosen) == n:
                break
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            chosen.append(port)
        if len(chosen) < n:
            raise RuntimeError(f"could not find {n} free ports on {host}")
        _given.update(chosen)
    return chosen


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(x) for x in fh.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999
