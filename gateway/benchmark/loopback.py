"""Loopback addresses for the benchmark: free ports, and a guard that nothing leaves the machine.

Every server and client the harness starts is on 127.0.0.1; the guard turns a mistyped host into
an error instead of traffic to another machine.
"""

from __future__ import annotations

import ipaddress
import random
import socket

__all__ = ["HOST", "free_ports", "require_loopback"]

HOST = "127.0.0.1"


def require_loopback(host: str) -> str:
    """``host`` if it is a loopback address (or ``localhost``); SystemExit otherwise."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return host
    except ValueError:
        pass
    raise SystemExit(f"error: the benchmark only talks to loopback addresses, not {host!r}")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on loopback now, chosen below the kernel's ephemeral range.

    A node binds its ports only after seeding its catalog (a minute or more at full size); a
    port from the ephemeral range could be taken meanwhile by any outgoing connection on this
    shared machine, while one below it can only be taken by another explicit bind.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12000), low))
    random.SystemRandom().shuffle(candidates)
    chosen: list[int] = []
    for port in candidates:
        if len(chosen) == n:
            break
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        chosen.append(port)
    if len(chosen) < n:
        raise RuntimeError(f"could not find {n} free loopback ports")
    return chosen


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(x) for x in fh.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999
