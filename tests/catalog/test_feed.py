"""The owner's change feed and a follower's replica, at the store: every write numbered, entries
the owner keeps to itself never in the feed, a replica converging exactly (same codes, same
content digests) however it reads the feed, and re-read pages applied once."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator

import pytest

from gateway.catalog.store import CatalogStore, PgCatalogStore, SearchQuery
from gateway.catalog.store.feed import digest
from gateway.postgres import Postgres
from tests.support.entries import entry
from tests.support.postgres import new_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def owner(request, tmp_path) -> Iterator[CatalogStore | PgCatalogStore]:
    if request.param == "sqlite":
        with CatalogStore(tmp_path / "owner.db") as store:
            yield store
    else:
        postgres = request.getfixturevalue("postgres")
        with Postgres(new_schema(postgres)) as pg:
            yield PgCatalogStore(pg)


@pytest.fixture
def follower(tmp_path) -> Iterator[CatalogStore]:
    with CatalogStore(tmp_path / "replica.db") as store:
        yield store


def published(store) -> dict[str, str]:
    """code -> digest of every entry the owner publishes."""
    page = store.changes_since(0, 1_000_000)
    return {c.code: digest(c.entry) for c in page.changes if c.entry is not None}


def held(store: CatalogStore) -> dict[str, str]:
    with sqlite3.connect(store._path) as conn:  # noqa: SLF001 - the test reads the file itself
        codes = [row[0] for row in conn.execute("SELECT code FROM entries")]
    found = {code: store.get(code) for code in codes}
    return {code: digest(e) for code, e in found.items() if e is not None}


def sync(owner, follower: CatalogStore, page: int = 3) -> int:
    """Follow the feed to its head in pages of ``page``; how many pages it took."""
    state = follower.replica_state()
    pages = 0
    while True:
        got = owner.changes_since(state.seq, page)
        if got.feed_id != state.feed_id:
            state = follower.reset_replica(got.feed_id)
            continue
        state = follower.apply_changes(got)
        pages += 1
        if state.seq >= got.head:
            return pages


def test_every_write_is_numbered_and_withheld_entries_never_leave(owner) -> None:
    shared = [entry(f"户籍登记{i}") for i in range(5)]
    secret = entry("内部户籍底册", share_type="none")
    owner.insert_many([*shared, secret])
    page = owner.changes_since(0, 100)
    assert [c.seq for c in page.changes] == [1, 2, 3, 4, 5] and page.head == 5
    assert {c.code for c in page.changes} == {e.code for e in shared}
    assert secret.code not in {c.code for c in owner.changes_since(0, 100).changes}
    # An edit moves the entry to the top; a withdrawal is numbered; the withheld one stays out.
    owner.insert_many([dataclasses.replace(shared[0], name="户籍登记(新)")])
    owner.withdraw([shared[1].code, secret.code])
    later = owner.changes_since(5, 100).changes
    assert [(c.seq, c.code, c.entry is None) for c in later] == [
        (6, shared[0].code, False),
        (7, shared[1].code, True),
    ]
    assert later[0].entry is not None and later[0].entry.name == "户籍登记(新)"
    # An entry the owner stops sharing is withdrawn from its followers.
    owner.insert_many([dataclasses.replace(shared[2], share_type="none")])
    last = owner.changes_since(7, 100).changes
    assert [(c.code, c.entry) for c in last] == [(shared[2].code, None)]
    assert owner.changes_since(0, 100).head == 8


def test_a_replica_converges_exactly_through_edits_withdrawals_and_a_reseed(
    owner, follower
) -> None:
    first = [entry(f"社会保险登记{i}") for i in range(20)]
    owner.insert_many(first)
    sync(owner, follower)
    assert held(follower) == published(owner)
    # While the follower is away: inserts, edits, withdrawals, a withheld entry, a reseed.
    owner.insert_many([entry(f"养老保险{i}") for i in range(7)])
    owner.insert_many([dataclasses.replace(e, abstract="改") for e in first[:5]])
    owner.withdraw([e.code for e in first[5:9]])
    owner.insert_many([entry("不予共享的目录", share_type="none")])
    assert sync(owner, follower, page=4) > 1
    assert held(follower) == published(owner) and len(held(follower)) == 23
    owner.clear()
    owner.insert_many(first[10:])
    sync(owner, follower, page=2)
    assert held(follower) == published(owner) and len(held(follower)) == 10
    state = follower.replica_state()
    assert state.seq == state.head and state.synced_at > 0 and state.changed_at > 0


def test_a_page_read_again_after_a_crash_is_applied_once(owner, follower) -> None:
    owner.insert_many([entry(f"公积金{i}") for i in range(6)])
    page = owner.changes_since(0, 100)
    follower.reset_replica(page.feed_id)
    follower.apply_changes(page)
    generation_before = held(follower)
    # The same page again (a follower that died before it knew the commit happened), and an
    # overlapping one: nothing is applied twice, the cursor does not move back.
    assert follower.apply_changes(page).seq == 6
    assert follower.apply_changes(owner.changes_since(3, 100)).seq == 6
    assert held(follower) == generation_before == published(owner)
    other = dataclasses.replace(page, feed_id="another-life")
    with pytest.raises(ValueError):
        follower.apply_changes(other)


def test_a_recreated_owner_store_starts_a_new_feed(tmp_path, follower) -> None:
    with CatalogStore(tmp_path / "a.db") as first:
        first.insert_many([entry("户籍") for _ in range(3)])
        sync(first, follower)
        old_feed = first.changes_since(0, 1).feed_id
    with CatalogStore(tmp_path / "b.db") as second:
        second.insert_many([entry("婚姻登记")])
        assert second.changes_since(0, 1).feed_id != old_feed
        sync(second, follower)
        assert held(follower) == published(second) and len(held(follower)) == 1


def test_a_version_2_file_is_migrated_forward_with_every_published_entry_numbered(
    tmp_path,
) -> None:
    path = tmp_path / "v1.db"
    with CatalogStore(path) as store:
        store.insert_many([entry(f"户籍{i}") for i in range(4)])
        store.insert_many([entry("内部", share_type="none")])
    with sqlite3.connect(path) as conn:  # what a version-2 file (before the feed) looked like
        conn.execute("DROP TABLE changes")
        conn.execute("DELETE FROM meta WHERE key IN ('change_seq', 'feed_id')")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with CatalogStore(path) as store:
        page = store.changes_since(0, 100)
        assert page.head == 4 and len(page.changes) == 4 and page.feed_id
        assert store.get_meta("schema_version") == "4"
        assert len(store.search(SearchQuery("户籍")).hits) == 4  # still found
