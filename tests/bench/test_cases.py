"""The benchmark's request sets: the cold search set is distinct, cut from the catalog's own
names, each run of a cold case asks its own half, and the load generator spreads concurrent slots
over a long rotation."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway._pb.yrd.v1 import catalog_pb2
from yrdtools.bench.cases import COLD_SEARCHES, SEARCHES, Case, cold_search_requests
from yrdtools.bench.loadgen import Target, first_request

NAMES = [
    "户籍人口迁入登记信息",
    "企业营业执照登记信息",
    "住房公积金缴存明细",
    "社会保险参保人员信息",
    "不动产登记簿",
    "基本医疗保险定点医疗机构",
    "城乡居民最低生活保障对象",
    "Ｌ2级数据目录2024",  # no run of Chinese long enough in parts: skipped, never cut into
]


def decoded(requests):
    return [catalog_pb2.SearchRequest.FromString(r) for r in requests]


def test_cold_set_is_distinct_mixed_and_cut_from_the_names():
    asked = decoded(cold_search_requests(NAMES, count=150))
    keys = [(a.query, a.filters.SerializeToString(deterministic=True)) for a in asked]
    assert len(set(keys)) == len(keys) == 150
    sizes = Counter(len(a.query) for a in asked)
    assert set(sizes) == {2, 3, 4} and max(sizes.values()) - min(sizes.values()) <= 1
    assert all(any(a.query in n for n in NAMES) for a in asked)
    assert all("\u4e00" <= ch <= "\u9fff" for a in asked for ch in a.query)
    allowed = {catalog_pb2.SearchFilters(**f).SerializeToString() for _, f in SEARCHES if f}
    filtered = [a for a in asked if a.HasField("filters") and a.filters.ByteSize()]
    assert 0 < len(filtered) < len(asked)
    assert all(a.filters.SerializeToString() in allowed for a in filtered)
    assert all(a.page_size == 20 for a in asked)


def test_cold_set_is_the_same_every_run_and_refuses_a_tiny_vocabulary():
    assert cold_search_requests(NAMES, count=60) == cold_search_requests(NAMES, count=60)
    with pytest.raises(ValueError, match="distinct queries"):
        cold_search_requests(["户籍"], count=COLD_SEARCHES)
    with pytest.raises(ValueError, match="no catalog entry names"):
        cold_search_requests([], count=10)


def test_slots_start_far_apart_in_a_long_rotation():
    assert [first_request(k, 400, 16) for k in range(16)] == list(range(0, 400, 25))
    # Short rotations (the ten lookups): one apart, as every slot asks a different id anyway.
    assert [first_request(k, 10, 16) for k in range(16)] == list(range(16))
    assert first_request(0, 400, 1) == 0


def test_each_run_of_a_cold_case_asks_its_own_queries():
    # The saturated run must not ask what the run at concurrency 1 asked just before it (a
    # node keeps whole answers), nor its slots' stretches overlap at this box's rates.
    requests = tuple(str(i).encode() for i in range(COLD_SEARCHES))
    target = Target("127.0.0.1:1")
    cold = Case("search", target, "/m", requests, cold=True)
    one, many = cold.requests_at(1), cold.requests_at(16)
    assert not set(one) & set(many) and set(one) | set(many) == set(requests)
    stretch = len(many) // 16
    assert stretch >= 100  # more than a slot asks in a run (~80 at ~200 searches/s for 6 s)
    assert [first_request(k, len(many), 16) for k in range(16)] == list(
        range(0, len(many), stretch)
    )
    warm = Case("search-hot", target, "/m", requests[:10])
    assert warm.requests_at(1) == warm.requests_at(16) == requests[:10]
