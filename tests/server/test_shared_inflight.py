"""One in-flight bound over several workers: counts in a shared table, a column per worker."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ResourceExhausted
from gateway.server.limits import SharedInFlight
from gateway.shm import SharedCounters
from tests.support.processes import start

FORK = multiprocessing.get_context("fork")
WORKERS = 2


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "inflight-app.shm"
    SharedCounters.create(path, capacity=16, columns=WORKERS, key_size=32).close()
    return path


@pytest.fixture
def tables(path: Path) -> Iterator[list[SharedCounters]]:
    """What each worker maps: its own attachment to the one file."""
    attached = [SharedCounters.attach(path, columns=WORKERS) for _ in range(WORKERS)]
    yield attached
    for table in attached:
        table.close()


def workers(tables: list[SharedCounters], limit: int) -> list[SharedInFlight]:
    return [SharedInFlight(limit, "app", table, column) for column, table in enumerate(tables)]


def refused(limits: SharedInFlight, key: str) -> ResourceExhausted:
    with pytest.raises(ResourceExhausted) as info, limits.slot(key):
        pass
    return info.value


def test_one_bound_across_workers(tables: list[SharedCounters]) -> None:
    w0, w1 = workers(tables, 3)
    with w0.slot("js/rsj/pension"), w0.slot("js/rsj/pension"), w1.slot("js/rsj/pension"):
        assert w0.current("js/rsj/pension") == w1.current("js/rsj/pension") == 3
        for limits in (w0, w1):
            error = refused(limits, "js/rsj/pension")
            assert error.reason == "TOO_MANY_IN_FLIGHT"
            assert error.metadata == {"limit": "3", "key": "js/rsj/pension"}
            assert "app js/rsj/pension has 3 calls in flight" in error.message
        assert w1.current("js/rsj/pension") == 3  # refusals count nothing
    assert w0.current("js/rsj/pension") == w1.current("js/rsj/pension") == 0


def test_release_frees_the_slot_for_any_worker(tables: list[SharedCounters]) -> None:
    w0, w1 = workers(tables, 2)
    with w0.slot("js"):
        with w1.slot("js"):
            refused(w0, "js")
        with w0.slot("js"):  # w1's slot went back
            refused(w1, "js")
        assert w1.current("js") == 1
    with w1.slot("js"), w1.slot("js"):
        refused(w0, "js")


def test_slot_released_when_the_call_fails(tables: list[SharedCounters]) -> None:
    w0, w1 = workers(tables, 1)
    with pytest.raises(RuntimeError), w0.slot("js"):
        raise RuntimeError("handler failed")
    assert w1.current("js") == 0
    with w1.slot("js"):
        pass


def test_keys_are_independent(tables: list[SharedCounters]) -> None:
    w0, w1 = workers(tables, 1)
    with w0.slot("js/rsj/a"):
        refused(w1, "js/rsj/a")
        with w1.slot("js/rsj/b"), w0.slot("sh/rsj/a"):
            assert [w0.current(k) for k in ("js/rsj/a", "js/rsj/b", "sh/rsj/a", "zj")] == [
                1,
                1,
                1,
                0,
            ]
            refused(w0, "js/rsj/b")
            refused(w1, "sh/rsj/a")


def test_column_must_exist(tables: list[SharedCounters]) -> None:
    for column in (-1, WORKERS):
        with pytest.raises(ValueError):
            SharedInFlight(1, "app", tables[0], column)


def test_rows_of_idle_keys_are_reused(tmp_path: Path) -> None:
    table = SharedCounters.create(tmp_path / "tiny.shm", capacity=2, columns=2, key_size=8)
    w0 = SharedInFlight(1, "province", table, 0)
    w1 = SharedInFlight(1, "province", table, 1)
    try:
        for key in ("js", "sh"):
            with w0.slot(key):
                pass
        assert len(table.live_rows()) == 2  # full, of keys with nothing in flight
        with ExitStack() as stack:
            stack.enter_context(w0.slot("zj"))  # reclaims the idle rows
            stack.enter_context(w1.slot("ah"))  # the other one
            assert {table.key(i) for i in table.live_rows().tolist()} == {b"zj", b"ah"}
            assert w0.current("zj") == w0.current("ah") == 1
            refused(w1, "zj")  # a reclaimed row is counted like any other
            refused(w0, "ah")
        with w1.slot("js"):
            with w0.slot("sh"):
                pass
            # Full again: "js" has a call in flight, "sh" none. Only "sh" may go.
            with w0.slot("zj"):
                assert {table.key(i) for i in table.live_rows().tolist()} == {b"js", b"zj"}
                assert w0.current("js") == 1
                refused(w0, "js")
        assert w0.current("js") == w0.current("zj") == 0
    finally:
        table.close()


# --------------------------------------------------------------------------- processes


def _hold(path: Path, column: int, slots: int, holding: Any, release: Any) -> None:
    table = SharedCounters.attach(path, columns=WORKERS)
    limits = SharedInFlight(3, "app", table, column)
    with ExitStack() as stack:
        for _ in range(slots):
            stack.enter_context(limits.slot("js/rsj/pension"))
        holding.set()
        release.wait(30)
    table.close()


def test_slots_held_by_another_process(path: Path, tables: list[SharedCounters]) -> None:
    w0 = SharedInFlight(3, "app", tables[0], 0)
    holding, release = FORK.Event(), FORK.Event()
    child = start(_hold, path, 1, 2, holding, release)
    try:
        assert holding.wait(10)
        assert w0.current("js/rsj/pension") == 2
        with w0.slot("js/rsj/pension"):
            error = refused(w0, "js/rsj/pension")
            assert error.metadata["key"] == "js/rsj/pension"
        release.set()
        child.join(10)
        assert child.exitcode == 0
        assert w0.current("js/rsj/pension") == 0
        with w0.slot("js/rsj/pension"), w0.slot("js/rsj/pension"), w0.slot("js/rsj/pension"):
            pass
    finally:
        release.set()
        child.join(10)


def test_dead_workers_column_is_cleared(path: Path, tables: list[SharedCounters]) -> None:
    w0 = SharedInFlight(3, "app", tables[0], 0)
    holding, never = FORK.Event(), FORK.Event()
    child = start(_hold, path, 1, 3, holding, never)
    try:
        assert holding.wait(10)
        child.kill()  # killed with three calls in flight: nobody will release them
        child.join(10)
        assert child.exitcode == -9
        assert w0.current("js/rsj/pension") == 3
        refused(w0, "js/rsj/pension")
        # What the primary does before it restarts the worker.
        primary = tables[1]
        with primary.locked():
            primary.clear_column(1)
        assert w0.current("js/rsj/pension") == 0
        with w0.slot("js/rsj/pension"), w0.slot("js/rsj/pension"), w0.slot("js/rsj/pension"):
            refused(w0, "js/rsj/pension")
    finally:
        child.kill()
        child.join(10)


def _hammer(path: Path, column: int, limit: int, go: Any, peak: Any) -> None:
    """Take and release slots as fast as possible, recording the most seen in flight."""
    table = SharedCounters.attach(path, columns=WORKERS)
    limits = SharedInFlight(limit, "app", table, column)
    go.wait(10)
    for _ in range(500):
        try:
            with limits.slot("hot"), limits.slot("hot"):
                i = table.find(b"hot")
                with peak.get_lock():
                    peak.value = max(peak.value, table.total(i))
        except ResourceExhausted:
            pass
    table.close()


def test_bound_holds_under_contention(path: Path, tables: list[SharedCounters]) -> None:
    go = FORK.Event()
    peak = FORK.Value("q", 0)
    children = [start(_hammer, path, column, 3, go, peak) for column in range(WORKERS)]
    go.set()
    for child in children:
        child.join(30)
    assert [child.exitcode for child in children] == [0] * WORKERS
    assert 2 <= peak.value <= 3  # never past the limit, though both workers pushed at it
    assert SharedInFlight(3, "app", tables[0], 0).current("hot") == 0
