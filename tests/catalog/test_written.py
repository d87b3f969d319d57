"""After a write, a reader brings its facet index and rank table forward from the entries the
write touched (``entry_writes``), instead of reading every entry again: what it brings forward
must equal a whole read of the same snapshot, and it must fall back to a whole read when the
log cannot say what changed."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.catalog.model import CatalogEntry
from gateway.catalog.store import CatalogStore, SearchQuery, relevance
from gateway.catalog.store import schema as sqlite_schema
from gateway.catalog.store.facets import FacetIndex
from gateway.catalog.store.fts import FtsIndex
from gateway.catalog.store.relevance import RankTable
from gateway.catalog.store.schema import LOGGED_GENERATIONS, LOGGED_WRITE_LIMIT
from tests.support.entries import entry

CATEGORIES = ("101", "202", "203")
GRADES = ("L1", "L2", "L3")
SHARES = ("unconditional", "conditional", "none")
DEPARTMENTS = (("dsj", "江苏省大数据管理中心"), ("gat", "江苏省公安厅"), ("rsj", "江苏省人社厅"))
NAMES = ("户籍人口信息", "社会保险参保信息", "住房公积金缴存", "营业执照登记", "出生医学证明")


def _entry(
    seq: int, name: int, facet: int, day: int, *, department: int | None = None
) -> CatalogEntry:
    code, dept = DEPARTMENTS[(facet if department is None else department) % len(DEPARTMENTS)]
    made = entry(
        NAMES[name % len(NAMES)] + str(seq % 7),
        code=f"{CATEGORIES[facet % 3]}001/{seq:06d}",
        abstract="核验" * (1 + day % 3),
        department=dept,
        department_code=code,
        items=("姓名",) * (facet % 2),
        category=CATEGORIES[facet % 3],
        grade=GRADES[(facet // 3) % 3],
        share_type=SHARES[(facet // 9) % 3],
        data_mark=("", "important")[facet % 2],
    )
    return dataclasses.replace(made, publish_date=f"20{10 + day % 15}-0{1 + day % 9}-1{day % 10}")


class Reads:
    """Counts the whole reads of a snapshot's facet index and rank table."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.whole: list[str] = []
        self._paused = False
        for name in ("read_facet_index", "read_rank_table"):
            original = getattr(FtsIndex, name)

            def spy(snapshot, arg, _original=original, _name=name):
                if not self._paused:
                    self.whole.append(_name)
                return _original(snapshot, arg)

            monkeypatch.setattr(FtsIndex, name, spy)

    def read_whole(self, path: Path) -> tuple[FacetIndex, RankTable]:
        """The facet index and rank table of the file's current snapshot, read whole (not
        counted: the test's own reads)."""
        self._paused = True
        try:
            with closing(sqlite3.connect(path)) as conn:
                conn.execute("BEGIN")
                snapshot = FtsIndex(conn)
                index = snapshot.read_facet_index(sqlite_schema.generation(conn))
                return index, snapshot.read_rank_table(index)
        finally:
            self._paused = False


def installed(store: CatalogStore) -> tuple[FacetIndex, RankTable]:
    """What the store's searches read now (built or brought forward by ``warm``)."""
    store.warm()
    searcher = store._searcher
    assert searcher._facets is not None and searcher._table is not None
    return searcher._facets, searcher._table


def assert_same(got: tuple[FacetIndex, RankTable], want: tuple[FacetIndex, RankTable]) -> None:
    (index, table), (whole, whole_table) = got, want
    assert index.generation == whole.generation == table.generation
    for name in ("values", "ids", "everything", "combos", "char_of", "universe"):
        assert getattr(index, name) == getattr(whole, name), name
    for name in ("ranks", "combo_at", "combo_ids"):
        assert np.array_equal(getattr(index, name), getattr(whole, name)), name
    assert len(index.value_at) == len(whole.value_at)
    for mine, theirs in zip(index.value_at, whole.value_at, strict=True):
        assert np.array_equal(mine, theirs)
    assert np.array_equal(table.lengths, whole_table.lengths)
    assert np.array_equal(table.days, whole_table.days)
    assert table.field_tokens == whole_table.field_tokens


#: One write: ("put", [(seq, name, facet, day), ...]) inserts or replaces, ("drop", [seq, ...])
#: withdraws (codes that may not exist), ("new", seq) puts an entry of a department no entry
#: had before (a new facet value).
WRITES = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.lists(
                st.tuples(
                    st.integers(1, 40), st.integers(0, 4), st.integers(0, 26), st.integers(0, 40)
                ),
                min_size=1,
                max_size=6,
            ),
        ),
        st.tuples(st.just("drop"), st.lists(st.integers(1, 40), min_size=1, max_size=4)),
        st.tuples(st.just("new"), st.integers(1, 40)),
    ),
    min_size=1,
    max_size=8,
)


