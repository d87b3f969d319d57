"""Many rows into one SQLite table in few statements, from a small fixed set of statements.

A writer thread gives up the GIL around every ``sqlite3_step`` and, against a busy event loop,
may wait up to a switch interval (5 ms) to get it back: ``executemany`` (one step per row) turns
a batch into a convoy of forced GIL hand-offs. Multi-row ``INSERT ... VALUES (...), (...)``
statements take a batch in a few steps. Their sizes come from a fixed set (256, 64, 16, 4 and 1
rows), not the batch's exact length: every distinct statement stays prepared in the
connection's statement cache, and one per batch length came to ~16 MiB per connection
(measured: statements of 1 to 128 rows of 14 columns).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence

__all__ = ["insert_rows"]

#: Rows per statement, largest first: 256 rows of 27 columns stay well under SQLite's 32,766
#: variables.
_SIZES = (256, 64, 16, 4, 1)


def insert_rows(
    conn: sqlite3.Connection, verb: str, table: str, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """``verb`` (``INSERT``, ``INSERT OR REPLACE``) every row of ``rows`` into ``table``, within
    the caller's transaction: at most three statements of each size."""
    start = 0
    for size in _SIZES:
        sql = None
        while len(rows) - start >= size:
            sql = sql or _sql(verb, table, tuple(columns), size)
            chunk = rows[start : start + size]
            conn.execute(sql, [v for row in chunk for v in row])
            start += size


@functools.lru_cache(maxsize=32)
def _sql(verb: str, table: str, columns: tuple[str, ...], rows: int) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)
