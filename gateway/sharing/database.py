"""The sharing store's SQLite file: one connection behind a lock, its transactions, its version.

WAL mode with ``synchronous=FULL``: a write transaction returns only once it is on disk, so an
answer sent after it survives kill -9 and power loss. One connection behind a lock, so methods
are synchronous and thread-safe (the service calls them through ``asyncio.to_thread``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.errors import SchemaTooNew
from gateway.sharing import tables as t


class Database:
    """The sharing file of one node (created with its schema if missing)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: asyncio.to_thread runs calls on varying worker threads; the
        # lock, not the thread, is what keeps them apart.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is fsynced before it returns, so a sent answer is never lost.
            self._conn.execute("PRAGMA synchronous=FULL")
            found = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if found > t.SCHEMA_VERSION:
                raise SchemaTooNew("sharing", found, t.SCHEMA_VERSION, where=str(path))
            # executescript commits any open transaction first, so the script brings its own.
            self._conn.executescript(
                f"BEGIN IMMEDIATE;{t.SCHEMA}PRAGMA user_version={t.SCHEMA_VERSION};COMMIT;"
            )
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so check-then-write (quota, decisions) is
        # atomic even against another process sharing the file.
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            # Every change made here goes through this point; a change by another connection
            # (another worker of the node) moves PRAGMA data_version. The in-memory views
            # built on ``version`` are rebuilt whenever either moved, so they are exact.
            self._generation += 1

    def version(self) -> tuple[int, int]:
        """Changes a view may depend on: this connection's writes, then everyone else's."""
        with self._lock:
            return self._generation, self._conn.execute("PRAGMA data_version").fetchone()[0]

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")
