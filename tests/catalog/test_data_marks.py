"""重要数据/核心数据 marks (GB/T 43697-2024) on catalog entries: stored by both backends, migrated
into a catalog written before them, filtered and counted by search, validated as a filter, carried
over the wire, and drawn by the seed's rule."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from gateway.catalog.model import FACET_FIELDS
from gateway.catalog.query import Filters, QueryValidator, RawSearch
from gateway.catalog.seed_vocabulary import data_mark
from gateway.catalog.store import AnyCatalogStore, CatalogStore, SearchQuery
from gateway.catalog.store import schema as sqlite_schema
from gateway.catalog.store.pg import MIGRATIONS, PgCatalogStore
from gateway.config import SearchSettings
from gateway.errors import InvalidArgument, SchemaTooNew
from gateway.postgres import Postgres
from gateway.wire.catalog import entry_from_pb, entry_to_pb, filters_from_pb, filters_to_pb
from tests.support.entries import entry
from tests.support.postgres import new_schema

MARKED = entry("全省户籍人口基本信息", code="101001/000101", grade="L3", data_mark="important")
CORE = entry("全省人口基础库", code="101001/000102", grade="L4", data_mark="core")
PLAIN = entry("户籍人口统计数据", code="101001/000103", grade="L1")
CITY = entry("南京市户籍人口信息", code="101001/000104", grade="L3")
ENTRIES = [MARKED, CORE, PLAIN, CITY]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyCatalogStore]:
    if request.param == "sqlite":
        with CatalogStore(tmp_path / "catalog.db") as s:
            s.insert_many(ENTRIES)
            yield s
        return
    with Postgres(request.getfixturevalue("pg_dsn")) as pg:
        s = PgCatalogStore(pg)
        s.insert_many(ENTRIES)
        yield s


def test_an_entry_keeps_its_mark(store: AnyCatalogStore) -> None:
    assert store.get(MARKED.code) == MARKED
    assert store.get(CORE.code) == CORE
    assert store.get(PLAIN.code) == PLAIN


@pytest.mark.parametrize("text", ["", "户籍", "人口"])
def test_search_filters_by_mark_and_counts_only_marked_entries(
    store: AnyCatalogStore, text: str
) -> None:
    everything = store.search(SearchQuery(text, limit=100))
    marked = {e.code for e in ENTRIES if e.data_mark and all(t in e.name for t in text.split())}
    # Unmarked entries (一般数据) have no value to count.
    assert everything.facets["data_mark"] == {
        m: n
        for m in ("important", "core")
        if (n := sum(e.data_mark == m and e.code in marked for e in ENTRIES))
    }
    important = store.search(SearchQuery(text, Filters(data_marks=("important",)), limit=100))
    assert [h.entry.code for h in important.hits] == sorted(c for c in marked if c == MARKED.code)
    assert important.facets["data_mark"] == ({"important": 1} if important.total else {})
    both = store.search(SearchQuery(text, Filters(data_marks=("important", "core")), limit=100))
    assert {h.entry.code for h in both.hits} == marked
    assert both.total == len(marked)
    # The mark combines with the other filters.
    l4 = store.search(
        SearchQuery(text, Filters(grades=("L4",), data_marks=("important", "core")), limit=100)
    )
    assert {h.entry.code for h in l4.hits} == marked & {CORE.code}


def test_an_unknown_mark_matches_nothing(store: AnyCatalogStore) -> None:
    result = store.search(SearchQuery("户籍", Filters(data_marks=("secret",))))
    assert (result.hits, result.total) == ((), 0)
    assert result.facets == {name: {} for name in FACET_FIELDS}


# -- migrations: a catalog written before the marks --------------------------------------------


def test_a_sqlite_catalog_of_schema_1_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    unmarked = [PLAIN, CITY]
    with CatalogStore(path) as s:
        s.insert_many(unmarked)
    _as_schema_1(path)

    with CatalogStore(path) as s:
        assert s.get_meta("schema_version") == sqlite_schema.SCHEMA_VERSION
        result = s.search(SearchQuery("户籍", Filters(grades=("L3",))))
        assert [h.entry for h in result.hits] == [CITY]  # the old tags still filter
        assert result.facets["data_mark"] == {}
        s.insert_many([MARKED])
        found = s.search(SearchQuery("户籍", Filters(data_marks=("important",))))
        assert [h.entry for h in found.hits] == [MARKED]
        assert s.search(SearchQuery("户籍")).facets["data_mark"] == {"important": 1}
        s.insert_many([PLAIN])  # replacing a migrated entry deletes its FTS row cleanly
        assert s.search(SearchQuery("户籍", limit=10)).total == 3


def _as_schema_1(path: Path) -> None:
    """Rewrite a catalog file as schema 1 wrote it: no mark column, no mark facet, FTS rows
    tagged with the five facets of then."""
    with closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute(sqlite_schema.SELECT_FTS_SOURCE).fetchall()
        conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
        conn.executemany(
            sqlite_schema.INSERT_FTS, [sqlite_schema.stored_fts_row(r[:-1]) for r in rows]
        )
        conn.execute("ALTER TABLE entries DROP COLUMN data_mark")
        conn.execute("ALTER TABLE entry_facets DROP COLUMN data_mark")
        conn.execute("DELETE FROM facet_values WHERE field = 'data_mark'")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_a_sqlite_catalog_newer_than_the_node_stops_it(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path):
        pass
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNew) as stopped:
        CatalogStore(path)
    assert (stopped.value.found, stopped.value.known) == (99, int(sqlite_schema.SCHEMA_VERSION))


def test_a_postgresql_catalog_of_schema_1_is_migrated(postgres) -> None:
    dsn = new_schema(postgres)
    with Postgres(dsn) as pg:
        PgCatalogStore(pg).insert_many([PLAIN, CITY])
        with pg.transaction() as conn:
            # Back to what step 3 left: no change feed.
            conn.execute("DROP TABLE catalog_changes")
            conn.execute("DELETE FROM catalog_meta WHERE key IN ('change_seq', 'feed_id')")
            conn.execute(
                "DELETE FROM schema_migrations WHERE component = 'catalog' AND version = 4"
            )
            # Back to what step 2 left: the concatenated text and the tags, no lengths.
            conn.execute(
                "ALTER TABLE catalog_fts ADD COLUMN alltext TSVECTOR NOT NULL DEFAULT '',"
                " ADD COLUMN tags BIGINT[] NOT NULL DEFAULT '{}', DROP COLUMN lengths"
            )
            conn.execute("CREATE INDEX catalog_fts_alltext ON catalog_fts USING gin (alltext)")
            conn.execute("CREATE INDEX catalog_fts_tags ON catalog_fts USING gin (tags)")
            conn.execute(
                "DELETE FROM schema_migrations WHERE component = 'catalog' AND version = 3"
            )
            # Back to what step 1 left: no mark column, no mark facet, five tags.
            mark = conn.value(
                "SELECT id FROM catalog_facet_values WHERE field = 'data_mark' AND value = ''"
            )
            conn.execute("UPDATE catalog_fts SET tags = array_remove(tags, ?)", (mark,))
            conn.execute("ALTER TABLE catalog_entries DROP COLUMN data_mark")
            conn.execute("ALTER TABLE catalog_entry_facets DROP COLUMN data_mark")
            conn.execute("DELETE FROM catalog_facet_values WHERE field = 'data_mark'")
            conn.execute(
                "DELETE FROM schema_migrations WHERE component = 'catalog' AND version = 2"
            )
        store = PgCatalogStore(pg)  # applies steps 2, 3 and 4
        with pg.transaction() as conn:
            assert conn.value(
                "SELECT max(version) FROM schema_migrations WHERE component = 'catalog'"
            ) == len(MIGRATIONS)
        result = store.search(SearchQuery("户籍", Filters(grades=("L3",))))
        assert [h.entry for h in result.hits] == [CITY]
        assert result.facets["data_mark"] == {}
        store.insert_many([MARKED])
        found = store.search(SearchQuery("户籍", Filters(data_marks=("important",))))
        assert [h.entry for h in found.hits] == [MARKED]


# -- the query, the wire ------------------------------------------------------------------------


def test_a_mark_filter_is_checked_against_the_standard() -> None:
    validator = QueryValidator(
        provinces=("js",),
        self_id="js",
        categories={"101": "基础/人口"},
        grades=("L1",),
        share_types=("unconditional",),
        update_cycles=("daily",),
        settings=SearchSettings(),
        data_marks=("important", "core"),
    )
    query = validator.validate(RawSearch("户籍", Filters(data_marks=("core", "core"))))
    assert query.filters.data_marks == ("core",)
    # A filter on the mark is another query: its page tokens are not the unfiltered one's.
    plain = validator.validate(RawSearch("户籍"))
    assert plain.fingerprint() != query.fingerprint()
    with pytest.raises(InvalidArgument) as refused:
        validator.validate(RawSearch("户籍", Filters(data_marks=("important", "secret"))))
    assert (refused.value.field, refused.value.reason) == (
        "filters.data_marks[1]",
        "UNKNOWN_FILTER_VALUE",
    )


def test_the_mark_crosses_the_wire() -> None:
    message = entry_to_pb(MARKED, mark_name="重要数据")
    assert (message.data_mark, message.data_mark_name) == ("important", "重要数据")
    assert entry_from_pb(message) == MARKED
    assert entry_from_pb(entry_to_pb(PLAIN)) == PLAIN
    filters = Filters(grades=("L3",), data_marks=("important", "core"))
    assert filters_from_pb(filters_to_pb(filters)) == filters


# -- the seed's rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "profile", "items", "rank", "whole", "mark"),
    [
        # The whole-province population and legal-person base registers.
        ("101", "P", {"姓名", "公民身份号码"}, 3, True, "important"),
        ("102", "O", {"法定代表人公民身份号码"}, 4, True, "important"),
        # ... but not one city's records, nor what is published already, nor statistics.
        ("101", "P", {"姓名", "公民身份号码"}, 3, False, ""),
        ("102", "O", {"主体名称"}, 1, True, ""),
        ("101", "S", {"统计年度"}, 1, True, ""),
        # Large-scale geographic data: spatial base data that locates what it lists.
        ("103", "D", {"名称", "空间范围"}, 2, True, "important"),
        ("103", "D", {"名称", "编码"}, 1, True, ""),
        ("103", "S", {"空间范围"}, 2, True, ""),
        # Persons' health records holding a sensitive item, province-wide.
        ("202", "P", {"诊断结果"}, 4, True, "important"),
        ("304", "P", {"诊断结果"}, 4, True, "important"),
        ("202", "P", {"疫苗名称"}, 3, True, ""),
        ("202", "P", {"诊断结果"}, 4, False, ""),
        # Elsewhere nothing is marked; 核心数据 is designated nationally, never by the seed.
        ("305", "P", {"公积金账号"}, 4, True, ""),
    ],
)
def test_the_seed_marks_by_rule(
    category: str, profile: str, items: set[str], rank: int, whole: bool, mark: str
) -> None:
    assert data_mark(category, profile, items, rank, whole) == mark
