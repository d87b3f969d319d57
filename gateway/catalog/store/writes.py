"""Writing the catalog's SQLite file: bulk insert-or-replace by code, withdrawing, clearing.

A batch is one transaction that writes ``entries``, ``entry_facets``, the FTS5 row and the
change feed's rows (``feed``) together and moves the write generation. A bulk load is sorted
by id (code order) so it appends to neighbouring pages, runs with a bigger page cache, and merges
the FTS b-trees once at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.store import feed, schema
from gateway.catalog.store.entries import batched, code_key, entry_row, facet_values, json_ids
from gateway.catalog.store.pool import BULK_CACHE_KIB, CACHE_KIB, Connections

# A bulk load that wrote at least this many rows merges the FTS b-trees into one ('optimize'):
# queries then read one segment per token instead of dozens.
OPTIMIZE_AFTER_ROWS = 10_000


def insert_many(
    pool: Connections,
    entries: Iterable[CatalogEntry],
    batch_size: int,
    clock: Callable[[], float],
) -> int:
    """Insert or replace (by code) ``entries``, one transaction per batch; returns how many
    were written. Raises ``ValueError`` (before writing that batch) for a malformed code."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    written = 0
    with pool.writer() as writer:
        # A bulk load touches pages all over the b-trees; a big cache saves re-reading them.
        writer.execute(f"PRAGMA cache_size={BULK_CACHE_KIB}")
    try:
        for batch in batched(entries, batch_size):
            # Last one wins within a batch, as across batches. Sorted: ids are code order,
            # so a sorted batch appends to neighbouring pages instead of scattering.
            by_key = dict(sorted({code_key(entry.code): entry for entry in batch}.items()))
            with pool.write() as conn:
                feed.LITE.record_writes(feed.Lite(conn), by_key, clock())
                write_batch(conn, by_key)
            written += len(by_key)
        if written >= OPTIMIZE_AFTER_ROWS:
            with pool.write() as conn:
                conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('optimize')")
    finally:
        with pool.writer() as writer:
            if not pool.closed:
                writer.execute(f"PRAGMA cache_size={CACHE_KIB}")
                writer.execute("PRAGMA shrink_memory")
                if written >= OPTIMIZE_AFTER_ROWS:
                    writer.execute("PRAGMA optimize")
                    # The load's WAL can be hundreds of MiB; give the space back.
                    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return written


def clear(pool: Connections, clock: Callable[[], float]) -> None:
    """Remove every entry (meta and the facet-value dictionary stay)."""
    with pool.write() as conn:
        feed.LITE.record_clear(feed.Lite(conn), clock())
        clear_rows(conn)


def clear_rows(conn: sqlite3.Connection) -> None:
    """Remove every entry inside the caller's transaction (the feed is the caller's)."""
    conn.execute("DELETE FROM entries")
    conn.execute("DELETE FROM entry_facets")
    conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
    schema.bump_generation(conn)  # every entry: not logged


def withdraw(pool: Connections, codes: Iterable[str], clock: Callable[[], float]) -> int:
    """Delete the entries of ``codes`` (unknown codes are ignored), in one transaction; returns
    how many were deleted. Raises ``ValueError`` for a malformed code, before writing."""
    keys = sorted({code_key(code) for code in codes})
    with pool.write() as conn:
        feed.LITE.record_withdrawals(feed.Lite(conn), keys, clock())
        deleted = delete_rows(conn, keys)
        schema.bump_generation(conn, keys)
    return deleted


def delete_rows(conn: sqlite3.Connection, keys: Iterable[int]) -> int:
    """Delete the entries of ``keys`` inside the caller's transaction; how many there were."""
    ids = json_ids(keys)
    # Contentless FTS5 deletes a row given exactly the tokens it was indexed with.
    old = conn.execute(
        f"{schema.SELECT_FTS_SOURCE} WHERE e.id IN (SELECT value FROM json_each(?))", (ids,)
    ).fetchall()
    if old:
        conn.executemany(schema.DELETE_FTS, map(schema.stored_fts_row, old))
        conn.execute("DELETE FROM entries WHERE id IN (SELECT value FROM json_each(?))", (ids,))
        conn.execute(
            "DELETE FROM entry_facets WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
    return len(old)


def write_batch(conn: sqlite3.Connection, by_key: dict[int, CatalogEntry]) -> None:
    """Insert or replace ``by_key`` inside the caller's transaction (the feed is the caller's)."""
    delete_rows(conn, by_key)
    value_ids = {
        (name, value): i
        for i, name, value in conn.execute("SELECT id, field, value FROM facet_values")
    }
    entry_rows, facet_rows, fts_rows = [], [], []
    for key, entry in by_key.items():
        facet_ids = [
            value_ids.get((name, value)) or _add_facet_value(conn, value_ids, name, value)
            for name, value in zip(FACET_FIELDS, facet_values(entry), strict=True)
        ]
        entry_rows.append(entry_row(key, entry))
        facet_rows.append((key, *facet_ids))
        item_names = [item.name for item in entry.items]
        fts_rows.append(
            schema.fts_row(key, entry.name, entry.department, item_names, entry.abstract, facet_ids)
        )
    conn.executemany(schema.INSERT_ENTRY, entry_rows)
    conn.executemany(schema.INSERT_FACETS, facet_rows)
    conn.executemany(schema.INSERT_FTS, fts_rows)
    schema.bump_generation(conn, by_key)


def _add_facet_value(
    conn: sqlite3.Connection, value_ids: dict[tuple[str, str], int], name: str, value: str
) -> int:
    value_id = conn.execute(
        "INSERT INTO facet_values (field, value) VALUES (?, ?) RETURNING id", (name, value)
    ).fetchone()[0]
    value_ids[(name, value)] = value_id
    return int(value_id)
