"""Quota counters: checked and counted in memory, written behind to the sharing file.

A call is counted in two windows (the minute and the China Standard Time day); the check and
the increment are one atomic step, so concurrent calls can never both take the last unit. The
counts reach the ``quota_usage`` table on the next ``flush`` (once a second in a node): a crash
of the whole node loses at most the counts since then, never a grant, an application or an
audit entry.

- ``LocalQuota``: one process, a dict under a lock.
- ``SharedQuota``: the workers of one node, in a table they all map (``gateway.shm``), so the
  bound holds across them. Each row keeps ``used`` and ``flushed``; any worker's flush writes
  every row where they differ, so a worker killed before its flush loses nothing while the node
  lives on.

Rows are written with ``used = max(used, excluded.used)``, so a late or repeated flush never
lowers a count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from gateway.errors import Fault
from gateway.shm import SharedCounters, TableFull

__all__ = ["Key", "LocalQuota", "QuotaTableFull", "SharedQuota", "Usage"]

Key = tuple[str, str, str, int]
"""(grant id, app id, ``minute`` or ``day``, window start)."""
Usage = tuple[str, str, str, int, int]
"""A key and its count, as written to ``quota_usage``."""

_PRUNE_EVERY = 256
"""Calls between two sweeps of finished windows out of a ``LocalQuota``."""
_USED, _FLUSHED = 0, 1


class QuotaTableFull(Fault):
    """No room to count a new window: the shared table is too small for this node."""


def finished(key: Key, minute: int, day: int) -> bool:
    """A window before the one just before the current (that one may still see calls counted
    a moment before the boundary on another worker or replica)."""
    return key[3] < (minute - 1 if key[2] == "minute" else day - 1)


class LocalQuota:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[Key, int] = {}
        self._dirty: set[Key] = set()
        self._consumed = 0

    def consume(
        self, keys: tuple[Key, Key], limits: tuple[int, int], load: Callable[[Key], int]
    ) -> int | None:
        """Count one call in both windows and return None; or, without counting anything, the
        index of the first window whose limit is reached. ``load`` reads a window's stored
        count the first time it is seen."""
        with self._lock:
            used = [self._used[k] if k in self._used else load(k) for k in keys]
            for i, (count, limit) in enumerate(zip(used, limits, strict=True)):
                if count >= limit:
                    return i
            for key, count in zip(keys, used, strict=True):
                self._used[key] = count + 1
                self._dirty.add(key)
            self._consumed += 1
            if self._consumed % _PRUNE_EVERY == 0:
                minute, day = keys[0][3], keys[1][3]
                for key in [
                    k for k in self._used if finished(k, minute, day) and k not in self._dirty
                ]:
                    del self._used[key]
        return None

    def take_dirty(self) -> list[Usage]:
        """The counts changed since the last call, to write now (``restore`` if that fails)."""
        with self._lock:
            dirty = [(*key, self._used[key]) for key in self._dirty]
            self._dirty.clear()
        return dirty

    def restore(self, rows: list[Usage]) -> None:
        with self._lock:
            self._dirty.update(tuple(r[:4]) for r in rows)  # type: ignore[misc]

    def sweep(self, minute: int, day: int) -> int:
        """Forget finished windows already written; the dict prunes itself as it counts."""
        return 0

    def close(self) -> None:
        pass


class SharedQuota:
    """Counters in a shared table with two columns: used, flushed."""

    COLUMNS = 2

    def __init__(self, table: SharedCounters) -> None:
        if table.columns != self.COLUMNS:
            raise ValueError(f"{table.path}: a quota table has {self.COLUMNS} columns")
        self._table = table

    def consume(
        self, keys: tuple[Key, Key], limits: tuple[int, int], load: Callable[[Key], int]
    ) -> int | None:
        table = self._table
        with table.locked():
            rows = []
            for key in keys:
                try:
                    row, added = table.row(_encode(key))
                except TableFull:
                    raise QuotaTableFull(str(table.path)) from None
                if added:  # first sight of this window in this node's life: start from the file
                    try:
                        stored = load(key)
                    except BaseException:
                        table.remove(row)  # else it stays at 0 and the file is never read
                        raise
                    table.set(row, _USED, stored)
                    table.set(row, _FLUSHED, stored)
                rows.append(row)
            for i, (row, limit) in enumerate(zip(rows, limits, strict=True)):
                if table.get(row, _USED) >= limit:
                    return i
            for row in rows:
                table.add(row, _USED, 1)
        return None

    def take_dirty(self) -> list[Usage]:
        table = self._table
        with table.locked():
            dirty = []
            for row in self._live(table):
                used = table.get(row, _USED)
                if used != table.get(row, _FLUSHED):
                    dirty.append((*_decode(table.key(row)), used))
                    table.set(row, _FLUSHED, used)
        return dirty

    def restore(self, rows: list[Usage]) -> None:
        table = self._table
        with table.locked():
            for usage in rows:
                row = table.find(_encode(usage[:4]))
                if row is not None:
                    table.set(row, _FLUSHED, -1)  # differs from any count: written next time

    def sweep(self, minute: int, day: int) -> int:
        """Remove finished windows that are written; returns how many went."""
        table = self._table
        with table.locked():
            gone = 0
            for row in self._live(table):
                if table.get(row, _USED) == table.get(row, _FLUSHED) and finished(
                    _decode(table.key(row)), minute, day
                ):
                    table.remove(row)
                    gone += 1
        return gone

    def close(self) -> None:
        self._table.close()

    @staticmethod
    def _live(table: SharedCounters) -> list[int]:
        return table.live_rows().tolist()


def _encode(key: Key) -> bytes:
    return "\x00".join((key[0], key[1], key[2], str(key[3]))).encode()


def _decode(raw: bytes) -> Key:
    grant, app, span, start = raw.decode().split("\x00")
    return grant, app, span, int(start)
