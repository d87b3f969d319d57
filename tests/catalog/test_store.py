"""The catalog store on real SQLite files: matching, ranking, filters, facets, durability."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import sqlite3
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.catalog import ranking, textindex
from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.store import (
    UNRANKED_SCORE,
    CatalogStore,
    Hit,
    LocalResult,
    SearchQuery,
    code_key,
    schema,
)
from gateway.catalog.store.entries import item_names
from gateway.catalog.store.pg import PgCatalogStore
from gateway.catalog.textindex import parse_query
from gateway.postgres import Postgres
from tests.support.entries import (
    ALL,
    FULLWIDTH,
    GB,
    GJJ_ABSTRACT,
    GJJ_NAME,
    GONGJI_APART,
    HUJI_ABSTRACT,
    HUJI_DEPT,
    HUJI_ITEM,
    HUJI_NAME,
    HUKOU_JIGUAN,
    LICENCE,
    LICENCE_SPLIT,
    SHEBAO_ABSTRACT,
    SHEBAO_NAME,
    entry,
)
from tests.support.postgres import new_schema

# -- building entries ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogStore]:
    """The store on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        with CatalogStore(tmp_path / "catalog.db") as s:
            yield s
        return
    with Postgres(request.getfixturevalue("pg_dsn")) as pg:
        yield PgCatalogStore(pg)


def codes(result: LocalResult) -> list[str]:
    return [hit.entry.code for hit in result.hits]


def search(store: CatalogStore, text: str = "", **filters: tuple[str, ...]) -> LocalResult:
    return store.search(SearchQuery(text, Filters(**filters), limit=1000))


# -- matching -----------------------------------------------------------------------------------


@pytest.fixture
def catalog(store: CatalogStore) -> CatalogStore:
    assert store.insert_many(ALL) == len(ALL)
    return store


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # two characters: in the name, then department, data items, abstract; never apart
        ("户籍", [HUJI_NAME, HUJI_DEPT, HUJI_ITEM, HUJI_ABSTRACT]),
        ("社保", [SHEBAO_NAME, SHEBAO_ABSTRACT]),
        ("公积", [GJJ_NAME, GJJ_ABSTRACT]),
        # three and four characters: all adjacent, in order
        ("公积金", [GJJ_NAME, GJJ_ABSTRACT]),
        ("营业执照", [LICENCE]),
        ("执照", [LICENCE_SPLIT, LICENCE]),  # both in the name: the shorter name first
        ("户籍人口", [HUJI_NAME]),
        ("人口户籍", []),
        # a single character finds every occurrence
        ("籍", [HUJI_NAME, HUJI_DEPT, HUJI_ITEM, HUKOU_JIGUAN, HUJI_ABSTRACT]),
        # ASCII: case- and width-insensitive, prefix or exact
        ("gb", [GB, FULLWIDTH]),
        ("GB11643", [GB]),
        ("ｇｂ１１６４３", [GB]),
        ("iso", [GB]),
        ("2260", [FULLWIDTH]),
        # mixed and several terms: all must match; the name counts most
        ("GB 校验", [GB]),
        ("户籍 登记", [HUJI_NAME, HUJI_ITEM]),
        ("户籍，信息", [HUJI_NAME, HUJI_ITEM, HUJI_ABSTRACT]),
        # nothing
        ("医保", []),
        ("口籍", []),
    ],
)
def test_matches_and_ranking(catalog: CatalogStore, text: str, expected: list) -> None:
    result = search(catalog, text)
    assert codes(result) == [e.code for e in expected]
    assert result.total == len(expected)
    assert all(hit.score > 0 for hit in result.hits)


@pytest.mark.parametrize("text", ["户籍", "社保", "公积", "公积金"])
def test_name_outranks_abstract(catalog: CatalogStore, text: str) -> None:
    hits = search(catalog, text).hits
    in_name = [h.score for h in hits if text in h.entry.name]
    abstract_only = [
        h.score
        for h in hits
        if text in h.entry.abstract
        and text not in h.entry.name + h.entry.department + str(h.entry.items)
    ]
    assert in_name and abstract_only
    assert min(in_name) > max(abstract_only)


