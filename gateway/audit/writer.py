"""The audit log's single writer thread: group commit, one transaction and one fsync per batch.

Callers (threads or coroutines) queue a record and wait. The writer takes everything that queued
up while the previous commit ran, chains and inserts it in one transaction, and only after COMMIT
(fsynced: ``synchronous=FULL``) tells each caller its entry. Any storage error fails the batch's
callers with ``AuditWriteError`` and uses up no seq.

GIL economics decide the throughput here, not the disk: a thread that gives up the GIL (around
every ``sqlite3_step``, every socket write) may wait a whole switch interval (5 ms) to get it back
from a busy event loop. So a batch is inserted with a few multi-row statements
(``gateway.sqlbatch``), not ``executemany`` (one step per row), and results reach each event loop
in one ``call_soon_threadsafe``, not one per caller.

Several processes may write one chain (the workers of a node on SQLite, the replicas of a
province on PostgreSQL): each write holds or checks the chain's head against the others, so the
chain stays one chain (``targets``, ``pgchain``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, cast

from gateway.audit.chain import AuditEntry, AuditRecord
from gateway.audit.encoding import JSON_COLUMNS, RECORD_COLUMNS, encode_entry
from gateway.errors import Fault, GatewayError

__all__ = [
    "JSON_COLUMNS",
    "RECORD_COLUMNS",
    "ROW_COLUMNS",
    "AuditError",
    "AuditReadError",
    "AuditStats",
    "AuditStoreUnavailable",
    "AuditWriteError",
    "ChainTarget",
    "GroupCommitWriter",
    "parse_head",
]

_log = logging.getLogger(__name__)

ROW_COLUMNS = ("seq", "prev_hash", "hash", *RECORD_COLUMNS)

# One transaction holds at most this many entries: bounds the time a batch holds the write lock
# and the memory of one commit, far above what hundreds of concurrent callers queue per fsync.
_MAX_BATCH = 1024

_STOP = object()


class AuditError(Fault):
    """The audit log failed; ``str()`` says how (it may name the file: log it, do not send it)."""


class AuditWriteError(AuditError):
    """The audit log could not durably record an entry (or is closed): refuse the call."""


class AuditStoreUnavailable(AuditWriteError):
    """The chain's database cannot be reached (PostgreSQL stopped or gone): the call is refused
    as ``refusal``, UNAVAILABLE naming the store, not as an internal error."""

    def __init__(self, message: str, refusal: GatewayError) -> None:
        super().__init__(message)
        self.refusal = refusal


class AuditReadError(AuditError):
    """The audit log could not be read (or is closed)."""


@dataclass(frozen=True)
class AuditStats:
    entries_written: int
    commits: int
    """Transactions (one fsync each) that wrote entries: < entries_written means grouping."""
    failed_commits: int


class _Request:
    __slots__ = ("future", "loop", "record")

    def __init__(
        self,
        record: AuditRecord,
        future: Future[AuditEntry] | asyncio.Future[AuditEntry],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.record = record
        self.future = future
        self.loop = loop  # None for a thread waiting on a concurrent Future


class ChainTarget(Protocol):
    """Where a chain's batches go (``targets``: a SQLite file, or PostgreSQL)."""

    errors: tuple[type[Exception], ...]
    """What a storage failure raises: it fails the batch, never the writer."""

    def unreachable(self, exc: Exception) -> GatewayError | None:
        """The refusal for a failure that means the store cannot be reached, else None."""

    def begin(self) -> tuple[int, str]:
        """Start a transaction that holds the chain's head against every other writer, and
        return the head (seq, hash) read inside it."""

    def store(self, rows: list[tuple[Any, ...]], seq: int, digest: str) -> bool:
        """Insert ``rows``, move the head to (seq, digest), commit durably; False, writing
        nothing, when another writer moved the head since ``begin`` (then begin again)."""

    def rollback(self) -> None:
        """Abandon the transaction, if any (never raises)."""

    def close(self) -> None: ...


