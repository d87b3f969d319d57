"""``PgCatalogStore``: a province's catalog in its PostgreSQL database, shared by its replicas,
answering the same searches as the SQLite ``CatalogStore`` through the same ``search.Searcher``
(``pgtext.PgTextIndex`` is its snapshot).

Tables mirror the SQLite file's (``catalog_entries``, ``catalog_facet_values``,
``catalog_entry_facets``, ``catalog_meta``); ``catalog_fts`` holds per entry one ``tsvector`` per
text column, each with a GIN index, and the columns' lengths in tokens. A search reads
one REPEATABLE READ snapshot; every write moves ``generation`` as in SQLite, so the caches stay
exact across replicas (a replica reads the generation of its snapshot).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from gateway.catalog import textindex
from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.settings import SEARCH_CACHE_MIB
from gateway.catalog.store.entries import (
    ENTRY_COLUMNS,
    batched,
    code_key,
    entry_from_row,
    entry_row,
    facet_values,
)
from gateway.catalog.store.feed import PG, PG_MIGRATION, ChangePage
from gateway.catalog.store.pgtext import SELECT_ENTRY, TEXT_COLUMNS, PgTextIndex, tsvector
from gateway.catalog.store.records import LocalResult, SearchQuery
from gateway.catalog.store.search import Searcher
from gateway.catalog.textindex import QueryTerm
from gateway.postgres import Postgres, SqlConn, migrate

__all__ = ["MIGRATIONS", "PgCatalogStore"]

# The entry columns of the first step, frozen: a later column is a later step.
_COLUMNS_1 = ENTRY_COLUMNS[: ENTRY_COLUMNS.index("local_category") + 1]
_COLUMNS_SQL = ",\n".join(
    f"    {c} {'BIGINT' if c == 'id' else 'TEXT'} NOT NULL" for c in ("id", *_COLUMNS_1)
)
MIGRATIONS = (
    f"""
CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO catalog_meta VALUES ('generation', '0'),
    ('textindex_version', '{textindex.TEXTINDEX_VERSION}');
CREATE TABLE catalog_entries (
{_COLUMNS_SQL},
    PRIMARY KEY (id),
    UNIQUE (code)
);
CREATE TABLE catalog_facet_values (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (field, value)
);
CREATE TABLE catalog_entry_facets (
    id BIGINT PRIMARY KEY,
    category BIGINT NOT NULL,
    grade BIGINT NOT NULL,
    share_type BIGINT NOT NULL,
    department BIGINT NOT NULL,
    update_cycle BIGINT NOT NULL
);
CREATE TABLE catalog_fts (
    id BIGINT PRIMARY KEY,
    name TSVECTOR NOT NULL,
    department TSVECTOR NOT NULL,
    items TSVECTOR NOT NULL,
    abstract TSVECTOR NOT NULL,
    alltext TSVECTOR NOT NULL,
    tags BIGINT[] NOT NULL
);
CREATE INDEX catalog_fts_name ON catalog_fts USING gin (name);
CREATE INDEX catalog_fts_department ON catalog_fts USING gin (department);
CREATE INDEX catalog_fts_items ON catalog_fts USING gin (items);
CREATE INDEX catalog_fts_abstract ON catalog_fts USING gin (abstract);
CREATE INDEX catalog_fts_alltext ON catalog_fts USING gin (alltext);
CREATE INDEX catalog_fts_tags ON catalog_fts USING gin (tags);
""",
    # The GB/T 43697 mark (重要数据/核心数据): an entry field and a facet; every existing entry is
    # unmarked (the empty value), its tags gain that value's id.
    """
ALTER TABLE catalog_entries ADD COLUMN data_mark TEXT NOT NULL DEFAULT '';
INSERT INTO catalog_facet_values (field, value) VALUES ('data_mark', '')
    ON CONFLICT (field, value) DO NOTHING;
ALTER TABLE catalog_entry_facets ADD COLUMN data_mark BIGINT;
UPDATE catalog_entry_facets SET data_mark =
    (SELECT id FROM catalog_facet_values WHERE field = 'data_mark' AND value = '');
ALTER TABLE catalog_entry_facets ALTER COLUMN data_mark SET NOT NULL;
UPDATE catalog_fts SET tags = tags ||
    (SELECT id FROM catalog_facet_values WHERE field = 'data_mark' AND value = '');
