"""Catalog hits in wire form: EntryWire's bytes are exactly the message's, and never stale."""

from __future__ import annotations

from dataclasses import asdict, replace

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2
from gateway.catalog.answers import (
    ANSWERED,
    Bucket,
    FederatedAnswer,
    ProvinceAnswer,
    ReplicaReport,
    ScoredEntry,
)
from gateway.wire.catalog import (
    EntryWire,
    PeerHit,
    add_facets,
    add_hits,
    entry_to_pb,
    search_body,
    search_reply,
)
from tests.support.entries import GJJ_NAME, HUJI_ITEM, SHEBAO_NAME

NAMES = {"js": "江苏"}
CATEGORIES = {"101": "基础/人口", "202": "主题/社保", "203": "主题/住房"}


def message(entry, score: float) -> catalog_pb2.SearchResult:
    return catalog_pb2.SearchResult(
        entry=entry_to_pb(
            entry,
            province_name=NAMES.get(entry.province, ""),
            category_name=CATEGORIES.get(entry.category, ""),
        ),
        score=score,
    )


def test_result_bytes_are_the_messages() -> None:
    wire = EntryWire(NAMES, CATEGORIES)
    for score in (1.0, 8.0, 13.0, 0.5):
        for e in (HUJI_ITEM, SHEBAO_NAME):
            assert wire.result(e, score) == message(e, score).SerializeToString()


def test_a_replaced_entry_is_encoded_again() -> None:
    wire = EntryWire(NAMES, CATEGORIES)
    wire.result(HUJI_ITEM, 8.0)
    renamed = replace(HUJI_ITEM, name="户籍迁出信息")
    assert wire.result(renamed, 8.0) == message(renamed, 8.0).SerializeToString()
    equal = replace(renamed)  # another object, same entry: the cached encoding serves
    assert wire.result(equal, 8.0) == message(renamed, 8.0).SerializeToString()


def test_the_cache_is_bounded() -> None:
    wire = EntryWire(NAMES, CATEGORIES, size=1)
    for e in (HUJI_ITEM, SHEBAO_NAME, HUJI_ITEM):
        assert wire.result(e, 2.0) == message(e, 2.0).SerializeToString()
    assert len(wire._cache) == 1


def test_add_hits_mixes_own_cached_peer_and_fresh_hits() -> None:
    wire = EntryWire(NAMES, CATEGORIES)
    wire.result(HUJI_ITEM, 8.0)  # encoded before: served from the cache
    hits = [
        ScoredEntry(8.0, HUJI_ITEM.code, "js", HUJI_ITEM),
        PeerHit(4.0, SHEBAO_NAME.code, "js", message(SHEBAO_NAME, 4.0)),
        ScoredEntry(2.0, GJJ_NAME.code, "js", GJJ_NAME),
    ]
    reply = federation_pb2.LocalSearchResponse(total=3, node="js")
    add_hits(reply.results, hits, wire)
    expected = federation_pb2.LocalSearchResponse(
        results=[message(HUJI_ITEM, 8.0), message(SHEBAO_NAME, 4.0), message(GJJ_NAME, 2.0)],
        total=3,
        node="js",
    )
    assert reply == expected
    assert reply.SerializeToString() == expected.SerializeToString()


def test_add_facets_orders_values_by_count_then_value() -> None:
    facets = {
        "grade": {"L2": Bucket("二级", 3), "L1": Bucket("一级", 3), "L4": Bucket("四级", 9)},
        "department": {},
    }
    reply = catalog_pb2.SearchResponse()
    add_facets(reply.facets, facets)
    assert [(f.field, [(v.value, v.label, v.count) for v in f.values]) for f in reply.facets] == [
        ("grade", [("L4", "四级", 9), ("L1", "一级", 3), ("L2", "二级", 3)]),
        ("department", []),
    ]


def test_a_kept_answers_reply_is_the_reply_built_afresh() -> None:
    wire = EntryWire(NAMES, CATEGORIES)
    answer = FederatedAnswer(
        hits=(
            ScoredEntry(8.0, HUJI_ITEM.code, "js", HUJI_ITEM),
            PeerHit(4.0, SHEBAO_NAME.code, "js", message(SHEBAO_NAME, 4.0)),
            ScoredEntry(2.0, GJJ_NAME.code, "js", GJJ_NAME),
        ),
        total=12,
        facets={"grade": {"L1": Bucket("一级", 9), "L2": Bucket("二级", 3)}},
        provinces=(
            ProvinceAnswer("js", "江苏", ANSWERED, total=9, latency_ms=0.25),
            ProvinceAnswer(
                "sh",
                "上海",
                ANSWERED,
                total=3,
                replica=ReplicaReport(stale=True, last_change_at=1.7e9, lag_ms=5.0, behind=2),
            ),
        ),
        partial=False,
        next_page_token="tok",
        answered_by="js",
        kept=True,
    )
    body = search_body(answer, wire)
    afresh = search_reply(answer, wire, "trace")
    for _ in range(2):  # the body is shared by every reply made from it, never changed by one
        reply = search_reply(answer, wire, "trace", body)
        assert reply == afresh
        assert reply.SerializeToString() == afresh.SerializeToString()
    assert not body.provinces and not body.trace_id and len(body.results) == 3


def test_an_entry_is_encoded_field_for_field() -> None:
    """Built in place (``fill_entry``), an entry's message is the one its every field makes
    through the constructor, data items and display names included: a field the model gains and
    the encoding misses fails here."""
    marked = replace(HUJI_ITEM, data_mark="重要数据", local_grade="L3", local_category="c")
    for e in (HUJI_ITEM, SHEBAO_NAME, marked):
        fields = {k: v for k, v in asdict(e).items() if k != "items"}
        expected = catalog_pb2.CatalogEntry(
            **fields,
            items=[catalog_pb2.DataItem(**asdict(i)) for i in e.items],
            province_name="江苏",
            category_name="x",
            data_mark_name="m",
        )
        got = entry_to_pb(e, province_name="江苏", category_name="x", mark_name="m")
        assert got == expected
        assert got.SerializeToString() == expected.SerializeToString()
    wire = EntryWire(NAMES, CATEGORIES, mark_names={"重要数据": "重要数据（标）"})
    built = catalog_pb2.SearchResult.FromString(wire.result(marked, 3.0))
    assert built.entry.data_mark_name == "重要数据（标）" and built.score == 3.0
    assert built.entry.items[0].name == marked.items[0].name