class GroupCommitWriter:
    """Owns the chain's write target (already set up) and its thread."""

    def __init__(self, target: ChainTarget, name: str) -> None:
        self._target = target
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Guards _closed/_broken together with the queue puts, so a request is either queued
        # before STOP (and written) or refused: never stranded behind a writer that left.
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        self._written = self._commits = self._failed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, record: AuditRecord) -> Future[AuditEntry]:
        """Queue ``record`` for a thread caller; the future resolves after its commit."""
        future: Future[AuditEntry] = Future()
        self._put(_Request(record, future, None))
        return future

    def submit_async(self, record: AuditRecord) -> asyncio.Future[AuditEntry]:
        """Queue ``record`` for a coroutine on the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AuditEntry] = loop.create_future()
        self._put(_Request(record, future, loop))
        return future

    def _put(self, request: _Request) -> None:
        with self._lock:
            if self._closed:
                raise AuditWriteError("audit log is closed")
            if self._broken is not None:
                raise AuditWriteError(f"audit writer stopped: {self._broken}")
            self._queue.put(request)

    def stats(self) -> AuditStats:
        return AuditStats(self._written, self._commits, self._failed)

    def queued(self) -> int:
        """Entries waiting for the writer (a rough figure, for the node's metrics)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Write everything already queued, stop the thread, close the connection. Idempotent."""
        with self._lock:
            already, self._closed = self._closed, True
            if not already:
                self._queue.put(_STOP)
        self._thread.join()
        if already:
            return
        self._target.close()

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        batch: list[_Request] = []
        try:
            stop = False
            while not stop:
                batch, stop = self._take_batch()
                if batch:
                    self._write(batch)
                    batch = []
        except BaseException as exc:  # a bug here must fail callers, never strand them
            with self._lock:
                self._broken = f"{type(exc).__name__}: {exc}"
            pending = [r for r in batch if not r.future.done()]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and _pick_up(item):
                    pending.append(item)
            # Logged, not re-raised: an exception escaping a thread is noise in every test run,
            # and the callers get the error below.
            _log.exception("audit writer %s stopped", self._thread.name)
            self._deliver([(r, AuditWriteError(f"audit writer stopped: {exc}")) for r in pending])

    def _take_batch(self) -> tuple[list[_Request], bool]:
        """Block for one request, then take whatever else is queued; True once STOP is seen."""
        batch: list[_Request] = []
        item = self._queue.get()
        while True:
            if item is _STOP:
                return batch, True
            if _pick_up(item):
                batch.append(item)
            if len(batch) >= _MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _write(self, batch: list[_Request]) -> None:
        target = self._target
        outcomes: list[tuple[_Request, AuditEntry | BaseException]] = []
        written: list[tuple[_Request, AuditEntry]] = []
        try:
            while True:
                # The head comes from the target every time (read inside the write transaction,
                # or checked by the write itself), so a failed or ambiguous earlier commit never
                # leaves a stale position behind; another writer's append means chain again.
                outcomes, written = [], []
                seq, prev = target.begin()
                rows: list[Any] = []
                for request in batch:
                    try:
                        digest, columns = encode_entry(seq + 1, prev, request.record)
                    except (TypeError, ValueError) as exc:
                        # Only a record built around the constructor's checks gets here; it
                        # fails alone instead of taking its batch (or the writer) down with it.
                        problem = AuditWriteError(f"unserialisable record: {exc}")
                        outcomes.append((request, problem))
                        continue
                    seq += 1
                    rows.append((seq, prev, digest, *columns))
                    written.append((request, AuditEntry(seq, prev, digest, request.record)))
                    prev = digest
                if not rows:
                    target.rollback()
                    break
                if target.store(rows, seq, prev):
                    break
        except target.errors as exc:
            self._failed += 1
            target.rollback()
            # Every request of the batch gets an answer, including those the error came before.
            settled = {id(r) for r, _ in outcomes}
            failed = [(r, _write_failure(target, exc)) for r in batch if id(r) not in settled]
            self._deliver([*outcomes, *failed])
            return
        except BaseException:
            target.rollback()  # do not sit on the write lock while the writer goes down
            raise
        if written:
            self._commits += 1
            self._written += len(written)
        self._deliver([*outcomes, *written])

    def _deliver(self, outcomes: list[tuple[_Request, AuditEntry | BaseException]]) -> None:
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for request, outcome in outcomes:
            if request.loop is None:
                future = request.future
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            else:
                # A request with a loop was made by submit_async: its future is that loop's.
                future_ = cast("asyncio.Future[Any]", request.future)
                per_loop.setdefault(request.loop, []).append((future_, outcome))
        for loop, settled in per_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting any more


def _write_failure(target: ChainTarget, exc: Exception) -> AuditWriteError:
    """What one caller of a failed batch is told (each its own, raised in its own task)."""
    refusal = target.unreachable(exc)
    if refusal is not None:
        return AuditStoreUnavailable(f"audit write failed: {exc}", refusal)
    return AuditWriteError(f"audit write failed: {exc}")


def _pick_up(request: _Request) -> bool:
    """Claim a queued request; False if its caller cancelled first (then it is not written).

    After this point cancelling no longer stops the write: an entry without a waiting caller is
    harmless, a released answer without an entry is not.
    """
    if request.loop is None:
        return request.future.set_running_or_notify_cancel()  # type: ignore[union-attr]
    return not request.future.cancelled()


def _settle(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """Runs on the caller's loop: resolve every waiter of one batch from that loop."""
    for future, outcome in settled:
        if future.done():  # cancelled after pick-up
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def parse_head(value: object) -> tuple[int, str] | None:
    """The ``head`` meta value as (seq, hash), or None when it is not one."""
    try:
        head = json.loads(value)  # type: ignore[arg-type]
        seq, digest = head["seq"], head["hash"]
    except (TypeError, ValueError, KeyError):
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(digest, str):
        return None
    return seq, digest