UPDATE catalog_meta SET value = (value::bigint + 1)::text WHERE key = 'generation';
""",
    # Each text column's length in tokens, for BM25's length normalization (``relevance``):
    # the number of positions its tsvector holds.
    """
ALTER TABLE catalog_fts ADD COLUMN lengths INTEGER[];
UPDATE catalog_fts SET lengths = ARRAY[
    (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(name)),
    (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(department)),
    (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(items)),
    (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(abstract))
]::INTEGER[];
ALTER TABLE catalog_fts ALTER COLUMN lengths SET NOT NULL;
-- Searches no longer match on the concatenated text or the facet ids (see pgtext).
DROP INDEX catalog_fts_alltext;
DROP INDEX catalog_fts_tags;
ALTER TABLE catalog_fts DROP COLUMN alltext, DROP COLUMN tags;
""",
    # 4: the change feed (``feed``); the entries already held are numbered when the store opens.
    PG_MIGRATION,
)

_INSERT_ENTRY = (
    f"INSERT INTO catalog_entries (id, {', '.join(ENTRY_COLUMNS)})"
    f" VALUES ({', '.join('?' * (len(ENTRY_COLUMNS) + 1))})"
)
_INSERT_FACETS = (
    f"INSERT INTO catalog_entry_facets VALUES ({', '.join('?' * (len(FACET_FIELDS) + 1))})"
)
_INSERT_FTS = (
    f"INSERT INTO catalog_fts (id, {', '.join(TEXT_COLUMNS)}, lengths)"
    " VALUES (?, ?::tsvector, ?::tsvector, ?::tsvector, ?::tsvector, ?)"
)


class PgCatalogStore:
    """The catalog of one province in PostgreSQL (``CatalogStore``'s interface). Thread-safe."""

    def __init__(
        self,
        pg: Postgres,
        *,
        postings_cache: int = 512,
        entry_cache: int = 4096,
        result_cache: int = 128,
        search_cache_mib: float | None = SEARCH_CACHE_MIB,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pg = pg
        self._clock = clock
        self._searcher = Searcher(
            postings_cache=postings_cache,
            entry_cache=entry_cache,
            result_cache=result_cache,
            cache_bytes=None if search_cache_mib is None else int(search_cache_mib * 2**20),
        )
        migrate(pg, "catalog", MIGRATIONS)
        with pg.transaction() as conn:
            # Writers take turns on this row (see _write_batch): numbering waits for them.
            conn.execute("SELECT value FROM catalog_meta WHERE key = 'generation' FOR UPDATE")
            PG.init_feed(conn, clock())

    def close(self) -> None:
        """The pool is the node's, closed by whoever opened it."""

    def __enter__(self) -> PgCatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta and writes -----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._pg.transaction() as conn:
            rows = conn.rows("SELECT value FROM catalog_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._pg.transaction() as conn:
            conn.execute(
                "INSERT INTO catalog_meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def insert_many(self, entries: Iterable[CatalogEntry], *, batch_size: int = 5000) -> int:
        """Insert or replace (by code) ``entries``, one transaction per batch."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        written = 0
        for batch in batched(entries, batch_size):
            by_key = dict(sorted({code_key(entry.code): entry for entry in batch}.items()))
            with self._pg.transaction() as conn:
                _write_batch(conn, by_key, self._clock())
            written += len(by_key)
        return written

    def withdraw(self, codes: Iterable[str]) -> int:
        """Delete the entries of ``codes``; returns how many there were."""
        keys = sorted({code_key(code) for code in codes})
        with self._pg.transaction() as conn:
            _bump_generation(conn)
            PG.record_withdrawals(conn, keys, self._clock())
            for table in ("catalog_entry_facets", "catalog_fts"):
                conn.execute(f"DELETE FROM {table} WHERE id = ANY(?)", (keys,))
            found = conn.rows("DELETE FROM catalog_entries WHERE id = ANY(?) RETURNING id", (keys,))
        return len(found)

    def changes_since(self, since: int, limit: int) -> ChangePage:
        """The published changes numbered above ``since``, at most ``limit`` (``feed``)."""
        with self._pg.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return PG.read(conn, since, limit)

    def clear(self) -> None:
        with self._pg.transaction() as conn:
            _bump_generation(conn)
            PG.record_clear(conn, self._clock())
            for table in ("catalog_entries", "catalog_entry_facets", "catalog_fts"):
                conn.execute(f"DELETE FROM {table}")

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._pg.transaction() as conn:
            return int(conn.value("SELECT count(*) FROM catalog_entry_facets"))

    def get(self, code: str) -> CatalogEntry | None:
        with self._pg.transaction() as conn:
            rows = conn.rows(f"{SELECT_ENTRY} WHERE code = ?", (code,))
        return entry_from_row(rows[0]) if rows else None

    def search(self, query: SearchQuery) -> LocalResult:
        if query.limit < 0:
            raise ValueError("limit must not be negative")
        with self._pg.transaction() as conn:
            # One snapshot for the generation, the counts and the hits.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return self._searcher.search(PgTextIndex(conn), _generation(conn), query)

    def collection_stats(
        self, terms: tuple[QueryTerm, ...], *, published_only: bool = False
    ) -> CollectionStats:
        with self._pg.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return self._searcher.stats(
                PgTextIndex(conn), _generation(conn), terms, published_only=published_only
            )

    def warm(self) -> None:
        """As ``CatalogStore.warm``."""
        with self._pg.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._searcher.warm(PgTextIndex(conn), _generation(conn))

    def keep_common(self, *, stop: Callable[[], bool] = bool) -> int:
        """As ``CatalogStore.keep_common``: none here (a GIN index lists no vocabulary with
        counts cheaply), so 0."""
        return 0

    @property
    def search_cache_bytes(self) -> int | None:
        """What the search caches under ``search_cache_mib`` hold now (None: no such bound)."""
        return self._searcher.cached_bytes

    def search_if_cached(self, query: SearchQuery) -> LocalResult | None:
        generation = self.cached_generation()
        return None if generation is None else self._searcher.cached_result(generation, query)

    def collection_stats_if_cached(
        self, terms: tuple[QueryTerm, ...], *, published_only: bool = False
    ) -> CollectionStats | None:
        generation = self.cached_generation()
        if generation is None:
            return None
        return self._searcher.cached_stats(generation, terms, published_only=published_only)

    def cached_generation(self) -> int | None:
        """As ``CatalogStore.cached_generation`` (one round trip to the server)."""
        if not self._searcher.caches_results:
            return None
        with self._pg.transaction() as conn:
            return _generation(conn)


def _generation(conn: SqlConn) -> int:
    return int(conn.value("SELECT value FROM catalog_meta WHERE key = 'generation'"))


def _bump_generation(conn: SqlConn) -> None:
    conn.execute(
        "UPDATE catalog_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
    )


def _write_batch(conn: SqlConn, by_key: dict[int, CatalogEntry], now: float) -> None:
    # Taken first: writers on several replicas take turns, as on the SQLite file, so the
    # change feed numbers their changes in commit order.
    _bump_generation(conn)
    PG.record_writes(conn, by_key, now)
    keys = list(by_key)
    for table in ("catalog_entries", "catalog_entry_facets", "catalog_fts"):
        conn.execute(f"DELETE FROM {table} WHERE id = ANY(?)", (keys,))
    value_ids = {
        (name, value): int(i)
        for i, name, value in conn.rows("SELECT id, field, value FROM catalog_facet_values")
    }
    entry_rows, facet_rows, fts_rows = [], [], []
    for key, entry in by_key.items():
        facet_ids = []
        for name, value in zip(FACET_FIELDS, facet_values(entry), strict=True):
            if (name, value) not in value_ids:
                value_ids[(name, value)] = int(
                    conn.value(
                        "INSERT INTO catalog_facet_values (field, value) VALUES (?, ?)"
                        " RETURNING id",
                        (name, value),
                    )
                )
            facet_ids.append(value_ids[(name, value)])
        entry_rows.append(entry_row(key, entry))
        facet_rows.append((key, *facet_ids))
        texts = [
            textindex.index_text(entry.name),
            textindex.index_text(entry.department),
            textindex.index_text(*(item.name for item in entry.items)),
            textindex.index_text(entry.abstract),
        ]
        vectors = [tsvector(text) for text in texts]
        fts_rows.append((key, *vectors, [len(text.split()) for text in texts]))
    conn.executemany(_INSERT_ENTRY, entry_rows)
    conn.executemany(_INSERT_FACETS, facet_rows)
    conn.executemany(_INSERT_FTS, fts_rows)
