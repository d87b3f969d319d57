"""Search reads on the catalog's SQLite file: FTS5 match expressions and the queries behind them.

``FtsIndex`` is one read snapshot as ``search`` and ``counting`` ask it (``search.Snapshot``).
Why the reads look as they do (scripts/bench_store.py has the numbers): at 131,000 entries a
two-character term matches thousands of rows, and any per-row work in SQLite costs ~0.5-1 µs.
FTS5's bm25 reads ``%_docsize`` once per row (and knows only this file's statistics), a join to
read facet columns is another b-tree seek per row, and GROUP BY sorts. So a text search reads
each term's rowids per field (one ``group_concat`` of the field's marked tokens each,
``column_ids``, ``schema.field_term``; ~0.1 µs a row) and
everything else is numpy (``relevance``, ``facets``); filters never touch FTS5. Field lengths
come from FTS5's own ``%_docsize`` (one varint per column), read whole at a start; after a write
only the written entries' rows are read (``read_written``, from the log ``schema.bump_generation``
keeps), and the reader brings its tables forward from them (``Searcher``).
"""

from __future__ import annotations

import sqlite3

import numpy as np

from gateway.catalog import textindex
from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.ranking import unique_values
from gateway.catalog.store import schema
from gateway.catalog.store.entries import entry_from_row, json_ids
from gateway.catalog.store.facets import FacetIndex, WrittenEntries, build_facet_index
from gateway.catalog.store.relevance import RankTable, build_rank_table, days_since_epoch