def test_characters_present_but_apart_do_not_match(catalog: CatalogStore) -> None:
    # 户口簿 and 籍贯 both appear, 户 and 籍 are not adjacent
    assert HUKOU_JIGUAN.code not in codes(search(catalog, "户籍"))
    assert HUKOU_JIGUAN.code in codes(search(catalog, "户 籍"))
    # 公共积分: 公 and 积 both there, not 公积
    assert GONGJI_APART.code not in codes(search(catalog, "公积"))


@pytest.mark.parametrize(
    "text",
    [
        '" OR 1=1 --',
        "name:x",
        "{name}:户籍",
        "NEAR(a b)",
        "NEAR(户籍 人口, 2)",
        ")))",
        "(((",
        "*",
        "户籍*",
        "^",
        '"',
        "'; DROP TABLE entries; --",
        "AND OR NOT",
        "🙂🙂",
        "\0",
        "户\0籍",
        "（户籍）【公积金】",
        "\ud800",
        "x" * 1000,
        "户" * 500,
        "a b c d e f g h i j k l m n o p",
    ],
)
def test_hostile_text_returns_normally(catalog: CatalogStore, text: str) -> None:
    result = search(catalog, text)
    assert result.total == len(result.hits)
    assert set(result.facets) == set(FACET_FIELDS)
    assert catalog.count() == len(ALL)


def test_punctuation_only_means_no_text(catalog: CatalogStore) -> None:
    result = search(catalog, "（）、。！")
    assert result.total == len(ALL)
    assert codes(result) == sorted(e.code for e in ALL)
    assert {h.score for h in result.hits} == {UNRANKED_SCORE}


def test_limit_caps_hits_not_total_or_facets(catalog: CatalogStore) -> None:
    full = catalog.search(SearchQuery("户籍", limit=100))
    top = catalog.search(SearchQuery("户籍", limit=2))
    none = catalog.search(SearchQuery("户籍", limit=0))
    assert top.hits == full.hits[:2]
    assert none.hits == ()
    assert full.total == top.total == none.total == 4
    assert full.facets == top.facets == none.facets
    assert catalog.search(SearchQuery("户籍", facets=False)).facets == {}
    with pytest.raises(ValueError):
        catalog.search(SearchQuery("户籍", limit=-1))


def test_ties_are_not_broken_by_code(store: CatalogStore) -> None:
    valid = [
        "104001/000003",
        "10400101/000001",
        "104001001/000009",
        "104001/000001",
        "10400100/000002",
        "104002/000000",
        "104001000/000000",
    ]
    store.insert_many(entry("营业执照信息", code=c) for c in reversed(valid))
    result = search(store, "营业执照")
    assert sorted(codes(result)) == sorted(valid)
    assert codes(result) != sorted(valid)  # 1xx codes no longer come first by rule
    assert len({h.score for h in result.hits}) == 1
    assert search(store, "营业执照").hits == result.hits  # deterministic


def test_recency_breaks_ties(store: CatalogStore) -> None:
    dates = ["2019-03-01", "2025-11-30", "2021-06-15", "2023-01-09"]
    store.insert_many(
        replace(entry("营业执照信息", code=f"104001/00000{i}"), publish_date=d)
        for i, d in enumerate(dates)
    )
    result = search(store, "营业执照")
    assert [h.entry.publish_date for h in result.hits] == sorted(dates, reverse=True)


CODES = st.builds(
    lambda head, detail, seq: f"{head}{detail}/{seq:06d}",
    st.integers(100000, 399999).map(str),
    st.sampled_from(
        ["", *(f"{i:02d}" for i in range(100)), *(f"{i:03d}" for i in range(0, 1000, 7))]
    ),
    st.integers(0, 999999),
)


