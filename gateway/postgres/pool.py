"""The connections of one replica's blocking side: a small pool that connects on demand.

Not ``psycopg_pool``: its background reconnection backs off (1 s, 2 s, 4 s ...) while the
database is down, so callers kept waiting, and timing out, for seconds after it came back. Here
a caller that finds no idle connection opens one itself: while the database is down that fails
at once (a refused connection), and the first caller after it is back simply gets through. An
idle connection is checked before reuse without a round trip (``alive``): one the server closed
(a restart) has something to read, and is dropped instead of failing its caller.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

__all__ = ["BlockingPool", "alive"]


def alive(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection is still usable: not closed, and nothing waiting on its
    socket (an idle connection gets nothing unasked: input means the server said goodbye)."""
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class BlockingPool:
    """At most ``max_size`` connections in use at once; idle ones are kept for reuse."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        refusal: Callable[[], Exception],
        *,
        max_size: int = 8,
        wait_s: float = 2.0,
    ) -> None:
        self._connect = connect
        self._refusal = refusal
        self._turns = threading.BoundedSemaphore(max_size)
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one transaction; an ``OperationalError`` inside drops every idle
        connection too (the server likely went for all of them)."""
        if not self._turns.acquire(timeout=self._wait_s):
            raise self._refusal()  # every connection stayed busy for the whole wait
        conn = None
        try:
            conn = self._take()
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self.clear()
            raise
        finally:
            if conn is not None:
                self._give_back(conn)
            self._turns.release()

    def _take(self) -> psycopg.Connection[Any]:
        while True:
            with self._lock:
                if self._closed:
                    raise psycopg.InterfaceError("the pool is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if alive(conn):
                return conn
            conn.close()

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        usable = (
            not conn.closed
            and not conn.broken
            and conn.info.transaction_status == TransactionStatus.IDLE
        )
        with self._lock:
            if usable and not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.clear()