class FtsIndex:
    """The FTS5 index as seen through ``conn``, a connection inside one read transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # -- reads (search.Snapshot) ---------------------------------------------------------------

    def read_entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        if not ids:
            return {}
        rows = self._conn.execute(
            f"{schema.SELECT_ENTRY} WHERE id IN (SELECT value FROM json_each(?))",
            (json_ids(ids),),
        ).fetchall()
        return {row[0]: entry_from_row(row) for row in rows}

    def read_facet_index(self, generation: int) -> FacetIndex:
        return build_facet_index(
            generation,
            self._conn.execute("SELECT id, field, value FROM facet_values"),
            np.stack([self._int_column("entry_facets", c) for c in ("id", *FACET_FIELDS)], axis=1),
        )

    def read_rank_table(self, index: FacetIndex) -> RankTable:
        # Each column as one text, parsed in numpy: this runs after every write, and a row at a
        # time cost about twice as much (at 131,000 entries on a loaded box, 245-281 against
        # 134-168 ms of CPU; the facet index likewise, 242-332 against 142-183 ms).
        ids = self._int_column("entries_fts_docsize", "id")
        sizes = self._text_column("entries_fts_docsize", "hex(sz)", "")
        dates = self._text_column("entries", "publish_date", _UNIT).split(_UNIT)
        lengths = _joined_sizes(bytes.fromhex(sizes), len(ids))
        if lengths is None or len(dates) != len(ids) or not len(ids):
            # A longer varint, a date holding the separator, or no entries: row by row.
            rows = self._conn.execute(
                "SELECT e.id, d.sz, e.publish_date FROM entries AS e"
                " JOIN entries_fts_docsize AS d ON d.id = e.id ORDER BY e.id"
            ).fetchall()
            row_ids, blobs, row_dates = zip(*rows, strict=True) if rows else ((), (), ())
            return build_rank_table(index, row_ids, _column_sizes(blobs), row_dates)
        return build_rank_table(index, ids, lengths, dates)

    def read_written(self, since: int, generation: int, limit: int) -> WrittenEntries | None:
        """The entries written after generation ``since`` as this snapshot (at ``generation``)
        holds them, from the log of writes (``schema.bump_generation``); None when the log no
        longer reaches back to ``since``, or more than ``limit`` entries were written."""
        conn = self._conn
        if since < schema.logged_after(conn):
            return None
        listed = conn.execute(
            "SELECT group_concat(ids) FROM entry_writes WHERE generation > ? AND ids != ''",
            (since,),
        ).fetchone()[0]
        ids = (
            unique_values(np.fromstring(listed, dtype=np.int64, sep=","))
            if listed
            else np.zeros(0, dtype=np.int64)
        )
        if len(ids) > limit:
            return None
        among = "id IN (SELECT value FROM json_each(?))"
        wanted = (json_ids(ids.tolist()),)
        facets = conn.execute(
            f"SELECT id, {', '.join(FACET_FIELDS)} FROM entry_facets WHERE {among} ORDER BY id",
            wanted,
        ).fetchall()
        sizes = conn.execute(
            f"SELECT id, sz FROM entries_fts_docsize WHERE {among} ORDER BY id", wanted
        ).fetchall()
        dates = conn.execute(
            f"SELECT id, publish_date FROM entries WHERE {among} ORDER BY id", wanted
        ).fetchall()
        held = [row[0] for row in facets]
        if held != [row[0] for row in sizes] or held != [row[0] for row in dates]:
            # One snapshot holds an entry in all three or in none: never expected.
            raise LookupError(f"generation {generation}: written entries read inconsistently")
        return WrittenEntries(
            generation=generation,
            ids=ids,
            facets=np.array(facets, dtype=np.int64).reshape(len(facets), 1 + len(FACET_FIELDS)),
            lengths=_column_sizes(tuple(row[1] for row in sizes)),
            days=days_since_epoch([row[1] for row in dates]),
            facet_values=tuple(conn.execute("SELECT id, field, value FROM facet_values")),
        )

    def _int_column(self, table: str, column: str) -> np.ndarray:
        """An integer column of ``table`` in id order."""
        text = self._text_column(table, column, ",")
        return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)

    def _text_column(self, table: str, column: str, separator: str) -> str:
        """A column of ``table`` in id order, as one text joined by ``separator`` (a constant of
        this module: in the SQL text, because a bound one costs SQLite a copy per row)."""
        value = self._conn.execute(
            f"SELECT group_concat(v, '{separator}')"
            f" FROM (SELECT {column} AS v FROM {table} ORDER BY id)"
        ).fetchone()[0]
        return value or ""

    # -- hits ----------------------------------------------------------------------------------

    def column_ids(self, term: str) -> list[str | None]:
        marked = tuple(schema.field_term(mark, term) for mark in schema.FIELD_MARKS)
        return list(self._conn.execute(_COLUMN_IDS, marked).fetchone())

    def common_terms(self, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` bigram terms (``textindex.bigram_term``) with the most postings over
        the four text fields, most first, with that count (``relevance.CommonTerms``): read from
        FTS5's vocabulary (~0.26 s at 131,000 entries, once per store)."""
        marks = ", ".join(f"'{mark}'" for mark in schema.FIELD_MARKS)
        rows = self._conn.execute(
            "SELECT substr(term, 2), sum(doc) FROM temp.entries_vocab"
            f" WHERE substr(term, 1, 1) IN ({marks}) GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        out: list[tuple[str, int]] = []
        for token, count in rows:
            term = textindex.bigram_term(token)
            if term is not None:
                out.append((term, int(count)))
                if len(out) >= limit:
                    break
        return out

    def column_ids_among(self, term: str, ids: np.ndarray) -> list[str | None]:
        """As ``column_ids``, among the entries ``ids`` alone (``relevance.WrittenPostings``):
        FTS5 seeks each of them in the term's doclists instead of reading them through."""
        listed = json_ids(ids.tolist())
        marked = [schema.field_term(mark, term) for mark in schema.FIELD_MARKS]
        arguments = tuple(value for field in marked for value in (field, listed))
        return list(self._conn.execute(_COLUMN_IDS_AMONG, arguments).fetchone())


#: A term's postings in every text field, in one statement (one field's marked tokens each): one
#: step from Python instead of one per field.
_COLUMN_IDS = "SELECT " + ", ".join(
    ["(SELECT group_concat(rowid) FROM entries_fts WHERE entries_fts MATCH ?)"]
    * len(schema.FIELD_MARKS)
)
#: The same among given entries: FTS5 takes the ``rowid IN`` as a look-up per entry.
_COLUMN_IDS_AMONG = "SELECT " + ", ".join(
    [
        "(SELECT group_concat(rowid) FROM entries_fts WHERE entries_fts MATCH ?"
        " AND rowid IN (SELECT value FROM json_each(?)))"
    ]
    * len(schema.FIELD_MARKS)
)


def read_entry(conn: sqlite3.Connection, code: str) -> CatalogEntry | None:
    """The entry with resource code ``code``, if any."""
    row = conn.execute(f"{schema.SELECT_ENTRY} WHERE code = ?", (code,)).fetchone()
    return None if row is None else entry_from_row(row)


#: Joins the publish dates of a rank table's read (the ASCII unit separator: not in a date).
_UNIT = "\x1f"


def _joined_sizes(joined: bytes, rows: int) -> np.ndarray | None:
    """The text columns' token counts from ``rows`` FTS5 ``%_docsize`` blobs joined: one varint
    per column (the text columns, then ``tags``). Almost every count is under 128, one byte
    each, so the blobs read as one array; None when one holds a longer varint."""
    width = len(schema.TEXT_COLUMNS) + 1
    if len(joined) != width * rows:
        return None
    table = np.frombuffer(joined, dtype=np.uint8).reshape(rows, width)
    return table[:, : width - 1].astype(np.int32)


def _column_sizes(sizes: tuple[bytes, ...]) -> np.ndarray:
    """``_joined_sizes`` of the blobs ``sizes``, reading them one by one if it must."""
    width = len(schema.TEXT_COLUMNS) + 1
    fast = _joined_sizes(b"".join(sizes), len(sizes))
    if fast is not None:
        return fast
    return np.array([_varints(blob)[: width - 1] for blob in sizes], dtype=np.int32).reshape(
        len(sizes), width - 1
    )


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (big-endian, 7 bits a byte, high bit = more follows)."""
    out, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            out.append(value)
            value = 0
    return out
