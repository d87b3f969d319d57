"""One node's own spans in a local SQLite file, or a province's spans in its PostgreSQL
database (every replica's, so any replica gathers a whole trace), bounded by age and by count.

Written off the request path: ``SpanStoreProcessor`` turns each finished span into a row and a
writer thread inserts them in batches. Reads serve ``Ops.GetTrace`` / ``ListTraces`` and the
operator web page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from gateway.postgres import Postgres, migrate
from gateway.sqlbatch import insert_rows
from gateway.telemetry.attributes import STEP_ERROR, STEP_MS, STEP_STATUS

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    app TEXT NOT NULL,
    interface TEXT NOT NULL,
    attributes TEXT NOT NULL,
    root INTEGER NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE INDEX IF NOT EXISTS spans_root ON spans (root, start_ns);
"""

_STEPS_COLUMN = "ALTER TABLE spans ADD COLUMN steps TEXT NOT NULL DEFAULT ''"
"""A span's steps, folded into its row (issue 18): a JSON list of ``[name, start_ns,
duration_ms, error, attributes]``, or empty. Rows written before it have none, and their steps
are rows of their own (kind ``STEP``), which reads still show."""

_PG_MIGRATIONS = (
    # 1: the SQLite layout in PostgreSQL's types.
    _SCHEMA.replace("start_ns INTEGER", "start_ns BIGINT").replace(
        "duration_ms REAL", "duration_ms DOUBLE PRECISION"
    ),
    # 2: steps in their span's row.
    _STEPS_COLUMN,
)

FEDERATION_PREFIX = "/yrd.v1.Federation/"

_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_id",
    "node",
    "name",
    "kind",
    "start_ns",
    "duration_ms",
    "status",
    "status_message",
    "app",
    "interface",
    "attributes",
    "root",
    "steps",
)


@dataclass(frozen=True, slots=True)
class StoredSpan:
    trace_id: str
    span_id: str
    parent_id: str
    node: str
    name: str
    kind: str
    start_ns: int
    duration_ms: float
    status: str
    status_message: str
    attributes: dict[str, str] = field(default_factory=dict)
    root: bool = False
    """Where a user action entered the federation: no parent, or a parent outside it (an app's
    own traceparent). A peer's forwarded call is not a root."""


@dataclass(frozen=True, slots=True)
class TraceSummary:
    trace_id: str
    node: str
    root: str
    start_ns: int
    duration_ms: float
    status: str
    app: str
    interface: str
    span_count: int


_PG_INSERT = (
    f"INSERT INTO spans ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
    " ON CONFLICT (trace_id, span_id) DO NOTHING"
)


