"""Measure audit appends per second: one caller at a time vs group commit under concurrency.

Usage: ``.venv/bin/python scripts/bench_audit.py [--entries 3000] [--callers 50] [--dir DIR]``

Every append is durable (WAL, ``synchronous=FULL``: one fsync per transaction), so the sequential
figure is bounded by the disk's fsync rate; group commit shares one fsync among all callers that
queued while the previous one ran. A measurement, not a test: numbers depend on the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.audit import AuditLog, AuditRecord  # noqa: E402


def record(i: int) -> AuditRecord:
    return AuditRecord(
        side="provider",
        trace_id=f"{i:032x}",
        app="js/rsj/pension-transfer",
        interface="sh/gaj/hukou-verify/v1",
        purpose="跨省养老保险关系转移",
        action="invoke",
        decision="allow",
        fields_returned=("姓名", "身份证号", "户籍地址"),
        fields_masked=("身份证号",),
        record_count=1,
        grade="L3",
        latency_ms=12.5,
        peer="js",
    )


def bench_sync(path: Path, n: int) -> tuple[float, list[float]]:
    with AuditLog(path, "sh") as audit:
        latencies = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            audit.append(record(i))
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        assert audit.verify().ok
    return n / elapsed, latencies


async def bench_async(path: Path, n: int, callers: int) -> tuple[float, list[float], float]:
    audit = AuditLog(path, "sh")
    latencies: list[float] = []
    per_caller = n // callers

    async def caller(k: int) -> None:
        for i in range(per_caller):
            t = time.perf_counter()
            await audit.append_async(record(k * per_caller + i))
            latencies.append(time.perf_counter() - t)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(callers)))
        elapsed = time.perf_counter() - start
        stats = audit.stats()
        assert audit.verify().ok
    finally:
        await audit.aclose()
    return len(latencies) / elapsed, latencies, stats.entries_written / max(stats.commits, 1)


def describe(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp_path = Path(tmp)
        rate, lat = bench_sync(tmp_path / "sync.db", args.entries)
        print(f"sequential append        : {rate:8.0f} appends/s  ({describe(lat)})")
        rate, lat, _ = asyncio.run(bench_async(tmp_path / "async1.db", args.entries, 1))
        print(f"sequential append_async  : {rate:8.0f} appends/s  ({describe(lat)})")
        n = args.entries * 5
        rate, lat, batch = asyncio.run(bench_async(tmp_path / "grouped.db", n, args.callers))
        print(
            f"grouped, {args.callers} callers     : {rate:8.0f} appends/s  ({describe(lat)}, "
            f"{batch:.1f} entries per commit)"
        )


if __name__ == "__main__":
    main()
