"""Measure what a node's start-up audit check costs on a big log: a full walk of the chain
against a walk from the verified checkpoint (``gateway.audit.integrity``).

    python scripts/measure_chain_check.py [--entries 200000] [--since 1000]

Fills a fresh SQLite log in a temporary directory with ``bench_audit``'s records (group
commits of 1,000), then times ``verify()`` and ``ChainIntegrity.check()`` from a checkpoint
``--since`` entries back, and the receipt lookup of ``yrdgw audit verify --federation``
(``AuditLog.holding``, 5,000 hashes). Figures go in ``gateway/watch.py``'s docstring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_audit import record  # noqa: E402 (this folder: the benchmark's varied records)

from gateway.audit import AuditLog  # noqa: E402
from gateway.audit.integrity import CHECKPOINT_FILE, ChainIntegrity  # noqa: E402


async def fill(log: AuditLog, n: int) -> None:
    for start in range(0, n, 1000):
        await asyncio.gather(
            *(log.append_async(record(i)) for i in range(start, min(n, start + 1000)))
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--since", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog(Path(tmp) / "audit.db", "js")
        started = time.perf_counter()
        asyncio.run(fill(log, args.entries))
        filled = time.perf_counter() - started
        started = time.perf_counter()
        report = log.verify()
        full = time.perf_counter() - started
        assert report.ok and report.checked == args.entries, report
        back = args.entries - args.since
        checkpoint = Path(tmp) / CHECKPOINT_FILE
        checkpoint.write_text(json.dumps({"seq": back, "hash": log.get(back).hash}))
        started = time.perf_counter()
        state = ChainIntegrity(log, checkpoint).check()
        incremental = time.perf_counter() - started
        assert state.state == "ok", state
        # The federation check's receipt lookup: one scan of the log per request (5,000 asked).
        asked = [e.hash for e in log.query(limit=5000)]
        started = time.perf_counter()
        assert len(log.holding(asked)) == len(asked)
        lookup = time.perf_counter() - started
        log.close()
    print(
        f"{args.entries} entries (filled in {filled:.1f} s): full walk {full:.2f} s "
        f"({full / args.entries * 1e6:.1f} µs/entry); check from a checkpoint {args.since} "
        f"entries back {incremental:.3f} s; 5,000 receipts looked up in {lookup:.3f} s"
    )


if __name__ == "__main__":
    main()
