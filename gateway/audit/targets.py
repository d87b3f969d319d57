"""Where the group-commit writer puts a chain's batches in a SQLite file (PostgreSQL's is
``pgchain``), and the head's stored form both share.

``BEGIN IMMEDIATE`` takes the file's write lock, and with a ``write_lock`` file the
processes writing one log (a node's workers) first take turns on it (``flock``): the kernel
hands the lock to a waiting writer the moment it is released, where SQLite's busy handler would
sleep 1, 2, 5, 10 ms ... between tries and put those sleeps on every waiting call's latency.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.writer import ROW_COLUMNS, parse_head
from gateway.sqlbatch import insert_rows

__all__ = ["SqliteChain", "head_of", "head_value", "last_entry"]


class SqliteChain:
    """The write connection of one SQLite log (already set up: WAL, ``synchronous=FULL``)."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def unreachable(self, exc: Exception) -> None:
        """A file on the node's own disk is never out of reach: its failures are internal."""
        return None

    def __init__(self, conn: sqlite3.Connection, *, write_lock: str | os.PathLike | None) -> None:
        self.conn = conn
        self._lock_fd = (
            os.open(write_lock, os.O_RDWR | os.O_CREAT, 0o600) if write_lock is not None else -1
        )
        self._locked = False
        #: The head text this writer stored last, and what it says: read back unchanged (no
        #: other writer came between), it is not parsed again.
        self._stored: tuple[str, tuple[int, str]] | None = None

    def begin(self) -> tuple[int, str]:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._locked = True
        self.conn.execute("BEGIN IMMEDIATE")
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        value = row[0] if row else None
        stored = self._stored
        if stored is not None and value == stored[0]:
            return stored[1]
        return head_of(value, lambda: self.conn.execute(last_entry("entries")))

    def store(self, rows: list[tuple[Any, ...]], seq: int, digest: str) -> bool:
        insert_rows(self.conn, "INSERT", "entries", ROW_COLUMNS, rows)
        value = head_value(seq, digest)
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (value,))
        self.conn.execute("COMMIT")
        self._stored = (value, (seq, digest))
        self._unlock()
        return True  # the file's write lock held the head since begin()

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


def last_entry(table: str) -> str:
    """The statement reading the seq and hash of the last entry in ``table``."""
    return f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"


def head_of(value: object, last: Callable[[], Any]) -> tuple[int, str]:
    """The chain's head from its stored ``value``, else from the last entry (``last()``)."""
    head = parse_head(value) if value is not None else None
    if head is not None:
        return head
    # A damaged head must not stop the node from auditing (that would refuse every call): carry
    # on from the last row; verify still reports the damage.
    row = last().fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def head_value(seq: int, digest: str) -> str:
    """The stored text of the head (seq, digest)."""
    return json.dumps({"seq": seq, "hash": digest})
