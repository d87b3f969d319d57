"""Catalog search, whichever backend runs it: the plan of one search (which match to count,
how, which ids to return in which order) and ``Searcher``, which runs it on a backend's read
snapshot with the caches and the facet index of the newest write generation.

Filters become facet-value ids (``facets.filter_ids``), text becomes the backend's match
expression; the total and facets come from ``counting`` (through the count cache), the hits
from the best relevance levels first, or in code order without text. A backend supplies a
``Snapshot`` (one read transaction); the SQLite store's is ``fts.FtsIndex``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from gateway.catalog import textindex
from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.store import counting
from gateway.catalog.store.caches import GenerationCache
from gateway.catalog.store.counting import MatchSet, Outside
from gateway.catalog.store.facets import FacetIndex, filter_chars, filter_ids
from gateway.catalog.store.records import (
    UNRANKED_SCORE,
    Hit,
    LocalResult,
    SearchQuery,
    copy_facets,
    copy_result,
    empty_facets,
)

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


class Snapshot(TextIndex, Protocol):
    """One read snapshot of a backend: its text index, its entries and its facets."""

    def read_entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        """The entries ``ids``, decoded, by id."""
        ...

    def read_facet_index(self, generation: int) -> FacetIndex:
        """The facet index of this snapshot (which is at write generation ``generation``)."""
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


class Searcher:
    """Runs searches on snapshots, with three caches keyed by write generation (see ``caches``)
    and the facet index of the newest generation seen. Thread-safe."""

    def __init__(self, *, count_cache: int, entry_cache: int, result_cache: int) -> None:
        self._counts: GenerationCache[str, tuple[int, dict[str, dict[str, int]] | None]] = (
            GenerationCache(count_cache)
        )
        self._decoded: GenerationCache[int, CatalogEntry] = GenerationCache(entry_cache)
        self._results: GenerationCache[SearchQuery, LocalResult] = GenerationCache(result_cache)
        self._facets: FacetIndex | None = None
        self._facets_lock = threading.Lock()

    @property
    def caches_results(self) -> bool:
        return bool(self._results.size)

    def search(self, snapshot: Snapshot, generation: int, query: SearchQuery) -> LocalResult:
        """``query`` answered on ``snapshot`` (at write generation ``generation``)."""
        terms = textindex.query_terms(query.text)
        index = self._facet_index(snapshot, generation)
        cached = self.cached_result(generation, query)
        if cached is not None:
            return cached
        result = self._search(snapshot, index, query, terms)
        if self._results.size:
            self._results.put(generation, query, copy_result(result))
        return result

    def cached_result(self, generation: int, query: SearchQuery) -> LocalResult | None:
        """The answer to ``query`` at ``generation`` if the result cache holds it (a copy)."""
        cached = self._results.get(generation, query)
        return None if cached is None else copy_result(cached)

    def _search(
        self, snapshot: Snapshot, index: FacetIndex, query: SearchQuery, terms: list[str]
    ) -> LocalResult:
        def counted(
            match: str, facets: bool, outside: Outside | None
        ) -> tuple[int, dict[str, dict[str, int]]]:
            return self._counted(snapshot, index, match, facets, outside)

        planned = plan(snapshot, index, query, terms, counted)
        if planned is None:
            return LocalResult(hits=(), total=0, facets=empty_facets(query))
        ranked, total, facets = planned
        entries = self._entries(snapshot, index.generation, [row_id for row_id, _ in ranked])
        hits = tuple(Hit(entries[row_id], score) for row_id, score in ranked)
        return LocalResult(hits=hits, total=total, facets=facets)

    def _counted(
        self,
        snapshot: Snapshot,
        index: FacetIndex,
        match: str,
        facets: bool,
        outside: Outside | None,
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facets of ``match``, from the count cache when this generation has them."""
        cached = self._counts.get(index.generation, match)
        if cached is not None and (cached[1] is not None or not facets):
            return cached[0], copy_facets(cached[1]) if facets else {}
        total, counts = counting.count(snapshot, index, match, facets, outside)
        if facets:
            counts = counts or {name: {} for name in FACET_FIELDS}
        if self._counts.size:
            kept = copy_facets(counts) if facets else None
            self._counts.put(index.generation, match, (total, kept))
        return total, counts

    def _entries(
        self, snapshot: Snapshot, generation: int, ids: list[int]
    ) -> dict[int, CatalogEntry]:
        """The entries ``ids`` of ``snapshot`` (at ``generation``): decoded ones from the entry
        cache, the others read and decoded, then kept."""
        found, missing = self._decoded.get_many(generation, ids)
        if missing:
            read = snapshot.read_entries(missing)
            found.update(read)
            self._decoded.put_many(generation, read.items())
        return found

    def _facet_index(self, snapshot: Snapshot, generation: int) -> FacetIndex:
        """The facet index for ``snapshot`` (at ``generation``), rebuilt after writes."""
        index = self._facets
        if index is not None and index.generation == generation:
            return index
        with self._facets_lock:
            index = self._facets
            if index is None or index.generation != generation:
                index = snapshot.read_facet_index(generation)
                # A reader on an older snapshot than the installed index builds its own and
                # keeps it to itself; the newest generation wins the shared slot.
                if self._facets is None or self._facets.generation < generation:
                    self._facets = index
        return index
