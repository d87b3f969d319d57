"""The sqlite backend: read-only, parameterized queries over the node-local dataset.

SQL text is built only from an interface declaration, and only after every table and column it
names has been checked against ``dataset.SCHEMA``; caller values are always bound with ``?``.
Queries run in worker threads (``asyncio.to_thread``) on a read-only connection per thread.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import InvalidArgument, Unavailable
from gateway.exchange.dataset import CURSOR_COLUMN, SCHEMA
from gateway.exchange.model import Interface

__all__ = ["MAX_LIMIT", "SqliteBackend"]

#: No single fetch returns more than this, whatever the caller asks for.
MAX_LIMIT = 10_000

_IDENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CURSOR_RE = re.compile(r"^\d{1,18}$")
_CURSOR_WIDTH = 10


@dataclass(frozen=True, slots=True)
class _Query:
    """The SQL of one interface, compiled once from its declaration."""

    fields: tuple[str, ...]
    select: str
    """SELECT cursor, columns FROM table; WHERE, ORDER BY and LIMIT are appended per call."""
    exists: str
    lookup: Mapping[str, str]


INLINE_LIMIT = 100
"""Queries of at most this many rows (plain calls and verifications) run on the event loop."""


class SqliteBackend:
    """Serves interfaces whose backend is ``sqlite`` from one dataset file."""

    def __init__(self, dataset_path: str | os.PathLike[str]) -> None:
        path = Path(dataset_path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no dataset at {path} (build it with ensure_dataset)")
        self._uri = f"{path.as_uri()}?mode=ro"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._queries: dict[str, _Query] = {}
        self._closed = False
        self._busy: set[sqlite3.Connection] = set()
        """Connections running a statement now (``close`` leaves them to ``_run``)."""

    # -- the Backend protocol ----------------------------------------------------------------

    async def fetch(
        self,
        iface: Interface,
        params: Mapping[str, str],
        *,
        limit: int,
        after: str | None = None,
    ) -> list[tuple[str, dict[str, str]]]:
        query = self._query(iface)
        where, values = _where(query, params)
        if after is not None:
            if not isinstance(after, str) or not _CURSOR_RE.match(after):
                raise InvalidArgument(
                    "resume_token", "not a cursor of this interface", reason="BAD_RESUME_TOKEN"
                )
            where.append(f'"{CURSOR_COLUMN}" > ?')
            values.append(int(after))
        if limit < 1:
            return []
        sql = query.select
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f' ORDER BY "{CURSOR_COLUMN}" LIMIT ?'
        values.append(min(limit, MAX_LIMIT))
        rows = await self._execute(sql, values, small=after is None and limit <= INLINE_LIMIT)
        return [
            (
                f"{row[0]:0{_CURSOR_WIDTH}d}",
                {
                    name: "" if v is None else str(v)
                    for name, v in zip(query.fields, row[1:], strict=True)
                },
            )
            for row in rows
        ]

    async def verify(self, iface: Interface, params: Mapping[str, str]) -> bool:
        query = self._query(iface)
        where, values = _where(query, params)
        if not where:
            return False  # a match on no criteria would say "yes" about nobody in particular
        sql = f"{query.exists} WHERE {' AND '.join(where)} LIMIT 1"
        return bool(await self._execute(sql, values, small=True))

    async def close(self) -> None:
        """Close every connection not in use now; one in use on a worker thread (a bulk page
        of a stream whose call ended) is closed when its statement ends, never under it:
        that would crash the process."""
        with self._lock:
            self._closed = True
            idle = [c for c in self._connections if c not in self._busy]
            self._connections = [c for c in self._connections if c in self._busy]
        for conn in idle:
            conn.close()

    # -- internals ---------------------------------------------------------------------------

    async def _execute(self, sql: str, values: list[object], *, small: bool) -> list[tuple]:
        # An indexed lookup of a few rows costs tens of microseconds: cheaper on the event loop
        # than the two thread hand-offs of asyncio.to_thread. Bulk pages go to a thread.
        if small:
            return self._run(sql, values)
        return await asyncio.to_thread(self._run, sql, values)

    def _query(self, iface: Interface) -> _Query:
        query = self._queries.get(iface.id)
        if query is None:
            query = self._queries[iface.id] = compile_query(iface)
        return query

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        with self._lock:
            if self._closed:
                raise Unavailable("dataset backend is closed", reason="BACKEND_UNAVAILABLE")
            if conn is None:
                # check_same_thread=False only so close() can close it from another thread;
                # each connection is otherwise used by the one thread that opened it.
                conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
                conn.execute("PRAGMA query_only = ON")
                self._local.conn = conn
                self._connections.append(conn)
            self._busy.add(conn)
        return conn

    def _run(self, sql: str, values: list[object]) -> list[tuple]:
        conn = self._connection()
        try:
            return conn.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            raise Unavailable("dataset backend failed", reason="BACKEND_UNAVAILABLE") from exc
        finally:
            with self._lock:
                self._busy.discard(conn)
                closing = self._closed and conn in self._connections
                if closing:
                    self._connections.remove(conn)
            if closing:
                conn.close()


def compile_query(iface: Interface) -> _Query:
    """The SQL for ``iface``; ValueError when its declaration names anything off the allow-list."""
    opts = iface.backend.options
    if iface.backend.type != "sqlite":
        raise ValueError(f"{iface.id}: not a sqlite interface")
    table = SCHEMA.get(str(opts.get("table")))
    if table is None:
        raise ValueError(f"{iface.id}: unknown dataset table {opts.get('table')!r}")
    columns = dict(opts.get("columns") or {})  # type: ignore[call-overload]
    lookup = dict(opts.get("lookup") or {})  # type: ignore[call-overload]
    fields = tuple(f.name for f in iface.fields)
    selected = [columns.get(name, name) for name in fields]
    for col in (*selected, *lookup.values()):
        # Both checks: the allow-list decides, the pattern guarantees the quoting below is safe.
        if col not in table.columns or not _IDENT_RE.match(col):
            raise ValueError(f"{iface.id}: {col!r} is not a column of {table.name}")
    cols = ", ".join(f'"{c}"' for c in selected)
    return _Query(
        fields=fields,
        select=f'SELECT "{CURSOR_COLUMN}", {cols} FROM "{table.name}"',
        exists=f'SELECT 1 FROM "{table.name}"',
        lookup=lookup,
    )


def _where(query: _Query, params: Mapping[str, str]) -> tuple[list[str], list[object]]:
    where: list[str] = []
    values: list[object] = []
    for name, value in params.items():
        column = query.lookup.get(name)
        if column is None:
            # Never ignore a parameter: dropping a filter would widen the answer.
            raise InvalidArgument(
                f"params.{name[:32]}", "not a parameter of this interface", reason="UNKNOWN_PARAM"
            )
        if not isinstance(value, str):
            raise InvalidArgument(f"params.{name}", "must be a string", reason="BAD_FORMAT")
        where.append(f'"{column}" = ?')
        values.append(value)
    return where, values
