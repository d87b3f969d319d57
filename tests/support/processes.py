"""Forked child processes for the shared-memory tests: the children only touch a mapped table."""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable

FORK = multiprocessing.get_context("fork")


def start(target: Callable[..., None], *args: object) -> multiprocessing.process.BaseProcess:
    proc = FORK.Process(target=target, args=args, daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (a whole test session may
        # have some); the children here only touch the table.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        proc.start()
    return proc
