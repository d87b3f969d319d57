"""Several workers of one node on one sharing file: one quota across them, written behind, and
grants and apps changed by one worker seen by the others at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.errors import ResourceExhausted, Unauthenticated
from gateway.sharing.model import Grant, Quota
from gateway.sharing.quota import SharedQuota
from gateway.sharing.store import SharingStore
from gateway.shm import SharedCounters
from tests.support.names import APP, FIELDS, IFACE, OTHER, PURPOSE, T0

MINUTE0, DAY0 = 29_013_240, 20_148
"""T0's quota windows: minutes since 1970, days since 1970 in UTC+8."""


@dataclass
class Node:
    """One node's primary (its table) and two workers (a store each, on the same file)."""

    db: Path
    table: SharedCounters
    a: SharingStore
    b: SharingStore


def worker(db: Path, table: Path) -> SharingStore:
    return SharingStore(db, quota=SharedQuota(SharedCounters.attach(table, columns=2)))


@contextmanager
def node(tmp_path: Path, name: str = "quota.shm", capacity: int = 64) -> Iterator[Node]:
    db = tmp_path / "sharing.db"
    primary = SharedCounters.create(tmp_path / "run" / name, capacity=capacity, columns=2)
    a = worker(db, primary.path)
    b = worker(db, primary.path)
    try:
        yield Node(db, primary, a, b)
    finally:
        a.close()
        b.close()
        primary.close()


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Node]:
    with node(tmp_path) as n:
        yield n


def granted(store: SharingStore, quota: Quota, app: str = APP) -> Grant:
    application = store.add_application(
        app, IFACE, FIELDS, PURPOSE, T0, T0 + timedelta(days=30), quota, now=T0
    )
    return store.approve(application.id, now=T0)


def refusal(store: SharingStore, grant: Grant, when: datetime, app: str = APP) -> str:
    with pytest.raises(ResourceExhausted) as info:
        store.consume_quota(grant, app, when)
    return info.value.reason


