"""Runs one case at one concurrency and turns what happened into numbers.

The schedule is fixed in CLOCK_MONOTONIC before any request is sent: a short lead for the
workers to connect, a warm-up, then the measured window. CPU of every process is read at the
window's two edges, so CPU per call and calls per second cover exactly the same interval.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yrdtools.bench.cases import Case
from yrdtools.bench.loadgen import BUCKET_NS, Job, LoadGenerator, buckets_in
from yrdtools.bench.procstat import RssSampler, snapshot

__all__ = ["Schedule", "measure", "percentile"]

_LEAD_S = 0.4
"""Time for every worker to get its job and connect (TLS included) before the clock starts."""


@dataclass(frozen=True, slots=True)
class Schedule:
    duration: float
    """Seconds in the measured window."""
    warmup: float
    """Seconds of load before the window, not counted (connections, caches, JIT-free warm-up of
    grpc's pollers and SQLite's page cache)."""
    timeout: float = 5.0


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def measure(
    case: Case,
    concurrency: int,
    loadgen: LoadGenerator,
    schedule: Schedule,
    groups: Mapping[str, Iterable[int]],
    rss_pids: Mapping[str, int],
    at_window: Callable[[], Callable[[], None]] | None = None,
) -> dict:
    """Drive ``case`` with ``concurrency`` calls in flight; returns one result row (JSON-able).

    ``groups``: process name -> pids whose CPU is recorded; ``rss_pids``: processes whose
    peak RSS is sampled during the window; ``at_window``: called when the window opens (a
    profiler), returns what to call once the load has stopped.
    """
    start = time.monotonic_ns() + int(_LEAD_S * 1e9)
    window_start = start + int(schedule.warmup * 1e9)
    window_end = window_start + int(schedule.duration * 1e9)

    def job_for(slots: int, first: int) -> Job:
        return Job(
            case.target,
            case.method,
            case.requests_at(concurrency),
            case.metadata,
            slots,
            first,
            start,
            window_start,
            window_end,
            schedule.timeout,
            concurrency,
        )

    reports: list = []
    driver = threading.Thread(
        target=lambda: reports.extend(loadgen.run(job_for, concurrency)),
        name="loadgen-driver",
        daemon=True,
    )
    driver.start()
    _sleep_until(window_start)
    cpu_before = snapshot(groups)
    finish = at_window() if at_window is not None else None
    with RssSampler(rss_pids) as rss:
        _sleep_until(window_end)
        cpu_after = snapshot(groups)
    driver.join()
    if finish is not None:
        finish()

    failures = [r.failure for r in reports if r.failure]
    if failures:
        raise RuntimeError(f"{case.name} at c={concurrency}: load generator failed: {failures[0]}")
    latencies = sorted(v for r in reports for v in r.latencies_ns)
    errors: Counter = Counter()
    warmup_errors: Counter = Counter()
    for r in reports:
        errors.update(r.errors)
        warmup_errors.update(r.warmup_errors)
    ok = len(latencies)
    calls = ok + sum(errors.values())
    per_bucket = [0] * buckets_in(window_start, window_end)
    for r in reports:
        for k, n in enumerate(r.per_bucket):
            per_bucket[k] += n
    cpu = cpu_after.minus(cpu_before)
    ms = [v / 1e6 for v in latencies]
    return {
        "case": case.name,
        "concurrency": concurrency,
        "duration_s": schedule.duration,
        "ok": ok,
        "errors": dict(errors),
        "warmup_errors": dict(warmup_errors),
        "rps": ok / schedule.duration,
        "latency_ms": {
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "max": ms[-1] if ms else math.nan,
            "mean": sum(ms) / ok if ok else math.nan,
        },
        "cpu_us_per_call": {
            name: s * 1e6 / calls if calls else math.nan for name, s in cpu.items()
        },
        "cpu_cores": {name: s / schedule.duration for name, s in cpu.items()},
        "per_100ms": per_bucket,
        "dips": dips(per_bucket),
        "served_by": list(case.served_by),
        "rss_peak_mib": {name: kib / 1024 for name, kib in rss.peak_kib.items()},
        "rss_hwm_mib": {name: kib / 1024 for name, kib in rss.hwm_kib.items()},
        "rss_peak_split_mib": {
            name: {k: v / 1024 for k, v in split.items()} for name, split in rss.split_kib.items()
        },
    }


def dips(per_bucket: Sequence[int], below: float = 0.2) -> dict[str, Any]:
    """Intervals of the window where completions fell under ``below`` of the median interval's:
    a stall somewhere (a node, the disk, the machine) rather than steady slowness. ``at_s``:
    seconds into the window of each, ``min_rps``: the lowest interval's rate."""
    if not per_bucket:
        return {"count": 0, "at_s": [], "min_rps": math.nan}
    median = sorted(per_bucket)[len(per_bucket) // 2]
    low = [k for k, n in enumerate(per_bucket) if n < below * median]
    scale = 1e9 / BUCKET_NS
    return {
        "count": len(low),
        "at_s": [round(k * BUCKET_NS / 1e9, 1) for k in low],
        "min_rps": min(per_bucket) * scale,
    }


def _sleep_until(deadline_ns: int) -> None:
    while True:
        left = (deadline_ns - time.monotonic_ns()) / 1e9
        if left <= 0:
            return
        time.sleep(min(left, 0.05))
