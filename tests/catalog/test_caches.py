"""The store's caches (``gateway.catalog.store.caches``): bounded by count and, for the caches of
arrays, by a byte budget they share, the least recently used value among them evicted first; and
a store under a small budget answers exactly as one without it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.catalog.query import Filters
from gateway.catalog.store import CatalogStore, SearchQuery
from gateway.catalog.store.caches import ByteBudget, GenerationCache
from gateway.catalog.textindex import parse_query
from gateway.config import load_standard
from scripts.shipped import STANDARD, province_entries


def sized(budget: ByteBudget, size: int = 100) -> GenerationCache[str, bytes]:
    return GenerationCache(size, budget=budget, weigh=len)


def held(cache: GenerationCache[str, bytes], generation: int = 1) -> set[str]:
    return {key for (g, key) in cache._values if g == generation}


def test_caches_sharing_a_budget_evict_the_least_recently_used_of_all() -> None:
    budget = ByteBudget(100)
    postings, scores = sized(budget), sized(budget)
    postings.put(1, "a", b"x" * 40)
    scores.put(1, "b", b"x" * 40)
    assert postings.get(1, "a") is not None  # now b is the least recently used
    scores.put(1, "c", b"x" * 40)
    assert (held(postings), held(scores), budget.used) == ({"a"}, {"c"}, 80)
    scores.get_many(1, ["c"])
    postings.put(1, "d", b"x" * 40)
    assert (held(postings), held(scores), budget.used) == ({"d"}, {"c"}, 80)


def test_a_value_heavier_than_the_budget_is_not_kept_nor_is_the_one_it_replaces() -> None:
    budget = ByteBudget(100)
    cache = sized(budget)
    cache.put(1, "a", b"x" * 10)
    cache.put(1, "b", b"x" * 10)
    cache.put(1, "a", b"x" * 101)
    assert (held(cache), budget.used) == ({"b"}, 10)
    assert cache.get(1, "a") is None


def test_replacing_a_value_counts_only_the_new_one() -> None:
    budget = ByteBudget(100)
    cache = sized(budget)
    cache.put(1, "a", b"x" * 60)
    cache.put(1, "a", b"x" * 70)
    assert (held(cache), budget.used) == ({"a"}, 70)


def test_the_count_bound_still_holds_and_gives_back_the_bytes() -> None:
    budget = ByteBudget(1000)
    cache = sized(budget, size=2)
    for key in "abc":
        cache.put(1, key, b"x" * 10)
    assert (held(cache), budget.used) == ({"b", "c"}, 20)


def test_a_budget_needs_a_weight_and_a_weight_a_budget() -> None:
    with pytest.raises(ValueError):
        GenerationCache(4, budget=ByteBudget(10))
    with pytest.raises(ValueError):
        GenerationCache(4, weigh=len)


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "get"]),
        st.integers(0, 2),  # which cache
        st.integers(0, 1),  # generation
        st.sampled_from("abcdef"),
        st.integers(0, 60),  # bytes
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops=_OPS, limit=st.integers(0, 120), size=st.integers(1, 4))
def test_shared_caches_behave_as_one_lru_bounded_by_bytes_and_each_by_count(
    ops, limit: int, size: int
) -> None:
    """Against a model: one recency order over every cache's values; a put drops the value
    under its key, is refused if heavier than the budget, then evicts each cache's oldest
    beyond its count and then the oldest overall beyond the budget."""
    budget = ByteBudget(limit)
    caches = [sized(budget, size) for _ in range(3)]
    model: dict[tuple[int, int, str], int] = {}  # (cache, generation, key) -> bytes, LRU first
    for op, which, generation, key, nbytes in ops:
        at = (which, generation, key)
        if op == "get":
            got = caches[which].get(generation, key)
            assert (got is not None) == (at in model)
            if at in model:
                assert got is not None and len(got) == model[at]
                model[at] = model.pop(at)
            continue
        caches[which].put(generation, key, b"x" * nbytes)
        model.pop(at, None)
        if nbytes <= limit:
            model[at] = nbytes
        own = [k for k in model if k[0] == which]
        for k in own[: max(0, len(own) - size)]:
            del model[k]
        while sum(model.values()) > limit:
            del model[next(iter(model))]
        assert budget.used == sum(model.values()) <= limit
        for i, cache in enumerate(caches):
            assert set(cache._values) == {(g, k) for (c, g, k) in model if c == i}


ENTRIES = 3000
QUERIES = [
    ("户籍", Filters()),
    ("社保", Filters()),
    ("公积金 缴存", Filters()),
    ("信息", Filters()),
    ("登记信息", Filters()),
    ("人口 迁入", Filters()),
    ("企业 信用 登记 信息", Filters()),
    ("医保", Filters(grades=("L1", "L2"))),
    ("信息", Filters(categories=("1",))),
    ("数据 信息", Filters(categories=("2", "3"), grades=("L2",))),
    ("营业执照", Filters()),
    ("不动产 登记", Filters()),
    ("养老", Filters(grades=("L1",))),
]


@pytest.fixture(scope="module")
def entries():
    return list(province_entries("js", ENTRIES))


def answers(store: CatalogStore) -> list[tuple]:
    """Each query's hits, total and facets, its terms expanded through the standard's synonyms
    (社保 also finds 社会保险)."""
    equivalents = load_standard(STANDARD).synonyms.equivalents()
    out = []
    for text, filters in QUERIES * 2:  # twice: the second round finds some of it cached
        terms = parse_query(text, equivalents)
        result = store.search(SearchQuery(text, filters=filters, limit=20, terms=terms))
        out.append(([(h.entry.code, h.score) for h in result.hits], result.total, result.facets))
    return out


def test_a_store_under_a_small_budget_answers_as_one_without_and_stays_within_it(
    tmp_path, entries
) -> None:
    budget_mib = 0.1
    with (
        CatalogStore(tmp_path / "unbounded.db", result_cache=0, search_cache_mib=None) as free,
        CatalogStore(tmp_path / "bounded.db", result_cache=0, search_cache_mib=budget_mib) as tight,
        CatalogStore(tmp_path / "counted.db", result_cache=0, search_cache_mib=1024) as counted,
    ):
        for store in (free, tight, counted):
            store.insert_many(entries)
        assert free.search_cache_bytes is None
        assert answers(tight) == answers(free) == answers(counted)
        used = tight.search_cache_bytes
        assert used is not None and 0 < used <= budget_mib * 2**20
        # The budget did bind: without it the same searches keep more.
        assert counted.search_cache_bytes is not None
        assert counted.search_cache_bytes > 2 * budget_mib * 2**20
