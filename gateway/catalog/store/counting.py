"""Counting a search's matches and their facets, and choosing the cheaper of two exact ways.

Backend-neutral: it plans over a ``MatchSet`` (what a backend's text index answers inside one
read snapshot) and the ``FacetIndex``; the SQLite store implements ``MatchSet`` with FTS5.

Why two ways (scripts/bench_store.py has the numbers): a generic term (信息, 数据) matches most
of the catalog, and each counted match costs ~0.25 µs in all (~40 ms for 131,000): when a few
probes say the text takes most of what the filters select, the entries it does *not* take are
counted instead and taken from the filters' own counts (known from the facet map), which is
exact and ~4x cheaper.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gateway.catalog.model import FACET_FIELDS
from gateway.catalog.store.facets import FacetIndex

# ``dense`` probes the match set at this many points of the catalog, reading this many matches
# at each. Counting the entries a filter selects that the text does not, and taking them from
# the filter's counts, pays once the text matches this share of them: FTS5 then reads every
# selected entry (~0.05 µs each), while each counted entry costs ~0.25 µs (its id as text,
# split, looked up).
PROBE_POINTS = 6
PROBE_ROWS = 32
DENSE_SHARE = 0.6

Outside = tuple[str, list[frozenset[str] | None]]
"""The entries the filters select that the text does not: a match expression for them, and the
filters as facet characters per field (None = any)."""


class MatchSet(Protocol):
    """What counting asks a backend's text index, inside one read snapshot. ``match`` is a match
    expression in the backend's own language."""

    def count(self, match: str) -> int:
        """How many entries ``match`` matches."""
        ...

    def ids(self, match: str) -> str | None:
        """The ids of the entries ``match`` matches as comma-separated text (None when there
        are none)."""
        ...

    def probe(self, match: str, start: int, rows: int) -> tuple[int, int]:
        """How many of the first ``rows`` matches at ids from ``start`` on there are (in id
        order), and the last one's id (0 when there is none)."""
        ...


def count(
    matches: MatchSet,
    index: FacetIndex,
    match: str,
    facets: bool,
    outside: Outside | None = None,
) -> tuple[int, dict[str, dict[str, int]]]:
    """Total and facets of ``match``. ``outside``: the entries the filters select that ``match``
    does not; when ``match`` takes most of what the filters select, those few are counted and
    taken from the filters' counts (exact either way; only cheaper when a generic term matches
    most of the catalog)."""
    if not facets:
        return matches.count(match), {}
    if outside is not None and index.size:
        total, within = index.within(outside[1])
        if dense(matches, index, match, DENSE_SHARE * total):
            return count_rest(matches, index, outside[0], total, within)
    ids = matches.ids(match)
    if ids is None:
        return 0, {}
    return index.count(ids)


def count_rest(
    matches: MatchSet,
    index: FacetIndex,
    rest: str,
    total: int,
    within: dict[str, dict[str, int]],
) -> tuple[int, dict[str, dict[str, int]]]:
    """Total and facets of a match set from those of what the filters select (``total``,
    ``within``) minus those of ``rest``, the selected entries it does not take. Values keep the
    order ``FacetIndex.count`` gives them, and a count of zero is left out as there."""
    ids = matches.ids(rest)
    rested, dropped = index.count(ids) if ids else (0, {})
    counts = {}
    for name, pairs in zip(FACET_FIELDS, index.values, strict=True):
        have, drop = within.get(name, {}), dropped.get(name, {})
        counts[name] = {
            value: n for _, value in pairs if (n := have.get(value, 0) - drop.get(value, 0))
        }
    return total - rested, counts


def dense(matches: MatchSet, index: FacetIndex, match: str, least: float) -> bool:
    """Whether ``match`` probably has at least ``least`` matches. A guess from the density of
    matches at ``PROBE_POINTS`` places spread over the catalog (entries of a category are
    neighbours in code order, so one place says little), stopping as soon as the places left
    could not make up the difference; it only picks the cheaper way to count."""
    ranks = index.ranks
    size = len(ranks)
    wanted = least / size * PROBE_POINTS  # the sum of the places' densities to reach
    density = 0.0
    for point in range(PROBE_POINTS):
        if density + (PROBE_POINTS - point) < wanted:
            return False
        start = point * size // PROBE_POINTS
        n, last = matches.probe(match, int(ranks[start]), PROBE_ROWS)
        if n < PROBE_ROWS:
            if point == 0:
                return False  # fewer matches in all than one probe reads
            end = size
        else:
            end = int(np.searchsorted(ranks, last, side="right"))
        density += n / max(1, end - start)
    return density >= wanted
