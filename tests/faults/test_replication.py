"""The replicated catalog across real node processes: a follower (sh) converges exactly to the
owner's (zj) published catalog, same codes and content digests, after inserts, edits and
withdrawals made while it was down, and after kill -9 of the follower and of the owner in the
middle of a catch-up; with zj's node killed, ``yrdgw search 户籍 --via sh --json`` still returns
zj's entries, zj marked stale with the time of its last change."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.catalog.follower import FollowSettings
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.entries import entry_from_row
from gateway.catalog.store.feed import digest
from gateway.catalog.store.schema import SELECT_ENTRY
from gateway.wire.catalog import rfc3339
from gateway.wire.replication import page_to_pb
from tests.support.cli import yrdgw_process
from tests.support.entries import entry
from yrdtools.faults import Federation

CATCH_UP_S = 90.0
BATCH = 20_000
"""Changes written at once for a kill in the middle of their catch-up (tens of pages)."""
PAGE = FollowSettings().page_size
"""Changes per page of the feed, as the followers ask for them."""


@pytest.fixture(scope="module")
def fed(tmp_path_factory, certs_dir) -> Iterator[Federation]:
    # sh reaches zj's peer port through a link proxy: a catch-up can be held at a known page.
    federation = Federation(
        tmp_path_factory.mktemp("replication"),
        node_ids=("sh", "zj"),
        certs_dir=certs_dir,
        links=("zj",),
    )
    try:
        federation.start()
        yield federation
    finally:
        federation.close()


def owner_store(fed: Federation) -> CatalogStore:
    return CatalogStore(fed.data_dir("zj") / "catalog.db")


def replica_store(fed: Federation) -> CatalogStore:
    return CatalogStore(fed.data_dir("sh") / "replicas" / "zj.db")


def published(store: CatalogStore) -> dict[str, str]:
    page = store.changes_since(0, 10_000_000)
    return {c.code: digest(c.entry) for c in page.changes if c.entry is not None}


def held(path: Path) -> dict[str, str]:
    """code -> digest of every entry the replica file holds."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(f"{SELECT_ENTRY} ORDER BY id").fetchall()
    entries = [entry_from_row(row) for row in rows]
    assert len({e.code for e in entries}) == len(entries)  # no code twice
    return {e.code: digest(e) for e in entries}


def wait_converged(fed: Federation, timeout: float = CATCH_UP_S) -> dict[str, str]:
    """Wait (polling the files, never sleeping a fixed time) until sh's replica of zj holds
    zj's head; then the two are compared exactly."""
    deadline = time.monotonic() + timeout
    with owner_store(fed) as owner, replica_store(fed) as replica:
        while True:
            head = owner.changes_since(10_000_000, 1).head
            state = replica.replica_state()
            if state.seq == head and state.feed_id:
                break
            assert time.monotonic() < deadline, (state, head, fed.log_tail("sh"))
            time.sleep(0.2)
        want = published(owner)
        assert held(fed.data_dir("sh") / "replicas" / "zj.db") == want
        assert replica.count() == len(want)
        return want


def yrdgw_json(fed: Federation, *args: str) -> dict:
    """``yrdgw`` as an operator runs it (a process) against the federation; its JSON."""
    run = yrdgw_process("--federation", str(fed.root / "federation.yaml"), *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def wait_until(check, timeout: float = CATCH_UP_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_replica_converges_after_changes_made_while_the_follower_was_down(fed) -> None:
    first = wait_converged(fed)
    assert first
    fed.kill("sh")
    with owner_store(fed) as owner:
        codes = sorted(published(owner))
        owner.insert_many([entry(f"新增户籍目录{i}", category="101") for i in range(40)])
        edited = [owner.get(code) for code in codes[:25]]
        owner.insert_many([dataclasses.replace(e, abstract="已修订") for e in edited if e])
        owner.withdraw(codes[25:45])
        secret = entry("浙江内部户籍底册", share_type="none")
        owner.insert_many([secret])
    fed.start_node("sh")
    converged = wait_converged(fed)
    assert secret.code not in converged and not set(codes[25:45]) & set(converged)
    with replica_store(fed) as replica:
        assert replica.get(secret.code) is None
        assert replica.get(codes[0]).abstract == "已修订"  # type: ignore[union-attr]


@pytest.mark.parametrize("victim", ["sh", "zj"])
def test_kill_9_mid_stream_leaves_no_duplicates_or_gaps(fed, victim: str) -> None:
    wait_converged(fed)
    link = fed.proxies["zj"]
    with replica_store(fed) as replica:
        start = replica.replica_state().seq
    link.stall(up=False, down=True)  # zj's answers wait in the proxy from here on
    try:
        with owner_store(fed) as owner:
            # One transaction: the follower sees them all at once, not while they are written.
            batch = [entry(f"批量迁入登记{victim}{i}") for i in range(BATCH)]
            owner.insert_many(batch, batch_size=BATCH)
            head = owner.changes_since(10_000_000, 1).head
            page = page_to_pb(owner.changes_since(start, PAGE)).ByteSize()
        # About three of the forty pages reach sh, then the link holds again: the kill below
        # comes mid-stream however fast or slow the box is (it raced a free-running catch-up).
        link.allow("down", 3 * page)
        with replica_store(fed) as replica:
            wait_until(
                lambda: replica.replica_state().seq > start,
                what=f"sh never started applying ({fed.log_tail('sh')})",
            )
            mid = replica.replica_state().seq
            assert start < mid < head
            fed.kill(victim)
            if victim == "sh":  # what the killed follower applied stays, short of the head
                assert replica.replica_state().seq < head
    finally:
        link.clear()
    fed.start_node(victim)
    wait_converged(fed)


def test_with_the_owner_killed_a_search_still_returns_its_entries_marked_stale(fed) -> None:
    wait_converged(fed)
    fed.kill("zj")
    try:
        with replica_store(fed) as replica:
            changed_at = replica.replica_state().changed_at
            wait_until(lambda: not replica.replica_state().connected, what="sh never noticed")
        answer = yrdgw_json(fed, "search", "户籍", "--via", "sh", "--json", "--province", "zj")
        zj = {p["province"]: p for p in answer["provinces"]}["zj"]
        assert zj["state"] == "answered" and zj["total"] > 0, zj
        assert zj["replica"]["from_replica"] and zj["replica"]["stale"], zj
        assert zj["replica"]["last_change_at"] == rfc3339(changed_at)
        assert answer["results"] and {r["province"] for r in answer["results"]} == {"zj"}
        assert not answer["partial"]
        # A live search asks zj's node itself: partial, as before replicas.
        assert yrdgw_json(fed, "search", "户籍", "--via", "sh", "--json", "--live")["partial"]
        # get by code: from the replica, marked stale, while the owner is down.
        code = answer["results"][0]["code"]
        got = yrdgw_json(fed, "get", code, "--via", "sh", "--json")
        assert got["replica"]["stale"] is True
    finally:
        fed.start_node("zj")
