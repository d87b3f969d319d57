"""Counters shared by the worker processes of one node: a hash table in a memory-mapped file.

A node with several workers (``gateway.workers``) must hold one bound across all of them: the
in-flight calls of an app or a province, the calls counted against a grant's quota. Each such
table is one file under the node's run directory, mapped ``MAP_SHARED`` by the primary and every
worker, so a write is seen by all of them at once.

- **Rows** are named by a short byte string (up to ``key_size`` bytes) and hold ``columns``
  signed 64-bit counters. What a column means is the user's business: one per worker for
  in-flight calls (so a dead worker's column can be zeroed), used/flushed for quota.
- **Locking.** Anything that must be atomic across processes (find or add a row, check a bound
  and then count) runs under ``locked()``: an ``flock`` on the file, which the kernel releases
  when its holder dies, so a worker killed with the lock held cannot wedge the node. An aligned
  8-byte store is atomic on the platforms we run on, so a process may change a column only it
  writes without the lock.
- **Layout.** Open addressing with linear probing: a tag per row (0 never used, 1 removed,
  otherwise 63 bits of the key's BLAKE2b digest with bit 1 set, so never 0 or 1), the key's
  length and bytes, then the counters. A removed row keeps probe chains intact and is reused by
  the next insert that passes it.

The file is created fresh by the primary at every start (``create``); workers ``attach`` to it
and check its header, so a worker of another generation or configuration refuses to start.
Each process must ``attach`` for itself: a table inherited across ``fork`` shares its open file
(and so its ``flock``) with the parent, which would not keep the two apart.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gateway.errors import Fault

__all__ = ["SharedCounters", "TableFull"]

_MAGIC = b"YRDSHM01"
_HEADER = struct.Struct("<8sIII")  # magic, capacity, columns, key_size
_HEADER_SIZE = 64
_EMPTY, _REMOVED = 0, 1
_TAG_MASK = (1 << 63) - 1


class TableFull(Fault):
    """Every row holds a live key: the table was sized too small for this node's load."""


