"""``CatalogStore``: a node's catalog in one WAL-mode SQLite file, its Chinese full-text index
(segmented by ``textindex``), integer-coded facets and a small key/value ``meta``.

This module ties the parts together: the connections (``pool``), the schema (``schema``), writes
(``writes``), the caches (``caches``), the facet index (``facets``), the search plan (``search``,
``counting``) and the FTS5 reads behind it (``fts``). Each module's docstring says why it looks
the way it does, with the numbers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from gateway.catalog import textindex
from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.store import counting, fts, schema, search, writes
from gateway.catalog.store.caches import GenerationCache
from gateway.catalog.store.counting import Outside
from gateway.catalog.store.facets import FacetIndex
from gateway.catalog.store.pool import Connections
from gateway.catalog.store.records import (
    Hit,
    LocalResult,
    SearchQuery,
    copy_facets,
    copy_result,
    empty_facets,
)


class CatalogStore:
    """A node's catalog in one SQLite file. Thread-safe; writes are serialised."""

    def __init__(
        self,
        path: str | Path,
        *,
        count_cache: int = 256,
        entry_cache: int = 4096,
        result_cache: int = 128,
    ) -> None:
        """Open (creating if missing) the catalog at ``path``.

        ``count_cache``: how many recent match sets keep their total and facet counts. Exact, not
        a staleness trade: entries are keyed by write generation. A second page of the same
        search, or a popular query, then skips the one step whose cost grows with the matches.

        ``entry_cache``: how many recently returned entries are kept decoded, keyed the same way.
        Reading a hit's row and building its ``CatalogEntry`` (JSON items, a frozen dataclass per
        item) costs ~15 µs; searches keep returning the same popular entries.

        ``result_cache``: how many recent searches keep their whole answer, keyed the same way, so
        a repeated search is answered by ``search_if_cached`` without a worker thread (whose hop
        costs more CPU than such a search's SQL).
        """
        self._path = str(path)
        self._counts: GenerationCache[str, tuple[int, dict[str, dict[str, int]] | None]] = (
            GenerationCache(count_cache)
        )
        self._decoded: GenerationCache[int, CatalogEntry] = GenerationCache(entry_cache)
        self._results: GenerationCache[SearchQuery, LocalResult] = GenerationCache(result_cache)
        self._facets: FacetIndex | None = None
        self._facets_lock = threading.Lock()
        self._pool = Connections(self._path)
        try:
            with self._pool.write() as conn:
                schema.init_schema(conn, self._path)
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        """Close every connection. Searches still running on other threads must finish first."""
        self._pool.close()

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta and writes -----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._pool.read() as conn:
            return schema.get_meta(conn, key)

    def set_meta(self, key: str, value: str) -> None:
        with self._pool.write() as conn:
            schema.set_meta(conn, key, value)

    def insert_many(self, entries: Iterable[CatalogEntry], *, batch_size: int = 5000) -> int:
        """Insert or replace (by code) ``entries``, one transaction per batch; returns how many
        were written. Raises ``ValueError`` (before writing that batch) for a malformed code."""
        return writes.insert_many(self._pool, entries, batch_size)

    def clear(self) -> None:
        """Remove every entry (meta and the facet-value dictionary stay)."""
        writes.clear(self._pool)

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._pool.read() as conn:
            return int(conn.execute("SELECT count(*) FROM entry_facets").fetchone()[0])

    def get(self, code: str) -> CatalogEntry | None:
        with self._pool.read() as conn:
            return fts.read_entry(conn, code)

    def search(self, query: SearchQuery) -> LocalResult:
        """Entries matching every term of ``query.text`` and ``query.filters``, best first.

        Hits are ordered by (score desc, code asc); without text, by code. ``total`` and the
        facets count every match, not only the returned hits.
        """
        if query.limit < 0:
            raise ValueError("limit must not be negative")
        terms = textindex.query_terms(query.text)
        with self._pool.read() as conn:
            index = self._facet_index(conn)
            cached = self._cached_result(index.generation, query)
            if cached is not None:
                return cached
            result = self._search(conn, index, query, terms)
        if self._results.size:
            self._results.put(index.generation, query, copy_result(result))
        return result

    def search_if_cached(self, query: SearchQuery) -> LocalResult | None:
        """What ``search`` answers, if the result cache holds this query at the current write
        generation; else None. One indexed read: cheap enough to call on an event loop."""
        with self._pool.idle_reader() as conn:
            if not self._results.size or conn is None:
                return None
            generation = schema.generation(conn)  # autocommit: one snapshot
        return self._cached_result(generation, query)

    def _cached_result(self, generation: int, query: SearchQuery) -> LocalResult | None:
        cached = self._results.get(generation, query)
        return None if cached is None else copy_result(cached)

    def _search(
        self, conn: sqlite3.Connection, index: FacetIndex, query: SearchQuery, terms: list[str]
    ) -> LocalResult:
        text_index = fts.FtsIndex(conn)

        def counted(
            match: str, facets: bool, outside: Outside | None
        ) -> tuple[int, dict[str, dict[str, int]]]:
            return self._counted(text_index, index, match, facets, outside)

        planned = search.plan(text_index, index, query, terms, counted)
        if planned is None:
            return LocalResult(hits=(), total=0, facets=empty_facets(query))
        ranked, total, facets = planned
        entries = self._entries(conn, index.generation, [row_id for row_id, _ in ranked])
        hits = tuple(Hit(entries[row_id], score) for row_id, score in ranked)
        return LocalResult(hits=hits, total=total, facets=facets)

    def _counted(
        self,
        text_index: fts.FtsIndex,
        index: FacetIndex,
        match: str,
        facets: bool,
        outside: Outside | None,
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facets of ``match``, from the count cache when this generation has them."""
        cached = self._counts.get(index.generation, match)
        if cached is not None and (cached[1] is not None or not facets):
            return cached[0], copy_facets(cached[1]) if facets else {}
        total, counts = counting.count(text_index, index, match, facets, outside)
        if facets:
            counts = counts or {name: {} for name in FACET_FIELDS}
        if self._counts.size:
            self._counts.put(
                index.generation, match, (total, copy_facets(counts) if facets else None)
            )
        return total, counts

    def _entries(
        self, conn: sqlite3.Connection, generation: int, ids: list[int]
    ) -> dict[int, CatalogEntry]:
        """The entries ``ids`` of the snapshot ``conn`` reads (at ``generation``): decoded ones
        from the entry cache, the others read and decoded, then kept."""
        found, missing = self._decoded.get_many(generation, ids)
        if missing:
            read = fts.read_entries(conn, missing)
            found.update(read)
            self._decoded.put_many(generation, read.items())
        return found

    def _facet_index(self, conn: sqlite3.Connection) -> FacetIndex:
        """The facet index for the snapshot ``conn`` reads, rebuilt after writes."""
        generation = schema.generation(conn)
        index = self._facets
        if index is not None and index.generation == generation:
            return index
        with self._facets_lock:
            index = self._facets
            if index is None or index.generation != generation:
                index = fts.read_facet_index(conn, generation)
                # A reader on an older snapshot than the installed index builds its own and
                # keeps it to itself; the newest generation wins the shared slot.
                if self._facets is None or self._facets.generation < generation:
                    self._facets = index
        return index
