"""Backpressure: bounded in-flight calls per consumer province (peer) and per app.

Past its bound a caller gets RESOURCE_EXHAUSTED at once instead of queueing without limit. Each
province and each app has its own bound, so one province flooding a node uses up only its own
share and the others keep theirs.

A node with several worker processes holds each bound across all of them (``SharedInFlight``):
the counts live in a table every worker maps (``gateway.shm``), one column per worker, so the
primary can zero a dead worker's column before it starts a new one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from gateway.errors import ResourceExhausted
from gateway.shm import SharedCounters, TableFull

__all__ = ["InFlight", "InFlightBound", "SharedInFlight"]


class InFlightBound(Protocol):
    """What the servicers hold: one process's bound or one shared by a node's workers."""

    def current(self, key: str) -> int: ...

    def slot(self, key: str) -> AbstractContextManager[None]: ...


class InFlight:
    """The bound for one process: counts in a dict, on the event loop's thread."""

    def __init__(self, limit: int, what: str) -> None:
        self._limit = limit
        self._what = what
        self._counts: defaultdict[str, int] = defaultdict(int)

    def current(self, key: str) -> int:
        return self._counts.get(key, 0)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        # Single event loop: the check and the increment cannot interleave with another call.
        if self._counts[key] >= self._limit:
            raise _refusal(self._what, key, self._limit)
        self._counts[key] += 1
        try:
            yield
        finally:
            self._counts[key] -= 1
            if not self._counts[key]:
                del self._counts[key]


class SharedInFlight:
    """The same bound over every worker of a node; this worker counts in ``column``."""

    def __init__(self, limit: int, what: str, table: SharedCounters, column: int) -> None:
        if not 0 <= column < table.columns:
            raise ValueError(f"column {column}: the table has {table.columns}")
        self._limit = limit
        self._what = what
        self._table = table
        self._column = column

    def current(self, key: str) -> int:
        table = self._table
        with table.locked():
            row = table.find(key.encode())
            return table.total(row) if row is not None else 0

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        table, column = self._table, self._column
        with table.locked():
            # A row no worker counts on any more may be reused for another key.
            try:
                row, _ = table.row(key.encode(), reclaim=lambda i: table.total(i) == 0)
            except TableFull:  # every row has calls in flight: more keys than the table holds
                raise ResourceExhausted(
                    f"too many {self._what}s have calls in flight at this node; retry later",
                    reason="TOO_MANY_IN_FLIGHT",
                ) from None
            if table.total(row) >= self._limit:
                raise _refusal(self._what, key, self._limit)
            table.add(row, column, 1)
        try:
            yield
        finally:
            # Our own column, written only by this worker's event loop, so no lock; and the
            # row cannot be reclaimed while it counts > 0.
            table.add(row, column, -1)


def _refusal(what: str, key: str, limit: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"{what} {key} has {limit} calls in flight; retry later",
        reason="TOO_MANY_IN_FLIGHT",
        metadata={"limit": str(limit), "key": key},
    )
