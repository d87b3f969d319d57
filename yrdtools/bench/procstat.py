"""Per-process CPU time and memory from /proc: what each process spent on a case, and its RSS.

CPU is utime+stime of the whole process (all threads) from ``/proc/<pid>/stat``, in clock ticks
(10 ms on Linux), so a case must run long enough for the tick to vanish in the per-call figure.
RSS is sampled by a background thread because VmRSS is a point value and the peak under load is
what the target is about; VmHWM (the kernel's own high-water mark) is recorded beside it. A node
running several workers is one name for several pids: its memory is their summed PSS (shared
pages, such as shared libraries, counted once over all of them), not their summed RSS.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CpuSnapshot",
    "ProcessTree",
    "RssSampler",
    "cpu_seconds",
    "pss_kib",
    "rss_kib",
    "snapshot",
]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds; None when it has gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its end.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


_STATUS_KEYS = {
    b"VmRSS:": "rss",
    b"VmHWM:": "hwm",
    b"RssAnon:": "anon",
    b"RssFile:": "file",
    b"RssShmem:": "shmem",
}


def rss_kib(pid: int) -> dict[str, int] | None:
    """VmRSS, VmHWM and the RSS split (anon = heap, file = mapped files such as shared libraries,
    shmem) of ``pid`` in KiB; None when it has gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                key = _STATUS_KEYS.get(line.split(b" ", 1)[0].split(b"\t", 1)[0])
                if key is not None:
                    out[key] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out


_ROLLUP_KEYS = {b"Pss:": "rss", b"Pss_Anon:": "anon", b"Pss_File:": "file", b"Pss_Shmem:": "shmem"}


def pss_kib(pids: Iterable[int]) -> dict[str, int] | None:
    """Summed PSS of ``pids`` (as ``rss``, with the anon / file / shmem split) in KiB; None
    when none of them is left."""
    out: dict[str, int] = {}
    found = False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    key = _ROLLUP_KEYS.get(line.split(None, 1)[0])
                    if key is not None:
                        out[key] = out.get(key, 0) + int(line.split()[1])
            found = True
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out if found else None


class ProcessTree:
    """A process and its children, listed afresh each time it is iterated: a group for
    ``snapshot`` whose members come and go (a PostgreSQL server forks a backend per
    connection). A child that exits between two snapshots takes its CPU time with it; the
    benchmark's pools keep their connections, so its backends live through a measurement."""

    def __init__(self, root: int) -> None:
        self.root = root

    def __iter__(self) -> Iterator[int]:
        yield self.root
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and _parent_of(int(entry.name)) == self.root:
                yield int(entry.name)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(raw[raw.rindex(b")") + 2 :].split()[1])


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds per process name at one instant; a name may stand for several pids."""

    seconds: Mapping[str, float]

    def minus(self, before: CpuSnapshot) -> dict[str, float]:
        return {
            name: max(0.0, value - before.seconds.get(name, 0.0))
            for name, value in self.seconds.items()
        }


def snapshot(groups: Mapping[str, Iterable[int]]) -> CpuSnapshot:
    """CPU seconds of each named group of pids (e.g. ``nginx`` = master + workers)."""
    totals: dict[str, float] = {}
    for name, pids in groups.items():
        totals[name] = sum(s for s in (cpu_seconds(p) for p in pids) if s is not None)
    return CpuSnapshot(totals)


@dataclass
class RssSampler:
    """Samples VmRSS of some pids every ``interval`` seconds until stopped; keeps the peak.

    A name given a list of pids (a node's workers) gets their summed PSS instead."""

    pids: Mapping[str, int | list[int]]
    interval: float = 0.2
    peak_kib: dict[str, int] = field(default_factory=dict)
    hwm_kib: dict[str, int] = field(default_factory=dict)
    split_kib: dict[str, dict[str, int]] = field(default_factory=dict)
    """At each process's peak: anon / file / shmem, so a big RSS can be told heap from mmap."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            got = pss_kib(pid) if isinstance(pid, list) else rss_kib(pid)
            if got is None:
                continue
            rss = got.get("rss", 0)
            if rss >= self.peak_kib.get(name, 0):
                self.peak_kib[name] = rss
                self.split_kib[name] = {k: got.get(k, 0) for k in ("anon", "file", "shmem")}
            self.hwm_kib[name] = max(self.hwm_kib.get(name, 0), got.get("hwm", 0))


IDLE_CPU_S = 0.05
"""CPU seconds in half a second under which restarted nodes count as idle (a tenth of a core)."""


class _Processes(Protocol):
    def pids(self, key: str) -> list[int]: ...


def settle(procs: _Processes, keys: Iterable[str], bound: float = 120.0) -> None:
    """Wait until the restarted processes of ``keys`` are idle: a node serves as soon as one of
    its workers does, and then starts warming its catalogs and replicas in the background
    (keeping their common terms: seconds of CPU each at 131,000 entries; followers resuming),
    which a case measured at once would count as its own."""
    keys = list(keys)  # named again if they do not settle
    pids = [pid for key in keys for pid in procs.pids(key)]
    give_up = time.monotonic() + bound
    before = snapshot({"restarted": pids})
    while time.monotonic() < give_up:
        time.sleep(0.5)
        now = snapshot({"restarted": pids})
        if now.minus(before).get("restarted", 0.0) < IDLE_CPU_S:
            return
        before = now
    print(f"  {', '.join(keys)} still busy {bound:.0f} s after restarting; measuring anyway")
