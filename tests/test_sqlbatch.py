"""Multi-row inserts: every row lands, in order, from a small fixed set of statements."""

from __future__ import annotations

import sqlite3

import pytest

from gateway import sqlbatch
from gateway.sqlbatch import insert_rows


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 63, 64, 65, 255, 256, 257, 700, 1024])
def test_every_row_lands_once_in_order(count):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER, name TEXT)")
    rows = [(i, f"行{i}") for i in range(count)]
    executed = []
    conn.set_trace_callback(executed.append)
    conn.execute("BEGIN")
    insert_rows(conn, "INSERT", "t", ("id", "name"), rows)
    conn.execute("COMMIT")
    assert conn.execute("SELECT id, name FROM t ORDER BY rowid").fetchall() == rows
    inserts = [sql for sql in executed if sql.startswith("INSERT")]
    sizes = {sql.count("(") - 1 for sql in inserts}  # value tuples per statement
    assert sizes <= {256, 64, 16, 4, 1}
    assert len(inserts) <= count // 256 + 3 * 4


def test_statements_are_few_and_shared_across_batch_lengths():
    sqlbatch._sql.cache_clear()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER)")
    for count in range(1, 300):
        insert_rows(conn, "INSERT OR REPLACE", "t", ("a",), [(i,) for i in range(count)])
    assert sqlbatch._sql.cache_info().currsize == 5