@given(st.lists(CODES, min_size=2, max_size=30, unique=True))
def test_code_key_sorts_like_the_codes(codes_: list[str]) -> None:
    assert sorted(codes_, key=code_key) == sorted(codes_)


@pytest.mark.parametrize(
    "bad", ["", "x", "101001", "101001/12345", "401001/000001", "1010010/000001"]
)
def test_malformed_codes_are_refused(store: CatalogStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.insert_many([entry("营业执照", code=bad)])
    assert store.count() == 0


# -- filters and facets against brute force ------------------------------------------------------

WORDS = ["户籍", "人口", "社保", "公积金", "营业执照", "登记", "信息", "缴存", "口", "籍贯", "GB"]
DEPARTMENTS = [("gaj", "公安局"), ("rsj", "人力资源和社会保障局"), ("gjj", "住房公积金管理中心")]
CATEGORIES = ["101", "102", "105", "201", "212", "301"]
GRADES = ["L1", "L2", "L3", "L4"]
SHARES = ["unconditional", "conditional", "none"]
CYCLES = ["realtime", "daily", "monthly", "yearly"]
# Most entries carry no mark (一般数据); by position, so the draws of the other fields stay put.
MARKS = ["", "important", "", "", "core", ""]


def random_catalog(n: int, seed: int) -> list[CatalogEntry]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        dept_code, dept = rng.choice(DEPARTMENTS)
        category = rng.choice(CATEGORIES)
        detail = rng.choice(["", "01", "012"])
        out.append(
            entry(
                "".join(rng.choices(WORDS, k=rng.randint(1, 4))),
                code=f"{category}{rng.randrange(1000):03d}{detail}/{i:06d}",
                abstract="，".join(rng.choices(WORDS, k=rng.randint(0, 3))),
                department=dept,
                department_code=dept_code,
                items=tuple(rng.choices(WORDS, k=rng.randint(0, 3))),
                category=category,
                grade=rng.choice(GRADES),
                share_type=rng.choice(SHARES),
                update_cycle=rng.choice(CYCLES),
                data_mark=MARKS[i % len(MARKS)],
            )
        )
    return out


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def brute_terms(text: str) -> list[str]:
    terms: list[str] = []
    for term in re.findall(r"[\u4e00-\u9fff]+|[a-z0-9]+", norm(text)):
        if term not in terms:
            terms.append(term)
    return terms


def occurs(term: str, texts: list[str]) -> bool:
    for text in map(norm, texts):
        if term.isascii():
            if any(w.startswith(term) for w in re.findall(r"[a-z0-9]+", text)):
                return True
        elif term in text:
            return True
    return False


def tokens(text: str) -> int:
    """Index tokens of a text: a run of ideographs makes as many as it has characters (bigrams
    plus the last one), an ASCII word one."""
    return sum(
        len(run) if not run.isascii() else 1
        for run in re.findall(r"[\u4e00-\u9fff]+|[a-z0-9]+", norm(text))
    )


def days(date: str) -> int:
    return dt.date.fromisoformat(date).toordinal() - dt.date(1970, 1, 1).toordinal()


def fields(x: CatalogEntry) -> list[list[str]]:
    return [[x.name], [x.department], [i.name for i in x.items], [x.abstract]]


def brute_score(
    e: CatalogEntry,
    terms: list[str],
    lengths: dict[str, list[int]],
    averages: list[float],
    df: dict[str, int],
) -> float | None:
    """BM25F as ``gateway.catalog.ranking`` documents it, written out longhand, with the whole
    store's statistics: field ``lengths`` per code, their ``averages`` and each term's ``df``."""
    if not terms:
        return UNRANKED_SCORE
    mine = lengths[e.code]
    score = 0.0
    for term in terms:
        tf = 0.0
        for f, (texts, w, b) in enumerate(zip(fields(e), ranking.WEIGHTS, ranking.B, strict=True)):
            if occurs(term, texts):
                tf += w / ((1.0 - b) + b * (mine[f] / averages[f]))
        if not tf:
            return None
        idf = math.log(1.0 + (len(lengths) - df[term] + 0.5) / (df[term] + 0.5))
        score += idf * tf / (ranking.K1 + tf)
    exact = mine[0] == sum(tokens(t) for t in terms) and all(occurs(t, [e.name]) for t in terms)
    step = 1e-6
    return (
        max(round(score / step), 1.0) * step
        + exact * (0.5 * step)
        + min(max(days(e.publish_date), 0), 39_999) / 40_000 * 0.4 * step
    )


def facet_value(e: CatalogEntry, name: str) -> str:
    return {
        "category": e.category,
        "grade": e.grade,
        "share_type": e.share_type,
        "department": e.department_code,
        "update_cycle": e.update_cycle,
        "data_mark": e.data_mark,
    }[name]


def brute_search(entries: list[CatalogEntry], text: str, filters: Filters) -> LocalResult:
    wanted = {
        "category": filters.categories,
        "grade": filters.grades,
        "share_type": filters.share_types,
        "department": filters.departments,
        "update_cycle": filters.update_cycles,
        "data_mark": filters.data_marks,
    }

    def keep(e: CatalogEntry) -> bool:
        for name, values in wanted.items():
            value = facet_value(e, name)
            if values and value not in values and not (name == "category" and value[0] in values):
                return False
        return True

    terms = brute_terms(text)
    lengths = {x.code: [sum(map(tokens, f)) for f in fields(x)] for x in entries}
    averages = [sum(col) / len(entries) or 1.0 for col in zip(*lengths.values(), strict=True)]
    df = {t: sum(any(occurs(t, texts) for texts in fields(x)) for x in entries) for t in terms}
    scored = [
        (s, e)
        for e in entries
        if keep(e) and (s := brute_score(e, terms, lengths, averages, df)) is not None
    ]
    # Equal scores in the order of a hash of the id (deterministic, not code order); without
    # text, code order.
    scored.sort(
        key=lambda se: (-se[0], (code_key(se[1].code) * 0x9E3779B1) & 0xFFFFFFFF if terms else 0)
    )
    if not terms:
        scored.sort(key=lambda se: code_key(se[1].code))
    # An entry without a mark has no value to count.
    facets = {
        name: dict(Counter(v for _, e in scored if (v := facet_value(e, name))))
        for name in FACET_FIELDS
    }
    return LocalResult(tuple(Hit(e, s) for s, e in scored), len(scored), facets)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def random_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CatalogStore, list]]:
    entries = random_catalog(400, seed=7)
    if request.param == "sqlite":
        with CatalogStore(tmp_path_factory.mktemp("random") / "catalog.db") as s:
            s.insert_many(entries, batch_size=150)
            yield s, entries
        return
    with Postgres(new_schema(request.getfixturevalue("postgres"))) as pg:
        store = PgCatalogStore(pg)
        store.insert_many(entries, batch_size=150)
        yield store, entries


