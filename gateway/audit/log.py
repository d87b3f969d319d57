"""One node's append-only, hash-chained audit log in one SQLite file, or one province's chain
in its PostgreSQL database, written by every replica (``targets``, ``pgschema``).

Durability: WAL with ``synchronous=FULL``, so an entry's transaction is fsynced before ``append``
returns; the gateway releases data only after that. Any storage failure surfaces as
``AuditWriteError`` (never a hang beyond ``busy_timeout_s``), which callers turn into a refusal.
Every write, sync or async, goes through one group-commit writer (``writer``).

Tamper evidence: each row keeps ``prev_hash`` and ``hash`` (see ``chain``); a ``head`` value in
``meta`` (last seq and hash) is updated in the same transaction, so deleting the newest rows is
detected as well. Triggers refuse UPDATE/DELETE on entries: they stop accidents, not an attacker
with the file, which is what ``verify`` is for. A consistent rewrite of the chain and its head is
not detectable from the file alone: anchor ``last().hash`` elsewhere (the peer keeps it as
``peer_hash``) for that.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from gateway import timefmt
from gateway.audit import pgschema, sqlschema
from gateway.audit.chain import GENESIS_HASH, AuditEntry, AuditRecord, entry_hash, format_time
from gateway.audit.encoding import stored_hash
from gateway.audit.pgchain import PgChain
from gateway.audit.targets import SqliteChain
from gateway.audit.writer import (
    JSON_COLUMNS,
    RECORD_COLUMNS,
    ROW_COLUMNS,
    AuditError,
    AuditReadError,
    AuditStats,
    AuditStoreUnavailable,
    AuditWriteError,
    GroupCommitWriter,
    parse_head,
)
from gateway.postgres import Postgres
from gateway.postgres.migrate import safe_dsn

__all__ = [
    "AuditError",
    "AuditLog",
    "AuditReadError",
    "AuditStats",
    "AuditStoreUnavailable",
    "AuditWriteError",
    "VerifyReport",
]

_SELECT = f"SELECT {', '.join(ROW_COLUMNS)} FROM entries"
_PG_SELECT = _SELECT.replace(" FROM entries", " FROM audit_entries")


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    """Entries that passed before the first problem (all of them when ``ok``)."""
    first_bad_seq: int | None = None
    problem: str | None = None
    """One English sentence, e.g. ``entry 17: hash mismatch (row modified)``."""


def _connect(path: str, *, busy_timeout_s: float, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit). Tests replace this."""
    if read_only:
        target, uri = Path(path).resolve().as_uri() + "?mode=ro", True
    else:
        target, uri = path, False
    conn = sqlite3.connect(
        target, uri=uri, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    return conn


class AuditLog:
    """The audit log of ``node`` stored at ``path`` (created when missing).

    ``busy_timeout_s`` bounds how long a write waits for a lock held elsewhere before it fails.
    ``write_lock``: a file the writers of several processes (a node's workers) take in turn
    around each transaction (see ``GroupCommitWriter``).
    """

    def __init__(
        self,
        path: str | Path | Postgres,
        node: str,
        *,
        busy_timeout_s: float = 2.0,
        write_lock: str | Path | None = None,
    ) -> None:
        """``path``: the SQLite file, or the province's PostgreSQL pool (one chain for all its
        replicas; ``write_lock`` and ``busy_timeout_s`` are SQLite's)."""
        if not node:
            raise ValueError("node: must not be empty")
        self.node = node
        self._busy_timeout_s = busy_timeout_s
        self._closed = False
        self._rlock = threading.Lock()  # the shared read connection, one statement at a time
        self._pg: Postgres | None = None
        self._on_append: Callable[[float], None] = _ignore
        if isinstance(path, Postgres):
            self.path = safe_dsn(path.dsn)
            self._pg = path
            try:
                pgschema.claim(path, node, self.path)
            except psycopg.Error as exc:
                raise AuditWriteError(f"cannot open audit log {self.path}: {exc}") from exc
            self._writer = GroupCommitWriter(
                PgChain(path.dsn, path.unavailable), name=f"audit-writer-{node}"
            )
            return
        self.path = str(path)
        try:
            wconn = _connect(self.path, busy_timeout_s=busy_timeout_s)
        except sqlite3.Error as exc:
            raise AuditWriteError(f"cannot open audit log {self.path}: {exc}") from exc
        try:
            self._init_schema(wconn)
            self._rconn = _connect(self.path, busy_timeout_s=busy_timeout_s, read_only=True)
        except sqlite3.Error as exc:
            wconn.close()
            raise AuditWriteError(f"cannot open audit log {self.path}: {exc}") from exc
        except BaseException:
            wconn.close()
            raise
        self._writer = GroupCommitWriter(
            SqliteChain(wconn, write_lock=write_lock), name=f"audit-writer-{node}"
        )

    # -- set-up ---------------------------------------------------------------------------------

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        sqlschema.init_schema(conn, self.node, self.path)

    # -- writing --------------------------------------------------------------------------------

    def append(self, record: AuditRecord) -> AuditEntry:
        """Record ``record`` durably and return its entry (thread-safe; blocks for the fsync)."""
        start = time.perf_counter()
        entry = self._writer.submit(self._stamp(record)).result()
        self._on_append(time.perf_counter() - start)
        return entry

    async def append_async(self, record: AuditRecord) -> AuditEntry:
        """Like ``append``, without blocking the event loop; concurrent calls share one commit.

        Cancelling the caller before the writer has picked the record up drops it; after that the
        entry is written anyway (an extra entry is harmless, a missing one is not).
        """
        start = time.perf_counter()
        entry = await self._writer.submit_async(self._stamp(record))
        self._on_append(time.perf_counter() - start)
        return entry

    def observe_appends(self, on_append: Callable[[float], None]) -> None:
        """Tell ``on_append`` each durable append's latency in seconds (the node's metrics)."""
        self._on_append = on_append

    def queued(self) -> int:
        """Entries waiting for the writer now."""
        return self._writer.queued()

    def _stamp(self, record: AuditRecord) -> AuditRecord:
        if not isinstance(record, AuditRecord):
            raise TypeError(f"expected an AuditRecord, got {type(record).__name__}")
        if record.node == self.node:
            return record
        if record.node:
            raise ValueError(f"node: record is for {record.node!r}, this log is {self.node!r}")
        # A shallow copy, not dataclasses.replace: the record was checked when it was built and
        # checking again would double the caller's share of an append.
        stamped = copy.copy(record)
        object.__setattr__(stamped, "node", self.node)
        return stamped

    def stats(self) -> AuditStats:
        return self._writer.stats()

    # -- reading --------------------------------------------------------------------------------

    def get(self, seq: int) -> AuditEntry | None:
        rows = self._read(f"{_SELECT} WHERE seq = ?", (seq,))
        return _to_entry(rows[0]) if rows else None

    def last(self) -> AuditEntry | None:
        """The newest entry; its ``hash`` is the value to anchor elsewhere."""
        rows = self._read(f"{_SELECT} ORDER BY seq DESC LIMIT 1", ())
        return _to_entry(rows[0]) if rows else None

    def query(
        self,
        *,
        trace_id: str | None = None,
        app: str | None = None,
        interface: str | None = None,
        decision: str | None = None,
        side: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first.

        ``since`` is inclusive and ``until`` exclusive; both take an aware ``datetime`` or an
        RFC 3339 string. ``before_seq``: only entries older than it (the next page).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValueError("limit: expected an int from 1 to 10000")
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("trace_id", trace_id),
            ("app", app),
            ("interface", interface),
            ("decision", decision),
            ("side", side),
            ("action", action),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("time >= ?")
            params.append(_time_bound("since", since))
        if until is not None:
            where.append("time < ?")
            params.append(_time_bound("until", until))
        if before_seq is not None:
            where.append("seq < ?")
            params.append(before_seq)
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self._read(f"{sql} ORDER BY seq DESC LIMIT ?", (*params, limit))
        return [_to_entry(row) for row in rows]

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``{}`` names the entries table) on this log's store."""
        sql = sql.replace("{}", "audit_entries" if self._pg is not None else "entries")
        if self._pg is not None:
            if self._closed:
                raise AuditReadError("audit log is closed")
            try:
                with self._pg.transaction() as conn:
                    return conn.rows(sql.replace(_SELECT, _PG_SELECT), params)
            except psycopg.Error as exc:
                raise AuditReadError(f"audit read failed: {exc}") from exc
        with self._rlock:
            if self._closed:
                raise AuditReadError("audit log is closed")
            try:
                return self._rconn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise AuditReadError(f"audit read failed: {exc}") from exc

    def verify(self, since: tuple[int, str] | None = None) -> VerifyReport:
        """Walk the chain from one snapshot and report the first problem, if any.

        ``since``: a (seq, hash) verified before (a checkpoint): entry seq must still hold that
        hash, and only the entries after it are walked. A file SQLite itself finds corrupt is a
        failed verification, not an error; a file that cannot be read right now (locked, I/O)
        raises ``AuditReadError``.
        """
        if self._closed:
            raise AuditReadError("audit log is closed")
        start = since or (0, GENESIS_HASH)
        if self._pg is not None:
            return self._verify_pg(self._pg, start)
        # Its own connection: a long walk must not hold up queries on the shared one.
        try:
            conn = _connect(self.path, busy_timeout_s=self._busy_timeout_s, read_only=True)
        except sqlite3.Error as exc:
            raise AuditReadError(f"audit read failed: {exc}") from exc
        try:
            conn.execute("BEGIN")  # head and rows from the same snapshot
            head = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
            rows = conn.execute(f"{_SELECT} WHERE seq >= ? ORDER BY seq", (start[0],))
            report = _walk(rows, head, start)
            conn.execute("COMMIT")
            return report
        except sqlite3.OperationalError as exc:
            raise AuditReadError(f"audit read failed: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            return VerifyReport(ok=False, checked=0, problem=f"log file damaged ({exc})")
        finally:
            conn.close()

    def _verify_pg(self, pg: Postgres, start: tuple[int, str]) -> VerifyReport:
        try:
            with pg.transaction() as conn:
                # Head and rows from one snapshot.
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                head = conn.rows("SELECT value FROM audit_meta WHERE key = 'head'")
                rows = conn.rows(f"{_PG_SELECT} WHERE seq >= ? ORDER BY seq", (start[0],))
        except psycopg.Error as exc:
            raise AuditReadError(f"audit read failed: {exc}") from exc
        return _walk(rows, head[0] if head else None, start)

    # -- evidence for the federation's cross-check ----------------------------------------------

    def hashes_at(self, seqs: Iterable[int]) -> dict[int, str]:
        """This chain's hash at each of ``seqs`` that it holds."""
        found: dict[int, str] = {}
        for chunk in _chunks(sorted(set(seqs))):
            marks = ", ".join("?" * len(chunk))
            for seq, digest in self._read(
                f"SELECT seq, hash FROM {{}} WHERE seq IN ({marks})", chunk
            ):
                found[int(seq)] = str(digest)
        return found

    def holding(self, hashes: Iterable[str]) -> set[str]:
        """Which of ``hashes`` are the hash of some entry of this chain: one scan of the log
        however many are asked (there is no index on ``hash``: appends do not pay for one)."""
        wanted = sorted(set(hashes))
        if not wanted:
            return set()
        if self._pg is not None:
            rows = self._read("SELECT hash FROM {} WHERE hash = ANY(?)", (wanted,))
        else:
            rows = self._read(
                "SELECT hash FROM {} WHERE hash IN (SELECT value FROM json_each(?))",
                (json.dumps(wanted),),
            )
        return {str(r[0]) for r in rows}

    def receipts(self, after: int, limit: int) -> list[tuple[int, str, str]]:
        """Consumer-side entries after ``after`` that hold an owner's entry hash:
        (seq, owner, owner's hash), oldest first."""
        rows = self._read(
            "SELECT seq, peer, peer_hash FROM {} WHERE seq > ? AND side = 'consumer'"
            " AND peer_hash != '' ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [(int(s), str(p), str(h)) for s, p, h in rows]

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Write everything already accepted, stop the writer and close the file. Idempotent."""
        self._closed = True
        self._writer.close()
        if self._pg is None:
            with self._rlock:
                self._rconn.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _record_values(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row's record part, shaped like ``to_dict``; ValueError when unreadable."""
    values = {}
    for name, value in zip(RECORD_COLUMNS, row[3:], strict=True):
        if name in JSON_COLUMNS:
            if not isinstance(value, str):
                raise ValueError(name)
            value = json.loads(value)
        values[name] = value
    return values


def _to_entry(row: tuple[Any, ...]) -> AuditEntry:
    try:
        values = _record_values(row)
    except ValueError:
        # Shown as stored so an operator can look at a damaged row; verify flags it.
        values = dict(zip(RECORD_COLUMNS, row[3:], strict=True))
        for name in JSON_COLUMNS:
            values[name] = {} if name == "extra" else ()
    return AuditEntry(
        seq=row[0], prev_hash=row[1], hash=row[2], record=AuditRecord._unchecked(values)
    )


def _walk(
    rows: Iterable[tuple[Any, ...]],
    head_row: tuple[Any, ...] | None,
    start: tuple[int, str] = (0, GENESIS_HASH),
) -> VerifyReport:
    expected, prev_hash, checked = start[0] + 1, start[1], 0

    def bad(seq: int | None, problem: str) -> VerifyReport:
        return VerifyReport(ok=False, checked=checked, first_bad_seq=seq, problem=problem)

    rows = iter(rows)
    if start[0]:
        anchor = next(rows, None)
        if anchor is None or anchor[0] != start[0]:
            return bad(
                start[0],
                f"entry {start[0]} (verified before) is gone: the log was cut short (rows deleted)",
            )
        if anchor[2] != start[1]:
            return bad(start[0], f"entry {start[0]}: hash differs from when it was verified")
    for row in rows:
        seq = row[0]
        if not isinstance(seq, int) or seq < expected:
            return bad(expected, f"entry {expected}: out of sequence (found seq {seq!r})")
        if seq > expected:
            return bad(expected, f"entry {expected} missing (gap after {expected - 1})")
        if row[1] != prev_hash:
            if seq == 1:
                return bad(seq, "entry 1: prev_hash is not the genesis hash")
            return bad(seq, f"entry {seq}: prev_hash does not match entry {seq - 1}")
        if stored_hash(row) != row[2]:  # proves nothing: decode the row and hash it again
            try:
                digest = entry_hash(seq, row[1], _record_values(row))
            except (ValueError, TypeError):
                return bad(seq, f"entry {seq}: unreadable row (row modified)")
            if digest != row[2]:
                return bad(seq, f"entry {seq}: hash mismatch (row modified)")
        prev_hash = row[2]
        expected += 1
        checked += 1
    last = expected - 1
    if head_row is None:
        return bad(None, "head row missing (meta modified)")
    head = parse_head(head_row[0])
    if head is None:
        return bad(None, "head row unreadable (meta modified)")
    head_seq, head_hash = head
    if head_seq > last:
        return bad(
            last + 1, f"head says {head_seq} entries but the log ends at {last} (rows deleted)"
        )
    if head_seq < last:
        return bad(
            head_seq + 1,
            f"head says {head_seq} entries but the log goes on to {last} (head modified)",
        )
    if head_hash != prev_hash:
        return bad(last or None, f"head hash does not match entry {last} (head modified)")
    return VerifyReport(ok=True, checked=checked)


def _chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _time_bound(name: str, value: datetime | str) -> str:
    if isinstance(value, str):
        try:
            value = timefmt.parse(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an RFC 3339 time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected a datetime or an RFC 3339 string")
    try:
        return format_time(value)
    except ValueError:
        raise ValueError(f"{name}: give a timezone (e.g. Z or +08:00)") from None


def _ignore(seconds: float) -> None:
    pass
