"""The catalog's SQLite store: one WAL-mode file per node holding its entries, their Chinese
full-text index (segmented by ``textindex``), integer-coded facets and a small key/value ``meta``.

Tables:

* ``entries``: every ``CatalogEntry`` field, data items as JSON. Its ``id`` is the resource code
  mapped to an integer *in code order* (``code_key``), so rowid order is code order everywhere:
  the ranking's tie-break and the no-text order cost nothing.
* ``entry_facets``: per entry the ids of its category, grade, share type, department and update
  cycle in ``facet_values`` (the dictionary of facet values).
* ``entries_fts``: contentless FTS5 over name, department, data-item names, abstract and ``tags``
  (one token ``f<id>`` per facet value, so filters are index lookups inside the MATCH instead of a
  join). Contentless because ``entries`` already holds the text; a replaced row is deleted from
  the index by re-tokenizing its stored text, hence ``meta.textindex_version`` and a rebuild when
  the tokenizer changes.

Why search looks the way it does (scripts/bench_store.py has the numbers): at 131,000 entries a
two-character term matches thousands of rows, and any per-row work in SQLite costs ~0.5-1 µs.
FTS5's bm25 reads ``%_docsize`` once per row, a join to read facet columns is another b-tree seek
per row, and GROUP BY sorts. So: relevance comes in levels (``textindex.relevance_levels``) read
best-first in rowid order with LIMIT, which usually touches only the first page of the top level;
facets count the match set's rowids (one ``group_concat``) against an in-memory rowid -> facet map
built once per write generation. A generic term (信息, 数据) matches most of the catalog, and each
counted match costs ~0.25 µs in all (~40 ms for 131,000): when a few probes say the text takes
most of what the filters select, the entries it does *not* take are counted instead and taken
from the filters' own counts (known from the facet map), which is exact and ~4x cheaper.

Durability: ``synchronous=NORMAL`` under WAL can lose the last transactions on power loss but never
corrupts the file; the catalog is re-seedable from its source, so losing a recent bulk load is
cheaper than an fsync per commit. (Grants and audit live in other stores, with other rules.)

Concurrency: one writer (a lock serialises writes) and any number of readers, each search on a
pooled connection inside one read transaction, so hits, total and facets share one snapshot.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from gateway.catalog import textindex
from gateway.catalog.model import RESOURCE_CODE_RE, CatalogEntry, DataItem

__all__ = [
    "FACET_FIELDS",
    "UNRANKED_SCORE",
    "CatalogStore",
    "Hit",
    "LocalResult",
    "SearchFilters",
    "SearchQuery",
    "code_key",
]

SCHEMA_VERSION = "1"

#: Facet fields, in the order they are reported.
FACET_FIELDS = ("category", "grade", "share_type", "department", "update_cycle")

#: Score of every hit of a search without text: nothing to rank by, order is by code.
UNRANKED_SCORE = 1.0

# Text columns of the FTS table, most telling first: the order sets the relevance weights.
_TEXT_COLUMNS = ("name", "department", "items", "abstract")
_ALL_TEXT = "{" + " ".join(_TEXT_COLUMNS) + "}"

# Page cache per connection (negative = KiB): the FTS index and facet pages of a node stay hot.
_CACHE_KIB = -32768
_BULK_CACHE_KIB = -131072

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
    """Free text, Chinese or ASCII; empty (or only punctuation) means filters only."""
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 20
    facets: bool = True


@dataclass(frozen=True)
class Hit:
    entry: CatalogEntry
    score: float
    """Relevance, higher is better, always positive; see ``textindex.relevance_levels``. Scores
    depend only on where the terms occur, so they compare across nodes."""


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
    category INTEGER NOT NULL,
    grade INTEGER NOT NULL,
    share_type INTEGER NOT NULL,
    department INTEGER NOT NULL,
    update_cycle INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    {", ".join(_TEXT_COLUMNS)}, tags,
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
_INSERT_ENTRY = (
    f"INSERT INTO entries (id, {', '.join(_ENTRY_COLUMNS)})"
    f" VALUES ({', '.join('?' * (len(_ENTRY_COLUMNS) + 1))})"
)
_INSERT_FTS = (
    f"INSERT INTO entries_fts (rowid, {', '.join(_TEXT_COLUMNS)}, tags) VALUES (?, ?, ?, ?, ?, ?)"
)
_DELETE_FTS = (
    f"INSERT INTO entries_fts (entries_fts, rowid, {', '.join(_TEXT_COLUMNS)}, tags)"
    " VALUES ('delete', ?, ?, ?, ?, ?, ?)"
)
# Reads what the FTS row of an entry was built from, in _fts_row's argument order.
_SELECT_FTS_SOURCE = (
    "SELECT e.id, e.name, e.department, e.items, e.abstract, f.category, f.grade, f.share_type,"
    " f.department, f.update_cycle FROM entries AS e JOIN entry_facets AS f ON f.id = e.id"
)


def code_key(code: str) -> int:
    """The entry id for a resource code: an integer that sorts exactly as the codes do.

    A code is 类项目 (6 digits), an optional 细目 (2 or 3 digits), "/" and a 6-digit 顺序码. As
    strings, "/" sorts before every digit, so a code without 细目 comes first and a 2-digit 细目
    before the 3-digit ones it prefixes. 细目 is therefore read as three base-11 symbols ("/" or
    padding = 0, digit d = d + 1). Raises ``ValueError`` for anything else.
    """
    if not RESOURCE_CODE_RE.match(code):
        raise ValueError(f"not a resource code (类项目[细目]/顺序码): {code!r}")
    head, seq = code.split("/")
    detail = 0
    for ch in head[6:].ljust(3, "/"):
        detail = detail * 11 + (0 if ch == "/" else int(ch) + 1)
    return (int(head[:6]) * 11**3 + detail) * 1_000_000 + int(seq)


def _items_json(items: Sequence[DataItem]) -> str:
    return json.dumps(
        [[i.name, i.type, i.length, i.grade, i.kind] for i in items],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _entry_from_row(row: Sequence[object]) -> CatalogEntry:
    """Build an entry from a ``_SELECT_ENTRY`` row (its first column is the id)."""
    values = dict(zip(_ENTRY_COLUMNS, row[1:], strict=True))
    items = tuple(DataItem(*item) for item in json.loads(str(values.pop("items"))))
    return CatalogEntry(**values, items=items)  # type: ignore[arg-type]


def _tag(facet_id: int) -> str:
    return f"f{facet_id}"


def _fts_row(
    row_id: int,
    name: str,
    department: str,
    item_names: Sequence[str],
    abstract: str,
    facet_ids: Iterable[int],
) -> tuple[object, ...]:
    return (
        row_id,
        textindex.index_text(name),
        textindex.index_text(department),
        textindex.index_text(*item_names),
        textindex.index_text(abstract),
        " ".join(_tag(i) for i in facet_ids),
    )


def _stored_fts_row(row: Sequence[object]) -> tuple[object, ...]:
    """``_fts_row`` for a ``_SELECT_FTS_SOURCE`` row: what the entry was indexed with."""
    row_id, name, department, items, abstract, *facet_ids = row
    item_names = [item[0] for item in json.loads(str(items))]
    return _fts_row(row_id, name, department, item_names, abstract, facet_ids)  # type: ignore[arg-type]


def _facet_values(entry: CatalogEntry) -> tuple[str, ...]:
    """The entry's value for each of ``FACET_FIELDS``."""
    return (
        entry.category,
        entry.grade,
        entry.share_type,
        entry.department_code,
        entry.update_cycle,
    )


