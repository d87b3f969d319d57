"""Replication's cost in one process: seed an owner's catalog (131,000 entries by default), then
catch a follower's empty replica up through the change feed exactly as the nodes do (the owner's
pages read and encoded as protobuf, decoded, applied page by page with the cursor), without the
network. Prints the catch-up time and the apply rate; ``make bench`` measures the same between
node processes (``yrdtools.bench.replication``).

    python scripts/bench_replication.py [--entries 131000] [--page 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.catalog.changefeed import ChangeFeed  # noqa: E402
from gateway.catalog.store import CatalogStore  # noqa: E402
from gateway.wire.replication import page_from_pb, page_to_pb  # noqa: E402
from scripts.shipped import province_entries  # noqa: E402


async def catch_up(owner: CatalogStore, replica: CatalogStore, page: int) -> tuple[int, float]:
    """Follow ``owner`` into ``replica`` until caught up; (pages, seconds applying)."""
    feed = ChangeFeed(owner)
    pages, applying = 0, 0.0
    state = replica.replica_state()
    async for got in feed.follow(state.seq, page, 0.0):
        message = await asyncio.to_thread(page_to_pb, got)
        decoded = await asyncio.to_thread(page_from_pb, message)
        if decoded.feed_id != state.feed_id:
            state = replica.reset_replica(decoded.feed_id)
        if decoded.changes:
            started = time.perf_counter()
            state = await asyncio.to_thread(replica.apply_changes, decoded)
            applying += time.perf_counter() - started
            pages += 1
    return pages, applying


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=131_000)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    entries = province_entries("js", args.entries)
    with tempfile.TemporaryDirectory(prefix="yrd-bench-replication-") as tmp:
        with CatalogStore(Path(tmp) / "owner.db") as owner:
            started = time.perf_counter()
            owner.insert_many(entries)
            seeded = time.perf_counter() - started
            published = owner.changes_since(10**12, 1).head
            with CatalogStore(Path(tmp) / "replica.db") as replica:
                started = time.perf_counter()
                pages, applying = asyncio.run(catch_up(owner, replica, args.page))
                took = time.perf_counter() - started
                held = replica.count()
    assert held == published, (held, published)
    print(
        f"owner seeded with {args.entries:,} entries in {seeded:.1f} s "
        f"({published:,} published, the rest of share type none)\n"
        f"catch-up of an empty replica: {held:,} entries in {took:.1f} s "
        f"({held / took:,.0f} entries/s end to end; {pages} pages of {args.page}); "
        f"applying alone {applying:.1f} s ({held / applying:,.0f} entries/s)"
    )


if __name__ == "__main__":
    main()
