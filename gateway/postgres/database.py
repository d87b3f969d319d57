"""One node replica's connection pool to the province's PostgreSQL database.

Driver: psycopg 3, its blocking connections kept in a small pool of our own (``pool``: it
connects on demand, so a database that is back is used at once). The stores' interfaces are
synchronous and thread-safe (services call them through ``asyncio.to_thread``), so a blocking
pool fits them as they are. Measured on this 2-core box under the other helpers' load (8
threads or tasks, 4,000 single-statement upserts with RETURNING, each its own committed,
fsynced transaction; two runs each):

========================================  ===============  ================
driver                                    throughput       client CPU/op
========================================  ===============  ================
psycopg 3 + psycopg_pool, from threads    1,836 / 1,641 /s 299 / 296 µs
asyncpg, native on an event loop          1,136 /   992 /s 231 / 252 µs
asyncpg, bridged from threads to a loop     657 /   975 /s 547 / 369 µs
========================================  ===============  ================

asyncpg spends less CPU per statement only when its caller is already a coroutine; behind the
stores' synchronous interface (the bridge) it costs the most, and commits, not the driver,
bound the throughput. psycopg it is.

The hot path (a call's version read and quota count) is not behind that interface: it runs on
the event loop through :meth:`Postgres.fetch` (``onloop``), one autocommit statement per round
trip, with no thread hand-off. There psycopg's async connection cost 160-240 µs of CPU per
one-row SELECT and asyncpg's 150 (3,000 each, one connection, this box under the other
helpers' load): not enough to run a second driver beside the first.

Statements are written once for both backends with SQLite's ``?`` placeholders;
:class:`SqlConn` turns them into psycopg's ``%s`` (no statement here has a literal ``?`` or
``%``). Rows come back as dicts, read by column name as SQLite's rows are.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from gateway.errors import Unavailable
from gateway.postgres.onloop import LoopConnections
from gateway.postgres.pool import BlockingPool

__all__ = ["LOOP_CONNECTIONS", "Postgres", "SqlConn"]

log = logging.getLogger(__name__)

LOOP_CONNECTIONS = 16
"""Statements in flight at once from a replica's event loop (one per call at a time: its
in-flight bounds admit more calls, which then wait their turn, counted in ``loop_stats``)."""


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class SqlConn:
    """A connection inside one transaction, speaking the stores' SQLite-style statements."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(_pg(sql), tuple(parameters))

    def value(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        """The first column of the one row ``sql`` returns."""
        row = self.execute(sql, parameters).fetchone()
        if row is None:
            raise LookupError(f"no row: {sql}")
        return next(iter(row.values()))

    def rows(self, sql: str, parameters: Sequence[Any] = (), /) -> list[tuple[Any, ...]]:
        """Every row ``sql`` returns, as tuples."""
        with self.raw.cursor(row_factory=tuple_row) as cur:
            return cur.execute(_pg(sql), tuple(parameters)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(r) for r in rows])


def _configure(conn: psycopg.Connection[Any]) -> None:
    # No data leaves before its audit entry is committed: commits wait for the WAL flush
    # whatever the server's or the role's default says.
    conn.execute("SET synchronous_commit TO on")
    conn.commit()


def _where(dsn: str) -> str:
    """host:port/database of a DSN, safe to show (no user, no password)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable DSN)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class Postgres:
    """The pool of one replica; :meth:`transaction` is the only way in."""

    def __init__(self, dsn: str, *, max_size: int = 8, wait_s: float = 2.0) -> None:
        """``wait_s``: how long a call waits for a connection while all ``max_size`` are busy
        before it is refused (``Unavailable``). The database must be reachable now."""
        self.dsn = dsn
        self._wait_s = wait_s
        self.where = _where(dsn)
        self._pool = BlockingPool(self._connect, self.unavailable, max_size=max_size, wait_s=wait_s)
        with self.transaction():  # the database must be there when a node starts
            pass
        self._on_loop: LoopConnections | None = None

    @contextmanager
    def transaction(self) -> Iterator[SqlConn]:
        """One transaction (READ COMMITTED) on a pooled connection: committed when the block
        ends, rolled back when it raises.

        A database that cannot be reached (or drops the connection) is an ``Unavailable``
        refusal naming it, never an INTERNAL error; the pool connects again on demand, so calls
        succeed again once it is back, without a restart."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield SqlConn(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self.unavailable() from exc

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, connect_timeout=2, row_factory=dict_row)
        _configure(conn)
        return conn

    def unavailable(self) -> Unavailable:
        """The refusal of a call whose store cannot be reached: UNAVAILABLE, naming it."""
        return Unavailable(
            f"the province's store is unavailable: PostgreSQL at {self.where} cannot be reached",
            reason="STORE_UNAVAILABLE",
        )

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one autocommit statement (psycopg's ``%s`` placeholders), sent from
        the running event loop (``onloop``); None when it returns no row."""
        conns = self._on_loop
        if conns is None or conns.loop is not asyncio.get_running_loop():
            if conns is not None:
                conns.close()  # a loop that is gone (tests run one per test)
            conns = self._on_loop = LoopConnections(
                self.dsn, self.unavailable, max_size=LOOP_CONNECTIONS, wait_s=self._wait_s
            )
        return await conns.fetch(sql, params)

    @property
    def loop_stats(self) -> dict[str, float]:
        """The event loop's statements, and how many of them waited for a turn and how long."""
        conns = self._on_loop
        if conns is None:
            return {"statements": 0, "waits": 0, "wait_s": 0.0}
        return {"statements": conns.statements, "waits": conns.waits, "wait_s": conns.wait_s_total}

    def close(self) -> None:
        if self._on_loop is not None:
            stats = self.loop_stats
            log.info(
                "PostgreSQL %s: %d statements from the event loop, %d waited for a turn "
                "(%.3f s in all)",
                self.where,
                stats["statements"],
                stats["waits"],
                stats["wait_s"],
            )
            self._on_loop.close()
        self._pool.close()

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
