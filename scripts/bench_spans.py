"""Measure what storing a span costs the span store, with random and with time-ordered trace ids.

Usage: ``.venv/bin/python scripts/bench_spans.py [--stored 300000] [--batches 200] [--dir DIR]``

Fills a fresh span store with ``--stored`` spans, then times ``--batches`` writes of 500 spans (a
busy node's 250 ms) and prints the CPU per span, user and kernel, for each kind of trace id. The
spans are dated as a node storing ``--rate`` spans a second would date them (time-ordered ids
take their first 32 bits from that time), and the rows are built before the clock starts. A
measurement, not a test.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.telemetry.ids import TimeOrderedIdGenerator  # noqa: E402
from gateway.telemetry.spanstore import SpanStore  # noqa: E402

_BATCH = 500
_ATTRIBUTES = (
    '{"rpc.system":"grpc","rpc.service":"yrd.v1.Federation","rpc.method":"Invoke",'
    '"yrd.node":"sh","yrd.app":"js/rst/yrd-bench","yrd.interface":"sh/gaj/resident-basic/v1",'
    '"yrd.purpose":"养老保险关系转移接续"}'
)


def rows(count: int, trace_id, first: int, rate: int, start_ns: int) -> list[tuple]:
    """``count`` spans, the ``first``-th to be stored onwards, at ``rate`` spans a second."""
    return [
        (
            f"{trace_id(start_ns // 10**9 + (first + i) // rate):032x}",
            f"{random.getrandbits(64):016x}",
            f"{random.getrandbits(64):016x}",
            "sh",
            "/yrd.v1.Federation/Invoke",
            "SERVER",
            start_ns + (first + i) * 10**9 // rate,
            1.234,
            "OK",
            "",
            "js/rst/yrd-bench",
            "sh/gaj/resident-basic/v1",
            _ATTRIBUTES,
            0,
        )
        for i in range(count)
    ]


def measure(kind: str, trace_id, args: argparse.Namespace, where: Path) -> None:
    store = SpanStore(where / f"spans-{kind}.db", "sh")
    stored, batches, rate = args.stored, args.batches, args.rate
    start = time.time_ns() - stored * 10**9 // rate  # the stored spans are the past
    for first in range(0, stored, _BATCH):
        store.add(rows(_BATCH, trace_id, first, rate, start))
    work = [rows(_BATCH, trace_id, stored + b * _BATCH, rate, start) for b in range(batches)]
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for batch in work:
        store.add(batch)
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    n = batches * _BATCH
    user = (after.ru_utime - before.ru_utime) / n * 1e6
    kernel = (after.ru_stime - before.ru_stime) / n * 1e6
    print(
        f"{kind:<13} {user:6.1f} µs user + {kernel:6.1f} µs kernel = {user + kernel:6.1f} µs "
        f"CPU a span ({wall / n * 1e6:.1f} µs wall), {stored:,} spans stored before"
    )
    store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stored", type=int, default=300_000)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--rate", type=int, default=2000, help="spans a second the node stores")
    p.add_argument("--dir", type=Path, default=None, help="where the stores go (default: temp)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        measure("random", lambda _: random.getrandbits(128), args, Path(tmp))
        measure("time-ordered", TimeOrderedIdGenerator().trace_id_at, args, Path(tmp))


if __name__ == "__main__":
    main()