FILTERS = st.builds(
    Filters,
    categories=st.lists(st.sampled_from([*CATEGORIES, "1", "2", "9", "999"]), max_size=3).map(
        tuple
    ),
    grades=st.lists(st.sampled_from(GRADES), max_size=2).map(tuple),
    share_types=st.lists(st.sampled_from(SHARES), max_size=2).map(tuple),
    departments=st.lists(st.sampled_from(["gaj", "rsj", "gjj", "nope"]), max_size=2).map(tuple),
    update_cycles=st.lists(st.sampled_from(CYCLES), max_size=2).map(tuple),
    data_marks=st.lists(st.sampled_from(["important", "core"]), max_size=2).map(tuple),
)
TEXTS = st.one_of(
    st.just(""),
    st.sampled_from(WORDS),
    st.lists(
        st.sampled_from([*WORDS, "户", "籍", "金", "gb", "社保 登记"]), min_size=1, max_size=5
    ).map(" ".join),
    st.text("户籍口贯公积金社保登记信息 ，gb", max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, filters=FILTERS, limit=st.sampled_from([0, 1, 7, 1000]))
def test_search_agrees_with_brute_force(
    random_store: tuple[CatalogStore, list], text: str, filters: Filters, limit: int
) -> None:
    store, entries = random_store
    result = store.search(SearchQuery(text, filters, limit=limit))
    expected = brute_search(entries, text, filters)
    assert result.total == expected.total
    assert result.facets == expected.facets
    assert [(h.entry, h.score) for h in result.hits] == [
        (h.entry, h.score) for h in expected.hits[:limit]
    ]


@pytest.mark.parametrize("postings_cache", [0, 512])
def test_a_term_in_most_entries_agrees_with_brute_force(
    tmp_path: Path, postings_cache: int
) -> None:
    # Generic terms are ranked over arrays spanning the catalog (``ranking.DENSE_SHARE``),
    # rare ones by binary search: both give the longhand answer. With the caches on, a term's
    # BM25 is kept from one search to the next (``Relevance``), under other filters too; most
    # names tie on BM25, so the page is decided by the tie-breaks among thousands of hits.
    rng = random.Random(3)
    entries = [
        replace(e, name=e.name + ("登记信息" if rng.random() < 0.9 else "登记"))
        for e in random_catalog(1500, seed=11)
    ]
    with CatalogStore(tmp_path / "catalog.db", postings_cache=postings_cache, result_cache=0) as s:
        s.insert_many(entries)
        for text, filters in [
            ("信息", Filters()),
            ("登记信息", Filters(grades=("L1", "L2"))),
            ("信息", Filters(categories=("1",), share_types=("none",))),
            ("户籍", Filters()),
            ("户籍 信息", Filters()),
            ("信息 户籍", Filters(grades=("L1", "L2"))),
            ("登记信息", Filters()),
        ]:
            result = s.search(SearchQuery(text, filters, limit=20))
            expected = brute_search(entries, text, filters)
            assert result.total == expected.total
            assert result.facets == expected.facets
            assert [(h.entry, h.score) for h in result.hits] == [
                (h.entry, h.score) for h in expected.hits[:20]
            ]


def test_a_terms_kept_score_follows_the_statistics_it_is_ranked_with(tmp_path: Path) -> None:
    # A term's BM25 is kept per statistics: the same term ranked with the federation's
    # statistics, then with the store's own, then with the federation's again, scores as a
    # store that keeps nothing does each time.
    entries = random_catalog(600, seed=13)
    other = random_catalog(900, seed=14)
    with (
        CatalogStore(tmp_path / "kept.db", result_cache=0) as kept,
        CatalogStore(tmp_path / "fresh.db", postings_cache=0, result_cache=0) as fresh,
        CatalogStore(tmp_path / "other.db") as elsewhere,
    ):
        for s in (kept, fresh):
            s.insert_many(entries)
        elsewhere.insert_many(other)
        terms = parse_query("户籍 登记")
        federation = ranking.CollectionStats.combine(
            [kept.collection_stats(terms), elsewhere.collection_stats(terms)]
        )
        assert federation != kept.collection_stats(terms)
        for stats in (federation, None, federation):
            query = SearchQuery("户籍 登记", terms=terms, stats=stats, limit=50)
            got, want = kept.search(query), fresh.search(query)
            assert got.hits and got.total == want.total
            assert [(h.entry.code, h.score) for h in got.hits] == [
                (h.entry.code, h.score) for h in want.hits
            ]
        own = [h.score for h in kept.search(SearchQuery("户籍 登记", terms=terms)).hits]
        fed = [
            h.score
            for h in kept.search(SearchQuery("户籍 登记", terms=terms, stats=federation)).hits
        ]
        assert own != fed


def test_long_fields_rank_as_the_brute_force_does(tmp_path: Path) -> None:
    # FTS5 keeps a field of 128 tokens or more in a longer varint (``%_docsize``), and the rank
    # table is then read row by row instead of as one text: the ranking must not differ.
    entries = random_catalog(300, seed=5)
    entries[7] = replace(entries[7], abstract="户籍" * 100)  # 200 tokens
    entries[8] = replace(entries[8], name=entries[8].name + "户籍" * 70)  # name over 128
    with CatalogStore(tmp_path / "catalog.db", result_cache=0) as s:
        s.insert_many(entries)
        for text in ("户籍", "户", "公积金", "户籍 登记"):
            result = s.search(SearchQuery(text, limit=30))
            expected = brute_search(entries, text, Filters())
            assert result.total == expected.total
            assert result.facets == expected.facets
            assert [(h.entry, h.score) for h in result.hits] == [
                (h.entry, h.score) for h in expected.hits[:30]
            ]


def test_no_text_no_filters_is_the_whole_catalog(random_store: tuple[CatalogStore, list]) -> None:
    store, entries = random_store
    result = store.search(SearchQuery("", limit=5))
    expected = brute_search(entries, "", Filters())
    assert result.total == len(entries)
    assert result.facets == expected.facets
    assert codes(result) == sorted(e.code for e in entries)[:5]
    with pytest.raises(TypeError):  # read-only: the store's own counts cannot be changed
        result.facets["grade"]["L1"] = -1  # type: ignore[index]
    with pytest.raises(TypeError):
        result.facets["grade"] = {}  # type: ignore[index]
    assert store.search(SearchQuery("")).facets == expected.facets


@pytest.mark.parametrize(
    "filters",
    [
        Filters(grades=("L9",)),
        Filters(departments=("nope",)),
        Filters(categories=("999",), grades=("L1",)),
    ],
)
def test_unknown_filter_values_match_nothing(
    random_store: tuple[CatalogStore, list], filters: Filters
) -> None:
    store, _ = random_store
    for text in ("", "户籍"):
        result = store.search(SearchQuery(text, filters))
        assert (result.hits, result.total) == ((), 0)
        assert result.facets == {name: {} for name in FACET_FIELDS}


# -- writes, durability, concurrency -------------------------------------------------------------


def test_get_round_trips_every_field(catalog: CatalogStore) -> None:
    assert catalog.get(HUJI_ITEM.code) == HUJI_ITEM
    assert catalog.get(FULLWIDTH.code) == FULLWIDTH
    assert catalog.get("101001/999999") is None
    assert catalog.get("not a code") is None


def test_replacing_a_code_reindexes_it(catalog: CatalogStore) -> None:
    renamed = replace(HUJI_NAME, name="医保目录信息", grade="L3", department_code="ybj")
    assert catalog.insert_many([renamed]) == 1
    assert catalog.count() == len(ALL)
    assert catalog.get(HUJI_NAME.code) == renamed
    assert HUJI_NAME.code not in codes(search(catalog, "户籍人口"))
    result = search(catalog, "医保")
    assert codes(result) == [HUJI_NAME.code]
    assert result.facets["grade"] == {"L3": 1}
    assert result.facets["department"] == {"ybj": 1}
    assert search(catalog, "", departments=("ybj",)).total == 1


def test_last_duplicate_in_one_batch_wins(store: CatalogStore) -> None:
    first = entry("户籍信息", code="101001/000100")
    second = replace(first, name="社保信息")
    assert store.insert_many([first, second]) == 1
    assert store.get(first.code) == second
    assert search(store, "户籍").total == 0


def test_reopening_keeps_entries_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as s:
        s.insert_many(ALL)
        s.set_meta("seed", "js:131000:32")
        before = search(s, "户籍")
    with CatalogStore(path) as s:
        assert s.count() == len(ALL)
        assert s.get_meta("seed") == "js:131000:32"
        assert s.get_meta("missing") is None
        assert search(s, "户籍") == before


def test_index_is_rebuilt_when_the_tokenizer_changes(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as s:
        s.insert_many(ALL)
        before = search(s, "户籍")
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
        raw.execute("UPDATE meta SET value = 'old' WHERE key = 'textindex_version'")
    with CatalogStore(path) as s:
        assert search(s, "户籍") == before


def test_a_file_of_the_unmarked_layout_is_rebuilt_marked(tmp_path: Path) -> None:
    # A file written before field marks: plain tokens, found by column filters, and a prefix
    # index of single characters. Opened now, the table is made anew and every entry re-indexed.
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as s:
        s.insert_many(ALL)
        before = [search(s, text) for text in ("户籍", "户", "gb", "社保 登记")]
    with closing(sqlite3.connect(path)) as raw, raw:
        rows = raw.execute(schema.SELECT_FTS_SOURCE).fetchall()
        raw.execute("DROP TABLE entries_fts")
        raw.execute(
            "CREATE VIRTUAL TABLE entries_fts USING fts5(name, department, items, abstract,"
            f" tags, content='', tokenize=\"{textindex.FTS_TOKENIZER}\", prefix='1')"
        )
        raw.executemany(
            "INSERT INTO entries_fts (rowid, name, department, items, abstract, tags)"
            " VALUES (?, ?, ?, ?, ?, '')",
            [
                (
                    i,
                    textindex.index_text(name),
                    textindex.index_text(dept),
                    textindex.index_text(*item_names(items)),
                    textindex.index_text(abstract),
                )
                for i, name, dept, items, abstract, *_ in rows
            ],
        )
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'textindex_version'")
    with CatalogStore(path) as s:
        assert [search(s, text) for text in ("户籍", "户", "gb", "社保 登记")] == before
    with closing(sqlite3.connect(path)) as raw:
        (sql,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'entries_fts'").fetchone()
        assert "prefix='2'" in sql
        assert raw.execute("SELECT value FROM meta WHERE key = 'textindex_version'").fetchone() == (
            schema.INDEX_LAYOUT,
        )


def test_clear_empties_the_catalog(catalog: CatalogStore) -> None:
    catalog.clear()
    assert catalog.count() == 0
    assert search(catalog, "户籍").total == 0
    assert search(catalog, "").total == 0
    catalog.insert_many([HUJI_NAME])
    assert codes(search(catalog, "户籍")) == [HUJI_NAME.code]


def test_bulk_load_in_batches(store: CatalogStore) -> None:
    entries = random_catalog(12_000, seed=3)
    assert store.insert_many(entries, batch_size=5000) == len(entries)
    assert store.count() == len(entries)
    with pytest.raises(ValueError):
        store.insert_many(entries, batch_size=0)


def test_concurrent_searches_during_writes(tmp_path: Path) -> None:
    entries = random_catalog(600, seed=11)
    with CatalogStore(tmp_path / "catalog.db") as s:
        s.insert_many(entries[:300])
        stop = threading.Event()

        def writer() -> None:
            for i in range(300, 600, 30):
                s.insert_many(entries[i : i + 30])
            stop.set()

        def reader(text: str) -> int:
            checked = 0
            while not stop.is_set() or checked < 3:
                result = s.search(SearchQuery(text, limit=5))
                # one snapshot: hits, total and facets agree with each other
                assert sum(result.facets["grade"].values()) == result.total
                assert len(result.hits) == min(5, result.total)
                checked += 1
            return checked

        with ThreadPoolExecutor(max_workers=5) as pool:
            readers = [pool.submit(reader, t) for t in ("户籍", "信息", "", "公积金")]
            pool.submit(writer).result()
            assert all(r.result() >= 3 for r in readers)
        assert s.search(SearchQuery("")).total == 600


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = CatalogStore(tmp_path / "catalog.db")
    s.close()
    s.close()  # idempotent
    with pytest.raises(sqlite3.ProgrammingError):
        s.search(SearchQuery("户籍"))


@pytest.mark.parametrize("postings_cache", [0, 256])
def test_counts_follow_writes(tmp_path: Path, postings_cache: int) -> None:
    with CatalogStore(tmp_path / "catalog.db", postings_cache=postings_cache) as s:
        s.insert_many(ALL)
        first = search(s, "户籍")
        with pytest.raises(TypeError):  # read-only: what the store keeps cannot be changed
            first.facets["grade"]["L1"] = 99  # type: ignore[index]
        again = search(s, "户籍")
        assert again.facets["grade"] == {"L1": 4}
        assert again == search(s, "户籍")
        s.insert_many([entry("户籍档案", grade="L2")])
        after = search(s, "户籍")
        assert after.total == 5
        assert after.facets["grade"] == {"L1": 4, "L2": 1}
        assert s.search(SearchQuery("户籍", facets=False)).total == 5


@pytest.mark.parametrize("entry_cache", [0, 1, 4096])
def test_hits_follow_writes(tmp_path: Path, entry_cache: int) -> None:
    with CatalogStore(tmp_path / "catalog.db", entry_cache=entry_cache) as s:
        s.insert_many(ALL)
        first = search(s, "户籍")
        assert search(s, "户籍") == first  # served again, decoded or not
        renamed = replace(HUJI_NAME, name="户籍人口迁出登记信息", grade="L3")
        s.insert_many([renamed])
        after = search(s, "户籍")
        assert [h.entry for h in after.hits if h.entry.code == HUJI_NAME.code] == [renamed]
        assert codes(after) == codes(first)


def test_search_if_cached_answers_only_what_this_generation_searched(tmp_path: Path) -> None:
    with CatalogStore(tmp_path / "catalog.db") as s:
        s.insert_many(ALL)
        query = SearchQuery("户籍", limit=3)
        assert s.search_if_cached(query) is None
        first = s.search(query)
        cached = s.search_if_cached(query)
        assert cached == first
        with pytest.raises(TypeError):  # read-only: the cached answer cannot be changed
            cached.facets["grade"]["L1"] = 99  # type: ignore[index]
        assert s.search_if_cached(query) == first
        assert s.search_if_cached(replace(query, limit=4)) is None
        assert s.search_if_cached(replace(query, facets=False)) is None
        s.insert_many([entry("户籍档案", grade="L2")])
        assert s.search_if_cached(query) is None  # a write: nothing old is served
        assert s.search(query).total == first.total + 1
    with CatalogStore(tmp_path / "off.db", result_cache=0) as s:
        s.insert_many(ALL)
        assert s.search(SearchQuery("户籍")) == s.search(SearchQuery("户籍"))
        assert s.search_if_cached(SearchQuery("户籍")) is None


def test_statistics_if_cached_are_what_this_generation_computed(store: CatalogStore) -> None:
    store.insert_many([*ALL, entry("户籍密档", share_type="none")])
    terms = parse_query("户籍 档案")
    assert store.collection_stats_if_cached(terms) is None
    whole = store.collection_stats(terms)
    assert store.collection_stats_if_cached(terms) == whole
    assert store.collection_stats_if_cached(terms, published_only=True) is None
    published = store.collection_stats(terms, published_only=True)
    assert published.documents == whole.documents - 1  # the withheld entry is not counted
    assert store.collection_stats_if_cached(terms, published_only=True) == published
    assert store.collection_stats_if_cached(parse_query("户籍")) is None
    store.insert_many([entry("户籍档案", grade="L2")])
    assert store.collection_stats_if_cached(terms) is None  # a write: nothing old is served
    assert store.collection_stats(terms).documents == whole.documents + 1


def test_cached_answers_follow_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as serving, CatalogStore(path) as seeding:
        seeding.insert_many(ALL)
        query = SearchQuery("户籍")
        before = serving.search(query)
        renamed = replace(HUJI_NAME, name="户籍人口迁出登记信息")
        seeding.insert_many([renamed])
        assert serving.search_if_cached(query) is None
        after = serving.search(query)
        assert [h.entry for h in after.hits if h.entry.code == renamed.code] == [renamed]
        assert codes(after) == codes(before)
