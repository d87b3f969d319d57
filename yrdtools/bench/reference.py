"""How fast the box is right now: a fixed workload timed at a run's start and end.

This machine is a virtual one on a shared host, and the host sometimes runs it at half its
usual speed for an hour (2026-12-07: a full run's direct backend took 336 µs a call against
259 two hours before, and a cold search 11.3 ms of CPU against 6.6). A run taken then reads as
a regression. So every run times the same single-threaded work (Python bytecode, hashing,
sorting: what a node spends its CPU on) before its federation starts and after everything it
started has stopped, and the report compares it with the earlier runs in the same results directory
(``report.box_speed``).
"""

from __future__ import annotations

import hashlib
import random
import time

__all__ = ["reference_ms"]

_BLOCK = bytes(range(256)) * 4096  # 1 MiB


def _work() -> int:
    total = 0
    for i in range(400_000):
        total += (i * i) ^ (i >> 3)
    digest = hashlib.sha256()
    for _ in range(16):
        digest.update(_BLOCK)
    values = random.Random(6).sample(range(1_000_000), 100_000)
    values.sort()
    return total ^ digest.digest()[0] ^ values[0]


def reference_ms(repeats: int = 5) -> float:
    """Milliseconds of the fixed workload, the fastest of ``repeats`` (wall clock on an idle
    process: the box's speed, not this process's share of it)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _work()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)
