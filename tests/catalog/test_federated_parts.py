"""A federated search's parts from this node's own catalog and replicas (``FederatedCatalog``,
in-process, real stores): read in one hop off the event loop, or none when cached, each part
leaving out the hits the parts before it already beat, with the very pages a full merge gives."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.catalog import federated, reads
from gateway.catalog.federated import FederatedCatalog, Labels, LocalCatalog
from gateway.catalog.query import FederatedQuery, Filters
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.replicas import ReplicaCatalog
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.fts import FtsIndex
from scripts.shipped import province_entries
from tests.support.entries import entry
from tests.support.replicas import follow

NAMES = {"js": "江苏", "sh": "上海", "zj": "浙江", "ah": "安徽"}
ENTRIES = 1500
QUERIES = [
    ("户籍", Filters()),
    ("社保", Filters()),
    ("公积金", Filters()),
    ("营业执照", Filters()),
    ("信息", Filters()),
    ("登记信息", Filters()),
    ("医保", Filters(grades=("L1", "L2"))),
    ("企业 信用", Filters()),
    ("不存在的词", Filters()),
]
PAGES = ((0, 20), (20, 20), (3, 7))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Iterator[dict[str, CatalogStore]]:
    """js's own catalog and its replicas of the other three."""
    tmp = Path(tmp_path_factory.mktemp("parts"))
    out: dict[str, CatalogStore] = {}
    owners: list[CatalogStore] = []
    try:
        for province in NAMES:
            owner = CatalogStore(tmp / f"{province}.db")
            owners.append(owner)
            owner.insert_many(province_entries(province, ENTRIES))
            if province == "js":
                out[province] = owner
                continue
            replica = CatalogStore(tmp / f"replica-{province}.db")
            out[province] = replica
            follow(owner, replica)
        yield out
    finally:
        for store in {*owners, *out.values()}:
            store.close()


def _catalog(stores: dict[str, CatalogStore], kept_answers: int = 0) -> FederatedCatalog:
    """js's federated catalog over ``stores``; by default keeping no whole answers, so that
    every search goes through its parts (what most tests here are about)."""
    local = LocalCatalog("js", stores["js"], Labels("js", {}, {}))
    replicas = {
        p: ReplicaCatalog(p, s, {}, stale_after=3600) for p, s in stores.items() if p != "js"
    }
    return FederatedCatalog(
        "js", NAMES, local, {}, default_budget=30.0, replicas=replicas, kept_answers=kept_answers
    )


def _full_merge(catalog: FederatedCatalog, query: FederatedQuery) -> list[tuple[float, str]]:
    """The page a merge of every part's whole top ``depth`` gives (no floors), longhand."""
    parts = [catalog._local, *catalog._replicas.values()]
    terms = catalog._local.terms(query.text)
    stats = CollectionStats.combine(p.collection_stats(terms) for p in parts)
    keyed = []
    for at, part in enumerate(parts):
        answer = part.answer_now(query.text, query.filters, query.depth, stats, None)
        keyed.extend((-h.score, rank, at, h.code) for rank, h in enumerate(answer.hits))
    keyed.sort()
    return [(-k[0], k[3]) for k in keyed[query.offset : query.offset + query.page_size]]


@pytest.fixture
def reopened(stores) -> Iterator[dict[str, CatalogStore]]:
    """The same catalogs opened afresh: nothing cached."""
    out = {p: CatalogStore(s._path) for p, s in stores.items()}
    try:
        yield out
    finally:
        for store in out.values():
            store.close()


