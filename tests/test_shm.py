"""Shared counters: a hash table in a mapped file, seen and locked across processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.shm import SharedCounters, TableFull, _home, _tag
from tests.support.processes import FORK, start


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "table.shm"


@pytest.fixture
def table(path: Path) -> Iterator[SharedCounters]:
    t = SharedCounters.create(path, capacity=4, columns=3, key_size=16)
    yield t
    t.close()


def colliding(capacity: int, home: int, count: int) -> list[bytes]:
    """``count`` keys whose probe chains all start at row ``home``."""
    keys = [
        k for k in (f"key-{n}".encode() for n in range(1000)) if _home(_tag(k), capacity) == home
    ]
    assert len(keys) >= count, f"no {count} keys start at row {home} of {capacity}"
    return keys[:count]


# --------------------------------------------------------------------------- files


def test_create_and_attach_round_trip(path: Path) -> None:
    primary = SharedCounters.create(path, capacity=8, columns=3, key_size=32)
    i, added = primary.row(b"js/rsj/pension")
    assert added
    primary.set(i, 0, 7)
    primary.set(i, 2, -3)
    worker = SharedCounters.attach(path, columns=3)
    try:
        assert (worker.capacity, worker.columns, worker.key_size) == (8, 3, 32)
        assert worker.find(b"js/rsj/pension") == i
        assert worker.key(i) == b"js/rsj/pension"
        assert [worker.get(i, c) for c in range(3)] == [7, 0, -3]
        assert worker.total(i) == 4
        assert worker.find(b"js/rsj/other") is None
    finally:
        worker.close()
        primary.close()
    primary.close()  # closing twice is harmless
    # Attaching without naming the columns takes the file's.
    again = SharedCounters.attach(path)
    assert again.columns == 3 and again.get(again.find(b"js/rsj/pension"), 0) == 7
    again.close()
    assert not list(path.parent.glob("*.tmp"))  # the temporary file was renamed into place


def test_create_replaces_an_old_table(path: Path) -> None:
    old = SharedCounters.create(path, capacity=4, columns=1)
    old.row(b"stale")
    old.close()
    fresh = SharedCounters.create(path, capacity=4, columns=1)
    assert fresh.find(b"stale") is None and len(fresh.live_rows()) == 0
    fresh.close()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("magic", "not a shared counter table"),
        ("columns", "2 columns, expected 3"),
        ("short", "truncated"),
        ("long", "truncated"),
        ("header", "truncated"),
        ("empty", "truncated"),
    ],
)
def test_attach_checks_the_header(path: Path, damage: str, message: str) -> None:
    SharedCounters.create(path, capacity=4, columns=2, key_size=8).close()
    size = path.stat().st_size
    columns = 3 if damage == "columns" else 2
    with open(path, "r+b") as f:
        if damage == "magic":
            f.write(b"NOTATABL")
        elif damage == "short":
            f.truncate(size - 1)
        elif damage == "long":
            f.truncate(size + 8)
        elif damage == "header":
            f.truncate(10)  # not even a whole header
        elif damage == "empty":
            f.truncate(0)
    with pytest.raises(ValueError, match=message):
        SharedCounters.attach(path, columns=columns)


@pytest.mark.parametrize(
    "args",
    [
        {"capacity": 0, "columns": 1},
        {"capacity": 4, "columns": 0},
        {"capacity": 4, "columns": 257},
        {"capacity": 4, "columns": 1, "key_size": 0},
    ],
)
def test_create_checks_its_sizes(path: Path, args: dict) -> None:
    with pytest.raises(ValueError):
        SharedCounters.create(path, **args)
    assert not path.exists()


def test_writes_through_one_mapping_are_seen_by_another(path: Path) -> None:
    a = SharedCounters.create(path, capacity=16, columns=2, key_size=16)
    b = SharedCounters.attach(path, columns=2)
    try:
        with a.locked():
            i, added = a.row(b"js")
        assert added
        with b.locked():
            assert b.row(b"js") == (i, False)  # found, not added a second time
            j, added = b.row(b"sh")
        assert added and j != i
        assert a.find(b"sh") == j
        a.add(i, 0, 5)
        b.add(i, 1, 2)
        assert (b.get(i, 0), a.get(i, 1), a.total(i), b.total(i)) == (5, 2, 7, 7)
        b.remove(j)
        assert a.find(b"sh") is None
        assert sorted(a.live_rows().tolist()) == [i]
    finally:
        b.close()
        a.close()


# --------------------------------------------------------------------------- rows


def test_colliding_keys_probe_in_turn_and_wrap(table: SharedCounters) -> None:
    k1, k2, k3 = colliding(4, 3, 3)
    assert [table.row(k)[0] for k in (k1, k2, k3)] == [3, 0, 1]  # wraps past the last row
    assert [table.find(k) for k in (k1, k2, k3)] == [3, 0, 1]
    assert [table.key(i) for i in (3, 0, 1)] == [k1, k2, k3]


def test_removed_row_keeps_the_probe_chain(table: SharedCounters) -> None:
    k1, k2, k3, k4 = colliding(4, 2, 4)
    assert [table.row(k)[0] for k in (k1, k2, k3)] == [2, 3, 0]
    table.add(3, 0, 9)
    table.add(0, 1, 4)
    table.remove(3)  # the middle of the chain
    assert table.find(k2) is None
    assert table.find(k3) == 0 and table.get(0, 1) == 4  # still found past the removed row
    assert table.row(k3) == (0, False)  # and not added again in the removed row
    assert sorted(table.live_rows().tolist()) == [0, 2]
    # A new key with the same start reuses the removed row, its counts zeroed.
    assert table.row(k4) == (3, True)
    assert (table.key(3), table.get(3, 0), table.total(3)) == (k4, 0, 0)
    assert table.row(k2) == (1, True)  # k2 again: a new row, found from then on
    assert [table.find(k) for k in (k1, k2, k3, k4)] == [2, 1, 0, 3]


def test_removing_the_first_row_of_a_chain(table: SharedCounters) -> None:
    k1, k2 = colliding(4, 2, 2)
    table.row(k1)
    table.row(k2)
    table.remove(2)
    assert table.find(k2) == 3
    assert table.row(k1) == (2, True)


def test_full_table_and_reclaim(table: SharedCounters) -> None:
    keys = [f"k{n}".encode() for n in range(4)]
    rows = {k: table.row(k)[0] for k in keys}
    assert sorted(rows.values()) == [0, 1, 2, 3]
    for n, k in enumerate(keys):
        table.set(rows[k], 0, n)  # k0 counts 0, the others more
    assert table.find(b"new") is None  # a full scan of a full table ends
    with pytest.raises(TableFull):
        table.row(b"new")
    with pytest.raises(TableFull):
        table.row(b"new", reclaim=lambda i: False)
    assert sorted(table.live_rows().tolist()) == [0, 1, 2, 3]  # nothing lost on the way
    # Rows nobody counts on may go: only k0's.
    i, added = table.row(b"new", reclaim=lambda i: table.total(i) == 0)
    assert added and i == rows[b"k0"] and table.key(i) == b"new"
    assert table.find(b"k0") is None
    assert [table.get(table.find(k), 0) for k in keys[1:]] == [1, 2, 3]
    # Full again: the reclaimer is asked about every live row and frees what it says.
    seen: list[int] = []
    i, _ = table.row(b"newer", reclaim=lambda i: seen.append(i) or table.get(i, 0) >= 2)
    assert sorted(seen) == [0, 1, 2, 3]
    assert table.find(b"k2") is None and table.find(b"k3") is None
    assert table.find(b"newer") == i and table.find(b"k1") is not None
    assert len(table.live_rows()) == 3  # new, newer, k1


def test_key_size(table: SharedCounters) -> None:
    i, added = table.row(b"x" * 16)  # exactly key_size
    assert added and table.key(i) == b"x" * 16
    with pytest.raises(ValueError, match="17 bytes"):
        table.row(b"x" * 17)
    assert table.find(b"x" * 17) is None
    assert len(table.live_rows()) == 1
    j, _ = table.row(b"")  # an empty key is a key like any other
    assert table.key(j) == b"" and table.find(b"") == j != i


def test_sweep(table: SharedCounters) -> None:
    for n in range(4):
        table.set(table.row(b"k%d" % n)[0], 1, n)
    assert table.sweep(lambda i: table.get(i, 1) % 2 == 1) == 2
    assert [table.find(b"k%d" % n) is not None for n in range(4)] == [True, False, True, False]
    assert table.sweep(lambda i: False) == 0


def test_clear_column(table: SharedCounters) -> None:
    a, _ = table.row(b"a")
    b, _ = table.row(b"b")
    for i in (a, b):
        for column in range(3):
            table.set(i, column, 10 * (column + 1))
    table.clear_column(1)
    assert [table.get(a, c) for c in range(3)] == [10, 0, 30]
    assert [table.get(b, c) for c in range(3)] == [10, 0, 30]
    assert table.find(b"a") == a and table.find(b"b") == b  # rows stay


def test_live_rows(table: SharedCounters) -> None:
    assert table.live_rows().tolist() == []
    rows = sorted(table.row(k)[0] for k in (b"a", b"b", b"c"))
    assert sorted(table.live_rows().tolist()) == rows
    table.remove(rows[1])
    assert sorted(table.live_rows().tolist()) == [rows[0], rows[2]]
    # The array is a copy: the table closes with it still alive.
    live = table.live_rows()
    table.close()
    assert len(live) == 2


def test_add_returns_the_new_value(table: SharedCounters) -> None:
    i, _ = table.row(b"a")
    assert table.add(i, 2, 5) == 5
    assert table.add(i, 2, -7) == -2
    assert table.get(i, 2) == -2 and table.get(i, 0) == 0


# --------------------------------------------------------------------------- processes

N = 2000
PROCESSES = 4


def _increment(path: Path, start_together: Any) -> None:
    table = SharedCounters.attach(path)  # its own open file: an inherited one shares the lock
    start_together.wait(10)
    for _ in range(N):
        with table.locked():
            i, _ = table.row(b"shared")
            table.set(i, 0, table.get(i, 0) + 1)  # read-modify-write: loses updates unlocked
    table.close()


def test_lock_excludes_other_processes(path: Path) -> None:
    table = SharedCounters.create(path, capacity=8, columns=1)
    go = FORK.Event()
    procs = [start(_increment, path, go) for _ in range(PROCESSES)]
    go.set()
    for proc in procs:
        proc.join(30)
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    with table.locked():
        i = table.find(b"shared")
        assert i is not None and table.get(i, 0) == PROCESSES * N
        assert len(table.live_rows()) == 1  # every process found the one row
    table.close()


def _hold_lock(path: Path, holding: Any) -> None:
    table = SharedCounters.attach(path)
    with table.locked():
        holding.set()
        threading.Event().wait(60)


def test_killed_lock_holder_does_not_wedge_the_others(path: Path) -> None:
    table = SharedCounters.create(path, capacity=8, columns=1)
    holding = FORK.Event()
    child = start(_hold_lock, path, holding)
    try:
        assert holding.wait(10)
        got = threading.Event()

        def take() -> None:
            with table.locked():
                got.set()

        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        assert not got.wait(0.3)  # the child really holds it
        child.kill()
        assert got.wait(1.0)  # the kernel released the dead holder's flock
        taker.join(1)
        child.join(5)
        assert child.exitcode == -9
        with table.locked():  # and it is free again afterwards
            pass
    finally:
        child.kill()
        child.join(5)
        table.close()