class SpanStore:
    """``path``: the node's SQLite file, or the province's PostgreSQL pool."""

    def __init__(
        self,
        path: str | Path | Postgres,
        node: str,
        *,
        max_age_s: float = 7 * 86400,
        max_spans: int = 500_000,
    ) -> None:
        self.node = node
        self._max_age_ns = int(max_age_s * 1e9)
        self._max_spans = max_spans
        self._lock = threading.Lock()
        self._writes = 0
        self._pg: Postgres | None = None
        if isinstance(path, Postgres):
            self._pg = path
            migrate(path, "spans", _PG_MIGRATIONS)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Spans are diagnostics, not acknowledged state: losing the last batch on power loss is
        # an acceptable price for not fsyncing on the export path.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(spans)")}
        if "steps" not in columns:
            self._conn.execute(_STEPS_COLUMN)

    def add(self, rows: Sequence[tuple]) -> None:
        """Store spans given as ``span_row`` tuples (the export path builds them directly), in
        a few multi-row statements (``gateway.sqlbatch``), not one step per row; on
        PostgreSQL one pipelined batch, one round trip."""
        if self._pg is not None:
            with self._pg.transaction() as conn:
                conn.executemany(_PG_INSERT, rows)
                self._writes += 1
                if self._writes % 50 == 1:
                    cutoff = time.time_ns() - self._max_age_ns
                    conn.execute("DELETE FROM spans WHERE start_ns < ?", (cutoff,))
                    count = conn.value("SELECT count(*) FROM spans")
                    if count > self._max_spans:
                        conn.execute(
                            "DELETE FROM spans WHERE ctid IN (SELECT ctid FROM spans"
                            " ORDER BY start_ns LIMIT ?)",
                            (count - self._max_spans,),
                        )
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                # A span is stored once; as on PostgreSQL, a row already there stays.
                insert_rows(self._conn, "INSERT OR IGNORE", "spans", _COLUMNS, rows)
                self._writes += 1
                if self._writes % 50 == 1:
                    self._prune()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _prune(self) -> None:
        cutoff = time.time_ns() - self._max_age_ns
        self._conn.execute("DELETE FROM spans WHERE start_ns < ?", (cutoff,))
        (count,) = self._conn.execute("SELECT count(*) FROM spans").fetchone()
        if count > self._max_spans:
            self._conn.execute(
                "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans ORDER BY start_ns "
                "LIMIT ?)",
                (count - self._max_spans,),
            )

    def _rows(self, sql: str, params: tuple) -> list[tuple]:
        if self._pg is not None:
            with self._pg.transaction() as conn:
                return conn.rows(sql, params)
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def trace(self, trace_id: str) -> list[StoredSpan]:
        """The trace's spans on this node (this province, on PostgreSQL), each span's steps as
        ``STEP`` spans under it, in order of start."""
        rows = self._rows(
            "SELECT trace_id, span_id, parent_id, node, name, kind, start_ns, duration_ms, "
            "status, status_message, attributes, root, steps FROM spans WHERE trace_id = ? "
            "ORDER BY start_ns",
            (trace_id,),
        )
        spans: list[StoredSpan] = []
        for row in rows:
            span = StoredSpan(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                _shown(row[8]),
                row[9],
                attributes=json.loads(row[10]),
                root=bool(row[11]),
            )
            spans.append(span)
            if row[12]:
                spans.extend(_steps_of(span, json.loads(row[12])))
        spans.sort(key=attrgetter("start_ns"))  # stable: a step starting with its span follows it
        return spans

    def recent(
        self,
        *,
        app: str = "",
        interface: str = "",
        status: str = "",
        min_duration_ms: float = 0.0,
        since_ns: int = 0,
        until_ns: int = 0,
        limit: int = 20,
    ) -> list[TraceSummary]:
        """Traces whose root span (no local parent) lives on this node, newest first."""
        where = ["root = 1"]
        args: list[object] = []
        for column, value in (("app", app), ("interface", interface)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if status:
            where.append("status IN ('OK', 'UNSET')" if status in _SUCCESS else "status = ?")
            args.extend(() if status in _SUCCESS else (status,))
        if min_duration_ms:
            where.append("duration_ms >= ?")
            args.append(min_duration_ms)
        if since_ns:
            where.append("start_ns >= ?")
            args.append(since_ns)
        if until_ns:
            where.append("start_ns <= ?")
            args.append(until_ns)
        sql = (
            "SELECT r.trace_id, r.node, r.name, r.start_ns, r.duration_ms, r.status, r.app, "
            "r.interface, (SELECT count(*) FROM spans s WHERE s.trace_id = r.trace_id"
            f" AND s.kind != '{STEP_KIND}') "
            f"FROM spans r WHERE {' AND '.join(where)} ORDER BY r.start_ns DESC LIMIT ?"
        )
        rows = self._rows(sql, (*args, limit))
        return [TraceSummary(*(*row[:5], _shown(row[5]), *row[6:])) for row in rows]

    def close(self) -> None:
        """Close the SQLite file (a PostgreSQL pool is the node's, closed by whoever opened it)."""
        if self._pg is None:
            with self._lock:
                self._conn.close()


_SUCCESS = ("OK", "UNSET")
"""An ended span nobody marked as failed succeeded (OpenTelemetry leaves it UNSET)."""


def _shown(status: str) -> str:
    """What an operator reads, on the list page, the trace page and in the CLI alike."""
    return "OK" if status in _SUCCESS else status


def span_row(span: ReadableSpan, node: str) -> tuple:
    """A finished span as a row of the ``spans`` table, its steps folded in."""
    return _row(_capture(span), node)


def _capture(span: ReadableSpan) -> tuple:
    """What a row needs of a finished span, taken on the thread that ended it: references, no
    formatting (``_row`` does that on the writer thread, a batch at a time)."""
    # What the span holds, not the read-only view ``attributes`` wraps it in (iterating a
    # mappingproxy costs more than the dict), and the SDK's plain dict behind its
    # BoundedAttributes: iterating that mapping goes through Python-level __iter__ and
    # __getitem__ per key.
    attributes = getattr(span, "_attributes", None)
    if attributes is None:
        attributes = span.attributes or {}
    attributes = getattr(attributes, "_dict", attributes)
    return (
        span.context,
        span.parent,
        span.name,
        span.kind,
        span.start_time or 0,
        span.end_time,
        span.status,
        attributes,
        span.events,
    )


def _row(captured: tuple, node: str) -> tuple:
    """A captured span as a table row. Enum members are read by their ``_name_``: hashing an
    enum for a dict lookup is a Python call."""
    ctx, parent, name, kind, start, end, status, attributes, events = captured
    end = end or start
    return (
        f"{ctx.trace_id:032x}",
        f"{ctx.span_id:016x}",
        f"{parent.span_id:016x}" if parent is not None else "",
        node,
        name,
        kind._name_,
        start,
        round((end - start) / 1e6, 3),
        status.status_code._name_,
        (status.description or "")[:200],
        _text(attributes.get("yrd.app", "")),
        _text(attributes.get("yrd.interface", "")),
        _ATTRIBUTES_JSON.encode(
            {k: v if type(v) is str else _text(v) for k, v in attributes.items()}
        ),
        int(parent is None or (parent.is_remote and not name.startswith(FEDERATION_PREFIX))),
        _steps(events) if events else "",
    )


STEP_KIND = "STEP"
"""The kind of a row that is a step of its parent span (a span event), not a span."""


def _steps(events: Sequence) -> str:
    """The steps a span recorded as events (``gateway.telemetry.steps``: an event with ``STEP_MS``)
    as its row's ``steps``: one JSON text for all of them, so a span with three steps is one row
    to insert, not four (issue 18). Other events (a recorded exception) are not steps."""
    steps = []
    for event in events:
        attributes = event.attributes or {}
        attributes = getattr(attributes, "_dict", attributes)
        length = attributes.get(STEP_MS)
        if length is None:
            continue
        failed = attributes.get(STEP_STATUS) == "ERROR"
        steps.append(
            (
                event.name,
                event.timestamp,
                float(length),
                str(attributes.get(STEP_ERROR, ""))[:200] if failed else "",
                {
                    k: v if type(v) is str else _text(v)
                    for k, v in attributes.items()
                    if k not in _STEP_KEYS
                },
            )
        )
    return _ATTRIBUTES_JSON.encode(steps) if steps else ""


_STEP_KEYS = frozenset((STEP_MS, STEP_STATUS, STEP_ERROR))


def _steps_of(span: StoredSpan, steps: list) -> Iterator[StoredSpan]:
    """A span's folded steps as spans of kind ``STEP`` under it, as ``trace show`` and the web
    page show them. A step's id derives from its span's and its place, so reading twice gives
    the same ids."""
    span_id = int(span.span_id, 16)
    for index, (name, start_ns, length, error, attributes) in enumerate(steps):
        yield StoredSpan(
            span.trace_id,
            _step_id(span_id, index),
            span.span_id,
            span.node,
            name,
            STEP_KIND,
            start_ns,
            length,
            "ERROR" if error else "OK",
            error,
            attributes=attributes,
        )


def _step_id(span_id: int, index: int) -> str:
    seed = span_id.to_bytes(8, "big") + index.to_bytes(2, "big")
    return hashlib.blake2b(seed, digest_size=8).hexdigest()


#: Built once: ``json.dumps`` with options builds an encoder per call.
_ATTRIBUTES_JSON = json.JSONEncoder(ensure_ascii=False)


def _text(value: object) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


WRITE_INTERVAL = 0.25
"""Seconds between two writes of finished spans to the store."""


class SpanStoreProcessor(SpanProcessor):
    """Feeds the node's span store: what a row needs of a finished span is taken at once, on the
    thread that ended it (references, no formatting), and a writer thread turns a batch into
    rows and inserts them every ``interval``.

    Not the SDK's BatchSpanProcessor: that keeps every finished span object queued until its
    export, up to half a second, and under load those thousands of live objects are what the
    cyclic garbage collector walks on every young collection (measured: ~35 µs of GC per traced
    call, and collections of several milliseconds in the latency tail). What waits here is a
    tuple of a few small objects per span. Formatting a batch at once on the writer thread
    (ids as hex, attributes as JSON) costs a fraction of formatting each span between the
    request work of the event loop, whose caches it would share.

    Bounded: beyond ``max_pending`` rows waiting (a stalled disk) new spans are dropped and
    counted, with a log line, rather than growing the node's memory.
    """

    def __init__(
        self, store: SpanStore, *, interval: float = WRITE_INTERVAL, max_pending: int = 100_000
    ):
        self._store = store
        self._node = store.node
        self._interval = interval
        self._max_pending = max_pending
        self._pending: list[tuple] = []
        self._lock = threading.Lock()  # guards _pending (appends vs the writer's swap)
        self._writing = threading.Lock()  # a flush waits for a write in progress
        self._wake = threading.Event()
        self._stopped = False
        self.dropped = 0
        self._thread = threading.Thread(
            target=self._run, name=f"span-store-{store.node}", daemon=True
        )
        self._thread.start()

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._stopped or not span.context.trace_flags.sampled:
            return
        try:
            captured = _capture(span)
        except Exception:  # telemetry never breaks the caller
            log.exception("span %s could not be stored", span.name)
            return
        with self._lock:
            if len(self._pending) < self._max_pending:
                self._pending.append(captured)
                return
            self.dropped += 1
            dropped = self.dropped
        if dropped == 1 or dropped % 10_000 == 0:
            log.warning("span store is behind: %d spans dropped so far", dropped)

    def _write(self) -> None:
        with self._writing:
            with self._lock:
                captured, self._pending = self._pending, []
            if not captured:
                return
            rows = []
            for one in captured:
                try:
                    rows.append(_row(one, self._node))
                except Exception:  # telemetry never breaks the caller
                    log.exception("span %r could not be stored", one[2])
            try:
                self._store.add(rows)
            except Exception:  # telemetry never breaks the caller
                log.exception("span store write of %d spans failed", len(rows))

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._interval)
            self._write()
        self._write()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Everything ended before this call is in the store when it returns."""
        self._write()
        return True

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._thread.join()
