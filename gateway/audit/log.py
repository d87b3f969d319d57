"""One node's append-only, hash-chained audit log in one SQLite file.

Durability: WAL with ``synchronous=FULL``, so an entry's transaction is fsynced before ``append``
returns; the gateway releases data only after that. Any storage failure surfaces as
``AuditWriteError`` (never a hang beyond ``busy_timeout``), which callers turn into a refusal.

Group commit: every write, sync or async, goes through one writer thread. It takes whatever has
queued up while the previous fsync ran and commits it as one transaction, so N concurrent callers
cost one fsync instead of N. A caller's future is resolved only after its batch committed.

Tamper evidence: each row keeps ``prev_hash`` and ``hash`` (see ``chain``); a ``head`` value in
``meta`` (last seq and hash) is updated in the same transaction, so deleting the newest rows is
detected as well. Triggers refuse UPDATE/DELETE on entries: they stop accidents, not an attacker
with the file, which is what ``verify`` is for. A wholesale rewrite of the chain and head is not
detectable from the file alone: anchor ``last().hash`` elsewhere (the peer keeps it as
``peer_hash``) for that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import queue
import sqlite3
import threading
from concurrent.futures import Future
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.audit.chain import GENESIS_HASH, AuditEntry, AuditRecord, entry_hash, format_time

__all__ = ["AuditLog", "AuditStats", "AuditWriteError", "VerifyReport"]

SCHEMA_VERSION = "1"

_log = logging.getLogger(__name__)

# One transaction holds at most this many entries: bounds the time a batch holds the write lock
# and the memory of one commit, far above what 50-200 concurrent callers queue between fsyncs.
_MAX_BATCH = 1024

_RECORD_COLUMNS = tuple(f.name for f in fields(AuditRecord))
# Stored as JSON text; everything else is a plain SQLite scalar.
_JSON_COLUMNS = frozenset({"fields_returned", "fields_masked", "fields_dropped", "extra"})
_ROW_COLUMNS = ("seq", "prev_hash", "hash", *_RECORD_COLUMNS)
_SELECT = f"SELECT {', '.join(_ROW_COLUMNS)} FROM entries"
_INSERT = (
    f"INSERT INTO entries ({', '.join(_ROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ROW_COLUMNS)})"
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        node TEXT NOT NULL,
        side TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        app TEXT NOT NULL,
        interface TEXT NOT NULL,
        purpose TEXT NOT NULL,
        action TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        fields_returned TEXT NOT NULL,
        fields_masked TEXT NOT NULL,
        fields_dropped TEXT NOT NULL,
        record_count INTEGER NOT NULL,
        grade TEXT NOT NULL,
        status TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        peer TEXT NOT NULL,
        peer_hash TEXT NOT NULL,
        actor TEXT NOT NULL,
        extra TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS entries_trace ON entries (trace_id) WHERE trace_id != ''",
    "CREATE INDEX IF NOT EXISTS entries_app ON entries (app, seq)",
    "CREATE INDEX IF NOT EXISTS entries_interface ON entries (interface, seq)",
    "CREATE INDEX IF NOT EXISTS entries_time ON entries (time)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
)


class AuditWriteError(Exception):
    """The audit log could not durably record an entry (or is closed): refuse the call."""


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    """Entries that passed before the first problem (all of them when ``ok``)."""
    first_bad_seq: int | None = None
    problem: str | None = None
    """One English sentence, e.g. ``entry 17: hash mismatch (row modified)``."""


@dataclass(frozen=True)
class AuditStats:
    entries_written: int
    commits: int
    """Transactions (one fsync each) that wrote entries: < entries_written means grouping."""
    failed_commits: int


class _Request:
    __slots__ = ("future", "record")

    def __init__(self, record: AuditRecord) -> None:
        self.record = record
        self.future: Future[AuditEntry] = Future()


_STOP = object()


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
    """

    def __init__(self, path: str | Path, node: str, *, busy_timeout_s: float = 2.0) -> None:
        if not node:
            raise ValueError("node: must not be empty")
        self.path = str(path)
        self.node = node
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()  # guards _closed/_broken and the order of queue puts
        self._closed = False
        self._broken: str | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._written = self._commits = self._failed = 0
        try:
            self._wconn = _connect(self.path, busy_timeout_s=busy_timeout_s)
        except sqlite3.Error as exc:
            raise AuditWriteError(f"cannot open audit log {self.path}: {exc}") from exc
        try:
            self._init_schema()
            self._rconn = _connect(self.path, busy_timeout_s=busy_timeout_s, read_only=True)
        except BaseException:
            self._wconn.close()
            raise
        self._rlock = threading.Lock()
        self._writer = threading.Thread(target=self._run, name=f"audit-writer-{node}", daemon=True)
        self._writer.start()

    # -- set-up ---------------------------------------------------------------------------------

    def _init_schema(self) -> None:
        conn = self._wconn
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise AuditWriteError(f"audit log {self.path}: WAL mode unavailable (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Statement by statement: executescript would commit behind our back.
                for statement in _SCHEMA:
                    conn.execute(statement)
                head = json.dumps({"seq": 0, "hash": GENESIS_HASH})
                conn.executemany(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    [("node", self.node), ("schema", SCHEMA_VERSION), ("head", head)],
                )
                stored = dict(
                    conn.execute("SELECT key, value FROM meta WHERE key IN ('node', 'schema')")
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise AuditWriteError(f"cannot open audit log {self.path}: {exc}") from exc
        if stored.get("node") != self.node:
            raise ValueError(
                f"audit log {self.path} belongs to node {stored.get('node')!r}, not {self.node!r}"
            )
        if stored.get("schema") != SCHEMA_VERSION:
            raise ValueError(
                f"audit log {self.path}: schema {stored.get('schema')!r}, expected {SCHEMA_VERSION}"
            )

    # -- writing --------------------------------------------------------------------------------

    def append(self, record: AuditRecord) -> AuditEntry:
        """Record ``record`` durably and return its entry (thread-safe; blocks for the fsync)."""
        return self._submit(record).result()

    async def append_async(self, record: AuditRecord) -> AuditEntry:
        """Like ``append``, without blocking the event loop; concurrent calls share one commit.

        Cancelling the caller before the writer has picked the record up drops it; after that the
        entry is written anyway (an extra entry is harmless, a missing one is not).
        """
        return await asyncio.wrap_future(self._submit(record))

    def _submit(self, record: AuditRecord) -> Future[AuditEntry]:
        if not isinstance(record, AuditRecord):
            raise TypeError(f"expected an AuditRecord, got {type(record).__name__}")
        if record.node and record.node != self.node:
            raise ValueError(f"node: record is for {record.node!r}, this log is {self.node!r}")
        # replace() re-runs the record's checks, so a hand-built or mutated record cannot slip in.
        request = _Request(dataclasses.replace(record, node=self.node))
        with self._lock:
            if self._closed:
                raise AuditWriteError("audit log is closed")
            if self._broken is not None:
                raise AuditWriteError(f"audit writer stopped: {self._broken}")
            self._queue.put(request)
        return request.future

    def _run(self) -> None:
        batch: list[_Request] = []
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                batch = []
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    # False: the caller cancelled while queued, so it never learns of an entry.
                    if item.future.set_running_or_notify_cancel():
                        batch.append(item)
                    if len(batch) >= _MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._commit(batch)
                    batch = []
        except BaseException as exc:  # a bug here must fail callers, never strand them
            with self._lock:
                self._broken = f"{type(exc).__name__}: {exc}"
            pending = batch
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and item.future.set_running_or_notify_cancel():
                    pending.append(item)
            # Logged, not re-raised: an exception escaping a thread is noise in every test run
            # and the callers get the error below.
            _log.exception("audit writer for %s stopped", self.node)
            for request in pending:
                if not request.future.done():
                    request.future.set_exception(AuditWriteError(f"audit writer stopped: {exc}"))

    def _commit(self, batch: list[_Request]) -> None:
        conn = self._wconn
        entries: list[AuditEntry] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            # The head is read inside the write transaction every time, so a failed or ambiguous
            # earlier commit can never leave a stale in-memory position behind.
            seq, prev = _read_head_for_append(conn)
            rows = []
            for request in batch:
                seq += 1
                record = request.record
                values = record.to_dict()
                digest = entry_hash(seq, prev, values)
                rows.append((seq, prev, digest, *_to_columns(values)))
                entries.append(AuditEntry(seq=seq, prev_hash=prev, hash=digest, record=record))
                prev = digest
            conn.executemany(_INSERT, rows)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'head'",
                (json.dumps({"seq": seq, "hash": prev}),),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed += 1
            _rollback(conn)
            for request in batch:
                request.future.set_exception(AuditWriteError(f"audit write failed: {exc}"))
            return
        except BaseException:
            _rollback(conn)  # do not sit on the write lock while the writer goes down
            raise
        self._commits += 1
        self._written += len(entries)
        for request, entry in zip(batch, entries, strict=True):
            request.future.set_result(entry)

    def stats(self) -> AuditStats:
        return AuditStats(self._written, self._commits, self._failed)

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
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first.

        ``since`` is inclusive and ``until`` exclusive; both take an aware ``datetime`` or an
        RFC 3339 string.
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
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self._read(f"{sql} ORDER BY seq DESC LIMIT ?", (*params, limit))
        return [_to_entry(row) for row in rows]

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._rlock:
            if self._closed:
                raise AuditWriteError("audit log is closed")
            try:
                return self._rconn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise AuditWriteError(f"audit read failed: {exc}") from exc

    def verify(self) -> VerifyReport:
        """Walk the whole chain from one snapshot and report the first problem, if any."""
        if self._closed:
            raise AuditWriteError("audit log is closed")
        # Its own connection: a long walk must not hold up queries on the shared one.
        try:
            conn = _connect(self.path, busy_timeout_s=self._busy_timeout_s, read_only=True)
        except sqlite3.Error as exc:
            raise AuditWriteError(f"audit read failed: {exc}") from exc
        try:
            conn.execute("BEGIN")  # head and rows from the same snapshot
            head = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
            report = _walk(conn.execute(f"{_SELECT} ORDER BY seq"), head)
            conn.execute("COMMIT")
            return report
        except sqlite3.Error as exc:
            raise AuditWriteError(f"audit read failed: {exc}") from exc
        finally:
            conn.close()

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Write everything already accepted, stop the writer and close the file. Idempotent."""
        with self._lock:
            already = self._closed
            self._closed = True
            if not already:
                self._queue.put(_STOP)
        self._writer.join()
        if already:
            return
        with self._rlock:
            self._rconn.close()
        try:
            # Fold the WAL back into the main file so a closed log is one self-contained file.
            self._wconn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the data is safe in the WAL either way
        self._wconn.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is beyond use; the next batch fails on its own


def _read_head_for_append(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
    head = _parse_head(row[0]) if row else None
    if head is not None:
        return head
    # A damaged head must not stop the node from auditing (that would refuse every call): carry
    # on from the last row; verify still reports the damage.
    last = conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)


def _parse_head(value: object) -> tuple[int, str] | None:
    try:
        head = json.loads(value)  # type: ignore[arg-type]
        seq, digest = head["seq"], head["hash"]
    except (TypeError, ValueError, KeyError):
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(digest, str):
        return None
    return seq, digest


def _to_columns(values: dict[str, Any]) -> list[Any]:
    return [
        json.dumps(values[name], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if name in _JSON_COLUMNS
        else values[name]
        for name in _RECORD_COLUMNS
    ]


def _record_values(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row's record part, shaped like ``to_dict``; ValueError when unreadable."""
    values = {}
    for name, value in zip(_RECORD_COLUMNS, row[3:], strict=True):
        if name in _JSON_COLUMNS:
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
        values = dict(zip(_RECORD_COLUMNS, row[3:], strict=True))
        for name in _JSON_COLUMNS:
            values[name] = {} if name == "extra" else ()
    return AuditEntry(
        seq=row[0], prev_hash=row[1], hash=row[2], record=AuditRecord._unchecked(values)
    )


def _walk(rows: sqlite3.Cursor, head_row: tuple[Any, ...] | None) -> VerifyReport:
    expected, prev_hash, checked = 1, GENESIS_HASH, 0

    def bad(seq: int | None, problem: str) -> VerifyReport:
        return VerifyReport(ok=False, checked=checked, first_bad_seq=seq, problem=problem)

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
        try:
            values = _record_values(row)
            digest = entry_hash(seq, row[1], values)
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
    head = _parse_head(head_row[0])
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


def _time_bound(name: str, value: datetime | str) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an RFC 3339 time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected a datetime or an RFC 3339 string")
    try:
        return format_time(value)
    except ValueError:
        raise ValueError(f"{name}: give a timezone (e.g. Z or +08:00)") from None
