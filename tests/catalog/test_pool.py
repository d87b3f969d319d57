"""The catalog's SQLite connections when a node stops with a read still running on a worker
thread: closing a connection under a running statement crashed a whole test process
(segmentation fault in ``Node.stop`` while a change-feed read ran in ``asyncio.to_thread``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sqlite3
import threading

import pytest

from gateway.catalog.store.pool import Connections


def test_a_reader_in_use_is_closed_when_its_read_ends_not_under_it(tmp_path) -> None:
    conns = Connections(str(tmp_path / "catalog.db"))
    with conns.write() as w:
        w.execute("CREATE TABLE t (x)")
        w.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    with conns.read() as one, conns.read() as other:
        pass  # both back in the pool: the thread below takes one, the other stays idle
    entered, closed = threading.Event(), threading.Event()
    seen: list[int] = []

    def reader() -> None:
        with conns.read() as conn:
            held.append(conn)
            entered.set()
            assert closed.wait(10)
            # The pool closed meanwhile; this read's connection is still whole.
            seen.append(conn.execute("SELECT count(*) FROM t").fetchone()[0])

    held: list[sqlite3.Connection] = []
    thread = threading.Thread(target=reader)
    thread.start()
    assert entered.wait(10)
    (in_use,) = held
    (idle,) = {one, other} - {in_use}
    conns.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        idle.execute("SELECT 1")  # closed at once
    closed.set()
    thread.join(10)
    assert seen == [1000]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        in_use.execute("SELECT 1")  # closed when its read ended
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        with conns.read():
            pass


def test_reading_a_catalog_never_maps_its_file(tmp_path) -> None:
    """Each connection mapped the file on its own, up to 64 MiB: a node's four catalogs, read
    on several connections each, counted hundreds of MiB of resident set for pages the kernel
    caches anyway. Readers and the writer read with ``pread`` instead."""
    path = tmp_path / "catalog.db"
    conns = Connections(str(path))
    try:
        with conns.write() as w:
            w.execute("CREATE TABLE t (x BLOB)")
            w.executemany("INSERT INTO t VALUES (randomblob(4000))", [()] * 4000)  # ~16 MB
        with conns.read() as one, conns.read() as two, conns.read() as three:
            for conn in (one, two, three):
                assert conn.execute("SELECT sum(length(x)) FROM t").fetchone()[0] == 16_000_000
            with open("/proc/self/maps", encoding="utf-8") as maps:
                mapped = [line for line in maps if line.rstrip().endswith(str(path))]
        assert mapped == []
    finally:
        conns.close()


def _sqlite_heap() -> int:
    """Bytes SQLite has allocated in this process (every connection's page cache among them)."""
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


def test_shrinking_frees_the_pages_a_catch_up_left_cached(tmp_path) -> None:
    """A follower's catch-up fills the writer's page cache (32 MiB) and the readers' (2 MiB
    each), which kept them for as long as the node ran; ``shrink`` frees them, and the store
    reads on as before."""
    conns = Connections(str(tmp_path / "catalog.db"))
    try:
        with conns.write() as w:
            w.execute("CREATE TABLE t (x BLOB)")
            w.executemany("INSERT INTO t VALUES (randomblob(4000))", [()] * 7000)  # ~29 MB
        written = _sqlite_heap()
        conns.shrink()
        shrunk = _sqlite_heap()
        assert written - shrunk > 28_000_000  # the writer cached the 29 MB it wrote
        with conns.read() as conn:
            conn.execute("SELECT sum(length(x)) FROM t").fetchone()
        read = _sqlite_heap()
        assert read - shrunk > 1_500_000  # the reader kept its 2 MiB of pages
        conns.shrink()
        assert read - _sqlite_heap() > 0.9 * (read - shrunk)
        with conns.read() as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 7000
    finally:
        conns.close()