def _tag(key: bytes) -> int:
    return (int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") & _TAG_MASK) | 2


def _home(tag: int, capacity: int) -> int:
    """The row a key's probe chain starts at (bits 0 and 1 of a tag are not random)."""
    return (tag >> 2) % capacity


class SharedCounters:
    """One mapped table; build with ``create`` (the primary) or ``attach`` (a worker)."""

    def __init__(self, path: Path, fd: int, capacity: int, columns: int, key_size: int) -> None:
        self.path = path
        self.capacity = capacity
        self.columns = columns
        self.key_size = key_size
        self._fd = fd
        size = _size(capacity, columns, key_size)
        self._map = mmap.mmap(
            fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE
        )
        view = memoryview(self._map)
        offset = _HEADER_SIZE
        self._tags = view[offset : offset + 8 * capacity].cast("q")
        offset += 8 * capacity
        self._counts = view[offset : offset + 8 * capacity * columns].cast("q")
        offset += 8 * capacity * columns
        self._lengths = view[offset : offset + 2 * capacity].cast("H")
        offset += 2 * capacity
        self._keys = view[offset : offset + key_size * capacity]
        # flock excludes other processes; threads of this one queue on a plain lock first.
        self._thread_lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], *, capacity: int, columns: int, key_size: int = 192
    ) -> SharedCounters:
        """A new, empty table at ``path`` (replacing any file there)."""
        if not 1 <= capacity <= 1 << 24 or not 1 <= columns <= 256 or not 1 <= key_size <= 4096:
            raise ValueError("capacity, columns or key_size out of range")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, _size(capacity, columns, key_size))  # sparse: zero rows are free
            os.pwrite(fd, _HEADER.pack(_MAGIC, capacity, columns, key_size), 0)
            os.replace(tmp, path)  # a worker never maps a half-written header
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return cls(path, fd, capacity, columns, key_size)

    @classmethod
    def attach(cls, path: str | os.PathLike[str], *, columns: int | None = None) -> SharedCounters:
        """The table the primary made at ``path``; ValueError if it is not one (or has a
        different column count than ``columns``)."""
        path = Path(path)
        fd = os.open(path, os.O_RDWR)
        try:
            header = os.pread(fd, _HEADER.size, 0)
            if len(header) < _HEADER.size:  # else struct.error, not the documented ValueError
                raise ValueError(f"{path}: truncated")
            magic, capacity, cols, key_size = _HEADER.unpack(header)
            if magic != _MAGIC:
                raise ValueError(f"{path}: not a shared counter table")
            if columns is not None and cols != columns:
                raise ValueError(f"{path}: {cols} columns, expected {columns}")
            if os.fstat(fd).st_size != _size(capacity, cols, key_size):
                raise ValueError(f"{path}: truncated")
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, capacity, cols, key_size)

    def close(self) -> None:
        if self._fd < 0:
            return
        for view in (self._tags, self._counts, self._lengths, self._keys):
            view.release()
        self._map.close()
        os.close(self._fd)
        self._fd = -1

    # -- locking ---------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    # -- rows (call these under ``locked()``) ---------------------------------------------

    def find(self, key: bytes) -> int | None:
        """The row of ``key``, or None."""
        tag = _tag(key)
        tags, capacity = self._tags, self.capacity
        i = _home(tag, capacity)
        for _ in range(capacity):
            t = tags[i]
            if t == _EMPTY:
                return None
            if t == tag and self.key(i) == key:
                return i
            i = (i + 1) % capacity
        return None

    def row(self, key: bytes, *, reclaim: Callable[[int], bool] | None = None) -> tuple[int, bool]:
        """The row of ``key`` as (index, added): added rows start with every column at 0.

        When the table is full, rows for which ``reclaim(index)`` is true are removed first
        (a row nobody counts on any more); TableFull if that frees none.
        """
        if len(key) > self.key_size:
            raise ValueError(f"key of {len(key)} bytes; this table takes {self.key_size}")
        tag = _tag(key)
        tags, capacity = self._tags, self.capacity
        i = _home(tag, capacity)
        free = None
        for _ in range(capacity):
            t = tags[i]
            if t == _EMPTY:
                if free is None:
                    free = i
                break
            if t == _REMOVED:
                if free is None:
                    free = i
            elif t == tag and self.key(i) == key:
                return i, False
            i = (i + 1) % capacity
        if free is None:
            if reclaim is None or not self.sweep(reclaim):
                raise TableFull(f"{self.path.name}: all {capacity} rows in use")
            return self.row(key)
        self._set_key(free, key, tag)
        return free, True

    def sweep(self, drop: Callable[[int], bool]) -> int:
        """Remove every live row for which ``drop(index)`` is true; returns how many."""
        dropped = 0
        for i in self.live_rows().tolist():
            if drop(i):
                self.remove(i)
                dropped += 1
        return dropped

    def remove(self, index: int) -> None:
        base = index * self.columns
        self._counts[base : base + self.columns] = memoryview(bytes(8 * self.columns)).cast("q")
        self._tags[index] = _REMOVED

    def live_rows(self) -> np.ndarray:
        """Indexes of the rows that hold a key (one vectorised pass over the tags)."""
        tags = np.frombuffer(self._map, dtype=np.int64, count=self.capacity, offset=_HEADER_SIZE)
        return np.flatnonzero(tags > _REMOVED)

    def clear_column(self, column: int) -> None:
        """Zero ``column`` in every row (a dead worker's in-flight calls, say)."""
        counts, columns = self._counts, self.columns
        for i in self.live_rows().tolist():
            counts[i * columns + column] = 0

    # -- values (any time; see the module note on who may write without the lock) ---------

    def key(self, index: int) -> bytes:
        start = index * self.key_size
        return bytes(self._keys[start : start + self._lengths[index]])

    def get(self, index: int, column: int) -> int:
        return self._counts[index * self.columns + column]

    def set(self, index: int, column: int, value: int) -> None:
        self._counts[index * self.columns + column] = value

    def add(self, index: int, column: int, delta: int) -> int:
        """Add ``delta`` and return the new value (atomic only for a column one process owns
        or under ``locked()``)."""
        at = index * self.columns + column
        value = self._counts[at] + delta
        self._counts[at] = value
        return value

    def total(self, index: int) -> int:
        base = index * self.columns
        return sum(self._counts[base : base + self.columns])

    def _set_key(self, index: int, key: bytes, tag: int) -> None:
        start = index * self.key_size
        self._keys[start : start + len(key)] = key
        self._lengths[index] = len(key)
        base = index * self.columns
        self._counts[base : base + self.columns] = memoryview(bytes(8 * self.columns)).cast("q")
        self._tags[index] = tag  # last: a row is visible only once its key is in place


def _size(capacity: int, columns: int, key_size: int) -> int:
    return _HEADER_SIZE + capacity * (8 + 8 * columns + 2 + key_size)