def over_random_writes(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Runs a test taking ``writes`` on ``examples`` lists of ``WRITES``."""
    run = settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    return lambda test: run(given(writes=WRITES)(test))


def apply(store: CatalogStore, n: int, write: tuple) -> None:
    """The ``n``-th write of a ``WRITES`` list."""
    kind, what = write
    if kind == "put":
        store.insert_many([_entry(*args) for args in what])
    elif kind == "drop":
        store.withdraw([_entry(s, 0, 0, 0).code for s in what] + ["101001/999999"])
    else:
        dept = dataclasses.replace(
            _entry(what, 0, 0, 0), department=f"新部门{n}", department_code=f"new{n}"
        )
        store.insert_many([dept])


@over_random_writes(40)
def test_brought_forward_equals_a_whole_read_after_any_writes(
    tmp_path_factory, monkeypatch, writes
) -> None:
    path = tmp_path_factory.mktemp("written") / "catalog.db"
    reads = Reads(monkeypatch)
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 30, 2)])
        installed(store)
        reads.whole.clear()
        for n, write in enumerate(writes):
            apply(store, n, write)
            assert_same(installed(store), reads.read_whole(path))
        assert reads.whole == []  # every write was brought forward, none read whole


def test_a_replicas_applied_pages_are_brought_forward(tmp_path, monkeypatch) -> None:
    reads = Reads(monkeypatch)
    with CatalogStore(tmp_path / "owner.db") as owner, CatalogStore(tmp_path / "copy.db") as copy:
        owner.insert_many([_entry(s, s, s, s) for s in range(1, 20)])
        state = copy.reset_replica(owner.changes_since(0, 1).feed_id)
        state = copy.apply_changes(owner.changes_since(state.seq, 1000))
        installed(copy)
        reads.whole.clear()
        owner.insert_many([_entry(3, 1, 5, 9), _entry(30, 2, 7, 1)])
        owner.withdraw([_entry(4, 0, 0, 0).code, _entry(5, 0, 0, 0).code])
        state = copy.apply_changes(owner.changes_since(state.seq, 1000))
        assert_same(installed(copy), reads.read_whole(tmp_path / "copy.db"))
        assert reads.whole == []
        hits = copy.search(SearchQuery("户籍", limit=50)).hits
        assert {h.entry.code for h in hits} == {
            h.entry.code for h in owner.search(SearchQuery("户籍", limit=50)).hits
        }


@contextmanager
def built_store(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CatalogStore, Reads]]:
    """A store of nine entries with its tables built, its whole reads counted from then on."""
    reads = Reads(monkeypatch)
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 10)])
        installed(store)
        reads.whole.clear()
        yield store, reads


def test_a_write_too_large_to_log_is_read_whole(tmp_path, monkeypatch) -> None:
    path = tmp_path / "catalog.db"
    with built_store(path, monkeypatch) as (store, reads):
        many = [_entry(s, s, s, s) for s in range(100, 100 + LOGGED_WRITE_LIMIT + 1)]
        store.insert_many(many, batch_size=len(many))
        assert_same(installed(store), reads.read_whole(path))
        assert reads.whole == ["read_facet_index", "read_rank_table"]
        store.clear()  # every entry: not logged either
        assert_same(installed(store), reads.read_whole(path))
        assert len(reads.whole) == 4


def test_a_reader_further_behind_than_the_log_reaches_reads_whole(tmp_path, monkeypatch) -> None:
    path = tmp_path / "catalog.db"
    with built_store(path, monkeypatch) as (store, reads):
        for n in range(LOGGED_GENERATIONS + 1):  # one write per generation
            store.insert_many([_entry(1 + n % 9, n, n, n)])
        with closing(sqlite3.connect(path)) as conn:
            kept = conn.execute("SELECT count(*) FROM entry_writes").fetchone()
        assert kept == (LOGGED_GENERATIONS,)
        assert_same(installed(store), reads.read_whole(path))
        assert reads.whole == ["read_facet_index", "read_rank_table"]
        store.insert_many([_entry(2, 3, 4, 5)])  # within reach again
        assert_same(installed(store), reads.read_whole(path))
        assert len(reads.whole) == 2


def test_a_version_3_file_logs_writes_from_its_migration_on(tmp_path, monkeypatch) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 10)])
    with closing(sqlite3.connect(path)) as conn, conn:  # as a version-3 file was
        conn.execute("DROP TABLE entry_writes")
        conn.execute("DELETE FROM meta WHERE key = ?", (sqlite_schema.LOGGED_AFTER,))
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    reads = Reads(monkeypatch)
    with CatalogStore(path) as store:
        assert store.get_meta("schema_version") == sqlite_schema.SCHEMA_VERSION == "4"
        installed(store)
        store.insert_many([_entry(3, 1, 2, 3)])
        assert_same(installed(store), reads.read_whole(path))
        assert reads.whole == ["read_facet_index", "read_rank_table"]  # the first, only


QUERIES = ("户籍", "社会保险", "信息", "核验", "姓名", "公积金缴存", "登记")


def answers(store: CatalogStore) -> list[tuple]:
    """Each query's hits (code, score), total and facets."""
    out = []
    for text in QUERIES:
        result = store.search(SearchQuery(text, limit=50))
        out.append(([(h.entry.code, h.score) for h in result.hits], result.total, result.facets))
    return out


@over_random_writes(30)
def test_a_terms_postings_carried_across_a_write_answer_as_read_afresh(
    tmp_path_factory, monkeypatch, writes
) -> None:
    # Carry every term however few its postings (a real catalog carries only common terms).
    monkeypatch.setattr(relevance, "_CARRIED_PER_WRITTEN", 0)
    read: list[str] = []
    original = FtsIndex.column_ids

    def spy(snapshot, term, _original=original):
        read.append(term)
        return _original(snapshot, term)

    monkeypatch.setattr(FtsIndex, "column_ids", spy)
    path = tmp_path_factory.mktemp("carried") / "catalog.db"
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 30, 2)])
        answers(store)
        for n, write in enumerate(writes):
            apply(store, n, write)
            read.clear()
            carried = answers(store)
            assert read == []  # every term carried, none read through
            with CatalogStore(path) as afresh:
                assert carried == answers(afresh)