def stored(db: Path) -> dict[tuple[str, int], int]:
    """quota_usage as another process reads it: (span, start) -> used."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT span, start, used FROM quota_usage").fetchall()
    finally:
        conn.close()
    return {(span, start): used for span, start, used in rows}


# --------------------------------------------------------------------------- one bound


def test_minute_quota_holds_across_workers(two: Node) -> None:
    g = granted(two.a, Quota(5, 100))
    for store in (two.a, two.b, two.b, two.a, two.b):
        store.consume_quota(g, APP, T0 + timedelta(seconds=10))
    assert refusal(two.a, g, T0 + timedelta(seconds=20)) == "QUOTA_MINUTE_EXCEEDED"
    assert refusal(two.b, g, T0 + timedelta(seconds=59)) == "QUOTA_MINUTE_EXCEEDED"
    # The next minute, again five between them.
    nxt = T0 + timedelta(minutes=1)
    for store in (two.b, two.b, two.b, two.b, two.a):
        store.consume_quota(g, APP, nxt)
    assert refusal(two.a, g, nxt) == "QUOTA_MINUTE_EXCEEDED"
    assert refusal(two.b, g, nxt) == "QUOTA_MINUTE_EXCEEDED"
    # Each app of a grant counts on its own row.
    two.b.consume_quota(g, OTHER, nxt)


def test_day_quota_holds_across_workers(two: Node) -> None:
    g = granted(two.b, Quota(100, 4))
    for minute, store in enumerate((two.a, two.b, two.a, two.b)):
        store.consume_quota(g, APP, T0 + timedelta(minutes=minute))
    assert refusal(two.a, g, T0 + timedelta(minutes=5)) == "QUOTA_DAY_EXCEEDED"
    assert refusal(two.b, g, T0 + timedelta(hours=13, minutes=59)) == "QUOTA_DAY_EXCEEDED"
    two.a.consume_quota(g, APP, T0 + timedelta(hours=14))  # midnight in Shanghai: a new day
    two.b.consume_quota(g, APP, T0 + timedelta(hours=14))


def test_refusal_counts_nothing_in_either_window(two: Node) -> None:
    g = granted(two.a, Quota(2, 3))
    two.a.consume_quota(g, APP, T0)
    two.b.consume_quota(g, APP, T0)
    for store in (two.a, two.b) * 3:
        assert refusal(store, g, T0) == "QUOTA_MINUTE_EXCEEDED"
    two.b.consume_quota(g, APP, T0 + timedelta(minutes=1))  # the day had one left
    assert refusal(two.a, g, T0 + timedelta(minutes=2)) == "QUOTA_DAY_EXCEEDED"


def test_full_table_refuses_new_windows(tmp_path: Path) -> None:
    with node(tmp_path, capacity=2) as n:
        g = granted(n.a, Quota(5, 100))
        n.a.consume_quota(g, APP, T0)  # its minute and day: the table is full
        assert refusal(n.b, g, T0, app=OTHER) == "QUOTA_TABLE_FULL"
        n.b.consume_quota(g, APP, T0)  # windows already counted go on
        assert len(n.table.live_rows()) == 2


# --------------------------------------------------------------------------- written behind


def test_counts_survive_a_restart_of_the_node(tmp_path: Path) -> None:
    with node(tmp_path) as n:
        g = granted(n.a, Quota(5, 6))
        for store in (n.a, n.b, n.a):
            store.consume_quota(g, APP, T0)
        assert n.b.flush_quota(now=T0) == 2  # the minute and the day row
    # The node restarts: a new, empty table, and nothing of the old one but the file.
    with node(tmp_path, name="restarted.shm") as r:
        assert len(r.table.live_rows()) == 0
        r.a.consume_quota(g, APP, T0)
        r.b.consume_quota(g, APP, T0)
        assert refusal(r.a, g, T0) == "QUOTA_MINUTE_EXCEEDED"  # 3 + 2 of 5
        r.b.consume_quota(g, APP, T0 + timedelta(minutes=1))
        assert refusal(r.a, g, T0 + timedelta(minutes=2)) == "QUOTA_DAY_EXCEEDED"  # 6 of 6


def test_any_worker_writes_a_row_once(two: Node) -> None:
    g = granted(two.a, Quota(10, 100))
    windows = (("minute", MINUTE0), ("day", DAY0))
    two.a.consume_quota(g, APP, T0)
    two.a.consume_quota(g, APP, T0)
    assert stored(two.db) == {}  # counted in memory only
    assert two.b.flush_quota(now=T0) == 2  # b writes what a counted
    assert stored(two.db) == dict.fromkeys(windows, 2)
    assert two.a.flush_quota(now=T0) == 0
    assert two.b.flush_quota(now=T0) == 0
    two.b.consume_quota(g, APP, T0)
    assert two.a.flush_quota(now=T0) == 2
    assert stored(two.db) == dict.fromkeys(windows, 3)
    assert two.b.flush_quota(now=T0) == 0


def test_failed_flush_is_written_later(two: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    g = granted(two.a, Quota(10, 100))
    for store in (two.a, two.b, two.a):
        store.consume_quota(g, APP, T0)

    @contextmanager
    def busy() -> Iterator[sqlite3.Connection]:
        raise sqlite3.OperationalError("database is locked")
        yield  # pragma: no cover

    monkeypatch.setattr(two.a._db, "write", busy)
    with pytest.raises(sqlite3.OperationalError):
        two.a.flush_quota(now=T0)
    assert stored(two.db) == {}
    assert two.b.flush_quota(now=T0) == 2  # the other worker retries them
    assert set(stored(two.db).values()) == {3}
    assert two.b.flush_quota(now=T0) == 0
    # And the failed worker retries its own once it can write again.
    two.a.consume_quota(g, APP, T0)
    with pytest.raises(sqlite3.OperationalError):
        two.a.flush_quota(now=T0)
    monkeypatch.undo()
    assert two.a.flush_quota(now=T0) == 2
    assert set(stored(two.db).values()) == {4}


def test_flush_never_lowers_a_count(tmp_path: Path) -> None:
    with node(tmp_path) as n, node(tmp_path, name="other.shm") as stale:
        g = granted(n.a, Quota(10, 100))
        stale.a.consume_quota(g, APP, T0)  # another table, loaded before anything was written
        for _ in range(4):
            n.a.consume_quota(g, APP, T0)
        assert n.a.flush_quota(now=T0) == 2
        assert stale.b.flush_quota(now=T0) == 2  # its 1 comes late ...
        assert set(stored(n.db).values()) == {4}  # ... and does not lower the 4


def test_load_failure_leaves_no_row_at_zero(two: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    g = granted(two.a, Quota(3, 100))
    for _ in range(3):
        two.a.consume_quota(g, APP, T0)
    two.a.flush_quota(now=T0)
    with node(two.db.parent, name="restarted.shm") as fresh:
        real = fresh.a._ledger.load_used
        calls = []

        def flaky(key: tuple[str, str, str, int]) -> int:
            calls.append(key)
            if len(calls) == 1:
                raise sqlite3.OperationalError("database is locked")
            return real(key)

        monkeypatch.setattr(fresh.a._ledger, "load_used", flaky)
        with pytest.raises(sqlite3.OperationalError):
            fresh.a.consume_quota(g, APP, T0)
        # The window is read from the file on the next call: still used up.
        assert refusal(fresh.a, g, T0) == "QUOTA_MINUTE_EXCEEDED"
        assert refusal(fresh.b, g, T0) == "QUOTA_MINUTE_EXCEEDED"


# --------------------------------------------------------------------------- finished windows


def test_finished_windows_are_swept_after_a_flush(two: Node) -> None:
    g = granted(two.a, Quota(2, 100))
    two.a.consume_quota(g, APP, T0)
    two.a.consume_quota(g, APP, T0)
    two.a.flush_quota(now=T0)
    assert len(two.table.live_rows()) == 2  # T0's minute and day
    # The minute before the current one is kept (a call may still be counted in it).
    two.a.flush_quota(now=T0 + timedelta(minutes=1))
    assert len(two.table.live_rows()) == 2
    two.b.consume_quota(g, APP, T0 + timedelta(minutes=1))
    assert len(two.table.live_rows()) == 3
    # Two minutes on, both minute windows are done: written first, then forgotten.
    assert two.a.flush_quota(now=T0 + timedelta(minutes=3)) == 2
    assert len(two.table.live_rows()) == 1  # the day
    assert stored(two.db)[("minute", MINUTE0 + 1)] == 1
    # A late call in a forgotten window reads its count back from the file.
    assert refusal(two.b, g, T0) == "QUOTA_MINUTE_EXCEEDED"
    assert len(two.table.live_rows()) == 2
    # Sweeping is once a minute per worker: not again in the same minute ...
    two.a.flush_quota(now=T0 + timedelta(minutes=3))
    assert len(two.table.live_rows()) == 2
    # ... though a worker that has not swept in this minute yet does.
    two.b.flush_quota(now=T0 + timedelta(minutes=3))
    assert len(two.table.live_rows()) == 1


def test_day_windows_are_kept_until_the_day_after(two: Node) -> None:
    g = granted(two.a, Quota(2, 100))
    two.a.consume_quota(g, APP, T0)
    two.a.flush_quota(now=T0 + timedelta(hours=14))  # the next day in Shanghai
    assert {two.table.key(i).split(b"\x00")[2] for i in two.table.live_rows().tolist()} == {b"day"}
    two.a.flush_quota(now=T0 + timedelta(hours=14 + 24))  # two days on
    assert len(two.table.live_rows()) == 0


def test_unwritten_windows_are_not_swept(tmp_path: Path) -> None:
    table = SharedCounters.create(tmp_path / "quota.shm", capacity=8, columns=2)
    quota = SharedQuota(table)
    try:
        keys = (("g", APP, "minute", 100), ("g", APP, "day", 10))
        assert quota.consume(keys, (5, 5), lambda key: 0) is None
        assert quota.sweep(1000, 1000) == 0  # counted but not written: kept
        assert sorted(quota.take_dirty()) == [
            ("g", APP, "day", 10, 1),
            ("g", APP, "minute", 100, 1),
        ]
        assert quota.sweep(101, 11) == 0  # written, but the windows just before are kept
        assert quota.sweep(102, 11) == 1  # the minute
        assert quota.sweep(102, 12) == 1  # the day
        assert len(table.live_rows()) == 0
    finally:
        quota.close()


def test_quota_table_needs_two_columns(tmp_path: Path) -> None:
    table = SharedCounters.create(tmp_path / "quota.shm", capacity=8, columns=3)
    try:
        with pytest.raises(ValueError, match="2 columns"):
            SharedQuota(table)
    finally:
        table.close()


# --------------------------------------------------------------------------- views


def test_revoked_grant_is_gone_for_the_other_worker(two: Node) -> None:
    assert two.b.find_grant(APP, IFACE, T0) is None  # b caches "no grant"
    g = granted(two.a, Quota(5, 100))
    assert two.b.find_grant(APP, IFACE, T0) == g
    assert two.b.find_grant(APP, IFACE, T0) == g  # served from b's view
    two.a.revoke_grant(g.id, "应用已下线", now=T0)
    assert two.b.find_grant(APP, IFACE, T0) is None
    # And b's own writes still refresh its own view.
    h = granted(two.b, Quota(5, 100))
    assert two.b.find_grant(APP, IFACE, T0) == h
    assert two.a.find_grant(APP, IFACE, T0) == h


def test_app_changes_are_seen_by_the_other_worker(two: Node) -> None:
    with pytest.raises(Unauthenticated):
        two.b.authenticate_app(APP, "x" * 43)  # b caches "no such app"
    secret = two.a.create_app(APP, "养老保险关系转移", now=T0)
    assert two.b.authenticate_app(APP, secret).id == APP
    assert two.b.authenticate_app(APP, secret).id == APP  # served from b's view
    two.a.revoke_app(APP, now=T0)
    with pytest.raises(Unauthenticated) as info:
        two.b.authenticate_app(APP, secret)
    assert info.value.reason == "BAD_CREDENTIAL"
