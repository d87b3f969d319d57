"""The plan of one catalog search, whichever backend runs it: which match to count, how, and
which ids to return in which order.

Filters become facet-value ids (``facets.filter_ids``), text becomes the backend's match
expression; the total and facets come from ``counting`` (through the store's count cache), the
hits from the best relevance levels first, or in code order without text. A backend supplies a
``TextIndex`` over one read snapshot; the SQLite store's is ``fts.FtsIndex``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from gateway.catalog.store.counting import MatchSet, Outside
from gateway.catalog.store.facets import FacetIndex, filter_chars, filter_ids
from gateway.catalog.store.records import UNRANKED_SCORE, SearchQuery, copy_facets

Counted = Callable[[str, bool, Outside | None], tuple[int, dict[str, dict[str, int]]]]
"""Total and facets of a match expression (``counting.count``, maybe through a cache)."""


class TextIndex(MatchSet, Protocol):
    """A backend's text index inside one read snapshot, in its own match language."""

    def tags(self, allowed: Iterable[set[int] | None]) -> str:
        """Entries with an allowed facet value in every field that has a set ('' if none)."""
        ...

    def text(self, terms: list[str]) -> str:
        """Entries with every term in some text column."""
        ...

    def both(self, first: str, second: str) -> str: ...

    def but_not(self, first: str, second: str) -> str: ...

    def ranked(self, terms: list[str], tags: str, limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` (id, score) pairs of ``terms`` within ``tags``, best first."""
        ...

    def first(self, match: str | None, limit: int) -> list[int]:
        """The first ``limit`` ids in code order of ``match`` (None: of every entry)."""
        ...


def plan(
    text_index: TextIndex,
    index: FacetIndex,
    query: SearchQuery,
    terms: list[str],
    counted: Counted,
) -> tuple[list[tuple[int, float]], int, dict[str, dict[str, int]]] | None:
    """The ranked (id, score) pairs, total and facets of ``query``; None when a filtered field
    names only values no entry has (nothing can match)."""
    allowed = filter_ids(index, query.filters)
    if allowed is None:
        return None
    tags = text_index.tags(allowed)
    text = text_index.text(terms) if terms else ""
    if terms:
        match: str | None = text_index.both(text, tags) if tags else text
    else:
        match = tags or None
    if match is None:
        # Neither text nor filters: the whole catalog, counted when the index was built.
        facets = copy_facets(index.everything) if query.facets else {}
        ids = text_index.first(None, query.limit)
        return [(row_id, UNRANKED_SCORE) for row_id in ids], index.size, facets
    outside = None
    if terms and (tags or index.universe):
        selected = tags or text_index.tags([set(index.universe)])
        outside = (text_index.but_not(selected, text), filter_chars(index, query.filters))
    total, facets = counted(match, query.facets, outside)
    if terms:
        ranked = text_index.ranked(terms, tags, min(query.limit, total))
    else:
        ids = text_index.first(match, min(query.limit, total))
        ranked = [(row_id, UNRANKED_SCORE) for row_id in ids]
    return ranked, total, facets
