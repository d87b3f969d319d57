"""CPU of the first searches after a small write to one catalog store, in one process: what a
catalog that keeps changing costs its searches (the write log, the tables brought forward and
the postings carried across: ``gateway/catalog/store/search.py``).

Usage: ``.venv/bin/python scripts/bench_search_after_write.py [--entries 131000] [--writes 3]
[--data DIR]``

Seeds Jiangsu's catalog (or reuses ``--data DIR/<entries>/js.db``), builds its search tables and
asks each of a few searches once, so their terms are kept. Then, ``--writes`` times: edits one
entry's abstract (one write, one generation), and asks each search once more, timing each.
The first search after a write also pays for bringing the tables forward. To compare two
checkouts, copy this script into the other and run it there (it imports the checkout it sits
in), each on its own copy of the file: a file opened by a newer checkout is migrated, and an
older one then refuses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.catalog.store import CatalogStore, SearchQuery  # noqa: E402
from scripts.shipped import province_entries  # noqa: E402

SEARCHES = ("信息", "登记", "社会保险", "户籍", "行政区划", "数据")
"""Common terms first (信息 is in every entry, 数据 in most), then the benchmark's popular ones."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=131_000)
    parser.add_argument("--writes", type=int, default=3)
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the seeded store in DIR/<entries>/js.db and reuse it (default: seed into a "
        "temporary file, removed afterwards)",
    )
    args = parser.parse_args()
    if args.data is None:
        path = Path(tempfile.mkdtemp(prefix="yrd-after-write-")) / "js.db"
    else:
        path = args.data / str(args.entries) / "js.db"
        path.parent.mkdir(parents=True, exist_ok=True)
    with CatalogStore(path) as store:
        if store.count() != args.entries:
            store.clear()
            store.insert_many(province_entries("js", args.entries))
        store.warm()
        for text in SEARCHES:
            store.search(SearchQuery(text))
        first = store.search(SearchQuery("")).hits[0].entry
        for n in range(1, args.writes + 1):
            edited = dataclasses.replace(first, abstract=f"{first.abstract}（第{n}次修订）")
            store.insert_many([edited])
            cost = []
            for text in SEARCHES:
                cpu = time.process_time()
                store.search(SearchQuery(text))
                cost.append(time.process_time() - cpu)
            each = ", ".join(f"{t} {c * 1e3:.1f}" for t, c in zip(SEARCHES, cost, strict=True))
            print(
                f"after one-entry write {n}: {each} ms of CPU; all {sum(cost) * 1e3:.0f} ms "
                f"({args.entries:,} entries)"
            )
    if args.data is None:
        for file in path.parent.iterdir():
            file.unlink()
        path.parent.rmdir()


if __name__ == "__main__":
    main()
