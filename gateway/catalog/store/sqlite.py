"""``CatalogStore``: a node's catalog in one WAL-mode SQLite file, its Chinese full-text index
(segmented by ``textindex``), integer-coded facets and a small key/value ``meta``.

This module ties the SQLite parts together: the connections (``pool``), the schema (``schema``),
writes (``writes``) and the FTS5 reads (``fts``), on which the backend-neutral ``search.Searcher``
runs searches with its caches and facet index. Each module's docstring says why it looks the
way it does, with the numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gateway.catalog.model import CatalogEntry
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.settings import SEARCH_CACHE_MIB
from gateway.catalog.store import feed, fts, replica, schema, writes
from gateway.catalog.store.feed import ChangePage
from gateway.catalog.store.pool import Connections
from gateway.catalog.store.records import LocalResult, SearchQuery
from gateway.catalog.store.search import Searcher
from gateway.catalog.textindex import QueryTerm


class CatalogStore:
    """A node's catalog in one SQLite file. Thread-safe; writes are serialised."""

    def __init__(
        self,
        path: str | Path,
        *,
        postings_cache: int = 512,
        entry_cache: int = 4096,
        result_cache: int = 128,
        common_postings_mib: float = 4.0,
        search_cache_mib: float | None = SEARCH_CACHE_MIB,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (creating if missing) the catalog at ``path``.

        ``clock``: the time (seconds since the epoch) stamped on each change in the feed.

        ``postings_cache``: how many recent query terms keep their per-field postings (the
        entries holding the term in each field). Exact, not a staleness trade: entries are keyed
        by write generation. A second page of the same search, another filter on it, or a
        popular term then skips the one step whose cost grows with the matches.

        ``entry_cache``: how many recently returned entries are kept decoded, keyed the same way.
        Reading a hit's row and building its ``CatalogEntry`` (JSON items, a frozen dataclass per
        item) costs ~15 µs; searches keep returning the same popular entries.

        ``result_cache``: how many recent searches keep their whole answer, keyed the same way, so
        a repeated search is answered by ``search_if_cached`` without a worker thread (whose hop
        costs more CPU than such a search's SQL).

        ``common_postings_mib``: how much memory the postings of the catalog's commonest terms
        may take, read by ``keep_common`` and kept for good (``Relevance.keep_common``); 0 keeps
        none.
        At 131,000 entries 4 MiB holds the 133 commonest (855 in 16 MiB; a search's p99 gained
        nothing more from them).

        ``search_cache_mib``: how much the caches of arrays may hold together (recent terms'
        postings and scores, filter masks and normalizers; ``caches.ByteBudget``), on top of
        their counts; None bounds them by count alone. A common term's postings and scores take
        megabytes where a rare one's take bytes, so a count does not bound memory.
        """
        self._path = str(path)
        self._clock = clock
        self._searcher = Searcher(
            postings_cache=postings_cache,
            entry_cache=entry_cache,
            result_cache=result_cache,
            common_bytes=int(common_postings_mib * 2**20),
            cache_bytes=None if search_cache_mib is None else int(search_cache_mib * 2**20),
        )
        self._pool = Connections(self._path)
        try:
            with self._pool.write() as conn:
                schema.init_schema(conn, self._path, clock())
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        """Close every connection; a read still running on another thread closes its own
        when it ends (``Connections.close``)."""
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
        return writes.insert_many(self._pool, entries, batch_size, self._clock)

    def withdraw(self, codes: Iterable[str]) -> int:
        """Delete the entries of ``codes``; returns how many there were."""
        return writes.withdraw(self._pool, codes, self._clock)

    def clear(self) -> None:
        """Remove every entry (meta and the facet-value dictionary stay)."""
        writes.clear(self._pool, self._clock)

    # -- the change feed, as its owner and as a follower ---------------------------------------

    def changes_since(self, since: int, limit: int) -> ChangePage:
        """The published changes numbered above ``since``, at most ``limit`` (``feed``)."""
        with self._pool.read() as conn:
            return feed.LITE.read(feed.Lite(conn), since, limit)

    def replica_state(self) -> replica.ReplicaState:
        with self._pool.read() as conn:
            return replica.read_state(conn)

    def reset_replica(self, feed_id: str) -> replica.ReplicaState:
        with self._pool.write() as conn:
            return replica.reset(conn, feed_id, self._clock())

    def apply_changes(self, page: ChangePage) -> replica.ReplicaState:
        """Apply an owner's ``page`` and move the cursor, in one transaction (``replica``)."""
        with self._pool.write() as conn:
            return replica.apply(conn, page, self._clock())

    def department_names(self) -> dict[str, str]:
        """Department code -> name, as the entries name them (a replica's facet labels)."""
        with self._pool.read() as conn:
            rows = conn.execute(
                "SELECT department_code, max(department) FROM entries GROUP BY department_code"
            ).fetchall()
        return {str(code): str(name) for code, name in rows}

    def note_replica(self, *, connected: bool, head: int | None) -> replica.ReplicaState:
        with self._pool.write() as conn:
            return replica.note(conn, connected=connected, head=head, now=self._clock())

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._pool.read() as conn:
            return int(conn.execute("SELECT count(*) FROM entry_facets").fetchone()[0])

    def get(self, code: str) -> CatalogEntry | None:
        with self._pool.read() as conn:
            return fts.read_entry(conn, code)

    def search(self, query: SearchQuery) -> LocalResult:
        """Entries matching every term of ``query.text`` and ``query.filters``, best first.

        Hits are ordered by score (BM25F, see ``gateway.catalog.ranking``); without text, by
        code. ``total`` and the facets count every match, not only the returned hits.
        """
        if query.limit < 0:
            raise ValueError("limit must not be negative")
        with self._pool.read() as conn:
            return self._searcher.search(fts.FtsIndex(conn), schema.generation(conn), query)

    def collection_stats(
        self, terms: tuple[QueryTerm, ...], *, published_only: bool = False
    ) -> CollectionStats:
        """This catalog's statistics for ranking ``terms`` (``SearchQuery.stats`` takes them,
        ``CollectionStats.combine``d over every province's store); ``published_only``: over
        what the owner publishes (``Searcher.stats``)."""
        with self._pool.read() as conn:
            return self._searcher.stats(
                fts.FtsIndex(conn), schema.generation(conn), terms, published_only=published_only
            )

    def warm(self) -> None:
        """Build what every search reads (the facet index and rank table of the current write
        generation) now: a node does it before it reports serving, so its first search does
        not (~0.3 s at 131,000 entries)."""
        with self._pool.read() as conn:
            self._searcher.warm(fts.FtsIndex(conn), schema.generation(conn))

    def keep_common(self, *, stop: Callable[[], bool] = bool) -> int:
        """Read the postings of the catalog's commonest terms and keep them for good, in at most
        ``common_postings_mib`` (``Relevance.keep_common``): the first time it holds entries,
        and again once it holds twice as many as then; how many terms that keeps (0 when it
        did nothing). ~1.3 s of CPU at 131,000 entries, so a node does it after it reports
        serving; ``stop``: asked before each term, True ends it there."""
        with self._pool.read() as conn:  # most calls (a follower's, at every level page) end here
            if not self._searcher.common_due(fts.FtsIndex(conn), schema.generation(conn)):
                return 0
        with self._pool.read_apart() as conn:
            return self._searcher.keep_common(
                fts.FtsIndex(conn), schema.generation(conn), stop=stop
            )

    def release_memory(self) -> None:
        """Free the pages the connections cache (``Connections.shrink``): a follower calls it
        once its first catch-up is over."""
        self._pool.shrink()

    @property
    def search_cache_bytes(self) -> int | None:
        """What the search caches under ``search_cache_mib`` hold now (None: no such bound)."""
        return self._searcher.cached_bytes

    def search_if_cached(self, query: SearchQuery) -> LocalResult | None:
        """What ``search`` answers, if the result cache holds this query at the current write
        generation; else None. One indexed read: cheap enough to call on an event loop."""
        generation = self.cached_generation()
        return None if generation is None else self._searcher.cached_result(generation, query)

    def collection_stats_if_cached(
        self, terms: tuple[QueryTerm, ...], *, published_only: bool = False
    ) -> CollectionStats | None:
        """What ``collection_stats`` answers, if its cache holds it at the current write
        generation; else None. As cheap as ``search_if_cached``."""
        generation = self.cached_generation()
        if generation is None:
            return None
        return self._searcher.cached_stats(generation, terms, published_only=published_only)

    def cached_generation(self) -> int | None:
        """The current write generation if answers are cached and a reader is free right now
        (one indexed read, fit for the event loop): what a caller keeps answers built from this
        store's cached ones under; else None."""
        with self._pool.idle_reader() as conn:
            if not self._searcher.caches_results or conn is None:
                return None
            return schema.generation(conn)  # autocommit: one snapshot
