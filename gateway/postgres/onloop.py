"""The hot path's statements on the node's event loop: psycopg's async connections, no thread.

A call's store work on PostgreSQL is one statement per node (the app's version read on the home
node, the version-checked quota count on the owner), sent from the event loop itself: a thread
hand-off would cost two GIL switches per statement, and a thread waiting for the GIL behind a
busy loop can wait a whole switch interval (5 ms). Connections are in autocommit mode, so a
statement is one round trip (no ``BEGIN``/``COMMIT`` of its own), and psycopg prepares a
statement on the server after its fifth use.

At most ``max_size`` statements are in flight per loop; a caller that waits longer than
``wait_s`` for a turn, or finds the database unreachable, is refused with ``Unavailable``
naming it at once (a refused connection fails in well under a millisecond: no queueing behind a
database that is gone). An idle connection the server closed (a restart) is dropped before use
(``pool.alive``), and after a failure every idle connection is dropped: the next statement
connects afresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from gateway.postgres.pool import alive

__all__ = ["LoopConnections"]


class LoopConnections:
    """Autocommit connections of one event loop (``Postgres.fetch`` keeps one per loop)."""

    def __init__(
        self,
        dsn: str,
        refusal: Callable[[], Exception],
        *,
        max_size: int = 8,
        wait_s: float = 2.0,
        connect_timeout_s: int = 2,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._dsn = dsn
        self._refusal = refusal
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._turns = asyncio.Semaphore(max_size)
        self._wait_s = wait_s
        self._connect_timeout_s = connect_timeout_s
        self.statements = 0
        """Statements sent (for the benchmark's per-call figures)."""
        self.waits = 0
        """Statements that had to wait for a turn (all ``max_size`` in flight)."""
        self.wait_s_total = 0.0

    async def fetch(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of one statement, as a tuple (None when it returns no row)."""
        if self._turns.locked():
            self.waits += 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self._wait_s):
                    await self._turns.acquire()
            except TimeoutError:
                raise self._refusal() from None
            finally:
                self.wait_s_total += time.perf_counter() - started
        else:
            await self._turns.acquire()
        try:
            conn = None
            while self._idle and conn is None:
                conn = self._idle.pop()
                if not alive(conn):  # the server closed it (a restart): not a failed call
                    self._drop(conn)
                    conn = None
            try:
                if conn is None:
                    conn = await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True, connect_timeout=self._connect_timeout_s
                    )
                cur = await conn.execute(sql, params)
                row = await cur.fetchone()
            except (psycopg.OperationalError, psycopg.InterfaceError):
                # The server went (or restarted): its other connections are dead too.
                if conn is not None:
                    self._drop(conn)
                self.close()
                raise self._refusal() from None
            except BaseException:
                if conn is not None:
                    self._drop(conn)  # cancelled mid-statement: its state is unknown
                raise
            self.statements += 1
            self._idle.append(conn)
            return row
        finally:
            self._turns.release()

    def close(self) -> None:
        """Close every idle connection (from any thread: nothing is awaited)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            self._drop(conn)

    @staticmethod
    def _drop(conn: psycopg.AsyncConnection[Any]) -> None:
        # The libpq handle is closed directly: AsyncConnection.close() would need this loop,
        # and close() may run on another thread or after the loop has gone.
        conn.pgconn.finish()
