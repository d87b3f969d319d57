"""The catalog's SQLite store: one WAL-mode file per node holding its entries, their Chinese
full-text index (segmented by ``textindex``), compact facet columns and a small key/value ``meta``.

Tables:

* ``entries``: every ``CatalogEntry`` field, data items as JSON. Read only for the final hits and
  ``get``.
* ``entry_facets``: one narrow row per entry (id, code, integer-coded filter/facet columns), so
  filtering, tie-breaking by code and facet counting over tens of thousands of matches touch a
  few hundred pages instead of the wide rows.
* ``facet_values``: the integer codes' dictionary, ``(field, value) -> id``.
* ``entries_fts``: a contentless FTS5 table over name, department, data-item names and abstract.
  Contentless because ``entries`` already holds the text; a replaced row is deleted from the index
  by re-tokenizing its stored text, which is why the tokenizer version is kept in ``meta`` and a
  mismatch rebuilds the index.

Durability: ``synchronous=NORMAL`` under WAL can lose the last transactions on power loss but
never corrupts the file; the catalog is re-seedable from its source, so losing a recent bulk load
is cheaper than an fsync per commit. (Grants and audit live in other stores, with other rules.)

Concurrency: one writer (a lock serialises ``insert_many``/``set_meta``) and any number of readers,
each search on its own pooled connection inside one read transaction, so its hits, total and
facets come from a single snapshot.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from gateway.catalog import textindex
from gateway.catalog.model import CatalogEntry, DataItem

__all__ = ["FACET_FIELDS", "CatalogStore", "Hit", "LocalResult", "SearchFilters", "SearchQuery"]

SCHEMA_VERSION = "1"

#: Facet fields, in the order they are reported.
FACET_FIELDS = ("category", "grade", "share_type", "department", "update_cycle")

# bm25 column weights in FTS column order (name, department, items, abstract): a term in the
# name says most about what the resource is, a department name or a data item somewhat less, and
# the abstract is long free text that mentions many things in passing.
_FTS_COLUMNS = ("name", "department", "items", "abstract")
_BM25_WEIGHTS = (10.0, 4.0, 2.0, 1.0)

#: Score of every hit of a search without text: nothing to rank by, order is by code.
UNRANKED_SCORE = 1.0

# A bulk load that wrote at least this many rows merges the FTS b-trees into one ('optimize'):
# queries then read one segment per token instead of dozens.
_OPTIMIZE_AFTER_ROWS = 10_000


@dataclass(frozen=True)
class SearchFilters:
    """Shared-standard filters; empty tuple = no filter. Values OR within a field, AND across."""

    categories: tuple[str, ...] = ()
    """3-digit category codes (类+项), or a 1-digit 类 matching every category under it."""
    grades: tuple[str, ...] = ()
    share_types: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    """Department codes, e.g. ``gaj``."""
    update_cycles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    text: str
    """Free text, Chinese or ASCII; empty means filters only."""
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 20
    facets: bool = True


@dataclass(frozen=True)
class Hit:
    entry: CatalogEntry
    score: float
    """Relevance, higher is better, always positive (``UNRANKED_SCORE`` without text)."""


@dataclass(frozen=True)
class LocalResult:
    hits: tuple[Hit, ...]
    total: int
    """Number of entries matching text and filters (not just the ones returned)."""
    facets: dict[str, dict[str, int]]
    """Facet field -> value -> count over all matches; empty when facets were not asked for."""


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    province TEXT NOT NULL,
    department_code TEXT NOT NULL,
    department TEXT NOT NULL,
    category TEXT NOT NULL,
    abstract TEXT NOT NULL,
    format TEXT NOT NULL,
    share_type TEXT NOT NULL,
    share_conditions TEXT NOT NULL,
    open_attribute TEXT NOT NULL,
    update_cycle TEXT NOT NULL,
    publish_date TEXT NOT NULL,
    grade TEXT NOT NULL,
    items TEXT NOT NULL,
    local_grade TEXT NOT NULL,
    local_category TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS facet_values (
    id INTEGER PRIMARY KEY,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (field, value)
);
CREATE TABLE IF NOT EXISTS entry_facets (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    category INTEGER NOT NULL,
    grade INTEGER NOT NULL,
    share_type INTEGER NOT NULL,
    department INTEGER NOT NULL,
    update_cycle INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entry_facets_code ON entry_facets (code);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    {", ".join(_FTS_COLUMNS)},
    content='',
    tokenize="{textindex.FTS_TOKENIZER}",
    prefix='1'
);
"""

