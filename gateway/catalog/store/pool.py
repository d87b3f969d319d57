"""The catalog's SQLite connections: one writer behind a lock, a pool of readers.

Concurrency: one writer (a lock serialises writes) and any number of readers, each search on a
pooled connection inside one read transaction, so hits, total and facets share one snapshot.

Durability: ``synchronous=NORMAL`` under WAL can lose the last transactions on power loss but never
corrupts the file; the catalog is re-seedable from its source, so losing a recent bulk load is
cheaper than an fsync per commit. (Grants and audit live in other stores, with other rules.)
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Page cache per connection (negative = KiB). The writer's: a write transaction (a replica's
# page of changes, a node's edits) touches the same FTS5 segment and b-tree pages many times.
CACHE_KIB = -32768
BULK_CACHE_KIB = -131072
# A reader's: small. A search reads each page of a term's doclist once and keeps what it read
# in the store's own caches (postings, entries, answers), and the file's pages stay in the
# kernel's page cache, shared by every connection and process, so a bigger cache per reader
# mostly held copies: at 131,000 entries per catalog, seven stores' readers of 32 MiB each held
# 176 MiB more heap with the same CPU per cold search (scripts/bench_federated_search.py
# --fresh 1000, three alternating pairs); readers of 8 MiB held 44 MiB more than readers of
# 2 MiB (SQLite's default), again at the same CPU (6.46 against 6.42 and 6.45 ms a search).
READ_CACHE_KIB = -2048


class Connections:
    """The connections to one catalog file. Thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.closed = False
        self._write_lock = threading.Lock()
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer = self._connect(CACHE_KIB)
        try:
            self._writer.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            self._writer.close()
            raise

    def _connect(self, cache_kib: int = READ_CACHE_KIB) -> sqlite3.Connection:
        # check_same_thread=False: a pooled reader moves between the worker threads of
        # asyncio.to_thread (one thread at a time), and close() may run on yet another thread.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA cache_size={cache_kib}")
        # No memory map. Each connection maps the file on its own, so a node's four catalogs,
        # read by a reader, the reads at once, a feed's follower and a writer each, counted up
        # to 64 MiB a connection and file in its resident set (400 MiB of 950 in one process
        # holding seven stores at 131,000 entries) for pages the kernel caches anyway; reading
        # them with pread cost no more CPU per cold search in the same measurement.
        conn.execute("PRAGMA mmap_size=0")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _check_open(self) -> None:
        if self.closed:
            raise sqlite3.ProgrammingError("CatalogStore is closed")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside one read transaction (one snapshot)."""
        self._check_open()
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers.append(conn)
        try:
            with _snapshot(conn):
                yield conn
        finally:
            self._release(conn)

    @contextmanager
    def read_apart(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own inside one read transaction, closed afterwards: for a long
        read whose pages the pooled readers' caches should not keep (``CatalogStore.keep_common``
        reads the commonest terms' doclists once). It also has the FTS index's vocabulary (tokens
        and how many entries hold each) as ``temp.entries_vocab``, made before ``query_only``
        (a temp table: nothing is written to the file)."""
        self._check_open()
        conn = self._connect()
        try:
            conn.execute(
                "CREATE VIRTUAL TABLE temp.entries_vocab USING fts5vocab(main, entries_fts, row)"
            )
            conn.execute("PRAGMA query_only=ON")
            with _snapshot(conn):
                yield conn
        finally:
            conn.close()

    @contextmanager
    def idle_reader(self) -> Iterator[sqlite3.Connection | None]:
        """A pooled reader in autocommit if one is free right now, else None: never opens one."""
        self._check_open()
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            yield None
            return
        try:
            yield conn
        finally:
            self._release(conn)

    def shrink(self) -> None:
        """Free the cached pages of the writer and of every idle reader (``PRAGMA
        shrink_memory``): after a catch-up, whose pages the writer's cache and the feed's
        readers' would otherwise hold for good. A reader in use keeps its pages."""
        self._check_open()
        with self._write_lock:
            if not self.closed:  # close() closes the writer under this lock
                self._writer.execute("PRAGMA shrink_memory")
        idle: list[sqlite3.Connection] = []
        try:
            while True:
                idle.append(self._pool.get_nowait())
        except queue.Empty:
            pass
        for conn in idle:
            try:
                conn.execute("PRAGMA shrink_memory")
            finally:
                self._release(conn)

    def _release(self, conn: sqlite3.Connection) -> None:
        """Back to the pool, or closed if the pool closed while ``conn`` was in use."""
        with self._readers_lock:
            if not self.closed:
                self._pool.put(conn)
                return
            self._readers.remove(conn)
        conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The writer inside one write transaction, rolled back if the block raises."""
        self._check_open()
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """The writer outside any transaction (for its PRAGMAs); check ``closed`` first."""
        with self._write_lock:
            yield self._writer

    def close(self) -> None:
        """Close every connection; no new read or write starts after it. A reader in use on
        another thread (a feed read or a search that outlived its call, which a thread cannot be
        cancelled out of) is closed when that read ends: closing a connection under a running
        statement crashes the process. The writer is closed once its transaction ends."""
        with self._readers_lock:
            if self.closed:
                return
            self.closed = True
            idle: list[sqlite3.Connection] = []
            while True:
                try:
                    idle.append(self._pool.get_nowait())
                except queue.Empty:
                    break
            for conn in idle:
                self._readers.remove(conn)
        for conn in idle:
            conn.close()
        with self._write_lock:
            self._writer.close()


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """``conn`` inside one read transaction: every read of the block sees one snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
