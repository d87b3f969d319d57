"""How the gateway's supervisors keep their children: tied to their lives, restarted with
back-off.

Two supervisors start processes: a node's primary (its workers, ``gateway.workers``) and
``yrdgw up`` (the four nodes, ``gateway.supervisor``). Both ask the kernel to kill a child when
its parent goes (``PR_SET_PDEATHSIG``), so ``kill -9`` of a supervisor never leaves a child
serving, and both restart a crashed child after the same back-off.
"""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = [
    "EXIT_CONFIG",
    "STABLE_AFTER_S",
    "SUPERVISOR_ENV",
    "describe_exit",
    "die_with_parent",
    "die_with_parent_if_supervised",
    "restart_delay",
]

SUPERVISOR_ENV = "YRD_SUPERVISOR_PID"
"""Set by ``yrdgw up`` for the nodes it starts: they die with it (``PR_SET_PDEATHSIG``)."""
EXIT_CONFIG = 2
"""A child that exits with this (a configuration error) will fail again: give up."""
_PR_SET_PDEATHSIG = 1


def die_with_parent(env: str) -> None:
    """Ask for SIGKILL when the parent (whose pid ``env`` names) goes, and go now if it
    already has."""
    expected = int(os.environ.get(env, "0"))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if expected and os.getppid() != expected:
        os._exit(1)  # the parent died before we asked: nobody would supervise us


STABLE_AFTER_S = 30.0
"""A restarted process that stays up this long starts its back-off again from zero."""


def restart_delay(failures: int) -> float:
    """How long to wait before restarting a process that has crashed ``failures`` times in a
    row: at once after the first crash, then 0.5 s doubling up to 10 s."""
    return min(0.5 * 2**failures, 10.0) if failures else 0.0


def die_with_parent_if_supervised() -> None:
    """A node ``yrdgw up`` started (it says so in ``SUPERVISOR_ENV``) dies with it."""
    if os.environ.get(SUPERVISOR_ENV):
        die_with_parent(SUPERVISOR_ENV)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
