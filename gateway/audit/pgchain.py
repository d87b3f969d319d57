"""Where the group-commit writer puts a chain's batches on PostgreSQL: the province's one chain,
shared by its replicas.

A batch is one statement in the common case: the writer remembers the head it committed last
and sends the batch's rows together with a conditional move of the head (``UPDATE ... WHERE
value = <the head it chained onto>``), which commits both or, when another replica moved the
head first, neither (the update finds no row, so the insert adds none). Concurrent writers
queue on the head's row lock, and the second one's condition is checked again against the
committed head, so the chain stays one chain. A miss costs that one statement: the batch is
chained again onto the head read ``FOR UPDATE`` inside an explicit transaction, and, since a
miss means several replicas are appending, the next batches take that lock first too before
trying the one-statement way again. Commits wait for the WAL flush (``synchronous_commit`` on):
no data leaves before its entry is durable.

The writer keeps one connection of its own and opens a new one after a failure, so a database
that comes back is written again without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg

from gateway.audit.targets import head_of, head_value, last_entry
from gateway.audit.writer import ROW_COLUMNS
from gateway.errors import GatewayError

__all__ = ["PgChain"]

log = logging.getLogger(__name__)

LOCKED_BATCHES = 32
"""Batches appended under the head's lock after a miss, before one is tried without it."""

_READ_HEAD = "SELECT value FROM audit_meta WHERE key = 'head'"
_ROW = "(" + ", ".join(["%s"] * len(ROW_COLUMNS)) + ")"
_INSERT = f"INSERT INTO audit_entries ({', '.join(ROW_COLUMNS)}) VALUES {_ROW}"
_MOVE_HEAD = "UPDATE audit_meta SET value = %s WHERE key = 'head'"


def _append(rows: int) -> str:
    """Insert ``rows`` entries if, and only if, the head moves from the expected value."""
    return (
        "WITH moved AS (UPDATE audit_meta SET value = %s WHERE key = 'head' AND value = %s"
        f" RETURNING 1) INSERT INTO audit_entries ({', '.join(ROW_COLUMNS)})"
        f" SELECT * FROM (VALUES {', '.join([_ROW] * rows)}) AS batch"
        " WHERE EXISTS (SELECT 1 FROM moved)"
    )


class PgChain:
    """The writer's own connection to the province's database (``audit_entries``)."""

    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, dsn: str, refusal: Callable[[], GatewayError]) -> None:
        """``refusal``: the refusal of a call whose store cannot be reached (the pool's)."""
        self._dsn = dsn
        self._refusal = refusal
        self._conn: psycopg.Connection[Any] | None = None
        self._expected: str | None = None
        """The head's stored text as this writer left it (None: read it)."""
        self._locked = False
        """In an explicit transaction holding the head's row lock."""
        self._lock_next = 0
        self.misses = 0
        """Batches chained onto a head another replica had moved (then appended again)."""

    def unreachable(self, exc: Exception) -> GatewayError | None:
        """A lost or refused connection: the province's database is out of reach."""
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return self._refusal()
        return None

    def begin(self) -> tuple[int, str]:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = psycopg.connect(self._dsn, connect_timeout=5, autocommit=True)
            conn.execute("SET synchronous_commit TO on")
            self._expected = None
        if self._expected is not None and self._lock_next == 0:
            return head_of(self._expected, lambda: conn.execute(last_entry("audit_entries")))
        self._lock_next = max(0, self._lock_next - 1)
        conn.execute("BEGIN")
        self._locked = True
        row = conn.execute(_READ_HEAD + " FOR UPDATE").fetchone()
        self._expected = row[0] if row else None
        return head_of(self._expected, lambda: conn.execute(last_entry("audit_entries")))

    def store(self, rows: list[tuple[Any, ...]], seq: int, digest: str) -> bool:
        """Append ``rows`` and move the head; False (nothing written) when another replica
        moved the head first: ``begin`` again."""
        assert self._conn is not None  # begin() opened it
        new = head_value(seq, digest)
        if self._expected is None:  # no head row at all (verify reports it): append anyway
            with self._conn.cursor() as cur:
                cur.executemany(_INSERT, rows)
            self._conn.execute(_MOVE_HEAD, (new,))
            if self._locked:
                self._conn.execute("COMMIT")
                self._locked = False
            return True
        params = [new, self._expected, *(value for row in rows for value in row)]
        written = self._conn.execute(_append(len(rows)), params).rowcount
        if self._locked:
            self._conn.execute("COMMIT")
            self._locked = False
        if written == len(rows):
            self._expected = new
            return True
        self.misses += 1
        self._expected = None
        self._lock_next = LOCKED_BATCHES
        return False

    def rollback(self) -> None:
        if self._conn is None:
            return
        self._expected = None  # whatever happened, read the head again
        try:
            if self._locked:
                self._locked = False
                self._conn.execute("ROLLBACK")
        except psycopg.Error:
            self._conn.close()  # broken: the next batch opens a new one

    def close(self) -> None:
        if self.misses:
            log.info("audit chain: %d batches found the head moved by another replica", self.misses)
        if self._conn is not None:
            self._conn.close()