@pytest.mark.parametrize("node", ["busy", "idle"])
def test_parts_give_the_pages_of_a_full_merge(reopened, monkeypatch, node) -> None:
    """The parts are read in turn on the reader thread, the later ones with floors, whether the
    statistics were read at once (an idle node, ``reads.at_once``) or there too (a busy one)."""
    floors: list[float | None] = []
    threads: set[str] = set()
    original = LocalCatalog.answer_now

    def spy(self, text, filters, limit, stats, floor):
        floors.append(floor)
        threads.add(threading.current_thread().name.rsplit("_", 1)[0])
        return original(self, text, filters, limit, stats, floor)

    if node == "busy":
        monkeypatch.setattr(reads, "_busy", 1)  # another search's read is queued or running
    catalog = _catalog(reopened)
    for text, filters in QUERIES:
        for offset, page_size in PAGES:
            query = FederatedQuery(text, filters, page_size, offset, tuple(NAMES))
            with monkeypatch.context() as m:
                m.setattr(LocalCatalog, "answer_now", spy)
                got = asyncio.run(catalog.search(query, 30.0))  # first: nothing cached for it
            assert [(h.score, h.code) for h in got.hits] == _full_merge(catalog, query), (
                text,
                filters,
                offset,
            )
            assert not got.partial
            assert got.total == sum(p.total for p in got.provinces)
    assert len(floors) == 4 * len(QUERIES) * len(PAGES)  # every part read, one at a time
    assert threads == {"catalog-read"}
    assert any(f is not None for f in floors)  # and the later ones with floors


def test_floors_leave_out_hits_that_cannot_make_the_page(stores) -> None:
    catalog = _catalog(stores)
    left_out = 0
    for text, filters in QUERIES:
        query = FederatedQuery(text, filters, 20, 0, tuple(NAMES))
        parts = [catalog._local, *catalog._replicas.values()]
        terms = catalog._local.terms(text)
        stats = CollectionStats.combine(p.collection_stats(terms) for p in parts)
        floor = None
        best: list[float] = []
        for part in parts:
            whole = part.answer_now(text, filters, query.depth, stats, None)
            kept = part.answer_now(text, filters, query.depth, stats, floor)
            assert kept.total == whole.total and kept.facets == whole.facets
            assert kept.hits == whole.hits[: len(kept.hits)]  # a prefix of the whole list
            assert all(h.score < floor for h in whole.hits[len(kept.hits) :])  # type: ignore[operator]
            left_out += len(whole.hits) - len(kept.hits)
            best = sorted([*best, *(h.score for h in whole.hits)], reverse=True)[: query.depth]
            floor = best[-1] if len(best) == query.depth else None
    assert left_out > 0  # the seeded catalogs' scores differ enough for floors to matter


@pytest.mark.parametrize("node", ["busy", "idle"])
def test_a_search_from_replicas_reads_in_one_hop_then_none(reopened, monkeypatch, node) -> None:
    """In one hop to the reader thread; on an idle node the statistics first, in one hop to
    the threads of ``at_once``."""
    hops: list[str] = []
    original, original_at_once = federated.read, federated.at_once

    async def counting(store, fn, *args, **kwargs):
        hops.append("reader")
        return await original(store, fn, *args, **kwargs)

    async def counting_at_once(calls):
        done = await original_at_once(calls)
        if done is not None:  # else it ran nothing: the node is busy
            hops.append("at once")
        return done

    monkeypatch.setattr(federated, "read", counting)
    monkeypatch.setattr(federated, "at_once", counting_at_once)
    if node == "busy":
        monkeypatch.setattr(reads, "_busy", 1)
    catalog = _catalog(reopened)
    query = FederatedQuery("户籍 登记", Filters(grades=("L2",)), 20, 0, tuple(NAMES))
    first = asyncio.run(catalog.search(query, 30.0))
    expected = ["reader"] if node == "busy" else ["at once", "reader"]
    assert hops == expected and first.total
    assert {p.province for p in first.provinces if p.replica is not None} == {"sh", "zj", "ah"}
    again = asyncio.run(catalog.search(query, 30.0))
    assert hops == expected  # every part and the statistics came from the caches
    assert again.hits == first.hits and again.total == first.total


