"""Search reads on the catalog's SQLite file: FTS5 match expressions and the queries behind them.

``FtsIndex`` is one read snapshot as ``search`` and ``counting`` ask it (``search.Snapshot``).
Why the reads look as they do (scripts/bench_store.py has the numbers): at 131,000 entries a
two-character term matches thousands of rows, and any per-row work in SQLite costs ~0.5-1 µs.
FTS5's bm25 reads ``%_docsize`` once per row, a join to read facet columns is another b-tree
seek per row, and GROUP BY sorts. So relevance comes in levels (``textindex.relevance_levels``)
read best-first in rowid order with LIMIT, which usually touches only the first page of the top
level; filters are ``tags`` tokens inside the MATCH; and a match set is counted from its rowids
(one ``group_concat``) against the in-memory facet index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from gateway.catalog import textindex
from gateway.catalog.model import CatalogEntry
from gateway.catalog.store import schema
from gateway.catalog.store.entries import entry_from_row, json_ids
from gateway.catalog.store.facets import FacetIndex, build_facet_index


class FtsIndex:
    """The FTS5 index as seen through ``conn``, a connection inside one read transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # -- match expressions ---------------------------------------------------------------------

    @staticmethod
    def tags(allowed: Iterable[set[int] | None]) -> str:
        """Entries with one of the allowed facet values in every field that has any ('' when
        no field does)."""
        return " AND ".join(
            "{tags}: (" + " OR ".join(f'"{schema.tag(i)}"' for i in sorted(ids)) + ")"
            for ids in allowed
            if ids is not None
        )

    @staticmethod
    def text(terms: list[str]) -> str:
        """Entries with every term in some text column."""
        return f"{schema.ALL_TEXT}: (" + " AND ".join(terms) + ")"

    @staticmethod
    def both(first: str, second: str) -> str:
        return f"{first} AND {second}"

    @staticmethod
    def but_not(first: str, second: str) -> str:
        return f"({first}) NOT ({second})"

    # -- counting (counting.MatchSet) ----------------------------------------------------------

    def count(self, match: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", (match,)
        )
        return int(row.fetchone()[0])

    def ids(self, match: str) -> str | None:
        row = self._conn.execute(
            "SELECT group_concat(rowid) FROM entries_fts WHERE entries_fts MATCH ?", (match,)
        ).fetchone()
        return row[0]

    def probe(self, match: str, start: int, rows: int) -> tuple[int, int]:
        n, last = self._conn.execute(
            "SELECT count(*), max(r) FROM (SELECT rowid AS r FROM entries_fts"
            " WHERE entries_fts MATCH ? AND rowid >= ? ORDER BY rowid LIMIT ?)",
            (match, start, rows),
        ).fetchone()
        return n, last or 0

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

    # -- hits ----------------------------------------------------------------------------------

    def ranked(self, terms: list[str], tags: str, limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` (id, score) pairs: the levels best first, each in code (= rowid)
        order, stopping as soon as ``limit`` are found. ``limit`` must not exceed the number of
        matches, or every level is scanned."""
        ranked: list[tuple[int, float]] = []
        for score, expression in textindex.relevance_levels(terms, schema.TEXT_COLUMNS):
            if len(ranked) >= limit:
                break
            match = f"({expression}) AND {tags}" if tags else expression
            ranked.extend(
                (row_id, float(score)) for row_id in self.first(match, limit - len(ranked))
            )
        return ranked

    def first(self, match: str | None, limit: int) -> list[int]:
        """The first ``limit`` ids in code order of the entries ``match`` matches (None: of all
        entries)."""
        if match is None:
            rows = self._conn.execute(
                "SELECT id FROM entries ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        else:
            # ORDER BY rowid is FTS5's natural order: no sorter, and LIMIT stops reading the
            # doclists.
            rows = self._conn.execute(
                "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid LIMIT ?",
                (match, limit),
            ).fetchall()
        return [row[0] for row in rows]


def read_entry(conn: sqlite3.Connection, code: str) -> CatalogEntry | None:
    """The entry with resource code ``code``, if any."""
    row = conn.execute(f"{schema.SELECT_ENTRY} WHERE code = ?", (code,)).fetchone()
    return None if row is None else entry_from_row(row)
