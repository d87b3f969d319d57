"""The heads this node has witnessed from its peers, kept durably beside its own chain (the
audit store's ``witnessed_heads`` on SQLite, ``audit_witnessed`` on PostgreSQL; both added by a
forward-only migration of the audit schema).

A witness keeps every distinct head it was given (a peer that later signs a different hash for
a seq it signed before has forked its chain: both are kept as evidence), and never checks them
against the peer's log itself: that is ``yrdgw audit verify --federation``'s job, done by an
operator who can reach every node.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from gateway.audit.heads import SignedHead
from gateway.audit.writer import AuditReadError, AuditWriteError
from gateway.postgres import Postgres

__all__ = ["WitnessBook", "WitnessedHead", "parse_cursor"]

_COLUMNS = "node, seq, hash, time, signature, received"


def parse_cursor(cursor: str) -> tuple[str, int, str]:
    """A ``heads`` cursor as (node, seq, hash); ValueError when it is not one."""
    node, seq, digest = cursor.split("/")
    return node, int(seq), digest


@dataclass(frozen=True, slots=True)
class WitnessedHead:
    node: str
    """Whose head."""
    seq: int
    hash: str
    time: str
    signature: bytes
    received: str
    """When this witness took it (its own clock)."""


class WitnessBook:
    """``where``: the audit store (the SQLite file, already migrated by ``AuditLog``, or the
    province's PostgreSQL pool)."""

    def __init__(self, where: Path | str | Postgres, *, busy_timeout_s: float = 2.0) -> None:
        self._pg = where if isinstance(where, Postgres) else None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if self._pg is None:
            try:
                self._conn = sqlite3.connect(
                    str(where),
                    timeout=busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise AuditWriteError(f"cannot open witnessed heads in {where}: {exc}") from exc
        self._table = "audit_witnessed" if self._pg is not None else "witnessed_heads"

    def keep(self, node: str, head: SignedHead, received: str) -> None:
        """Store ``node``'s head durably (a head seen before is kept once)."""
        conflict = "ON CONFLICT DO NOTHING" if self._pg is not None else ""
        insert = "INSERT OR IGNORE" if self._pg is None else "INSERT"
        sql = f"{insert} INTO {self._table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) {conflict}"
        params = (node, head.seq, head.hash, head.time, head.signature, received)
        try:
            if self._pg is not None:
                with self._pg.transaction() as conn:
                    conn.execute(sql, params)
                return
            with self._lock:
                assert self._conn is not None
                self._conn.execute(sql, params)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise AuditWriteError(f"witnessed head not stored: {exc}") from exc

    def heads(self, *, after: str = "", limit: int = 1000) -> tuple[list[WitnessedHead], str]:
        """The heads kept, by node, seq and hash, from the one after the cursor ``after``; and
        the cursor of the last one when more may follow ("" when none do). A cursor stays valid
        as heads arrive: they are found by value, not by position."""
        if after:
            where = "WHERE (node, seq, hash) > (?, ?, ?)"
            params: tuple[Any, ...] = (*parse_cursor(after), limit + 1)
        else:
            where, params = "", (limit + 1,)
        sql = f"SELECT {_COLUMNS} FROM {self._table} {where} ORDER BY node, seq, hash LIMIT ?"
        try:
            if self._pg is not None:
                with self._pg.transaction() as conn:
                    rows: list[Any] = conn.rows(sql, params)
            else:
                with self._lock:
                    assert self._conn is not None
                    rows = self._conn.execute(sql, params).fetchall()
        except (sqlite3.Error, psycopg.Error) as exc:
            raise AuditReadError(f"witnessed heads unreadable: {exc}") from exc
        kept = [
            WitnessedHead(row[0], int(row[1]), row[2], row[3], bytes(row[4]), row[5])
            for row in rows[:limit]
        ]
        more = len(rows) > limit
        return kept, (f"{kept[-1].node}/{kept[-1].seq}/{kept[-1].hash}" if more else "")

    def close(self) -> None:
        if self._conn is not None:
            with self._lock:
                self._conn.close()