_ENTRY_COLUMNS = (
    "code",
    "name",
    "province",
    "department_code",
    "department",
    "category",
    "abstract",
    "format",
    "share_type",
    "share_conditions",
    "open_attribute",
    "update_cycle",
    "publish_date",
    "grade",
    "items",
    "local_grade",
    "local_category",
)
_SELECT_ENTRY = f"SELECT id, {', '.join(_ENTRY_COLUMNS)} FROM entries"


def _items_json(items: Sequence[DataItem]) -> str:
    return json.dumps(
        [[i.name, i.type, i.length, i.grade, i.kind] for i in items],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _entry_row(entry: CatalogEntry) -> tuple[object, ...]:
    return (
        entry.code,
        entry.name,
        entry.province,
        entry.department_code,
        entry.department,
        entry.category,
        entry.abstract,
        entry.format,
        entry.share_type,
        entry.share_conditions,
        entry.open_attribute,
        entry.update_cycle,
        entry.publish_date,
        entry.grade,
        _items_json(entry.items),
        entry.local_grade,
        entry.local_category,
    )


def _entry_from_row(row: Sequence[object]) -> CatalogEntry:
    """Build an entry from a ``_SELECT_ENTRY`` row (its first column is the id)."""
    values = dict(zip(_ENTRY_COLUMNS, row[1:], strict=True))
    items = tuple(DataItem(*item) for item in json.loads(str(values.pop("items"))))
    return CatalogEntry(**values, items=items)  # type: ignore[arg-type]


def _fts_texts(name: str, department: str, items_json: str, abstract: str) -> tuple[str, ...]:
    item_names = [item[0] for item in json.loads(items_json)]
    return (
        textindex.index_text(name),
        textindex.index_text(department),
        textindex.index_text(*item_names),
        textindex.index_text(abstract),
    )


def _facet_key(entry: CatalogEntry) -> tuple[str, ...]:
    return (
        entry.category,
        entry.grade,
        entry.share_type,
        entry.department_code,
        entry.update_cycle,
    )


def _facet_codes(
    conn: sqlite3.Connection, facet_ids: dict[tuple[str, str], int], entry: CatalogEntry
) -> list[int]:
    """The entry's integer facet codes, adding unseen values to ``facet_values`` (and
    ``facet_ids``) inside the writer's transaction."""
    codes = []
    for name, value in zip(FACET_FIELDS, _facet_key(entry), strict=True):
        code = facet_ids.get((name, value))
        if code is None:
            code = conn.execute(
                "INSERT INTO facet_values (field, value) VALUES (?, ?) RETURNING id",
                (name, value),
            ).fetchone()[0]
            facet_ids[(name, value)] = code
        codes.append(code)
    return codes


def _batched(items: Iterable[CatalogEntry], size: int) -> Iterator[list[CatalogEntry]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class CatalogStore:
    """A node's catalog in one SQLite file. Thread-safe; writes are serialised."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._closed = False
        self._write_lock = threading.Lock()
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # (field, value) -> id and back; grows as writers add values, reloaded on a miss.
        self._facet_ids: dict[tuple[str, str], int] = {}
        self._facet_names: dict[int, tuple[str, str]] = {}
        self._writer = self._connect()
        try:
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._init_schema()
        except BaseException:
            self._writer.close()
            raise

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: a pooled reader moves between the worker threads of
        # asyncio.to_thread (one thread at a time), and close() may run on yet another thread.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: the FTS index and facet pages of a node
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise sqlite3.ProgrammingError("CatalogStore is closed")
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers.append(conn)
        try:
            yield conn
        finally:
            self._pool.put(conn)

    @contextmanager
    def _read_txn(self) -> Iterator[sqlite3.Connection]:
        with self._reader() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def _write_txn(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise sqlite3.ProgrammingError("CatalogStore is closed")
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection. Searches still running on other threads must finish first."""
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------------

    def _init_schema(self) -> None:
        with self._write_txn() as conn:
            # Not executescript: it would COMMIT the transaction this runs in.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if version is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif version[0] != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self._path}: catalog schema {version[0]}, expected {SCHEMA_VERSION}"
                )
            tokens = conn.execute("SELECT value FROM meta WHERE key='textindex_version'").fetchone()
            if tokens is None or tokens[0] != textindex.TEXTINDEX_VERSION:
                self._rebuild_fts(conn)
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('textindex_version', ?)",
                    (textindex.TEXTINDEX_VERSION,),
                )

    def _rebuild_fts(self, conn: sqlite3.Connection) -> None:
        """Re-tokenize every entry: the index was built by another ``textindex`` version."""
        conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('delete-all')")
        rows = conn.execute("SELECT id, name, department, items, abstract FROM entries")
        conn.executemany(
            "INSERT INTO entries_fts(rowid, name, department, items, abstract) VALUES (?,?,?,?,?)",
            ((row[0], *_fts_texts(*row[1:])) for row in rows.fetchall()),
        )

    # -- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._reader() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write_txn() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- writes --------------------------------------------------------------------------------

    def insert_many(self, entries: Iterable[CatalogEntry], *, batch_size: int = 5000) -> int:
        """Insert or replace (by code) ``entries``, one transaction per batch. Returns the number
        of entries written (a code repeated in the input counts once per batch, last one wins)."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        written = 0
        for batch in _batched(entries, batch_size):
            with self._write_txn() as conn:
                written += self._write_batch(conn, batch)
        if written >= _OPTIMIZE_AFTER_ROWS:
            with self._write_txn() as conn:
                conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('optimize')")
            with self._write_lock:
                self._writer.execute("PRAGMA optimize")
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return written

    def _write_batch(self, conn: sqlite3.Connection, batch: list[CatalogEntry]) -> int:
        by_code = {entry.code: entry for entry in batch}
        existing = conn.execute(
            "SELECT id, code, name, department, items, abstract FROM entries"
            " WHERE code IN (SELECT value FROM json_each(?))",
            (json.dumps(list(by_code), ensure_ascii=False),),
        ).fetchall()
        ids: dict[str, int] = {}
        if existing:
            # Contentless FTS5 deletes a row given exactly the tokens it was indexed with.
            conn.executemany(
                "INSERT INTO entries_fts(entries_fts, rowid, name, department, items, abstract)"
                " VALUES ('delete', ?, ?, ?, ?, ?)",
                ((row[0], *_fts_texts(*row[2:])) for row in existing),
            )
            old = [(row[0],) for row in existing]
            conn.executemany("DELETE FROM entries WHERE id=?", old)
            conn.executemany("DELETE FROM entry_facets WHERE id=?", old)
            ids = {row[1]: row[0] for row in existing}
        # Only this writer allocates ids, under the IMMEDIATE transaction's lock.
        next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM entries").fetchone()[0]
        facet_ids = {
            (f, v): i for i, f, v in conn.execute("SELECT id, field, value FROM facet_values")
        }
        entry_rows, facet_rows, fts_rows = [], [], []
        for code, entry in by_code.items():
            if code not in ids:
                ids[code] = next_id
                next_id += 1
            row_id = ids[code]
            row = _entry_row(entry)
            entry_rows.append((row_id, *row))
            facet_rows.append((row_id, code, *_facet_codes(conn, facet_ids, entry)))
            fts_rows.append(
                (row_id, *_fts_texts(entry.name, entry.department, row[14], entry.abstract))
            )  # type: ignore[arg-type]
        conn.executemany(
            f"INSERT INTO entries (id, {', '.join(_ENTRY_COLUMNS)})"
            f" VALUES ({', '.join('?' * (len(_ENTRY_COLUMNS) + 1))})",
            entry_rows,
        )
        conn.executemany("INSERT INTO entry_facets VALUES (?, ?, ?, ?, ?, ?, ?)", facet_rows)
        conn.executemany(
            "INSERT INTO entries_fts(rowid, name, department, items, abstract) VALUES (?,?,?,?,?)",
            fts_rows,
        )
        return len(by_code)

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._reader() as conn:
            return int(conn.execute("SELECT count(*) FROM entry_facets").fetchone()[0])

    def get(self, code: str) -> CatalogEntry | None:
        with self._reader() as conn:
            row = conn.execute(f"{_SELECT_ENTRY} WHERE code=?", (code,)).fetchone()
        return None if row is None else _entry_from_row(row)

    def search(self, query: SearchQuery) -> LocalResult:
        """Entries matching ``query.text`` (all terms) and ``query.filters``, best first.

        Hits are ordered by (score desc, code asc); without text, by code. ``total`` and the
        facets count every match, not only the returned hits.
        """
        if query.limit < 0:
            raise ValueError("limit must not be negative")
        expression = textindex.match_expression(query.text)
        with self._read_txn() as conn:
            where = self._filter_clause(conn, query.filters)
            if where is None:
                return LocalResult(hits=(), total=0, facets={})
            clause, params = where
            if expression is None:
                source = "entry_facets AS f"
                rank = f"SELECT f.id, {UNRANKED_SCORE} FROM {source}{clause} ORDER BY f.code"
                match_params: list[object] = [*params]
            else:
                source = "entries_fts JOIN entry_facets AS f ON f.id = entries_fts.rowid"
                clause = f"{clause} AND" if clause else " WHERE"
                clause += " entries_fts MATCH ?"
                weights = ", ".join(str(w) for w in _BM25_WEIGHTS)
                rank = (
                    f"SELECT f.id, -bm25(entries_fts, {weights}) AS score FROM {source}{clause}"
                    " ORDER BY score DESC, f.code"
                )
                match_params = [*params, expression]
            ranked = conn.execute(f"{rank} LIMIT ?", (*match_params, query.limit)).fetchall()
            if query.facets:
                facets, total = self._facets(conn, source, clause, match_params)
            else:
                total = conn.execute(
                    f"SELECT count(*) FROM {source}{clause}", match_params
                ).fetchone()[0]
                facets = {}
            entries = self._entries(conn, [row[0] for row in ranked])
        hits = tuple(Hit(entries[row_id], float(score)) for row_id, score in ranked)
        return LocalResult(hits=hits, total=total, facets=facets)

    def _entries(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, CatalogEntry]:
        if not ids:
            return {}
        rows = conn.execute(
            f"{_SELECT_ENTRY} WHERE id IN ({', '.join('?' * len(ids))})", ids
        ).fetchall()
        return {row[0]: _entry_from_row(row) for row in rows}

    def _facets(
        self, conn: sqlite3.Connection, source: str, clause: str, params: list[object]
    ) -> tuple[dict[str, dict[str, int]], int]:
        columns = ", ".join(f"f.{name}" for name in FACET_FIELDS)
        rows = conn.execute(
            f"SELECT {columns}, count(*) FROM {source}{clause} GROUP BY {columns}", params
        ).fetchall()
        names = self._facet_dictionary(conn, need=(code for row in rows for code in row[:-1]))
        facets: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS}
        total = 0
        for row in rows:
            n = row[-1]
            total += n
            for code in row[:-1]:
                field, value = names[code]
                counts = facets[field]
                counts[value] = counts.get(value, 0) + n
        return facets, total

    def _load_facet_values(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT id, field, value FROM facet_values").fetchall()
        # Assigned whole, ids before names: a concurrent search sees a complete dictionary.
        self._facet_ids = {(f, v): i for i, f, v in rows}
        self._facet_names = {i: (f, v) for i, f, v in rows}

    def _facet_dictionary(
        self, conn: sqlite3.Connection, need: Iterable[int] = ()
    ) -> dict[int, tuple[str, str]]:
        """The id -> (field, value) dictionary, reloaded when it lacks a code in ``need``."""
        names = self._facet_names
        if any(code not in names for code in need) or not names:
            self._load_facet_values(conn)
        return self._facet_names

    def _filter_clause(
        self, conn: sqlite3.Connection, filters: SearchFilters
    ) -> tuple[str, list[object]] | None:
        """SQL conditions on ``entry_facets AS f`` for ``filters``, or None when a filtered field
        names only values no entry has (nothing can match)."""
        wanted = {
            "category": filters.categories,
            "grade": filters.grades,
            "share_type": filters.share_types,
            "department": filters.departments,
            "update_cycle": filters.update_cycles,
        }
        if not any(wanted.values()):
            return "", []
        if not self._facet_ids or any(
            (name, value) not in self._facet_ids
            for name, values in wanted.items()
            for value in values
        ):
            self._load_facet_values(conn)
        ids = self._facet_ids
        conditions: list[str] = []
        params: list[object] = []
        for name, values in wanted.items():
            if not values:
                continue
            codes = {ids[(name, v)] for v in values if (name, v) in ids}
            if name == "category":
                # A one-digit 类 stands for every category under it.
                classes = {v for v in values if len(v) == 1}
                codes |= {i for (f, v), i in ids.items() if f == name and v[:1] in classes}
            if not codes:
                return None
            conditions.append(f"f.{name} IN ({', '.join('?' * len(codes))})")
            params.extend(sorted(codes))
        return " WHERE " + " AND ".join(conditions), params