def test_a_part_that_fails_is_reported_and_the_rest_answer(stores, monkeypatch) -> None:
    catalog = _catalog(stores)

    def boom(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(catalog._replicas["zj"], "answer_now", boom)
    got = asyncio.run(catalog.search(FederatedQuery("公积金", Filters(), 20, 0, tuple(NAMES)), 30))
    states = {p.province: p.state.name for p in got.provinces}
    assert states == {"js": "ANSWERED", "sh": "ANSWERED", "zj": "FAILED", "ah": "ANSWERED"}
    assert got.partial and got.hits and all(h.province != "zj" for h in got.hits)


def test_a_cache_that_fails_is_read_again_off_the_loop(stores, monkeypatch) -> None:
    catalog = _catalog(stores)
    query = FederatedQuery("住房", Filters(), 20, 0, tuple(NAMES))
    first = asyncio.run(catalog.search(query, 30.0))  # now every part is cached

    def boom(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(catalog._replicas["zj"], "cached_answer", boom)
    again = asyncio.run(catalog.search(query, 30.0))
    assert not again.partial
    assert again.hits == first.hits and again.total == first.total


def test_a_cached_answers_hits_are_built_once_and_follow_writes(tmp_path) -> None:
    # A popular query's part comes from the store's result cache: its hits are the same tuple
    # each time, so the merge's entries are built once, and a write (a new generation) shows.
    with CatalogStore(tmp_path / "js.db") as store:
        store.insert_many(
            entry(f"户籍人口登记信息{'第' * (i % 7)}", code=f"101001/{i:06d}") for i in range(60)
        )
        local = LocalCatalog("js", store, Labels("js", {}, {}))
        first = local.answer_now("户籍", Filters(), 20, None, None)
        assert first.hits
        for _ in range(2):
            cached = local.cached_answer("户籍", Filters(), 20, None, None)
            assert cached is not None and cached.hits is first.hits
        gone = first.hits[0].code
        store.withdraw([gone])
        assert local.cached_answer("户籍", Filters(), 20, None, None) is None
        fresh = local.answer_now("户籍", Filters(), 20, None, None)
        assert fresh.total == first.total - 1
        assert gone not in [h.code for h in fresh.hits]
        again = local.cached_answer("户籍", Filters(), 20, None, None)
        assert again is not None and again.hits is fresh.hits


@pytest.fixture
def small(tmp_path) -> Iterator[tuple[dict[str, CatalogStore], dict[str, CatalogStore]]]:
    """Owners and js's stores (its own catalog, its replicas of the others), small enough to
    write to in a test: (owners, js's)."""
    owners = {p: CatalogStore(tmp_path / f"{p}.db") for p in NAMES}
    here = {"js": owners["js"]}
    here.update({p: CatalogStore(tmp_path / f"replica-{p}.db") for p in NAMES if p != "js"})
    try:
        for i, province in enumerate(NAMES):
            owners[province].insert_many(
                replace(
                    entry(f"户籍人口登记信息{'第' * (n % 5)}", code=f"10100{i + 1}/{n:06d}"),
                    province=province,
                )
                for n in range(30)
            )
            if province != "js":
                follow(owners[province], here[province])
        yield owners, here
    finally:
        for store in {*owners.values(), *here.values()}:
            store.close()


def _codes(answer) -> list[tuple[float, str]]:
    return [(h.score, h.code) for h in answer.hits]


def _kept_catalog(here: dict[str, CatalogStore]) -> FederatedCatalog:
    """A catalog keeping answers, once its replicas have read their department names (the
    first search does: until then a replica's answers are not kept, ``ReplicaCatalog``)."""
    catalog = _catalog(here, kept_answers=8)
    asyncio.run(catalog.search(FederatedQuery("登记", Filters(), 1, 0, tuple(NAMES)), 30.0))
    catalog._kept.clear()
    return catalog


def test_a_repeated_search_is_answered_from_the_kept_answer(small, monkeypatch) -> None:
    _, here = small
    catalog = _kept_catalog(here)
    query = FederatedQuery("户籍", Filters(), 20, 0, tuple(NAMES))
    first = asyncio.run(catalog.search(query, 30.0))
    assert not first.kept and first.total == 120

    def boom(*args, **kwargs):
        raise AssertionError("a kept answer reads no part")

    for part in (catalog._local, *catalog._replicas.values()):
        monkeypatch.setattr(part, "cached_answer", boom)
        monkeypatch.setattr(part, "answer_now", boom)
        monkeypatch.setattr(part, "cached_stats", boom)
    again = asyncio.run(catalog.search(query, 30.0))
    assert again.kept and again.hits is first.hits and again.facets is first.facets
    assert again.total == first.total and again.next_page_token == first.next_page_token
    assert [(p.province, p.state, p.total) for p in again.provinces] == [
        (p.province, p.state, p.total) for p in first.provinces
    ]
    assert [p.replica is not None for p in again.provinces] == [False, True, True, True]


def test_a_kept_answer_reports_each_replicas_freshness_as_of_now(small) -> None:
    owners, here = small
    catalog = _kept_catalog(here)
    query = FederatedQuery("户籍", Filters(), 20, 0, tuple(NAMES))
    first = asyncio.run(catalog.search(query, 30.0))
    assert not any(p.replica.stale for p in first.provinces if p.replica is not None)
    here["zj"].note_replica(connected=False, head=None)  # its follower lost the owner
    catalog._replicas["zj"]._read_at = float("-inf")  # past the state's few-ms reuse
    again = asyncio.run(catalog.search(query, 30.0))
    assert again.kept and again.hits is first.hits
    stale = {p.province: p.replica.stale for p in again.provinces if p.replica is not None}
    assert stale == {"sh": False, "zj": True, "ah": False}


@pytest.mark.parametrize("written", ["js", "sh"])
def test_a_write_to_any_catalog_read_ends_the_kept_answer(small, written) -> None:
    # Asking js alone still ranks with statistics summed over every replica in sync, so a
    # write to sh's replica changes js's scores: the kept answer must not outlive it.
    owners, here = small
    catalog = _kept_catalog(here)
    query = FederatedQuery("户籍", Filters(), 20, 0, ("js",))
    first = asyncio.run(catalog.search(query, 30.0))
    assert asyncio.run(catalog.search(query, 30.0)).kept
    owners[written].insert_many(
        replace(entry(f"户籍迁入登记{n}", code=f"109009/{n:06d}"), province=written)
        for n in range(40)
    )
    if written != "js":
        follow(owners[written], here[written])
    after = asyncio.run(catalog.search(query, 30.0))
    assert not after.kept
    fresh = asyncio.run(_catalog(here).search(query, 30.0))  # nothing kept: read part by part
    assert _codes(after) == _codes(fresh) != _codes(first)
    assert after.total == fresh.total
    assert asyncio.run(catalog.search(query, 30.0)).kept


def test_pages_and_filters_are_kept_apart(small) -> None:
    _, here = small
    catalog = _kept_catalog(here)
    queries = [
        FederatedQuery("户籍", Filters(), 10, 0, tuple(NAMES)),
        FederatedQuery("户籍", Filters(), 10, 10, tuple(NAMES)),
        FederatedQuery("户籍", Filters(), 10, 0, ("js", "sh")),
        FederatedQuery("户籍 第", Filters(), 10, 0, tuple(NAMES)),
        FederatedQuery("户籍", Filters(grades=("L3",)), 10, 0, tuple(NAMES)),
        FederatedQuery("户籍", Filters(grades=("L2",)), 10, 0, tuple(NAMES)),
    ]
    fresh = [asyncio.run(_catalog(here).search(q, 30.0)) for q in queries]
    for _ in range(2):
        for query, expected in zip(queries, fresh, strict=True):
            got = asyncio.run(catalog.search(query, 30.0))
            assert _codes(got) == _codes(expected)
            assert (got.total, got.next_page_token) == (expected.total, expected.next_page_token)
            assert got.facets == expected.facets
    assert len(catalog._kept) == len(queries)


def test_a_partial_answer_is_not_kept(small, monkeypatch) -> None:
    _, here = small
    catalog = _kept_catalog(here)
    original = catalog._replicas["zj"].answer_now
    failing = [True]

    def flaky(*args, **kwargs):
        if failing[0]:
            raise OSError("disk I/O error")
        return original(*args, **kwargs)

    monkeypatch.setattr(catalog._replicas["zj"], "answer_now", flaky)
    query = FederatedQuery("户籍", Filters(), 20, 0, tuple(NAMES))
    assert asyncio.run(catalog.search(query, 30.0)).partial
    failing[0] = False
    healed = asyncio.run(catalog.search(query, 30.0))
    assert not healed.partial and not healed.kept and healed.total == 120
    assert asyncio.run(catalog.search(query, 30.0)).kept


def test_answers_are_kept_only_while_the_stores_cache_theirs(small, tmp_path) -> None:
    _, here = small
    uncached = CatalogStore(tmp_path / "uncached.db", result_cache=0)
    try:
        uncached.insert_many(entry("户籍人口登记信息", code=f"101001/{n:06d}") for n in range(5))
        catalog = _kept_catalog({"js": uncached})
        query = FederatedQuery("户籍", Filters(), 20, 0, ("js",))
        for _ in range(2):
            assert not asyncio.run(catalog.search(query, 30.0)).kept
        assert not catalog._kept
    finally:
        uncached.close()


def _reading_threads(monkeypatch) -> list[str]:
    """The names of the threads that read postings from FTS5 from now on."""
    names: list[str] = []
    original = FtsIndex.column_ids

    def spy(self, term):
        names.append(threading.current_thread().name)
        return original(self, term)

    monkeypatch.setattr(FtsIndex, "column_ids", spy)
    return names


def test_an_idle_node_reads_a_cold_searchs_statistics_at_once(stores, monkeypatch) -> None:
    """Every catalog's postings are read with its statistics on the threads of ``at_once``,
    and the reader thread then finds them cached: the page is the one a full merge gives."""
    names = _reading_threads(monkeypatch)
    summed: list[str] = []
    original = CatalogStore.collection_stats

    def spy(self, terms, **kwargs):
        summed.append(threading.current_thread().name)
        return original(self, terms, **kwargs)

    monkeypatch.setattr(CatalogStore, "collection_stats", spy)
    catalog = _catalog(stores)
    query = FederatedQuery("出生", Filters(), 20, 0, tuple(NAMES))  # asked nowhere else
    got = asyncio.run(catalog.search(query, 30.0))
    assert len(names) == 4  # one term, four catalogs, each read once
    assert all(n.startswith("catalog-at-once") for n in names), names
    assert len(summed) == 4 and all(n.startswith("catalog-at-once") for n in summed), summed
    assert [(h.score, h.code) for h in got.hits] == _full_merge(catalog, query)
    assert got.total and not got.partial


def test_a_busy_node_reads_postings_on_the_reader_thread(stores, monkeypatch) -> None:
    names = _reading_threads(monkeypatch)
    monkeypatch.setattr(reads, "_busy", 1)  # another search's read is queued or running
    catalog = _catalog(stores)
    query = FederatedQuery("许可", Filters(), 20, 0, tuple(NAMES))
    got = asyncio.run(catalog.search(query, 30.0))
    assert names and all(n.startswith("catalog-read") for n in names), names
    assert [(h.score, h.code) for h in got.hits] == _full_merge(catalog, query)
    assert got.total


def test_statistics_that_fail_at_once_are_read_again_by_the_reader(stores, monkeypatch) -> None:
    catalog = _catalog(stores)
    broken = False
    original = CatalogStore.collection_stats

    def boom(self, terms, **kwargs):
        nonlocal broken
        if threading.current_thread().name.startswith("catalog-at-once"):
            broken = True
            raise OSError("disk I/O error")
        return original(self, terms, **kwargs)

    monkeypatch.setattr(CatalogStore, "collection_stats", boom)
    query = FederatedQuery("交通", Filters(), 20, 0, tuple(NAMES))
    got = asyncio.run(catalog.search(query, 30.0))
    assert broken and got.total and not got.partial
    assert [(h.score, h.code) for h in got.hits] == _full_merge(catalog, query)
