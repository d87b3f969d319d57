"""The follower against an owner's store read directly (no gRPC): what it does with a page."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from gateway.catalog.follower import Follower, FollowSettings
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.feed import ChangePage
from tests.support.entries import ALL, HUJI_NAME


class Owner:
    """An owner's feed, one page per stream, at most ``page_size`` changes."""

    id = "js"

    def __init__(self, store: CatalogStore) -> None:
        self.store = store

    async def follow_changes(
        self, since: int, *, page_size: int, wait: float
    ) -> AsyncIterator[ChangePage]:
        yield self.store.changes_since(since, page_size)


def built_at(store: CatalogStore) -> int | None:
    """The write generation of the search tables the store holds now (None: none built)."""
    index = store._searcher._facets
    return None if index is None else index.generation


@pytest.mark.asyncio
async def test_a_page_that_levels_the_replica_brings_its_search_tables_forward(
    tmp_path,
) -> None:
    with CatalogStore(tmp_path / "js.db") as js, CatalogStore(tmp_path / "copy.db") as copy:
        js.insert_many(ALL)
        follower = Follower(Owner(js), copy)
        while not level(follower, js):
            assert await follower._follow_once()
        current = int(copy.get_meta("generation") or 0)
        assert built_at(copy) == current  # levelled: built without a search
        kept = copy._searcher.common_terms
        assert kept and set(kept.values()) == {current}  # and its commonest terms kept
        js.insert_many([dataclasses.replace(HUJI_NAME, abstract="迁入登记")])
        assert await follower._follow_once()
        assert int(copy.get_meta("generation") or 0) > current
        assert built_at(copy) == int(copy.get_meta("generation") or 0)


@pytest.mark.asyncio
async def test_a_page_of_a_catch_up_leaves_the_search_tables_alone(tmp_path) -> None:
    with CatalogStore(tmp_path / "js.db") as js, CatalogStore(tmp_path / "copy.db") as copy:
        js.insert_many(ALL)
        follower = Follower(Owner(js), copy, FollowSettings(page_size=3))
        assert await follower._follow_once()  # the feed's first contact: the replica is reset
        assert await follower._follow_once()  # three of fourteen changes
        assert follower.state.seq < js.changes_since(0, 1).head
        assert built_at(copy) is None
        assert copy._searcher.common_terms == {}


def level(follower: Follower, owner: CatalogStore) -> bool:
    """Whether the follower's replica holds everything ``owner`` has published."""
    return follower.state.feed_id != "" and follower.state.seq >= owner.changes_since(0, 1).head


@pytest.mark.asyncio
async def test_the_end_of_a_catch_up_frees_what_it_left_cached(tmp_path, monkeypatch) -> None:
    """Once, when the replica is first level: not at each page of the catch-up (the next page
    would fill the caches again), nor at each later page of a trickle."""
    with CatalogStore(tmp_path / "js.db") as js, CatalogStore(tmp_path / "copy.db") as copy:
        js.insert_many(ALL)
        released: list[int] = []
        release = copy.release_memory

        def counted() -> None:
            released.append(copy.replica_state().seq)
            release()

        monkeypatch.setattr(copy, "release_memory", counted)
        follower = Follower(Owner(js), copy, FollowSettings(page_size=3))
        while not level(follower, js):
            assert released == []
            assert await follower._follow_once()
        assert released == [js.changes_since(0, 1).head]
        js.insert_many([dataclasses.replace(HUJI_NAME, abstract="迁入登记")])
        assert await follower._follow_once()
        assert level(follower, js) and len(released) == 1
