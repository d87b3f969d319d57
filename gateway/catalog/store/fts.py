"""Search reads on the catalog's SQLite file: FTS5 match expressions and the queries behind them.

``FtsIndex`` is one read snapshot as ``search`` and ``counting`` ask it (``search.Snapshot``).
Why the reads look as they do (scripts/bench_store.py has the numbers): at 131,000 entries a
two-character term matches thousands of rows, and any per-row work in SQLite costs ~0.5-1 µs.
FTS5's bm25 reads ``%_docsize`` once per row (and knows only this file's statistics), a join to
read facet columns is another b-tree seek per row, and GROUP BY sorts. So a text search reads
each term's rowids per column (one ``group_concat`` each, ``column_ids``; ~0.1 µs a row) and
everything else is numpy (``relevance``, ``facets``); filters never touch FTS5. Field lengths
come from FTS5's own ``%_docsize`` (one varint per column), read once per write generation.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from gateway.catalog.model import CatalogEntry
from gateway.catalog.store import schema
from gateway.catalog.store.entries import entry_from_row, json_ids
from gateway.catalog.store.facets import FacetIndex, build_facet_index
from gateway.catalog.store.relevance import RankTable, build_rank_table


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
            self._conn.execute("SELECT * FROM entry_facets ORDER BY id"),
        )

    def read_rank_table(self, index: FacetIndex) -> RankTable:
        rows = self._conn.execute(
            "SELECT e.id, d.sz, e.publish_date FROM entries AS e"
            " JOIN entries_fts_docsize AS d ON d.id = e.id ORDER BY e.id"
        ).fetchall()
        ids, sizes, dates = zip(*rows, strict=True) if rows else ((), (), ())
        return build_rank_table(index, ids, _column_sizes(sizes), dates)

    # -- hits ----------------------------------------------------------------------------------

    def column_ids(self, term: str) -> list[str | None]:
        return [
            self._conn.execute(
                "SELECT group_concat(rowid) FROM entries_fts WHERE entries_fts MATCH ?",
                (f"{{{column}}}: {term}",),
            ).fetchone()[0]
            for column in schema.TEXT_COLUMNS
        ]


def read_entry(conn: sqlite3.Connection, code: str) -> CatalogEntry | None:
    """The entry with resource code ``code``, if any."""
    row = conn.execute(f"{schema.SELECT_ENTRY} WHERE code = ?", (code,)).fetchone()
    return None if row is None else entry_from_row(row)


def _column_sizes(sizes: tuple[bytes, ...]) -> np.ndarray:
    """The text columns' token counts from FTS5 ``%_docsize`` blobs: one varint per column
    (the text columns, then ``tags``). Almost every count is under 128, one byte each, so the
    blobs are read as one array unless one holds a longer varint."""
    width = len(schema.TEXT_COLUMNS) + 1
    joined = b"".join(sizes)
    if len(joined) == width * len(sizes):
        table = np.frombuffer(joined, dtype=np.uint8).reshape(len(sizes), width)
        return table[:, : width - 1].astype(np.int32)
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
