"""Loopback addresses for the benchmark: free ports, and a guard that nothing leaves the machine.

Every server and client the harness starts is on 127.0.0.1; the guard turns a mistyped host into
an error instead of traffic to another machine.
"""

from __future__ import annotations

import ipaddress

from gateway.ports import LOOPBACK, free_ports

__all__ = ["HOST", "free_ports", "require_loopback"]

HOST = LOOPBACK


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
