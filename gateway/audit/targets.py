"""Where the group-commit writer puts a chain's batches: a SQLite file, or the province's
PostgreSQL database shared by its replicas.

SQLite: ``BEGIN IMMEDIATE`` takes the file's write lock, and with a ``write_lock`` file the
processes writing one log (a node's workers) first take turns on it (``flock``): the kernel
hands the lock to a waiting writer the moment it is released, where SQLite's busy handler would
sleep 1, 2, 5, 10 ms ... between tries and put those sleeps on every waiting call's latency.

PostgreSQL: the head row is read ``FOR UPDATE`` inside the transaction, so the replicas' writers
append one after another to one chain; a batch is one ``executemany`` (pipelined: one round
trip) and one commit with ``synchronous_commit`` on. The writer keeps one connection of its own
and opens a new one after a failure, so a database that comes back is written again without a
restart.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.writer import ROW_COLUMNS, parse_head
from gateway.sqlbatch import insert_rows

__all__ = ["PgChain", "SqliteChain"]


class SqliteChain:
    """The write connection of one SQLite log (already set up: WAL, ``synchronous=FULL``)."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, *, write_lock: str | os.PathLike | None) -> None:
        self.conn = conn
        self._lock_fd = (
            os.open(write_lock, os.O_RDWR | os.O_CREAT, 0o600) if write_lock is not None else -1
        )
        self._locked = False

    def begin(self) -> tuple[int, str]:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._locked = True
        self.conn.execute("BEGIN IMMEDIATE")
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        return _head(row[0] if row else None, lambda: self.conn.execute(_LAST.format("entries")))

    def store(self, rows: list[tuple[Any, ...]], seq: int, digest: str) -> None:
        insert_rows(self.conn, "INSERT", "entries", ROW_COLUMNS, rows)
        self.conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'head'", (_head_value(seq, digest),)
        )
        self.conn.execute("COMMIT")
        self._unlock()

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is gone: nothing is left to roll back
        finally:
            self._unlock()

    def close(self) -> None:
        try:
            # Fold the WAL back into the main file so a closed log is one self-contained file.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the data is safe in the WAL either way
        self.conn.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)

    def _unlock(self) -> None:
        if self._locked:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


class PgChain:
    """The writer's own connection to the province's database (``audit_entries``)."""

    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        placeholders = ", ".join(["%s"] * len(ROW_COLUMNS))
        self._insert = (
            f"INSERT INTO audit_entries ({', '.join(ROW_COLUMNS)}) VALUES ({placeholders})"
        )

    def begin(self) -> tuple[int, str]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, connect_timeout=5)
            self._conn.execute("SET synchronous_commit TO on")
        row = self._conn.execute(
            "SELECT value FROM audit_meta WHERE key = 'head' FOR UPDATE"
        ).fetchone()
        conn = self._conn
        return _head(row[0] if row else None, lambda: conn.execute(_LAST.format("audit_entries")))

    def store(self, rows: list[tuple[Any, ...]], seq: int, digest: str) -> None:
        assert self._conn is not None  # begin() opened it
        with self._conn.cursor() as cur:
            cur.executemany(self._insert, rows)
        self._conn.execute(
            "UPDATE audit_meta SET value = %s WHERE key = 'head'", (_head_value(seq, digest),)
        )
        self._conn.commit()

    def rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except psycopg.Error:
            self._conn.close()  # broken: the next batch opens a new one

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


_LAST = "SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1"


def _head(value: object, last: Callable[[], Any]) -> tuple[int, str]:
    head = parse_head(value) if value is not None else None
    if head is not None:
        return head
    # A damaged head must not stop the node from auditing (that would refuse every call): carry
    # on from the last row; verify still reports the damage.
    row = last().fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def _head_value(seq: int, digest: str) -> str:
    return json.dumps({"seq": seq, "hash": digest})
