"""Where a cold search's CPU goes in one catalog store, phase by phase, without a profiler (its
per-call overhead misstates many small calls).

Usage: ``.venv/bin/python scripts/bench_search_phases.py [--entries 40000] [--queries 400]``

Seeds one province's catalog (``js``), cuts distinct 2-, 3- and 4-character queries from the
entries' own names (as the benchmark's cold ``search`` case does), and answers each once with
the federation-style two steps (collection statistics, then the ranked search with the
standard's synonyms). Prints CPU per query: the postings reads (``FtsIndex.column_ids``), the
reads and decoding of the hit entries (``FtsIndex.read_entries``) and the rest (ranking, facets,
query parsing). A measurement, not a test: run it with ``PYTHONPATH`` on each checkout to
compare them.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.catalog.store import CatalogStore, fts  # noqa: E402
from gateway.catalog.store.records import SearchQuery  # noqa: E402
from gateway.catalog.textindex import parse_query  # noqa: E402
from gateway.config import load_standard  # noqa: E402
from scripts.shipped import STANDARD, province_entries  # noqa: E402

PHASES = ("column_ids", "read_entries")


def cold_queries(names: list[str], count: int, rng: random.Random) -> list[str]:
    chosen: dict[str, None] = {}
    while len(chosen) < count:
        name = rng.choice(names)
        size = rng.choice((2, 3, 4))
        if len(name) >= size:
            start = rng.randrange(len(name) - size + 1)
            chosen.setdefault(name[start : start + size])
    return list(chosen)


def timed(spent: dict[str, float], name: str):
    """Wrap ``FtsIndex.<name>`` so its CPU time adds up in ``spent``."""
    original = getattr(fts.FtsIndex, name)

    def wrapper(self, *args):
        started = time.process_time()
        try:
            return original(self, *args)
        finally:
            spent[name] += time.process_time() - started

    setattr(fts.FtsIndex, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=40_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    entries = list(province_entries("js", args.entries))
    standard = load_standard(STANDARD)
    queries = cold_queries([e.name for e in entries], args.queries, random.Random(7))
    synonyms = dict(standard.synonyms.equivalents())
    spent = dict.fromkeys(PHASES, 0.0)
    for name in PHASES:
        timed(spent, name)
    with tempfile.TemporaryDirectory(prefix="yrd-bench-phases-") as tmp:
        with CatalogStore(Path(tmp) / "catalog.db") as store:
            store.insert_many(entries)

            def answer(text: str) -> None:
                terms = parse_query(text, synonyms)
                stats = store.collection_stats(terms)
                store.search(SearchQuery(text=text, terms=terms, stats=stats, limit=20))

            answer("户籍")  # builds the facet index and rank table of this generation
            spent.update(dict.fromkeys(PHASES, 0.0))
            started = time.process_time()
            for text in queries:
                answer(text)
            total = time.process_time() - started

    def per(seconds: float) -> str:
        return f"{seconds / len(queries) * 1000:.2f} ms"

    rest = total - sum(spent.values())
    print(
        f"{args.entries:,} entries, {len(queries)} cold queries: {per(total)} CPU per query; "
        f"postings reads {per(spent['column_ids'])}, entry reads and decoding "
        f"{per(spent['read_entries'])}, the rest {per(rest)}"
    )


if __name__ == "__main__":
    main()
