"""Catalog search, whichever backend runs it: the plan of one search and ``Searcher``, which runs
it on a backend's read snapshot with the caches, the facet index and the rank table of the
newest write generation. After a write those two tables are brought forward from the entries
it touched (``Snapshot.read_written``), not read whole again.

Filters become facet-value ids (``facets.filter_ids``). A search with text is ranked by BM25F
in ``relevance`` from the backend's per-field postings (cached by write generation); one
without text lists what the filters select in code order, counted on the facet index alone.
Either way a backend only answers "which entries hold this term in this field", reads entries
and builds the two per-generation tables: its ``Snapshot`` (one read transaction; the SQLite
store's is ``fts.FtsIndex``, PostgreSQL's ``pgtext.PgTextIndex``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from gateway.catalog import textindex
from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.ranking import FIELDS, CollectionStats
from gateway.catalog.store.caches import GenerationCache
from gateway.catalog.store.facets import (
    FacetIndex,
    WrittenEntries,
    filter_chars,
    filter_ids,
    moved,
    patch_facet_index,
)
from gateway.catalog.store.feed import WITHHELD_SHARE_TYPE
from gateway.catalog.store.records import (
    UNRANKED_SCORE,
    Hit,
    LocalResult,
    SearchQuery,
    empty_facets,
)
from gateway.catalog.store.relevance import (
    Postings,
    RankTable,
    Relevance,
    patch_rank_table,
)

#: Entries written since the installed facet index's generation that are patched into it
#: rather than read whole: at least this many, or a ``_PATCHED_SHARE``-th of the catalog.
_PATCHED_AT_LEAST = 4096
_PATCHED_SHARE = 8


class _Nothing:
    """A filter no entry passes."""


_NOTHING = _Nothing()


class Snapshot(Postings, Protocol):
    """One read snapshot of a backend: its per-field postings, its entries and its facets."""

    def read_entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        """The entries ``ids``, decoded, by id."""
        ...

    def read_facet_index(self, generation: int) -> FacetIndex:
        """The facet index of this snapshot (which is at write generation ``generation``)."""
        ...

    def read_rank_table(self, index: FacetIndex) -> RankTable:
        """The rank table of this snapshot, whose facet index is ``index``."""
        ...

    def read_written(self, since: int, generation: int, limit: int) -> WrittenEntries | None:
        """The entries written after generation ``since``, as this snapshot (at
        ``generation``) holds them; None when the backend cannot say, or more than ``limit``
        were written (the caller then reads every entry)."""
        ...


class Searcher:
    """Runs searches on snapshots, with three caches keyed by write generation (see ``caches``)
    and the facet index of the newest generation seen. Thread-safe."""

    def __init__(
        self,
        *,
        postings_cache: int,
        entry_cache: int,
        result_cache: int,
        common_bytes: int = 0,
        cache_bytes: int | None = None,
    ) -> None:
        self._decoded: GenerationCache[int, CatalogEntry] = GenerationCache(entry_cache)
        self._results: GenerationCache[SearchQuery, LocalResult] = GenerationCache(result_cache)
        self._stats: GenerationCache[tuple[bool, tuple[str, ...]], CollectionStats] = (
            GenerationCache(result_cache)
        )
        self._relevance = Relevance(
            postings_cache=postings_cache, common_bytes=common_bytes, cache_bytes=cache_bytes
        )
        self._facets: FacetIndex | None = None
        self._table: RankTable | None = None
        self._facets_lock = threading.Lock()
        self._published: tuple[int, list[set[int] | None] | None | _Nothing] = (-1, None)

    @property
    def cached_bytes(self) -> int | None:
        """What the caches of arrays hold now (None: bounded by count alone)."""
        return self._relevance.cached_bytes

    @property
    def caches_results(self) -> bool:
        return bool(self._results.size)

    def search(self, snapshot: Snapshot, generation: int, query: SearchQuery) -> LocalResult:
        """``query`` answered on ``snapshot`` (at write generation ``generation``)."""
        index = self._facet_index(snapshot, generation)
        cached = self.cached_result(generation, query)
        if cached is not None:
            return cached
        terms = query.terms if query.terms is not None else textindex.parse_query(query.text)
        if terms:
            result = self._ranked(snapshot, index, query, terms)
        else:
            result = self._listed(snapshot, index, query)
        if self._results.size:
            self._results.put(generation, query, result)
        return result

    def warm(self, snapshot: Snapshot, generation: int) -> None:
        """Build the facet index and rank table of ``snapshot`` (at ``generation``) now, which
        the first search after a start or a write would otherwise build."""
        self._rank_table(snapshot, self._facet_index(snapshot, generation))

    def keep_common(
        self, snapshot: Snapshot, generation: int, *, stop: Callable[[], bool] = bool
    ) -> int:
        """Read the commonest terms' postings on ``snapshot`` and keep them for good when they
        are due (``Relevance.keep_common``); how many terms that keeps (0 when not due)."""
        index = self._facet_index(snapshot, generation)
        return self._relevance.keep_common(snapshot, index, stop=stop)

    def common_due(self, snapshot: Snapshot, generation: int) -> bool:
        """Whether ``keep_common`` would choose terms on ``snapshot`` (a cheap check)."""
        return self._relevance.common_due(self._facet_index(snapshot, generation).size)

    @property
    def common_terms(self) -> dict[str, int]:
        """The terms whose postings are kept for good, each with the generation it is at."""
        return self._relevance.common

    def cached_result(self, generation: int, query: SearchQuery) -> LocalResult | None:
        """The answer to ``query`` at ``generation`` if the result cache holds it."""
        return self._results.get(generation, query)

    def stats(
        self,
        snapshot: Snapshot,
        generation: int,
        terms: tuple[textindex.QueryTerm, ...],
        *,
        published_only: bool = False,
    ) -> CollectionStats:
        """This catalog's collection statistics for ``terms`` on ``snapshot``; with
        ``published_only``, over the entries its owner publishes (``feed.publishes``): what
        every other node's replica of it holds, so every node sums the same statistics."""
        key = (published_only, tuple(t.key for t in terms))
        cached = self._stats.get(generation, key)
        if cached is not None:
            return cached
        stats = self._stats_of(snapshot, generation, terms, published_only)
        if self._stats.size:
            self._stats.put(generation, key, stats)
        return stats

    def cached_stats(
        self, generation: int, terms: tuple[textindex.QueryTerm, ...], *, published_only: bool
    ) -> CollectionStats | None:
        """``stats`` at ``generation`` if the statistics cache holds them; else None."""
        return self._stats.get(generation, (published_only, tuple(t.key for t in terms)))

    def _stats_of(
        self,
        snapshot: Snapshot,
        generation: int,
        terms: tuple[textindex.QueryTerm, ...],
        published_only: bool,
    ) -> CollectionStats:
        index = self._facet_index(snapshot, generation)
        table = self._rank_table(snapshot, index)
        allowed = None
        if published_only:
            published = self._published_filter(index)
            if isinstance(published, _Nothing):
                df = tuple(sorted((t.key, 0) for t in terms))
                return CollectionStats(0, (0,) * len(FIELDS), df)
            allowed = published
        return self._relevance.stats(snapshot, index, table, terms, allowed)

    def _published_filter(self, index: FacetIndex) -> list[set[int] | None] | None | _Nothing:
        """The filter selecting what ``index``'s catalog publishes (None: every entry;
        ``_NOTHING``: no entry), kept for its generation."""
        generation, published = self._published
        if generation != index.generation:
            published = None
            if ("share_type", WITHHELD_SHARE_TYPE) in index.ids:
                shared = tuple(
                    value
                    for field, value in index.ids
                    if field == "share_type" and value != WITHHELD_SHARE_TYPE
                )
                published = filter_ids(index, Filters(share_types=shared)) if shared else None
                if published is None:
                    published = _NOTHING
            self._published = (index.generation, published)
        return published

    def _ranked(
        self,
        snapshot: Snapshot,
        index: FacetIndex,
        query: SearchQuery,
        terms: tuple[textindex.QueryTerm, ...],
    ) -> LocalResult:
        allowed = filter_ids(index, query.filters)
        if allowed is None:
            return LocalResult(hits=(), total=0, facets=empty_facets(query))
        table = self._rank_table(snapshot, index)
        ranked, total, facets = self._relevance.search(
            snapshot,
            index,
            table,
            terms,
            allowed,
            query.stats,
            query.limit,
            query.facets,
            query.floor,
        )
        if query.facets and not total:
            facets = empty_facets(query)
        return self._answer(snapshot, index, ranked, total, facets)

    def _listed(self, snapshot: Snapshot, index: FacetIndex, query: SearchQuery) -> LocalResult:
        """A search without text: what the filters select, in code order, unranked."""
        allowed = filter_ids(index, query.filters)
        if allowed is None:
            return LocalResult(hits=(), total=0, facets=empty_facets(query))
        selected = self._relevance.selected(index, allowed)
        if selected is None:
            ids = index.ranks[: query.limit]
            total, facets = index.size, index.everything
        else:
            ids = index.ranks[np.flatnonzero(selected)[: query.limit]]
            total, facets = index.within(filter_chars(index, query.filters))
        ranked = [(row_id, UNRANKED_SCORE) for row_id in ids.tolist()]
        return self._answer(snapshot, index, ranked, total, facets if query.facets else {})

    def _answer(
        self,
        snapshot: Snapshot,
        index: FacetIndex,
        ranked: list[tuple[int, float]],
        total: int,
        facets: dict[str, dict[str, int]],
    ) -> LocalResult:
        entries = self._entries(snapshot, index.generation, [row_id for row_id, _ in ranked])
        hits = tuple(Hit(entries[row_id], score) for row_id, score in ranked)
        return LocalResult(hits=hits, total=total, facets=facets)

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
        """The facet index for ``snapshot`` (at ``generation``), brought forward after
        writes."""
        index = self._facets
        if index is not None and index.generation == generation:
            return index
        with self._facets_lock:
            index = self._facets
            if index is None or index.generation != generation:
                index = self._next_facet_index(snapshot, generation, index)
                # A reader on an older snapshot than the installed index builds its own and
                # keeps it to itself; the newest generation wins the shared slot.
                if self._facets is None or self._facets.generation < generation:
                    self._facets = index
        return index

    def _next_facet_index(
        self, snapshot: Snapshot, generation: int, before: FacetIndex | None
    ) -> FacetIndex:
        """The facet index at ``generation``: ``before`` brought forward from the entries
        written since, when the snapshot can list them and they are few (its rank table comes
        forward with it); else read whole. At 131,000 entries a whole read of both costs about
        0.2 s of CPU, which every search after every write paid, and a one-entry write's patch
        about a tenth of it."""
        if before is None or before.generation > generation:
            return snapshot.read_facet_index(generation)
        limit = max(_PATCHED_AT_LEAST, before.size // _PATCHED_SHARE)
        written = snapshot.read_written(before.generation, generation, limit)
        if written is None:
            return snapshot.read_facet_index(generation)
        shift = moved(before, written)
        index = patch_facet_index(before, written, shift)
        self._relevance.note_moved(shift)
        table = self._table
        if table is not None and table.generation == before.generation:
            self._table = patch_rank_table(table, before, index, written, shift)
        return index

    def _rank_table(self, snapshot: Snapshot, index: FacetIndex) -> RankTable:
        """The rank table for ``snapshot`` (whose facet index is ``index``), built on the first
        search with text and brought forward with the facet index after writes (read whole
        when it could not be)."""
        table = self._table
        if table is not None and table.generation == index.generation:
            return table
        with self._facets_lock:
            table = self._table
            if table is None or table.generation != index.generation:
                table = snapshot.read_rank_table(index)
                if self._table is None or self._table.generation < index.generation:
                    self._table = table
        return table
