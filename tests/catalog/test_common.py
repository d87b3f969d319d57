"""The commonest terms' postings, read once and kept for good (``Relevance.keep_common``): which
terms, in how much memory, and that searches on them answer exactly as a store reading every
term afresh, across any writes, without reading those terms again."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.catalog.store import CatalogStore, relevance
from gateway.catalog.store.fts import FtsIndex
from gateway.catalog.store.pool import Connections
from gateway.catalog.store.schema import LOGGED_WRITE_LIMIT
from tests.catalog.test_written import _entry, answers, apply, over_random_writes


def kept(store: CatalogStore) -> dict[str, int]:
    """The store's kept terms, each with the write generation it is kept at."""
    return store._searcher.common_terms


def listed(path: Path) -> list[tuple[str, int]]:
    """The file's bigram terms, most postings first (``FtsIndex.common_terms``), read as
    ``keep_common`` reads them."""
    pool = Connections(str(path))
    try:
        with pool.read_apart() as conn:
            return FtsIndex(conn).common_terms(10_000)
    finally:
        pool.close()


class ReadThrough:
    """The terms whose postings a store reads from FTS5 whole."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.terms: list[str] = []
        original = FtsIndex.column_ids

        def spy(snapshot, term, _original=original):
            self.terms.append(term)
            return _original(snapshot, term)

        monkeypatch.setattr(FtsIndex, "column_ids", spy)


def test_the_vocabulary_lists_bigrams_by_their_postings(tmp_path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 40)])
        terms = listed(path)
        assert terms and [n for _, n in terms] == sorted((n for _, n in terms), reverse=True)
        with closing(sqlite3.connect(path)) as conn:
            for term, count in terms:
                assert term.startswith('"') and len(term) == 4  # one quoted bigram
                columns = FtsIndex(conn).column_ids(term)
                assert sum(len(ids.split(",")) for ids in columns if ids) == count, term


def test_keeps_the_commonest_terms_within_its_budget_once(tmp_path) -> None:
    path = tmp_path / "catalog.db"
    with CatalogStore(path) as store:
        assert store.keep_common() == 0  # nothing to keep yet: not chosen either
        store.insert_many([_entry(s, s, s, s) for s in range(1, 40)])
        count = store.keep_common()
        assert count == len(listed(path)) > 0  # a small catalog: all of them fit
        assert store.keep_common() == 0  # once per store
        assert len(kept(store)) == count
    with CatalogStore(path, common_postings_mib=300 / 2**20) as tight:  # 300 bytes
        tight.keep_common()
        rel = tight._searcher._relevance
        assert 0 < sum(k.nbytes for k in rel._common.values()) <= 300
        commonest = [term for term, _ in listed(path)][: len(kept(tight))]
        assert set(kept(tight)) == set(commonest)  # the commonest, in order, until it is full
    with CatalogStore(path, common_postings_mib=0) as none:
        assert none.keep_common() == 0 and kept(none) == {}


def test_chooses_again_when_the_catalog_doubles_and_stays_within_its_budget(tmp_path) -> None:
    path = tmp_path / "catalog.db"
    budget = 2000
    with CatalogStore(path, common_postings_mib=budget / 2**20) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 6)])
        assert store.keep_common() > 0
        store.insert_many([_entry(s, s, s, s) for s in range(6, 9)])
        assert store.keep_common() == 0  # not yet twice as many
        rel = store._searcher._relevance
        store.insert_many([_entry(s, s, s, s) for s in range(9, 400)])
        answers(store)  # kept terms asked again: kept at the grown catalog while they fit
        assert sum(k.nbytes for k in rel._common.values()) == rel._common_used <= budget
        assert store.keep_common() > 0  # chosen again among the grown catalog's terms
        commonest = [term for term, _ in listed(path)][: len(kept(store))]
        assert set(kept(store)) == set(commonest)
        assert sum(k.nbytes for k in rel._common.values()) == rel._common_used <= budget


def test_stops_when_told(tmp_path) -> None:
    with CatalogStore(tmp_path / "catalog.db") as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 40)])
        assert store.keep_common(stop=lambda: True) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_kept_postings_expand_to_what_was_kept(size, data) -> None:
    chosen = data.draw(st.sets(st.integers(0, size - 1), max_size=size))
    positions = np.array(sorted(chosen), dtype=np.intp)
    compact = relevance._compact(positions, size)
    dense = len(positions) * relevance._BITMAP_SHARE > size
    assert compact.dtype == (np.uint8 if dense else np.int32)
    assert compact.nbytes <= max(4 * len(positions), (size + 7) // 8)
    expanded = relevance._expand(compact, size)
    assert expanded.dtype == np.intp and np.array_equal(expanded, positions)


@over_random_writes(30)
def test_kept_terms_answer_as_read_afresh_across_any_writes(
    tmp_path_factory, monkeypatch, writes
) -> None:
    # Carry every term however few its postings (a real catalog carries only common terms).
    monkeypatch.setattr(relevance, "_CARRIED_PER_WRITTEN", 0)
    read = ReadThrough(monkeypatch)
    path = tmp_path_factory.mktemp("kept") / "catalog.db"
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 30, 2)])
        store.warm()
        store.keep_common()
        common = set(kept(store))
        assert {'"信息"', '"核验"', '"户籍"'} <= common
        for n, write in enumerate(writes):
            apply(store, n, write)
            store.warm()  # tables brought forward at every write (a follower's levelling page)
        read.terms.clear()
        got = answers(store)  # kept terms asked for the first time since the first write
        assert not set(read.terms) & common  # carried across every write, not read again
        generation = int(store.get_meta("generation") or 0)
        for term in ('"信息"', '"核验"', '"户籍"'):  # asked: kept at the generation now
            assert kept(store)[term] == generation
        with CatalogStore(path) as afresh:
            assert got == answers(afresh)


def test_a_kept_term_the_moves_cannot_reach_is_read_and_kept_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(relevance, "_CARRIED_PER_WRITTEN", 0)  # as above
    path = tmp_path / "catalog.db"
    read = ReadThrough(monkeypatch)
    with CatalogStore(path) as store:
        store.insert_many([_entry(s, s, s, s) for s in range(1, 30, 2)])
        store.keep_common()
        many = [_entry(s, s, s, s) for s in range(100, 100 + LOGGED_WRITE_LIMIT + 1)]
        store.insert_many(many, batch_size=len(many))  # too large to log: tables read whole
        read.terms.clear()
        got = answers(store)
        assert '"信息"' in read.terms  # read through once ...
        generation = int(store.get_meta("generation") or 0)
        assert kept(store)['"信息"'] == generation  # ... and kept at the new generation
        with CatalogStore(path) as afresh:
            assert got == answers(afresh)
        store.insert_many([_entry(3, 1, 5, 9)])
        store.warm()
        read.terms.clear()
        again = answers(store)
        assert '"信息"' not in read.terms  # carried from there
        with CatalogStore(path) as afresh:
            assert again == answers(afresh)
