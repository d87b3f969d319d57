"""Loopback addresses for the benchmark: free ports, and a guard that nothing leaves the machine.

Every server and client the harness starts is on 127.0.0.1; the guard turns a mistyped host into
an error instead of traffic to another machine.
"""

from __future__ import annotations

import ipaddress
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
    """``n`` distinct ports free on loopback right now (all held open until all are found)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
