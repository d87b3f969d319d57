"""Set operations on postings (sorted, unique positions into a catalog's entries), the way a
search does them: numpy's own against ``gateway.catalog.ranking``'s, and ids to positions by
binary search over all ids against the facet index's runs of consecutive ids.

Usage: ``.venv/bin/python scripts/bench_sets.py [--entries 131000]``

Prints microseconds per call (the best of five repeats) for pairs of random postings of several
sizes. A measurement, not a test: the numbers depend on the machine and its load; the ratios
are what matter.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.catalog.ranking import sorted_intersection, sorted_union  # noqa: E402
from gateway.catalog.store.facets import FacetIndex  # noqa: E402

SIZES = ((200, 5000), (5000, 5000), (40000, 60000), (300, 90000))


def best(call, number: int = 200) -> float:
    """Microseconds per call of ``call``, the best of five repeats."""
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=131_000)
    args = parser.parse_args()
    n = args.entries
    rng = np.random.default_rng(1)
    # Ids as a seeded catalog's: resource codes in code order, 101 runs of consecutive ids.
    starts = np.sort(rng.choice(10**14, 101, replace=False)) * 10**4
    ids = np.concatenate([np.arange(s, s + n // 101 + 1) for s in starts])[:n]
    # A replica of it holds only what the owner publishes: 8% left out, ~9,500 runs.
    published = np.sort(rng.choice(ids, int(n * 0.92), replace=False))
    index = FacetIndex(0, (), {}, {}, ranks=ids)
    print(f"{'sizes':>14}  {'operation':<24} {'numpy':>10} {'gateway':>10}")
    for large in (500, 5000, 60000):
        replica = FacetIndex(0, (), {}, {}, ranks=published)
        at = np.sort(rng.choice(len(published), large, replace=False))
        rows = published[at]
        assert np.array_equal(replica.positions(rows), at)
        searched = _searched(published, rows)
        ours = best(lambda replica=replica, rows=rows: replica.positions(rows))
        label, name = f"{large}", "ids→positions (replica)"
        print(f"{label:>14}  {name:<24} {best(searched):>8.1f}µs {ours:>8.1f}µs")
    for small, large in SIZES:
        a = np.sort(rng.choice(n, small, replace=False)).astype(np.intp)
        b = np.sort(rng.choice(n, large, replace=False)).astype(np.intp)
        assert np.array_equal(sorted_union([a, b]), np.unique(np.concatenate([a, b])))
        assert np.array_equal(sorted_intersection(a, b), np.intersect1d(a, b, True))
        rows = ids[b]
        assert np.array_equal(index.positions(rows), b)
        for name, label, theirs, ours in cases(index, a, b, rows):
            print(f"{label:>14}  {name:<24} {best(theirs):>8.1f}µs {best(ours):>8.1f}µs")


def _searched(ids: np.ndarray, rows: np.ndarray):
    """The positions of ``rows`` among ``ids`` by binary search over all of them, checked."""

    def searched() -> np.ndarray:
        at = np.searchsorted(ids, rows)
        np.minimum(at, len(ids) - 1, out=at)
        assert np.array_equal(ids[at], rows)
        return at

    return searched


def cases(index: FacetIndex, a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> list[tuple]:
    """(operation, sizes, numpy's way, the gateway's) for postings ``a`` and ``b``, and the ids
    ``rows`` of ``b``'s positions in ``index``."""
    searched = _searched(index.ranks, rows)
    sizes = f"{len(a)}+{len(b)}"
    return [
        ("union", sizes, lambda: np.unique(np.concatenate([a, b])), lambda: sorted_union([a, b])),
        (
            "intersection",
            sizes,
            lambda: np.intersect1d(a, b, True),
            lambda: sorted_intersection(a, b),
        ),
        ("ids→positions", f"{len(b)}", searched, lambda: index.positions(rows)),
    ]


if __name__ == "__main__":
    main()
