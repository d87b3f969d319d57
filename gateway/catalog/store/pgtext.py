"""Catalog search reads on PostgreSQL: the same bigram tokens as the SQLite index, in
``tsvector`` columns with GIN indexes, as one read snapshot of ``search.Snapshot``.

Tokens: ``textindex.index_text`` makes them (bigrams of each CJK run plus its last character,
ASCII words), and they are stored as ``tsvector`` literals with their positions, so PostgreSQL's
own parser never re-splits them (the ``simple`` configuration would keep them whole too; a
literal also keeps the positions the phrases need). A term is the tsquery of its FTS5 term: a
run's bigrams as a phrase (``'公积' <-> '积金'``: 公积 next to 积金), a single character or an
ASCII word as a prefix (``'户':*``). A column ends in a unigram or a word, never a bigram, so
``alltext`` (the four columns concatenated, for "in some column") cannot join a phrase across
two columns.

Match expressions are SQL conditions on ``catalog_fts f`` holding literal tsqueries (tokens are
only ASCII alphanumerics or ideographs; quotes are doubled anyway) and facet-id arrays (``tags``:
the entry's facet-value ids, one per field). Ranking is the score
``textindex.relevance_levels`` defines, computed per match in SQL (weight of the best column per
term, summed), ordered by score then id, which is the SQLite store's order too.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.catalog.model import CatalogEntry
from gateway.catalog.store.entries import ENTRY_COLUMNS, entry_from_row
from gateway.catalog.store.facets import FacetIndex, build_facet_index
from gateway.catalog.textindex import MAX_SCORED_TERMS
from gateway.postgres import SqlConn

__all__ = ["TEXT_COLUMNS", "PgTextIndex", "tsquery", "tsvector"]

TEXT_COLUMNS = ("name", "department", "items", "abstract")
SELECT_ENTRY = f"SELECT id, {', '.join(ENTRY_COLUMNS)} FROM catalog_entries"


def tsvector(index_text: str) -> str:
    """A ``tsvector`` literal of space-separated index tokens, each at its position."""
    return " ".join(
        f"'{_escape(token)}':{position}"
        for position, token in enumerate(index_text.split(), start=1)
    )


def tsquery(term: str) -> str:
    """The tsquery text of one ``textindex.query_terms`` term (an FTS5 phrase or prefix)."""
    prefix = term.endswith(" *")
    body = term[:-2] if prefix else term
    tokens = body[1:-1].replace('""', '"').split(" ")
    if prefix:
        return f"'{_escape(tokens[0])}':*"
    return " <-> ".join(f"'{_escape(t)}'" for t in tokens)


def _escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("'", "\\'")


def _q(term: str) -> str:
    """A term as an SQL tsquery literal."""
    return "'" + tsquery(term).replace("'", "''") + "'::tsquery"


class PgTextIndex:
    """The catalog's tables as seen through ``conn``, inside one read snapshot."""

    def __init__(self, conn: SqlConn) -> None:
        self._conn = conn

    # -- match expressions ---------------------------------------------------------------------

    @staticmethod
    def tags(allowed: Iterable[set[int] | None]) -> str:
        return " AND ".join(
            "f.tags && ARRAY[" + ",".join(str(int(i)) for i in sorted(ids)) + "]::bigint[]"
            for ids in allowed
            if ids is not None
        )

    @staticmethod
    def text(terms: list[str]) -> str:
        return " AND ".join(f"f.alltext @@ {_q(term)}" for term in terms)

    @staticmethod
    def both(first: str, second: str) -> str:
        return f"({first}) AND ({second})"

    @staticmethod
    def but_not(first: str, second: str) -> str:
        return f"({first}) AND NOT ({second})"

    # -- counting (counting.MatchSet) ----------------------------------------------------------

    def count(self, match: str) -> int:
        return int(self._conn.value(f"SELECT count(*) FROM catalog_fts f WHERE {match}"))

    def ids(self, match: str) -> str | None:
        found = self._conn.value(
            f"SELECT string_agg(f.id::text, ',' ORDER BY f.id) FROM catalog_fts f WHERE {match}"
        )
        return None if found is None else str(found)

    def probe(self, match: str, start: int, rows: int) -> tuple[int, int]:
        n, last = self._conn.rows(
            "SELECT count(*), max(r) FROM (SELECT f.id AS r FROM catalog_fts f"
            f" WHERE ({match}) AND f.id >= ? ORDER BY f.id LIMIT ?) s",
            (start, rows),
        )[0]
        return int(n), int(last or 0)

    # -- reads (search.Snapshot) ---------------------------------------------------------------

    def read_entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        if not ids:
            return {}
        rows = self._conn.rows(f"{SELECT_ENTRY} WHERE id = ANY(?)", (list(ids),))
        return {row[0]: entry_from_row(row) for row in rows}

    def read_facet_index(self, generation: int) -> FacetIndex:
        return build_facet_index(
            generation,
            self._conn.rows("SELECT id, field, value FROM catalog_facet_values ORDER BY id"),
            self._conn.rows("SELECT * FROM catalog_entry_facets ORDER BY id"),
        )

    # -- hits ----------------------------------------------------------------------------------

    def ranked(self, terms: list[str], tags: str, limit: int) -> list[tuple[int, float]]:
        match = self.text(terms) + (f" AND {tags}" if tags else "")
        rows = self._conn.rows(
            f"SELECT f.id, {_score(terms)} AS score FROM catalog_fts f WHERE {match}"
            " ORDER BY score DESC, f.id LIMIT ?",
            (limit,),
        )
        return [(int(row_id), float(score)) for row_id, score in rows]

    def first(self, match: str | None, limit: int) -> list[int]:
        if match is None:
            rows = self._conn.rows("SELECT id FROM catalog_entries ORDER BY id LIMIT ?", (limit,))
        else:
            rows = self._conn.rows(
                f"SELECT f.id FROM catalog_fts f WHERE {match} ORDER BY f.id LIMIT ?", (limit,)
            )
        return [int(row[0]) for row in rows]


def _score(terms: list[str]) -> str:
    """``textindex.relevance_levels``'s score as SQL: each scored term adds the weight of the
    best column it occurs in (8, 4, 2, 1; with more than three terms, 8 in the name, else 1);
    terms past ``MAX_SCORED_TERMS`` add nothing."""
    scored = terms[:MAX_SCORED_TERMS]
    n = len(TEXT_COLUMNS)
    parts = []
    for term in scored:
        q = _q(term)
        if len(scored) <= 3:
            cases = " ".join(
                f"WHEN f.{column} @@ {q} THEN {2 ** (n - 1 - i)}"
                for i, column in enumerate(TEXT_COLUMNS)
            )
            cases += " ELSE 0"
        else:
            cases = f"WHEN f.name @@ {q} THEN {2 ** (n - 1)} ELSE 1"
        parts.append(f"(CASE {cases} END)")
    return " + ".join(parts) or "0"
