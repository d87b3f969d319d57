"""The judged query set (``judged_queries.yaml``) on the seeded catalog: the share of queries
whose expectations are met, and nDCG@10, each held above a floor set from the first honest run.

The catalog is the four provinces' seeded catalogs (each node's own seed settings), searched as
one node answering for the federation does: the query expanded through the standard's synonyms,
each province's store asked for its best ten, merged by score. Two sets of collection
statistics are judged: the federation's (``CollectionStats.combine`` over the four stores, what
a node holding every province's catalog ranks with) and each store's own (what the live fan-out
ranks with today).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.store import CatalogStore, SearchQuery
from gateway.catalog.textindex import parse_query
from gateway.config import load_federation, load_province
from gateway.seeding import seed_catalog
from tests.support.federation import ROOT

JUDGED = Path(__file__).with_name("judged_queries.yaml")
DEPTH = 10

#: Floors from the first honest run (federation statistics: 71 of 73 queries passed, nDCG@10
#: 0.962, missing 社保 → 社会保险 and 养老 → 养老保险 in the top 10; each store's own: 73 of 73,
#: 0.966), a little below it so a tie falling the other way does not fail the suite. Raise
#: them when the ranking improves; never lower them to make a change pass.
FLOORS = {"federation": (0.95, 0.94), "own": (0.95, 0.94)}


@dataclass(frozen=True)
class Judged:
    text: str
    filters: Filters
    top: int
    expect: tuple[dict[str, str], ...]

    @property
    def label(self) -> str:
        return self.text + (f" {self.filters}" if self.filters != Filters() else "")


def judged_queries() -> list[Judged]:
    out = []
    for q in yaml.safe_load(JUDGED.read_text(encoding="utf-8"))["queries"]:
        f = q.get("filters", {})
        filters = Filters(
            categories=tuple(f.get("categories", ())),
            grades=tuple(f.get("grades", ())),
            provinces=tuple(f.get("provinces", ())),
        )
        out.append(Judged(q["q"], filters, q["top"], tuple(q["expect"])))
    return out


def meets(entry: CatalogEntry, expectation: dict[str, str]) -> bool:
    for key, wanted in expectation.items():
        if key == "name" and not any(w in entry.name for w in wanted.split("|")):
            return False
        if key == "department" and not any(w in entry.department for w in wanted.split("|")):
            return False
        if key == "province" and entry.province != wanted:
            return False
    return True


def relevant(entry: CatalogEntry, judged: Judged) -> bool:
    return any(meets(entry, e) for e in judged.expect)


def selected(entry: CatalogEntry, filters: Filters) -> bool:
    """Whether the filters select ``entry`` (what the stores filter, written out)."""
    if filters.provinces and entry.province not in filters.provinces:
        return False
    if filters.grades and entry.grade not in filters.grades:
        return False
    return not filters.categories or any(
        entry.category == c or entry.category[:1] == c for c in filters.categories
    )


class Catalogs:
    """The four provinces' seeded stores, searched as one node answering for the federation."""

    def __init__(self, folder: Path) -> None:
        fed = load_federation(ROOT / "config" / "federation.yaml")
        self.order = tuple(fed.nodes)
        self.stores: dict[str, CatalogStore] = {}
        self.entries: dict[str, list[CatalogEntry]] = {}
        standard = None
        for node in self.order:
            province = load_province(fed, node)
            standard = province.standard
            store = CatalogStore(folder / f"{node}.db")
            seed_catalog(store, province)
            self.stores[node] = store
            everything = store.search(SearchQuery("", limit=10**7, facets=False))
            self.entries[node] = [hit.entry for hit in everything.hits]
        assert standard is not None
        self.synonyms = standard.synonyms.equivalents()

    def search(self, judged: Judged, statistics: str) -> list[CatalogEntry]:
        terms = parse_query(judged.text, self.synonyms)
        stats = None
        if statistics == "federation":
            stats = CollectionStats.combine(s.collection_stats(terms) for s in self.stores.values())
        asked = [
            p for p in self.order if not judged.filters.provinces or p in judged.filters.provinces
        ]
        keyed = []
        for at, province in enumerate(asked):
            query = SearchQuery(
                judged.text,
                Filters(categories=judged.filters.categories, grades=judged.filters.grades),
                limit=DEPTH,
                facets=False,
                terms=terms,
                stats=stats,
            )
            for rank, hit in enumerate(self.stores[province].search(query).hits):
                keyed.append((-hit.score, rank, at, hit.entry.code, hit.entry))
        keyed.sort(key=lambda k: k[:4])  # the federated merge's order
        return [k[4] for k in keyed[:DEPTH]]

    def relevant_count(self, judged: Judged) -> int:
        return sum(
            1
            for entries in self.entries.values()
            for e in entries
            if selected(e, judged.filters) and relevant(e, judged)
        )


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogs]:
    found = Catalogs(tmp_path_factory.mktemp("judged"))
    yield found
    for store in found.stores.values():
        store.close()


def ndcg(hits: list[CatalogEntry], judged: Judged, relevant_total: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, e in enumerate(hits[:DEPTH]) if relevant(e, judged))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(DEPTH, relevant_total)))
    return dcg / ideal if ideal else 0.0


def test_the_set_is_a_real_one(catalogs: Catalogs) -> None:
    queries = judged_queries()
    assert len(queries) >= 60
    # Every expectation can be met: the seeded catalog holds such an entry.
    for judged in queries:
        for expectation in judged.expect:
            assert any(
                selected(e, judged.filters) and meets(e, expectation)
                for entries in catalogs.entries.values()
                for e in entries
            ), (judged.label, expectation)


@pytest.mark.parametrize("statistics", ["federation", "own"])
def test_judged_queries_pass_and_rank(catalogs: Catalogs, statistics: str) -> None:
    queries = judged_queries()
    passed, gains, missed = 0, [], []
    for judged in queries:
        hits = catalogs.search(judged, statistics)
        ok = all(any(meets(e, x) for e in hits[: judged.top]) for x in judged.expect)
        passed += ok
        if not ok:
            missed.append(f"{judged.label}: {[e.name for e in hits[: judged.top]]}")
        gains.append(ndcg(hits, judged, catalogs.relevant_count(judged)))
    share, mean = passed / len(queries), sum(gains) / len(gains)
    report = (
        f"{statistics} statistics: {passed}/{len(queries)} queries pass ({share:.1%}),"
        f" nDCG@10 {mean:.3f}; missed:\n  " + "\n  ".join(missed)
    )
    print(report)
    least_share, least_ndcg = FLOORS[statistics]
    assert share >= least_share and mean >= least_ndcg, report
