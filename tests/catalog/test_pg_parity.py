"""The same seeded catalog in both backends answers a set of searches alike: the same top hits
with the same scores, the same totals, the same facets in the same order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.store import CatalogStore, LocalResult, SearchQuery
from gateway.catalog.store.feed import publishes
from gateway.catalog.store.pg import PgCatalogStore
from gateway.catalog.textindex import parse_query
from gateway.config import load_standard
from gateway.postgres import Postgres
from scripts.shipped import province_entries
from tests.support.federation import ROOT
from tests.support.postgres import new_schema

ENTRIES = 3000

QUERIES = [
    ("", Filters()),
    ("户籍", Filters()),
    ("社保", Filters()),
    ("公积金", Filters()),
    ("营业执照", Filters()),
    ("信息", Filters()),
    ("登记信息", Filters()),
    ("户", Filters()),
    ("人口 迁入", Filters()),
    ("企业 信用 登记 信息", Filters()),
    ("gb", Filters()),
    ("医保", Filters(grades=("L1", "L2"))),
    ("信息", Filters(categories=("1",))),
    ("", Filters(grades=("L3",), share_types=("conditional",))),
    ("数据 信息", Filters(categories=("2", "3"), grades=("L2",))),
    ("不存在的词", Filters()),
]


@pytest.fixture(scope="module")
def entries() -> list[CatalogEntry]:
    return list(province_entries("js", ENTRIES))


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory, postgres, entries: list[CatalogEntry]
) -> Iterator[tuple[CatalogStore, PgCatalogStore]]:
    with (
        CatalogStore(tmp_path_factory.mktemp("parity") / "catalog.db") as sqlite,
        Postgres(new_schema(postgres)) as pg,
    ):
        pgstore = PgCatalogStore(pg)
        assert sqlite.insert_many(entries) == pgstore.insert_many(entries) == ENTRIES
        yield sqlite, pgstore


def answer(result: LocalResult) -> tuple:
    return (
        [(hit.entry, hit.score) for hit in result.hits],
        result.total,
        [(name, list(counts.items())) for name, counts in result.facets.items()],
    )


@pytest.mark.parametrize(("text", "filters"), QUERIES, ids=[f"{t}|{f}" for t, f in QUERIES])
def test_both_backends_answer_alike(stores, text: str, filters: Filters) -> None:
    sqlite, pg = stores
    query = SearchQuery(text, filters, limit=20)
    expected = sqlite.search(query)
    assert answer(pg.search(query)) == answer(expected)
    assert sqlite.count() == pg.count() == ENTRIES


SYNONYM_QUERIES = ["社保", "医保", "低保", "驾照", "公积金 提取", "个税", "出生证", "身份证号"]


@pytest.mark.parametrize("text", SYNONYM_QUERIES)
def test_both_backends_expand_and_rank_synonyms_alike(stores, text: str) -> None:
    sqlite, pg = stores
    synonyms = load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml").synonyms
    terms = parse_query(text, synonyms.equivalents())
    assert any(term.synonyms for term in terms)
    plain = sqlite.search(SearchQuery(text, limit=0))
    query = SearchQuery(text, limit=20, terms=terms)
    expected = sqlite.search(query)
    assert expected.total >= plain.total  # a synonym only ever adds matches
    assert answer(pg.search(query)) == answer(expected)
    # Ranked with statistics from elsewhere (the federation's), both still agree.
    stats = CollectionStats.combine([sqlite.collection_stats(terms), pg.collection_stats(terms)])
    assert stats.documents == 2 * ENTRIES
    federated = SearchQuery(text, limit=20, terms=terms, stats=stats)
    assert answer(pg.search(federated)) == answer(sqlite.search(federated))


def test_the_queries_are_not_trivial(stores) -> None:
    sqlite, _ = stores
    totals = [sqlite.search(SearchQuery(t, f, limit=0)).total for t, f in QUERIES]
    assert sum(1 for n in totals if n > 20) >= 5  # ranking, not just membership, is compared
    assert totals[-1] == 0


def test_published_statistics_are_what_a_replica_of_the_catalog_counts(
    stores, entries: list[CatalogEntry], tmp_path
) -> None:
    """A node's part of the federation's statistics is counted over what it publishes, so it
    equals what every other node's replica of its catalog counts: every node sums the same."""
    published = [e for e in entries if publishes(e)]
    assert 0 < len(published) < len(entries)  # the seed withholds some entries
    with CatalogStore(tmp_path / "replica.db") as replica:
        replica.insert_many(published)
        for text in ["户籍", "社保 登记", "信息", "企业 信用 登记 信息", "不存在的词"]:
            terms = parse_query(text)
            expected = replica.collection_stats(terms)
            assert expected.documents == len(published)
            for store in stores:
                assert store.collection_stats(terms, published_only=True) == expected, text
                assert store.collection_stats(terms).documents == ENTRIES
