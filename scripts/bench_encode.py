"""Encoding a search hit (``SearchResult`` with its entry) the way the gateway does it, against
the constructor with keyword arguments it replaced.

Usage: ``.venv/bin/python scripts/bench_encode.py [--entries 2000]``

Generates a province's entries as its node seeds them and prints microseconds per entry (the
best of five repeats) for each way; both give the same bytes. A measurement, not a test: the
numbers depend on the machine and its load; the ratio is what matters.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway._pb.yrd.v1 import catalog_pb2  # noqa: E402
from gateway.catalog.model import CatalogEntry  # noqa: E402
from gateway.wire.catalog import fill_entry  # noqa: E402
from scripts.shipped import province_entries  # noqa: E402


def by_keywords(e: CatalogEntry) -> bytes:
    """The hit as it was built before: the entry by keywords, its items as messages, copied in."""
    entry = catalog_pb2.CatalogEntry(
        code=e.code,
        name=e.name,
        province=e.province,
        province_name="江苏",
        department_code=e.department_code,
        department=e.department,
        category=e.category,
        category_name="基础/人口",
        abstract=e.abstract,
        format=e.format,
        share_type=e.share_type,
        share_conditions=e.share_conditions,
        open_attribute=e.open_attribute,
        update_cycle=e.update_cycle,
        publish_date=e.publish_date,
        grade=e.grade,
        items=[
            catalog_pb2.DataItem(
                name=i.name, type=i.type, length=i.length, grade=i.grade, kind=i.kind
            )
            for i in e.items
        ],
        local_grade=e.local_grade,
        local_category=e.local_category,
        data_mark=e.data_mark,
        data_mark_name="",
    )
    return catalog_pb2.SearchResult(entry=entry).SerializeToString()


def in_place(e: CatalogEntry) -> bytes:
    """The hit as ``EntryWire.result`` builds it now."""
    result = catalog_pb2.SearchResult()
    fill_entry(result.entry, e, "江苏", "基础/人口", "")
    return result.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()
    entries = list(islice(province_entries("js", args.entries), args.entries))
    items = sum(len(e.items) for e in entries) / len(entries)
    for e in entries:
        assert by_keywords(e) == in_place(e)
    print(f"{len(entries)} entries of js, {items:.1f} data items each on average")
    for way in (by_keywords, in_place):
        best = min(timeit.repeat(lambda way=way: [way(e) for e in entries], number=3, repeat=5))
        print(f"{way.__name__:<12} {best / 3 / len(entries) * 1e6:6.1f} µs an entry")


if __name__ == "__main__":
    main()