def _batched(items: Iterable[CatalogEntry], size: int) -> Iterator[list[CatalogEntry]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _json_ids(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


@dataclass(frozen=True)
class _FacetIndex:
    """Every entry's facets at one write generation, shaped for counting a match set.

    Entries with the same value in every facet field share a combination, numbered. Counting a
    match set (``group_concat(rowid)`` text) is array work in numpy: parse the ids, find each
    one's position among all ids (``ranks``), count the positions' combinations with one
    ``bincount``, then each field's values from the combination counts. About 45 ns a match,
    where a dictionary lookup per match cost 250 ns and more; the cost does not grow with the
    number of combinations or values.
    """

    generation: int
    values: tuple[tuple[tuple[str, str], ...], ...]
    """Per facet field: (character, value) pairs."""
    ids: dict[tuple[str, str], int]
    """(field, value) -> facet-value id (for the ``tags`` filter tokens)."""
    everything: dict[str, dict[str, int]]
    """Facet counts over all entries (the no-text, no-filter search)."""
    combos: dict[str, int] = field(default_factory=dict)
    """Facet characters of a combination (one per field) -> how many entries have exactly it."""
    char_of: dict[int, str] = field(default_factory=dict)
    """Facet-value id -> its character in its field."""
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Every entry id, ascending (for the rank of an id: how far into the catalog it is)."""
    combo_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    """Per rank: the number of the entry's combination."""
    value_at: tuple[np.ndarray, ...] = ()
    """Per facet field, per combination number: the position of its value in ``values``."""
    universe: str = ""
    """An FTS5 expression every entry matches (any value of the field with fewest values)."""
    selected: dict[tuple[frozenset[str] | None, ...], tuple[int, dict[str, dict[str, int]]]] = (
        field(default_factory=dict)
    )
    """``within`` answers by filter (a handful in practice; emptied if it grows past 256).
    Shared and read-only: callers must not change the facet dicts."""

    @property
    def size(self) -> int:
        """How many entries the catalog holds at this generation."""
        return len(self.ranks)

    def count(self, ids: str) -> tuple[int, dict[str, dict[str, int]]]:
        """How many entries ``ids`` (comma-separated entry ids, as ``group_concat(rowid)``
        yields them) names, and its facet counts: per field, value -> count, in the order of
        ``values``, values counted zero left out."""
        rows = np.fromstring(ids, dtype=np.int64, sep=",")
        at = np.searchsorted(self.ranks, rows)
        np.minimum(at, len(self.ranks) - 1, out=at)
        if len(rows) and (not len(self.ranks) or not np.array_equal(self.ranks[at], rows)):
            # The match set and the index come from one read snapshot: never expected.
            raise LookupError(f"match set names entries not in facet index {self.generation}")
        per_combo = np.bincount(self.combo_at[at], minlength=len(self.value_at[0]))
        return len(rows), self._by_value(per_combo)

    def _by_value(self, per_combo: np.ndarray) -> dict[str, dict[str, int]]:
        facets: dict[str, dict[str, int]] = {}
        for name, pairs, value_at in zip(FACET_FIELDS, self.values, self.value_at, strict=True):
            counts = np.bincount(value_at, weights=per_combo, minlength=len(pairs)).tolist()
            facets[name] = {v: int(n) for (_, v), n in zip(pairs, counts, strict=True) if n}
        return facets

    def within(
        self, allowed: Sequence[frozenset[str] | None]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facet counts of the entries whose facet characters are in ``allowed``
        (per field; None = any): what a filter selects before any text narrows it."""
        if not any(allowed):
            return self.size, self.everything
        key = tuple(allowed)
        cached = self.selected.get(key)
        if cached is None:
            if len(self.selected) >= 256:
                self.selected.clear()
            cached = self.selected[key] = self._within(allowed)
        return cached

    def _within(
        self, allowed: Sequence[frozenset[str] | None]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        width = len(FACET_FIELDS)
        per_field: list[dict[str, int]] = [{} for _ in FACET_FIELDS]
        total = 0
        for chars, n in self.combos.items():
            if all(a is None or chars[i] in a for i, a in enumerate(allowed)):
                total += n
                for i in range(width):
                    counts = per_field[i]
                    counts[chars[i]] = counts.get(chars[i], 0) + n
        facets = {
            name: {value: counts[char] for char, value in pairs if char in counts}
            for name, pairs, counts in zip(FACET_FIELDS, self.values, per_field, strict=True)
        }
        return total, facets


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
        self._count_cache = count_cache
        self._counts: OrderedDict[tuple[int, str], tuple[int, dict[str, dict[str, int]] | None]] = (
            OrderedDict()
        )
        self._counts_lock = threading.Lock()
        self._entry_cache = entry_cache
        self._decoded: OrderedDict[tuple[int, int], CatalogEntry] = OrderedDict()
        self._decoded_lock = threading.Lock()
        self._result_cache = result_cache
        self._results: OrderedDict[tuple[int, SearchQuery], LocalResult] = OrderedDict()
        self._results_lock = threading.Lock()
        self._closed = False
        self._write_lock = threading.Lock()
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._facets: _FacetIndex | None = None
        self._facets_lock = threading.Lock()
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
        conn.execute(f"PRAGMA cache_size={_CACHE_KIB}")
        # A modest map: hot index pages are read without copies, yet a node's resident set stays
        # well under its budget at 131,000 entries (a whole-file map counted ~170 MB).
        conn.execute("PRAGMA mmap_size=67108864")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    @contextmanager
    def _read_txn(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside one read transaction (one snapshot)."""
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
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._pool.put(conn)

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

    # -- schema and meta -----------------------------------------------------------------------

    def _init_schema(self) -> None:
        with self._write_txn() as conn:
            # Not executescript: it would COMMIT the transaction this runs in.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = _get_meta(conn, "schema_version")
            if version is None:
                _set_meta(conn, "schema_version", SCHEMA_VERSION)
            elif version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self._path}: catalog schema {version}, expected {SCHEMA_VERSION}"
                )
            if _get_meta(conn, "textindex_version") != textindex.TEXTINDEX_VERSION:
                # Built by another tokenizer: re-tokenize every entry.
                conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
                rows = conn.execute(_SELECT_FTS_SOURCE).fetchall()
                conn.executemany(_INSERT_FTS, map(_stored_fts_row, rows))
                _set_meta(conn, "textindex_version", textindex.TEXTINDEX_VERSION)
            if _get_meta(conn, "generation") is None:
                _set_meta(conn, "generation", "0")

    def get_meta(self, key: str) -> str | None:
        with self._read_txn() as conn:
            return _get_meta(conn, key)

    def set_meta(self, key: str, value: str) -> None:
        with self._write_txn() as conn:
            _set_meta(conn, key, value)

    # -- writes --------------------------------------------------------------------------------

    def insert_many(self, entries: Iterable[CatalogEntry], *, batch_size: int = 5000) -> int:
        """Insert or replace (by code) ``entries``, one transaction per batch; returns how many
        were written. Raises ``ValueError`` (before writing that batch) for a malformed code."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        written = 0
        with self._write_lock:
            # A bulk load touches pages all over the b-trees; a big cache saves re-reading them.
            self._writer.execute(f"PRAGMA cache_size={_BULK_CACHE_KIB}")
        try:
            for batch in _batched(entries, batch_size):
                # Last one wins within a batch, as across batches. Sorted: ids are code order,
                # so a sorted batch appends to neighbouring pages instead of scattering.
                by_key = dict(sorted({code_key(entry.code): entry for entry in batch}.items()))
                with self._write_txn() as conn:
                    self._write_batch(conn, by_key)
                written += len(by_key)
            if written >= _OPTIMIZE_AFTER_ROWS:
                with self._write_txn() as conn:
                    conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('optimize')")
        finally:
            with self._write_lock:
                if not self._closed:
                    self._writer.execute(f"PRAGMA cache_size={_CACHE_KIB}")
                    self._writer.execute("PRAGMA shrink_memory")
                    if written >= _OPTIMIZE_AFTER_ROWS:
                        self._writer.execute("PRAGMA optimize")
                        # The load's WAL can be hundreds of MiB; give the space back.
                        self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return written

    def clear(self) -> None:
        """Remove every entry (meta and the facet-value dictionary stay)."""
        with self._write_txn() as conn:
            conn.execute("DELETE FROM entries")
            conn.execute("DELETE FROM entry_facets")
            conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
            _bump_generation(conn)

    def _write_batch(self, conn: sqlite3.Connection, by_key: dict[int, CatalogEntry]) -> None:
        keys = _json_ids(by_key)
        # Contentless FTS5 deletes a row given exactly the tokens it was indexed with.
        old = conn.execute(
            f"{_SELECT_FTS_SOURCE} WHERE e.id IN (SELECT value FROM json_each(?))", (keys,)
        ).fetchall()
        if old:
            conn.executemany(_DELETE_FTS, map(_stored_fts_row, old))
            conn.execute(
                "DELETE FROM entries WHERE id IN (SELECT value FROM json_each(?))", (keys,)
            )
            conn.execute(
                "DELETE FROM entry_facets WHERE id IN (SELECT value FROM json_each(?))", (keys,)
            )
        value_ids = {
            (name, value): i
            for i, name, value in conn.execute("SELECT id, field, value FROM facet_values")
        }
        entry_rows, facet_rows, fts_rows = [], [], []
        for key, entry in by_key.items():
            items = _items_json(entry.items)
            facet_ids = [
                value_ids.get((name, value)) or _add_facet_value(conn, value_ids, name, value)
                for name, value in zip(FACET_FIELDS, _facet_values(entry), strict=True)
            ]
            entry_rows.append(
                (key, *(items if c == "items" else getattr(entry, c) for c in _ENTRY_COLUMNS))
            )
            facet_rows.append((key, *facet_ids))
            item_names = [item.name for item in entry.items]
            fts_rows.append(
                _fts_row(key, entry.name, entry.department, item_names, entry.abstract, facet_ids)
            )
        conn.executemany(_INSERT_ENTRY, entry_rows)
        conn.executemany("INSERT INTO entry_facets VALUES (?, ?, ?, ?, ?, ?)", facet_rows)
        conn.executemany(_INSERT_FTS, fts_rows)
        _bump_generation(conn)

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._read_txn() as conn:
            return int(conn.execute("SELECT count(*) FROM entry_facets").fetchone()[0])

    def get(self, code: str) -> CatalogEntry | None:
        with self._read_txn() as conn:
            row = conn.execute(f"{_SELECT_ENTRY} WHERE code = ?", (code,)).fetchone()
        return None if row is None else _entry_from_row(row)

    def search(self, query: SearchQuery) -> LocalResult:
        """Entries matching every term of ``query.text`` and ``query.filters``, best first.

        Hits are ordered by (score desc, code asc); without text, by code. ``total`` and the
        facets count every match, not only the returned hits.
        """
        if query.limit < 0:
            raise ValueError("limit must not be negative")
        terms = textindex.query_terms(query.text)
        with self._read_txn() as conn:
            index = self._facet_index(conn)
            cached = self._cached_result(index.generation, query)
            if cached is not None:
                return cached
            result = self._search(conn, index, query, terms)
        if self._result_cache:
            with self._results_lock:
                self._results[(index.generation, query)] = _copy_result(result)
                while len(self._results) > self._result_cache:
                    self._results.popitem(last=False)
        return result

    def search_if_cached(self, query: SearchQuery) -> LocalResult | None:
        """What ``search`` answers, if the result cache holds this query at the current write
        generation; else None. One indexed read: cheap enough to call on an event loop."""
        if self._closed:
            raise sqlite3.ProgrammingError("CatalogStore is closed")
        if not self._result_cache:
            return None
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            return None
        try:
            generation = int(_get_meta(conn, "generation") or 0)  # autocommit: one snapshot
        finally:
            self._pool.put(conn)
        return self._cached_result(generation, query)

    def _cached_result(self, generation: int, query: SearchQuery) -> LocalResult | None:
        key = (generation, query)
        with self._results_lock:
            cached = self._results.get(key)
            if cached is None:
                return None
            self._results.move_to_end(key)
        return _copy_result(cached)

    def _search(
        self, conn: sqlite3.Connection, index: _FacetIndex, query: SearchQuery, terms: list[str]
    ) -> LocalResult:
        tags = _filter_expression(index, query.filters)
        if tags is None:
            return LocalResult(hits=(), total=0, facets=_empty_facets(query))
        if terms:
            text = f"{_ALL_TEXT}: (" + " AND ".join(terms) + ")"
            match: str | None = f"{text} AND {tags}" if tags else text
        else:
            match = tags or None
        if match is None:
            # Neither text nor filters: the whole catalog, counted when the index was built.
            total = index.size
            facets = _copy_facets(index.everything) if query.facets else {}
            ids = conn.execute(
                "SELECT id FROM entries ORDER BY id LIMIT ?", (query.limit,)
            ).fetchall()
            ranked = [(row[0], UNRANKED_SCORE) for row in ids]
        else:
            outside = None
            if terms and (tags or index.universe):
                outside = (
                    f"({tags or index.universe}) NOT ({text})",
                    _filter_chars(index, query.filters),
                )
            total, facets = self._counted(conn, index, match, query.facets, outside)
            if terms:
                ranked = _ranked(conn, terms, tags, min(query.limit, total))
            else:
                ranked = _first(conn, match, min(query.limit, total))
        entries = self._entries(conn, index.generation, [row_id for row_id, _ in ranked])
        hits = tuple(Hit(entries[row_id], score) for row_id, score in ranked)
        return LocalResult(hits=hits, total=total, facets=facets)

    def _counted(
        self,
        conn: sqlite3.Connection,
        index: _FacetIndex,
        match: str,
        facets: bool,
        outside: tuple[str, list[frozenset[str] | None]] | None = None,
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facets of ``match``, from the count cache when this generation has them."""
        key = (index.generation, match)
        with self._counts_lock:
            cached = self._counts.get(key)
            if cached is not None and (cached[1] is not None or not facets):
                self._counts.move_to_end(key)
                return cached[0], _copy_facets(cached[1]) if facets else {}
        total, counts = _count(conn, index, match, facets, outside)
        if facets:
            counts = counts or {name: {} for name in FACET_FIELDS}
        if self._count_cache:
            with self._counts_lock:
                self._counts[key] = (total, _copy_facets(counts) if facets else None)
                while len(self._counts) > self._count_cache:
                    self._counts.popitem(last=False)
        return total, counts

    def _entries(
        self, conn: sqlite3.Connection, generation: int, ids: list[int]
    ) -> dict[int, CatalogEntry]:
        """The entries ``ids`` of the snapshot ``conn`` reads (at ``generation``): decoded ones
        from the entry cache, the others read and decoded, then kept."""
        found: dict[int, CatalogEntry] = {}
        missing: list[int] = []
        with self._decoded_lock:
            decoded = self._decoded
            for row_id in ids:
                entry = decoded.get((generation, row_id))
                if entry is None:
                    missing.append(row_id)
                else:
                    decoded.move_to_end((generation, row_id))
                    found[row_id] = entry
        if missing:
            read = _entries(conn, missing)
            found.update(read)
            if self._entry_cache:
                with self._decoded_lock:
                    for row_id, entry in read.items():
                        self._decoded[(generation, row_id)] = entry
                    while len(self._decoded) > self._entry_cache:
                        self._decoded.popitem(last=False)
        return found

    def _facet_index(self, conn: sqlite3.Connection) -> _FacetIndex:
        """The facet index for the snapshot ``conn`` reads, rebuilt after writes."""
        generation = int(_get_meta(conn, "generation") or 0)
        index = self._facets
        if index is not None and index.generation == generation:
            return index
        with self._facets_lock:
            index = self._facets
            if index is None or index.generation != generation:
                index = _build_facet_index(conn, generation)
                # A reader on an older snapshot than the installed index builds its own and
                # keeps it to itself; the newest generation wins the shared slot.
                if self._facets is None or self._facets.generation < generation:
                    self._facets = index
        return index


def _copy_result(result: LocalResult) -> LocalResult:
    """The same answer with facets the holder may change (hits are immutable)."""
    return dataclasses.replace(result, facets=_copy_facets(result.facets))


def _copy_facets(facets: dict[str, dict[str, int]] | None) -> dict[str, dict[str, int]]:
    """A copy the caller may change without touching a cached or shared one."""
    return {name: dict(counts) for name, counts in (facets or {}).items()}


def _empty_facets(query: SearchQuery) -> dict[str, dict[str, int]]:
    return {name: {} for name in FACET_FIELDS} if query.facets else {}


def _filter_expression(index: _FacetIndex, filters: SearchFilters) -> str | None:
    """The filters as an FTS5 expression over the ``tags`` column: '' when there are none, None
    when a filtered field names only values no entry has (nothing can match)."""
    wanted = _filter_ids(index, filters)
    if wanted is None:
        return None
    return " AND ".join(
        "{tags}: (" + " OR ".join(f'"{_tag(i)}"' for i in sorted(ids)) + ")"
        for ids in wanted
        if ids is not None
    )


def _filter_chars(index: _FacetIndex, filters: SearchFilters) -> list[frozenset[str] | None]:
    """Per facet field, the characters of the values the filters allow (None = any)."""
    wanted = _filter_ids(index, filters) or []
    return [
        None if ids is None else frozenset(map(index.char_of.__getitem__, ids)) for ids in wanted
    ]


def _filter_ids(index: _FacetIndex, filters: SearchFilters) -> list[set[int] | None] | None:
    """Per facet field, the ids of the values the filters allow (None = no filter on it); None
    when a filtered field names only values no entry has."""
    wanted = zip(
        FACET_FIELDS,
        (
            filters.categories,
            filters.grades,
            filters.share_types,
            filters.departments,
            filters.update_cycles,
        ),
        strict=True,
    )
    clauses: list[set[int] | None] = []
    for name, values in wanted:
        if not values:
            clauses.append(None)
            continue
        ids = {index.ids[(name, v)] for v in values if (name, v) in index.ids}
        if name == "category":
            # A one-digit 类 stands for every category under it.
            classes = {v for v in values if len(v) == 1}
            ids |= {i for (f, v), i in index.ids.items() if f == name and v[:1] in classes}
        if not ids:
            return None
        clauses.append(ids)
    return clauses


# ``_dense`` probes the match set at this many points of the catalog, reading this many matches
# at each. Counting the entries a filter selects that the text does not, and taking them from
# the filter's counts, pays once the text matches this share of them: FTS5 then reads every
# selected entry (~0.05 µs each), while each counted entry costs ~0.25 µs (its id as text,
# split, looked up).
_PROBE_POINTS = 6
_PROBE_ROWS = 32
_DENSE_SHARE = 0.6


def _count(
    conn: sqlite3.Connection,
    index: _FacetIndex,
    match: str,
    facets: bool,
    outside: tuple[str, list[frozenset[str] | None]] | None = None,
) -> tuple[int, dict[str, dict[str, int]]]:
    """Total and facets of ``match``. ``outside``: an FTS5 expression for the entries the filters
    select that ``match`` does not, and the filters as facet characters; when ``match`` takes
    most of what the filters select, those few are counted and taken from the filters' counts
    (exact either way; only cheaper when a generic term matches most of the catalog)."""
    if not facets:
        row = conn.execute("SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", (match,))
        return int(row.fetchone()[0]), {}
    if outside is not None and index.size:
        total, within = index.within(outside[1])
        if _dense(conn, index, match, _DENSE_SHARE * total):
            return _count_rest(conn, index, outside[0], total, within)
    ids = _group_ids(conn, match)
    if ids is None:
        return 0, {}
    return index.count(ids)


def _count_rest(
    conn: sqlite3.Connection,
    index: _FacetIndex,
    rest: str,
    total: int,
    within: dict[str, dict[str, int]],
) -> tuple[int, dict[str, dict[str, int]]]:
    """Total and facets of a match set from those of what the filters select (``total``,
    ``within``) minus those of ``rest``, the selected entries it does not take. Values keep the
    order ``_FacetIndex.count`` gives them, and a count of zero is left out as there."""
    ids = _group_ids(conn, rest)
    rested, dropped = index.count(ids) if ids else (0, {})
    counts = {}
    for name, pairs in zip(FACET_FIELDS, index.values, strict=True):
        have, drop = within.get(name, {}), dropped.get(name, {})
        counts[name] = {
            value: n for _, value in pairs if (n := have.get(value, 0) - drop.get(value, 0))
        }
    return total - rested, counts


def _group_ids(conn: sqlite3.Connection, match: str) -> str | None:
    """The rowids matching ``match`` as comma-separated text (None when there are none)."""
    row = conn.execute(
        "SELECT group_concat(rowid) FROM entries_fts WHERE entries_fts MATCH ?", (match,)
    ).fetchone()
    return row[0]  # type: ignore[no-any-return]


def _dense(conn: sqlite3.Connection, index: _FacetIndex, match: str, least: float) -> bool:
    """Whether ``match`` probably has at least ``least`` matches. A guess from the density of
    matches at ``_PROBE_POINTS`` places spread over the catalog (entries of a category are
    neighbours in code order, so one place says little), stopping as soon as the places left
    could not make up the difference; it only picks the cheaper way to count."""
    probe = (
        "SELECT count(*), max(r) FROM (SELECT rowid AS r FROM entries_fts"
        " WHERE entries_fts MATCH ? AND rowid >= ? ORDER BY rowid LIMIT ?)"
    )
    ranks = index.ranks
    size = len(ranks)
    wanted = least / size * _PROBE_POINTS  # the sum of the places' densities to reach
    density = 0.0
    for point in range(_PROBE_POINTS):
        if density + (_PROBE_POINTS - point) < wanted:
            return False
        start = point * size // _PROBE_POINTS
        n, last = conn.execute(probe, (match, int(ranks[start]), _PROBE_ROWS)).fetchone()
        if n < _PROBE_ROWS:
            if point == 0:
                return False  # fewer matches in all than one probe reads
            end = size
        else:
            end = int(np.searchsorted(ranks, last, side="right"))
        density += n / max(1, end - start)
    return density >= wanted


def _ranked(
    conn: sqlite3.Connection, terms: list[str], tags: str, limit: int
) -> list[tuple[int, float]]:
    """The best ``limit`` (id, score) pairs: the levels best first, each in code (= rowid) order,
    stopping as soon as ``limit`` are found. ``limit`` must not exceed the number of matches, or
    every level is scanned."""
    ranked: list[tuple[int, float]] = []
    for score, expression in textindex.relevance_levels(terms, _TEXT_COLUMNS):
        if len(ranked) >= limit:
            break
        match = f"({expression}) AND {tags}" if tags else expression
        ranked.extend(
            (row_id, float(score)) for row_id in _first_ids(conn, match, limit - len(ranked))
        )
    return ranked


def _first(conn: sqlite3.Connection, match: str, limit: int) -> list[tuple[int, float]]:
    return [(row_id, UNRANKED_SCORE) for row_id in _first_ids(conn, match, limit)]


def _first_ids(conn: sqlite3.Connection, match: str, limit: int) -> list[int]:
    # ORDER BY rowid is FTS5's natural order: no sorter, and LIMIT stops reading the doclists.
    rows = conn.execute(
        "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid LIMIT ?",
        (match, limit),
    ).fetchall()
    return [row[0] for row in rows]


def _entries(conn: sqlite3.Connection, ids: list[int]) -> dict[int, CatalogEntry]:
    if not ids:
        return {}
    rows = conn.execute(
        f"{_SELECT_ENTRY} WHERE id IN (SELECT value FROM json_each(?))", (_json_ids(ids),)
    ).fetchall()
    return {row[0]: _entry_from_row(row) for row in rows}


def _facet_char(n: int) -> str:
    """The ``n``-th character of a field's values: small code points keep the strings compact,
    and surrogates (which are not characters) are skipped."""
    return chr(n + 1 if n + 1 < 0xD800 else n + 1 + 0x800)


def _build_facet_index(conn: sqlite3.Connection, generation: int) -> _FacetIndex:
    ids: dict[tuple[str, str], int] = {}
    chars: dict[int, str] = {}
    values: list[list[tuple[str, str]]] = [[] for _ in FACET_FIELDS]
    for value_id, name, value in conn.execute("SELECT id, field, value FROM facet_values"):
        ids[(name, value)] = value_id
        pairs = values[FACET_FIELDS.index(name)]
        chars[value_id] = _facet_char(len(pairs))
        pairs.append((chars[value_id], value))
    numbers: dict[str, int] = {}  # a combination's characters -> its number
    ranks: list[int] = []
    combo_at: list[int] = []
    for row in conn.execute("SELECT * FROM entry_facets ORDER BY id"):
        key = "".join(map(chars.__getitem__, row[1:]))
        number = numbers.get(key)
        if number is None:
            number = numbers[key] = len(numbers)
        ranks.append(row[0])
        combo_at.append(number)
    per_combo = np.bincount(np.array(combo_at, dtype=np.intp), minlength=len(numbers))
    # A field's characters are numbered in the order of its values: the position is the number.
    positions = [{char: i for i, (char, _) in enumerate(pairs)} for pairs in values]
    value_at = tuple(
        np.array([where[key[i]] for key in numbers], dtype=np.intp)
        for i, where in enumerate(positions)
    )
    # Every entry has exactly one value per field: the field with fewest values gives the
    # cheapest expression matching all of them.
    name, pairs = min(zip(FACET_FIELDS, values, strict=True), key=lambda field: len(field[1]))
    tokens = " OR ".join(f'"{_tag(ids[(name, value)])}"' for _, value in pairs)
    universe = "{tags}: (" + tokens + ")" if tokens else ""
    index = _FacetIndex(
        generation=generation,
        values=tuple(tuple(pairs) for pairs in values),
        ids=ids,
        everything={},
        combos=dict(zip(numbers, per_combo.tolist(), strict=True)),
        char_of=chars,
        ranks=np.array(ranks, dtype=np.int64),
        combo_at=np.array(combo_at, dtype=np.intp),
        value_at=value_at,
        universe=universe,
    )
    return dataclasses.replace(index, everything=index._by_value(per_combo))


def _add_facet_value(
    conn: sqlite3.Connection, value_ids: dict[tuple[str, str], int], name: str, value: str
) -> int:
    value_id = conn.execute(
        "INSERT INTO facet_values (field, value) VALUES (?, ?) RETURNING id", (name, value)
    ).fetchone()[0]
    value_ids[(name, value)] = value_id
    return int(value_id)


def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _bump_generation(conn: sqlite3.Connection) -> None:
    """Mark the entries changed: readers rebuild their facet index for the new snapshot."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
