"""Warm catalogs: what every search reads (the facet index and rank table of the current write
generation) is built before a node reports serving, so its first searches do not build it."""

from __future__ import annotations

import threading
import time

import pytest

from gateway.catalog.store import CatalogStore, SearchQuery
from gateway.catalog.store.fts import FtsIndex
from gateway.catalog.textindex import parse_query
from gateway.config import load_federation
from tests.support.entries import ALL, entry
from tests.support.federation import eventually, write_federation
from tests.support.nodes import start_nodes


def test_warm_builds_what_the_first_search_would(tmp_path, monkeypatch) -> None:
    built: list[str] = []
    for name in ("read_facet_index", "read_rank_table"):
        original = getattr(FtsIndex, name)

        def spy(self, arg, _original=original, _name=name):
            built.append(_name)
            return _original(self, arg)

        monkeypatch.setattr(FtsIndex, name, spy)
    with CatalogStore(tmp_path / "catalog.db") as store:
        store.insert_many(ALL)
        store.warm()
        assert built == ["read_facet_index", "read_rank_table"]
        store.search(SearchQuery("户籍"))
        store.collection_stats(parse_query("社保"), published_only=True)
        assert len(built) == 2  # nothing built again
        store.insert_many([entry("户籍档案")])
        store.warm()  # a write: brought forward to the next generation (test_written.py)
        assert len(built) == 2
        store.search(SearchQuery("户籍"))
        assert len(built) == 2


@pytest.mark.asyncio
async def test_a_node_warms_its_catalog_and_replicas_in_sync_before_serving(
    tmp_path, certs_dir, monkeypatch
) -> None:
    warmed: list[CatalogStore] = []
    original = CatalogStore.warm

    def spy(self: CatalogStore) -> None:
        warmed.append(self)
        original(self)

    monkeypatch.setattr(CatalogStore, "warm", spy)
    fed = load_federation(write_federation(tmp_path, certs_dir))
    nodes = await start_nodes(fed, ("js", "sh"))
    try:
        # A first start: the own catalogs; the replicas have never been in sync.
        assert {id(s) for s in warmed} == {id(n._store) for n in nodes.values()}
        pair = [nodes["js"].replication.catalogs["sh"], nodes["sh"].replication.catalogs["js"]]
        await eventually(lambda: all(r.report() is not None for r in pair), 60.0)
    finally:
        for node in nodes.values():
            await node.stop(0)
    warmed.clear()
    nodes = await start_nodes(fed, ("js", "sh"))
    try:
        # zj's and ah's nodes never ran: those replicas have never been in sync.
        replicas = [nodes["js"].replication.catalogs["sh"], nodes["sh"].replication.catalogs["js"]]
        expected = [n._store for n in nodes.values()] + [r.store for r in replicas]
        assert {id(s) for s in warmed} == {id(s) for s in expected}
    finally:
        for node in nodes.values():
            await node.stop(0)


@pytest.mark.asyncio
async def test_a_serving_node_keeps_its_catalogs_common_terms(tmp_path, certs_dir) -> None:
    fed = load_federation(write_federation(tmp_path, certs_dir))
    nodes = await start_nodes(fed, ("js", "sh"))
    try:
        for node in nodes.values():
            assert node._keeper is not None
            await node._keeper  # after serving, off its path
            assert node._store._searcher.common_terms  # its own catalog's
        # A replica that was never in sync keeps its own once it is first level.
        pair = [nodes["js"].replication.catalogs["sh"], nodes["sh"].replication.catalogs["js"]]
        await eventually(lambda: all(r.store._searcher.common_terms for r in pair), 60.0)
    finally:
        for node in nodes.values():
            await node.stop(0)


@pytest.mark.asyncio
async def test_a_node_stopping_while_it_keeps_common_terms_stops_at_the_next_term(
    tmp_path, certs_dir, monkeypatch
) -> None:
    asked = threading.Event()
    original = CatalogStore.keep_common

    def held(self: CatalogStore, *, stop) -> int:
        def until_stopped() -> bool:  # the first term waits for the node to stop
            if not asked.is_set():
                asked.set()
                give_up = time.monotonic() + 30.0  # a keeper blind to the stop fails below
                while not stop() and time.monotonic() < give_up:
                    time.sleep(0.01)
            return stop()

        return original(self, stop=until_stopped)

    monkeypatch.setattr(CatalogStore, "keep_common", held)
    fed = load_federation(write_federation(tmp_path, certs_dir))
    nodes = await start_nodes(fed, ("js",))
    node = nodes["js"]
    await eventually(asked.is_set, 30.0)
    await node.stop(0)  # waits for the keeper: it stops before reading a term
    assert node._keeper is not None and node._keeper.done()
    assert node._store._searcher.common_terms == {}
